//! Turns the fuzzer's bytes into a (target, patch) pair of JSON documents and checks the merge
//! against the reference model of RFC 7396 section 2 and the rule's invariants (the same
//! checkers the proptest properties use, from `tests/common`).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

#[path = "../../tests/common/mod.rs"]
mod common;

/// Member names drawn from a small alphabet so that target and patch keys collide often.
const KEYS: [&str; 8] = ["a", "b", "c", "A", "", "__proto__", "é", "a/b~"];
/// Number literals that must survive exactly (`arbitrary_precision`).
const NUMBERS: [&str; 6] = [
    "0",
    "-0.0",
    "1e400",
    "18446744073709551616",
    "9007199254740993",
    "-1.5",
];
const MAX_DEPTH: u32 = 12;

fn json(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth >= MAX_DEPTH { 4 } else { 6 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => serde_json::from_str(u.choose(&NUMBERS)?).expect("literal parses"),
        3 => Value::String(u.arbitrary::<String>()?),
        4 => {
            let len = u.int_in_range(0..=4)?;
            Value::Array(
                (0..len)
                    .map(|_| json(u, depth + 1))
                    .collect::<arbitrary::Result<_>>()?,
            )
        }
        _ => {
            let len = u.int_in_range(0..=6)?;
            let mut map = Map::new();
            for _ in 0..len {
                let key = if u.ratio(1, 8)? {
                    u.arbitrary::<String>()?
                } else {
                    (*u.choose(&KEYS)?).to_owned()
                };
                map.insert(key, json(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

struct Case {
    target: Value,
    patch: Value,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Case {
            target: json(u, 0)?,
            patch: json(u, 0)?,
        })
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "target = {}\npatch = {}", self.target, self.patch)
    }
}

fuzz_target!(|case: Case| {
    let Case { target, patch } = case;
    let expected = common::reference(&target, &patch);
    let variants = common::all_variants(&target, &patch);
    for got in &variants {
        assert_eq!(
            common::text(got),
            common::text(&expected),
            "disagrees with the reference model"
        );
        common::assert_nulls_removed(got, &patch, "");
        common::assert_order(&target, &patch, got, "");
    }
    let twice = metamerge::merge(variants[0].clone(), patch.clone());
    assert_eq!(
        common::text(&twice),
        common::text(&variants[0]),
        "not idempotent"
    );
    if target.is_object() {
        let same = metamerge::merge(target.clone(), Value::Object(Map::new()));
        assert_eq!(
            common::text(&same),
            common::text(&target),
            "{{}} is not the identity"
        );
    }
});

//! What the fuzz targets share: how the fuzzer's bytes become JSON documents, and the
//! reference model and law helpers of the tests (`tests/common`, included by path).
//!
//! # Input format
//!
//! Every target reads its input in one of two ways ([`documents`]):
//!
//! - **JSON text**: the bytes hold two or more JSON texts separated by NUL bytes (a NUL cannot
//!   occur in JSON text, not even inside a string, so the split is unambiguous), and every
//!   part parses. This is the form of the seeds in `fuzz/seeds/<target>/`, generated from the
//!   vector files by `fuzz/seeds/generate.py`; libFuzzer's mutations of a seed stay in it
//!   only now and then (a few percent of the corpus entries a run adds), helped by the
//!   dictionary of JSON tokens `fuzz/json.dict` that CI passes (`-dict=`). It reaches any member name, string and number literal (parsed as the CLI parses
//!   them: `preserve_order` and `arbitrary_precision`), nested up to serde_json's 128 levels.
//! - **Generated**: any other bytes drive [`json`], a generator over [`arbitrary`]'s
//!   `Unstructured`, which draws member names from a small alphabet so that documents and
//!   patches collide on names often, and number literals that must survive exactly. This
//!   form reaches collisions and `null` members far more often than mutated text does.
//!
//! Both forms are checked by the same laws; a crash input of either form is replayed as is.

use arbitrary::Unstructured;
use serde_json::{Map, Value};

#[path = "../../tests/common/mod.rs"]
pub mod common;

/// Member names of generated documents: small, so that keys collide often; with names that
/// need JSON Pointer escaping (`/`, `~`) so that error pointers are unescaped by the checks.
/// None is [`common::laws::FRESH`].
pub const KEYS: [&str; 8] = ["a", "b", "c", "A", "", "__proto__", "é", "a/b~"];

/// Number literals that must survive exactly (`arbitrary_precision`).
pub const NUMBERS: [&str; 6] = [
    "0",
    "-0.0",
    "1e400",
    "18446744073709551616",
    "9007199254740993",
    "-1.5",
];

/// Nesting limit of generated documents (arrays and objects).
pub const MAX_DEPTH: u32 = 12;

/// A generated JSON value, `depth` levels down: any kind, at most 4 array items and 6 object
/// members per level, members named from [`KEYS`] (or, one time in 8, any string).
pub fn json(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
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

/// The documents of one input: the NUL-separated JSON texts if there are `min` to `max` of
/// them and all parse, otherwise `generate` run over the bytes (`None` if it runs out of
/// bytes in a way it cannot recover from, which the target then skips).
pub fn documents(
    data: &[u8],
    min: usize,
    max: usize,
    generate: impl FnOnce(&mut Unstructured<'_>) -> arbitrary::Result<Vec<Value>>,
) -> Option<Vec<Value>> {
    if let Some(texts) = json_texts(data) {
        if (min..=max).contains(&texts.len()) {
            return Some(texts);
        }
    }
    generate(&mut Unstructured::new(data)).ok()
}

/// The NUL-separated JSON texts of `data`, if it holds at least one NUL and every part
/// parses.
pub fn json_texts(data: &[u8]) -> Option<Vec<Value>> {
    if !data.contains(&0) {
        return None;
    }
    data.split(|&byte| byte == 0)
        .map(|part| serde_json::from_slice(part).ok())
        .collect()
}

/// Two generated documents for `diff`: unrelated, the second the first with a generated patch
/// merged in (so they share subtrees, `null` members of the first included), or equal.
pub fn related_pair(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Value>> {
    let a = json(u, 0)?;
    let b = match u.int_in_range(0..=2)? {
        0 => json(u, 0)?,
        1 => metamerge::merge(a.clone(), json(u, 0)?),
        _ => a.clone(),
    };
    Ok(vec![a, b])
}

/// `count` generated documents.
pub fn several(u: &mut Unstructured<'_>, count: usize) -> arbitrary::Result<Vec<Value>> {
    (0..count).map(|_| json(u, 0)).collect()
}

//! `compose`: the laws documented on `metamerge::compose`, as `tests/algebra_laws.rs` checks
//! them with proptest, on fuzzed patches `p` and `q` and documents `x`:
//!
//! - when it succeeds, `merge(merge(x, p), q) == merge(x, compose(p, q)?)` for every `x` of
//!   the input, and for documents derived from the patches: `{}`, `null`, `p`, `q`, the
//!   composition itself, and the naive composition (`q` merged into `p` keeping its `null`s);
//! - when it fails: reason `ObjectAfterReplacement`, its pointer names a place where `q` holds
//!   an object and `p` a non-object, and on the document built from that pointer (objects
//!   down to the place, holding a member whose name no patch uses) applying `p` then `q`
//!   differs from applying any candidate patch tried: the naive composition, `p`, `q`, and
//!   every `x` of the input taken as a patch.
//!
//! Input: `P NUL Q [NUL X]...` (up to 4 documents `x`) as JSON text, or bytes for the
//! generator (see `src/lib.rs`), which makes 3 documents `x`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metamerge::{compose, merge, Reason};
use metamerge_fuzz::common::laws;
use metamerge_fuzz::{documents, several};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some(mut documents) = documents(data, 2, 6, |u| several(u, 5)) else {
        return;
    };
    let documents_x = documents.split_off(2);
    let [first, second] = <[Value; 2]>::try_from(documents).expect("two patches");
    let case = format!(
        "p = {first}\nq = {second}\nx = {}",
        Value::Array(documents_x.clone())
    );
    let sequential = |x: &Value| merge(merge(x.clone(), first.clone()), second.clone());
    let naive = laws::naive_compose(&first, &second);
    match compose(&first, &second) {
        Ok(both) => {
            let derived = [
                json!({}),
                Value::Null,
                first.clone(),
                second.clone(),
                both.clone(),
                naive,
            ];
            for x in documents_x.iter().chain(&derived) {
                let got = merge(x.clone(), both.clone());
                assert!(
                    got == sequential(x),
                    "compose gave {both}, which differs on {x} ({got}) on\n{case}"
                );
            }
        }
        Err(error) => {
            assert_eq!(error.reason(), Reason::ObjectAfterReplacement, "on\n{case}");
            let at = laws::names(error.pointer());
            assert!(
                laws::member(&second, &at).is_some_and(Value::is_object),
                "{error}: q holds no object there, on\n{case}"
            );
            assert!(
                !laws::member(&first, &at).is_none_or(Value::is_object),
                "{error}: p holds nothing or an object there, on\n{case}"
            );
            let mut candidates = vec![naive, first.clone(), second.clone()];
            candidates.extend(documents_x.iter().cloned());
            let mut everything: Vec<&Value> = vec![&first, &second];
            everything.extend(&candidates);
            let fresh = laws::fresh_name(&everything);
            let x = laws::counterexample(&at, &fresh);
            let expected = sequential(&x);
            for candidate in &candidates {
                let got = merge(x.clone(), candidate.clone());
                assert!(
                    got != expected,
                    "{candidate} is equivalent to p then q on {x} although compose failed \
                     ({error}), on\n{case}"
                );
            }
        }
    }
});

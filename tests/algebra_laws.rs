//! The laws of `diff` and `compose`, checked on generated documents (proptest).
//!
//! Member names come from a four-name alphabet, two of which need JSON Pointer escaping
//! (`c/` and `~1`), so that documents and patches collide on names often and error pointers
//! are parsed back through RFC 6901 unescaping.
//!
//! - `diff`: `merge(a, diff(a, b)?) == b`; `diff` fails exactly when `b` holds a `null` object
//!   member at a path where `a` does not hold `null` (a `null` member that `a` already holds
//!   is kept by leaving it alone), and its pointer names such a member; no member of the
//!   patch, at any depth, can be dropped.
//! - `compose`: `merge(merge(x, p), q) == merge(x, compose(p, q)?)` for every generated `x`;
//!   when it fails, its pointer names a place where `q` holds an object and `p` a non-object,
//!   and the document built from that pointer (objects down to the place, holding a member
//!   whose name no patch uses) tells `p` then `q` apart from every candidate patch tried:
//!   the usual "merge the two patches" answer and an arbitrary generated patch.
//! - both: `compose(diff(a, b)?, diff(b, c)?)`, when it exists, takes `a` to `c`.
//!
//! Also: depth. Documents nested 20,000 objects deep are diffed and composed on a 64 KiB
//! thread stack.

mod common;

use common::laws::*;
use metamerge::{compose, diff, merge, Reason, Unrepresentable};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c/"), Just("~1")].prop_map(str::to_owned)
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => (0..3u8).prop_map(|n| json!(n)),
        1 => prop_oneof![Just("s"), Just("t")].prop_map(|s| json!(s)),
    ]
}

/// Documents and patches alike: any JSON value, objects likely, `null` members common.
fn document() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            4 => prop::collection::vec((name(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A pair of documents: unrelated, or the second one the first with a patch merged in (so
/// they share subtrees, including `null` members of the first).
fn pair() -> impl Strategy<Value = (Value, Value)> {
    prop_oneof![
        (document(), document()),
        (document(), document()).prop_map(|(a, p)| {
            let b = merge(a.clone(), p);
            (a, b)
        }),
        document().prop_map(|a| (a.clone(), a)),
    ]
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config::with_cases(cases));
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

#[test]
fn diff_round_trips_and_fails_only_on_unmatched_null_members() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (ok, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    run(2000, pair(), |(a, b)| {
        let expect_failure = unmatched_null(Some(&a), &b);
        match diff(&a, &b) {
            Ok(patch) => {
                ok.fetch_add(1, Relaxed);
                prop_assert!(!expect_failure, "diff gave {patch} for an unmatched null");
                prop_assert_eq!(merge(a.clone(), patch), b);
            }
            Err(error) => {
                failed.fetch_add(1, Relaxed);
                prop_assert!(expect_failure, "diff failed: {error}");
                prop_assert_eq!(error.reason(), Reason::NullMember);
                let at = names(error.pointer());
                prop_assert!(!at.is_empty(), "the root is never a null member");
                prop_assert_eq!(member(&b, &at), Some(&Value::Null));
                prop_assert_ne!(member(&a, &at), Some(&Value::Null));
            }
        }
        Ok(())
    });
    // Both outcomes were exercised.
    let (ok, failed) = (ok.into_inner(), failed.into_inner());
    eprintln!("diff: {ok} patches, {failed} errors");
    assert!(ok > 100 && failed > 100, "{ok} patches, {failed} errors");
}

#[test]
fn diff_is_minimal() {
    run(1000, pair(), |(a, b)| {
        let Ok(patch) = diff(&a, &b) else {
            return Ok(());
        };
        for smaller in with_one_member_dropped(&patch) {
            let got = merge(a.clone(), smaller.clone());
            prop_assert_ne!(&got, &b, "{} from {} still gives {}", smaller, patch, b);
        }
        Ok(())
    });
}

#[test]
fn compose_is_sequential_application_or_has_a_counterexample() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (ok, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let strategy = (
        document(),
        document(),
        prop::collection::vec(document(), 1..6),
        document(),
    );
    run(2000, strategy, |(first, second, documents, arbitrary)| {
        let sequential = |x: &Value| merge(merge(x.clone(), first.clone()), second.clone());
        match compose(&first, &second) {
            Ok(both) => {
                ok.fetch_add(1, Relaxed);
                let extra = [json!({}), first.clone(), second.clone(), both.clone()];
                for x in documents.iter().chain(&extra) {
                    prop_assert_eq!(merge(x.clone(), both.clone()), sequential(x), "on {}", x);
                }
            }
            Err(error) => {
                failed.fetch_add(1, Relaxed);
                prop_assert_eq!(error.reason(), Reason::ObjectAfterReplacement);
                let at = names(error.pointer());
                prop_assert!(member(&second, &at).is_some_and(Value::is_object));
                prop_assert!(!member(&first, &at).is_none_or(Value::is_object));
                let x = counterexample(&at, FRESH);
                let expected = sequential(&x);
                for candidate in [naive_compose(&first, &second), arbitrary] {
                    let got = merge(x.clone(), candidate.clone());
                    prop_assert_ne!(
                        got,
                        expected.clone(),
                        "{} is equivalent on {}",
                        candidate,
                        x
                    );
                }
            }
        }
        Ok(())
    });
    let (ok, failed) = (ok.into_inner(), failed.into_inner());
    eprintln!("compose: {ok} patches, {failed} errors");
    assert!(ok > 100 && failed > 100, "{ok} patches, {failed} errors");
}

#[test]
fn composed_diffs_take_the_first_document_to_the_last() {
    run(1000, (document(), document(), document()), |(a, b, c)| {
        let (Ok(ab), Ok(bc)) = (diff(&a, &b), diff(&b, &c)) else {
            return Ok(());
        };
        if let Ok(ac) = compose(&ab, &bc) {
            prop_assert_eq!(merge(a, ac), c);
        }
        Ok(())
    });
}

/// `{"k": {"k": ... inner ...}}`, `depth` objects deep.
fn nest(depth: usize, inner: Value) -> Value {
    // Not `json!({ "k": value })`: that copies `value` through `serde_json::to_value`.
    (0..depth).fold(inner, |value, _| {
        Value::Object(Map::from_iter([("k".to_owned(), value)]))
    })
}

#[test]
fn deep_documents_use_no_native_stack_per_level() {
    const DEPTH: usize = 20_000;
    // serde_json's own `Drop` and `==` recurse once per level, so the documents live on a
    // thread with a large stack; `diff` and `compose` run on a 64 KiB one.
    let big = std::thread::Builder::new().stack_size(512 << 20);
    let outer = big.spawn(|| {
        let small = |f: &(dyn Fn() -> Result<Value, Unrepresentable> + Sync)| {
            std::thread::scope(|scope| {
                let thread = std::thread::Builder::new().stack_size(64 << 10);
                thread.spawn_scoped(scope, f).unwrap().join().unwrap()
            })
        };
        let one = nest(DEPTH, json!({ "x": 1 }));
        let two = nest(DEPTH, json!({ "x": 2 }));
        let gone = nest(DEPTH, json!({ "x": null }));
        let held = nest(DEPTH, json!({ "x": null, "y": 1 }));

        assert_eq!(small(&|| diff(&one, &two)).unwrap(), two);
        assert_eq!(small(&|| diff(&json!(1), &two)).unwrap(), two);
        let y = nest(DEPTH, json!({ "y": 1 }));
        assert_eq!(small(&|| diff(&gone, &held)).unwrap(), y);
        let error = small(&|| diff(&one, &gone)).unwrap_err();
        assert_eq!(error.reason(), Reason::NullMember);
        assert_eq!(error.pointer().len(), "/k".len() * DEPTH + "/x".len());

        assert_eq!(small(&|| compose(&one, &gone)).unwrap(), gone);
        assert_eq!(
            small(&|| compose(&one, &y)).unwrap(),
            nest(DEPTH, json!({ "x": 1, "y": 1 }))
        );
        let object = nest(DEPTH, json!({ "x": {} }));
        let error = small(&|| compose(&gone, &object)).unwrap_err();
        assert_eq!(error.reason(), Reason::ObjectAfterReplacement);
        assert_eq!(error.pointer().len(), "/k".len() * DEPTH + "/x".len());
    });
    outer.unwrap().join().unwrap();
}

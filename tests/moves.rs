//! "No clone where a move will do": the by-value entry points move the patch's strings, arrays,
//! objects and member names into the result, which these tests observe as unchanged heap
//! addresses. `merge_ref` must clone (it borrows the patch), and does so only for what it
//! inserts. Also large inputs: a million members, a 10 MiB string.

use serde_json::{json, Map, Value};

fn string_address(value: &Value) -> *const u8 {
    value.as_str().expect("a string").as_ptr()
}

fn key_address(object: &Value, name: &str) -> *const u8 {
    let (key, _) = object
        .as_object()
        .expect("an object")
        .iter()
        .find(|(key, _)| key.as_str() == name)
        .expect("the member");
    key.as_ptr()
}

#[test]
fn by_value_moves_values_and_new_member_names() {
    let target = json!({ "keep": 1, "nested": { "old": true } });
    let patch = json!({
        "text": "a string long enough to live on the heap",
        "list": [1, 2, 3],
        "nested": { "added": "another heap string, nested one level down" },
        "fresh": { "deep": "inside an object the target did not have" }
    });
    let text = string_address(&patch["text"]);
    let list = patch["list"].as_array().unwrap().as_ptr();
    let nested = string_address(&patch["nested"]["added"]);
    let fresh = string_address(&patch["fresh"]["deep"]);
    let text_key = key_address(&patch, "text");
    let added_key = key_address(&patch["nested"], "added");

    let merged = metamerge::merge(target, patch);

    assert_eq!(
        string_address(&merged["text"]),
        text,
        "string value was copied"
    );
    assert_eq!(
        merged["list"].as_array().unwrap().as_ptr(),
        list,
        "array was copied"
    );
    assert_eq!(
        string_address(&merged["nested"]["added"]),
        nested,
        "nested value was copied"
    );
    assert_eq!(
        string_address(&merged["fresh"]["deep"]),
        fresh,
        "value under a new key was copied"
    );
    assert_eq!(
        key_address(&merged, "text"),
        text_key,
        "new member name was copied"
    );
    assert_eq!(
        key_address(&merged["nested"], "added"),
        added_key,
        "nested new member name was copied"
    );
    assert_eq!(merged["nested"]["old"], json!(true));
}

#[test]
fn in_place_moves_a_ten_mebibyte_string() {
    let big = "x".repeat(10 << 20);
    let address = big.as_ptr();
    let mut target = json!({ "blob": "small", "other": 1 });
    // Not `json!({ "blob": big })`: the macro serializes an expression, which copies it.
    let patch = Value::Object(Map::from_iter([("blob".to_owned(), Value::String(big))]));
    metamerge::merge_in_place(&mut target, patch);
    assert_eq!(string_address(&target["blob"]), address);
    assert_eq!(target["blob"].as_str().unwrap().len(), 10 << 20);
    assert_eq!(target["other"], json!(1));
}

#[test]
fn by_reference_clones_what_it_inserts_and_leaves_the_patch_alone() {
    let patch = json!({ "text": "a string long enough to live on the heap", "gone": null });
    let before = patch.clone();
    let mut target = json!({ "gone": 1, "text": "old" });
    metamerge::merge_ref(&mut target, &patch);
    assert_eq!(
        target,
        json!({ "text": "a string long enough to live on the heap" })
    );
    assert_ne!(
        string_address(&target["text"]),
        string_address(&patch["text"])
    );
    assert_eq!(patch, before, "the borrowed patch changed");
}

#[test]
fn a_million_members() {
    const N: usize = 1_000_000;
    let target: Map<String, Value> = (0..N).map(|i| (format!("k{i}"), Value::from(i))).collect();
    // Remove the even members, update every odd one, add one new member.
    let mut patch: Map<String, Value> = (0..N)
        .map(|i| {
            (
                format!("k{i}"),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::from(i * 10)
                },
            )
        })
        .collect();
    patch.insert("new".to_owned(), json!("member"));

    let merged = metamerge::merge(Value::Object(target), Value::Object(patch));
    let merged = merged.as_object().unwrap();
    assert_eq!(merged.len(), N / 2 + 1);
    assert_eq!(merged["k1"], json!(10));
    assert_eq!(merged[&format!("k{}", N - 1)], Value::from((N - 1) * 10));
    assert!(!merged.contains_key("k0") && !merged.contains_key("k2"));
    assert_eq!(merged["new"], json!("member"));
    assert!(merged
        .iter()
        .all(|(key, value)| key == "new" || value.as_u64().unwrap() % 20 == 10));
}

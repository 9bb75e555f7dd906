//! `merge_slice` (and `merge_str`, `parse_slice`): the streaming entry points, which apply a
//! merge patch while parsing its bytes, checked against parse-then-merge and the reference
//! model, on patch bytes that are often not valid JSON:
//!
//! - when `merge_slice` accepts the bytes, they are one valid JSON text without a repeated
//!   member name in any object, and the target (as text: key order, number literals) is
//!   exactly `metamerge::merge(target, serde_json::from_slice(patch))`, which is exactly the
//!   reference model of RFC 7396 section 2 (`common::reference`);
//! - when it rejects them, the target is exactly as it was (byte-identical serialization), the
//!   error has a line, and a duplicate-key error names the key;
//! - it never rejects a valid, duplicate-free JSON text (checked by serde_json and
//!   [`Unique`], a plain hash-set walk independent of the crate);
//! - `merge_str` gives the same outcome on UTF-8 bytes, and `parse_slice` accepts exactly
//!   what `merge_slice` accepts (as a document), giving `serde_json::from_slice`'s value.
//!
//! Input: `TARGET NUL PATCH`, where TARGET is a JSON text and PATCH is any bytes (the rest of
//! the input, NULs included), or bytes for the generator, which writes a generated patch with,
//! now and then, a repeated member name, a cut, or a byte overwritten (see [`generated`]).
#![no_main]

use std::collections::HashSet;
use std::fmt;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use metamerge::{merge, merge_slice, merge_str, parse_slice, ErrorKind};
use metamerge_fuzz::{common, json, KEYS};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Deserializes any JSON and fails on a member name repeated within one object.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut names = HashSet::new();
        let mut first = true;
        while let Some(name) = map.next_key::<String>()? {
            // With `arbitrary_precision` a number arrives as a one-member map with a marker
            // name whose value is the literal: not an object of the text.
            if first && name == "$serde_json::private::Number" {
                map.next_value::<IgnoredAny>()?;
                return Ok(Unique);
            }
            first = false;
            if !names.insert(name) {
                return Err(de::Error::custom("duplicate"));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

/// The patch as a document, if it must be accepted: one valid JSON text, no name repeated in
/// any object.
fn accepted(patch: &[u8]) -> Option<Value> {
    let parsed: Value = serde_json::from_slice(patch).ok()?;
    serde_json::from_slice::<Unique>(patch).ok()?;
    Some(parsed)
}

/// Writes `value` as JSON text: compact, with whitespace now and then, and (when `duplicates`)
/// a member name of an object repeated now and then, with a generated value.
fn write(
    u: &mut Unstructured<'_>,
    value: &Value,
    duplicates: bool,
    depth: u32,
    out: &mut Vec<u8>,
) -> arbitrary::Result<()> {
    if u.ratio(1, 16)? {
        out.extend_from_slice(b"\n  ");
    }
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(u, item, duplicates, depth + 1, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            let mut names: Vec<&str> = Vec::new();
            for (name, member) in members {
                if !names.is_empty() {
                    out.push(b',');
                }
                names.push(name);
                member_text(u, name, member, duplicates, depth, out)?;
                if duplicates && u.ratio(1, 8)? {
                    let again = *u.choose(&names)?;
                    let value = json(u, depth + 1)?;
                    out.push(b',');
                    member_text(u, again, &value, duplicates, depth, out)?;
                }
            }
            out.push(b'}');
        }
        leaf => serde_json::to_writer(&mut *out, leaf).expect("a Value serializes"),
    }
    Ok(())
}

fn member_text(
    u: &mut Unstructured<'_>,
    name: &str,
    value: &Value,
    duplicates: bool,
    depth: u32,
    out: &mut Vec<u8>,
) -> arbitrary::Result<()> {
    serde_json::to_writer(&mut *out, name).expect("a string serializes");
    out.push(b':');
    write(u, value, duplicates, depth + 1, out)
}

/// A generated target and patch bytes: a generated patch written as text, then one time in
/// four each left as it is, given repeated member names, cut short, or with one byte
/// overwritten by a JSON token byte (or a byte that is not UTF-8).
fn generated(u: &mut Unstructured<'_>) -> arbitrary::Result<(Value, Vec<u8>)> {
    let target = json(u, 0)?;
    let patch = if u.ratio(1, 4)? {
        // Often an object over the target's own names, so that members meet.
        let mut members = serde_json::Map::new();
        for _ in 0..u.int_in_range(0..=4)? {
            members.insert((*u.choose(&KEYS)?).to_owned(), json(u, 1)?);
        }
        Value::Object(members)
    } else {
        json(u, 0)?
    };
    let mode = u.int_in_range(0..=3)?;
    let mut bytes = Vec::new();
    write(u, &patch, mode == 1, 0, &mut bytes)?;
    match mode {
        2 => {
            let len = bytes.len();
            bytes.truncate(u.int_in_range(0..=len)?);
        }
        3 if !bytes.is_empty() => {
            let at = u.choose_index(bytes.len())?;
            bytes[at] = *u.choose(b"{}[]\":,n1x\\ -e.\xff\x00")?;
        }
        _ => {}
    }
    Ok((target, bytes))
}

/// `TARGET NUL PATCH` if TARGET parses, else the generator's output.
fn input(data: &[u8]) -> Option<(Value, Vec<u8>)> {
    if let Some(nul) = data.iter().position(|&byte| byte == 0) {
        if let Ok(target) = serde_json::from_slice(&data[..nul]) {
            return Some((target, data[nul + 1..].to_vec()));
        }
    }
    generated(&mut Unstructured::new(data)).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((target, patch)) = input(data) else {
        return;
    };
    let case = format!(
        "target = {target}\npatch = {:?}",
        String::from_utf8_lossy(&patch)
    );
    let want = accepted(&patch);
    let mut runs = Vec::new();
    let mut got = target.clone();
    runs.push(("merge_slice", merge_slice(&mut got, &patch), got));
    if let Ok(text) = std::str::from_utf8(&patch) {
        let mut got = target.clone();
        runs.push(("merge_str", merge_str(&mut got, text), got));
    }
    for (name, result, got) in runs {
        match (result, &want) {
            (Ok(()), Some(parsed)) => {
                let merged = merge(target.clone(), parsed.clone());
                let model = common::reference(&target, parsed);
                assert_eq!(
                    common::text(&got),
                    common::text(&merged),
                    "{name} differs from parse-then-merge on\n{case}"
                );
                assert_eq!(
                    common::text(&got),
                    common::text(&model),
                    "{name} differs from the reference model on\n{case}"
                );
            }
            (Err(error), None) => {
                assert_eq!(
                    common::text(&got),
                    common::text(&target),
                    "{name} changed the target, then failed ({error}) on\n{case}"
                );
                assert!(error.line() >= 1, "{name}: no line in {error} on\n{case}");
                assert_eq!(
                    error.kind() == ErrorKind::DuplicateKey,
                    error.duplicate_key().is_some(),
                    "{name}: {error} on\n{case}"
                );
                if serde_json::from_slice::<Value>(&patch).is_ok() {
                    // Valid JSON is rejected only for a repeated name.
                    assert_eq!(
                        error.kind(),
                        ErrorKind::DuplicateKey,
                        "{name}: {error} on\n{case}"
                    );
                }
            }
            (Ok(()), None) => panic!("{name} accepted an invalid patch, giving {got}, on\n{case}"),
            (Err(error), Some(_)) => {
                panic!("{name} rejected a valid, duplicate-free patch ({error}) on\n{case}")
            }
        }
    }
    match (parse_slice(&patch), &want) {
        (Ok(parsed), Some(want)) => assert_eq!(
            common::text(&parsed),
            common::text(want),
            "parse_slice differs from from_slice on\n{case}"
        ),
        (Err(_), None) => {}
        (Ok(parsed), None) => panic!("parse_slice accepted {parsed} on\n{case}"),
        (Err(error), Some(_)) => panic!("parse_slice rejected ({error}) on\n{case}"),
    }
});

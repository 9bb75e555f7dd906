//! Adversarial inputs for the CLI found by the attack on the service (see
//! `tests/attack_http.rs`). Run with `cargo test --features cli --test attack_cli`.
#![cfg(feature = "cli")]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_metamerge");

/// serde_json, under `arbitrary_precision` (on in the CLI), reads an object whose first
/// member name is `$serde_json::private::Number` as a number. `metamerge merge` accepts such a
/// name when it is not first, and a patch removing the members before it writes a document
/// that `metamerge` itself then refuses (`out.json:1:1: invalid JSON: invalid number`, a
/// position inside the string, not the file). Either the name should be refused where it is
/// read, or the output should read back as written.
#[test]
fn merge_output_with_serde_json_marker_name_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(
        path("base.json"),
        r#"{"n":{"a":1,"$serde_json::private::Number":"x"}}"#,
    )
    .unwrap();
    std::fs::write(path("patch.json"), r#"{"n":{"a":null}}"#).unwrap();
    std::fs::write(path("empty.json"), "{}").unwrap();
    let merged = Command::new(BIN)
        .args(["merge", &path("base.json"), &path("patch.json")])
        .output()
        .unwrap();
    if !merged.status.success() {
        // Refusing the reserved name is fine, if the message names it.
        let stderr = String::from_utf8_lossy(&merged.stderr);
        assert!(stderr.contains("$serde_json::private::Number"), "{stderr}");
        return;
    }
    std::fs::write(path("out.json"), &merged.stdout).unwrap();
    let again = Command::new(BIN)
        .args(["merge", &path("out.json"), &path("empty.json")])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&merged.stdout)
    );
}

/// With `-o FILE` the refusal names the file, and nothing is written there.
#[test]
fn reserved_name_refused_with_output_file_names_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.json");
    let patch = dir.path().join("patch.json");
    let out = dir.path().join("out.json");
    std::fs::write(&base, r#"{"n":{"a":1,"$serde_json::private::Number":"x"}}"#).unwrap();
    std::fs::write(&patch, r#"{"n":{"a":null}}"#).unwrap();
    let merged = Command::new(BIN)
        .args(["merge", "-o"])
        .arg(&out)
        .arg(&base)
        .arg(&patch)
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: the result holds a member named `$serde_json::private::Number`",
            out.display()
        )),
        "{stderr}"
    );
    assert!(!out.exists());
}

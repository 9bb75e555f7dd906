//! The `metamerge` binary, run for real (feature `cli`; skipped without it).
//!
//! Each test runs the built binary in a directory of its own (the crate root for the shipped
//! `examples/`, a fresh temporary directory otherwise) with relative paths, so messages that
//! name files are the same on every machine and snapshot without filters. Snapshots are in
//! `tests/snapshots/`; besides them every test asserts the exit code and the behaviour itself.
#![cfg(feature = "cli")]

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test, built by Cargo for this test run.
const BIN: &str = env!("CARGO_BIN_EXE_metamerge");
/// The crate root, where `examples/` lives.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What one run of the binary gave.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `dir` with `args`, feeding `stdin` (or nothing: stdin is then empty).
/// Colours are turned off so that clap's messages are plain text.
fn run_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the metamerge binary starts");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        // The binary may fail and exit before it reads stdin (e.g. `-` given twice).
        match pipe.write_all(text.as_bytes()) {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.expect("stdin accepts the input"),
        }
    }
    let output = child.wait_with_output().expect("the metamerge binary runs");
    Run {
        code: output.status.code().expect("the binary exits (not killed)"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs the binary in the crate root (for the shipped examples).
fn run(args: &[&str]) -> Run {
    run_in(Path::new(ROOT), args, None)
}

/// A fresh temporary directory holding `files` (name, content).
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, content) in files {
        fs::write(dir.path().join(name), content).expect("the test file is written");
    }
    dir
}

/// The names in `dir`, sorted: shows that no temporary file was left behind.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the directory lists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts a successful run: exit code 0 and nothing on stderr.
fn assert_success(run: &Run) {
    assert_eq!(run.code, 0, "exit code; stderr: {}", run.stderr);
    assert_eq!(run.stderr, "", "stderr of a successful run");
}

/// Asserts a failed run of ours: exit code 2, nothing on stdout, exactly one line on stderr
/// starting with `metamerge: `. Returns that line for the snapshot.
fn assert_error_line(run: &Run) -> &str {
    assert_eq!(run.code, 2, "exit code; stderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "stdout of a failed run");
    assert!(
        run.stderr.starts_with("metamerge: ") && run.stderr.ends_with('\n'),
        "stderr is one `metamerge: ` line: {:?}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {:?}", run.stderr);
    &run.stderr
}

/// Parses `text` as JSON, panicking with the text if it is not.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Reads and parses `examples/{name}`.
fn read_example(name: &str) -> Value {
    parse(&fs::read_to_string(Path::new(ROOT).join("examples").join(name)).unwrap())
}

// ---- the main job: the shipped examples ------------------------------------------------------

#[test]
fn merges_the_examples_compact() {
    let run = run(&["merge", "examples/membership.json", "examples/patch.json"]);
    assert_success(&run);

    // Exactly the library's result, as compact JSON plus one newline.
    let expected = metamerge::merge(read_example("membership.json"), read_example("patch.json"));
    assert_eq!(
        run.stdout,
        format!("{}\n", serde_json::to_string(&expected).unwrap())
    );
    assert_eq!(run.stdout.lines().count(), 1, "compact output is one line");

    let result = parse(&run.stdout);
    let public = &result["public_metadata"];
    assert_eq!(public["title"], "Principal Engineer", "scalar replaced");
    assert_eq!(
        public["department"]["name"], "Engineering",
        "sibling kept at depth"
    );
    assert_eq!(public["department"]["manager"]["name"], "Grace Hopper");
    assert_eq!(
        public["onboarding"]["steps"]["sso"], true,
        "kept at depth 3"
    );
    assert_eq!(
        public["onboarding"]["steps"]["handbook"], true,
        "updated at depth 3"
    );
    assert!(
        public["onboarding"].get("buddy").is_none(),
        "null removes at depth"
    );
    assert_eq!(
        public["badges"].as_array().unwrap().len(),
        3,
        "array replaced whole"
    );
    assert_eq!(public["pronouns"], "she/her", "new key added");
    let private = &result["private_metadata"];
    assert!(private["flags"].get("legacy_export").is_none());
    assert!(
        private["notes"].is_null(),
        "a null already in the target is a value and stays"
    );
    assert!(
        private["last_review"].get("reviewer").is_none(),
        "nulls inside a new object are pruned"
    );
    // Big integer and decimal literals pass through as written; key order is kept, new keys last.
    assert!(run
        .stdout
        .contains(r#""employee_id":18446744073709551616,"#));
    assert!(run.stdout.contains(r#""seat_price":12.50,"#));
    let keys: Vec<&str> = public
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "title",
            "team",
            "department",
            "locations",
            "onboarding",
            "badges",
            "pronouns"
        ]
    );

    insta::assert_snapshot!("merge_examples_compact", run.stdout);
}

#[test]
fn merges_the_examples_pretty() {
    let pretty = run(&[
        "merge",
        "--pretty",
        "examples/membership.json",
        "examples/patch.json",
    ]);
    assert_success(&pretty);
    let compact = run(&["merge", "examples/membership.json", "examples/patch.json"]);
    assert_success(&compact);

    assert!(pretty
        .stdout
        .starts_with("{\n  \"public_metadata\": {\n    \"title\""));
    assert!(pretty.stdout.ends_with("}\n") && !pretty.stdout.ends_with("\n\n"));
    // Same document, same key order, same literals: only whitespace differs.
    let squeezed: String = parse(&pretty.stdout).to_string();
    assert_eq!(format!("{squeezed}\n"), compact.stdout);

    insta::assert_snapshot!("merge_examples_pretty", pretty.stdout);
}

// ---- behaviour on small inputs ----------------------------------------------------------------

#[test]
fn applies_several_patches_in_order() {
    let dir = dir_with(&[
        ("base.json", r#"{"a":1,"b":{"c":1}}"#),
        ("p1.json", r#"{"a":2,"b":{"d":2}}"#),
        ("p2.json", r#"{"a":null,"b":{"c":null},"e":[1]}"#),
        ("p3.json", r#"{"e":[2]}"#),
    ]);
    let forward = run_in(
        dir.path(),
        &["merge", "base.json", "p1.json", "p2.json", "p3.json"],
        None,
    );
    assert_success(&forward);
    assert_eq!(forward.stdout, "{\"b\":{\"d\":2},\"e\":[2]}\n");

    // The opposite order gives another result: the patches really are applied in turn.
    let backward = run_in(
        dir.path(),
        &["merge", "base.json", "p3.json", "p2.json", "p1.json"],
        None,
    );
    assert_success(&backward);
    assert_eq!(backward.stdout, "{\"b\":{\"d\":2},\"e\":[1],\"a\":2}\n");

    insta::assert_snapshot!(
        "merge_several_patches",
        format!("{}{}", forward.stdout, backward.stdout)
    );
}

#[test]
fn reads_a_patch_or_the_base_from_stdin() {
    let dir = dir_with(&[
        ("base.json", r#"{"a":1,"b":2}"#),
        ("patch.json", r#"{"c":3}"#),
    ]);
    let patch = run_in(
        dir.path(),
        &["merge", "base.json", "-"],
        Some(r#"{"b":null,"c":3}"#),
    );
    assert_success(&patch);
    assert_eq!(patch.stdout, "{\"a\":1,\"c\":3}\n");

    let base = run_in(
        dir.path(),
        &["merge", "-", "patch.json"],
        Some(r#"{"z":0}"#),
    );
    assert_success(&base);
    assert_eq!(base.stdout, "{\"z\":0,\"c\":3}\n");

    insta::assert_snapshot!("merge_stdin", format!("{}{}", patch.stdout, base.stdout));
}

#[test]
fn keeps_number_literals_byte_exact() {
    // Big integers, negative zero, trailing zeros and huge exponents pass through as written.
    let document = r#"{"b":1,"a":18446744073709551616,"c":-0.0,"d":1e+400,"f":0.10,"g":-0}"#;
    let dir = dir_with(&[
        ("target.json", document),
        ("empty.json", "{}"),
        (
            "numbers.json",
            r#"{"c":1.50,"e":-123456789012345678901234567890e-5}"#,
        ),
    ]);
    let identity = run_in(dir.path(), &["merge", "target.json", "empty.json"], None);
    assert_success(&identity);
    assert_eq!(
        identity.stdout,
        format!("{document}\n"),
        "round-trips byte-exact"
    );

    let replaced = run_in(dir.path(), &["merge", "target.json", "numbers.json"], None);
    assert_success(&replaced);
    assert_eq!(
        replaced.stdout,
        "{\"b\":1,\"a\":18446744073709551616,\"c\":1.50,\"d\":1e+400,\"f\":0.10,\"g\":-0,\
         \"e\":-123456789012345678901234567890e-5}\n"
    );
}

/// The one place where output differs from input: serde_json's `arbitrary_precision` parser
/// writes exponents as `e`, with an explicit sign (`1e400` and `1E400` become `1e+400`; see
/// `serde_json::Number::as_str`). Same number, different bytes. Pinned here so that a change
/// either way is noticed.
#[test]
fn exponents_are_normalized_by_serde_json() {
    let document = r#"{"b":1,"a":18446744073709551616,"c":-0.0,"d":1e400,"e":[1E5,2.5E-3]}"#;
    let dir = dir_with(&[("target.json", document), ("empty.json", "{}")]);
    let run = run_in(dir.path(), &["merge", "target.json", "empty.json"], None);
    assert_success(&run);
    assert_eq!(
        run.stdout,
        "{\"b\":1,\"a\":18446744073709551616,\"c\":-0.0,\"d\":1e+400,\"e\":[1e+5,2.5e-3]}\n"
    );
}

#[test]
fn keeps_key_order() {
    // A removed key leaves the others in their order (a `swap_remove` would give b, e, d, c...),
    // a replaced key keeps its place, new keys come last in patch order.
    let dir = dir_with(&[
        (
            "target.json",
            r#"{"b":1,"a":2,"c":3,"d":4,"z":{"y":1,"x":2}}"#,
        ),
        (
            "patch.json",
            r#"{"a":null,"b":5,"f":6,"e":7,"z":{"y":null,"w":3}}"#,
        ),
    ]);
    let run = run_in(dir.path(), &["merge", "target.json", "patch.json"], None);
    assert_success(&run);
    assert_eq!(
        run.stdout,
        "{\"b\":5,\"c\":3,\"d\":4,\"z\":{\"x\":2,\"w\":3},\"f\":6,\"e\":7}\n"
    );
}

#[test]
fn non_object_patch_replaces_the_document() {
    let dir = dir_with(&[
        ("target.json", r#"{"a":1}"#),
        ("null.json", "null"),
        ("string.json", r#""bar""#),
    ]);
    let run = run_in(dir.path(), &["merge", "target.json", "null.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, "null\n");
    let run = run_in(dir.path(), &["merge", "target.json", "string.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, "\"bar\"\n");
}

// ---- -o/--output ------------------------------------------------------------------------------

#[test]
fn output_writes_the_file_and_nothing_to_stdout() {
    let dir = dir_with(&[]);
    let examples = Path::new(ROOT).join("examples");
    let base = examples.join("membership.json");
    let patch = examples.join("patch.json");
    let (base, patch) = (base.to_str().unwrap(), patch.to_str().unwrap());

    let run = run_in(dir.path(), &["merge", base, patch, "-o", "out.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, "", "the result goes to the file only");
    assert_eq!(names(dir.path()), ["out.json"], "no temporary file left");
    let written = fs::read_to_string(dir.path().join("out.json")).unwrap();
    let stdout = run_in(dir.path(), &["merge", base, patch], None);
    assert_eq!(
        written, stdout.stdout,
        "the file holds what stdout would show"
    );

    let run = run_in(
        dir.path(),
        &["merge", "--pretty", base, patch, "--output", "pretty.json"],
        None,
    );
    assert_success(&run);
    let pretty = fs::read_to_string(dir.path().join("pretty.json")).unwrap();
    assert_eq!(parse(&pretty).to_string() + "\n", written);
    insta::assert_snapshot!("merge_output_file", written);

    // `-o -` is stdout.
    let run = run_in(dir.path(), &["merge", base, patch, "-o", "-"], None);
    assert_success(&run);
    assert_eq!(run.stdout, written);
    assert_eq!(names(dir.path()), ["out.json", "pretty.json"]);
}

#[test]
fn output_replaces_an_existing_file() {
    let dir = dir_with(&[
        ("target.json", r#"{"a":1}"#),
        ("patch.json", r#"{"b":2}"#),
        (
            "out.json",
            "previous content that is longer than the new one\n",
        ),
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let out = dir.path().join("out.json");
        fs::set_permissions(&out, fs::Permissions::from_mode(0o640)).unwrap();
    }
    let run = run_in(
        dir.path(),
        &["merge", "target.json", "patch.json", "-o", "out.json"],
        None,
    );
    assert_success(&run);
    assert_eq!(
        fs::read_to_string(dir.path().join("out.json")).unwrap(),
        "{\"a\":1,\"b\":2}\n"
    );
    assert_eq!(names(dir.path()), ["out.json", "patch.json", "target.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(dir.path().join("out.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o640,
            "the existing file's permissions are kept"
        );
    }
}

#[test]
fn output_can_replace_an_input_in_place() {
    // Every input is read before the output is written, so `-o` may name the target itself.
    let dir = dir_with(&[
        (
            "membership.json",
            r#"{"public_metadata":{"role":"member","team":"core"}}"#,
        ),
        (
            "patch.json",
            r#"{"public_metadata":{"role":"admin","team":null}}"#,
        ),
    ]);
    let args = [
        "merge",
        "membership.json",
        "patch.json",
        "-o",
        "membership.json",
    ];
    let run = run_in(dir.path(), &args, None);
    assert_success(&run);
    assert_eq!(
        fs::read_to_string(dir.path().join("membership.json")).unwrap(),
        "{\"public_metadata\":{\"role\":\"admin\"}}\n"
    );
    assert_eq!(names(dir.path()), ["membership.json", "patch.json"]);
}

#[cfg(unix)]
#[test]
fn output_writes_through_a_symlink() {
    let dir = dir_with(&[("target.json", r#"{"a":1}"#), ("real.json", "old\n")]);
    std::os::unix::fs::symlink("real.json", dir.path().join("link.json")).unwrap();
    let run = run_in(
        dir.path(),
        &["merge", "target.json", "target.json", "-o", "link.json"],
        None,
    );
    assert_success(&run);
    assert!(fs::symlink_metadata(dir.path().join("link.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read_to_string(dir.path().join("real.json")).unwrap(),
        "{\"a\":1}\n"
    );
    assert_eq!(names(dir.path()), ["link.json", "real.json", "target.json"]);
}

/// A FIFO (like `/dev/null` or `/dev/stdout`) is written to, not replaced by a regular file.
#[cfg(unix)]
#[test]
fn output_writes_into_a_fifo_without_replacing_it() {
    use std::os::unix::fs::FileTypeExt as _;
    let dir = dir_with(&[("target.json", r#"{"a":1}"#)]);
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    // The reader opens the FIFO; the binary's open for writing waits for it, and vice versa.
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || fs::read_to_string(fifo)
    });
    let run = run_in(
        dir.path(),
        &["merge", "target.json", "target.json", "-o", "pipe"],
        None,
    );
    assert_success(&run);
    let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        kind.is_fifo(),
        "the FIFO is still a FIFO, not a renamed regular file"
    );
    assert_eq!(reader.join().unwrap().unwrap(), "{\"a\":1}\n");
    assert_eq!(names(dir.path()), ["pipe", "target.json"]);
}

#[test]
fn invalid_patch_leaves_the_existing_output_untouched() {
    let previous = b"{\"kept\": true}\n  \xff not even UTF-8";
    let dir = dir_with(&[("target.json", r#"{"a":1}"#), ("bad.json", r#"{"a":}"#)]);
    fs::write(dir.path().join("out.json"), previous).unwrap();
    let before = names(dir.path());

    let run = run_in(
        dir.path(),
        &["merge", "target.json", "bad.json", "-o", "out.json"],
        None,
    );
    assert_error_line(&run);
    assert_eq!(
        fs::read(dir.path().join("out.json")).unwrap(),
        previous,
        "byte-identical"
    );
    assert_eq!(names(dir.path()), before, "no temporary file left");

    // Also when the invalid input is the last one and comes from stdin.
    let run = run_in(
        dir.path(),
        &["merge", "target.json", "target.json", "-", "-o", "out.json"],
        Some("[1,"),
    );
    assert_error_line(&run);
    assert_eq!(
        fs::read(dir.path().join("out.json")).unwrap(),
        previous,
        "byte-identical"
    );
    assert_eq!(names(dir.path()), before, "no temporary file left");
}

// ---- errors -----------------------------------------------------------------------------------

#[test]
fn error_invalid_json_names_file_line_and_column() {
    // Line 3, column 15 is the `"` of "seats": a `,` is missing after `1`.
    let patch = "{\n  \"billing\": {\n    \"plan\": 1 \"seats\": 2\n  }\n}\n";
    let dir = dir_with(&[("target.json", "{}"), ("patch.json", patch)]);
    let run = run_in(dir.path(), &["merge", "target.json", "patch.json"], None);
    let line = assert_error_line(&run);
    assert!(
        line.starts_with("metamerge: patch.json:3:15: invalid JSON: "),
        "{line}"
    );
    insta::assert_snapshot!("error_invalid_json", line);
}

#[test]
fn error_invalid_json_on_stdin_and_other_parse_errors() {
    let dir = dir_with(&[
        ("target.json", "{}"),
        ("two.json", "{} {}"),
        ("empty.json", ""),
    ]);
    let stdin = run_in(
        dir.path(),
        &["merge", "target.json", "-"],
        Some("{\"a\": tru}"),
    );
    let trailing = run_in(dir.path(), &["merge", "two.json", "target.json"], None);
    let empty = run_in(dir.path(), &["merge", "target.json", "empty.json"], None);
    let deep = "[".repeat(200) + &"]".repeat(200);
    let nested = run_in(dir.path(), &["merge", "target.json", "-"], Some(&deep));
    let lines = [&stdin, &trailing, &empty, &nested].map(|run| assert_error_line(run).to_owned());
    assert!(
        lines[0].starts_with("metamerge: <stdin>:1:"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("metamerge: two.json:1:"),
        "{}",
        lines[1]
    );
    insta::assert_snapshot!("error_parse_variants", lines.concat());
}

/// Patch files are applied while parsed (`metamerge::merge_slice`), which rejects a member name
/// repeated within one object (I-JSON, RFC 7493 section 2.3): parsing first would silently
/// keep the last one. The error points at the repeated name; nothing is written.
#[test]
fn error_duplicate_key_in_patch_names_file_line_and_column() {
    let nested = "{\n  \"billing\": {\n    \"plan\": 1,\n    \"plan\": null\n  }\n}\n";
    let dir = dir_with(&[
        ("target.json", r#"{"billing":{"plan":"free"},"seats":1}"#),
        ("nested.json", nested),
        ("top.json", r#"{"seats":2,"seats":3}"#),
        ("in_array.json", r#"{"list":[{"k":1,"k":2}]}"#),
        ("good.json", r#"{"seats":5}"#),
        ("out.json", "previous\n"),
    ]);
    let cases = [
        (
            vec!["nested.json"],
            "metamerge: nested.json:4:10: invalid merge patch: duplicate key \"plan\" in a merge \
             patch object (RFC 7493 section 2.3)\n",
        ),
        (
            vec!["top.json"],
            "metamerge: top.json:1:18: invalid merge patch: duplicate key \"seats\" in a merge \
             patch object (RFC 7493 section 2.3)\n",
        ),
        (
            vec!["in_array.json"],
            "metamerge: in_array.json:1:19: invalid merge patch: duplicate key \"k\" in a merge \
             patch object (RFC 7493 section 2.3)\n",
        ),
        // A later patch fails after an earlier one was applied in memory.
        (
            vec!["good.json", "top.json"],
            "metamerge: top.json:1:18: invalid merge patch: duplicate key \"seats\" in a merge \
             patch object (RFC 7493 section 2.3)\n",
        ),
    ];
    for (patches, expected) in cases {
        let mut args = vec!["merge", "target.json"];
        args.extend(&patches);
        args.extend(["-o", "out.json"]);
        let run = run_in(dir.path(), &args, None);
        assert_eq!(assert_error_line(&run), expected, "{patches:?}");
        assert_eq!(
            fs::read_to_string(dir.path().join("out.json")).unwrap(),
            "previous\n",
            "{patches:?}: output untouched"
        );
    }
    // The same names in different objects are fine.
    let dir = dir_with(&[
        ("target.json", r#"{"a":{"a":1},"b":2}"#),
        ("patch.json", r#"{"a":{"a":null,"b":{"a":3}},"b":{"a":4}}"#),
    ]);
    let run = run_in(dir.path(), &["merge", "target.json", "patch.json"], None);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(run.stdout, "{\"a\":{\"b\":{\"a\":3}},\"b\":{\"a\":4}}\n");
}

/// A patch file's errors keep serde_json's positions and messages under streaming, and an
/// error in a later patch leaves nothing written even though earlier patches were applied.
#[test]
fn error_in_later_patch_file_writes_nothing() {
    let dir = dir_with(&[
        ("target.json", r#"{"a":1}"#),
        ("first.json", r#"{"a":2,"b":[1,2]}"#),
        ("second.json", "{\"a\": 3,\n \"c\": [1, 2 3]}"),
        ("out.json", "previous\n"),
    ]);
    let run = run_in(
        dir.path(),
        &[
            "merge",
            "target.json",
            "first.json",
            "second.json",
            "-o",
            "out.json",
        ],
        None,
    );
    assert_eq!(
        assert_error_line(&run),
        "metamerge: second.json:2:13: invalid JSON: expected `,` or `]`\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out.json")).unwrap(),
        "previous\n"
    );
}

#[test]
fn error_missing_file() {
    let dir = dir_with(&[("target.json", "{}")]);
    let run = run_in(dir.path(), &["merge", "target.json", "missing.json"], None);
    let line = assert_error_line(&run);
    assert!(
        line.starts_with("metamerge: missing.json: cannot read: "),
        "{line}"
    );
    insta::assert_snapshot!("error_missing_file", line);
}

#[test]
fn error_stdin_given_twice() {
    let dir = dir_with(&[]);
    let run = run_in(dir.path(), &["merge", "-", "-"], Some("{}"));
    insta::assert_snapshot!("error_stdin_twice", assert_error_line(&run));
}

#[test]
fn error_unwritable_output() {
    let dir = dir_with(&[("target.json", r#"{"a":1}"#), ("file.json", "{}")]);
    fs::create_dir(dir.path().join("a-directory")).unwrap();
    let before = names(dir.path());

    // The directory for the temporary file does not exist / is not a directory.
    let missing = run_in(
        dir.path(),
        &[
            "merge",
            "target.json",
            "target.json",
            "-o",
            "no-such-dir/out.json",
        ],
        None,
    );
    let not_dir = run_in(
        dir.path(),
        &[
            "merge",
            "target.json",
            "target.json",
            "-o",
            "file.json/out.json",
        ],
        None,
    );
    // The temporary file is written, but cannot be renamed onto a directory.
    let onto_dir = run_in(
        dir.path(),
        &["merge", "target.json", "target.json", "-o", "a-directory"],
        None,
    );

    let lines = [&missing, &not_dir, &onto_dir].map(|run| assert_error_line(run).to_owned());
    assert!(
        lines[0].starts_with("metamerge: no-such-dir/out.json: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].starts_with("metamerge: a-directory: "),
        "{}",
        lines[2]
    );
    assert_eq!(
        names(dir.path()),
        before,
        "nothing created, no temporary file left"
    );
    assert_eq!(names(&dir.path().join("a-directory")), Vec::<String>::new());
    assert_eq!(
        fs::read_to_string(dir.path().join("file.json")).unwrap(),
        "{}"
    );
    insta::assert_snapshot!("error_unwritable_output", lines.concat());
}

#[test]
fn error_bad_arguments_are_clap_errors() {
    let no_args = run(&[]);
    let unknown_flag = run(&["merge", "--frobnicate", "a.json", "b.json"]);
    let no_patch = run(&["merge", "examples/membership.json"]);
    let unknown_command = run(&["mrege", "a.json", "b.json"]);
    for run in [&no_args, &unknown_flag, &no_patch, &unknown_command] {
        assert_eq!(run.code, 2, "clap's exit code for usage errors: {run:?}");
        assert_eq!(run.stdout, "");
    }
    assert!(
        no_args.stderr.contains("Usage: metamerge <COMMAND>"),
        "{}",
        no_args.stderr
    );
    assert!(unknown_flag
        .stderr
        .starts_with("error: unexpected argument '--frobnicate'"));
    assert!(
        no_patch.stderr.contains("<PATCH>..."),
        "{}",
        no_patch.stderr
    );
    // The list of subcommands includes `serve` when the `http` feature is on.
    insta::assert_snapshot!(
        format!("error_no_arguments{}", with_serve_suffix()),
        no_args.stderr
    );
    insta::assert_snapshot!("error_unknown_flag", unknown_flag.stderr);
    insta::assert_snapshot!("error_missing_patch", no_patch.stderr);
    insta::assert_snapshot!("error_unknown_command", unknown_command.stderr);
}

// ---- help -------------------------------------------------------------------------------------

#[test]
fn help_explains_the_rule() {
    let top = run(&["--help"]);
    let merge = run(&["merge", "--help"]);
    for run in [&top, &merge] {
        assert_success(run);
        assert!(run.stdout.contains("RFC 7396"), "{}", run.stdout);
        assert!(run.stdout.contains("null"), "{}", run.stdout);
    }
    insta::assert_snapshot!(format!("help{}", with_serve_suffix()), top.stdout);
    insta::assert_snapshot!("help_merge", merge.stdout);
}

/// Snapshot-name suffix for outputs that list the subcommands: `serve` exists only with the
/// `http` feature.
fn with_serve_suffix() -> &'static str {
    if cfg!(feature = "http") {
        "_with_serve"
    } else {
        ""
    }
}

#[cfg(feature = "http")]
#[test]
fn serve_help_lists_its_options() {
    let serve = run(&["serve", "--help"]);
    assert_success(&serve);
    for option in [
        "--addr",
        "--db",
        "--max-metadata-bytes",
        "--max-body-bytes",
        "METAMERGE_SECRET_KEY",
    ] {
        assert!(serve.stdout.contains(option), "{option}: {}", serve.stdout);
    }
    insta::assert_snapshot!("help_serve", serve.stdout);
}

// ---- diff and compose -------------------------------------------------------------------------

/// RFC 7396 section 3's target and result, as `diff`'s OLD and NEW.
const RFC_OLD: &str = r#"{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}"#;
const RFC_NEW: &str = r#"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#;

#[test]
fn diff_prints_the_minimal_patch_that_merges_back() {
    let dir = dir_with(&[("old.json", RFC_OLD), ("new.json", RFC_NEW)]);
    let diff = run_in(dir.path(), &["diff", "old.json", "new.json"], None);
    assert_success(&diff);
    // Changed and added members in NEW's order, removals as null, `content` left out.
    assert_eq!(
        diff.stdout,
        "{\"title\":\"Hello!\",\"author\":{\"familyName\":null},\"tags\":[\"example\"],\"phoneNumber\":\"+01-123-456-7890\"}\n"
    );

    // Merging the patch into OLD gives NEW, with NEW's key order.
    fs::write(dir.path().join("patch.json"), &diff.stdout).unwrap();
    let merged = run_in(dir.path(), &["merge", "old.json", "patch.json"], None);
    assert_success(&merged);
    assert_eq!(merged.stdout, format!("{RFC_NEW}\n"));

    // NEW from stdin, pretty, to a file.
    let to_file = run_in(
        dir.path(),
        &["diff", "--pretty", "-o", "out.json", "old.json", "-"],
        Some(RFC_NEW),
    );
    assert_success(&to_file);
    assert_eq!(to_file.stdout, "");
    let written = fs::read_to_string(dir.path().join("out.json")).unwrap();
    assert_eq!(parse(&written), parse(&diff.stdout));
    insta::assert_snapshot!("diff_rfc_example", format!("{}{written}", diff.stdout));
}

#[test]
fn diff_keeps_numbers_and_root_shapes() {
    let dir = dir_with(&[
        ("big.json", r#"{"n":18446744073709551616,"m":1.0}"#),
        ("bigger.json", r#"{"n":18446744073709551617,"m":1.0}"#),
        ("scalar.json", r#""s""#),
        ("null.json", "null"),
    ]);
    let numbers = run_in(dir.path(), &["diff", "big.json", "bigger.json"], None);
    let scalar = run_in(dir.path(), &["diff", "scalar.json", "scalar.json"], None);
    let to_null = run_in(dir.path(), &["diff", "big.json", "null.json"], None);
    for run in [&numbers, &scalar, &to_null] {
        assert_success(run);
    }
    assert_eq!(numbers.stdout, "{\"n\":18446744073709551617}\n");
    // Equal scalar roots give the scalar (not {}), a null NEW gives null.
    assert_eq!(scalar.stdout, "\"s\"\n");
    assert_eq!(to_null.stdout, "null\n");
}

#[test]
fn error_diff_to_a_null_member() {
    let dir = dir_with(&[
        ("old.json", r#"{"a":{"b/c":1}}"#),
        ("new.json", r#"{"a":{"b/c":null}}"#),
    ]);
    fs::write(dir.path().join("out.json"), "kept").unwrap();
    let run = run_in(
        dir.path(),
        &["diff", "old.json", "new.json", "-o", "out.json"],
        None,
    );
    let line = assert_error_line(&run);
    assert!(
        line.starts_with("metamerge: new.json: no merge patch can set /a/b~1c to null"),
        "{line}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out.json")).unwrap(),
        "kept"
    );
    insta::assert_snapshot!("error_diff_null_member", line);
}

#[test]
fn compose_prints_one_patch_for_two() {
    let dir = dir_with(&[
        (
            "first.json",
            r#"{"plan":"pro","seats":5,"theme":{"color":"red","font":"serif"}}"#,
        ),
        (
            "second.json",
            r#"{"seats":null,"theme":{"font":null,"size":12},"beta":true}"#,
        ),
        (
            "doc.json",
            r#"{"seats":3,"theme":{"font":"mono","dark":true},"owner":"ann"}"#,
        ),
    ]);
    let composed = run_in(dir.path(), &["compose", "first.json", "second.json"], None);
    assert_success(&composed);
    assert_eq!(
        composed.stdout,
        "{\"plan\":\"pro\",\"seats\":null,\"theme\":{\"color\":\"red\",\"font\":null,\"size\":12},\"beta\":true}\n"
    );

    // One merge of the composed patch is the two merges in turn.
    fs::write(dir.path().join("both.json"), &composed.stdout).unwrap();
    let once = run_in(dir.path(), &["merge", "doc.json", "both.json"], None);
    let twice = run_in(
        dir.path(),
        &["merge", "doc.json", "first.json", "second.json"],
        None,
    );
    assert_success(&once);
    assert_success(&twice);
    assert_eq!(once.stdout, twice.stdout);

    // SECOND from stdin.
    let stdin = run_in(
        dir.path(),
        &["compose", "first.json", "-"],
        Some(r#"{"plan":[1]}"#),
    );
    assert_success(&stdin);
    assert_eq!(
        stdin.stdout,
        "{\"plan\":[1],\"seats\":5,\"theme\":{\"color\":\"red\",\"font\":\"serif\"}}\n"
    );
    insta::assert_snapshot!(
        "compose_example",
        format!("{}{}", composed.stdout, once.stdout)
    );
}

#[test]
fn error_compose_object_after_removal() {
    let dir = dir_with(&[
        ("first.json", r#"{"a":null}"#),
        ("second.json", r#"{"a":{"a1":8}}"#),
    ]);
    let run = run_in(dir.path(), &["compose", "first.json", "second.json"], None);
    let line = assert_error_line(&run);
    assert!(
        line.starts_with(
            "metamerge: first.json then second.json: no single merge patch is equivalent at /a:"
        ),
        "{line}"
    );
    let twice = run_in(dir.path(), &["compose", "-", "-"], Some("{}"));
    let twice = assert_error_line(&twice).to_owned();
    insta::assert_snapshot!(
        "error_compose_object_after_removal",
        format!("{line}{twice}")
    );
}

#[test]
fn help_diff_and_compose() {
    let diff = run(&["diff", "--help"]);
    let compose = run(&["compose", "--help"]);
    for run in [&diff, &compose] {
        assert_success(run);
        assert!(run.stdout.contains("RFC 7396"), "{}", run.stdout);
        assert!(run.stdout.contains("JSON Pointer"), "{}", run.stdout);
    }
    insta::assert_snapshot!("help_diff", diff.stdout);
    insta::assert_snapshot!("help_compose", compose.stdout);
}

// ---- adversarial inputs ----------------------------------------------------------------------
//
// Each gives a correct result or one located error line (`file:line:column: reason`), never a
// crash, a hang or a silent change. Duplicate member names are not tested here: the CLI still
// takes the last one (serde_json's behaviour), which is meant to change.

/// A fresh temporary directory holding `files` (name, bytes): for inputs that are not UTF-8.
fn dir_with_bytes(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (name, content) in files {
        fs::write(dir.path().join(name), content).expect("the test file is written");
    }
    dir
}

/// Runs the binary and returns its one error line, without the trailing newline.
fn error_line(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let run = run_in(dir, args, stdin);
    assert_error_line(&run).trim_end().to_owned()
}

/// `{"k":{"k":...1...}}`, `depth` objects deep, as text.
fn deep_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"k":"#.repeat(depth), "}".repeat(depth))
}

/// `[[...[]...]]`, `depth` arrays deep, as text.
fn deep_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn nesting_100_000_deep_is_a_located_error_in_every_input() {
    const DEPTH: usize = 100_000;
    let (objects, arrays) = (deep_objects(DEPTH), deep_arrays(DEPTH));
    let dir = dir_with(&[
        ("objects.json", &objects),
        ("arrays.json", &arrays),
        ("doc.json", r#"{"a":1}"#),
    ]);
    let dir = dir.path();
    // serde_json accepts 127 levels: the 128th `{` (after 127 `{"k":`, column 636) or `[`
    // (column 128) is the error.
    let objects_at = "1:636: JSON nested more than 127 levels deep (serde_json's recursion limit)";
    let arrays_at = "1:128: JSON nested more than 127 levels deep (serde_json's recursion limit)";
    for (file, at) in [("objects.json", objects_at), ("arrays.json", arrays_at)] {
        let expected = format!("metamerge: {file}:{at}");
        for args in [
            ["merge", file, "doc.json"],
            ["merge", "doc.json", file],
            ["diff", file, "doc.json"],
            ["diff", "doc.json", file],
            ["compose", file, "doc.json"],
            ["compose", "doc.json", file],
        ] {
            assert_eq!(error_line(dir, &args, None), expected, "{args:?}");
        }
    }
    // On stdin too.
    let expected = format!("metamerge: <stdin>:{arrays_at}");
    assert_eq!(
        error_line(dir, &["merge", "doc.json", "-"], Some(&arrays)),
        expected
    );
}

#[test]
fn nesting_127_deep_is_accepted() {
    let (objects, arrays) = (deep_objects(127), deep_arrays(127));
    let dir = dir_with(&[
        ("objects.json", &objects),
        ("arrays.json", &arrays),
        ("empty.json", "{}"),
    ]);
    let run = run_in(dir.path(), &["merge", "objects.json", "empty.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, format!("{objects}\n"));
    // A 127-deep patch replaces a 127-deep target.
    let run = run_in(dir.path(), &["merge", "objects.json", "arrays.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, format!("{arrays}\n"));
    let run = run_in(dir.path(), &["diff", "empty.json", "objects.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, format!("{objects}\n"));
}

#[test]
fn a_million_members_in_one_object() {
    const N: usize = 1_000_000;
    let members: Vec<String> = (0..N).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let base = format!("{{{}}}", members.join(","));
    // Removes the first and the last member, replaces one in the middle, adds one at the end.
    let patch = format!(
        r#"{{"k0":null,"k{}":null,"k500000":"half","new":true}}"#,
        N - 1
    );
    let dir = dir_with(&[("base.json", &base), ("patch.json", &patch)]);
    let run = run_in(dir.path(), &["merge", "base.json", "patch.json"], None);
    assert_success(&run);
    let mut expected: Vec<String> = members[1..N - 1].to_vec();
    expected[500_000 - 1] = r#""k500000":"half""#.to_owned();
    expected.push(r#""new":true"#.to_owned());
    // Byte-exact: every member, in order, with its value.
    assert!(
        run.stdout == format!("{{{}}}\n", expected.join(",")),
        "the merged million members differ (first 200 bytes: {})",
        &run.stdout[..200.min(run.stdout.len())]
    );

    // Diff of the two back gives exactly the patch's changes.
    fs::write(dir.path().join("merged.json"), &run.stdout).unwrap();
    let run = run_in(dir.path(), &["diff", "base.json", "merged.json"], None);
    assert_success(&run);
    assert_eq!(
        parse(&run.stdout),
        parse(&format!(
            r#"{{"k500000":"half","new":true,"k0":null,"k{}":null}}"#,
            N - 1
        ))
    );
}

#[test]
fn ten_mebibyte_strings_pass_through_exactly() {
    const SIZE: usize = 10 << 20;
    // Two-byte characters, and escapes that must be decoded and re-encoded.
    let wide = "é".repeat(SIZE / 2);
    let escaped = "\\n\\\"\\u0000".repeat(SIZE / 12);
    let base = format!(r#"{{"wide":"{wide}","keep":1}}"#);
    let patch = format!(r#"{{"escaped":"{escaped}","keep":null}}"#);
    let dir = dir_with(&[("base.json", &base), ("patch.json", &patch)]);
    let run = run_in(dir.path(), &["merge", "base.json", "patch.json"], None);
    assert_success(&run);
    // serde_json writes `"` and `\n` with short escapes and U+0000 as `\u0000`, as written.
    assert!(
        run.stdout == format!("{{\"wide\":\"{wide}\",\"escaped\":\"{escaped}\"}}\n"),
        "the 10 MiB strings changed ({} bytes out)",
        run.stdout.len()
    );
    let merged = parse(&run.stdout);
    assert_eq!(merged["wide"].as_str().unwrap().len(), SIZE);
    assert_eq!(
        merged["escaped"].as_str().unwrap().len(),
        (SIZE / 12) * "\n\"\0".len()
    );
}

#[test]
fn numbers_beyond_f64_and_u64_keep_their_exact_value() {
    let base = r#"{"big":1e400,"small":-1e400,"tiny":1e-400,"u64":18446744073709551615,"over":18446744073709551616,"neg":-18446744073709551617,"long":1.00000000000000000000000001,"f64":9007199254740993}"#;
    let dir = dir_with(&[
        ("base.json", base),
        ("empty.json", "{}"),
        (
            "new.json",
            r#"{"big":1e400,"small":-1e400,"tiny":1e-400,"u64":18446744073709551615,"over":18446744073709551617,"neg":-18446744073709551617,"long":1.00000000000000000000000002,"f64":9007199254740992}"#,
        ),
        ("first.json", r#"{"over":18446744073709551616,"x":1e400}"#),
        ("second.json", r#"{"x":-1e400}"#),
    ]);
    let run = run_in(dir.path(), &["merge", "base.json", "empty.json"], None);
    assert_success(&run);
    // Only the exponent's spelling changes (`1e400` is written `1e+400`).
    assert_eq!(
        run.stdout,
        "{\"big\":1e+400,\"small\":-1e+400,\"tiny\":1e-400,\"u64\":18446744073709551615,\
         \"over\":18446744073709551616,\"neg\":-18446744073709551617,\
         \"long\":1.00000000000000000000000001,\"f64\":9007199254740993}\n"
    );
    // Numbers that are equal as f64 or after rounding are still different for `diff`.
    let run = run_in(dir.path(), &["diff", "base.json", "new.json"], None);
    assert_success(&run);
    assert_eq!(
        run.stdout,
        "{\"over\":18446744073709551617,\"long\":1.00000000000000000000000002,\
         \"f64\":9007199254740992}\n"
    );
    let run = run_in(dir.path(), &["compose", "first.json", "second.json"], None);
    assert_success(&run);
    assert_eq!(
        run.stdout,
        "{\"over\":18446744073709551616,\"x\":-1e+400}\n"
    );
}

#[test]
fn invalid_utf8_is_a_located_error() {
    let dir = dir_with_bytes(&[
        ("doc.json", b"{}"),
        ("value.json", b"{\"a\":\"ok \xff\xfe\"}"),
        ("name.json", b"{\"\xc3\":1}"),
        ("second_line.json", b"{\n  \"a\": \"\xed\xa0\x80\"\n}"),
        ("bare.json", b"{\"a\":\xff}"),
    ]);
    let dir = dir.path();
    let not_utf8 = "invalid JSON: not UTF-8 (RFC 8259 section 8.1 requires UTF-8)";
    for (file, at) in [
        ("value.json", "1:10"),
        ("name.json", "1:3"),
        // An encoded surrogate (ED A0 80) is not UTF-8 either.
        ("second_line.json", "2:9"),
    ] {
        assert_eq!(
            error_line(dir, &["merge", "doc.json", file], None),
            format!("metamerge: {file}:{at}: {not_utf8}")
        );
    }
    assert_eq!(
        error_line(dir, &["diff", "bare.json", "doc.json"], None),
        "metamerge: bare.json:1:6: invalid JSON: expected value"
    );
}

#[test]
fn unpaired_surrogate_escapes_are_a_located_error_and_pairs_decode() {
    let dir = dir_with(&[
        ("doc.json", "{}"),
        ("high.json", r#"{"a":"\ud800"}"#),
        ("low.json", r#"{"a":"\udc00x"}"#),
        ("high_then_letter.json", r#"{"a":"\ud800\u0041"}"#),
        ("name.json", r#"{"\uDBFF":1}"#),
        ("pair.json", r#"{"a":"\ud83d\ude00","b":"\u0000\u00e9"}"#),
    ]);
    let dir = dir.path();
    let unpaired = "invalid JSON: unpaired UTF-16 surrogate in a \\u escape \
                    (a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF one)";
    for (file, at) in [
        ("high.json", "1:13"),
        ("low.json", "1:12"),
        ("high_then_letter.json", "1:18"),
        ("name.json", "1:9"),
    ] {
        assert_eq!(
            error_line(dir, &["merge", "doc.json", file], None),
            format!("metamerge: {file}:{at}: {unpaired}")
        );
    }
    let run = run_in(dir, &["merge", "doc.json", "pair.json"], None);
    assert_success(&run);
    assert_eq!(
        run.stdout,
        "{\"a\":\"\u{1F600}\",\"b\":\"\\u0000\u{e9}\"}\n"
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let dir = dir_with(&[
        ("bom.json", "\u{feff}{\"a\":1,\"b\":2}"),
        ("patch.json", "\u{feff}\n{\"b\":null}"),
        ("bad.json", "\u{feff}{\"a\":}"),
        ("bad_line2.json", "\u{feff}{\n\"a\":}"),
        ("twice.json", "\u{feff}\u{feff}{}"),
        ("only.json", "\u{feff}"),
        ("inner.json", "{\"a\":\"\u{feff}\"}"),
    ]);
    let dir = dir.path();
    let run = run_in(dir, &["merge", "bom.json", "patch.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, "{\"a\":1}\n", "no byte order mark is written");
    let run = run_in(dir, &["merge", "bom.json", "-"], Some("\u{feff}{\"c\":3}"));
    assert_success(&run);
    assert_eq!(run.stdout, "{\"a\":1,\"b\":2,\"c\":3}\n");
    // A U+FEFF inside a string is data and is kept.
    let run = run_in(dir, &["merge", "bom.json", "inner.json"], None);
    assert_success(&run);
    assert_eq!(run.stdout, "{\"a\":\"\u{feff}\",\"b\":2}\n");
    // Columns count the file's bytes, the mark's three included.
    assert_eq!(
        error_line(dir, &["merge", "bom.json", "bad.json"], None),
        "metamerge: bad.json:1:9: invalid JSON: expected value"
    );
    assert_eq!(
        error_line(dir, &["merge", "bom.json", "bad_line2.json"], None),
        "metamerge: bad_line2.json:2:5: invalid JSON: expected value"
    );
    // Only one mark is skipped.
    assert_eq!(
        error_line(dir, &["merge", "bom.json", "twice.json"], None),
        "metamerge: twice.json:1:4: invalid JSON: expected value"
    );
    assert_eq!(
        error_line(dir, &["merge", "bom.json", "only.json"], None),
        "metamerge: only.json:1:3: invalid JSON: the input is empty or only whitespace"
    );
}

#[test]
fn trailing_characters_are_a_located_error() {
    let dir = dir_with(&[
        ("doc.json", "{}"),
        ("word.json", "{\"a\":1} x"),
        ("two.json", "{\"a\":1}\n{\"b\":2}\n"),
        ("numbers.json", "1 2"),
        ("bracket.json", "[1]]"),
        ("nul.json", "{}\u{0}"),
    ]);
    let dir = dir.path();
    for (file, at) in [
        ("word.json", "1:9"),
        ("two.json", "2:1"),
        ("numbers.json", "1:3"),
        ("bracket.json", "1:4"),
        ("nul.json", "1:3"),
    ] {
        assert_eq!(
            error_line(dir, &["compose", "doc.json", file], None),
            format!("metamerge: {file}:{at}: invalid JSON: trailing characters")
        );
    }
}

#[test]
fn empty_and_whitespace_only_inputs_are_a_located_error() {
    let dir = dir_with(&[
        ("doc.json", "{}"),
        ("empty.json", ""),
        ("blank.json", " \t\r\n  \n "),
    ]);
    let dir = dir.path();
    let reason = "invalid JSON: the input is empty or only whitespace";
    // Columns are 1-based: an empty input is at 1:1, not serde_json's 1:0.
    let lines = [
        error_line(dir, &["merge", "empty.json", "doc.json"], None),
        error_line(dir, &["diff", "doc.json", "blank.json"], None),
        error_line(dir, &["merge", "doc.json", "-"], Some("")),
        error_line(dir, &["compose", "-", "doc.json"], Some("\n\n")),
        error_line(dir, &["merge", "doc.json", "empty.json"], None),
    ];
    assert_eq!(
        lines,
        [
            format!("metamerge: empty.json:1:1: {reason}"),
            format!("metamerge: blank.json:3:1: {reason}"),
            format!("metamerge: <stdin>:1:1: {reason}"),
            format!("metamerge: <stdin>:3:1: {reason}"),
            format!("metamerge: empty.json:1:1: {reason}"),
        ]
    );
    insta::assert_snapshot!("error_empty_input", lines.join("\n"));
    // Input that ends with a newline inside a value: the next line, column 1.
    let dir = dir_with(&[("doc.json", "{}"), ("cut.json", "{\"a\":\n")]);
    assert_eq!(
        error_line(dir.path(), &["merge", "doc.json", "cut.json"], None),
        "metamerge: cut.json:2:1: invalid JSON: EOF while parsing a value"
    );
}

/// `diff` and `compose` read their inputs with `metamerge::parse_slice`, and `merge` its BASE:
/// an object that repeats a member name (I-JSON, RFC 7493 section 2.3) is a located error, as
/// in `merge`'s patches, instead of the last one silently winning. Exit 2, nothing written.
#[test]
fn error_duplicate_key_in_diff_compose_and_base_inputs() {
    let dir = dir_with(&[
        ("doc.json", r#"{"plan":"free","seats":1}"#),
        ("patch.json", r#"{"seats":2}"#),
        (
            "dup_doc.json",
            "{\n  \"plan\": \"free\",\n  \"billing\": {\"card\": 1, \"card\": null}\n}\n",
        ),
        ("dup_top.json", r#"{"seats":2,"plan":"pro","seats":3}"#),
        ("dup_array.json", r#"{"list":[{"k":1},{"k":1,"k":2}]}"#),
        ("dup_escaped.json", r#"{"a":1,"\u0061":2}"#),
        ("out.json", "previous\n"),
    ]);
    let dir = dir.path();
    let runs: Vec<Vec<&str>> = vec![
        vec!["diff", "dup_doc.json", "doc.json"],
        vec!["diff", "doc.json", "dup_top.json"],
        vec!["diff", "doc.json", "-"],
        vec!["compose", "dup_top.json", "patch.json"],
        vec!["compose", "patch.json", "dup_array.json"],
        vec!["compose", "patch.json", "dup_escaped.json"],
        vec!["merge", "dup_doc.json", "patch.json"],
    ];
    let mut lines = Vec::new();
    for mut args in runs {
        args.extend(["-o", "out.json"]);
        let stdin = args.contains(&"-").then_some(r#"{"x":{"y":1,"y":1}}"#);
        let line = error_line(dir, &args, stdin);
        assert!(line.contains("duplicate key \""), "{args:?}: {line}");
        assert_eq!(
            fs::read_to_string(dir.join("out.json")).unwrap(),
            "previous\n",
            "{args:?}: output untouched"
        );
        lines.push(line);
    }
    assert_eq!(
        lines[0],
        "metamerge: dup_doc.json:3:31: invalid document: duplicate key \"card\" in an object \
         (RFC 7493 section 2.3)"
    );
    assert_eq!(
        lines[3],
        "metamerge: dup_top.json:1:31: invalid merge patch: duplicate key \"seats\" in a merge \
         patch object (RFC 7493 section 2.3)"
    );
    insta::assert_snapshot!("error_duplicate_key_in_inputs", lines.join("\n"));
    // The same names in different objects are fine.
    let dir = dir_with(&[
        ("old.json", r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#),
        ("new.json", r#"{"a":{"a":2},"b":[{"a":1}]}"#),
    ]);
    let run = run_in(dir.path(), &["diff", "old.json", "new.json"], None);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(run.stdout, "{\"a\":{\"a\":2},\"b\":[{\"a\":1}]}\n");
}

//! Adversarial tests of the service: hostile metadata PATCH bodies (applied with
//! `merge_slice` inside the store transaction), NUL characters in text fields, size limits at
//! the byte boundary, keep-alive and timeouts, and PATCHes racing deletes, on both stores.
//! Each test checks the answer (a Clerk error body or the right object, never a 5xx) and that
//! a refused request changed nothing. Run with
//! `METAMERGE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test --all-features --test attack_http`.
#![cfg(feature = "http")]

mod http_common;

use std::time::Duration;

use http_common::{config, Reply, Store, TestDb, TestServer, KEY};
use metamerge::http::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The test's own bound for one exchange, far longer than any server timeout used here: it
/// only fails a test that would otherwise hang.
const BOUND: Duration = Duration::from_secs(30);

/// A server on a fresh database of `store`, with `tweak` applied to its config.
async fn start(store: Store, tweak: impl FnOnce(&mut Config)) -> (TestDb, TestServer) {
    let db = TestDb::new(store).await;
    let mut config = config(&db.url());
    tweak(&mut config);
    let server = TestServer::start_with(config).await;
    (db, server)
}

/// PATCHes `path` with the raw bytes `body` as `application/json`.
async fn patch_raw(server: &TestServer, path: &str, body: impl Into<Vec<u8>>) -> Reply {
    TestServer::reply(
        server
            .raw(Method::PATCH, path)
            .header("content-type", "application/json")
            .body(body.into()),
    )
    .await
}

/// An organization with one member `user_1` whose metadata is set; returns (org, metadata path).
async fn member(server: &TestServer) -> (String, String) {
    let org = server.create_org("Acme").await;
    let reply = server
        .post(
            &format!("/v1/organizations/{org}/memberships"),
            json!({"user_id": "user_1", "role": "org:member",
                   "public_metadata": {"plan": "pro", "seat": {"floor": 3}},
                   "private_metadata": {"billing": {"customer": "cus_1"}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let path = format!("/v1/organizations/{org}/memberships/user_1/metadata");
    (org, path)
}

/// The stored membership's text, with nothing left out (`updated_at` included).
async fn stored(server: &TestServer, org: &str) -> String {
    server.membership(org, "user_1").await.to_string()
}

/// A refused body: the expected status and codes, and the membership unchanged.
async fn refused(
    server: &TestServer,
    org: &str,
    path: &str,
    body: &[u8],
    status: StatusCode,
    codes: &[(&str, &str)],
) {
    let before = stored(server, org).await;
    let reply = patch_raw(server, path, body.to_vec()).await;
    assert_eq!(
        reply.status,
        status,
        "{}: {}",
        String::from_utf8_lossy(body),
        reply.text
    );
    let params = reply.error_params();
    let expected: Vec<(String, String)> = codes
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect();
    assert_eq!(params, expected, "{}", String::from_utf8_lossy(body));
    assert_eq!(
        stored(server, org).await,
        before,
        "{}",
        String::from_utf8_lossy(body)
    );
}

async fn hostile_metadata_patch_bodies_change_nothing(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, path) = member(&server).await;
    let bad = StatusCode::BAD_REQUEST;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let invalid = &[("request_body_invalid", "")][..];
    for body in [
        // duplicates, also when spelled differently (escapes) or inside arrays
        &br#"{"public_metadata":{"a":1},"public_metadata":{"b":1}}"#[..],
        br#"{"public_metadata":{"plan":null,"\u0070lan":"x"}}"#,
        br#"{"public\u005fmetadata":{"a":1},"public_metadata":{"b":1}}"#,
        br#"{"public_metadata":{"list":[{"k":1,"k":2}]}}"#,
        br#"{"public_metadata":{"":1,"":2}}"#,
        // invalid JSON after the last member: everything before was applied, then undone
        br#"{"public_metadata":{"plan":null,"seat":{"floor":4}},"private_metadata":{"billing":null}} x"#,
        br#"{"public_metadata":{"plan":null},"private_metadata":{"billing":null},}"#,
        br#"{"public_metadata":{"plan":null}"#,
        // lone surrogates, in a key and in a value
        br#"{"public_metadata":{"\ud800":1}}"#,
        br#"{"public_metadata":{"plan":"\udc00"}}"#,
        // invalid UTF-8 in a key
        b"{\"public_metadata\":{\"\xff\":1}}",
        // a byte order mark is not JSON whitespace in a body
        b"\xef\xbb\xbf{\"public_metadata\":{\"plan\":null}}",
        // nesting past the parser's limit
        format!(
            "{{\"public_metadata\":{}1{}}}",
            "{\"a\":".repeat(200),
            "}".repeat(200)
        )
        .as_bytes(),
    ] {
        refused(&server, &org, &path, body, bad, invalid).await;
    }
    for (body, codes) in [
        (
            &br#"{"public_metadata":{"plan":null},"foo":null}"#[..],
            &[("form_param_unknown", "foo")][..],
        ),
        (
            br#"{"public_metadata":null}"#,
            &[("form_param_value_invalid", "public_metadata")],
        ),
        (
            br#"{"public_metadata":{"plan":null},"private_metadata":[1]}"#,
            &[("form_param_value_invalid", "private_metadata")],
        ),
        (
            br#"{"private_metadata":"x","public_metadata":7,"":{}}"#,
            &[
                ("form_param_value_invalid", "public_metadata"),
                ("form_param_value_invalid", "private_metadata"),
                ("form_param_unknown", ""),
            ],
        ),
        (
            br#"{"__proto__":{"plan":null}}"#,
            &[("form_param_unknown", "__proto__")],
        ),
    ] {
        refused(&server, &org, &path, body, unprocessable, codes).await;
    }
    server.stop().await;
}

async fn escaped_and_odd_names_apply_as_their_text(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, path) = member(&server).await;
    // `\u005f` is `_`: the field is public_metadata; `\u0070lan` is `plan`.
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"public\u005fmetadata":{"\u0070lan":null,"":"empty","__proto__":{"x":1},"\ud83d\ude00":"\u0000"}}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let expected = json!({"seat": {"floor": 3}, "": "empty", "__proto__": {"x": 1}, "😀": "\u{0}"});
    assert_eq!(reply.body["public_metadata"], expected);
    assert_eq!(
        server.membership(&org, "user_1").await["public_metadata"],
        expected
    );
    // and removed again by their escaped names
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"public_metadata":{"\u0000":null,"":null,"\u005f_proto__":null,"\ud83d\ude00":null}}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["public_metadata"], json!({"seat": {"floor": 3}}));
    server.stop().await;
}

async fn number_literals_survive_exactly(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, path) = member(&server).await;
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"public_metadata":{"big":1e400,"u":18446744073709551616,"neg":-0.0,"tiny":1e-400,"long":1.00000000000000000000000001,"n":-18446744073709551617}}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let text = server
        .get(&format!(
            "/v1/organizations/{org}/memberships?user_id=user_1"
        ))
        .await
        .text;
    for literal in [
        r#""big":1e+400"#,
        r#""u":18446744073709551616"#,
        r#""neg":-0.0"#,
        r#""tiny":1e-400"#,
        r#""long":1.00000000000000000000000001"#,
        r#""n":-18446744073709551617"#,
    ] {
        assert!(text.contains(literal), "{literal} not in {text}");
        assert!(
            reply.text.contains(literal),
            "{literal} not in {}",
            reply.text
        );
    }
    server.stop().await;
}

async fn key_order_survives_patches(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, path) = member(&server).await;
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"public_metadata":{"z":1,"a":2,"m":{"y":1,"b":2}}}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"public_metadata":{"a":null,"b":3,"m":{"a":0,"y":null}}}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let text = server
        .get(&format!(
            "/v1/organizations/{org}/memberships?user_id=user_1"
        ))
        .await
        .text;
    assert!(
        text.contains(
            r#""public_metadata":{"plan":"pro","seat":{"floor":3},"z":1,"m":{"b":2,"a":0},"b":3}"#
        ),
        "{text}"
    );
    server.stop().await;
}

/// Metadata exactly at `--max-metadata-bytes` is accepted, one byte more is refused with
/// nothing stored, at creation and after a PATCH, counting multi-byte characters and escapes
/// in bytes of compact JSON.
async fn metadata_size_limit_at_the_byte(store: Store) {
    const MAX: usize = 64;
    let (_db, server) = start(store, |c| c.max_metadata_bytes = MAX).await;
    let (org, path) = member(&server).await;
    // {"plan":"pro","seat":{"floor":3}} is 33 bytes; {"plan":"pro","seat":{"floor":3},"k":"…"}
    // adds 7 + the string's encoded length.
    let room = MAX - 33 - 7;
    for (filler, fits) in [
        ("x".repeat(room), true),
        ("x".repeat(room + 1), false),
        // "é" is two bytes of UTF-8
        ("é".repeat(room / 2), true),
        (format!("{}é", "x".repeat(room - 1)), false),
        // a control character is six bytes (\u001f), a quote two (\")
        (format!("{}\u{1f}", "x".repeat(room - 6)), true),
        (format!("{}\u{1f}", "x".repeat(room - 5)), false),
        (format!("{}\"", "x".repeat(room - 2)), true),
        (format!("{}\"", "x".repeat(room - 1)), false),
    ] {
        let before = stored(&server, &org).await;
        let reply = server
            .patch(&path, json!({"public_metadata": {"k": filler}}))
            .await;
        if fits {
            assert_eq!(reply.status, StatusCode::OK, "{filler:?}: {}", reply.text);
            let text = serde_json::to_string(&reply.body["public_metadata"]).unwrap();
            assert_eq!(text.len(), MAX, "{text}");
            // take it out again
            let reply = server
                .patch(&path, json!({"public_metadata": {"k": null}}))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        } else {
            assert_eq!(
                reply.error_params(),
                vec![(
                    "form_param_exceeds_allowed_size".to_owned(),
                    "public_metadata".to_owned()
                )],
                "{filler:?}"
            );
            assert_eq!(stored(&server, &org).await, before);
        }
    }
    // A PATCH that only shrinks an already-full object, and one naming only the other field,
    // still pass.
    let full = json!({"k": "x".repeat(room)});
    assert_eq!(
        server
            .patch(&path, json!({"public_metadata": full}))
            .await
            .status,
        StatusCode::OK
    );
    let reply = server
        .patch(&path, json!({"private_metadata": {"n": 1}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    server.stop().await;
}

/// A body of exactly `--max-body-bytes` is read and applied; one byte more is 413 with
/// nothing stored, whether announced by `Content-Length` or streamed without it.
async fn body_exactly_at_the_limit(store: Store) {
    const MAX: usize = 4096;
    let (_db, server) = start(store, |c| {
        c.max_body_bytes = MAX;
        c.max_metadata_bytes = 8192;
    })
    .await;
    let (org, path) = member(&server).await;
    let body = |len: usize| {
        let head = r#"{"public_metadata":{"k":""#;
        let tail = r#""}}"#;
        format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len())).into_bytes()
    };
    for (len, chunked) in [(MAX, false), (MAX, true), (MAX + 1, false), (MAX + 1, true)] {
        let before = stored(&server, &org).await;
        let bytes = body(len);
        assert_eq!(bytes.len(), len);
        let (status, code) = if chunked {
            let mut raw = format!(
                "PATCH {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
                 Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
                 Connection: close\r\n\r\n"
            )
            .into_bytes();
            for chunk in bytes.chunks(1000) {
                raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                raw.extend_from_slice(chunk);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            let (status, body) = exchange(&server, &raw).await;
            let code = serde_json::from_str::<Value>(&body).unwrap()["errors"][0]["code"]
                .as_str()
                .map(str::to_owned);
            (status, code)
        } else {
            let reply = patch_raw(&server, &path, bytes).await;
            let code = (!reply.status.is_success()).then(|| reply.error_code().to_owned());
            (reply.status.as_u16(), code)
        };
        if len <= MAX {
            assert_eq!((status, code), (200, None), "{len} {chunked}");
            server
                .patch(&path, json!({"public_metadata": {"k": null}}))
                .await;
        } else {
            assert_eq!(
                (status, code.as_deref()),
                (413, Some("request_body_too_large")),
                "{len} {chunked}"
            );
            assert_eq!(stored(&server, &org).await, before);
        }
    }
    server.stop().await;
}

/// Sends `raw` on a new connection and reads until the server closes it; returns the status
/// (0 if it closed without answering) and the body.
async fn exchange(server: &TestServer, raw: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let _ = stream.write_all(raw).await;
    let mut bytes = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut bytes))
        .await
        .expect("answered within the bound")
        .ok();
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(bytes);
    match text.strip_prefix("HTTP/1.1 ") {
        Some(rest) => (
            rest[..3].parse().unwrap(),
            text.split_once("\r\n\r\n")
                .map(|(_, b)| b.to_owned())
                .unwrap_or_default(),
        ),
        None => (0, text.into_owned()),
    }
}

/// NUL characters (`\u0000`) in names, user IDs, roles and created_by are refused with a 422
/// naming the field, and path parameters and list filters with one find nothing, the same on
/// both stores (PostgreSQL text cannot hold NUL: each of these answered 500 there).
async fn nul_characters_in_text_fields(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let org = server.create_org("Acme").await;
    server.add_member(&org, "user_1", "org:member").await;
    let memberships = format!("/v1/organizations/{org}/memberships");
    for (method, path, body, param) in [
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            json!({"name": "a\u{0}b"}),
            "name",
        ),
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            json!({"name": "ok", "created_by": "user_\u{0}"}),
            "created_by",
        ),
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            json!({"name": "ok", "slug": "a\u{0}"}),
            "slug",
        ),
        (
            Method::POST,
            memberships.clone(),
            json!({"user_id": "user_\u{0}x", "role": "org:member"}),
            "user_id",
        ),
        (
            Method::POST,
            memberships.clone(),
            json!({"user_id": "user_2", "role": "org:\u{0}"}),
            "role",
        ),
        (
            Method::PATCH,
            format!("{memberships}/user_1"),
            json!({"role": "org:\u{0}admin"}),
            "role",
        ),
    ] {
        let reply = server.call(method, &path, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text
        );
        assert_eq!(
            reply.error_params(),
            vec![("form_param_value_invalid".to_owned(), param.to_owned())]
        );
    }
    let nul_org = "/v1/organizations/org_%00";
    let nul_member = format!("{memberships}/user_%00");
    let mut not_found = vec![
        server.get(nul_org).await,
        server.get(&format!("{nul_org}/memberships")).await,
        server.delete(&nul_member).await,
        server.delete(nul_org).await,
    ];
    for path in [
        format!("{nul_member}/metadata"),
        format!("{nul_org}/metadata"),
        format!("{nul_org}/memberships/user_1/metadata"),
    ] {
        not_found.push(server.patch(&path, json!({})).await);
    }
    not_found.push(
        server
            .patch(&nul_member, json!({"role": "org:admin"}))
            .await,
    );
    not_found.push(
        server
            .post(
                &format!("{nul_org}/memberships"),
                json!({"user_id": "user_3", "role": "org:member"}),
            )
            .await,
    );
    for reply in &not_found {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        assert_eq!(reply.error_code(), "resource_not_found");
    }
    for (query, count) in [
        ("user_id=user_%00", 0),
        ("role=%00", 0),
        ("user_id=user_1&user_id=user_%00", 1),
        ("user_id=user_1&role=%00", 0),
        ("role=org:member&role=x%00", 1),
    ] {
        let reply = server.get(&format!("{memberships}?{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
        assert_eq!(reply.body["total_count"], json!(count), "{query}");
        assert_eq!(
            reply.body["data"].as_array().unwrap().len(),
            count,
            "{query}"
        );
    }
    // nothing was created or changed
    assert_eq!(
        server.get(&org_path(&org)).await.body["members_count"],
        json!(1)
    );
    assert_eq!(
        server.membership(&org, "user_1").await["role"],
        json!("org:member")
    );
    server.stop().await;
}

fn org_path(org: &str) -> String {
    format!("/v1/organizations/{org}")
}

/// Reads from `stream` until the server closes it (or `BOUND` passes).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut bytes))
        .await
        .expect("the server closed the connection within the bound")
        .ok();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads from `stream` until `needle` has arrived (or `BOUND` passes); returns what was read.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        while !String::from_utf8_lossy(&bytes).contains(needle) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(&bytes)
            );
            bytes.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the answer arrived within the bound");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A request smuggled in the body of a refused request must not be served: after a 413
/// (announced `Content-Length` over the limit, body not read) and after a 408 (body
/// incomplete at the request timeout), the connection is closed, even though the client asked
/// to keep it alive and the unread bytes form a valid request that would delete the
/// organization.
#[tokio::test]
async fn no_request_smuggled_after_a_refused_body() {
    let (_db, server) = start(Store::Sqlite, |c| {
        c.max_body_bytes = 1024;
        c.request_timeout = Duration::from_secs(1);
        c.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let org = server.create_org("Acme").await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let smuggled = format!(
        "DELETE /v1/organizations/{org} HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {KEY}\r\n\r\n"
    );
    let head = |len: usize| {
        format!(
            "PATCH /v1/organizations/{org}/metadata HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\n\r\n"
        )
    };

    // 413: the whole "body" (a request) is sent at once, after the head.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let mut raw = head(2000).into_bytes();
    raw.extend_from_slice(smuggled.as_bytes());
    raw.resize(raw.len() + 2000 - smuggled.len(), b' ');
    stream.write_all(&raw).await.unwrap();
    let text = read_until_closed(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");

    // 408: ten bytes of body, then, after the 408, the rest of the announced length starting
    // with a request.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let mut raw = head(10 + smuggled.len()).into_bytes();
    raw.extend_from_slice(b"{\"public_m");
    stream.write_all(&raw).await.unwrap();
    let first = read_until(&mut stream, "request_timeout").await;
    assert!(first.starts_with("HTTP/1.1 408 "), "{first}");
    let _ = stream.write_all(smuggled.as_bytes()).await;
    let rest = read_until_closed(&mut stream).await;
    assert!(!rest.contains("HTTP/1.1 "), "{first}{rest}");

    let reply = server.get(&org_path(&org)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    server.stop().await;
}

/// Kept-alive connections: two requests pipelined in one write are both answered, in order;
/// then the idle connection is closed at the header-read timeout without an answer.
#[tokio::test]
async fn pipelined_requests_then_idle_close() {
    let (_db, server) = start(Store::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let org = server.create_org("Acme").await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let patch = |key: &str| {
        let body = format!("{{\"public_metadata\":{{\"{key}\":1}}}}");
        format!(
            "PATCH /v1/organizations/{org}/metadata HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let mut stream = TcpStream::connect(&host).await.unwrap();
    stream
        .write_all(format!("{}{}", patch("first"), patch("second")).as_bytes())
        .await
        .unwrap();
    let text = read_until_closed(&mut stream).await;
    let answers: Vec<&str> = text.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{text}");
    assert!(
        answers[0].starts_with("200 ") && answers[1].starts_with("200 "),
        "{text}"
    );
    assert!(
        answers[0].contains(r#""public_metadata":{"first":1}"#),
        "{text}"
    );
    assert!(
        answers[1].contains(r#""public_metadata":{"first":1,"second":1}"#),
        "{text}"
    );
    server.stop().await;
}

/// A metadata PATCH that times out (408) while its PostgreSQL transaction waits for the
/// membership's row lock (held here by another session) leaves the membership either whole
/// or untouched, and the pool keeps serving afterwards: the connection the dropped request
/// used is not left inside a transaction.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_timeout_while_waiting_for_a_row_lock() {
    if http_common::postgres_url().is_none() {
        http_common::report_skip("postgres_timeout_while_waiting_for_a_row_lock");
        return;
    }
    let (db, server) = start(Store::Postgres, |c| {
        c.request_timeout = Duration::from_secs(1);
        c.db_pool_size = 1;
    })
    .await;
    let (org, path) = member(&server).await;
    let before = server.membership(&org, "user_1").await;
    let (locker, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM organization_memberships WHERE organization_id = '{org}' FOR UPDATE"
        ))
        .await
        .unwrap();
    let reply = server
        .patch(
            &path,
            json!({"public_metadata": {"late": 1}, "private_metadata": {"billing": null}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{}", reply.text);
    assert_eq!(reply.error_code(), "request_timeout");
    locker.batch_execute("COMMIT").await.unwrap();
    drop(locker);
    let _ = connection.await;
    // With one pooled connection, the next requests use the one the dropped request had.
    for i in 0..3 {
        let reply = server
            .patch(&path, json!({"public_metadata": {format!("after{i}"): i}}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let after = server.membership(&org, "user_1").await;
    let applied = after["public_metadata"].get("late").is_some();
    assert_eq!(
        after["private_metadata"].get("billing").is_none(),
        applied,
        "{after}"
    );
    let mut expected = before["public_metadata"].clone();
    if applied {
        expected["late"] = json!(1);
    }
    for i in 0..3 {
        expected[format!("after{i}")] = json!(i);
    }
    assert_eq!(after["public_metadata"], expected);
    eprintln!(
        "the timed-out PATCH was {}",
        if applied { "committed" } else { "rolled back" }
    );
    server.stop().await;
}

/// PATCHes racing a membership's delete and re-create, through two instances on one
/// database: each PATCH lands on exactly one generation of the membership, whole (200 with its
/// value and that generation's marker) or not at all (404); the last generation holds exactly
/// the last value each writer had acknowledged on it, nothing from an earlier one.
async fn patches_racing_membership_delete_and_recreate(store: Store) {
    use std::sync::Arc;
    let db = TestDb::new(store).await;
    let a = Arc::new(TestServer::start(&db.url()).await);
    let b = Arc::new(TestServer::start(&db.url()).await);
    let org = a.create_org("Acme").await;
    let create = |s: Arc<TestServer>, org: String, generation: u32| async move {
        s.post(
            &format!("/v1/organizations/{org}/memberships"),
            json!({"user_id": "user_1", "role": "org:member",
                   "public_metadata": {"gen": generation}}),
        )
        .await
    };
    let created = create(Arc::clone(&a), org.clone(), 0).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    const GENERATIONS: u32 = 4;
    let churn = {
        let (a, b, org) = (Arc::clone(&a), Arc::clone(&b), org.clone());
        tokio::spawn(async move {
            for generation in 1..=GENERATIONS {
                tokio::task::yield_now().await;
                let deleted = b
                    .delete(&format!("/v1/organizations/{org}/memberships/user_1"))
                    .await;
                assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
                let created = create(Arc::clone(&a), org.clone(), generation).await;
                assert_eq!(created.status, StatusCode::OK, "{}", created.text);
            }
        })
    };
    // Eight writers PATCH one after another until the churn is over, then twice more.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let patches: Vec<_> = (0..8)
        .map(|w| {
            let s = Arc::clone(if w % 2 == 0 { &a } else { &b });
            let (org, done) = (org.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut replies = Vec::new();
                let mut after = 0;
                for n in 0..300 {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        after += 1;
                        if after > 2 {
                            break;
                        }
                    }
                    let key = format!("k{w}");
                    let reply = s
                        .patch_metadata(&org, "user_1", json!({"public_metadata": {&key: n}}))
                        .await;
                    replies.push((key, n, reply));
                }
                replies
            })
        })
        .collect();
    churn.await.unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut on_last = serde_json::Map::new();
    let (mut generations, mut not_found) = (std::collections::BTreeSet::new(), 0);
    for task in patches {
        for (key, n, reply) in task.await.unwrap() {
            match reply.status {
                StatusCode::OK => {
                    let metadata = &reply.body["public_metadata"];
                    assert_eq!(metadata[&key], json!(n), "{}", reply.text);
                    let generation = metadata["gen"].as_u64().expect("a generation marker");
                    generations.insert(generation);
                    if generation == u64::from(GENERATIONS) {
                        // each writer is sequential: its last acknowledged value wins
                        on_last.insert(key, json!(n));
                    }
                }
                StatusCode::NOT_FOUND => {
                    assert_eq!(reply.error_code(), "resource_not_found");
                    not_found += 1;
                }
                other => panic!("PATCH {key}: {other} {}", reply.text),
            }
        }
    }
    // The race was run: PATCHes landed on several generations, and some found none.
    assert!(
        generations.len() >= 2 && not_found > 0,
        "{generations:?} {not_found}"
    );
    let last = a.membership(&org, "user_1").await;
    let mut metadata = last["public_metadata"].as_object().unwrap().clone();
    assert_eq!(metadata.remove("gen"), Some(json!(GENERATIONS)), "{last}");
    assert_eq!(Value::Object(metadata), Value::Object(on_last));
    Arc::into_inner(a).unwrap().stop().await;
    Arc::into_inner(b).unwrap().stop().await;
}

/// Membership creates and deletes churning in an organization with a quota of 3, through
/// two instances: no create ever answers with more members than the quota, refusals are
/// 403 `organization_membership_quota_exceeded` (or 400 `already_a_member_in_organization`),
/// and the count at the end matches the list.
async fn quota_holds_under_create_delete_churn(store: Store) {
    use std::sync::Arc;
    let db = TestDb::new(store).await;
    let a = Arc::new(TestServer::start(&db.url()).await);
    let b = Arc::new(TestServer::start(&db.url()).await);
    let created = a
        .post(
            "/v1/organizations",
            json!({"name": "Small", "max_allowed_memberships": 3}),
        )
        .await;
    let org = created.body["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = Arc::clone(if t % 2 == 0 { &a } else { &b });
            let org = org.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for round in 0..6 {
                    let user = format!("user_{}", (t + round) % 5);
                    let reply = s
                        .post(
                            &format!("/v1/organizations/{org}/memberships"),
                            json!({"user_id": user, "role": "org:member"}),
                        )
                        .await;
                    match reply.status {
                        StatusCode::OK => {
                            let count = reply.body["organization"]["members_count"].as_i64();
                            assert!(
                                count.is_some_and(|c| (1..=3).contains(&c)),
                                "{}",
                                reply.text
                            );
                        }
                        StatusCode::FORBIDDEN => {
                            assert_eq!(reply.error_code(), "organization_membership_quota_exceeded")
                        }
                        StatusCode::BAD_REQUEST => {
                            assert_eq!(reply.error_code(), "already_a_member_in_organization")
                        }
                        other => panic!("create: {other} {}", reply.text),
                    }
                    let reply = s
                        .delete(&format!("/v1/organizations/{org}/memberships/{user}"))
                        .await;
                    match reply.status {
                        StatusCode::OK => {
                            let count = reply.body["organization"]["members_count"].as_i64();
                            assert!(
                                count.is_some_and(|c| (0..=2).contains(&c)),
                                "{}",
                                reply.text
                            );
                        }
                        StatusCode::NOT_FOUND => {
                            assert_eq!(reply.error_code(), "resource_not_found")
                        }
                        other => panic!("delete: {other} {}", reply.text),
                    }
                    seen.push(reply.status);
                }
                seen
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let organization = a.get(&org_path(&org)).await;
    let list = b
        .get(&format!("/v1/organizations/{org}/memberships?limit=100"))
        .await;
    assert_eq!(
        organization.body["members_count"], list.body["total_count"],
        "{}",
        list.text
    );
    Arc::into_inner(a).unwrap().stop().await;
    Arc::into_inner(b).unwrap().stop().await;
}

both_stores!(tokio::test(flavor = "multi_thread", worker_threads = 4);
    hostile_metadata_patch_bodies_change_nothing,
    escaped_and_odd_names_apply_as_their_text,
    number_literals_survive_exactly,
    key_order_survives_patches,
    metadata_size_limit_at_the_byte,
    body_exactly_at_the_limit,
    nul_characters_in_text_fields,
    serde_json_marker_names_are_refused,
    duplicate_keys_in_create_and_role_bodies_are_refused,
    long_user_ids,
    patches_racing_membership_delete_and_recreate,
    quota_holds_under_create_delete_churn,
);

/// serde_json, under `arbitrary_precision`, reads an object whose first member name is
/// `$serde_json::private::Number` as a number. A metadata PATCH body of that shape panicked
/// (500); a metadata object holding that name after another member was stored, and removing
/// the member before it left text that every later read of the membership failed to parse
/// (500 on GET, list and PATCH, for good). Such names are now refused, at creation and in a
/// PATCH, at any depth.
async fn serde_json_marker_names_are_refused(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, path) = member(&server).await;
    let before = stored(&server, &org).await;
    let reply = patch_raw(
        &server,
        &path,
        &br#"{"$serde_json::private::Number":"1"}"#[..],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error_code(), "request_body_invalid");
    assert_eq!(stored(&server, &org).await, before);
    for metadata in [
        json!({"n": {"a": 1, "$serde_json::private::Number": "x"}}),
        json!({"a": 1, "$serde_json::private::Number": "2"}),
        json!({"list": [{"a": 1, "$serde_json::private::RawValue": "2"}]}),
    ] {
        for field in ["public_metadata", "private_metadata"] {
            let reply = server.patch(&path, json!({ field: metadata })).await;
            assert_eq!(
                reply.error_params(),
                vec![("form_param_value_invalid".to_owned(), field.to_owned())],
                "{metadata}"
            );
            assert_eq!(stored(&server, &org).await, before);
            let reply = server
                .post(
                    &format!("/v1/organizations/{org}/memberships"),
                    json!({"user_id": "user_2", "role": "org:member", field: metadata}),
                )
                .await;
            assert_eq!(
                reply.error_params(),
                vec![("form_param_value_invalid".to_owned(), field.to_owned())]
            );
            let reply = server
                .post("/v1/organizations", json!({"name": "x", field: metadata}))
                .await;
            assert_eq!(
                reply.error_params(),
                vec![("form_param_value_invalid".to_owned(), field.to_owned())]
            );
        }
    }
    // The attack that poisoned the row: nothing was stored, so the removal is harmless.
    let reply = server
        .patch(&path, json!({"public_metadata": {"n": {"a": null}}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let list = server
        .get(&format!("/v1/organizations/{org}/memberships"))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["total_count"], json!(1));
    server.stop().await;
}

/// Another connection holding the SQLite file's write lock past the busy timeout (5 s): a
/// write is answered 503 `service_unavailable` (retry), not 500, and changes nothing; once
/// the lock is released writes succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_connection_is_503() {
    let (db, server) = start(Store::Sqlite, |_| {}).await;
    let (org, path) = member(&server).await;
    let before = stored(&server, &org).await;
    let file = db.url();
    let (release, locked) = std::sync::mpsc::channel::<()>();
    let (ready, is_ready) = tokio::sync::oneshot::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(file).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        ready.send(()).unwrap();
        locked.recv().unwrap();
        tx.rollback().unwrap();
    });
    is_ready.await.unwrap();
    let reply = server
        .patch(&path, json!({"public_metadata": {"plan": null}}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.error_code(), "service_unavailable");
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(stored(&server, &org).await, before);
    let reply = server
        .patch(&path, json!({"public_metadata": {"plan": null}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    server.stop().await;
}

/// A member name repeated in the body of a create or role update is refused (400
/// `request_body_invalid` naming the key and its place) and nothing is created or changed:
/// `{"public_metadata":{"plan":"pro","plan":null}}` was stored as `{"plan":null}`, the last
/// one silently winning, while the metadata PATCH bodies already refused it.
async fn duplicate_keys_in_create_and_role_bodies_are_refused(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let (org, _) = member(&server).await;
    let before = stored(&server, &org).await;
    let memberships = format!("/v1/organizations/{org}/memberships");
    for (method, path, body, key, column) in [
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            r#"{"name":"a","public_metadata":{"plan":"pro","plan":null}}"#,
            "plan",
            50,
        ),
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            r#"{"name":"a","name":"b"}"#,
            "name",
            18,
        ),
        (
            Method::POST,
            memberships.clone(),
            r#"{"user_id":"user_9","role":"org:member","private_metadata":{"x":[{"k":1,"\u006b":2}]}}"#,
            "k",
            80,
        ),
        (
            Method::PATCH,
            format!("{memberships}/user_1"),
            r#"{"role":"org:admin","role":"org:member"}"#,
            "role",
            26,
        ),
    ] {
        let reply = TestServer::reply(
            server
                .raw(method, &path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), "request_body_invalid");
        let detail = reply.body["errors"][0]["long_message"].as_str().unwrap();
        assert!(
            detail.contains(&format!("duplicate key \"{key}\""))
                && detail.ends_with(&format!("at line 1 column {column}")),
            "{body}: {detail}"
        );
    }
    assert_eq!(stored(&server, &org).await, before);
    let count = server.get(&org_path(&org)).await.body["members_count"].clone();
    assert_eq!(count, json!(1));
    server.stop().await;
}

/// A client-sent `X-Request-Id` that is empty, not UTF-8 or holds spaces is replaced by a new
/// `req_` id, so that the error body's `clerk_trace_id` always equals the response header
/// (a non-UTF-8 one gave `""` while the header echoed the raw bytes); a usable one is kept.
#[tokio::test]
async fn unusable_client_request_ids_are_replaced() {
    let (_db, server) = start(Store::Sqlite, |_| {}).await;
    for (id, kept) in [
        (&b"\xff\xfeabc"[..], false),
        (b"", false),
        (b"a b", false),
        (b"a\"b\\c", true),
        (b"client-42", true),
    ] {
        let mut raw =
            b"GET /v1/organizations/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: "
                .to_vec();
        raw.extend_from_slice(id);
        raw.extend_from_slice(format!("\r\nAuthorization: Bearer {KEY}\r\n\r\n").as_bytes());
        let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
            .await
            .unwrap();
        stream.write_all(&raw).await.unwrap();
        let text = read_until_closed(&mut stream).await;
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 404 "), "{text}");
        let header = head
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("{text}"));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["clerk_trace_id"], json!(header), "{text}");
        if kept {
            assert_eq!(header.as_bytes(), id);
        } else {
            assert!(header.starts_with("req_") && header.len() == 31, "{text}");
        }
    }
    server.stop().await;
}

/// A user ID longer than 512 characters is refused with a 422 on both stores: the user ID is
/// in a unique index, and PostgreSQL refused an incompressible one of about 2,700 bytes with a
/// 500. 512 four-byte characters (2,048 bytes) are accepted and found again.
async fn long_user_ids(store: Store) {
    let (_db, server) = start(store, |_| {}).await;
    let org = server.create_org("Acme").await;
    let memberships = format!("/v1/organizations/{org}/memberships");
    let random = metamerge::http::ids::random_base62(3000);
    for user_id in [random[..513].to_owned(), random.clone()] {
        let reply = server
            .post(
                &memberships,
                json!({"user_id": user_id, "role": "org:member"}),
            )
            .await;
        assert_eq!(
            reply.error_params(),
            vec![("form_param_value_invalid".to_owned(), "user_id".to_owned())],
            "{}",
            reply.text
        );
    }
    // Random four-byte characters, so that the index entry does not compress.
    let wide: String = random
        .bytes()
        .take(512)
        .map(|b| char::from_u32(0x1F300 + u32::from(b)).unwrap())
        .collect();
    for user_id in [random[..512].to_owned(), wide] {
        let reply = server
            .post(
                &memberships,
                json!({"user_id": &user_id, "role": "org:member"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let reply = server
            .get(&format!("{memberships}?user_id={}", urlencode(&user_id)))
            .await;
        assert_eq!(reply.body["total_count"], json!(1), "{}", reply.text);
    }
    assert_eq!(
        server.get(&org_path(&org)).await.body["members_count"],
        json!(2)
    );
    server.stop().await;
}

/// Percent-encodes every byte outside unreserved ASCII.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A client that sends requests and never reads the answers used to hold its connection, and
/// the answers in memory, for good: no timeout covered writing a response (the header-read
/// timeout only runs while the server waits for a request, the request timeout only until the
/// response starts). Now each write to the connection is bounded by the request timeout. Here ten
/// pipelined GETs of a 1.4 MB organization (more than the loopback socket buffers hold) are
/// sent, nothing is read for well past both 1 s timeouts, then the test reads: the server
/// should have given up on the connection (fewer than ten answers, then EOF), but all ten
/// arrive.
#[tokio::test]
async fn a_client_that_never_reads_is_disconnected() {
    let (_db, server) = start(Store::Sqlite, |c| {
        c.max_body_bytes = 2 * 1024 * 1024;
        c.max_metadata_bytes = 1536 * 1024;
        c.header_read_timeout = Duration::from_secs(1);
        c.request_timeout = Duration::from_secs(1);
    })
    .await;
    let big = metamerge::http::ids::random_base62(1400 * 1024);
    let created = server
        .post(
            "/v1/organizations",
            json!({"name": "Big", "public_metadata": {"blob": big}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let org = created.body["id"].as_str().unwrap().to_owned();
    let get = format!(
        "GET /v1/organizations/{org} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(get.repeat(10).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let text = read_until_closed(&mut stream).await;
    let answers = text.matches("HTTP/1.1 200 OK").count();
    assert!(answers < 10, "{answers} answers: the connection was kept");
    server.stop().await;
}

/// Metadata nested 126 levels deep used to be accepted at creation (the body's own depth is
/// within serde_json's limit), but every answer that embeds it deeper (a membership embeds its
/// organization, a list embeds memberships) was then past that limit: serde_json, the parser
/// of the server itself and of the clerk-rs SDK, refused the membership create's answer and
/// every list of the organization's memberships. Now metadata may nest at most
/// `MAX_METADATA_DEPTH` (100) levels: 100 is accepted and every answer embedding it parses;
/// 101 and 126 are refused with 422 `form_param_value_invalid` naming the field.
#[tokio::test]
async fn every_answer_parses_with_deep_metadata() {
    let (_db, server) = start(Store::Sqlite, |_| {}).await;
    // Creates an organization whose public metadata nests `depth` levels (as raw text: the
    // request body itself stays within serde_json's limit).
    let create = |depth: usize| {
        let metadata = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        server
            .raw(Method::POST, "/v1/organizations")
            .header("content-type", "application/json")
            .body(format!(
                "{{\"name\":\"Deep\",\"public_metadata\":{metadata}}}"
            ))
            .send()
    };
    for depth in [101, 126] {
        let response = create(depth).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "depth {depth}"
        );
        let refused: Value = response.json().await.unwrap();
        assert_eq!(refused["errors"][0]["code"], "form_param_value_invalid");
        assert_eq!(
            refused["errors"][0]["meta"]["param_name"],
            "public_metadata"
        );
    }
    let response = create(100).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let created: Value = response.json().await.unwrap();
    let org = created["id"].as_str().unwrap().to_owned();
    let memberships = format!("{}/v1/organizations/{org}/memberships", server.base);
    for (method, url) in [
        (Method::POST, memberships.clone()),
        (Method::GET, memberships.clone()),
        (Method::GET, format!("{memberships}?user_id=user_1")),
    ] {
        let post = method == Method::POST;
        let mut request = server.client.request(method, &url).bearer_auth(KEY);
        if post {
            request = request.json(&json!({"user_id": "user_1", "role": "org:member"}));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let text = response.text().await.unwrap();
        if let Err(e) = serde_json::from_str::<Value>(&text) {
            panic!("{url}: {e}");
        }
    }
    server.stop().await;
}

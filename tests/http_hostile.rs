//! Hostile HTTP against the in-process server, over raw TCP where a client library cannot
//! express the attack: bodies over the limit (honest, lying and chunked), slow headers, a
//! trickling body, 100,000-deep JSON, wrong content types, a 100 KiB query string and odd path
//! parameters. Each gets the right 4xx (with Clerk's error body where the request reached the
//! service), the timeouts are short in the test server (1 s) so that "quickly" means "before the
//! test's own generous bound", and a normal client keeps getting 200s meanwhile.
//! Also the regression tests for what schemathesis found. Run with
//! `cargo test --features http --test http_hostile`.
#![cfg(feature = "http")]

mod http_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_common::{config, TestServer, KEY};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The test's own bound for any one exchange: far longer than the server's 1 s timeouts, so
/// it only fails a test that would otherwise hang.
const BOUND: Duration = Duration::from_secs(30);

async fn start() -> TestServer {
    let mut config = config(":memory:");
    config.header_read_timeout = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(1);
    config.max_body_bytes = 1024 * 1024;
    TestServer::start_with(config).await
}

/// A raw response: status (0 if the server closed without answering) and body text.
#[derive(Debug)]
struct Raw {
    status: u16,
    body: String,
}

impl Raw {
    /// Checks Clerk's error body and returns its first code.
    fn code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body));
        assert!(
            body["clerk_trace_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("req_")),
            "{body}"
        );
        body["errors"][0]["code"].as_str().unwrap().to_owned()
    }
}

fn host(server: &TestServer) -> &str {
    server.base.trim_start_matches("http://")
}

/// Sends `parts` (with `pause` between them) on a new connection, then reads until the server
/// closes it (every request here says `Connection: close`) or `BOUND` passes.
async fn exchange(server: &TestServer, parts: Vec<Vec<u8>>, pause: Duration) -> Raw {
    let mut stream = TcpStream::connect(host(server)).await.unwrap();
    let run = async {
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            // The server may close early (that is the point of some attacks).
            if stream.write_all(part).await.is_err() {
                break;
            }
        }
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    };
    let bytes = tokio::time::timeout(BOUND, run)
        .await
        .expect("the server answered or closed within the bound");
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let Some(status_line) = text.lines().next().filter(|l| l.starts_with("HTTP/1.1 ")) else {
        return Raw {
            status: 0,
            body: text.into_owned(),
        };
    };
    let status = status_line[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Raw { status, body }
}

fn head(method: &str, target: &str, extra: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\n\
         Connection: close\r\n{extra}\r\n"
    )
}

fn request(method: &str, target: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = head(
        method,
        target,
        &format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ),
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A normal client that GETs the organization until told to stop (at most 20,000 requests),
/// counting 200s and anything else.
fn normal_client(
    server: &TestServer,
    org: &str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    let url = format!("{}/v1/organizations/{org}", server.base);
    let client = reqwest::Client::new();
    tokio::spawn(async move {
        let ok = AtomicUsize::new(0);
        let mut other = Vec::new();
        for _ in 0..20_000 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match client.get(&url).bearer_auth(KEY).send().await {
                Ok(r) if r.status() == StatusCode::OK => {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => other.push(r.status().to_string()),
                Err(e) => other.push(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (ok.into_inner(), other)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_the_right_4xx_while_others_are_served() {
    let s = start().await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let metadata = format!("/v1/organizations/{org}/memberships/user_1/metadata");
    let stop = Arc::new(AtomicBool::new(false));
    let normal = normal_client(&s, &org, Arc::clone(&stop));
    let none = Duration::ZERO;

    // A body over the 1 MiB limit, honestly announced.
    let big = format!(r#"{{"public_metadata":{{"a":"{}"}}}}"#, "x".repeat(1 << 20));
    let r = exchange(
        &s,
        vec![request(
            "PATCH",
            &metadata,
            "application/json",
            big.as_bytes(),
        )],
        none,
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (413, "request_body_too_large")
    );

    // Content-Length over the limit, with only a small body behind it: refused without
    // waiting for the rest.
    let mut lying = head(
        "PATCH",
        &metadata,
        "Content-Type: application/json\r\nContent-Length: 100000000\r\n",
    )
    .into_bytes();
    lying.extend_from_slice(br#"{"public_metadata":{}}"#);
    let r = exchange(&s, vec![lying], none).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (413, "request_body_too_large")
    );

    // Content-Length larger than the body actually sent (under the limit): the server waits
    // for the missing bytes only until the request timeout.
    let mut short = head(
        "PATCH",
        &metadata,
        "Content-Type: application/json\r\nContent-Length: 1000\r\n",
    )
    .into_bytes();
    short.extend_from_slice(br#"{"public_metadata":{"a":1}}"#);
    let r = exchange(&s, vec![short], none).await;
    assert_eq!((r.status, r.code().as_str()), (408, "request_timeout"));

    // Content-Length smaller than the body: the body is the announced prefix, which is not
    // JSON; the rest is not taken as a request of its own.
    let mut long = head(
        "PATCH",
        &metadata,
        "Content-Type: application/json\r\nContent-Length: 10\r\n",
    )
    .into_bytes();
    long.extend_from_slice(br#"{"public_metadata":{"smuggled":1}}"#);
    let r = exchange(&s, vec![long], none).await;
    assert_eq!((r.status, r.code().as_str()), (400, "request_body_invalid"));

    // A chunked body that grows past the limit.
    let mut chunked = head(
        "PATCH",
        &metadata,
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = exchange(&s, vec![chunked], none).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (413, "request_body_too_large")
    );

    // Slow headers: one header line every 300 ms, never finishing. The connection is closed
    // after the 1 s header-read timeout, without an answer.
    let mut slow =
        vec![format!("GET /v1/organizations/{org} HTTP/1.1\r\nHost: localhost\r\n").into_bytes()];
    for i in 0..40 {
        slow.push(format!("X-Slow-{i}: 1\r\n").into_bytes());
    }
    let r = exchange(&s, slow, Duration::from_millis(300)).await;
    assert!(r.status == 0 || r.status == 408, "{r:?}");

    // A body that trickles in, one byte every 200 ms: 408 after the 1 s request timeout.
    let body = br#"{"public_metadata":{"trickle":true}}"#;
    let mut trickle = vec![head(
        "PATCH",
        &metadata,
        &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
    )
    .into_bytes()];
    trickle.extend(body.iter().map(|b| vec![*b]));
    let r = exchange(&s, trickle, Duration::from_millis(200)).await;
    assert_eq!((r.status, r.code().as_str()), (408, "request_timeout"));

    // 100,000 levels of nesting as a metadata patch (500 KB, under the body limit): the JSON
    // parser's depth limit answers 400 without exhausting the stack.
    let depth = 100_000;
    let deep = format!(
        r#"{{"public_metadata":{}{}}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    let r = exchange(
        &s,
        vec![request(
            "PATCH",
            &metadata,
            "application/json",
            deep.as_bytes(),
        )],
        none,
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (400, "request_body_invalid"));
    let deep_array = format!(
        r#"{{"public_metadata":{{"a":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let r = exchange(
        &s,
        vec![request(
            "PATCH",
            &metadata,
            "application/json",
            deep_array.as_bytes(),
        )],
        none,
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (400, "request_body_invalid"));

    // Wrong content types.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let r = exchange(
            &s,
            vec![request(
                "PATCH",
                &metadata,
                content_type,
                br#"{"public_metadata":{"a":1}}"#,
            )],
            none,
        )
        .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "request_body_invalid"),
            "{content_type}"
        );
    }

    // A 100 KiB query string: hyper refuses URIs over 64 KiB with 414 before routing.
    let query = format!(
        "/v1/organizations/{org}/memberships?{}",
        "user_id=u&".repeat(10 * 1024)
    );
    let r = exchange(&s, vec![head("GET", &query, "").into_bytes()], none).await;
    assert_eq!(r.status, 414, "{r:?}");
    // Just under hyper's URI limit: it reaches the service, which answers normally.
    let query = format!(
        "/v1/organizations/{org}/memberships?{}",
        "user_id=u&".repeat(6 * 1024)
    );
    let r = exchange(&s, vec![head("GET", &query, "").into_bytes()], none).await;
    assert_eq!(r.status, 200, "{r:?}");

    // Odd path parameters: each is a 4xx with Clerk's body, never a 5xx.
    for (target, status, code) in [
        (
            "/v1/organizations/org_%00".to_owned(),
            404,
            "resource_not_found",
        ),
        (
            "/v1/organizations/org_%2F..%2Fx".to_owned(),
            404,
            "resource_not_found",
        ),
        (
            "/v1/organizations/%E2%9C%93%F0%9F%98%80".to_owned(),
            404,
            "resource_not_found",
        ),
        ("/v1/organizations/..".to_owned(), 404, "resource_not_found"),
        (
            "/v1/organizations/%2E%2E".to_owned(),
            404,
            "resource_not_found",
        ),
        (
            "/v1/organizations/%FF%FE".to_owned(),
            400,
            "malformed_request_parameters",
        ),
        (
            format!("/v1/organizations/{org}/memberships/%00/metadata"),
            404,
            "resource_not_found",
        ),
        (
            format!("/v1/organizations/{org}/memberships/..%2F..%2Fuser_1/metadata"),
            404,
            "resource_not_found",
        ),
        (
            format!("/v1/organizations/{org}/memberships/%C3%A9%E2%80%AE/metadata"),
            404,
            "resource_not_found",
        ),
    ] {
        let method = if target.ends_with("/metadata") {
            "PATCH"
        } else {
            "GET"
        };
        let r = exchange(
            &s,
            vec![request(method, &target, "application/json", b"{}")],
            none,
        )
        .await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{target}");
    }

    stop.store(true, Ordering::Relaxed);
    let (ok, other) = normal.await.unwrap();
    assert!(other.is_empty(), "the normal client saw {other:?}");
    assert!(ok > 0);
    println!("normal client: {ok} requests, all 200, during the hostile ones");

    // Nothing was stored by any of the hostile requests.
    let membership = s.membership(&org, "user_1").await;
    assert_eq!(membership["public_metadata"], json!({}));
    s.stop().await;
}

/// Many slow-header connections at once do not keep a normal client out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_slow_header_connections_do_not_block_others() {
    let s = start().await;
    let org = s.create_org("Acme").await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(host(&s)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        idle.push(stream);
    }
    let reply = s.get(&format!("/v1/organizations/{org}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Every one of them is closed by the server after the header-read timeout.
    for mut stream in idle {
        let mut buf = Vec::new();
        tokio::time::timeout(BOUND, stream.read_to_end(&mut buf))
            .await
            .expect("closed by the server")
            .ok();
        assert!(parse(&buf).status == 0 || parse(&buf).status == 408);
    }
    s.stop().await;
}

// --- Regressions for what schemathesis found (.ci/schemathesis.sh) ---

/// `offset` above i64::MAX was accepted (the schema says int64); now 400.
#[tokio::test]
async fn offset_above_i64_max_is_rejected() {
    let s = start().await;
    let org = s.create_org("Acme").await;
    let r = s
        .get(&format!(
            "/v1/organizations/{org}/memberships?offset=9223372036854775808"
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error_code(), "malformed_request_parameters");
    let r = s
        .get(&format!(
            "/v1/organizations/{org}/memberships?offset=9223372036854775807"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// An integral number written as `151600.0` is an integer for JSON Schema; it was rejected.
#[tokio::test]
async fn integral_float_is_an_integer() {
    let s = start().await;
    let r = s
        .post(
            "/v1/organizations",
            json!({"name": "Acme", "max_allowed_memberships": 151600.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["max_allowed_memberships"], json!(151600));
    let r = s
        .post(
            "/v1/organizations",
            json!({"name": "Acme", "max_allowed_memberships": 1.5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
}

/// The served OpenAPI document: unknown fields are declared as refused, an absent metadata
/// PATCH body is optional but `null` is not allowed, list limits are declared, and response
/// links use `operationId` (utoipa writes `operation_id`).
#[tokio::test]
async fn openapi_document_matches_the_server() {
    let s = start().await;
    let doc: Value = reqwest::get(format!("{}/v1/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "CreateOrganizationRequest",
        "CreateMembershipRequest",
        "UpdateMembershipRequest",
        "MetadataPatch",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name}"
        );
    }
    let patch = &doc["paths"]["/v1/organizations/{organization_id}/metadata"]["patch"];
    assert_ne!(patch["requestBody"]["required"], json!(true));
    assert_eq!(
        patch["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        json!("#/components/schemas/MetadataPatch")
    );
    let list = doc["paths"]["/v1/organizations/{organization_id}/memberships"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = list.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["minimum"], json!(1));
    assert_eq!(limit["schema"]["maximum"], json!(500));
    let links = &doc["paths"]["/v1/organizations"]["post"]["responses"]["200"]["links"];
    assert_eq!(
        links["GetOrganization"]["operationId"],
        json!("get_organization")
    );
    assert!(links["GetOrganization"].get("operation_id").is_none());
    // An absent body is `{}`; a JSON `null` body is refused.
    let org = s.create_org("Acme").await;
    let r = TestServer::reply(s.raw(
        reqwest::Method::PATCH,
        &format!("/v1/organizations/{org}/metadata"),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .patch(&format!("/v1/organizations/{org}/metadata"), Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error_code(), "request_body_invalid");
}

/// Only a body of no bytes counts as `{}`: whitespace alone (a space, a form feed) is not a JSON
/// text; both were taken as an empty body and answered 200.
#[tokio::test]
async fn a_whitespace_body_is_not_an_empty_body() {
    let s = start().await;
    let org = s.create_org("Acme").await;
    let path = format!("/v1/organizations/{org}/metadata");
    for (body, status) in [
        ("", StatusCode::OK),
        (" ", StatusCode::BAD_REQUEST),
        (" \t\r\n", StatusCode::BAD_REQUEST),
        ("\x0c", StatusCode::BAD_REQUEST),
        ("\x0b", StatusCode::BAD_REQUEST),
    ] {
        let r = TestServer::reply(
            s.raw(reqwest::Method::PATCH, &path)
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(r.status, status, "{body:?}: {}", r.text);
        if status != StatusCode::OK {
            assert_eq!(r.error_code(), "request_body_invalid");
        }
    }
}

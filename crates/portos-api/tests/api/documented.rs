//! The OpenAPI checker's own tests, and every parameterless GET of a
//! fixture server checked against the document.

use serde_json::Value;

use crate::conformance::{check, doc_operations, operation, violation};

#[test]
#[should_panic(expected = "breaks its schema")]
fn a_body_that_breaks_its_schema_is_refused() {
    check(
        "GET",
        "/api/history",
        200,
        Some(&serde_json::json!({ "entries": [] })),
    );
}

#[test]
#[should_panic(expected = "does not list")]
fn a_status_the_document_does_not_list_is_refused() {
    check("GET", "/api/history/stats", 302, None);
}

#[test]
fn a_body_that_fits_passes_and_the_most_literal_template_is_taken() {
    check(
        "GET",
        "/api/history",
        200,
        Some(&serde_json::json!({ "total": 0, "entries": [] })),
    );
    assert_eq!(
        operation("GET", "/api/history/stats").unwrap()["operationId"],
        "historyStats"
    );
    assert!(operation("GET", "/ws").is_none());
}

/// Every GET of the document that needs no path parameter, asked of a
/// server over the fixture data dir (its upstreams — supervisor, runner,
/// browser host, autofixer, LM Studio — absent): each answer is one the
/// document lists, with a body that fits its schema.
#[tokio::test]
async fn every_parameterless_get_answers_as_documented() {
    let s = crate::start().await;
    let (mut asked, mut broken) = (0, Vec::new());
    for (method, path) in doc_operations() {
        if method != "GET" || path.contains('{') || path == "/api/openapi.json" {
            continue;
        }
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.ok();
        broken.extend(violation("GET", &path, status, body.as_ref()));
        asked += 1;
    }
    assert!(asked > 70, "{asked} operations asked");
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
}

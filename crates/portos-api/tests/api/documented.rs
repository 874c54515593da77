//! Every parameterless GET of a fixture server checked against the
//! document.

use serde_json::Value;

use crate::conformance::document;

/// Every GET of the document that needs no path parameter, asked of a
/// server over the fixture data dir (its upstreams — supervisor, runner,
/// browser host, autofixer, LM Studio — absent): each answer is one the
/// document lists, with a body that fits its schema.
#[tokio::test]
async fn every_parameterless_get_answers_as_documented() {
    let s = crate::start().await;
    let (mut asked, mut broken) = (0, Vec::new());
    for (method, path) in document().operations() {
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
        broken.extend(document().violation("GET", &path, status, body.as_ref()));
        asked += 1;
    }
    assert!(asked > 70, "{asked} operations asked");
    assert!(broken.is_empty(), "{}", broken.join("\n\n"));
}

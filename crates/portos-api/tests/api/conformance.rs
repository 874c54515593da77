//! The api server's own OpenAPI document, to check answers against
//! ([`portos_test_support::openapi`]).

use std::sync::OnceLock;

use portos_test_support::openapi::Document;

/// The document `GET /api/openapi.json` serves, built once per test binary.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        Document::new(&serde_json::to_value(portos_api::api_routes().1).expect("the document"))
    })
}

//! What every operation of the OpenAPI document can answer besides what its
//! handler declares, added in one place: the refusals and failures of the
//! layers around every route (no credential 401, another origin 403, too
//! slow 408, too big 413, a server error 500), of a request body (400, 415,
//! 422), of a path parameter (404), each with the one error shape every
//! error has, `{ error, code, context? }` (the `Error` schema). Handlers'
//! own error responses get that shape too. So a client (and schemathesis)
//! can check every answer against the document.

use utoipa::openapi::content::Content;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// The error answers the layers give any operation.
const EVERY: [(&str, &str); 6] = [
    ("401", "no owner's credential (`UNAUTHENTICATED`)"),
    (
        "403",
        "from another origin or refused (`FORBIDDEN`, `CROSS_ORIGIN`)",
    ),
    (
        "408",
        "took longer than the request timeout (`REQUEST_TIMEOUT`)",
    ),
    ("413", "a body over the size limit (`PAYLOAD_TOO_LARGE`)"),
    (
        "429",
        "too many refused credentials from one address (`TOO_MANY_ATTEMPTS`)",
    ),
    ("500", "a server error (`INTERNAL_ERROR`)"),
];
/// …and any operation with a request body.
const WITH_BODY: [(&str, &str); 3] = [
    ("400", "a bad body (`VALIDATION_ERROR`, `BAD_REQUEST`)"),
    ("415", "a body that is not JSON (`UNSUPPORTED_MEDIA_TYPE`)"),
    ("422", "JSON of the wrong shape (`VALIDATION_ERROR`)"),
];
/// …and any operation with parameters.
const WITH_PARAMS: [(&str, &str); 1] = [("400", "a bad parameter (`VALIDATION_ERROR`)")];
const WITH_PATH: [(&str, &str); 1] = [("404", "nothing of that id (`NOT_FOUND`)")];
/// …and any operation that asks another program: by the start of its path,
/// which one. It answers 503 when that program does not answer, 502 when its
/// answer is not one.
const UPSTREAMS: [(&str, &str); 10] = [
    ("/api/autofixer", "the autofixer"),
    ("/api/browser", "the browser host"),
    ("/api/processes", "the supervisor"),
    ("/api/logs", "the supervisor"),
    ("/api/commands/processes", "the supervisor"),
    ("/api/apps", "the supervisor"),
    ("/api/lmstudio", "LM Studio"),
    ("/api/jira/instances/{id}", "the JIRA server"),
    ("/api/agents/tools", "the agent's platform"),
    ("/api/instances/peers", "the peer instance"),
];

/// The `Error` schema and the error answers, on every operation of `doc`.
pub fn complete(doc: &mut OpenApi) {
    let error = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("error", ObjectBuilder::new().schema_type(Type::String))
        .property("code", ObjectBuilder::new().schema_type(Type::String))
        .property("context", ObjectBuilder::new().schema_type(Type::Object))
        .required("error")
        .required("code")
        .description(Some("Every error answer: a message and a stable code"));
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .insert("Error".into(), RefOr::T(error.into()));
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(op, upstream(path));
        }
    }
}

/// The program an operation on `path` asks, if any.
fn upstream(path: &str) -> Option<&'static str> {
    UPSTREAMS
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, who)| *who)
}

fn complete_operation(op: &mut Operation, upstream: Option<&str>) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params
        .iter()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
    let mut add: Vec<(&str, &str)> = EVERY.to_vec();
    if op.request_body.is_some() {
        add.extend(WITH_BODY);
    }
    if !params.is_empty() {
        add.extend(WITH_PARAMS);
    }
    if has_path {
        add.extend(WITH_PATH);
    }
    let responses = &mut op.responses.responses;
    for (status, description) in add {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
    if let Some(who) = upstream {
        for (status, what) in [("502", "an answer that is not one"), ("503", "no answer")] {
            responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::T(Response::new(format!("{what} from {who}"))));
        }
    }
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(r) = response
            && status.starts_with(['4', '5'])
            && r.content.is_empty()
        {
            r.content.insert(
                "application/json".into(),
                RefOr::T(Content::new(Some(Ref::from_schema_name("Error")))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_error(op: &Operation, status: &str) -> bool {
        matches!(op.responses.responses.get(status), Some(RefOr::T(r))
            if matches!(r.content.get("application/json"), Some(RefOr::T(c))
                if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Error"))))
    }

    #[test]
    fn every_operation_documents_the_errors_it_can_answer_in_one_shape() {
        let doc = crate::api_routes().1;
        assert!(
            doc.components
                .as_ref()
                .unwrap()
                .schemas
                .contains_key("Error")
        );
        let mut seen = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                seen += 1;
                let id = op.operation_id.clone().unwrap_or_else(|| path.clone());
                for status in ["401", "403", "408", "413", "429", "500"] {
                    assert!(json_error(op, status), "{id}: {status}");
                }
                if op.request_body.is_some() {
                    for status in ["400", "415", "422"] {
                        assert!(json_error(op, status), "{id}: {status}");
                    }
                }
                if path.contains('{') {
                    assert!(json_error(op, "404"), "{id}: 404");
                }
                if path.starts_with("/api/browser") || path.starts_with("/api/autofixer") {
                    assert!(json_error(op, "503"), "{id}: 503");
                }
                // A handler's own error answers have the shape too.
                for status in op.responses.responses.keys() {
                    if status.starts_with(['4', '5']) {
                        assert!(json_error(op, status), "{id}: {status}");
                    }
                }
            }
        }
        assert!(seen > 200, "{seen} operations");
    }
}

//! Every answer a test gets is checked against the OpenAPI document the
//! server publishes: the status must be one its operation documents, and a
//! JSON body must fit the schema documented for that status. So each test of
//! a route also tests the route's documented contract, with the data the
//! test made (schemathesis's bounded run sees mostly empty data dirs).

use std::sync::OnceLock;

use serde_json::Value;

struct Doc {
    /// `(method, path template split at '/', the operation)`.
    operations: Vec<(String, Vec<String>, Value)>,
    components: Value,
}

pub fn doc_operations() -> impl Iterator<Item = (&'static str, String)> {
    doc()
        .operations
        .iter()
        .map(|(m, segments, _)| (m.as_str(), segments.join("/")))
}

fn doc() -> &'static Doc {
    static DOC: OnceLock<Doc> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = serde_json::to_value(portos_api::api_routes().1).expect("the document");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let segments = path.split('/').map(str::to_string).collect();
                operations.push((method.to_uppercase(), segments, op.clone()));
            }
        }
        Doc {
            operations,
            components: doc["components"].clone(),
        }
    })
}

/// The operation for `method path`: of the templates that match, the one
/// with the most literal segments (`/api/cos/agents/history` before
/// `/api/cos/agents/{id}`).
pub fn operation(method: &str, path: &str) -> Option<&'static Value> {
    let asked: Vec<&str> = path.split('/').collect();
    doc()
        .operations
        .iter()
        .filter(|(m, segments, _)| {
            m == method
                && segments.len() == asked.len()
                && segments
                    .iter()
                    .zip(&asked)
                    .all(|(t, a)| t.starts_with('{') || t == a)
        })
        .max_by_key(|(_, segments, _)| segments.iter().filter(|t| !t.starts_with('{')).count())
        .map(|(_, _, op)| op)
}

/// Panics when the answer breaks the document ([`violation`]).
pub fn check(method: &str, path: &str, status: u16, body: Option<&Value>) {
    if let Some(v) = violation(method, path, status, body) {
        panic!("{v}");
    }
}

/// How the answer breaks the document: a status the operation does not
/// document, or a JSON body that does not fit the status's schema. Paths the
/// document does not describe (`/ws`, pages) are not checked.
pub fn violation(method: &str, path: &str, status: u16, body: Option<&Value>) -> Option<String> {
    let op = operation(method, path)?;
    let id = op["operationId"].as_str().unwrap_or(path);
    let responses = &op["responses"];
    let Some(response) = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
    else {
        return Some(format!(
            "{method} {path} ({id}) answered {status}, which the document does not list; body: {}",
            body.unwrap_or(&Value::Null)
        ));
    };
    let schema = response.pointer("/content/application~1json/schema")?;
    let body = body?;
    let mut root = schema.clone();
    if let Some(obj) = root.as_object_mut() {
        obj.insert("components".into(), doc().components.clone());
    } else {
        root = serde_json::json!({ "allOf": [schema], "components": doc().components });
    }
    let validator = match jsonschema::draft202012::new(&root) {
        Ok(v) => v,
        Err(e) => {
            return Some(format!(
                "{id}: the schema of {status} is not JSON Schema: {e}"
            ));
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| {
        format!(
            "{method} {path} ({id}) answered {status} with a body that breaks its schema:\n{}\nbody: {body}",
            errors.join("\n")
        )
    })
}

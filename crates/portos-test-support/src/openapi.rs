//! Answers checked against an OpenAPI 3.1 document: the status must be one
//! its operation lists, and a JSON body must fit the schema documented for
//! that status (JSON Schema 2020-12, the document's components in reach of
//! every `$ref`). A test that checks each answer it gets so also tests the
//! route's documented contract, with the data the test made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A document's operations, ready to check answers against.
#[derive(Debug)]
pub struct Document {
    /// `(method in capitals, the path template split at '/', the operation)`.
    operations: Vec<(String, Vec<String>, Value)>,
    components: Value,
    /// Each (operation's index, status)'s schema, compiled the first time
    /// an answer needs it.
    validators: Mutex<HashMap<(usize, u16), Arc<jsonschema::Validator>>>,
}

impl Document {
    /// From the document as JSON.
    pub fn new(doc: &Value) -> Self {
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let segments = path.split('/').map(str::to_string).collect();
                operations.push((method.to_uppercase(), segments, op.clone()));
            }
        }
        Self {
            operations,
            components: doc["components"].clone(),
            validators: Mutex::default(),
        }
    }

    /// Every operation as `(method, path template)`.
    pub fn operations(&self) -> impl Iterator<Item = (&str, String)> {
        self.operations
            .iter()
            .map(|(m, segments, _)| (m.as_str(), segments.join("/")))
    }

    /// The operation for `method path` (no query): of the templates that
    /// match, the one with the most literal segments (`/api/cos/agents/history`
    /// before `/api/cos/agents/{id}`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        self.find(method, path).map(|i| &self.operations[i].2)
    }

    /// The index of [`operation`](Self::operation)'s answer.
    fn find(&self, method: &str, path: &str) -> Option<usize> {
        let asked: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .enumerate()
            .filter(|(_, (m, segments, _))| {
                m == method
                    && segments.len() == asked.len()
                    && segments
                        .iter()
                        .zip(&asked)
                        .all(|(t, a)| t.starts_with('{') || t == a)
            })
            .max_by_key(|(_, (_, segments, _))| {
                segments.iter().filter(|t| !t.starts_with('{')).count()
            })
            .map(|(i, _)| i)
    }

    /// The compiled schema of operation `index`'s `status` answer.
    fn validator(
        &self,
        index: usize,
        status: u16,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(&(index, status)) {
            return Ok(v.clone());
        }
        let root = serde_json::json!({ "allOf": [schema], "components": self.components });
        let v = Arc::new(jsonschema::draft202012::new(&root).map_err(|e| e.to_string())?);
        cache.insert((index, status), v.clone());
        Ok(v)
    }

    /// How the answer breaks the document: a status its operation does not
    /// list, or a JSON body that does not fit the status's schema. Paths the
    /// document does not describe are not checked.
    pub fn violation(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Option<String> {
        let path = path.split('?').next().unwrap_or(path);
        let index = self.find(method, path)?;
        let op = &self.operations[index].2;
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
        let validator = match self.validator(index, status, schema) {
            Ok(v) => v,
            Err(e) => {
                return Some(format!(
                    "{id}: the schema of {status} is not JSON Schema: {e}"
                ));
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| {
            format!(
                "{method} {path} ({id}) answered {status} with a body that breaks its schema:\n{}\nbody: {body}",
                errors.join("\n")
            )
        })
    }

    /// Panics with the [`violation`](Self::violation), if any.
    pub fn check(&self, method: &str, path: &str, status: u16, body: Option<&Value>) {
        if let Some(v) = self.violation(method, path, status, body) {
            panic!("{v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Document {
        Document::new(&json!({
            "paths": {
                "/api/things": { "get": { "operationId": "list", "responses": {
                    "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Page" } } } } } } },
                "/api/things/{id}": { "get": { "operationId": "one", "responses": { "200": {} } } },
                "/api/things/count": { "get": { "operationId": "count", "responses": { "200": {} } } }
            },
            "components": { "schemas": { "Page": {
                "type": "object", "required": ["total"], "properties": { "total": { "type": "integer" } } } } }
        }))
    }

    #[test]
    fn a_body_is_checked_against_its_schema_through_a_ref() {
        let d = doc();
        assert!(
            d.violation("GET", "/api/things", 200, Some(&json!({ "total": 1 })))
                .is_none()
        );
        let v = d.violation(
            "GET",
            "/api/things?x=1",
            200,
            Some(&json!({ "total": "1" })),
        );
        assert!(v.is_some_and(|v| v.contains("breaks its schema")));
        assert!(
            d.violation("GET", "/api/things", 200, Some(&json!({})))
                .is_some()
        );
    }

    #[test]
    fn a_status_the_operation_does_not_list_is_a_violation() {
        let v = doc().violation("GET", "/api/things/7", 404, None);
        assert!(v.is_some_and(|v| v.contains("does not list")));
    }

    #[test]
    fn the_most_literal_template_is_taken_and_unknown_paths_are_not_checked() {
        let d = doc();
        assert_eq!(
            d.operation("GET", "/api/things/count").unwrap()["operationId"],
            "count"
        );
        assert_eq!(
            d.operation("GET", "/api/things/7").unwrap()["operationId"],
            "one"
        );
        assert!(d.operation("GET", "/ws").is_none());
        assert!(d.violation("GET", "/ws", 101, None).is_none());
    }
}

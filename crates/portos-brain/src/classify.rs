//! Classification: the AI's reply read by the original's contract (the first
//! fenced block, then the first JSON object), checked against its schema, and
//! turned into a verdict — filed, review (low confidence or `unknown`), or
//! failed with the reason (also a review). Whatever the model answers, the
//! entry ends up filed or in review: never an error, never left
//! `classifying`. Also the review operations: retry, resolve, fix.

use portos_core::Refuse;
use serde_json::{Map, Value, json};

use crate::entities::{ADMIN_STATUS, Dest, PROJECT_STATUS, dest};
use crate::inbox::CLASSIFIER;
use crate::model::{Ask, Choice};
use crate::validate::{Ty, opt, req, text, validate};
use crate::{Brain, BrainError, Result};

const DESTINATIONS: &[&str] = &["people", "projects", "ideas", "admin", "unknown"];

/// What a classification attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No usable classification; why.
    Failed(String),
    /// Below the threshold, or `unknown`.
    Review(Map<String, Value>),
    File(Dest, Map<String, Value>),
}

/// The JSON object in a model's reply: inside the first fenced block if
/// there is one, from the first `{` (a complete object; text after it is
/// ignored).
pub fn parse_reply(reply: &str) -> Option<Value> {
    let t = reply.trim();
    let inner = t
        .find("```")
        .and_then(|at| {
            let rest = &t[at + 3..];
            let rest = rest.strip_prefix("json").unwrap_or(rest);
            rest.find("```").map(|end| &rest[..end])
        })
        .unwrap_or(t);
    let from = inner.find('{')?;
    let mut values = serde_json::Deserializer::from_str(&inner[from..]).into_iter::<Value>();
    match values.next() {
        Some(Ok(v @ Value::Object(_))) => Some(v),
        _ => {
            // The original's reading: first `{` to last `}`.
            let to = inner.rfind('}')?;
            serde_json::from_str(inner.get(from..=to)?).ok()
        }
    }
}

/// The classifier's output schema; the classification in its key order.
pub fn check(v: &Value) -> std::result::Result<Map<String, Value>, String> {
    let mut c = validate(
        &[
            req("destination", Ty::OneOf(DESTINATIONS)),
            req("confidence", Ty::Unit),
            req("title", Ty::Text(1, 200)),
            req("extracted", Ty::Object),
            opt("reasons", Ty::Strings(usize::MAX)),
        ],
        v,
        true,
    )
    .map_err(|e| e.to_string())?;
    let reasons = c.entry("reasons").or_insert_with(|| json!([]));
    if reasons.as_array().is_some_and(|r| r.len() > 5) {
        return Err("reasons must be at most 5".into());
    }
    Ok(c)
}

/// The verdict on a model's reply at `threshold`.
pub fn verdict(reply: std::result::Result<String, String>, threshold: f64) -> Verdict {
    let reply = match reply {
        Ok(r) if r.trim().is_empty() => {
            return Verdict::Failed("AI classification failed: the reply was empty".into());
        }
        Ok(r) => r,
        Err(e) => return Verdict::Failed(e),
    };
    let Some(v) = parse_reply(&reply) else {
        return Verdict::Failed("Could not parse AI response as JSON".into());
    };
    let c = match check(&v) {
        Ok(c) => c,
        Err(why) => {
            return Verdict::Failed(format!("Invalid classification output from AI: {why}"));
        }
    };
    let confidence = c["confidence"].as_f64().unwrap_or(0.0);
    match Dest::parse(c["destination"].as_str().unwrap_or("")) {
        Some(d) if confidence >= threshold => Verdict::File(d, c),
        _ => Verdict::Review(c),
    }
}

fn failed_classification(msg: &str) -> Value {
    json!({"destination": "unknown", "confidence": 0, "title": "Classification failed", "extracted": {}, "reasons": [msg]})
}

fn object(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// A text or the fallback.
fn or(m: &Map<String, Value>, key: &str, fallback: &str) -> Value {
    json!(text(m, key).unwrap_or(fallback))
}

fn texts(m: &Map<String, Value>, key: &str) -> Value {
    match m.get(key).and_then(Value::as_array) {
        Some(a) if a.iter().all(Value::is_string) => json!(a),
        _ => json!([]),
    }
}

fn text_or_null(m: &Map<String, Value>, key: &str) -> Value {
    text(m, key).map_or(Value::Null, |s| json!(s))
}

fn one_of(m: &Map<String, Value>, key: &str, all: &[&str], fallback: &str) -> Value {
    json!(text(m, key).filter(|s| all.contains(s)).unwrap_or(fallback))
}

/// The record the classifier files: the original's shapes and fallbacks (a
/// field of the wrong type takes its fallback instead of being stored).
fn shape(d: Dest, x: &Map<String, Value>, title: &str) -> Map<String, Value> {
    let v = match d {
        Dest::People => json!({"name": or(x, "name", title), "context": or(x, "context", ""),
            "followUps": texts(x, "followUps"), "lastTouched": text_or_null(x, "lastTouched"), "tags": texts(x, "tags")}),
        Dest::Projects => {
            json!({"name": or(x, "name", title), "status": one_of(x, "status", PROJECT_STATUS, "active"),
            "nextAction": or(x, "nextAction", "Define next action"), "notes": or(x, "notes", ""), "tags": texts(x, "tags")})
        }
        Dest::Ideas => json!({"title": or(x, "title", title), "oneLiner": or(x, "oneLiner", title),
            "notes": or(x, "notes", ""), "tags": texts(x, "tags")}),
        Dest::Admin => {
            json!({"title": or(x, "title", title), "status": one_of(x, "status", ADMIN_STATUS, "open"),
            "dueDate": text_or_null(x, "dueDate"), "nextAction": text_or_null(x, "nextAction"), "notes": or(x, "notes", "")})
        }
    };
    v.as_object().cloned().unwrap_or_default()
}

fn filed(d: Dest, record: &Value) -> Value {
    json!({"destination": d.name(), "destinationId": record["id"]})
}

/// The title a resolved or fixed entry's record falls back to: the
/// classification's, unless it failed (then the thought itself).
fn title_of(entry: &Map<String, Value>) -> String {
    let failed = entry.get("error").is_some_and(|e| !e.is_null());
    let title = entry
        .get("classification")
        .and_then(|c| c.get("title"))
        .and_then(Value::as_str);
    match (failed, title) {
        (false, Some(t)) if !t.is_empty() => t.to_string(),
        _ => entry
            .get("capturedText")
            .and_then(Value::as_str)
            .map(|t| t.chars().take(200).collect())
            .filter(|t: &String| !t.is_empty())
            .unwrap_or_else(|| "Untitled".into()),
    }
}

impl Brain {
    /// Files a record of `d` from extracted fields.
    pub(crate) async fn file(
        &self,
        d: Dest,
        extracted: &Map<String, Value>,
        title: &str,
    ) -> Result<Value> {
        self.insert_in(&d.file(), shape(d, extracted, title)).await
    }

    async fn ask_classifier(&self, text: &str, provider: &str, model: &str) -> Result<Verdict> {
        let threshold = self
            .meta()
            .await?
            .get("confidenceThreshold")
            .and_then(Value::as_f64)
            .unwrap_or(0.6);
        let mut variables = Map::new();
        variables.insert("capturedText".into(), json!(text));
        variables.insert("now".into(), json!(self.now_iso()));
        let reply = self
            .inner
            .model
            .ask(Ask {
                provider: provider.to_string(),
                model: model.to_string(),
                stage: CLASSIFIER,
                variables,
            })
            .await;
        Ok(verdict(reply, threshold))
    }

    /// Writes a verdict into entry `id`; the entry, the `brain:classified`
    /// payload and the message for the owner.
    async fn settle(&self, id: &str, v: Verdict) -> Result<(Map<String, Value>, Value, String)> {
        let mut patch = Map::new();
        let (event, message) = match v {
            Verdict::File(d, c) => {
                let extracted = object(c.get("extracted"));
                let title = c["title"].as_str().unwrap_or("Untitled").to_string();
                match self.file(d, &extracted, &title).await {
                    Ok(record) => {
                        patch.insert("status".into(), json!("filed"));
                        patch.insert("filed".into(), filed(d, &record));
                        patch.insert("classification".into(), Value::Object(c));
                        (
                            json!({"entryId": id, "status": "filed", "destination": d.name(), "title": title}),
                            format!("Successfully classified as {}", d.name()),
                        )
                    }
                    Err(e) => {
                        return Box::pin(self.settle(
                            id,
                            Verdict::Failed(format!("could not file the record: {e}")),
                        ))
                        .await;
                    }
                }
            }
            Verdict::Review(c) => {
                let confidence = c["confidence"].clone();
                let pct = (confidence.as_f64().unwrap_or(0.0) * 100.0).round();
                let message = if c["destination"] == "unknown" {
                    format!("No clear destination ({pct}% confident), needs manual review")
                } else {
                    format!("Low confidence ({pct}%), needs manual review")
                };
                patch.insert("classification".into(), Value::Object(c));
                patch.insert("status".into(), json!("needs_review"));
                (
                    json!({"entryId": id, "status": "needs_review", "confidence": confidence}),
                    message,
                )
            }
            Verdict::Failed(msg) => {
                patch.insert("classification".into(), failed_classification(&msg));
                patch.insert("status".into(), json!("needs_review"));
                patch.insert("error".into(), json!({"message": msg}));
                (
                    json!({"entryId": id, "status": "needs_review", "error": msg}),
                    "Classification failed, needs manual review".to_string(),
                )
            }
        };
        let entry = self.patch_entry(id, patch).await?;
        Ok((entry, event, message))
    }

    pub(crate) async fn classify_in_background(
        &self,
        id: &str,
        text: &str,
        provider: &str,
        model: &str,
    ) {
        let done = async {
            let v = self.ask_classifier(text, provider, model).await?;
            let (_, event, _) = self.settle(id, v).await?;
            self.broadcast("brain:classified", event);
            Ok::<(), BrainError>(())
        };
        if let Err(e) = done.await {
            tracing::warn!(entry = id, "classification not recorded: {e}");
        }
    }

    /// `POST /inbox/:id/retry`: classified again now, on the given or the
    /// configured provider; `{inboxLog, message}`.
    pub async fn retry(&self, id: &str, body: &Value) -> Result<Value> {
        let entry = self.entry(id).await?;
        let (provider, model) = self.ai_for(&Choice::of(body)?).await?;
        let mut patch = Map::new();
        patch.insert(
            "ai".into(),
            json!({"providerId": provider, "modelId": model, "promptTemplateId": CLASSIFIER}),
        );
        patch.insert("status".into(), json!("needs_review"));
        patch.insert("error".into(), Value::Null);
        self.patch_entry(id, patch).await?;
        let text = entry
            .get("capturedText")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let v = self.ask_classifier(text, &provider, &model).await?;
        let (entry, event, message) = self.settle(id, v).await?;
        self.broadcast("brain:classified", event);
        Ok(json!({"inboxLog": entry, "message": message}))
    }

    /// `POST /review/resolve`: a `needs_review` entry filed where the owner
    /// says; `{inboxLog, filedRecord}`.
    pub async fn resolve(&self, body: &Value) -> Result<Value> {
        let input = validate(
            &[
                req("inboxLogId", Ty::Text(1, 100)),
                req("destination", Ty::Text(1, 20)),
                opt("editedExtracted", Ty::Object),
            ],
            body,
            true,
        )?;
        let (id, d) = (
            uuid_field(&input, "inboxLogId")?,
            dest(input["destination"].as_str().unwrap_or(""))?,
        );
        let entry = self.entry(&id).await?;
        if entry.get("status").and_then(Value::as_str) != Some("needs_review") {
            return Err(BrainError::conflict(
                "NOT_IN_REVIEW",
                "Inbox entry is not in needs_review status",
            ));
        }
        let mut c = object(entry.get("classification"));
        let mut extracted = object(c.get("extracted"));
        extracted.extend(object(input.get("editedExtracted")));
        let record = self.file(d, &extracted, &title_of(&entry)).await?;
        let mut reasons = c
            .get("reasons")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        reasons.push(json!("Manually resolved"));
        c.insert("destination".into(), json!(d.name()));
        c.insert("extracted".into(), Value::Object(extracted));
        c.insert("confidence".into(), json!(1));
        c.insert("reasons".into(), json!(reasons));
        let mut patch = Map::new();
        patch.insert("classification".into(), Value::Object(c));
        patch.insert("status".into(), json!("filed"));
        patch.insert("filed".into(), filed(d, &record));
        let entry = self.patch_entry(&id, patch).await?;
        Ok(json!({"inboxLog": entry, "filedRecord": record}))
    }

    /// `POST /fix`: a filed entry moved to another destination, its old
    /// record archived; `{inboxLog, newRecord}`.
    pub async fn fix(&self, body: &Value) -> Result<Value> {
        let input = validate(
            &[
                req("inboxLogId", Ty::Text(1, 100)),
                req("newDestination", Ty::Text(1, 20)),
                opt("updatedFields", Ty::Object),
                opt("note", Ty::Text(0, 500)),
            ],
            body,
            true,
        )?;
        let (id, d) = (
            uuid_field(&input, "inboxLogId")?,
            dest(input["newDestination"].as_str().unwrap_or(""))?,
        );
        let entry = self.entry(&id).await?;
        if !matches!(
            entry.get("status").and_then(Value::as_str),
            Some("filed" | "corrected")
        ) {
            return Err(BrainError::conflict(
                "NOT_FILED",
                "Can only fix filed or previously corrected entries",
            ));
        }
        let was = object(entry.get("filed"));
        let c = object(entry.get("classification"));
        let previous = text(&was, "destination")
            .or_else(|| text(&c, "destination"))
            .map(str::to_string);
        // `recordId`: what the original's retry wrote instead of `destinationId`.
        let previous_id = text(&was, "destinationId")
            .or_else(|| text(&was, "recordId"))
            .map(str::to_string);
        let mut extracted = object(c.get("extracted"));
        extracted.extend(object(input.get("updatedFields")));
        let record = self.file(d, &extracted, &title_of(&entry)).await?;
        if let (Some(p), Some(pid)) = (previous.as_deref().and_then(Dest::parse), previous_id) {
            self.archive(p, &pid).await?;
        }
        let mut correction = Map::new();
        correction.insert("correctedAt".into(), json!(self.now_iso()));
        correction.insert(
            "previousDestination".into(),
            json!(previous.as_deref().unwrap_or("unknown")),
        );
        correction.insert("newDestination".into(), json!(d.name()));
        if let Some(note) = input.get("note") {
            correction.insert("note".into(), note.clone());
        }
        let mut patch = Map::new();
        patch.insert("status".into(), json!("corrected"));
        patch.insert("filed".into(), filed(d, &record));
        patch.insert("correction".into(), Value::Object(correction));
        let entry = self.patch_entry(&id, patch).await?;
        Ok(json!({"inboxLog": entry, "newRecord": record}))
    }
}

fn uuid_field(input: &Map<String, Value>, key: &str) -> Result<String> {
    let s = input.get(key).and_then(Value::as_str).unwrap_or_default();
    uuid::Uuid::parse_str(s)
        .map(|_| s.to_string())
        .map_err(|_| BrainError::validation(format!("{key} {s:?} must be a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_the_original_reads_them() {
        let fenced = "Sure!\n```json\n{\"destination\": \"ideas\", \"confidence\": 0.9, \"title\": \"T\", \"extracted\": {}}\n```\nDone {";
        assert_eq!(parse_reply(fenced).unwrap()["destination"], "ideas");
        let trailing = "{\"destination\":\"admin\",\"confidence\":0.7,\"title\":\"x\",\"extracted\":{}} and then {braces}";
        assert_eq!(parse_reply(trailing).unwrap()["destination"], "admin");
        assert_eq!(parse_reply("no json here"), None);
        assert_eq!(parse_reply("{\"unterminated\": "), None);
    }

    #[test]
    fn every_reply_has_a_verdict() {
        let ok = |s: &str| verdict(Ok(s.to_string()), 0.6);
        assert!(matches!(ok(""), Verdict::Failed(_)));
        assert_eq!(
            ok("I think it is a person"),
            Verdict::Failed("Could not parse AI response as JSON".into())
        );
        let Verdict::Failed(why) =
            ok("{\"destination\":\"pets\",\"confidence\":0.9,\"title\":\"x\",\"extracted\":{}}")
        else {
            panic!()
        };
        assert!(
            why.starts_with("Invalid classification output from AI: destination"),
            "{why}"
        );
        assert!(matches!(
            ok(
                "{\"destination\":\"ideas\",\"confidence\":\"high\",\"title\":\"x\",\"extracted\":{}}"
            ),
            Verdict::Failed(_)
        ));
        let low =
            ok("{\"destination\":\"ideas\",\"confidence\":0.59,\"title\":\"x\",\"extracted\":{}}");
        assert!(matches!(low, Verdict::Review(_)));
        let unknown = ok(
            "{\"destination\":\"unknown\",\"confidence\":0.95,\"title\":\"x\",\"extracted\":{}}",
        );
        assert!(
            matches!(unknown, Verdict::Review(_)),
            "a confident unknown is a review, not an error"
        );
        let Verdict::File(d, c) = ok(
            "{\"reasons\":[\"r\"],\"destination\":\"people\",\"confidence\":0.6,\"title\":\"x\",\"extracted\":{\"name\":\"Dana\"},\"extra\":1}",
        ) else {
            panic!()
        };
        assert_eq!(d, Dest::People);
        assert_eq!(
            Value::Object(c),
            json!({"destination":"people","confidence":0.6,"title":"x","extracted":{"name":"Dana"},"reasons":["r"]})
        );
        assert_eq!(
            verdict(Err("No AI provider available".into()), 0.6),
            Verdict::Failed("No AI provider available".into())
        );
    }

    #[test]
    fn filed_shapes_take_fallbacks_for_missing_or_wrong_fields() {
        let x = json!({"name": 7, "status": "paused", "tags": "one"});
        let r = shape(Dest::Projects, x.as_object().unwrap(), "Title");
        assert_eq!(
            Value::Object(r),
            json!({"name":"Title","status":"active","nextAction":"Define next action","notes":"","tags":[]})
        );
        let r = shape(Dest::Ideas, &Map::new(), "T");
        assert_eq!(
            Value::Object(r),
            json!({"title":"T","oneLiner":"T","notes":"","tags":[]}),
            "no status key, as the original"
        );
    }
}

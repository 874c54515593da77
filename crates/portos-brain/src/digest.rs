//! The daily digest and the weekly review: the period's records given to the
//! AI through their prompt stages, the reply checked against the original's
//! output schemas, stored as the original stores them (`digests.jsonl`,
//! `reviews.jsonl`, `meta.json`'s `last*`). One run of a job at a time;
//! `brain:digest:*` and `brain:review:*` events say when one starts and how
//! it ended.

use chrono::Duration;
use portos_core::{Kind, Problem, Refuse};
use serde_json::{Map, Value, json};

use crate::classify::parse_reply;
use crate::entities::Dest;
use crate::files::{DIGESTS, INBOX, REVIEWS};
use crate::inbox::newest_first;
use crate::model::{Ask, Choice};
use crate::{Brain, BrainError, Result};

/// A scheduled piece of writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    DailyDigest,
    WeeklyReview,
}

#[derive(Debug, Clone, Copy)]
enum Out {
    Text,
    /// A list of texts, at most this many kept.
    List(usize),
}

impl Job {
    pub const ALL: [Job; 2] = [Job::DailyDigest, Job::WeeklyReview];

    /// `daily-digest`, `weekly-review`.
    pub fn name(self) -> &'static str {
        match self {
            Job::DailyDigest => "daily-digest",
            Job::WeeklyReview => "weekly-review",
        }
    }

    /// What it is called in events (`brain:digest:completed`) and messages.
    pub fn short(self) -> &'static str {
        match self {
            Job::DailyDigest => "digest",
            Job::WeeklyReview => "review",
        }
    }

    pub fn stage(self) -> &'static str {
        match self {
            Job::DailyDigest => "brain-daily-digest",
            Job::WeeklyReview => "brain-weekly-review",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Job::DailyDigest => DIGESTS,
            Job::WeeklyReview => REVIEWS,
        }
    }

    /// The settings key holding when it last ran.
    pub fn meta_key(self) -> &'static str {
        match self {
            Job::DailyDigest => "lastDailyDigest",
            Job::WeeklyReview => "lastWeeklyReview",
        }
    }

    /// The output schema in the original's key order; the first is the text
    /// cut to `words()`.
    fn outputs(self) -> &'static [(&'static str, Out)] {
        match self {
            Job::DailyDigest => &[
                ("digestText", Out::Text),
                ("topActions", Out::List(3)),
                ("stuckThing", Out::Text),
                ("smallWin", Out::Text),
            ],
            Job::WeeklyReview => &[
                ("reviewText", Out::Text),
                ("whatHappened", Out::List(5)),
                ("biggestOpenLoops", Out::List(3)),
                ("suggestedActionsNextWeek", Out::List(3)),
                ("recurringTheme", Out::Text),
            ],
        }
    }

    fn words(self) -> usize {
        match self {
            Job::DailyDigest => 150,
            Job::WeeklyReview => 250,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// At most `n` words; more are cut and marked with `...`.
fn cut(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > n {
        format!("{}...", words[..n].join(" "))
    } else {
        text.to_string()
    }
}

/// The reply as the job's output, or why not.
fn output(job: Job, reply: &str) -> std::result::Result<Map<String, Value>, String> {
    let v = parse_reply(reply).ok_or("Could not parse AI response as JSON")?;
    let mut out = Map::new();
    for (i, (key, kind)) in job.outputs().iter().enumerate() {
        let bad = |what: &str| format!("Invalid {} output: {key} must be {what}", job.short());
        let value = match (kind, &v[*key]) {
            (Out::Text, Value::String(s)) if i == 0 => json!(cut(s, job.words())),
            (Out::Text, Value::String(s)) => json!(s),
            (Out::Text, _) => return Err(bad("a text")),
            (Out::List(max), Value::Array(a)) if a.iter().all(Value::is_string) => {
                json!(a.iter().take(*max).collect::<Vec<_>>())
            }
            (Out::List(_), _) => return Err(bad("a list of texts")),
        };
        out.insert((*key).to_string(), value);
    }
    Ok(out)
}

fn not_archived(r: &Value) -> bool {
    r.get("archived") != Some(&Value::Bool(true))
}

impl Brain {
    /// `POST /digest/run`, `POST /review/run`: the stored record, or 409
    /// while a run of the job is going.
    pub async fn run_job(&self, job: Job, body: &Value) -> Result<Value> {
        let choice = Choice::of(body)?;
        let Ok(_running) = self.inner.jobs[job.index()].try_lock() else {
            return Err(BrainError::conflict(
                "JOB_RUNNING",
                format!(
                    "A {} is already being written",
                    job.name().replace('-', " ")
                ),
            ));
        };
        self.generate(job, &choice, "manual").await
    }

    /// Writes one `job` now; the caller holds the job's lock.
    pub(crate) async fn generate(&self, job: Job, choice: &Choice, trigger: &str) -> Result<Value> {
        self.broadcast(
            &format!("brain:{}:started", job.short()),
            json!({"job": job.name(), "trigger": trigger}),
        );
        let done = self.write(job, choice).await;
        match &done {
            Ok(r) => self.broadcast(
                &format!("brain:{}:completed", job.short()),
                json!({"job": job.name(), "trigger": trigger, "id": r["id"]}),
            ),
            Err(e) => self.broadcast(
                &format!("brain:{}:failed", job.short()),
                json!({"job": job.name(), "trigger": trigger, "error": e.to_string()}),
            ),
        }
        done
    }

    async fn write(&self, job: Job, choice: &Choice) -> Result<Value> {
        let (provider, model) = self.ai_for(choice).await?;
        let variables = self.inputs(job).await?;
        let reply = self
            .inner
            .model
            .ask(Ask {
                provider: provider.clone(),
                model: model.clone(),
                stage: job.stage(),
                variables,
            })
            .await
            .map_err(|e| {
                let kind = if e == "No AI provider available" {
                    Kind::Unprocessable
                } else {
                    Kind::BadGateway
                };
                BrainError::from(Problem::new(kind, "AI_ERROR", e))
            })?;
        let mut record = Map::new();
        record.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        record.extend(output(job, &reply).map_err(|e| {
            BrainError::from(Problem::new(Kind::BadGateway, "AI_OUTPUT_INVALID", e))
        })?);
        record.insert(
            "ai".into(),
            json!({"providerId": provider, "modelId": model, "promptTemplateId": job.stage()}),
        );
        let at = self.now_iso();
        record.insert("generatedAt".into(), json!(at));
        self.append(job.file(), &record).await?;
        self.update_meta(|m| {
            m.insert(job.meta_key().into(), json!(at));
            Ok(())
        })
        .await?;
        Ok(Value::Object(record))
    }

    /// The stage's values: the period's records, each as a JSON text.
    async fn inputs(&self, job: Job) -> Result<Map<String, Value>> {
        let active_projects: Vec<Value> = self
            .list(Dest::Projects, Some("active"))
            .await?
            .into_iter()
            .filter(not_archived)
            .collect();
        let mut inbox = self.log(INBOX).await?;
        newest_first(&mut inbox);
        let now = self.now();
        let mut vars = Map::new();
        match job {
            Job::DailyDigest => {
                let open_admin: Vec<Value> = self
                    .list(Dest::Admin, Some("open"))
                    .await?
                    .into_iter()
                    .filter(not_archived)
                    .collect();
                let follow_ups: Vec<Value> = self
                    .list(Dest::People, None)
                    .await?
                    .into_iter()
                    .filter(|p| {
                        not_archived(p) && p["followUps"].as_array().is_some_and(|f| !f.is_empty())
                    })
                    .collect();
                let review: Vec<_> = inbox
                    .iter()
                    .filter(|e| e.get("status").and_then(Value::as_str) == Some("needs_review"))
                    .take(50)
                    .collect();
                vars.insert("activeProjects".into(), as_text(&active_projects));
                vars.insert("openAdmin".into(), as_text(&open_admin));
                vars.insert("peopleFollowUps".into(), as_text(&follow_ups));
                vars.insert("needsReview".into(), as_text(&review));
            }
            Job::WeeklyReview => {
                let since = crate::iso(now - Duration::days(7));
                let week: Vec<_> = inbox
                    .iter()
                    .take(500)
                    .filter(|e| {
                        e.get("capturedAt")
                            .and_then(Value::as_str)
                            .is_some_and(|at| at >= since.as_str())
                    })
                    .collect();
                vars.insert("inboxLogLast7Days".into(), as_text(&week));
                vars.insert("activeProjects".into(), as_text(&active_projects));
            }
        }
        vars.insert("now".into(), json!(crate::iso(now)));
        Ok(vars)
    }

    /// `GET /digest/latest`, `/review/latest`: the newest, or `null`.
    pub async fn latest(&self, job: Job) -> Result<Value> {
        Ok(self
            .history(job, 1)
            .await?
            .into_iter()
            .next()
            .unwrap_or(Value::Null))
    }

    /// `GET /digests`, `/reviews`: the newest `limit`, newest first.
    pub async fn history(&self, job: Job, limit: usize) -> Result<Vec<Value>> {
        let mut all = self.log(job.file()).await?;
        all.sort_by(|a, b| {
            let at = |m: &Map<String, Value>| {
                m.get("generatedAt")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            at(b).cmp(&at(a))
        });
        Ok(all.into_iter().take(limit).map(Value::Object).collect())
    }
}

/// A value handed to a template: as JSON text.
fn as_text<T: serde::Serialize>(v: &T) -> Value {
    Value::String(serde_json::to_string(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_follow_the_schema_and_long_texts_are_cut() {
        let long = vec!["w"; 200].join(" ");
        let reply = format!(
            "```json\n{{\"smallWin\":\"s\",\"digestText\":\"{long}\",\"topActions\":[\"a\",\"b\",\"c\",\"d\"],\"stuckThing\":\"x\",\"extra\":1}}\n```"
        );
        let out = output(Job::DailyDigest, &reply).unwrap();
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            ["digestText", "topActions", "stuckThing", "smallWin"]
        );
        let text = out["digestText"].as_str().unwrap();
        assert!(text.ends_with("...") && text.split_whitespace().count() == 150);
        assert_eq!(out["topActions"], json!(["a", "b", "c"]));
        let e = output(Job::WeeklyReview, "{\"reviewText\": 3}").unwrap_err();
        assert_eq!(e, "Invalid review output: reviewText must be a text");
        assert_eq!(
            output(Job::DailyDigest, "nothing").unwrap_err(),
            "Could not parse AI response as JSON"
        );
    }
}

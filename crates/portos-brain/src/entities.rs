//! The four kinds of records a thought is filed as — people, projects, ideas,
//! admin — with the original's input schemas, and the record operations the
//! links share: list (file order), get, create, update (`createdAt` kept,
//! `updatedAt` new), delete.

use portos_core::Refuse;
use serde_json::{Map, Value, json};

use crate::files::{Records, flat};
use crate::validate::{Field, Ty, dflt, opt, req, validate};
use crate::{Brain, BrainError, Result};

pub const PROJECT_STATUS: &[&str] = &["active", "waiting", "blocked", "someday", "done"];
pub const IDEA_STATUS: &[&str] = &["active", "done"];
pub const ADMIN_STATUS: &[&str] = &["open", "waiting", "done"];

/// Where a thought can be filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    People,
    Projects,
    Ideas,
    Admin,
}

const TAGS: Field = opt("tags", Ty::Strings(50));

const PEOPLE: &[Field] = &[
    req("name", Ty::Text(1, 200)),
    opt("context", Ty::Text(0, 2000)),
    opt("followUps", Ty::Strings(500)),
    opt("lastTouched", Ty::Instant),
    TAGS,
];
const PROJECTS: &[Field] = &[
    req("name", Ty::Text(1, 200)),
    dflt("status", Ty::OneOf(PROJECT_STATUS), "active"),
    req("nextAction", Ty::Text(1, 500)),
    opt("notes", Ty::Text(0, 5000)),
    TAGS,
];
const IDEAS: &[Field] = &[
    req("title", Ty::Text(1, 200)),
    dflt("status", Ty::OneOf(IDEA_STATUS), "active"),
    req("oneLiner", Ty::Text(1, 500)),
    opt("notes", Ty::Text(0, 5000)),
    TAGS,
];
const ADMIN: &[Field] = &[
    req("title", Ty::Text(1, 200)),
    dflt("status", Ty::OneOf(ADMIN_STATUS), "open"),
    opt("dueDate", Ty::Instant),
    opt("nextAction", Ty::Text(0, 500)),
    opt("notes", Ty::Text(0, 5000)),
];

impl Dest {
    pub const ALL: [Dest; 4] = [Dest::People, Dest::Projects, Dest::Ideas, Dest::Admin];

    /// `people`, as paths, files and classifications name it.
    pub fn name(self) -> &'static str {
        match self {
            Dest::People => "people",
            Dest::Projects => "projects",
            Dest::Ideas => "ideas",
            Dest::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Dest> {
        Dest::ALL.into_iter().find(|d| d.name() == s)
    }

    pub(crate) fn file(self) -> String {
        format!("brain/{}.json", self.name())
    }

    /// The original's 404 text.
    pub(crate) fn missing(self) -> &'static str {
        match self {
            Dest::People => "Person not found",
            Dest::Projects => "Project not found",
            Dest::Ideas => "Idea not found",
            Dest::Admin => "Admin item not found",
        }
    }

    fn schema(self) -> &'static [Field] {
        match self {
            Dest::People => PEOPLE,
            Dest::Projects => PROJECTS,
            Dest::Ideas => IDEAS,
            Dest::Admin => ADMIN,
        }
    }
}

/// A destination named by a request (`people`, …), or 400.
pub fn dest(s: &str) -> Result<Dest> {
    Dest::parse(s).ok_or_else(|| {
        BrainError::validation(format!(
            "destination {s:?} must be one of people, projects, ideas, admin"
        ))
    })
}

impl Brain {
    /// The records of `d` in file order; `status` matches exactly.
    pub async fn list(&self, d: Dest, status: Option<&str>) -> Result<Vec<Value>> {
        let all = self.list_in(&d.file()).await?;
        Ok(all
            .into_iter()
            .filter(|r| status.is_none_or(|s| r["status"] == s))
            .collect())
    }

    pub async fn get(&self, d: Dest, id: &str) -> Result<Value> {
        self.get_in(&d.file(), id, d.missing()).await
    }

    pub async fn create(&self, d: Dest, body: &Value) -> Result<Value> {
        let fields = validate(d.schema(), body, true)?;
        self.insert_in(&d.file(), fields).await
    }

    pub async fn update(&self, d: Dest, id: &str, body: &Value) -> Result<Value> {
        let fields = validate(d.schema(), body, false)?;
        self.patch_in(&d.file(), id, fields, d.missing()).await
    }

    pub async fn delete(&self, d: Dest, id: &str) -> Result<()> {
        self.delete_in(&d.file(), id, d.missing()).await
    }

    /// Marks a record `archived` (a fixed classification's old record);
    /// nothing is written when it is gone.
    pub(crate) async fn archive(&self, d: Dest, id: &str) -> Result<()> {
        let now = self.now_iso();
        let done = self
            .update_records(&d.file(), |records| {
                let r = records
                    .get_mut(id)
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| BrainError::not_found(d.missing()))?;
                r.insert("archived".into(), json!(true));
                r.insert("updatedAt".into(), json!(now));
                Ok(())
            })
            .await;
        match done {
            Err(BrainError::Problem(p)) if p.kind == portos_core::Kind::NotFound => Ok(()),
            other => other,
        }
    }

    pub(crate) async fn list_in(&self, rel: &str) -> Result<Vec<Value>> {
        let Records { records, .. } = self.records(rel).await?;
        Ok(records.iter().map(|(id, r)| flat(id, r)).collect())
    }

    pub(crate) async fn get_in(&self, rel: &str, id: &str, missing: &str) -> Result<Value> {
        let Records { records, .. } = self.records(rel).await?;
        records
            .get(id)
            .map(|r| flat(id, r))
            .ok_or_else(|| BrainError::not_found(missing))
    }

    /// A new record of `fields` with its times; answered flat.
    pub(crate) async fn insert_in(
        &self,
        rel: &str,
        mut fields: Map<String, Value>,
    ) -> Result<Value> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now_iso();
        fields.insert("createdAt".into(), json!(now));
        fields.insert("updatedAt".into(), json!(now));
        let record = Value::Object(fields);
        let answer = flat(&id, &record);
        self.update_records(rel, |records| {
            records.insert(id, record);
            Ok(())
        })
        .await?;
        Ok(answer)
    }

    /// `fields` over the record `id` (its `createdAt` kept); answered flat.
    pub(crate) async fn patch_in(
        &self,
        rel: &str,
        id: &str,
        fields: Map<String, Value>,
        missing: &str,
    ) -> Result<Value> {
        let now = self.now_iso();
        self.update_records(rel, |records| {
            let r = records
                .get_mut(id)
                .and_then(Value::as_object_mut)
                .ok_or_else(|| BrainError::not_found(missing))?;
            for (k, v) in fields {
                if k != "createdAt" && k != "id" {
                    r.insert(k, v);
                }
            }
            r.insert("updatedAt".into(), json!(now));
            Ok(flat(id, &Value::Object(r.clone())))
        })
        .await
    }

    pub(crate) async fn delete_in(&self, rel: &str, id: &str, missing: &str) -> Result<()> {
        self.update_records(rel, |records| {
            records
                .shift_remove(id)
                .map(|_| ())
                .ok_or_else(|| BrainError::not_found(missing))
        })
        .await
    }
}

//! `data/usage.json`: AI usage counted as the original counts it — a session
//! when a run is created, messages and tokens when it succeeds — per provider,
//! model, UTC day and local hour. Fields the original wrote are kept.

use serde_json::{Map, Value, json};

use crate::Ai;

const USAGE: &str = "usage.json";

fn bump(v: &mut Value, key: &str, by: u64) {
    let n = v[key].as_u64().unwrap_or(0);
    v[key] = json!(n + by);
}

/// `v[key]`, made an object (an entry of another type is replaced).
fn object<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v[key].is_object() {
        v[key] = json!({});
    }
    &mut v[key]
}

fn today_and_hour() -> (String, usize) {
    let now = humantime::format_rfc3339(std::time::SystemTime::now()).to_string();
    let day = now.get(..10).unwrap_or_default().to_string();
    let hour = now.get(11..13).and_then(|h| h.parse().ok()).unwrap_or(0);
    (day, hour)
}

/// A run was created on `provider` (`model` when known).
pub async fn record_session(ai: &Ai, provider: &str, provider_name: &str, model: Option<&str>) {
    let (day, hour) = today_and_hour();
    let result = ai
        .store
        .update(USAGE, |u: &mut Map<String, Value>| {
            let mut v = Value::Object(std::mem::take(u));
            bump(&mut v, "totalSessions", 1);
            let p = &mut object(&mut v, "byProvider")[provider];
            if !p.is_object() {
                *p = json!({ "name": provider_name, "sessions": 0, "messages": 0, "tokens": 0 });
            }
            bump(p, "sessions", 1);
            if let Some(m) = model {
                let e = &mut object(&mut v, "byModel")[m];
                if !e.is_object() {
                    *e = json!({ "sessions": 0, "messages": 0, "tokens": 0 });
                }
                bump(e, "sessions", 1);
            }
            let d = &mut object(&mut v, "dailyActivity")[&day];
            if !d.is_object() {
                *d = json!({ "sessions": 0, "messages": 0, "tokens": 0 });
            }
            bump(d, "sessions", 1);
            if v["hourlyActivity"].as_array().is_none_or(|a| a.len() != 24) {
                v["hourlyActivity"] = json!(vec![0; 24]);
            }
            if let Some(h) = v["hourlyActivity"].get_mut(hour) {
                *h = json!(h.as_u64().unwrap_or(0) + 1);
            }
            v["lastUpdated"] = json!(portos_core::time::now_iso());
            *u = v.as_object().cloned().unwrap_or_default();
            Ok::<(), ()>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("usage.json: {e}");
    }
}

/// A run succeeded with `tokens` of output.
pub async fn record_messages(ai: &Ai, provider: &str, model: Option<&str>, tokens: u64) {
    let (day, _) = today_and_hour();
    let result = ai
        .store
        .update(USAGE, |u: &mut Map<String, Value>| {
            let mut v = Value::Object(std::mem::take(u));
            bump(&mut v, "totalMessages", 1);
            bump(object(&mut v, "totalTokens"), "output", tokens);
            let mut entries = vec![
                format!("/byProvider/{}", escape(provider)),
                format!("/dailyActivity/{day}"),
            ];
            if let Some(m) = model {
                entries.push(format!("/byModel/{}", escape(m)));
            }
            for e in entries {
                if let Some(x) = v.pointer_mut(&e).filter(|x| x.is_object()) {
                    bump(x, "messages", 1);
                    bump(x, "tokens", tokens);
                }
            }
            v["lastUpdated"] = json!(portos_core::time::now_iso());
            *u = v.as_object().cloned().unwrap_or_default();
            Ok::<(), ()>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("usage.json: {e}");
    }
}

/// A JSON pointer token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

//! `data/usage.json`: AI usage counted as the original counts it — a session
//! when a run is created, messages and tokens when it succeeds — per provider,
//! model, UTC day and local hour. Fields the original wrote are kept.

use portos_store::StoreError;
use serde_json::{Map, Value, json};

use crate::Ai;

const USAGE: &str = "usage.json";

/// Adds `by` to the count at `key`, stopping at `u64::MAX` (a client may
/// send any count; the original's numbers went on in floating point).
fn bump(v: &mut Value, key: &str, by: u64) {
    let n = v[key].as_u64().unwrap_or(0);
    v[key] = json!(n.saturating_add(by));
}

/// `v[key]`, made an object (an entry of another type is replaced).
fn object<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v[key].is_object() {
        v[key] = json!({});
    }
    &mut v[key]
}

/// Today's UTC date and the UTC hour.
fn today_and_hour() -> (String, usize) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    (now.format("%Y-%m-%d").to_string(), now.hour() as usize)
}

/// A run was created on `provider` (`model` when known).
pub async fn record_session(ai: &Ai, provider: &str, provider_name: &str, model: Option<&str>) {
    if let Err(e) = session(ai, provider, provider_name, model).await {
        tracing::warn!("usage.json: {e}");
    }
}

/// A run succeeded with `tokens` of output.
pub async fn record_messages(ai: &Ai, provider: &str, model: Option<&str>, tokens: u64) {
    if let Err(e) = messages(ai, provider, model, 1, tokens).await {
        tracing::warn!("usage.json: {e}");
    }
}

/// Counts a session (the original's `POST /api/usage/session`); the new total.
pub async fn session(
    ai: &Ai,
    provider: &str,
    provider_name: &str,
    model: Option<&str>,
) -> Result<u64, StoreError> {
    let (day, hour) = today_and_hour();
    ai.store
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
            // Ours, beside the original's day totals: the day per provider.
            let per = &mut object(d, "byProvider")[provider];
            if !per.is_object() {
                *per = json!({ "sessions": 0, "messages": 0, "tokens": 0 });
            }
            bump(per, "sessions", 1);
            if v["hourlyActivity"].as_array().is_none_or(|a| a.len() != 24) {
                v["hourlyActivity"] = json!(vec![0; 24]);
            }
            if let Some(h) = v["hourlyActivity"].get_mut(hour) {
                *h = json!(h.as_u64().unwrap_or(0).saturating_add(1));
            }
            v["lastUpdated"] = json!(portos_core::time::now_iso());
            let total = v["totalSessions"].as_u64().unwrap_or(0);
            *u = v.as_object().cloned().unwrap_or_default();
            Ok::<u64, std::convert::Infallible>(total)
        })
        .await
        .map(|r| r.unwrap_or_else(|e| match e {}))
}

/// Counts `count` messages with `tokens` of output on `provider` (and `model`).
pub async fn messages(
    ai: &Ai,
    provider: &str,
    model: Option<&str>,
    count: u64,
    tokens: u64,
) -> Result<(), StoreError> {
    let (day, _) = today_and_hour();
    ai.store
        .update(USAGE, |u: &mut Map<String, Value>| {
            let mut v = Value::Object(std::mem::take(u));
            bump(&mut v, "totalMessages", count);
            bump(object(&mut v, "totalTokens"), "output", tokens);
            let mut entries = vec![
                format!("/byProvider/{}", escape(provider)),
                format!("/dailyActivity/{day}"),
                format!("/dailyActivity/{day}/byProvider/{}", escape(provider)),
            ];
            if let Some(m) = model {
                entries.push(format!("/byModel/{}", escape(m)));
            }
            for e in entries {
                if let Some(x) = v.pointer_mut(&e).filter(|x| x.is_object()) {
                    bump(x, "messages", count);
                    bump(x, "tokens", tokens);
                }
            }
            v["lastUpdated"] = json!(portos_core::time::now_iso());
            *u = v.as_object().cloned().unwrap_or_default();
            Ok::<(), std::convert::Infallible>(())
        })
        .await
        .map(|r| r.unwrap_or_else(|e| match e {}))
}

/// Adds input and output tokens (the original's `POST /api/usage/tokens`).
pub async fn tokens(ai: &Ai, input: u64, output: u64) -> Result<(), StoreError> {
    ai.store
        .update(USAGE, |u: &mut Map<String, Value>| {
            let mut v = Value::Object(std::mem::take(u));
            let t = object(&mut v, "totalTokens");
            bump(t, "input", input);
            bump(t, "output", output);
            v["lastUpdated"] = json!(portos_core::time::now_iso());
            *u = v.as_object().cloned().unwrap_or_default();
            Ok::<(), std::convert::Infallible>(())
        })
        .await
        .map(|r| r.unwrap_or_else(|e| match e {}))
}

/// The original's empty structure.
fn empty() -> Value {
    json!({
        "totalSessions": 0, "totalMessages": 0, "totalToolCalls": 0,
        "totalTokens": { "input": 0, "output": 0 },
        "byProvider": {}, "byModel": {}, "dailyActivity": {},
        "hourlyActivity": vec![0; 24], "lastUpdated": Value::Null,
    })
}

/// The file as it is (`GET /api/usage/raw`): the empty structure when missing.
pub async fn raw(ai: &Ai) -> Result<Value, StoreError> {
    Ok(ai
        .store
        .load_opt::<Value>(USAGE)
        .await?
        .unwrap_or_else(empty))
}

/// Starts over (`DELETE /api/usage`).
pub async fn reset(ai: &Ai) -> Result<(), StoreError> {
    let mut v = empty();
    v["lastUpdated"] = json!(portos_core::time::now_iso());
    ai.store.save(USAGE, &v).await
}

/// The last `days` UTC days, oldest first, each with its sessions, messages
/// and tokens per provider (`GET /api/usage/daily`, ours): `[{ date, byProvider }]`.
pub async fn daily(ai: &Ai, days: u64) -> Result<Value, StoreError> {
    let u = raw(ai).await?;
    let today = chrono::Utc::now().date_naive();
    Ok(Value::Array(
        (0..days)
            .rev()
            .map(|i| {
                let date = (today - chrono::Days::new(i))
                    .format("%Y-%m-%d")
                    .to_string();
                let per = u["dailyActivity"][&date]["byProvider"].clone();
                json!({ "date": date, "byProvider": if per.is_object() { per } else { json!({}) } })
            })
            .collect(),
    ))
}

/// The original's summary of `GET /api/usage`.
pub async fn summary(ai: &Ai) -> Result<Value, StoreError> {
    Ok(summarize(&raw(ai).await?, chrono::Utc::now().date_naive()))
}

fn summarize(u: &Value, today: chrono::NaiveDate) -> Value {
    use chrono::Datelike;
    let daily = u["dailyActivity"].as_object().cloned().unwrap_or_default();
    let sessions_on = |d: chrono::NaiveDate| {
        daily
            .get(&d.format("%Y-%m-%d").to_string())
            .and_then(|x| x["sessions"].as_u64())
            .unwrap_or(0)
    };
    let last7: Vec<Value> = (0..7)
        .rev()
        .map(|i| {
            let d = today - chrono::Days::new(i);
            let key = d.format("%Y-%m-%d").to_string();
            let day = daily.get(&key).cloned().unwrap_or_else(|| json!({}));
            let n = |k: &str| day[k].as_u64().unwrap_or(0);
            json!({ "date": key, "label": d.weekday().to_string(), "sessions": n("sessions"), "messages": n("messages"), "tokens": n("tokens") })
        })
        .collect();
    // Today, or (while today has none yet) yesterday, backwards.
    let mut day = today;
    if sessions_on(day) == 0 {
        day = today - chrono::Days::new(1);
    }
    let mut current = 0;
    while sessions_on(day) > 0 {
        current += 1;
        day = day - chrono::Days::new(1);
    }
    let mut active: Vec<chrono::NaiveDate> = daily
        .iter()
        .filter(|(_, v)| v["sessions"].as_u64().unwrap_or(0) > 0)
        .filter_map(|(k, _)| chrono::NaiveDate::parse_from_str(k, "%Y-%m-%d").ok())
        .collect();
    active.sort();
    let (mut longest, mut run) = (0, 0);
    for (i, d) in active.iter().enumerate() {
        run = if i > 0 && *d - active[i - 1] == chrono::TimeDelta::days(1) {
            run + 1
        } else {
            1
        };
        longest = longest.max(run);
    }
    let input = u["totalTokens"]["input"].as_u64().unwrap_or(0) as f64;
    let output = u["totalTokens"]["output"].as_u64().unwrap_or(0) as f64;
    let cost = ((input * 3.0 + output * 15.0) / 1_000_000.0 * 100.0).round() / 100.0;
    let top = |key: &str, name: &str| {
        let mut list: Vec<Value> = u[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let mut e = json!({ name: k });
                        if let (Some(e), Some(v)) = (e.as_object_mut(), v.as_object()) {
                            e.extend(v.clone());
                        }
                        e
                    })
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by_key(|e| std::cmp::Reverse(e["sessions"].as_u64().unwrap_or(0)));
        list.truncate(5);
        list
    };
    json!({
        "totalSessions": u["totalSessions"].as_u64().unwrap_or(0),
        "totalMessages": u["totalMessages"].as_u64().unwrap_or(0),
        "totalToolCalls": u["totalToolCalls"].as_u64().unwrap_or(0),
        "totalTokens": { "input": input as u64, "output": output as u64 },
        "estimatedCost": cost,
        "currentStreak": current,
        "longestStreak": longest,
        "last7Days": last7,
        "hourlyActivity": u["hourlyActivity"].as_array().filter(|a| a.len() == 24).cloned().unwrap_or_else(|| vec![json!(0); 24]),
        "topProviders": top("byProvider", "id"),
        "topModels": top("byModel", "model"),
        "lastUpdated": u["lastUpdated"],
    })
}

/// A JSON pointer token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::{bump, summarize};
    use serde_json::json;

    #[test]
    fn a_count_stops_at_the_largest_number_instead_of_overflowing() {
        let mut v = json!({ "output": 1 });
        bump(&mut v, "output", u64::MAX);
        bump(&mut v, "output", u64::MAX);
        assert_eq!(v["output"], u64::MAX);
    }

    #[test]
    fn the_summary_counts_as_the_original() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let u = json!({
            "totalSessions": 6, "totalMessages": 4, "totalTokens": { "input": 1_000_000, "output": 100_000 },
            "byProvider": { "a": { "name": "A", "sessions": 1, "messages": 1, "tokens": 5 }, "b": { "name": "B", "sessions": 5, "messages": 3, "tokens": 9 } },
            "byModel": { "m": { "sessions": 2, "messages": 1, "tokens": 1 } },
            "dailyActivity": {
                "2026-11-20": { "sessions": 1 }, "2026-11-21": { "sessions": 1 }, "2026-11-22": { "sessions": 1 },
                "2026-11-30": { "sessions": 1, "messages": 1, "tokens": 3 }, "2026-12-01": { "sessions": 2, "messages": 3, "tokens": 4 }
            },
            "hourlyActivity": vec![1; 24], "lastUpdated": "2026-12-01T10:00:00.000Z"
        });
        let s = summarize(&u, today);
        assert_eq!(
            s["currentStreak"], 2,
            "yesterday and the day before; today has none yet"
        );
        assert_eq!(s["longestStreak"], 3);
        assert_eq!(s["estimatedCost"], 4.5);
        assert_eq!(s["topProviders"][0]["id"], "b");
        assert_eq!(s["topProviders"][0]["name"], "B");
        assert_eq!(s["topModels"][0]["model"], "m");
        let days = s["last7Days"].as_array().unwrap();
        assert_eq!(days.len(), 7);
        assert_eq!(
            (days[6]["date"].as_str(), days[6]["label"].as_str()),
            (Some("2026-12-02"), Some("Wed"))
        );
        assert_eq!(days[5]["messages"], 3);
        assert_eq!(
            summarize(&json!({}), today)["hourlyActivity"]
                .as_array()
                .unwrap()
                .len(),
            24
        );
    }
}

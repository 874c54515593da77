//! Provider status: one registry (the original had two over one file), kept
//! in `data/provider-status.json` in the original's shape. A provider becomes
//! unavailable when a run reports a rate or usage limit (as the original), or
//! — new — when the periodic check of enabled providers finds it unreachable
//! or refusing its key; it becomes available again by manual recovery or when
//! a later check answers (a rate/usage limit only once its estimated recovery
//! has passed). Every change is one `provider:status:changed` event.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::Ai;
use crate::AiError;
use crate::providers;
use portos_core::Refuse;
use portos_core::time::now_iso;

pub const STATUS_FILE: &str = "provider-status.json";

/// How often enabled providers are checked (`PORTOS_PROVIDER_CHECK_SECS`).
pub fn check_interval() -> Duration {
    let secs = std::env::var("PORTOS_PROVIDER_CHECK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(300);
    Duration::from_secs(secs)
}

fn ok_entry(failures: u64) -> Value {
    json!({ "available": true, "reason": "ok", "message": "Provider available",
            "failureCount": failures, "lastChecked": now_iso() })
}

/// "1d 2h 5m", "< 1m", "any moment", or null, from `estimatedRecovery`.
fn time_until(entry: &Value) -> Value {
    if entry["available"] != false {
        return Value::Null;
    }
    let Some(at) = entry["estimatedRecovery"]
        .as_str()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
    else {
        return Value::Null;
    };
    let Ok(left) = at.duration_since(SystemTime::now()) else {
        return json!("any moment");
    };
    let mins = left.as_secs() / 60;
    if mins == 0 {
        return json!("< 1m");
    }
    let (d, h, m) = (mins / 1440, mins / 60 % 24, mins % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    json!(parts.join(" "))
}

fn with_time(mut entry: Value) -> Value {
    entry["timeUntilRecovery"] = time_until(&entry);
    entry
}

/// Every known status, `{ providers, lastUpdated }`.
pub async fn all(ai: &Ai) -> Result<Value, AiError> {
    let file: Map<String, Value> = ai.store.load(STATUS_FILE).await?;
    let providers: Map<String, Value> = file
        .get("providers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), with_time(v.clone())))
        .collect();
    Ok(
        json!({ "providers": providers, "lastUpdated": file.get("lastUpdated").cloned().unwrap_or(Value::Null) }),
    )
}

/// One provider's status (an unknown one is available).
pub async fn get(ai: &Ai, id: &str) -> Result<Value, AiError> {
    let file: Map<String, Value> = ai.store.load(STATUS_FILE).await?;
    let entry = file
        .get("providers")
        .and_then(|p| p.get(id))
        .cloned()
        .unwrap_or_else(|| ok_entry(0));
    Ok(with_time(entry))
}

/// Whether a provider may be used now.
pub async fn is_available(ai: &Ai, id: &str) -> bool {
    get(ai, id).await.map_or(true, |e| e["available"] != false)
}

/// Applies `change` to a provider's entry; on a change of availability or
/// reason, one `provider:status:changed` event of `kind` (or the reason).
async fn set(
    ai: &Ai,
    id: &str,
    kind: Option<&str>,
    change: impl FnOnce(&Value) -> Value,
) -> Result<Value, AiError> {
    let id_owned = id.to_string();
    let (before, after) = ai
        .store
        .update(STATUS_FILE, |f: &mut Map<String, Value>| {
            let providers = f.entry("providers").or_insert_with(|| json!({}));
            if !providers.is_object() {
                *providers = json!({});
            }
            let before = providers
                .get(&id_owned)
                .cloned()
                .unwrap_or_else(|| ok_entry(0));
            let after = change(&before);
            providers[&id_owned] = after.clone();
            f.insert("lastUpdated".into(), json!(now_iso()));
            Ok::<_, ()>((before, after))
        })
        .await?
        .map_err(|()| AiError::internal("status update failed"))?;
    if before["available"] != after["available"] || before["reason"] != after["reason"] {
        let kind = kind.or(after["reason"].as_str()).unwrap_or("changed");
        ai.events.broadcast(
            "provider:status:changed",
            &json!({ "providerId": id, "status": with_time(after.clone()), "type": kind }),
        );
    }
    Ok(after)
}

/// Marks a provider available again (manual recovery).
pub async fn recover(ai: &Ai, id: &str) -> Result<Value, AiError> {
    set(ai, id, Some("recovered"), |_| ok_entry(0)).await
}

/// "in 2 hours", "1 day 3 hours", "resets in 45 min": the wait, when said.
fn parse_wait(text: &str) -> Option<Duration> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut total = 0u64;
    for w in words.windows(2) {
        let Ok(n) = w[0].parse::<u64>() else { continue };
        let unit = match w[1] {
            u if u.starts_with("day") => 86_400,
            u if u.starts_with("hour") || u == "h" => 3_600,
            u if u.starts_with("min") || u == "m" => 60,
            u if u.starts_with("sec") || u == "s" => 1,
            _ => continue,
        };
        total += n * unit;
    }
    (total > 0).then(|| Duration::from_secs(total))
}

fn unavailable(
    before: &Value,
    reason: &str,
    message: &str,
    wait: Option<Duration>,
    wait_text: Option<&str>,
) -> Value {
    let now = SystemTime::now();
    let recovery = wait.map(|w| humantime::format_rfc3339_millis(now + w).to_string());
    json!({
        "available": false, "reason": reason, "message": message,
        "waitTime": wait_text, "unavailableSince": before.get("unavailableSince").filter(|_| before["available"] == false).cloned().unwrap_or_else(|| json!(now_iso())),
        "estimatedRecovery": recovery,
        "failureCount": before["failureCount"].as_u64().unwrap_or(0) + 1,
        "lastChecked": now_iso(), "lastError": message,
    })
}

/// What a failed run said about its provider: rate and usage limits make it
/// unavailable (5 minutes, or the wait the provider named, 24 h when none).
pub async fn from_run(ai: &Ai, id: &str, category: &str, message: &str) {
    let (reason, wait) = match category {
        "rate-limit" => ("rate-limit", Some(Duration::from_secs(300))),
        "usage-limit" | "quota-exceeded" => (
            "usage-limit",
            Some(parse_wait(message).unwrap_or(Duration::from_secs(86_400))),
        ),
        _ => return,
    };
    let r = set(ai, id, None, |before| {
        unavailable(before, reason, message, wait, Some(message))
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(provider = %id, "cannot record its status: {e}");
    }
}

/// Checks every enabled provider once (the periodic check runs this).
pub async fn check_all(ai: &Ai) {
    let Ok(file) = providers::load(ai).await else {
        return;
    };
    for p in file.providers.values().filter(|p| p.enabled) {
        let result = providers::probe::probe(&ai.http, p).await;
        let before = get(ai, &p.id).await.unwrap_or_else(|_| ok_entry(0));
        let limited = matches!(
            before["reason"].as_str(),
            Some("rate-limit" | "usage-limit")
        );
        let recovery_passed = before["estimatedRecovery"]
            .as_str()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .is_some_and(|t| t <= SystemTime::now());
        let r = if result["success"] == true {
            if before["available"] == false && (!limited || recovery_passed) {
                set(ai, &p.id, Some("recovered"), |_| ok_entry(0)).await
            } else {
                set(ai, &p.id, None, |b| {
                    let mut e = b.clone();
                    e["lastChecked"] = json!(now_iso());
                    e
                })
                .await
            }
        } else if limited && !recovery_passed {
            continue;
        } else {
            let message = result["error"]
                .as_str()
                .unwrap_or("the check failed")
                .to_string();
            let reason = match p.kind {
                portos_store::types::ProviderKind::Cli => "cli-unavailable",
                _ if message.contains("key rejected") => "auth-error",
                _ => "network-error",
            };
            set(ai, &p.id, None, |b| {
                unavailable(b, reason, &message, None, None)
            })
            .await
        };
        if let Err(e) = r {
            tracing::warn!(provider = %p.id, "cannot record its status: {e}");
        }
    }
}

/// Runs [`check_all`] every [`check_interval`] until `stop`, the first time
/// half a minute after start (or sooner with a shorter interval), so a
/// restart does not start every CLI at once.
pub async fn run_checks(ai: Ai, stop: tokio_util::sync::CancellationToken) {
    let every = check_interval();
    let first = tokio::time::Instant::now() + every.min(Duration::from_secs(30));
    let mut tick = tokio::time::interval_at(first, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => check_all(&ai).await,
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_read_from_provider_messages() {
        assert_eq!(
            parse_wait("try again in 2 hours"),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            parse_wait("resets in 1 day 3 hours 5 min"),
            Some(Duration::from_secs(86_400 + 3 * 3600 + 300))
        );
        assert_eq!(parse_wait("no wait given"), None);
        let e = json!({"available": false, "estimatedRecovery": humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(3 * 3600 + 120)).to_string()});
        assert_eq!(time_until(&e), json!("3h 1m"));
    }
}

//! Secrets never leave in full: any field whose name says it is a secret is
//! shown as `***` plus at most its last four characters, and a `has<Field>`
//! flag tells whether one is set; error contexts lose such fields altogether.

use serde_json::{Map, Value};

/// The environment variable through which the supervisor hands PortOS's own
/// services the internal token (never a command line, so `ps` does not show
/// it). Every process a service starts is spawned without it.
pub const INTERNAL_TOKEN_ENV: &str = "PORTOS_INTERNAL_TOKEN";

/// Whether a field name names a secret (`apiKey`, `apiToken`, `password`, …).
pub fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "apikey",
        "apitoken",
        "token",
        "secret",
        "password",
        "credential",
        "authorization",
        "bearer",
    ]
    .iter()
    .any(|s| k.contains(s))
        && !k.starts_with("has")
}

/// `***` and the last four characters, when the secret is long enough to spare them.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n >= 12 {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("***{tail}")
    } else {
        "***".to_string()
    }
}

/// A copy of `v` with every secret masked, at any depth.
pub fn redact_secrets(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if is_secret_key(k) {
                    match v {
                        Value::String(s) if !s.is_empty() => {
                            out.insert(k.clone(), Value::String(mask(s)));
                        }
                        Value::String(_) | Value::Null => {
                            out.insert(k.clone(), v.clone());
                        }
                        _ => {
                            out.insert(k.clone(), Value::String("***".into()));
                        }
                    }
                } else {
                    out.insert(k.clone(), redact_secrets(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(redact_secrets).collect()),
        other => other.clone(),
    }
}

/// Drops every key that could carry a secret, at any depth (the original's
/// sanitising of error contexts).
pub fn sanitize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_secret_key(k) && !k.to_ascii_lowercase().contains("envvars"))
                .map(|(k, v)| (k.clone(), sanitize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(sanitize).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let v = json!({"a": {"apiKey": "sk-1234567890abcdef", "name": "x"}, "jira": [{"apiToken": "short"}], "hasApiKey": true});
        let r = redact_secrets(&v);
        assert_eq!(r["a"]["apiKey"], "***cdef");
        assert_eq!(r["a"]["name"], "x");
        assert_eq!(r["jira"][0]["apiToken"], "***");
        assert_eq!(r["hasApiKey"], true);
        assert!(!r.to_string().contains("1234567890"));
    }
}

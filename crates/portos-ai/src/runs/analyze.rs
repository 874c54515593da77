//! What went wrong with a provider, from its output or its HTTP answer: the
//! toolkit's error categories (`errorAnalysis` in a run's metadata), so a
//! client that reads them keeps working, and so a fallback can be chosen.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub has_error: bool,
    pub category: Option<&'static str>,
    pub message: Option<String>,
    pub requires_fallback: bool,
    pub suggested_fix: Option<&'static str>,
}

impl Analysis {
    fn none() -> Self {
        Self {
            has_error: false,
            category: None,
            message: None,
            requires_fallback: false,
            suggested_fix: None,
        }
    }
}

struct Rule {
    pattern: Regex,
    category: &'static str,
    requires_fallback: bool,
    fix: &'static str,
}

/// The toolkit's rules, in its order: the first that matches wins.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |p: &str, category, requires_fallback, fix| Rule {
        pattern: Regex::new(&format!("(?i){p}")).expect("a valid pattern"),
        category,
        requires_fallback,
        fix,
    };
    vec![
        rule(
            r"billing|payment|credit|insufficient funds",
            "quota-exceeded",
            true,
            "Check billing status and add credits to the provider account",
        ),
        rule(
            r"API Error: 429|rate.?limit|too many requests",
            "rate-limit",
            false,
            "Wait and retry - temporary rate limiting",
        ),
        rule(
            r"hit your usage limit|You've hit your limit|usage limit|Upgrade to Pro",
            "usage-limit",
            true,
            "Provider usage limit reached. Using fallback provider or wait for limit reset.",
        ),
        rule(
            r"unauthorized|invalid.?api.?key|authentication|forbidden|401|403",
            "auth-error",
            true,
            "Check API key configuration for this provider",
        ),
        rule(
            r"model.*(not found|does not exist|unavailable)|invalid model",
            "model-not-found",
            true,
            "Check model name and availability in provider settings",
        ),
        rule(
            r"ECONNREFUSED|ENOTFOUND|network error|connection refused|timeout|ETIMEDOUT",
            "network-error",
            false,
            "Check network connectivity and provider endpoint URL",
        ),
        rule(
            r"timed out|timeout exceeded|SIGTERM",
            "timeout",
            false,
            "The provider took too long; retry or raise the timeout",
        ),
    ]
});

/// The line that says what happened: after `Error:`, else a JSON `"error"` /
/// `"message"` string, else the first non-empty line (200 characters at most).
fn message_of(text: &str) -> Option<String> {
    static ERROR_LINE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)error:\s*(.+)").expect("a valid pattern"));
    static JSON_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#""(?:error|message)"\s*:\s*"([^"]+)""#).expect("a valid pattern")
    });
    let pick = |s: &str| s.trim().chars().take(200).collect::<String>();
    ERROR_LINE
        .captures(text)
        .or_else(|| JSON_MESSAGE.captures(text))
        .and_then(|c| c.get(1))
        .map(|m| pick(m.as_str()))
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(pick)
        })
        .filter(|m| !m.is_empty())
}

/// Analyses what a failed provider said (`exit_code` for a CLI).
pub fn analyze(text: &str, exit_code: Option<i32>) -> Analysis {
    if let Some(r) = RULES.iter().find(|r| r.pattern.is_match(text)) {
        return Analysis {
            has_error: true,
            category: Some(r.category),
            message: message_of(text),
            requires_fallback: r.requires_fallback,
            suggested_fix: Some(r.fix),
        };
    }
    match exit_code {
        Some(0) => Analysis::none(),
        code => Analysis {
            has_error: true,
            category: Some("unknown"),
            message: message_of(text).or_else(|| {
                Some(match code {
                    Some(c) => format!("Process exited with code {c}"),
                    None => "Process was killed by a signal".to_string(),
                })
            }),
            requires_fallback: false,
            suggested_fix: None,
        },
    }
}

/// Analyses a provider's HTTP answer.
pub fn analyze_http(status: u16, reason: &str, body: &str) -> Analysis {
    match status {
        200..=299 => Analysis::none(),
        429 => Analysis {
            message: Some("Rate limit exceeded (429)".into()),
            ..analyze("rate limit", None)
        },
        401 | 403 => Analysis {
            message: Some(format!("Authentication failed ({status})")),
            ..analyze("unauthorized", None)
        },
        _ if body.trim().is_empty() => Analysis {
            has_error: true,
            category: Some("unknown"),
            message: Some(if reason.is_empty() {
                format!("HTTP {status}")
            } else {
                reason.to_string()
            }),
            requires_fallback: false,
            suggested_fix: None,
        },
        _ => {
            let a = analyze(body, Some(1));
            Analysis {
                message: a.message.map(|m| format!("HTTP {status}: {m}")),
                ..a
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_toolkit_order() {
        let cat = |t: &str| analyze(t, Some(1)).category;
        assert_eq!(
            cat("Error: insufficient funds on your credit"),
            Some("quota-exceeded")
        );
        assert_eq!(cat("API Error: 429 Too Many Requests"), Some("rate-limit"));
        assert_eq!(
            cat("You've hit your limit · resets 6am"),
            Some("usage-limit")
        );
        assert_eq!(cat("Invalid API key provided"), Some("auth-error"));
        assert_eq!(
            cat("the model `gpt-9` does not exist"),
            Some("model-not-found")
        );
        assert_eq!(
            cat("connect ECONNREFUSED 127.0.0.1:1234"),
            Some("network-error")
        );
        assert_eq!(cat("something odd"), Some("unknown"));
        assert!(!analyze("all fine", Some(0)).has_error);
        assert_eq!(
            analyze("log line\nError: the disk is full\n", Some(2))
                .message
                .as_deref(),
            Some("the disk is full")
        );
        assert_eq!(
            analyze_http(401, "Unauthorized", "").message.as_deref(),
            Some("Authentication failed (401)")
        );
        assert_eq!(
            analyze_http(500, "", r#"{"error": "boom"}"#)
                .message
                .as_deref(),
            Some("HTTP 500: boom")
        );
    }
}

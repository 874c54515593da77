//! The autofixer's settings, `data/autofixer/config.json` (camelCase, every
//! key optional; a missing file means the defaults). Unknown keys are refused
//! on a change, so a typo is never silently ignored.

use serde::{Deserialize, Serialize};

use portos_core::{Kind, Problem};

/// Where the settings live in the data dir.
pub const CONFIG_FILE: &str = "autofixer/config.json";

/// How the healer decides and fixes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Off: crashes are watched and shown, no fix starts by itself.
    pub enabled: bool,
    /// The provider (of `providers.json`) whose CLI agent fixes; none: the active one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The model for the agent; none: the provider's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A process is crashing when it exits this many times ...
    pub crash_count: u32,
    /// ... within this window (or enters `errored`).
    pub crash_window_ms: u64,
    /// No new fix of a process this long after a good fix.
    pub cooldown_ms: u64,
    /// After a failed fix, the wait before the next; doubled per failure in a row.
    pub failure_backoff_ms: u64,
    /// Fixes a process may get in one UTC day (a manual "fix now" aside).
    pub max_attempts_per_day: u32,
    /// The agent's time limit: SIGTERM, then SIGKILL after the runner's grace.
    pub timeout_ms: u64,
    /// Also heal PortOS's own processes (the `portos` group).
    pub watch_portos: bool,
    /// Lines of the error and output logs given to the agent.
    pub error_lines: u32,
    pub output_lines: u32,
    /// After the restart, how long the process gets to become healthy (on top
    /// of its `min_uptime`, which it must then stay up for).
    pub verify_ms: u64,
    /// The agent works in a git worktree on a branch of its own; the result
    /// stays on that branch for the owner and the process is not restarted.
    pub worktree: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            provider_id: None,
            model: None,
            crash_count: 3,
            crash_window_ms: 60_000,
            cooldown_ms: 30 * 60_000,
            failure_backoff_ms: 10 * 60_000,
            max_attempts_per_day: 5,
            timeout_ms: 10 * 60_000,
            watch_portos: false,
            error_lines: 100,
            output_lines: 50,
            verify_ms: 30_000,
            worktree: false,
        }
    }
}

impl Config {
    /// Every value in range, or a problem naming the field.
    pub fn validate(&self) -> Result<(), Problem> {
        let bad = |field: &str, why: &str| {
            Err(Problem::new(
                Kind::Invalid,
                "VALIDATION_ERROR",
                format!("{field}: {why}"),
            ))
        };
        if self.crash_count == 0 || self.crash_count > 1000 {
            return bad("crashCount", "must be 1 to 1000");
        }
        if !(1_000..=86_400_000).contains(&self.crash_window_ms) {
            return bad("crashWindowMs", "must be 1 s to 24 h");
        }
        if self.cooldown_ms > 7 * 86_400_000 {
            return bad("cooldownMs", "must be at most 7 days");
        }
        if self.failure_backoff_ms > 86_400_000 {
            return bad("failureBackoffMs", "must be at most 24 h");
        }
        if self.max_attempts_per_day == 0 || self.max_attempts_per_day > 1000 {
            return bad("maxAttemptsPerDay", "must be 1 to 1000");
        }
        if !(1_000..=86_400_000).contains(&self.timeout_ms) {
            return bad("timeoutMs", "must be 1 s to 24 h");
        }
        if self.error_lines > 10_000 || self.output_lines > 10_000 {
            return bad("errorLines", "log lines must be at most 10000");
        }
        if !(1_000..=3_600_000).contains(&self.verify_ms) {
            return bad("verifyMs", "must be 1 s to 1 h");
        }
        if let Some(p) = &self.provider_id
            && (p.is_empty() || p.len() > 100 || p.starts_with('-'))
        {
            return bad("providerId", "must be a provider id");
        }
        Ok(())
    }

    /// A change from a client: the whole object, refused with the field named
    /// when a key is unknown or a value out of range.
    pub fn from_json(v: serde_json::Value) -> Result<Self, Problem> {
        let c: Config = serde_path_to_error::deserialize(v).map_err(|e| {
            Problem::new(
                Kind::Invalid,
                "VALIDATION_ERROR",
                format!("{}: {}", e.path(), e.inner()),
            )
        })?;
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_an_unknown_key_or_bad_value_is_named() {
        assert!(Config::default().validate().is_ok());
        let e = Config::from_json(serde_json::json!({ "crashCont": 2 })).unwrap_err();
        assert!(e.to_string().contains("crashCont"), "{e}");
        let e = Config::from_json(serde_json::json!({ "timeoutMs": 5 })).unwrap_err();
        assert!(e.to_string().contains("timeoutMs"), "{e}");
        let c = Config::from_json(serde_json::json!({ "crashCount": 2 })).unwrap();
        assert_eq!(c.crash_count, 2);
        assert_eq!(c.cooldown_ms, Config::default().cooldown_ms);
    }
}

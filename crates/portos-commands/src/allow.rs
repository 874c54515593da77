//! Which commands may run: the allow-list of `settings.json`'s `commands`
//! section (the original's list by default), the original's refusal of shell
//! metacharacters, and the split into a program and its arguments.

use serde::Deserialize;

/// The original's allow-list: the first word must be one of these.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "npm",
    "npx",
    "pnpm",
    "yarn",
    "bun",
    "node",
    "deno",
    "git",
    "gh",
    "pm2",
    "ls",
    "cat",
    "head",
    "tail",
    "grep",
    "find",
    "wc",
    "pwd",
    "which",
    "echo",
    "env",
    "curl",
    "wget",
    "docker",
    "docker-compose",
    "make",
    "cargo",
    "go",
    "python",
    "python3",
    "pip",
    "pip3",
    "brew",
];

/// Characters that refuse a whole command, as the original refuses them
/// (nothing runs through a shell, but a command that looks like shell syntax
/// would not do what its author meant).
const METACHARACTERS: &[char] = &[
    ';', '|', '&', '`', '$', '(', ')', '{', '}', '[', ']', '<', '>', '\\', '!', '#', '*', '?', '~',
];

/// The longest command accepted.
pub const MAX_COMMAND: usize = 4096;

/// `settings.json`'s `commands` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CommandSettings {
    /// Programs a command may start with (names, not paths).
    pub allowed: Vec<String>,
    /// A command still running after this many seconds is stopped; 0: never
    /// (the original).
    pub timeout_seconds: u64,
}

impl Default for CommandSettings {
    fn default() -> Self {
        Self {
            allowed: DEFAULT_ALLOWED.iter().map(|s| s.to_string()).collect(),
            timeout_seconds: 0,
        }
    }
}

impl CommandSettings {
    /// The section as settings, or why it cannot be: every allowed entry a
    /// program's name (letters, digits, `.`, `_`, `+`, `-`; not starting with `-`).
    pub fn from_value(v: &serde_json::Value) -> Result<Self, String> {
        let s: Self = serde_json::from_value(v.clone()).map_err(|e| format!("commands: {e}"))?;
        if let Some(bad) = s.allowed.iter().find(|p| !program_name(p)) {
            return Err(format!(
                "commands.allowed: {bad:?} is not a program's name (letters, digits, '.', '_', '+', '-'; no path, not starting with '-')"
            ));
        }
        Ok(s)
    }

    /// The allow-list, sorted (`GET /api/commands/allowed`).
    pub fn sorted(&self) -> Vec<String> {
        let mut list = self.allowed.clone();
        list.sort();
        list.dedup();
        list
    }
}

fn program_name(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 64
        && !p.starts_with('-')
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        && p != "."
        && p != ".."
}

/// Why a command was not run; the words the original meant to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Empty command provided")]
    Empty,
    #[error("Command contains disallowed shell characters (security restriction)")]
    Metacharacter,
    #[error("Command contains a control character (a newline, a tab, ...)")]
    Control,
    #[error("Command is longer than {MAX_COMMAND} bytes")]
    TooLong,
    #[error("Command has an unclosed quote")]
    Unquoted,
    #[error("Command '{0}' is not in the allowlist")]
    NotAllowed(String),
}

/// The program and its arguments of `command`, or why it may not run.
/// Quotes group words (`git commit -m "a b"` passes `a b` as one argument,
/// where the original split it in two); nothing is expanded.
pub fn parse(command: &str, allowed: &[String]) -> Result<Vec<String>, Refusal> {
    if command.len() > MAX_COMMAND {
        return Err(Refusal::TooLong);
    }
    if command.trim().is_empty() {
        return Err(Refusal::Empty);
    }
    if command.contains(METACHARACTERS) {
        return Err(Refusal::Metacharacter);
    }
    if command.chars().any(|c| c.is_control()) {
        return Err(Refusal::Control);
    }
    let words = shell_words::split(command).map_err(|_| Refusal::Unquoted)?;
    let Some(program) = words.first() else {
        return Err(Refusal::Empty);
    };
    if !allowed.iter().any(|a| a == program) {
        return Err(Refusal::NotAllowed(program.clone()));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list() -> Vec<String> {
        CommandSettings::default().allowed
    }

    #[test]
    fn the_original_refusals_with_their_reasons() {
        let l = list();
        assert_eq!(parse("  ", &l), Err(Refusal::Empty));
        assert_eq!(parse("ls; rm -rf x", &l), Err(Refusal::Metacharacter));
        assert_eq!(parse("echo $HOME", &l), Err(Refusal::Metacharacter));
        assert_eq!(parse("rm -rf x", &l), Err(Refusal::NotAllowed("rm".into())));
        assert_eq!(
            parse("rm -rf x", &l).unwrap_err().to_string(),
            "Command 'rm' is not in the allowlist"
        );
        assert_eq!(parse("echo a\nrm x", &l), Err(Refusal::Control));
        assert_eq!(parse("echo \"open", &l), Err(Refusal::Unquoted));
        // A quoted program name is still the program's name.
        assert_eq!(parse("'rm' x", &l), Err(Refusal::NotAllowed("rm".into())));
    }

    #[test]
    fn quotes_group_words_and_nothing_expands() {
        assert_eq!(
            parse(r#"git commit -m "a b" 'c d'"#, &list()).unwrap(),
            ["git", "commit", "-m", "a b", "c d"]
        );
    }

    #[test]
    fn an_allowed_entry_must_be_a_name() {
        for bad in ["/bin/sh", "-x", "a b", "..", ""] {
            let v = serde_json::json!({ "allowed": [bad] });
            assert!(CommandSettings::from_value(&v).is_err(), "{bad}");
        }
        let v = serde_json::json!({ "allowed": ["ls"], "other": 1 });
        assert!(
            CommandSettings::from_value(&v)
                .unwrap_err()
                .contains("other")
        );
        let ok =
            CommandSettings::from_value(&serde_json::json!({ "allowed": ["uv", "ls"] })).unwrap();
        assert_eq!(ok.sorted(), ["ls", "uv"]);
        assert_eq!(ok.timeout_seconds, 0);
    }

    proptest! {
        #[test]
        fn never_panics_and_runs_only_an_allowed_program(s in ".{0,200}") {
            let l = list();
            if let Ok(words) = parse(&s, &l) {
                prop_assert!(l.contains(&words[0]));
                prop_assert!(!s.contains(METACHARACTERS));
            }
        }
    }
}

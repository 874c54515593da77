use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why a configuration was refused. Displayed as `file:line:column: key `k`: message`
/// followed by the offending line, so a person can act without opening the file blind.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Located(self))]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        /// The key the error is about, when one can be named.
        key: Option<String>,
        message: String,
        /// The text of the offending line.
        source_line: String,
    },
}

struct Located<'a>(&'a ConfigError);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConfigError::Invalid {
            path,
            line,
            column,
            key,
            message,
            source_line,
        } = self.0
        else {
            return Ok(());
        };
        write!(f, "{}:{line}:{column}: ", path.display())?;
        if let Some(key) = key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{message}")?;
        if !source_line.is_empty() {
            write!(f, "\n{line:>5} | {source_line}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// An error at a byte span of `text` (start of file when unknown).
    pub(crate) fn at_span(
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: &str,
    ) -> Self {
        let start = span.map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = text[line_start..start].chars().count() + 1;
        let source_line = text[line_start..].lines().next().unwrap_or("").to_string();
        let message = message.trim().to_string();
        let key = key_named_in(&message).or_else(|| key_of_line(&source_line));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message,
            source_line,
        }
    }

    /// The line of the error, for tests and tools.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => Some(*line),
            ConfigError::Io { .. } => None,
        }
    }

    /// The key of the error, when one can be named.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => key.as_deref(),
            ConfigError::Io { .. } => None,
        }
    }
}

/// `unknown field `foo`, expected …` names its key.
fn key_named_in(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// `min_uptime = "3 parsecs"` → `min_uptime`; `[[process]]` → `process`.
fn key_of_line(line: &str) -> Option<String> {
    let t = line.trim();
    if let Some(inner) = t.strip_prefix('[') {
        let k = inner.trim_start_matches('[').split(']').next()?.trim();
        return (!k.is_empty()).then(|| k.to_string());
    }
    let (k, _) = t.split_once('=')?;
    let k = k.trim().trim_matches('"');
    (!k.is_empty()).then(|| k.to_string())
}

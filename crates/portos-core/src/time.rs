//! UTC stamps in the formats the data files and events use.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The current UTC time as ISO 8601 with milliseconds.
pub fn now_iso() -> String {
    iso(std::time::SystemTime::now())
}

/// A time as ISO 8601 UTC with milliseconds.
pub fn iso(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

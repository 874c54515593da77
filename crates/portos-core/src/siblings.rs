//! Where the other processes of the same table listen. The supervisor hands
//! every process the labelled ports of its table, one variable each
//! (`PORTOS_PORT_PORTOS_COS_API=5558`); a service finds a sibling by name and
//! label instead of assuming the default table's port.

/// The variable that carries `label` of `process`: upper case, every
/// character outside `A-Z0-9` as `_`.
pub fn port_var(process: &str, label: &str) -> String {
    let norm = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("PORTOS_PORT_{}_{}", norm(process), norm(label))
}

/// `label` of `process` as the supervisor handed it, if it did.
pub fn port(process: &str, label: &str) -> Option<u16> {
    std::env::var(port_var(process, label)).ok()?.parse().ok()
}

/// Where a sibling is reached: the override variable `var` (a URL) when set,
/// else `http://127.0.0.1:<port>` with its port from the table (or `default`
/// outside a supervisor).
pub fn url(var: &str, process: &str, label: &str, default: u16) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        format!(
            "http://127.0.0.1:{}",
            port(process, label).unwrap_or(default)
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_variables() {
        assert_eq!(
            super::port_var("portos-cos", "api"),
            "PORTOS_PORT_PORTOS_COS_API"
        );
        assert_eq!(super::port_var("my.app", "ui"), "PORTOS_PORT_MY_APP_UI");
    }
}

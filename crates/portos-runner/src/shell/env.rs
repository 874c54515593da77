//! What a shell session starts with: the original's environment allow-list
//! (never the runner's internal token or anything else of PortOS's own), the
//! shell program, the folder.

use std::path::{Path, PathBuf};

/// Names passed on as they are, and prefixes of names passed on (the
/// original's list, `server/services/shell.js`).
const EXACT: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PATH",
    "LANG",
    "TERM",
    "COLORTERM",
    "EDITOR",
    "VISUAL",
    "HOSTNAME",
    "PWD",
    "OLDPWD",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "DISPLAY",
    "GOPATH",
    "GOROOT",
    "VIRTUAL_ENV",
    "JAVA_HOME",
    "KUBECONFIG",
    "LESS",
    "PAGER",
    "MANPATH",
    "INFOPATH",
    "ZDOTDIR",
];
const PREFIXES: &[&str] = &[
    "LC_",
    "XDG_",
    "HOMEBREW_",
    "NVM_",
    "FNM_",
    "NODE_",
    "NPM_",
    "VOLTA_",
    "CARGO_",
    "RUSTUP_",
    "PYENV_",
    "CONDA_",
    "ANDROID_",
    "DOCKER_",
    "COMPOSE_",
    "STARSHIP_",
];

/// Whether a variable of the runner's environment goes to a shell.
pub fn passed_on(name: &str) -> bool {
    if name.starts_with("PORTOS_") {
        return false;
    }
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The shell's environment: the allowed part of `vars`, then the terminal's.
pub fn environment(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vars.filter(|(k, _)| passed_on(k)).collect();
    env.retain(|(k, _)| k != "TERM" && k != "COLORTERM");
    env.push(("TERM".into(), "xterm-256color".into()));
    env.push(("COLORTERM".into(), "truecolor".into()));
    env
}

/// The program: the one asked for, else `SHELL`, else bash, else sh. Only an
/// absolute path to an existing file, so nothing is looked up on a PATH.
pub fn shell_program(asked: &str) -> Result<PathBuf, String> {
    let pick = |p: &str| {
        let path = Path::new(p);
        (path.is_absolute() && path.is_file()).then(|| path.to_path_buf())
    };
    if !asked.is_empty() {
        return pick(asked).ok_or_else(|| format!("no shell at {asked:?} (an absolute path)"));
    }
    std::env::var("SHELL")
        .ok()
        .and_then(|s| pick(&s))
        .or_else(|| pick("/bin/bash"))
        .or_else(|| pick("/bin/sh"))
        .ok_or_else(|| "no shell found (SHELL, /bin/bash, /bin/sh)".to_string())
}

/// The folder: the one asked for (absolute, existing), else the home directory.
pub fn folder(asked: &str) -> Result<PathBuf, String> {
    if !asked.is_empty() {
        let p = Path::new(asked);
        return if p.is_absolute() && p.is_dir() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("no folder {asked:?} (an absolute path)"))
        };
    }
    Ok(std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_dir())
        .unwrap_or_else(|| PathBuf::from("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allow_list_and_the_terminal_go_through() {
        let vars = [
            ("PATH", "/bin"),
            ("LC_ALL", "C"),
            ("PORTOS_INTERNAL_TOKEN", "secret"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("TERM", "dumb"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let env = environment(vars.into_iter());
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "LC_ALL", "TERM", "COLORTERM"]);
        assert!(env.contains(&("TERM".into(), "xterm-256color".into())));
    }

    #[test]
    fn a_relative_shell_or_folder_is_refused() {
        assert!(shell_program("bash").is_err());
        assert!(folder("tmp").is_err());
        assert!(folder("/no/such/folder").is_err());
        assert_eq!(folder("/").unwrap(), PathBuf::from("/"));
    }
}

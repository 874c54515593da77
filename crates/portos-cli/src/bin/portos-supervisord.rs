//! `portos-supervisord`: the supervisor daemon `portos up -d` starts, and
//! nothing else — no command-line parser, tables or clients in its memory.
//! Private: its one form is what `portos up -d` runs,
//! `portos-supervisord --config FILE --data-dir DIR [PROCESS ...]`.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_cli::{Failure, supervise};

fn main() -> ExitCode {
    portos_cli::exit(
        parse().and_then(|(config, data_dir, names)| supervise::daemon(&config, &data_dir, names)),
    )
}

/// The form `portos up -d` uses; anything else is refused, naming it.
fn parse() -> Result<(PathBuf, PathBuf, Vec<String>), Failure> {
    let mut args = std::env::args_os().skip(1);
    let mut flag = |name: &str| -> Result<PathBuf, Failure> {
        match (args.next(), args.next()) {
            (Some(f), Some(v)) if f == name => Ok(PathBuf::from(v)),
            (f, _) => Err(Failure::input(format!(
                "expected {name} PATH, not {:?}; this binary is started by `portos up -d`",
                f.unwrap_or_default()
            ))),
        }
    };
    let config = flag("--config")?;
    let data_dir = flag("--data-dir")?;
    let names = args
        .map(|a| {
            a.into_string()
                .map_err(|a| Failure::input(format!("a process name that is not UTF-8: {a:?}")))
        })
        .collect::<Result<_, _>>()?;
    Ok((config, data_dir, names))
}

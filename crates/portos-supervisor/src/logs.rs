//! Log capture: every line a child writes, stamped with the UTC time it arrived,
//! appended to `logs/<name>-out.log` or `logs/<name>-error.log`, rotated by size,
//! kept in a bounded in-memory tail, and broadcast to followers.
//!
//! Lines are split on `\n` only, so a line is never cut in two (nor a UTF-8
//! character); stdout and stderr go to different files, so they never interleave
//! inside a file. Memory stays bounded under a flood: the tail is a ring, and a
//! follower that falls behind is told how many lines it missed.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::io::AsyncReadExt;
use tokio::sync::broadcast;

use portos_config::LogSettings;

/// A line longer than this is written in pieces (each piece a line of its own).
const MAX_LINE: usize = 1 << 20;
/// Read size from a child's pipe.
const READ_CHUNK: usize = 64 << 10;
/// A capture's first read buffer.
const FIRST_READ: usize = 2 << 10;
/// Lines a follower may fall behind before it is told it lagged.
const FOLLOW_BUFFER: usize = 8192;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn file_suffix(self) -> &'static str {
        match self {
            Stream::Stdout => "out",
            Stream::Stderr => "error",
        }
    }
}

/// One captured line.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Rises by one with every line the supervisor captures, across processes.
    pub seq: u64,
    pub process: Arc<str>,
    pub stream: Stream,
    /// `YYYY-MM-DDTHH:mm:ss.SSSZ`.
    pub timestamp: Arc<str>,
    pub text: Arc<str>,
}

/// The last lines of one process, oldest first.
type Tail = Arc<Mutex<VecDeque<LogLine>>>;

/// Every process's logs: files, tails, followers.
#[derive(Debug)]
pub struct LogHub {
    dir: PathBuf,
    settings: LogSettings,
    seq: AtomicU64,
    tails: Mutex<Vec<(Arc<str>, Tail)>>,
    /// The followers' channel, there only while someone follows: its buffer
    /// of FOLLOW_BUFFER slots is most of an idle supervisor's heap.
    follow: Mutex<Option<broadcast::Sender<LogLine>>>,
}

impl LogHub {
    /// Log files go under `dir` (created if missing).
    pub fn new(dir: PathBuf, settings: LogSettings) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            settings,
            seq: AtomicU64::new(0),
            tails: Mutex::new(Vec::new()),
            follow: Mutex::new(None),
        })
    }

    /// The file a process's stream is written to.
    pub fn file(&self, process: &str, stream: Stream) -> PathBuf {
        self.dir
            .join(format!("{process}-{}.log", stream.file_suffix()))
    }

    fn tail_of(&self, process: &str) -> Tail {
        let mut tails = self.tails.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = tails.iter().find(|(n, _)| &**n == process) {
            return t.clone();
        }
        // Grows with the lines kept, up to `tail_lines`.
        let t = Arc::new(Mutex::new(VecDeque::new()));
        tails.push((Arc::from(process), t.clone()));
        t
    }

    /// The last `n` lines of one process (or of all, merged in arrival order).
    pub fn tail(&self, process: Option<&str>, n: usize) -> Vec<LogLine> {
        let tails: Vec<_> = {
            let all = self.tails.lock().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .filter(|(name, _)| process.is_none_or(|p| &**name == p))
                .map(|(_, t)| t.clone())
                .collect()
        };
        let mut out: Vec<LogLine> = Vec::new();
        for t in tails {
            let t = t.lock().unwrap_or_else(|e| e.into_inner());
            let skip = t.len().saturating_sub(n);
            out.extend(t.iter().skip(skip).cloned());
        }
        out.sort_by_key(|l| l.seq);
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
        out
    }

    /// New lines of every process, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.follow
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| broadcast::channel(FOLLOW_BUFFER).0)
            .subscribe()
    }

    /// A line written by the supervisor itself about a process (e.g. why it
    /// restarted): into its error log (one short O_APPEND write, whole) and its tail.
    pub fn note(&self, process: &str, text: String) {
        let stamp = now_stamp();
        let path = self.file(process, Stream::Stderr);
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{stamp}: {text}\n").as_bytes()));
        if let Err(e) = written {
            tracing::warn!(process, error = %e, "cannot write to {}", path.display());
        }
        let line = LogLine {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            process: Arc::from(process),
            stream: Stream::Stderr,
            timestamp: stamp.into(),
            text: text.into(),
        };
        let tail = self.tail_of(process);
        self.keep(&tail, std::slice::from_ref(&line));
    }

    fn keep(&self, tail: &Mutex<VecDeque<LogLine>>, lines: &[LogLine]) {
        {
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            for l in lines {
                if t.len() >= self.settings.tail_lines {
                    t.pop_front();
                }
                t.push_back(l.clone());
            }
        }
        let mut follow = self.follow.lock().unwrap_or_else(|e| e.into_inner());
        match follow.as_ref() {
            // The last follower left: the buffer goes with the channel.
            Some(tx) if tx.receiver_count() == 0 => *follow = None,
            Some(tx) => {
                for l in lines {
                    let _ = tx.send(l.clone());
                }
            }
            None => {}
        }
    }

    /// Copies `pipe` into the process's log until it closes. Returns at EOF.
    pub async fn capture<R>(self: Arc<Self>, process: Arc<str>, stream: Stream, mut pipe: R)
    where
        R: tokio::io::AsyncRead + Unpin,
    {
        let path = self.file(&process, stream);
        let mut file = match RotatingFile::open(path, self.settings.max_size, self.settings.keep) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(process = %process, error = %e, "cannot open log file; keeping the tail only");
                None
            }
        };
        let tail = self.tail_of(&process);
        // Small while the process is quiet (most are, and an idle supervisor's
        // memory is these buffers), doubled up to READ_CHUNK while reads fill it.
        let mut buf = vec![0u8; FIRST_READ];
        let mut partial: Vec<u8> = Vec::new();
        let mut out: Vec<u8> = Vec::new();
        let mut lines: Vec<LogLine> = Vec::new();
        loop {
            let n = match pipe.read(&mut buf).await {
                Ok(0) => 0,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            let eof = n == 0;
            partial.extend_from_slice(&buf[..n]);
            if n == buf.len() && buf.len() < READ_CHUNK {
                buf.resize(buf.len() * 2, 0);
            }
            let stamp: Arc<str> = now_stamp().into();
            let mut start = 0;
            while let Some(pos) = memchr(b'\n', &partial[start..]) {
                let end = start + pos;
                self.push_line(
                    &process,
                    stream,
                    &stamp,
                    &partial[start..end],
                    &mut out,
                    &mut lines,
                );
                start = end + 1;
            }
            partial.drain(..start);
            while partial.len() >= MAX_LINE {
                let piece: Vec<u8> = partial.drain(..MAX_LINE).collect();
                self.push_line(&process, stream, &stamp, &piece, &mut out, &mut lines);
            }
            if eof && !partial.is_empty() {
                let rest = std::mem::take(&mut partial);
                self.push_line(&process, stream, &stamp, &rest, &mut out, &mut lines);
            }
            if !out.is_empty() {
                if let Some(f) = file.as_mut()
                    && let Err(e) = f.write(&out)
                {
                    tracing::error!(process = %process, error = %e, "log write failed");
                }
                out.clear();
            }
            if !lines.is_empty() {
                self.keep(&tail, &lines);
                lines.clear();
            }
            if eof {
                return;
            }
            // A flood is always ready to read: let a respawn (or another
            // process's lines) in between its chunks, not after Tokio's
            // budget of 128 of them (8 MiB of lines, tens of milliseconds).
            tokio::task::yield_now().await;
        }
    }

    fn push_line(
        &self,
        process: &Arc<str>,
        stream: Stream,
        stamp: &Arc<str>,
        raw: &[u8],
        out: &mut Vec<u8>,
        lines: &mut Vec<LogLine>,
    ) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
        lines.push(LogLine {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            process: process.clone(),
            stream,
            timestamp: stamp.clone(),
            text: Arc::from(text.as_ref()),
        });
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:mm:ss.SSSZ`.
pub fn now_stamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// An append-only file that moves itself to `.1` (and older ones up to `.keep`)
/// once it passes `max_size`.
struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    keep: u32,
}

impl RotatingFile {
    fn open(path: PathBuf, max_size: u64, keep: u32) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            size,
            max_size,
            keep,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        if self.max_size > 0 && self.size >= self.max_size {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |i: u32| PathBuf::from(format!("{}.{i}", self.path.display()));
        if self.keep == 0 {
            self.file.set_len(0)?;
        } else {
            for i in (1..self.keep).rev() {
                let from = numbered(i);
                if from.exists() {
                    std::fs::rename(&from, numbered(i + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn hub(dir: &Path, max_size: u64) -> Arc<LogHub> {
        Arc::new(
            LogHub::new(
                dir.to_path_buf(),
                LogSettings {
                    max_size,
                    keep: 2,
                    tail_lines: 3,
                },
            )
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn lines_are_whole_stamped_and_tailed() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub(dir.path(), 0);
        let input: &[u8] = b"one\ntw\xc3\xa9o\r\nthree\nfour\nno newline";
        hub.clone().capture("p".into(), Stream::Stdout, input).await;
        let text = std::fs::read_to_string(hub.file("p", Stream::Stdout)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        for (l, want) in lines
            .iter()
            .zip(["one", "twéo", "three", "four", "no newline"])
        {
            let (stamp, rest) = l.split_once(": ").unwrap();
            assert_eq!(rest, want);
            assert_eq!(stamp.len(), 24, "{stamp}");
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
                "{stamp}"
            );
        }
        let tail: Vec<_> = hub
            .tail(Some("p"), 10)
            .iter()
            .map(|l| l.text.to_string())
            .collect();
        assert_eq!(
            tail,
            ["three", "four", "no newline"],
            "ring keeps tail_lines"
        );
        assert_eq!(hub.tail(Some("p"), 1)[0].text.as_ref(), "no newline");
        assert!(hub.tail(Some("other"), 10).is_empty());
    }

    #[tokio::test]
    async fn followers_get_new_lines_and_the_channel_goes_with_the_last_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub(dir.path(), 0);
        hub.clone()
            .capture("p".into(), Stream::Stdout, &b"before\n"[..])
            .await;
        assert!(
            hub.follow.lock().unwrap().is_none(),
            "no follower, no buffer"
        );
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        hub.clone()
            .capture(
                "p".into(),
                Stream::Stdout,
                &b"one\nlong line of a flood\n"[..],
            )
            .await;
        for rx in [&mut a, &mut b] {
            assert_eq!(rx.recv().await.unwrap().text.as_ref(), "one");
            assert_eq!(
                rx.recv().await.unwrap().text.as_ref(),
                "long line of a flood"
            );
        }
        drop(a);
        hub.clone()
            .capture("p".into(), Stream::Stdout, &b"two\n"[..])
            .await;
        assert_eq!(b.recv().await.unwrap().text.as_ref(), "two");
        drop(b);
        hub.clone()
            .capture("p".into(), Stream::Stdout, &b"three\n"[..])
            .await;
        assert!(
            hub.follow.lock().unwrap().is_none(),
            "the last follower left"
        );
        let mut c = hub.subscribe();
        hub.clone()
            .capture("p".into(), Stream::Stdout, &b"four\n"[..])
            .await;
        assert_eq!(
            c.recv().await.unwrap().text.as_ref(),
            "four",
            "a new follower is served"
        );
        assert_eq!(
            hub.tail(Some("p"), 10).len(),
            3,
            "the tail is kept all along"
        );
    }

    #[tokio::test]
    async fn a_flood_is_read_whole_as_the_buffer_grows() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub(dir.path(), 0);
        let flood: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        hub.clone()
            .capture("p".into(), Stream::Stdout, flood.as_bytes())
            .await;
        let text = std::fs::read_to_string(hub.file("p", Stream::Stdout)).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        assert!(text.lines().last().unwrap().ends_with(": line 19999"));
    }

    #[tokio::test]
    async fn rotation_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub(dir.path(), 200);
        let input = "x".repeat(50) + "\n";
        let input = input.repeat(40);
        // Feed in small pieces so rotation happens several times.
        let (mut w, r) = tokio::io::duplex(64);
        let t = tokio::spawn(hub.clone().capture("p".into(), Stream::Stderr, r));
        for chunk in input.as_bytes().chunks(100) {
            tokio::io::AsyncWriteExt::write_all(&mut w, chunk)
                .await
                .unwrap();
        }
        drop(w);
        t.await.unwrap();
        let base = hub.file("p", Stream::Stderr);
        assert!(base.exists());
        assert!(PathBuf::from(format!("{}.1", base.display())).exists());
        assert!(PathBuf::from(format!("{}.2", base.display())).exists());
        assert!(
            !PathBuf::from(format!("{}.3", base.display())).exists(),
            "keep = 2"
        );
        assert!(std::fs::metadata(&base).unwrap().len() < 200 + 80);
    }
}

//! Whether anything in a folder changed, without a `stat` of a path per look:
//! one inotify instance per process watches the folders asked about, and a
//! look drains its queue with one non-blocking read, bumping the generation
//! of each folder an event names. A cache that keeps the generation it last
//! checked a file at skips the `stat` while the generation stands.
//!
//! An event is queued by the kernel within the write, rename or delete that
//! causes it, so a change another program finished before a look is seen by
//! that look. Where inotify is not to be had (no instances left, a folder not
//! there yet, a watch dropped because the folder went, a queue overflow) the
//! answer is "unknown", and the caller falls back to its `stat`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

struct Watches {
    fd: Inotify,
    by_dir: HashMap<PathBuf, (WatchDescriptor, u64)>,
    /// Bumped on every event of any folder, so generations never repeat.
    clock: u64,
}

fn watches() -> Option<&'static Mutex<Watches>> {
    static W: OnceLock<Option<Mutex<Watches>>> = OnceLock::new();
    W.get_or_init(|| {
        let fd = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
        Some(Mutex::new(Watches {
            fd,
            by_dir: HashMap::new(),
            clock: 1,
        }))
    })
    .as_ref()
}

const MASK: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF);

/// The generation of `dir`: the same number as at an earlier look means no
/// file in it changed since. `None` when it cannot be told (stat instead).
pub fn generation(dir: &Path) -> Option<u64> {
    let mut w = watches()?.lock().unwrap_or_else(|e| e.into_inner());
    drain(&mut w);
    if let Some((_, generation)) = w.by_dir.get(dir) {
        return Some(*generation);
    }
    let wd = w.fd.add_watch(dir, MASK).ok()?;
    let generation = w.clock;
    w.by_dir.insert(dir.to_path_buf(), (wd, generation));
    // Unknown this time: whatever happened before the watch is not in the queue.
    None
}

fn drain(w: &mut Watches) {
    loop {
        // Nothing queued, the usual case: one `poll`, where a read would
        // clear a 4 KiB buffer and make a list for nothing (every request
        // of the api server looks here twice).
        if !queued(&w.fd) {
            return;
        }
        match w.fd.read_events() {
            Ok(events) if !events.is_empty() => {
                for e in events {
                    w.clock += 1;
                    let clock = w.clock;
                    if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                        // Events were lost: every folder is unknown again.
                        w.by_dir.clear();
                        continue;
                    }
                    let gone = e.mask.intersects(
                        AddWatchFlags::IN_IGNORED
                            | AddWatchFlags::IN_DELETE_SELF
                            | AddWatchFlags::IN_MOVE_SELF,
                    );
                    w.by_dir.retain(|_, (wd, generation)| {
                        if *wd == e.wd {
                            *generation = clock;
                            return !gone;
                        }
                        true
                    });
                }
            }
            Err(Errno::EINTR) => continue,
            // Empty (EAGAIN) or broken: nothing more to learn now.
            _ => return,
        }
    }
}

/// Whether an event waits in `fd`'s queue (or `poll` could not tell).
fn queued(fd: &Inotify) -> bool {
    use std::os::fd::AsFd;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_stands_until_a_file_in_the_folder_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(generation(d), None, "unknown until watched");
        let g = generation(d).expect("watched");
        assert_eq!(generation(d), Some(g));
        std::fs::write(d.join("a.json"), "{}").unwrap();
        let g2 = generation(d).unwrap();
        assert_ne!(g2, g, "a write is seen at the next look");
        assert_eq!(generation(d), Some(g2));
        // A rename over the file (an atomic write by another program).
        std::fs::write(d.join(".a.tmp"), "[]").unwrap();
        let g3 = generation(d).unwrap();
        std::fs::rename(d.join(".a.tmp"), d.join("a.json")).unwrap();
        assert_ne!(generation(d).unwrap(), g3);
        // Another folder's changes leave this one's generation alone.
        let other = tempfile::tempdir().unwrap();
        generation(other.path());
        let g4 = generation(d).unwrap();
        std::fs::write(other.path().join("b"), "x").unwrap();
        assert_eq!(generation(d), Some(g4));
    }

    #[test]
    fn a_folder_that_goes_is_unknown_again() {
        let parent = tempfile::tempdir().unwrap();
        let d = parent.path().join("auth");
        assert_eq!(generation(&d), None, "missing: unknown");
        std::fs::create_dir(&d).unwrap();
        generation(&d);
        assert!(generation(&d).is_some());
        std::fs::remove_dir(&d).unwrap();
        assert_eq!(generation(&d), None, "gone: unknown");
        std::fs::create_dir(&d).unwrap();
        assert_eq!(generation(&d), None, "back: watched anew, unknown once");
        assert!(generation(&d).is_some());
    }
}

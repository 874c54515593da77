//! Children that must not outlive their parent.
//!
//! One of the two places in the workspace that need `unsafe` (the other: the
//! supervisor daemon's `malloc_trim`): `pre_exec` runs between
//! fork and exec, where only async-signal-safe calls are allowed; `prctl` is one.

use nix::sys::signal::Signal;

/// Makes the child receive `signal` when the thread that spawned it dies (for a
/// Tokio worker thread or the main thread: when this process dies, `kill -9`
/// included), and puts it in a process group of its own when `own_group` is set,
/// so that the whole group can be signalled at once.
pub fn die_with_parent(cmd: &mut std::process::Command, signal: Signal, own_group: bool) {
    use std::os::unix::process::CommandExt;
    if own_group {
        cmd.process_group(0);
    }
    let parent = nix::unistd::getpid();
    #[allow(unsafe_code)]
    // SAFETY: the closure only calls prctl(2) and getppid(2), both async-signal-safe,
    // and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(signal).map_err(std::io::Error::from)?;
            // The parent may have died between fork and prctl: then nobody sends the signal.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
}

//! Resource figures per process group: one pass over `/proc` every
//! [`SAMPLE_INTERVAL`] sums resident memory and CPU time of every member of each
//! supervised group (the child and all it spawned), and hands the figures to each
//! process's task, which enforces `max_memory_restart`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::model::ProcessInfo;
use crate::process::Cmd;

/// How often usage is sampled.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Default, Clone, Copy)]
struct Totals {
    rss: u64,
    ticks: u64,
}

/// Sums RSS (bytes) and CPU ticks per process group, over all processes.
fn totals_by_group() -> HashMap<i32, Totals> {
    let page = procfs::page_size();
    let mut out: HashMap<i32, Totals> = HashMap::new();
    let Ok(all) = procfs::process::all_processes() else {
        return out;
    };
    for p in all.flatten() {
        if let Ok(stat) = p.stat() {
            let t = out.entry(stat.pgrp).or_default();
            t.rss += stat.rss * page;
            t.ticks += stat.utime + stat.stime;
        }
    }
    out
}

/// Runs until `shutdown`, sampling the groups of the processes `table` gives
/// (asked again on every tick: the table is live).
pub(crate) async fn run(
    table: impl Fn() -> Vec<(watch::Receiver<ProcessInfo>, mpsc::Sender<Cmd>)> + Send + 'static,
    shutdown: CancellationToken,
) {
    let tps = procfs::ticks_per_second() as f64;
    let mut last: HashMap<i32, (u64, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let procs = table();
        let pids: Vec<Option<u32>> = procs.iter().map(|(info, _)| info.borrow().pid).collect();
        if pids.iter().all(Option::is_none) {
            continue;
        }
        let totals = tokio::task::spawn_blocking(totals_by_group)
            .await
            .unwrap_or_default();
        let now = Instant::now();
        let mut seen = HashMap::new();
        for ((_, tx), pid) in procs.iter().zip(pids) {
            let Some(pid) = pid else { continue };
            let pgid = pid as i32;
            let t = totals.get(&pgid).copied().unwrap_or_default();
            let cpu = match last.get(&pgid) {
                Some((ticks, at)) if t.ticks >= *ticks => {
                    let secs = now.duration_since(*at).as_secs_f64().max(1e-3);
                    (t.ticks - ticks) as f64 / tps / secs * 100.0
                }
                _ => 0.0,
            };
            seen.insert(pgid, (t.ticks, now));
            let _ = tx.try_send(Cmd::Usage { rss: t.rss, cpu });
        }
        last = seen;
    }
}

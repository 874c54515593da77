//! Changing the live table: one group's full desired table in, and the
//! supervisor starts what is new, stops and drops what is gone, restarts what
//! changed (on its new specification), and leaves every unchanged process and
//! its pid alone. A table that clashes with another group (a process name, a
//! port) is refused whole, before anything changes.

use std::path::Path;

use portos_config::{Config, ProcessSpec};
use tokio::sync::oneshot;

use crate::process::Cmd;
use crate::{Supervisor, SupervisorError, read, write};

/// What an apply did, by process name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub started: Vec<String>,
    pub restarted: Vec<String>,
    pub stopped: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Supervisor {
    /// Parses `text` (as if read from `source`, relative paths against
    /// `root`) with the same messages as at start, and applies it as the whole
    /// table of `group`. An app's group is kept in the data dir for the next start.
    pub async fn apply_text(
        &self,
        group: &str,
        text: &str,
        source: &Path,
        root: &Path,
    ) -> Result<Applied, SupervisorError> {
        let mut config = Config::parse_in(text, source, root)
            .map_err(|e| SupervisorError::Invalid(e.to_string()))?;
        if config.tls == Some(portos_config::Tls::Tailscale) {
            // The certificate `portos up` fetched from Tailscale into the data dir.
            if let Some((cert, key)) = tailscale_files(self.data_dir()) {
                config.serve_tls_with(&cert, &key);
            }
        }
        let applied = self.apply(group, config).await?;
        if group != portos_config::PORTOS_GROUP {
            crate::groups::save(self.data_dir(), group, text, root)?;
        }
        Ok(applied)
    }

    /// Takes a group out: its processes stopped (dependents first) and dropped,
    /// and its kept table removed. An unknown group is `NotFound`.
    pub async fn remove_group(&self, group: &str) -> Result<Applied, SupervisorError> {
        let known = read(&self.inner.table).groups().iter().any(|g| g == group);
        let kept = crate::groups::remove(self.data_dir(), group)?;
        if !known && !kept {
            return Err(SupervisorError::NotFound(group.to_string()));
        }
        let empty = Config {
            processes: Vec::new(),
            ..self.config().clone()
        };
        self.apply(group, empty).await
    }

    /// Sets the whole table of `group` to `config`'s processes.
    pub async fn apply(&self, group: &str, config: Config) -> Result<Applied, SupervisorError> {
        self.apply_holding(group, config, &[]).await
    }

    /// [`Supervisor::apply`], where new processes named in `hold` are added
    /// stopped (the owner stopped them before the last shutdown).
    pub async fn apply_holding(
        &self,
        group: &str,
        config: Config,
        hold: &[String],
    ) -> Result<Applied, SupervisorError> {
        portos_config::check_group(group).map_err(SupervisorError::Invalid)?;
        if self.inner.shutdown.is_cancelled() {
            return Err(SupervisorError::ShuttingDown);
        }
        let _one_at_a_time = self.inner.applying.lock().await;
        let wanted = config.in_group(group).processes;
        let (gone, changed, added, unchanged) = {
            let table = read(&self.inner.table);
            check_against_others(&table.handles, group, &wanted)?;
            let old = table.group(group);
            let gone: Vec<String> = old
                .iter()
                .filter(|o| !wanted.iter().any(|w| w.name == o.name))
                .map(|o| o.name.clone())
                .collect();
            let mut changed = Vec::new();
            let mut added = Vec::new();
            let mut unchanged = Vec::new();
            for w in &wanted {
                match old.iter().find(|o| o.name == w.name) {
                    None => added.push(w.clone()),
                    Some(o) if *o != w => changed.push(w.clone()),
                    Some(_) => unchanged.push(w.name.clone()),
                }
            }
            (gone, changed, added, unchanged)
        };

        // Gone: stopped, dependents first, then dropped.
        let order = read(&self.inner.table).stop_order(&gone);
        for n in &order {
            self.ask(n, Cmd::Stop).await?;
        }
        write(&self.inner.table).remove(&gone);

        // New: added stopped, so a changed one may depend on them.
        write(&self.inner.table).add(&added, &self.inner.shared);

        // Changed: each task takes its new specification (restarting a running child).
        for spec in portos_config::start_order(&changed) {
            self.replace(spec).await?;
        }
        let order: Vec<String> = wanted.iter().map(|p| p.name.clone()).collect();
        write(&self.inner.table).reorder(group, &order);

        // New ones start (but those held), with what they depend on.
        let names: Vec<String> = added
            .iter()
            .map(|p| p.name.clone())
            .filter(|n| !hold.contains(n))
            .collect();
        let starts = read(&self.inner.table).with_dependencies(&names);
        for n in starts.iter().filter(|n| names.contains(n)) {
            self.ask(n, Cmd::Start).await?;
        }
        Ok(Applied {
            started: names,
            restarted: changed.into_iter().map(|p| p.name).collect(),
            stopped: gone,
            unchanged,
        })
    }

    async fn replace(&self, spec: &ProcessSpec) -> Result<(), SupervisorError> {
        let (h, deps) = {
            let table = read(&self.inner.table);
            let h = table
                .handle(&spec.name)
                .cloned()
                .ok_or_else(|| SupervisorError::NotFound(spec.name.clone()))?;
            (h, table.deps_of(spec))
        };
        let (reply, done) = oneshot::channel();
        h.tx.send(Cmd::Replace {
            spec: Box::new(spec.clone()),
            deps,
            reply,
        })
        .await
        .map_err(|_| SupervisorError::ShuttingDown)?;
        done.await.map_err(|_| SupervisorError::ShuttingDown)?;
        write(&self.inner.table).set_spec(spec);
        Ok(())
    }

    /// The groups in the table, in the order they came (`portos` first).
    pub fn groups(&self) -> Vec<String> {
        read(&self.inner.table).groups()
    }
}

/// Refuses a name or a port another group already has, naming who has it.
fn check_against_others(
    handles: &[crate::table::Handle],
    group: &str,
    wanted: &[ProcessSpec],
) -> Result<(), SupervisorError> {
    let others: Vec<&ProcessSpec> = handles
        .iter()
        .map(|h| &h.spec)
        .filter(|s| s.group != group)
        .collect();
    for w in wanted {
        if let Some(o) = others.iter().find(|o| o.name == w.name) {
            return Err(SupervisorError::Invalid(format!(
                "process name \"{}\" is already used by group \"{}\"",
                w.name, o.group
            )));
        }
        for (label, port) in &w.ports {
            for o in &others {
                if let Some((theirs, _)) = o.ports.iter().find(|(_, p)| p == port) {
                    return Err(SupervisorError::Invalid(format!(
                        "port clash: {port} ({}.{label}) is already used by {}:{}.{theirs}",
                        w.name, o.group, o.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The certificate and key `portos up` keeps in `data/tls/` for Tailscale.
fn tailscale_files(data_dir: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    std::fs::read_dir(data_dir.join("tls"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "crt"))
        .map(|cert| {
            let key = cert.with_extension("key");
            (cert, key)
        })
        .filter(|(_, key)| key.is_file())
}

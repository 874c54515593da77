//! The live process table: one [`Handle`] per process (its specification, the
//! sender of its task and a watch of its snapshot), group by group, and the
//! questions asked of it (names, targets, start and stop order). Changing it is
//! [`crate::apply`]'s job; this module only keeps it consistent.

use std::sync::Arc;

use portos_config::ProcessSpec;
use tokio::sync::{mpsc, watch};

use crate::model::ProcessInfo;
use crate::process::{Actor, Cmd, Shared};

/// One process of the table.
#[derive(Clone)]
pub(crate) struct Handle {
    pub spec: ProcessSpec,
    pub tx: mpsc::Sender<Cmd>,
    pub info: watch::Receiver<ProcessInfo>,
}

/// Every process, group by group; names are unique across groups.
#[derive(Default)]
pub(crate) struct Table {
    pub handles: Vec<Handle>,
}

impl Table {
    pub fn handle(&self, name: &str) -> Option<&Handle> {
        self.handles.iter().find(|h| h.spec.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.handles.iter().map(|h| h.spec.name.clone()).collect()
    }

    /// The groups, in the order they came.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in &self.handles {
            if !out.contains(&h.spec.group) {
                out.push(h.spec.group.clone());
            }
        }
        out
    }

    /// The specifications of one group, in its table's order.
    pub fn group(&self, group: &str) -> Vec<&ProcessSpec> {
        self.handles
            .iter()
            .filter(|h| h.spec.group == group)
            .map(|h| &h.spec)
            .collect()
    }

    /// What the sampler needs of every process.
    pub fn senders(&self) -> Vec<(watch::Receiver<ProcessInfo>, mpsc::Sender<Cmd>)> {
        self.handles
            .iter()
            .map(|h| (h.info.clone(), h.tx.clone()))
            .collect()
    }

    /// `all`; a process by `name` or `group:name`; a group by its name.
    pub fn resolve(&self, target: &str) -> Option<Vec<String>> {
        if target == "all" {
            return Some(self.names());
        }
        if let Some(h) = self.handle(target) {
            return Some(vec![h.spec.name.clone()]);
        }
        if let Some((group, name)) = target.split_once(':') {
            return self
                .handle(name)
                .filter(|h| h.spec.group == group)
                .map(|h| vec![h.spec.name.clone()]);
        }
        let members: Vec<String> = self.group(target).iter().map(|s| s.name.clone()).collect();
        (!members.is_empty()).then_some(members)
    }

    fn specs(&self) -> Vec<ProcessSpec> {
        self.handles.iter().map(|h| h.spec.clone()).collect()
    }

    /// `names` and what they depend on, in start order.
    pub fn with_dependencies(&self, names: &[String]) -> Vec<String> {
        portos_config::with_dependencies(&self.specs(), names)
    }

    /// `names`, dependents before what they depend on.
    pub fn stop_order(&self, names: &[String]) -> Vec<String> {
        portos_config::start_order(&self.specs())
            .into_iter()
            .rev()
            .map(|p| p.name.clone())
            .filter(|n| names.contains(n))
            .collect()
    }

    /// Watches of what `spec` depends on.
    pub fn deps_of(&self, spec: &ProcessSpec) -> Vec<watch::Receiver<ProcessInfo>> {
        spec.depends_on
            .iter()
            .filter_map(|d| self.handle(d).map(|h| h.info.clone()))
            .collect()
    }

    /// Adds `specs` (stopped; their tasks spawned), dependencies first so each
    /// can watch what it depends on.
    pub fn add(&mut self, specs: &[ProcessSpec], shared: &Arc<Shared>) {
        for spec in portos_config::start_order(specs) {
            let deps = self.deps_of(spec);
            let (tx, rx) = mpsc::channel(64);
            let (actor, info) = Actor::new(spec.clone(), shared.clone(), rx, deps);
            tokio::spawn(actor.run());
            self.handles.push(Handle {
                spec: spec.clone(),
                tx,
                info,
            });
        }
    }

    /// Puts `group`'s processes in `order` (its table's), where the group
    /// stood (a new group goes last).
    pub fn reorder(&mut self, group: &str, order: &[String]) {
        let at = self
            .handles
            .iter()
            .position(|h| h.spec.group == group)
            .map(|i| {
                self.handles[..i]
                    .iter()
                    .filter(|h| h.spec.group != group)
                    .count()
            });
        let (mut members, mut all): (Vec<Handle>, Vec<Handle>) = std::mem::take(&mut self.handles)
            .into_iter()
            .partition(|h| h.spec.group == group);
        members.sort_by_key(|h| order.iter().position(|n| *n == h.spec.name));
        let at = at.unwrap_or(all.len()).min(all.len());
        all.splice(at..at, members);
        self.handles = all;
    }

    /// Takes `names` out of the table; their tasks end once their senders are gone.
    pub fn remove(&mut self, names: &[String]) {
        self.handles.retain(|h| !names.contains(&h.spec.name));
    }

    /// Sets the specification kept for `name` (after its task took it).
    pub fn set_spec(&mut self, spec: &ProcessSpec) {
        if let Some(h) = self.handles.iter_mut().find(|h| h.spec.name == spec.name) {
            h.spec = spec.clone();
        }
    }
}

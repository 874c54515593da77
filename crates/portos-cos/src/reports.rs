//! Daily reports (`data/cos/reports/<date>.json`, the original's shape, from
//! the archive, so past days keep their agents) and the health check
//! (errored processes, memory and disk pressure), which records issues,
//! raises `cos:health:*` and adds one CoS task per errored process awaiting
//! the owner's approval — never a restart, and nothing on a read.

use serde_json::{Value, json};

use crate::CosError;
use crate::orchestrator::Cos;
use crate::state::Agent;
use crate::tasks::{Approval, Kind, Priority, Task};

const REPORTS: &str = "cos/reports";

pub(crate) fn check_date(date: &str) -> Result<(), CosError> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(drop)
        .map_err(|_| CosError::invalid(format!("date {date:?} is not YYYY-MM-DD")))
}

fn summary_of(a: &Agent) -> Value {
    let r = a.result.clone().unwrap_or_default();
    json!({
        "id": a.id, "taskId": a.task_id, "success": r["success"] == true,
        "duration": r["duration"], "status": a.status,
        "description": a.meta("taskDescription").map(|d| d.lines().next().unwrap_or_default().to_string()),
        "providerId": a.meta("providerId"), "model": a.meta("model"),
        "completedAt": a.completed_at,
    })
}

impl Cos {
    /// Writes the report of `date` (today, UTC, by default) and answers it.
    pub async fn generate_report(&self, date: Option<&str>) -> Result<Value, CosError> {
        let today = portos_core::time::now_iso()[..10].to_string();
        let date = date.unwrap_or(&today);
        check_date(date)?;
        let agents = self.history_of(date).await?;
        let ok = agents
            .iter()
            .filter(|a| a.result.as_ref().is_some_and(|r| r["success"] == true))
            .count();
        let report = json!({
            "date": date,
            "generated": portos_core::time::now_iso(),
            "summary": {"tasksCompleted": ok, "tasksFailed": agents.len() - ok, "totalAgents": agents.len()},
            "agents": agents.iter().map(summary_of).collect::<Vec<_>>(),
        });
        self.inner
            .store
            .save(&format!("{REPORTS}/{date}.json"), &report)
            .await?;
        Ok(report)
    }

    /// `GET /api/cos/reports/today`: today's report, made now when there is none.
    pub async fn today_report(&self) -> Result<Value, CosError> {
        let today = portos_core::time::now_iso()[..10].to_string();
        match self.report(&today).await? {
            Some(r) => Ok(r),
            None => self.generate_report(Some(&today)).await,
        }
    }

    /// `GET /api/cos/reports`: the dates with a report, newest first.
    pub async fn reports(&self) -> Value {
        let dir = self.data_dir().join(REPORTS);
        let mut dates: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".json")
                            .map(str::to_string)
                    })
                    .filter(|d| check_date(d).is_ok())
                    .collect()
            })
            .unwrap_or_default();
        dates.sort_unstable_by(|a, b| b.cmp(a));
        json!(dates)
    }

    /// The report of `date`; `None` when there is none.
    pub async fn report(&self, date: &str) -> Result<Option<Value>, CosError> {
        check_date(date)?;
        Ok(self
            .inner
            .store
            .load_opt(&format!("{REPORTS}/{date}.json"))
            .await?)
    }

    /// `GET /api/cos/health`.
    pub async fn health(&self) -> Value {
        let core = self.inner.core.lock().await;
        json!({"lastCheck": core.state.stats.last_health_check, "issues": core.state.stats.health_issues})
    }

    /// One health check: its issues recorded and told.
    pub async fn check_health(&self, processes: &[portos_apps::ProcessInfo]) -> Value {
        let cfg = self.inner.core.lock().await.state.config.clone();
        let mut issues: Vec<Value> = Vec::new();
        let errored: Vec<&portos_apps::ProcessInfo> = processes
            .iter()
            .filter(|p| p.state == portos_apps::ProcessState::Errored)
            .collect();
        for p in &errored {
            issues.push(json!({"type": "error", "category": "processes", "message": format!("{} is errored: {}", p.name, p.reason)}));
        }
        if processes.len() > cfg.max_total_processes {
            issues.push(json!({"type": "warning", "category": "processes", "message": format!("{} processes (more than {})", processes.len(), cfg.max_total_processes)}));
        }
        for p in processes
            .iter()
            .filter(|p| p.memory_bytes > cfg.max_process_memory_mb << 20)
        {
            issues.push(json!({"type": "warning", "category": "memory", "message": format!("{} uses {} MB", p.name, p.memory_bytes >> 20)}));
        }
        let m = portos_health::Machine::read();
        let mut metrics = json!({"processes": processes.len(), "errored": errored.len(), "memoryTotal": m.total, "memoryAvailable": m.available, "load1": m.load1});
        if let Some(free) = (m.available * 100).checked_div(m.total) {
            let used = 100 - free;
            if used >= u64::from(cfg.memory_warn_percent) {
                issues.push(json!({"type": "warning", "category": "memory", "message": format!("memory {used}% used")}));
            }
        }
        if let Ok(fs) = nix::sys::statvfs::statvfs(self.data_dir())
            && let Some(free) = (fs.blocks_available() * 100).checked_div(fs.blocks())
        {
            let used = 100 - free;
            metrics["diskUsedPercent"] = json!(used);
            if used >= u64::from(cfg.disk_warn_percent) {
                issues.push(json!({"type": "warning", "category": "disk", "message": format!("disk of the data dir {used}% used")}));
            }
        }
        for p in errored {
            self.investigate(&p.name, &p.reason).await;
        }
        let now = portos_core::time::now_iso();
        {
            let mut core = self.inner.core.lock().await;
            core.state.stats.last_health_check = Some(now.clone());
            core.state.stats.health_issues = issues.clone();
            self.save(&core).await;
        }
        let out = json!({"lastCheck": now, "issues": issues, "metrics": metrics});
        self.emit("health:check", out.clone());
        if issues.iter().any(|i| i["type"] == "error") {
            self.emit("health:critical", json!(issues));
        }
        out
    }

    /// A CoS task to look at an errored process, once while one is open.
    async fn investigate(&self, process: &str, reason: &str) {
        let title = format!("[Auto] Investigate errored process {process}");
        let added = self
            .inner
            .queues
            .file(Kind::Cos)
            .edit(|doc| {
                let open = doc.tasks().iter().any(|(t, _)| {
                    t.description.starts_with(&title) && t.status != crate::tasks::Status::Completed
                });
                if !open {
                    let mut t = Task::new(
                        crate::tasks::new_id(Kind::Cos),
                        Priority::High,
                        title.clone(),
                    );
                    t.approval = Some(Approval::Required);
                    t.metadata.insert(
                        "context".into(),
                        json!(format!(
                            "The supervisor reports {process} errored: {reason}"
                        )),
                    );
                    doc.add(t, false);
                }
                !open
            })
            .await;
        if matches!(added, Ok(true)) {
            self.log(
                "warning",
                format!("{process} is errored; a task awaits your approval"),
            );
        }
    }
}

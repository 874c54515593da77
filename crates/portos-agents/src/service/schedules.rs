//! Schedules, their activity log, runs now and on time, and the scheduler loop.

use super::*;

impl Agents {
    pub(super) async fn schedules_file(&self) -> Result<SchedulesFile, AgentsError> {
        Ok(self.store.load(files::SCHEDULES).await?)
    }

    pub(super) fn view(&self, id: &str, s: &Schedule) -> Value {
        let p = self.planner();
        schedule_view(id, s, p.is_active(id), p.next_of(id))
    }

    pub async fn schedules(
        &self,
        agent: Option<&str>,
        account: Option<&str>,
    ) -> Result<Vec<Value>, AgentsError> {
        Ok(self
            .schedules_file()
            .await?
            .schedules
            .iter()
            .filter(|(_, s)| match (agent, account) {
                (Some(g), _) => s.agent_id == g,
                (None, Some(a)) => s.account_id == a,
                (None, None) => true,
            })
            .map(|(id, s)| self.view(id, s))
            .collect())
    }

    pub async fn schedule(&self, id: &str) -> Result<Schedule, AgentsError> {
        self.schedules_file()
            .await?
            .schedules
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))
    }

    pub async fn schedule_view(&self, id: &str) -> Result<Value, AgentsError> {
        Ok(self.view(id, &self.schedule(id).await?))
    }

    pub async fn stats(&self) -> Result<Value, AgentsError> {
        let f = self.schedules_file().await?;
        let mut by_action = serde_json::Map::new();
        for s in f.schedules.values() {
            let n = by_action
                .get(&s.action.kind)
                .and_then(Value::as_u64)
                .unwrap_or(0);
            by_action.insert(s.action.kind.clone(), json!(n + 1));
        }
        Ok(json!({
            "total": f.schedules.len(),
            "enabled": f.schedules.values().filter(|s| s.enabled).count(),
            "active": self.planner().active_count(),
            "totalRuns": f.schedules.values().map(|s| s.run_count).sum::<u64>(),
            "byAction": by_action,
        }))
    }

    pub(super) fn activate(&self, id: &str, s: &Schedule) -> Result<(), AgentsError> {
        if s.enabled {
            let plan = Plan::of(&s.schedule)?;
            self.planner()
                .activate(id, plan, self.now(), None, s.missed_runs, false);
        } else {
            self.planner().deactivate(id);
        }
        self.wake.notify_one();
        Ok(())
    }

    pub async fn create_schedule(&self, body: Value) -> Result<Value, AgentsError> {
        let mut body = body;
        let now = iso(self.now());
        if let Some(o) = body.as_object_mut() {
            for k in ["id", "lastRun", "runCount", "createdAt", "updatedAt"] {
                o.remove(k);
            }
            o.insert("createdAt".into(), json!(now));
            o.insert("updatedAt".into(), json!(now));
        }
        let s: Schedule =
            serde_json::from_value(body).map_err(|e| Invalid(format!("schedule: {e}")))?;
        validate_schedule(&s)?;
        self.agent(&s.agent_id)
            .await
            .map_err(|_| not_found("AGENT_NOT_FOUND", "Agent not found"))?;
        let account = self
            .account(&s.account_id)
            .await
            .map_err(|_| not_found("ACCOUNT_NOT_FOUND", "Account not found"))?;
        if account.agent_id != s.agent_id {
            return Err(AgentsError::Conflict {
                code: "ACCOUNT_AGENT_MISMATCH",
                message: "Account does not belong to this agent".into(),
            });
        }
        if platform_of(&s.action.kind) != Some(account.platform) {
            return Err(Invalid(format!(
                "action.type {} does not run on a {} account",
                s.action.kind,
                account.platform.as_str()
            ))
            .into());
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                f.schedules.insert(id.clone(), s.clone());
                Ok::<_, ()>(())
            })
            .await?
            .ok();
        self.activate(&id, &s)?;
        self.changed("agents:schedule:changed", "scheduleId", "create", &id);
        Ok(self.view(&id, &s))
    }

    pub async fn update_schedule(&self, id: &str, patch: Value) -> Result<Value, AgentsError> {
        let now = iso(self.now());
        // A new action must still run on the schedule's account.
        let platform = match patch.pointer("/action/type").and_then(Value::as_str) {
            Some(_) => {
                let account_id = self.schedule(id).await?.account_id;
                self.account(&account_id).await.ok().map(|a| a.platform)
            }
            None => None,
        };
        let s = self
            .store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                let s = f
                    .schedules
                    .get_mut(id)
                    .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))?;
                let mut v = serde_json::to_value(&*s).map_err(|e| Invalid(e.to_string()))?;
                merge_top(
                    &mut v,
                    &patch,
                    &[
                        "id",
                        "createdAt",
                        "lastRun",
                        "runCount",
                        "agentId",
                        "accountId",
                    ],
                );
                v["updatedAt"] = json!(now);
                let next: Schedule =
                    serde_json::from_value(v).map_err(|e| Invalid(format!("schedule: {e}")))?;
                validate_schedule(&next)?;
                if let Some(p) = platform.filter(|p| platform_of(&next.action.kind) != Some(*p)) {
                    return Err(Invalid(format!(
                        "action.type {} does not run on a {} account",
                        next.action.kind,
                        p.as_str()
                    ))
                    .into());
                }
                *s = next.clone();
                Ok::<_, AgentsError>(next)
            })
            .await??;
        self.activate(id, &s)?;
        self.changed("agents:schedule:changed", "scheduleId", "update", id);
        Ok(self.view(id, &s))
    }

    pub async fn delete_schedule(&self, id: &str) -> Result<(), AgentsError> {
        self.store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                f.schedules
                    .shift_remove(id)
                    .map(|_| ())
                    .ok_or_else(|| not_found("NOT_FOUND", "Schedule not found"))
            })
            .await??;
        self.planner().deactivate(id);
        self.changed("agents:schedule:changed", "scheduleId", "delete", id);
        Ok(())
    }

    pub async fn toggle_schedule(&self, id: &str, enabled: bool) -> Result<Value, AgentsError> {
        self.update_schedule(id, json!({ "enabled": enabled }))
            .await
    }

    // ----- activity -----

    pub(super) async fn log(
        &self,
        agent: &str,
        mut entry: ActivityEntry,
    ) -> Result<(), AgentsError> {
        portos_store::safe_name(agent)?;
        let date = entry.timestamp.get(..10).unwrap_or("unknown").to_string();
        if entry.id.is_empty() {
            entry.id = activity_id(self.now());
        }
        // Appended without reading the day's file, which grows all day.
        self.store
            .append(&files::activity(agent, &date), "activities", entry.clone())
            .await?;
        let mut data = serde_json::to_value(&entry).unwrap_or_default();
        if let Some(o) = data.as_object_mut() {
            o.shift_insert(0, "agentId".into(), json!(agent));
        }
        (self.emit)("agents:activity", data);
        Ok(())
    }

    /// One agent's activity of one UTC day (`YYYY-MM-DD`; today when `None`),
    /// oldest first, the whole day.
    pub async fn activity(
        &self,
        agent: &str,
        date: Option<&str>,
    ) -> Result<Vec<ActivityEntry>, AgentsError> {
        let rel = self.day_file(agent, date)?;
        let all = self
            .store
            .fold(&rel, "activities", Vec::new(), |all, e| all.push(e))
            .await?;
        Ok(all)
    }

    /// One page of an agent's activity of one UTC day, newest first: the
    /// entries of `page.action` (all when `None`), `page.offset` newest
    /// skipped. Read in one pass keeping only `offset + limit` entries, so a
    /// day file of any size costs the page, not the file.
    pub async fn activity_page(
        &self,
        agent: &str,
        date: Option<&str>,
        page: ActivityPage,
    ) -> Result<Vec<ActivityEntry>, AgentsError> {
        let rel = self.day_file(agent, date)?;
        let keep = page.offset.saturating_add(page.limit);
        let ActivityPage {
            action,
            offset,
            limit,
        } = page;
        let newest = self
            .store
            .fold(
                &rel,
                "activities",
                VecDeque::new(),
                move |kept, e: ActivityEntry| {
                    if keep > 0 && action.as_deref().is_none_or(|a| e.action == a) {
                        if kept.len() == keep {
                            kept.pop_front();
                        }
                        kept.push_back(e);
                    }
                },
            )
            .await?;
        Ok(newest.into_iter().rev().skip(offset).take(limit).collect())
    }

    /// `agents/activity/<agent>/<date>.json`, the date checked (today when `None`).
    fn day_file(&self, agent: &str, date: Option<&str>) -> Result<String, AgentsError> {
        portos_store::safe_name(agent)?;
        let today;
        let date = match date {
            Some(d) => d,
            None => {
                today = self.now().format("%Y-%m-%d").to_string();
                &today
            }
        };
        let ok = date.len() == 10 && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
        if !ok {
            return Err(Invalid(format!("date must be YYYY-MM-DD, not {date:?}")).into());
        }
        Ok(files::activity(agent, date))
    }

    /// An activity entry of `action` on `account` (of schedule `schedule`, if any).
    pub(super) fn entry(
        &self,
        schedule: Option<&str>,
        account: &str,
        action: &Action,
        status: &str,
    ) -> ActivityEntry {
        ActivityEntry {
            id: String::new(),
            account_id: account.to_string(),
            schedule_id: schedule.map(str::to_string),
            action: action.kind.clone(),
            params: action.params.clone(),
            status: status.into(),
            result: None,
            error: None,
            timestamp: iso(self.now()),
            duration_ms: None,
        }
    }

    pub(super) async fn skip(&self, id: &str, s: &Schedule, why: &str) -> Result<(), AgentsError> {
        let mut e = self.entry(Some(id), &s.account_id, &s.action, "skipped");
        e.error = Some(why.to_string());
        self.log(&s.agent_id, e).await
    }

    /// The schedule's own limits: cooldown since its last run, and its runs
    /// started today (UTC) for this account and action.
    pub(super) async fn over_limit(&self, s: &Schedule) -> Result<Option<String>, AgentsError> {
        let now = self.now();
        if let (Some(cd), Some(last)) = (
            s.rate_limit.cooldown_ms,
            s.last_run.as_deref().and_then(parse_time),
        ) {
            let free = last + chrono::TimeDelta::milliseconds(cd as i64);
            if now < free {
                return Ok(Some(format!(
                    "rateLimit.cooldownMs: next run allowed at {}",
                    iso(free)
                )));
            }
        }
        if let Some(max) = s.rate_limit.max_per_day {
            let rel = self.day_file(&s.agent_id, None)?;
            let (account, action) = (s.account_id.clone(), s.action.kind.clone());
            // Counted in one pass over the day file, none of it kept.
            let n = self
                .store
                .fold(&rel, "activities", 0usize, move |n, e: ActivityEntry| {
                    let ours =
                        e.status == "started" && e.account_id == account && e.action == action;
                    *n += usize::from(ours);
                })
                .await?;
            if n as u32 >= max {
                return Ok(Some(format!(
                    "rateLimit.maxPerDay: {n} of {max} runs today (UTC)"
                )));
            }
        }
        Ok(None)
    }

    /// `POST /schedules/:id/run`: runs it now, unless a run of it is going.
    pub async fn run_now(self: &Arc<Self>, id: &str) -> Result<Begun, AgentsError> {
        let s = self.schedule(id).await?;
        if !s.enabled {
            return Err(AgentsError::Conflict {
                code: "SCHEDULE_DISABLED",
                message: "Schedule is disabled; enable it to run it".into(),
            });
        }
        if !self.planner().mark_running(id) {
            return Err(AgentsError::Conflict {
                code: "RUN_ACTIVE",
                message: "The previous run of this schedule is still going".into(),
            });
        }
        self.begin(id, s, None).await
    }

    /// Steps 2–5 of a run: limits, `started`, counters, then the action in its
    /// own task. The planner has this schedule marked running.
    pub(super) async fn begin(
        self: &Arc<Self>,
        id: &str,
        s: Schedule,
        why: Option<Why>,
    ) -> Result<Begun, AgentsError> {
        let done = |this: &Arc<Self>| this.planner().finished(id, this.now());
        match self.over_limit(&s).await {
            Ok(Some(why)) => {
                done(self);
                self.skip(id, &s, &why).await?;
                return Ok(Begun::Skipped(why));
            }
            Ok(None) => {}
            Err(e) => {
                done(self);
                return Err(e);
            }
        }
        let mut started = self.entry(Some(id), &s.account_id, &s.action, "started");
        if let Some(Why::Missed(n)) = why {
            started.result = Some(json!({ "missedRuns": n }));
        }
        let now = iso(self.now());
        let counted = self
            .store
            .update(files::SCHEDULES, |f: &mut SchedulesFile| {
                if let Some(x) = f.schedules.get_mut(id) {
                    x.last_run = Some(now.clone());
                    x.run_count += 1;
                }
                Ok::<_, ()>(())
            })
            .await;
        if let Err(e) = counted {
            done(self);
            return Err(e.into());
        }
        self.log(&s.agent_id, started).await?;
        (self.emit)(
            "agents:schedule:execute",
            json!({ "scheduleId": id, "schedule": schedule_view(id, &s, true, None), "timestamp": self.now().timestamp_millis() }),
        );
        let this = self.clone();
        let id = id.to_string();
        Ok(Begun::Started(self.tasks.spawn(async move {
            let began = std::time::Instant::now();
            let out = this.perform(&s.agent_id, &s.account_id, &s.action).await;
            let done = this.entry(Some(&id), &s.account_id, &s.action, "completed");
            let e = this.outcome(done, &out, began);
            if let Err(err) = this.log(&s.agent_id, e).await {
                tracing::error!(schedule = %id, "cannot record the run's outcome: {err}");
            }
            this.planner().finished(&id, this.now());
            this.wake.notify_one();
        })))
    }

    /// The closing activity entry of a run: completed with its result,
    /// skipped with the reason, or failed with the error; and how long it took.
    pub(super) fn outcome(
        &self,
        mut e: ActivityEntry,
        out: &Result<Result<Value, String>, AgentsError>,
        began: std::time::Instant,
    ) -> ActivityEntry {
        match out {
            Ok(Ok(r)) => e.result = Some(r.clone()),
            Ok(Err(why)) => {
                e.status = "skipped".into();
                e.error = Some(why.clone());
            }
            Err(err) => {
                e.status = "failed".into();
                e.error = Some(err.to_string());
            }
        }
        e.duration_ms = Some(began.elapsed().as_millis() as u64);
        e
    }

    /// The action itself: `Ok(Err(reason))` when the account or agent says not now.
    pub(super) async fn perform(
        &self,
        agent_id: &str,
        account_id: &str,
        action: &Action,
    ) -> Result<Result<Value, String>, AgentsError> {
        let account = match self.account(account_id).await {
            Ok(a) => a,
            Err(AgentsError::NotFound { .. }) => {
                return Err(not_found("ACCOUNT_NOT_FOUND", "Account not found"));
            }
            Err(e) => return Err(e),
        };
        if account.status != AccountStatus::Active {
            return Ok(Err(format!("Account status: {}", account.status.as_str())));
        }
        let agent = self.agent(agent_id).await?;
        if !agent.enabled {
            return Ok(Err("Agent disabled".into()));
        }
        let writer = self.author.get().map(|a| crate::actions::Writer {
            author: a.as_ref(),
            agent: &agent,
        });
        let result = execute(
            &self.platforms,
            &account,
            &action.kind,
            &action.params,
            writer,
        )
        .await;
        let suspended = result.as_ref().is_err_and(ActionError::is_suspended);
        let now = iso(self.now());
        self.set_account(account_id, |a| {
            a.last_activity = Some(now);
            if suspended {
                a.status = AccountStatus::Suspended;
            }
        })
        .await?;
        if let (true, Err(e)) = (suspended, &result) {
            self.announce_suspended(account_id, &account, &e.to_string());
        }
        Ok(Ok(result?))
    }

    /// Runs one action for an account right away (the tool routes): recorded
    /// as the agent's activity like a scheduled one.
    pub async fn act(
        &self,
        account_id: &str,
        action: &str,
        params: Value,
    ) -> Result<Value, AgentsError> {
        let account = self.account(account_id).await?;
        if account.status != AccountStatus::Active {
            return Err(AgentsError::Conflict {
                code: "ACCOUNT_INACTIVE",
                message: format!("Account not active: {}", account.status.as_str()),
            });
        }
        let action = Action {
            kind: action.to_string(),
            params,
        };
        let began = std::time::Instant::now();
        let out = self.perform(&account.agent_id, account_id, &action).await;
        let done = self.entry(None, account_id, &action, "completed");
        let e = self.outcome(done, &out, began);
        self.log(&account.agent_id, e).await?;
        match out? {
            Ok(r) => Ok(r),
            Err(why) => Err(AgentsError::Conflict {
                code: "ACTION_SKIPPED",
                message: why,
            }),
        }
    }

    // ----- the scheduler -----

    pub(super) async fn handle(self: &Arc<Self>, f: Firing) -> Option<JoinHandle<()>> {
        let (id, why) = match f {
            Firing::Run { id, why } => (id, Some(why)),
            Firing::Skip { id, why } => {
                if let Ok(s) = self.schedule(&id).await
                    && let Err(e) = self.skip(&id, &s, &why).await
                {
                    tracing::error!(schedule = %id, "cannot record a skipped run: {e}");
                }
                return None;
            }
        };
        let s = match self.schedule(&id).await {
            Ok(s) if s.enabled => s,
            // Gone or switched off since: it stops here.
            _ => {
                let mut p = self.planner();
                p.finished(&id, self.now());
                p.deactivate(&id);
                return None;
            }
        };
        match self.begin(&id, s, why).await {
            Ok(Begun::Started(h)) => Some(h),
            Ok(Begun::Skipped(_)) => None,
            Err(e) => {
                tracing::error!(schedule = %id, "cannot start a run: {e}");
                None
            }
        }
    }

    /// Activates every enabled schedule as PortOS starts, applying each one's
    /// `missedRuns` policy to slots that fell due while it was not running.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<JoinHandle<()>>, AgentsError> {
        let now = self.now();
        let f = self.schedules_file().await?;
        let mut firings = Vec::new();
        for (id, s) in f.schedules.iter().filter(|(_, s)| s.enabled) {
            let plan = match Plan::of(&s.schedule) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(schedule = %id, "not activated: {e}");
                    continue;
                }
            };
            let since = s
                .last_run
                .as_deref()
                .or(Some(s.created_at.as_str()))
                .and_then(parse_time);
            if let Some(f) = self
                .planner()
                .activate(id, plan, now, since, s.missed_runs, true)
            {
                firings.push(f);
            }
        }
        let mut handles = Vec::new();
        for f in firings {
            handles.extend(self.handle(f).await);
        }
        Ok(handles)
    }

    /// Fires what is due by the clock now.
    pub async fn tick(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let firings = self.planner().due(self.now());
        let mut handles = Vec::new();
        for f in firings {
            handles.extend(self.handle(f).await);
        }
        handles
    }

    /// The scheduler: start, then sleep until the next firing (or a change)
    /// and fire, until `cancel`; runs in flight get a few seconds to end.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        if let Err(e) = self.start().await {
            tracing::error!("schedules not started: {e}");
        }
        loop {
            let wait = self
                .planner()
                .next_wake()
                .map(|t| (t - self.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .min(Duration::from_secs(60));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => continue,
            }
            self.tick().await;
        }
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }
}

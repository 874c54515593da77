//! `portos.integrations.v1`: schedules, platform accounts, activity and JIRA
//! over gRPC, answering from the same code as their REST routes (records are
//! the REST answers converted field by field; keys and tokens never included).

use portos_proto::integrations::v1 as pb;
use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use crate::error::ApiError;
use crate::{AppState, grpc::OrStatus};

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn opt(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn schedule_to_proto(v: &Value) -> pb::Schedule {
    let t = &v["schedule"];
    let kind = match t["type"].as_str() {
        Some("cron") => t["cron"].as_str().map(|c| pb::timing::Kind::Cron(c.into())),
        Some("interval") => t["intervalMs"].as_u64().map(pb::timing::Kind::IntervalMs),
        Some("random") => Some(pb::timing::Kind::Random(pb::RandomWindow {
            min_ms: t["randomWindow"]["minMs"].as_u64().unwrap_or(0),
            max_ms: t["randomWindow"]["maxMs"].as_u64().unwrap_or(0),
        })),
        _ => None,
    };
    pb::Schedule {
        id: s(v, "id"),
        agent_id: s(v, "agentId"),
        account_id: s(v, "accountId"),
        action_type: v["action"]["type"].as_str().unwrap_or_default().into(),
        params_json: v["action"]["params"].to_string(),
        timing: Some(pb::Timing { kind }),
        enabled: v["enabled"].as_bool().unwrap_or(false),
        missed_runs: s(v, "missedRuns"),
        max_per_day: v["rateLimit"]["maxPerDay"].as_u64().map(|n| n as u32),
        cooldown_ms: v["rateLimit"]["cooldownMs"].as_u64(),
        last_run: opt(v, "lastRun"),
        run_count: v["runCount"].as_u64().unwrap_or(0),
        is_active: v["isActive"].as_bool().unwrap_or(false),
        next_run: opt(v, "nextRun"),
    }
}

/// A schedule from gRPC as the JSON body `POST /api/agents/schedules` takes.
fn schedule_from_proto(p: pb::Schedule) -> Result<Value, ApiError> {
    let params: Value = if p.params_json.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&p.params_json)
            .map_err(|e| ApiError::validation(format!("params_json is not JSON: {e}")))?
    };
    let timing = match p.timing.and_then(|t| t.kind) {
        Some(pb::timing::Kind::Cron(c)) => json!({ "type": "cron", "cron": c }),
        Some(pb::timing::Kind::IntervalMs(ms)) => json!({ "type": "interval", "intervalMs": ms }),
        Some(pb::timing::Kind::Random(w)) => {
            json!({ "type": "random", "randomWindow": { "minMs": w.min_ms, "maxMs": w.max_ms } })
        }
        None => {
            return Err(ApiError::validation(
                "timing is required: cron, interval_ms or random",
            ));
        }
    };
    let mut rate = json!({});
    if let Some(m) = p.max_per_day {
        rate["maxPerDay"] = json!(m);
    }
    if let Some(c) = p.cooldown_ms {
        rate["cooldownMs"] = json!(c);
    }
    Ok(json!({
        "agentId": p.agent_id, "accountId": p.account_id,
        "action": { "type": p.action_type, "params": params },
        "schedule": timing, "rateLimit": rate, "enabled": p.enabled,
        "missedRuns": if p.missed_runs.is_empty() { "skip".to_string() } else { p.missed_runs },
    }))
}

fn account_to_proto(v: &Value) -> pb::Account {
    pb::Account {
        id: s(v, "id"),
        agent_id: s(v, "agentId"),
        platform: s(v, "platform"),
        username: v["credentials"]["username"]
            .as_str()
            .unwrap_or_default()
            .into(),
        api_key_masked: v["credentials"]["apiKey"].as_str().map(str::to_string),
        status: s(v, "status"),
        last_activity: opt(v, "lastActivity"),
        platform_data_json: v["platformData"].to_string(),
        created_at: s(v, "createdAt"),
    }
}

fn need(id: &str, what: &str) -> Result<(), Status> {
    if id.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{what} is required")));
    }
    Ok(())
}

/// `portos.integrations.v1.Schedules`.
#[derive(Debug, Clone)]
pub struct SchedulesRpc(pub AppState);

#[tonic::async_trait]
impl pb::schedules_server::Schedules for SchedulesRpc {
    async fn list(
        &self,
        req: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesResponse>, Status> {
        let r = req.into_inner();
        let list = self
            .0
            .agents
            .schedules(r.agent_id.as_deref(), r.account_id.as_deref())
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ListSchedulesResponse {
            schedules: list.iter().map(schedule_to_proto).collect(),
        }))
    }

    async fn get(
        &self,
        req: Request<pb::ScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let v = self.0.agents.schedule_view(&id).await.or_status(&self.0)?;
        Ok(Response::new(schedule_to_proto(&v)))
    }

    async fn create(
        &self,
        req: Request<pb::CreateScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let p = req
            .into_inner()
            .schedule
            .ok_or_else(|| Status::invalid_argument("schedule is required"))?;
        let body = schedule_from_proto(p).or_status(&self.0)?;
        let v = self
            .0
            .agents
            .create_schedule(body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(schedule_to_proto(&v)))
    }

    async fn update(
        &self,
        req: Request<pb::UpdateScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let r = req.into_inner();
        need(&r.id, "id")?;
        let patch: Value = serde_json::from_str(&r.patch_json)
            .map_err(|e| Status::invalid_argument(format!("patch_json is not JSON: {e}")))?;
        let v = self
            .0
            .agents
            .update_schedule(&r.id, patch)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(schedule_to_proto(&v)))
    }

    async fn delete(
        &self,
        req: Request<pb::ScheduleRequest>,
    ) -> Result<Response<pb::DeleteScheduleResponse>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        self.0
            .agents
            .delete_schedule(&id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteScheduleResponse {}))
    }

    async fn toggle(
        &self,
        req: Request<pb::ToggleScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        let r = req.into_inner();
        need(&r.id, "id")?;
        let v = self
            .0
            .agents
            .toggle_schedule(&r.id, r.enabled)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(schedule_to_proto(&v)))
    }

    async fn run(
        &self,
        req: Request<pb::ScheduleRequest>,
    ) -> Result<Response<pb::RunScheduleResponse>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let begun = self.0.agents.run_now(&id).await.or_status(&self.0)?;
        let v = self.0.agents.schedule_view(&id).await.or_status(&self.0)?;
        let (run, reason) = match begun {
            portos_agents::Begun::Started(_) => ("started", String::new()),
            portos_agents::Begun::Skipped(why) => ("skipped", why),
        };
        Ok(Response::new(pb::RunScheduleResponse {
            run: run.into(),
            reason,
            schedule: Some(schedule_to_proto(&v)),
        }))
    }

    async fn stats(
        &self,
        _req: Request<pb::ScheduleStatsRequest>,
    ) -> Result<Response<pb::ScheduleStats>, Status> {
        let v = self.0.agents.stats().await.or_status(&self.0)?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Ok(Response::new(pb::ScheduleStats {
            total: n("total") as u32,
            enabled: n("enabled") as u32,
            active: n("active") as u32,
            total_runs: n("totalRuns"),
            by_action: v["byAction"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, c)| (k.clone(), c.as_u64().unwrap_or(0) as u32))
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }
}

/// `portos.integrations.v1.Accounts`.
#[derive(Debug, Clone)]
pub struct AccountsRpc(pub AppState);

#[tonic::async_trait]
impl pb::accounts_server::Accounts for AccountsRpc {
    async fn list(
        &self,
        req: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let r = req.into_inner();
        let list = self
            .0
            .agents
            .accounts(r.agent_id.as_deref(), r.platform.as_deref())
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: list.iter().map(account_to_proto).collect(),
        }))
    }

    async fn get(&self, req: Request<pb::AccountRequest>) -> Result<Response<pb::Account>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let a = self.0.agents.account(&id).await.or_status(&self.0)?;
        Ok(Response::new(account_to_proto(&a.masked(&id))))
    }

    async fn test(
        &self,
        req: Request<pb::AccountRequest>,
    ) -> Result<Response<pb::AccountTestResult>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let v = self.0.agents.test_account(&id).await.or_status(&self.0)?;
        Ok(Response::new(pb::AccountTestResult {
            success: v["success"].as_bool().unwrap_or(false),
            message: s(&v, "message"),
            platform: s(&v, "platform"),
            username: s(&v, "username"),
            platform_status: s(&v, "platformStatus"),
        }))
    }

    async fn claim(
        &self,
        req: Request<pb::AccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let v = self.0.agents.claim_account(&id).await.or_status(&self.0)?;
        Ok(Response::new(account_to_proto(&v)))
    }

    async fn delete(
        &self,
        req: Request<pb::AccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        self.0.agents.delete_account(&id).await.or_status(&self.0)?;
        Ok(Response::new(pb::DeleteAccountResponse {}))
    }
}

/// `portos.integrations.v1.Activity`.
#[derive(Debug, Clone)]
pub struct ActivityRpc(pub AppState);

#[tonic::async_trait]
impl pb::activity_server::Activity for ActivityRpc {
    async fn list(
        &self,
        req: Request<pb::ListActivityRequest>,
    ) -> Result<Response<pb::ListActivityResponse>, Status> {
        let r = req.into_inner();
        need(&r.agent_id, "agent_id")?;
        let date = (!r.date.is_empty()).then_some(r.date.as_str());
        let list = self
            .0
            .agents
            .activity(&r.agent_id, date)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ListActivityResponse {
            entries: list
                .into_iter()
                .map(|e| pb::ActivityEntry {
                    id: e.id,
                    account_id: e.account_id,
                    schedule_id: e.schedule_id,
                    action: e.action,
                    status: e.status,
                    result_json: e.result.map(|r| r.to_string()),
                    error: e.error,
                    timestamp: e.timestamp,
                    duration_ms: e.duration_ms,
                })
                .collect(),
        }))
    }
}

/// `portos.integrations.v1.Jira`.
#[derive(Debug, Clone)]
pub struct JiraRpc(pub AppState);

#[tonic::async_trait]
impl pb::jira_server::Jira for JiraRpc {
    async fn list_instances(
        &self,
        _req: Request<pb::ListJiraInstancesRequest>,
    ) -> Result<Response<pb::ListJiraInstancesResponse>, Status> {
        let v = self
            .0
            .jira
            .list()
            .await
            .map_err(ApiError::from)
            .or_status(&self.0)?;
        Ok(Response::new(pb::ListJiraInstancesResponse {
            instances: v
                .iter()
                .map(|i| pb::JiraInstance {
                    id: s(i, "id"),
                    name: s(i, "name"),
                    base_url: s(i, "baseUrl"),
                    email: s(i, "email"),
                    has_api_token: i["hasApiToken"].as_bool().unwrap_or(false),
                    token_updated_at: opt(i, "tokenUpdatedAt"),
                    has_ca_cert: i["hasCaCert"].as_bool().unwrap_or(false),
                })
                .collect(),
        }))
    }

    async fn test(
        &self,
        req: Request<pb::JiraInstanceRequest>,
    ) -> Result<Response<pb::JiraTestResult>, Status> {
        let id = req.into_inner().id;
        need(&id, "id")?;
        let outcome = self
            .0
            .jira
            .test(&id)
            .await
            .map_err(ApiError::from)
            .or_status(&self.0)?;
        Ok(Response::new(match outcome {
            Ok((user, email)) => pb::JiraTestResult {
                success: true,
                user,
                email,
                error: None,
            },
            Err(e) => pb::JiraTestResult {
                success: false,
                user: None,
                email: None,
                error: Some(ApiError::from(e).message),
            },
        }))
    }

    async fn create_ticket(
        &self,
        req: Request<pb::CreateTicketRequest>,
    ) -> Result<Response<pb::CreatedTicket>, Status> {
        let r = req.into_inner();
        need(&r.instance_id, "instance_id")?;
        let new: portos_jira::NewIssue = serde_json::from_str(&r.ticket_json)
            .map_err(|e| Status::invalid_argument(format!("ticket_json: {e}")))?;
        let c = self
            .0
            .jira
            .create_ticket(&r.instance_id, &new)
            .await
            .map_err(ApiError::from)
            .or_status(&self.0)?;
        Ok(Response::new(pb::CreatedTicket {
            ticket_id: c.key,
            url: c.url,
        }))
    }

    async fn my_sprint_tickets(
        &self,
        req: Request<pb::SprintTicketsRequest>,
    ) -> Result<Response<pb::SprintTicketsResponse>, Status> {
        let r = req.into_inner();
        need(&r.instance_id, "instance_id")?;
        need(&r.project_key, "project_key")?;
        let list = self
            .0
            .jira
            .sprint_issues(&r.instance_id, &r.project_key)
            .await
            .map_err(ApiError::from)
            .or_status(&self.0)?;
        Ok(Response::new(pb::SprintTicketsResponse {
            tickets: list
                .into_iter()
                .map(|t| pb::SprintTicket {
                    key: t.key,
                    summary: t.summary,
                    status: t.status,
                    priority: t.priority,
                    issue_type: t.issue_type,
                    url: t.url,
                })
                .collect(),
        }))
    }
}

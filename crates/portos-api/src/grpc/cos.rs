//! `portos.cos.v1.ChiefOfStaff` over `portos-cos`: each call parses, calls
//! the one `Cos` method its REST route calls and converts the answer here.

use serde_json::Value;
use tonic::{Request, Response, Status};

use portos_proto::cos::v1 as pb;

use super::{OrStatus, fail, json_object};
use crate::AppState;
use crate::error::ApiError;

/// `portos.cos.v1.ChiefOfStaff`.
#[derive(Debug, Clone)]
pub struct CosRpc(pub(super) AppState);

type Answer<T> = Result<Response<T>, Status>;

fn text(v: &Value) -> String {
    match v {
        Value::Null => "{}".into(),
        v => v.to_string(),
    }
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn task(t: &Value) -> pb::Task {
    pb::Task {
        id: t["id"].as_str().unwrap_or_default().into(),
        status: t["status"].as_str().unwrap_or_default().into(),
        priority: t["priority"].as_str().unwrap_or_default().into(),
        approval_required: t["approvalRequired"] == true,
        description: t["description"].as_str().unwrap_or_default().into(),
        metadata_json: text(&t["metadata"]),
        section: opt(&t["section"]),
        task_type: t["taskType"].as_str().unwrap_or_default().into(),
    }
}

fn agent(a: &Value) -> pb::Agent {
    let output = a["output"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["line"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    pb::Agent {
        id: a["id"].as_str().unwrap_or_default().into(),
        task_id: a["taskId"].as_str().unwrap_or_default().into(),
        status: a["status"].as_str().unwrap_or_default().into(),
        started_at: a["startedAt"].as_str().unwrap_or_default().into(),
        completed_at: opt(&a["completedAt"]),
        metadata_json: text(&a["metadata"]),
        result_json: text(&a["result"]),
        output,
    }
}

fn control(answer: Value) -> pb::ControlResponse {
    pb::ControlResponse {
        success: answer["success"] == true,
        error: opt(&answer["error"]),
        answer_json: answer.to_string(),
    }
}

fn kind_param(t: &str) -> Option<&str> {
    (!t.is_empty()).then_some(t)
}

#[tonic::async_trait]
impl pb::chief_of_staff_server::ChiefOfStaff for CosRpc {
    async fn get_status(&self, _: Request<pb::StatusRequest>) -> Answer<pb::Status> {
        let s = self.0.cos.status().await;
        Ok(Response::new(pb::Status {
            running: s["running"] == true,
            paused: s["paused"] == true,
            paused_at: opt(&s["pausedAt"]),
            pause_reason: opt(&s["pauseReason"]),
            active_agents: s["activeAgents"].as_u64().unwrap_or(0) as u32,
            stats_json: text(&s["stats"]),
            provider_id: opt(&s["provider"]["id"]),
        }))
    }

    async fn start(&self, _: Request<pb::ControlRequest>) -> Answer<pb::ControlResponse> {
        Ok(Response::new(control(
            self.0.cos.start().await.or_status(&self.0)?,
        )))
    }

    async fn stop(&self, _: Request<pb::ControlRequest>) -> Answer<pb::ControlResponse> {
        Ok(Response::new(control(self.0.cos.stop().await)))
    }

    async fn pause(&self, req: Request<pb::PauseRequest>) -> Answer<pb::ControlResponse> {
        Ok(Response::new(control(
            self.0.cos.pause(req.into_inner().reason).await,
        )))
    }

    async fn resume(&self, _: Request<pb::ControlRequest>) -> Answer<pb::ControlResponse> {
        Ok(Response::new(control(self.0.cos.resume().await)))
    }

    async fn evaluate(&self, _: Request<pb::ControlRequest>) -> Answer<pb::ControlResponse> {
        Ok(Response::new(control(self.0.cos.evaluate().await)))
    }

    async fn get_config(&self, _: Request<pb::ConfigRequest>) -> Answer<pb::Config> {
        Ok(Response::new(pb::Config {
            config_json: self.0.cos.config().await.to_string(),
        }))
    }

    async fn update_config(&self, req: Request<pb::UpdateConfigRequest>) -> Answer<pb::Config> {
        let patch = json_object(&self.0, "patch_json", &req.into_inner().patch_json)?;
        let cfg = self.0.cos.set_config(&patch).await.or_status(&self.0)?;
        Ok(Response::new(pb::Config {
            config_json: cfg.to_string(),
        }))
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Answer<pb::ListTasksResponse> {
        let which = req.into_inner().task_type;
        let queues: &[&str] = match which.as_str() {
            "" => &["user", "cos"],
            "user" => &["user"],
            "internal" => &["cos"],
            other => {
                return Err(fail(
                    &self.0,
                    ApiError::validation(format!("task_type {other:?} is not user or internal")),
                ));
            }
        };
        let all = self.0.cos.tasks().await.or_status(&self.0)?;
        let tasks = queues
            .iter()
            .flat_map(|q| all[*q]["tasks"].as_array().cloned().unwrap_or_default())
            .map(|t| task(&t))
            .collect();
        Ok(Response::new(pb::ListTasksResponse { tasks }))
    }

    async fn add_task(&self, req: Request<pb::AddTaskRequest>) -> Answer<pb::Task> {
        let body = json_object(&self.0, "task_json", &req.into_inner().task_json)?;
        let t = self.0.cos.add_task(&body).await.or_status(&self.0)?;
        Ok(Response::new(task(&t)))
    }

    async fn update_task(&self, req: Request<pb::UpdateTaskRequest>) -> Answer<pb::Task> {
        let r = req.into_inner();
        let body = json_object(&self.0, "patch_json", &r.patch_json)?;
        let t = self
            .0
            .cos
            .update_task(&r.id, &body)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(task(&t)))
    }

    async fn delete_task(&self, req: Request<pb::TaskRequest>) -> Answer<pb::DeleteTaskResponse> {
        let r = req.into_inner();
        self.0
            .cos
            .delete_task(&r.id, kind_param(&r.task_type))
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::DeleteTaskResponse { deleted: true }))
    }

    async fn reorder_tasks(
        &self,
        req: Request<pb::ReorderTasksRequest>,
    ) -> Answer<pb::ReorderTasksResponse> {
        let ids = req.into_inner().task_ids;
        self.0.cos.reorder(&ids).await.or_status(&self.0)?;
        Ok(Response::new(pb::ReorderTasksResponse { order: ids }))
    }

    async fn approve_task(&self, req: Request<pb::TaskRequest>) -> Answer<pb::Task> {
        let t = self
            .0
            .cos
            .approve(&req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(task(&t)))
    }

    async fn list_agents(
        &self,
        _: Request<pb::ListAgentsRequest>,
    ) -> Answer<pb::ListAgentsResponse> {
        let all = self.0.cos.agents().await;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: all
                .as_array()
                .map(|a| a.iter().map(agent).collect())
                .unwrap_or_default(),
        }))
    }

    async fn get_agent(&self, req: Request<pb::AgentRequest>) -> Answer<pb::Agent> {
        let a = self
            .0
            .cos
            .agent(&req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(agent(&a)))
    }

    async fn terminate_agent(
        &self,
        req: Request<pb::AgentRequest>,
    ) -> Answer<pb::TerminateAgentResponse> {
        self.0
            .cos
            .terminate(&req.into_inner().id)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::TerminateAgentResponse { success: true }))
    }

    async fn get_learning_summary(
        &self,
        _: Request<pb::LearningRequest>,
    ) -> Answer<pb::LearningSummary> {
        let s = self.0.cos.learning_summary().await;
        Ok(Response::new(pb::LearningSummary {
            status: s["status"].as_str().unwrap_or_default().into(),
            status_message: s["statusMessage"].as_str().unwrap_or_default().into(),
            total_types: s["totalTypes"].as_u64().unwrap_or(0) as u32,
            total_completed: s["totalCompleted"].as_u64().unwrap_or(0),
            overall_success_rate: s["overallSuccessRate"].as_u64().map(|r| r as u32),
        }))
    }

    async fn generate_report(&self, req: Request<pb::ReportRequest>) -> Answer<pb::Report> {
        let date = req.into_inner().date;
        let r = self
            .0
            .cos
            .generate_report(kind_param(&date))
            .await
            .or_status(&self.0)?;
        let n = |k: &str| r["summary"][k].as_u64().unwrap_or(0) as u32;
        Ok(Response::new(pb::Report {
            date: r["date"].as_str().unwrap_or_default().into(),
            total_agents: n("totalAgents"),
            tasks_completed: n("tasksCompleted"),
            tasks_failed: n("tasksFailed"),
            report_json: r.to_string(),
        }))
    }
}

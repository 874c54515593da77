//! `portos.api.v1.History` over `portos-history`.

use tonic::{Request, Response, Status};

use portos_proto::api::v1 as pb;

use super::OrStatus;
use crate::AppState;

fn entry_to_proto(e: &portos_store::types::HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        id: e.id.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        target_name: e.target_name.clone(),
        details_json: e.details.to_string(),
        success: e.success,
        error: e.error.clone(),
        timestamp: e.timestamp.clone(),
    }
}

/// `portos.api.v1.History`.
#[derive(Debug, Clone)]
pub struct HistoryRpc(pub(super) AppState);

#[tonic::async_trait]
impl pb::history_server::History for HistoryRpc {
    async fn list(
        &self,
        req: Request<pb::ListHistoryRequest>,
    ) -> Result<Response<pb::ListHistoryResponse>, Status> {
        let r = req.into_inner();
        let f = portos_history::Filter {
            limit: if r.limit == 0 { 100 } else { r.limit as usize },
            offset: r.offset as usize,
            action: r.action,
            target: r.target,
            success: r.success,
        };
        let page = self.0.history.query(&f).await.or_status(&self.0)?;
        Ok(Response::new(pb::ListHistoryResponse {
            total: page.total as u32,
            entries: page.entries().map(entry_to_proto).collect(),
        }))
    }

    async fn stats(
        &self,
        _req: Request<pb::HistoryStatsRequest>,
    ) -> Result<Response<pb::HistoryStats>, Status> {
        let s = self.0.history.stats().await.or_status(&self.0)?;
        Ok(Response::new(pb::HistoryStats {
            total: s.total as u32,
            success_rate: s.success_percent(),
            last_24h: s.last24h as u32,
            by_action: s
                .by_action
                .into_iter()
                .map(|(k, v)| (k, v as u32))
                .collect(),
        }))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteHistoryRequest>,
    ) -> Result<Response<pb::DeleteHistoryResponse>, Status> {
        let id = req.into_inner().id;
        if id.is_empty() {
            return Err(Status::invalid_argument("id is required"));
        }
        let deleted = self.0.history.delete(&id).await.or_status(&self.0)?;
        if !deleted {
            return Err(Status::not_found(format!("no history entry {id:?}")));
        }
        Ok(Response::new(pb::DeleteHistoryResponse { deleted }))
    }

    async fn clear(
        &self,
        req: Request<pb::ClearHistoryRequest>,
    ) -> Result<Response<pb::ClearHistoryResponse>, Status> {
        let days = req.into_inner().older_than_days.map(u64::from);
        self.0
            .history
            .clear_older_than(days)
            .await
            .or_status(&self.0)?;
        Ok(Response::new(pb::ClearHistoryResponse {}))
    }
}

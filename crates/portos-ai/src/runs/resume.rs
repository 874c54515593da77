//! Runs a previous api server left in flight.

use serde_json::Value;

use super::*;

/// At start: runs left in flight by a previous api server. A CLI run the
/// runner still has is followed to its end; any other is recorded as failed,
/// with the reason.
pub async fn resume(ai: &Ai) {
    for m in all(ai).await {
        if !m.get("endTime").is_none_or(Value::is_null) {
            continue;
        }
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let provider_id = m
            .get("providerId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let agent = m.get("runnerAgentId").and_then(Value::as_str);
        let provider = providers::get(ai, provider_id).await.ok();
        let prompt = prompt(ai, &id).await.unwrap_or_default();
        let pair = start(ai, &id);
        match (provider, agent) {
            (Some(p), Some(_)) if p.kind == ProviderKind::Cli => {
                tracing::info!(run = %id, "following a CLI run started before this api server");
                let req = NewRun {
                    provider_id: p.id.clone(),
                    model: m.get("model").and_then(Value::as_str).map(str::to_string),
                    prompt,
                    workspace_path: m
                        .get("workspacePath")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    timeout_ms: m.get("timeoutMs").and_then(Value::as_u64),
                    extra_args: m
                        .get("extraArgs")
                        .and_then(|a| serde_json::from_value(a.clone()).ok())
                        .unwrap_or_default(),
                    ..NewRun::default()
                };
                tokio::spawn(execute(ai.clone(), id, p, req, pair, Resume::RunnerAgent));
            }
            (provider, _) => {
                let (active, done) = pair;
                let p = provider.unwrap_or_else(|| Provider {
                    id: provider_id.to_string(),
                    ..Provider::default()
                });
                let why = "the api server restarted while the run was in flight";
                let attempt = Attempt::failed(Analysis {
                    message: Some(why.into()),
                    ..analyze::analyze(why, Some(1))
                });
                finish(ai, &id, &active, &p, None, Vec::new(), attempt).await;
                ai.runs.map().remove(&id);
                let _ = done.send(true);
            }
        }
    }
}

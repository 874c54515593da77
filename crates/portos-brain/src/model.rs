//! How the brain reaches an AI: a [`Model`] answers a prompt stage with its
//! values on a provider. In PortOS that is [`RunsModel`]: each call is an AI
//! run (source `brain`), in the run history and usage like any other.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use portos_ai::Ai;
use portos_ai::runs::{self, NewRun};
use serde_json::{Map, Value};

pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The AI a request asks for instead of the settings' (`providerOverride`,
/// `modelOverride`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub provider: Option<String>,
    pub model: Option<String>,
}

impl Choice {
    /// From a request body; absent or `null`: the settings'.
    pub fn of(body: &Value) -> crate::Result<Self> {
        use crate::validate::{Ty, opt, text, validate};
        let body = if body.is_null() {
            serde_json::json!({})
        } else {
            body.clone()
        };
        let input = validate(
            &[
                opt("providerOverride", Ty::Text(0, 200)),
                opt("modelOverride", Ty::Text(0, 200)),
            ],
            &body,
            false,
        )?;
        let get = |k: &str| text(&input, k).map(str::to_string);
        Ok(Self {
            provider: get("providerOverride"),
            model: get("modelOverride"),
        })
    }
}

impl crate::Brain {
    /// The provider and model to ask: the choice's, else the settings'.
    pub(crate) async fn ai_for(&self, c: &Choice) -> crate::Result<(String, String)> {
        let meta = self.meta().await?;
        let setting = |k: &str| {
            meta.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok((
            c.provider
                .clone()
                .unwrap_or_else(|| setting("defaultProvider")),
            c.model.clone().unwrap_or_else(|| setting("defaultModel")),
        ))
    }
}

/// One question to the AI.
#[derive(Debug, Clone)]
pub struct Ask {
    /// A provider id; empty: the active provider.
    pub provider: String,
    /// Empty: the provider's default model.
    pub model: String,
    pub stage: &'static str,
    pub variables: Map<String, Value>,
}

/// An AI the brain can ask.
pub trait Model: Send + Sync + std::fmt::Debug {
    /// The reply's text, or why there is none ("No AI provider available", the
    /// provider's error, a timeout).
    fn ask(&self, ask: Ask) -> Boxed<'_, Result<String, String>>;
    /// The models of provider `id`; `None` when there is no such provider.
    fn models(&self, id: &str) -> Boxed<'_, Option<Vec<String>>>;
}

/// The [`Model`] of PortOS: AI runs.
#[derive(Debug, Clone)]
pub struct RunsModel(pub Ai);

/// A provider's timeout when it names none (the original's).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl Model for RunsModel {
    fn ask(&self, ask: Ask) -> Boxed<'_, Result<String, String>> {
        Box::pin(async move {
            let ai = &self.0;
            let file = portos_ai::providers::load(ai)
                .await
                .map_err(|e| e.to_string())?;
            let id = if ask.provider.is_empty() {
                file.active_provider.clone().unwrap_or_default()
            } else {
                ask.provider.clone()
            };
            let provider = file
                .providers
                .get(&id)
                .filter(|p| p.enabled)
                .ok_or_else(|| "No AI provider available".to_string())?;
            let timeout = provider
                .timeout
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
            runs::complete(
                ai,
                NewRun {
                    provider_id: id,
                    model: Some(ask.model).filter(|m| !m.is_empty()),
                    stage: Some(ask.stage.to_string()),
                    variables: ask.variables,
                    source: Some("brain".into()),
                    timeout_ms: Some(timeout.as_millis() as u64),
                    ..NewRun::default()
                },
                timeout + Duration::from_secs(10),
            )
            .await
        })
    }

    fn models(&self, id: &str) -> Boxed<'_, Option<Vec<String>>> {
        let id = id.to_string();
        Box::pin(async move {
            let file = portos_ai::providers::load(&self.0).await.ok()?;
            file.providers.get(&id).map(|p| p.models.clone())
        })
    }
}

/// The brain's prompt stages, as a fresh install gets them.
const STAGES: &[portos_ai::prompts::StageSeed] = &[
    portos_ai::prompts::StageSeed {
        stage: crate::inbox::CLASSIFIER,
        name: "Brain Classifier",
        description: "Classify captured thoughts into People/Projects/Ideas/Admin",
        returns_json: true,
        template: include_str!("../stages/brain-classifier.md"),
    },
    portos_ai::prompts::StageSeed {
        stage: "brain-daily-digest",
        name: "Brain Daily Digest",
        description: "Generate daily actionable digest",
        returns_json: true,
        template: include_str!("../stages/brain-daily-digest.md"),
    },
    portos_ai::prompts::StageSeed {
        stage: "brain-weekly-review",
        name: "Brain Weekly Review",
        description: "Generate weekly review and open loops analysis",
        returns_json: true,
        template: include_str!("../stages/brain-weekly-review.md"),
    },
];

impl RunsModel {
    /// Adds each brain stage the prompts lack (a data dir from the original
    /// has them; one made before the brain existed does not). A stage the
    /// owner has is never touched.
    pub async fn install_stages(&self) -> Result<usize, portos_ai::AiError> {
        portos_ai::prompts::install_missing(&self.0, STAGES).await
    }
}

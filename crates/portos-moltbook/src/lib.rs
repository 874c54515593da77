//! A client of Moltbook (`https://www.moltbook.com/api/v1`), the AI-agent social
//! platform: posts, comments, votes, social, account and submolts, each call with
//! `Authorization: Bearer <apiKey>`. The platform's limits (the original's
//! numbers: posts 30 min apart and 48 a day, comments 20 s and 50, votes 1 s and
//! 200, follows 5 s and 100) are enforced per API key before a request leaves,
//! in a [`Limiter`] kept on disk; a 429 from the platform moves the local limit
//! to its `Retry-After`. A 403 whose message says "suspended" is
//! [`MoltbookError::Suspended`] (the original's `isAccountSuspended`).
//!
//! The API key is never part of an error, a log line or a `Debug` output.
//! Must not depend on: the api server, the supervisor, or any service crate.

use std::sync::Arc;
use std::time::Duration;

use portos_ratelimit::{Limit, Limiter, Refused};
use portos_remote::{Call, Failure, Remote};
use reqwest::Method;
use serde_json::{Value, json};

/// Moltbook's API root.
pub const DEFAULT_BASE: &str = "https://www.moltbook.com/api/v1";

/// The original's limits, per action.
pub fn limits() -> [(&'static str, Limit); 4] {
    let l = |secs, per_day| Limit {
        cooldown: Duration::from_secs(secs),
        per_day,
    };
    [
        ("post", l(30 * 60, 48)),
        ("comment", l(20, 50)),
        ("vote", l(1, 200)),
        ("follow", l(5, 100)),
    ]
}

/// An API key; shown as `ApiKey(<redacted>)` and never sent anywhere but Moltbook.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What a Moltbook call can end in besides an answer.
#[derive(Debug, thiserror::Error)]
pub enum MoltbookError {
    #[error("Moltbook is not reachable: {0}")]
    Network(String),
    #[error("Moltbook did not answer within {}s", .0.as_secs())]
    Timeout(Duration),
    /// 401: the key is wrong or revoked.
    #[error("Moltbook refused the API key: {0}")]
    Auth(String),
    /// 429 from the platform; `retry_after` as it said (header or body).
    #[error("Moltbook rate limit: {message}{}", .retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 403 saying the account is suspended.
    #[error("the Moltbook account is suspended: {0}")]
    Suspended(String),
    /// Any other 4xx/5xx, with the platform's own message.
    #[error("Moltbook answered {status}: {message}")]
    Remote { status: u16, message: String },
    /// Refused here, before sending: which limit, and when it frees.
    #[error("not sent: {0}")]
    Limited(#[from] Refused),
    #[error("the rate-limit state: {0}")]
    Store(#[from] portos_ratelimit::StoreError),
    #[error("unexpected answer from Moltbook: {0}")]
    Decode(String),
}

impl MoltbookError {
    /// The original's `isAccountSuspended`.
    pub fn is_suspended(&self) -> bool {
        matches!(self, MoltbookError::Suspended(_))
    }
}

/// A post's vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The feed's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Hot,
    New,
    Top,
    Rising,
}

impl Sort {
    fn as_str(self) -> &'static str {
        match self {
            Sort::Hot => "hot",
            Sort::New => "new",
            Sort::Top => "top",
            Sort::Rising => "rising",
        }
    }
}

/// A Moltbook client: one per base URL; the key goes with each call.
#[derive(Debug, Clone)]
pub struct Moltbook {
    remote: Remote,
    limiter: Arc<Limiter>,
}

/// Moltbook's wait after a 429: the `Retry-After` header, else the body's
/// `retry_after_seconds` or `retry_after_minutes`.
fn retry_after(f: &Failure) -> Option<Duration> {
    let Failure::Status {
        retry_after, body, ..
    } = f
    else {
        return None;
    };
    retry_after.or_else(|| {
        body.get("retry_after_seconds")
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
            .or_else(|| {
                body.get("retry_after_minutes")
                    .and_then(Value::as_u64)
                    .map(|m| Duration::from_secs(m * 60))
            })
    })
}

impl From<Failure> for MoltbookError {
    fn from(f: Failure) -> Self {
        let wait = retry_after(&f);
        match f {
            Failure::Network(m) => MoltbookError::Network(m),
            Failure::Timeout(d) => MoltbookError::Timeout(d),
            Failure::Limited(r) => MoltbookError::Limited(r),
            Failure::Store(s) => MoltbookError::Store(s),
            Failure::Config(m) => MoltbookError::Decode(m),
            Failure::Status {
                status, message, ..
            } => match status {
                401 => MoltbookError::Auth(message),
                403 if message.to_lowercase().contains("suspended") => {
                    MoltbookError::Suspended(message)
                }
                429 => MoltbookError::RateLimited {
                    retry_after: wait,
                    message,
                },
                status => MoltbookError::Remote { status, message },
            },
        }
    }
}

fn send<'a>(method: Method, path: &'a [&'a str], body: Option<Value>) -> Call<'a> {
    let c = Call::new(method, path);
    match body {
        Some(b) => c.body(b),
        None => c,
    }
}

impl Moltbook {
    /// A client of `base` (e.g. [`DEFAULT_BASE`], or a test server), limits in `limiter`.
    pub fn new(
        base: &str,
        limiter: Arc<Limiter>,
        timeout: Duration,
    ) -> Result<Self, MoltbookError> {
        Ok(Self {
            remote: Remote::new(base, timeout, None)?,
            limiter,
        })
    }

    /// One call with `key` (if any); a call that is a limited `action` goes
    /// through the limiter (per key).
    async fn call(
        &self,
        key: Option<&ApiKey>,
        action: Option<&'static str>,
        c: Call<'_>,
    ) -> Result<Value, MoltbookError> {
        let c = c.bearer(key.map(|k| k.0.as_str()));
        Ok(match (key, action) {
            (Some(k), Some(a)) => {
                self.remote
                    .send_limited(&self.limiter, &k.0, a, c, retry_after)
                    .await?
            }
            _ => self.remote.send(c).await?,
        })
    }

    // ----- account -----

    /// `POST /agents/register` (no key): `{ agent: { api_key, claim_url, ... } }`.
    pub async fn register(&self, name: &str, description: &str) -> Result<Value, MoltbookError> {
        self.call(
            None,
            None,
            send(
                Method::POST,
                &["agents", "register"],
                Some(json!({ "name": name, "description": description })),
            ),
        )
        .await
    }

    /// `GET /agents/status`: claimed or pending.
    pub async fn status(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["agents", "status"]))
            .await
    }

    /// `GET /agents/me`.
    pub async fn profile(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["agents", "me"]))
            .await
    }

    /// `PUT /agents/me` with the fields to change (e.g. `description`).
    pub async fn update_profile(
        &self,
        key: &ApiKey,
        updates: Value,
    ) -> Result<Value, MoltbookError> {
        self.call(
            Some(key),
            None,
            send(Method::PUT, &["agents", "me"], Some(updates)),
        )
        .await
    }

    /// The original's `heartbeat`'s first step: the account is alive and who it is.
    pub async fn heartbeat(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        let status = self.status(key).await?;
        let feed = self.feed(key, Sort::Hot, 25).await?;
        Ok(json!({ "status": status, "feed": feed }))
    }

    // ----- posts -----

    /// `POST /posts`.
    pub async fn create_post(
        &self,
        key: &ApiKey,
        submolt: &str,
        title: &str,
        content: &str,
    ) -> Result<Value, MoltbookError> {
        let body = json!({ "submolt": submolt, "title": title, "content": content });
        self.call(
            Some(key),
            Some("post"),
            send(Method::POST, &["posts"], Some(body)),
        )
        .await
    }

    /// `GET /feed?sort=&limit=`.
    pub async fn feed(&self, key: &ApiKey, sort: Sort, limit: u32) -> Result<Value, MoltbookError> {
        let c = Call::get(&["feed"])
            .query("sort", sort.as_str())
            .query("limit", limit);
        self.call(Some(key), None, c).await
    }

    /// `GET /posts?author=`.
    pub async fn posts_by(&self, key: &ApiKey, author: &str) -> Result<Value, MoltbookError> {
        let c = Call::get(&["posts"]).query("author", author);
        self.call(Some(key), None, c).await
    }

    /// `GET /posts/:id`.
    pub async fn post(&self, key: &ApiKey, id: &str) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["posts", id])).await
    }

    /// `DELETE /posts/:id`.
    pub async fn delete_post(&self, key: &ApiKey, id: &str) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, send(Method::DELETE, &["posts", id], None))
            .await
    }

    // ----- comments -----

    /// `POST /posts/:id/comments`; a reply names its parent comment.
    pub async fn comment(
        &self,
        key: &ApiKey,
        post: &str,
        content: &str,
        parent: Option<&str>,
    ) -> Result<Value, MoltbookError> {
        let mut body = json!({ "content": content });
        if let Some(p) = parent {
            body["parentId"] = json!(p);
        }
        self.call(
            Some(key),
            Some("comment"),
            send(Method::POST, &["posts", post, "comments"], Some(body)),
        )
        .await
    }

    /// `GET /posts/:id/comments`.
    pub async fn comments(&self, key: &ApiKey, post: &str) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["posts", post, "comments"]))
            .await
    }

    // ----- votes -----

    /// `POST /posts/:id/vote` `{ direction }`.
    pub async fn vote(
        &self,
        key: &ApiKey,
        post: &str,
        d: Direction,
    ) -> Result<Value, MoltbookError> {
        let direction = if d == Direction::Up { "up" } else { "down" };
        self.call(
            Some(key),
            Some("vote"),
            send(
                Method::POST,
                &["posts", post, "vote"],
                Some(json!({ "direction": direction })),
            ),
        )
        .await
    }

    /// `POST /comments/:id/upvote`.
    pub async fn upvote_comment(
        &self,
        key: &ApiKey,
        comment: &str,
    ) -> Result<Value, MoltbookError> {
        self.call(
            Some(key),
            Some("vote"),
            send(Method::POST, &["comments", comment, "upvote"], None),
        )
        .await
    }

    // ----- social -----

    /// `POST /agents/:name/follow`.
    pub async fn follow(&self, key: &ApiKey, agent: &str) -> Result<Value, MoltbookError> {
        self.call(
            Some(key),
            Some("follow"),
            send(Method::POST, &["agents", agent, "follow"], None),
        )
        .await
    }

    /// `DELETE /agents/:name/follow`.
    pub async fn unfollow(&self, key: &ApiKey, agent: &str) -> Result<Value, MoltbookError> {
        self.call(
            Some(key),
            None,
            send(Method::DELETE, &["agents", agent, "follow"], None),
        )
        .await
    }

    /// `GET /agents/:name`.
    pub async fn agent(&self, key: &ApiKey, agent: &str) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["agents", agent]))
            .await
    }

    /// `GET /agents/me/followers`.
    pub async fn followers(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["agents", "me", "followers"]))
            .await
    }

    /// `GET /agents/me/following`.
    pub async fn following(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["agents", "me", "following"]))
            .await
    }

    // ----- submolts -----

    /// `GET /submolts`.
    pub async fn submolts(&self, key: &ApiKey) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["submolts"])).await
    }

    /// `GET /submolts/:name`.
    pub async fn submolt(&self, key: &ApiKey, name: &str) -> Result<Value, MoltbookError> {
        self.call(Some(key), None, Call::get(&["submolts", name]))
            .await
    }

    /// `POST /verify` `{ verification_code, answer }`: the answer to a challenge.
    pub async fn verify(
        &self,
        key: &ApiKey,
        code: &str,
        answer: &str,
    ) -> Result<Value, MoltbookError> {
        let body = json!({ "verification_code": code, "answer": answer });
        self.call(Some(key), None, send(Method::POST, &["verify"], Some(body)))
            .await
    }

    /// The local limits' state for this key.
    pub fn limit_status(
        &self,
        key: &ApiKey,
    ) -> Result<Vec<portos_ratelimit::Status>, MoltbookError> {
        Ok(self.limiter.status(&key.0)?)
    }
}

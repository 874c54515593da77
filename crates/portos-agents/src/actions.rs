//! The agent action executor: one action of a schedule (or of a tool route)
//! run through the platform client of the account it belongs to. A post or a
//! comment without its text in the params is written by the agent's AI
//! provider through an [`Author`] (the api server's runs), unless the params
//! say `aiGenerate: false`.

use portos_moltbook::{ApiKey, Direction, Moltbook, MoltbookError, Sort};
use portos_moltworld::{Build, Join, Moltworld, MoltworldError};
use serde_json::{Value, json};

use crate::model::{Account, Platform, platform_of};

/// What an agent is asked to write.
#[derive(Debug, Clone)]
pub enum Writing {
    /// A post for a submolt: the answer's first line is its title, the rest its body.
    Post { submolt: String },
    /// A comment on a post (its title and text).
    Comment {
        post_title: String,
        post_text: String,
    },
}

/// Writes text in an agent's voice (an AI run on the agent's provider).
pub trait Author: Send + Sync {
    fn write<'a>(
        &'a self,
        agent: &'a crate::model::Agent,
        what: Writing,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

/// The platform clients actions go through.
#[derive(Debug, Clone)]
pub struct Platforms {
    pub moltbook: Moltbook,
    pub moltworld: Moltworld,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Moltbook(#[from] MoltbookError),
    #[error(transparent)]
    Moltworld(#[from] MoltworldError),
    /// The params do not say enough (or say it wrongly).
    #[error("{0}")]
    Params(String),
    /// The agent's AI could not write the text.
    #[error("writing the {0}: {1}")]
    Writing(&'static str, String),
    #[error("{action} is a {wanted} action; this account is on {platform}")]
    WrongPlatform {
        action: String,
        wanted: &'static str,
        platform: &'static str,
    },
}

impl ActionError {
    pub fn is_suspended(&self) -> bool {
        match self {
            ActionError::Moltbook(e) => e.is_suspended(),
            ActionError::Moltworld(e) => e.is_suspended(),
            _ => false,
        }
    }
}

fn text<'a>(params: &'a Value, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn need<'a>(params: &'a Value, key: &str, action: &str) -> Result<&'a str, ActionError> {
    text(params, key).ok_or_else(|| ActionError::Params(format!("{action} needs params.{key}")))
}

/// Who writes missing text: the author, unless the params turn it off.
fn writer<'a>(w: Option<Writer<'a>>, params: &Value) -> Option<Writer<'a>> {
    if params.get("aiGenerate") == Some(&Value::Bool(false)) {
        None
    } else {
        w
    }
}

/// An author and the agent it writes for.
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    pub author: &'a dyn Author,
    pub agent: &'a crate::model::Agent,
}

/// A post's title (its first line, without Markdown heading marks) and body.
fn split_post(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let title: String = first
        .trim()
        .trim_start_matches('#')
        .trim()
        .trim_start_matches("Title:")
        .trim()
        .trim_matches('"')
        .chars()
        .take(300)
        .collect();
    let body = rest.trim();
    let body = if body.is_empty() {
        title.as_str()
    } else {
        body
    };
    (!title.is_empty()).then(|| (title.clone(), body.to_string()))
}

fn int(params: &Value, key: &str, default: i64) -> i64 {
    params.get(key).and_then(Value::as_i64).unwrap_or(default)
}

fn coord(params: &Value, key: &str) -> i32 {
    params
        .get(key)
        .and_then(Value::as_i64)
        .map(|v| v.clamp(-240, 240) as i32)
        .unwrap_or_else(|| rand::random_range(-240..240))
}

/// The posts of a feed answer (`{ posts: [] }` or a bare list).
fn posts(feed: &Value) -> Vec<Value> {
    feed.get("posts")
        .or(Some(feed))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn id_of(v: &Value) -> Option<String> {
    ["id", "_id", "post_id"]
        .iter()
        .find_map(|k| v.get(*k))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn author_of(post: &Value) -> Option<&str> {
    post.pointer("/author/name")
        .or_else(|| post.get("author"))
        .and_then(Value::as_str)
}

/// Runs `action` with `params` for `account`.
pub async fn execute(
    p: &Platforms,
    account: &Account,
    action: &str,
    params: &Value,
    writer: Option<Writer<'_>>,
) -> Result<Value, ActionError> {
    let wanted = platform_of(action);
    if wanted != Some(account.platform) {
        return Err(ActionError::WrongPlatform {
            action: action.to_string(),
            wanted: wanted.map_or("unknown", Platform::as_str),
            platform: account.platform.as_str(),
        });
    }
    match account.platform {
        Platform::Moltbook => moltbook(&p.moltbook, account, action, params, writer).await,
        Platform::Moltworld => moltworld(&p.moltworld, account, action, params).await,
    }
}

async fn moltbook(
    m: &Moltbook,
    account: &Account,
    action: &str,
    params: &Value,
    writer: Option<Writer<'_>>,
) -> Result<Value, ActionError> {
    let writer = self::writer(writer, params);
    let key = ApiKey::new(account.credentials.api_key.clone());
    let me = account.credentials.username.as_str();
    Ok(match action {
        "heartbeat" => {
            let beat = m.heartbeat(&key).await?;
            json!({ "type": "heartbeat", "feedPosts": posts(&beat["feed"]).len() })
        }
        "post" => {
            let submolt = text(params, "submolt").unwrap_or("general");
            let (title, content, written) =
                match (text(params, "title"), text(params, "content"), writer) {
                    (Some(t), Some(c), _) => (t.to_string(), c.to_string(), false),
                    (_, _, Some(w)) => {
                        let out = w
                            .author
                            .write(
                                w.agent,
                                Writing::Post {
                                    submolt: submolt.to_string(),
                                },
                            )
                            .await
                            .map_err(|e| ActionError::Writing("post", e))?;
                        let (t, c) = split_post(&out).ok_or_else(|| {
                            ActionError::Writing("post", "the provider wrote nothing".into())
                        })?;
                        (t, c, true)
                    }
                    _ => {
                        need(params, "title", action)?;
                        (
                            String::new(),
                            need(params, "content", action)?.to_string(),
                            false,
                        )
                    }
                };
            let r = m.create_post(&key, submolt, &title, &content).await?;
            let post = r.get("post").unwrap_or(&r);
            json!({ "type": "post", "postId": id_of(post), "submolt": submolt, "title": title, "aiWritten": written })
        }
        "comment" => {
            let post = need(params, "postId", action)?;
            let parent = text(params, "parentId");
            let (content, written) = match (text(params, "content"), writer) {
                (Some(c), _) => (c.to_string(), false),
                (None, Some(w)) => {
                    let p = m.post(&key, post).await?;
                    let p = p.get("post").unwrap_or(&p);
                    let what = Writing::Comment {
                        post_title: p
                            .get("title")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        post_text: p
                            .get("content")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .chars()
                            .take(2000)
                            .collect(),
                    };
                    let out = w
                        .author
                        .write(w.agent, what)
                        .await
                        .map_err(|e| ActionError::Writing("comment", e))?;
                    let out = out.trim().to_string();
                    if out.is_empty() {
                        return Err(ActionError::Writing(
                            "comment",
                            "the provider wrote nothing".into(),
                        ));
                    }
                    (out, true)
                }
                (None, None) => (need(params, "content", action)?.to_string(), false),
            };
            let r = m.comment(&key, post, &content, parent).await?;
            let c = r.get("comment").unwrap_or(&r);
            json!({ "type": "comment", "commentId": id_of(c), "postId": post, "isReply": parent.is_some(), "aiWritten": written })
        }
        "vote" => {
            if let Some(c) = text(params, "commentId") {
                m.upvote_comment(&key, c).await?;
                json!({ "type": "vote", "commentId": c, "direction": "up" })
            } else {
                let direction = match text(params, "direction").unwrap_or("up") {
                    "up" => Direction::Up,
                    "down" => Direction::Down,
                    d => {
                        return Err(ActionError::Params(format!(
                            "vote: params.direction must be up or down, not {d:?}"
                        )));
                    }
                };
                let post = match text(params, "postId") {
                    Some(p) => p.to_string(),
                    None => {
                        let feed = m.feed(&key, Sort::Hot, 10).await?;
                        let candidates: Vec<String> = posts(&feed)
                            .iter()
                            .filter(|p| author_of(p) != Some(me))
                            .filter_map(id_of)
                            .collect();
                        if candidates.is_empty() {
                            return Ok(
                                json!({ "type": "vote", "voted": false, "reason": "no post to vote on in the hot feed" }),
                            );
                        }
                        candidates[rand::random_range(0..candidates.len())].clone()
                    }
                };
                m.vote(&key, &post, direction).await?;
                json!({ "type": "vote", "postId": post, "direction": if direction == Direction::Up { "up" } else { "down" } })
            }
        }
        "engage" => {
            // Upvotes hot posts by others; comments only with given text.
            let max_votes = int(params, "maxVotes", 3).max(0) as usize;
            let feed = m.feed(&key, Sort::Hot, 25).await?;
            let mut voted = Vec::new();
            for post in posts(&feed).iter().filter(|p| author_of(p) != Some(me)) {
                if voted.len() >= max_votes {
                    break;
                }
                let Some(id) = id_of(post) else { continue };
                match m.vote(&key, &id, Direction::Up).await {
                    Ok(_) => voted.push(id),
                    // The local limit says wait: engagement ends for now.
                    Err(MoltbookError::Limited(_)) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            let mut commented = Vec::new();
            if let (Some(content), Some(first)) = (text(params, "comment"), voted.first()) {
                m.comment(&key, first, content, None).await?;
                commented.push(first.clone());
            }
            json!({ "type": "engage", "upvoted": voted, "commented": commented })
        }
        "monitor" => {
            // Upvotes others' comments on my posts.
            let max_upvotes = int(params, "maxUpvotes", 10).max(0) as usize;
            let mine = m.posts_by(&key, me).await?;
            let mut upvoted = Vec::new();
            'posts: for post in posts(&mine) {
                let Some(pid) = id_of(&post) else { continue };
                let comments = m.comments(&key, &pid).await?;
                let list = comments
                    .get("comments")
                    .or(Some(&comments))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for c in list.iter().filter(|c| author_of(c) != Some(me)) {
                    if upvoted.len() >= max_upvotes {
                        break 'posts;
                    }
                    let Some(cid) = id_of(c) else { continue };
                    match m.upvote_comment(&key, &cid).await {
                        Ok(_) => upvoted.push(cid),
                        Err(MoltbookError::Limited(_)) => break 'posts,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            json!({ "type": "monitor", "posts": posts(&mine).len(), "upvotedComments": upvoted })
        }
        other => {
            return Err(ActionError::Params(format!(
                "unknown Moltbook action {other:?}"
            )));
        }
    })
}

async fn moltworld(
    w: &Moltworld,
    account: &Account,
    action: &str,
    params: &Value,
) -> Result<Value, ActionError> {
    let agent = account.platform_agent_id();
    let name = text(params, "name")
        .map(str::to_string)
        .or_else(|| Some(account.credentials.username.clone()).filter(|n| !n.is_empty()));
    let build = |params: &Value, x: i32, y: i32| Build {
        x,
        y,
        z: int(params, "z", 0).clamp(0, 100) as i32,
        kind: text(params, "type")
            .or(text(params, "buildType"))
            .unwrap_or("stone")
            .to_string(),
        action: text(params, "action").unwrap_or("place").to_string(),
    };
    Ok(match action {
        "mw_heartbeat" => {
            let join = Join {
                name,
                x: int(params, "x", 0) as i32,
                y: int(params, "y", 0) as i32,
                ..Join::default()
            };
            let r = w.join(agent, &join).await?;
            json!({ "type": "mw_heartbeat", "x": join.x, "y": join.y, "nearby": r.get("agents").and_then(Value::as_array).map_or(0, Vec::len) })
        }
        "mw_explore" | "mw_say" | "mw_interact" => {
            let join = Join {
                name,
                x: coord(params, "x"),
                y: coord(params, "y"),
                thinking: text(params, "thinking").map(str::to_string),
                say: if action == "mw_say" {
                    Some(need(params, "message", action)?.to_string())
                } else {
                    None
                },
                say_to: text(params, "sayTo").map(str::to_string),
            };
            w.join(agent, &join).await?;
            let mut result = json!({ "type": action, "x": join.x, "y": join.y });
            if action == "mw_interact" && text(params, "buildType").is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                let b = build(params, join.x, join.y);
                w.build(agent, &b).await?;
                result["built"] = json!(b.kind);
            }
            result
        }
        "mw_build" => {
            let b = build(
                params,
                int(params, "x", 0) as i32,
                int(params, "y", 0) as i32,
            );
            w.build(agent, &b).await?;
            json!({ "type": "mw_build", "x": b.x, "y": b.y, "z": b.z, "block": b.kind, "action": b.action })
        }
        "mw_think" => {
            let thought = text(params, "thought").unwrap_or("Thinking...");
            w.think(agent, thought).await?;
            json!({ "type": "mw_think", "thought": thought })
        }
        other => {
            return Err(ActionError::Params(format!(
                "unknown Moltworld action {other:?}"
            )));
        }
    })
}

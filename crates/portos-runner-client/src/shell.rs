//! The runner's terminal sessions (`portos.runner.v1.Shell`) for the web
//! shell: [`ShellLink`] opens, writes, resizes, attaches, lists and closes in
//! the name of a login; every refusal a [`Problem`]. One lazily connected
//! channel is kept (a keystroke is one call), and it finds a restarted runner
//! again by itself.

use std::time::Duration;

use futures_util::StreamExt;
use pb::shell_client::ShellClient;
use portos_core::{Kind, Problem};
use portos_proto::runner::v1 as pb;
use portos_rt::internal::{Auth, Authed};

/// A session as the runner answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShellSession {
    #[serde(rename = "sessionId")]
    pub id: String,
    pub pid: u32,
    pub shell: String,
    pub cwd: String,
    pub cols: u32,
    pub rows: u32,
    pub created_at: String,
    pub last_active_at: String,
    pub attached: u32,
}

/// What an attached client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellFrame {
    /// Replaces what the client shows.
    Screen(Vec<u8>),
    Output(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// What to open.
#[derive(Debug, Clone, Default)]
pub struct OpenShell {
    pub cwd: String,
    pub cols: u32,
    pub rows: u32,
}

/// The runner's shell service at one address, called with the internal token.
#[derive(Debug, Clone)]
pub struct ShellLink {
    client: Result<ShellClient<Authed>, String>,
}

/// The one conversion of the runner's refusals.
fn problem(s: tonic::Status) -> Problem {
    use tonic::Code;
    let (kind, code) = match s.code() {
        Code::InvalidArgument => (Kind::Invalid, "VALIDATION_ERROR"),
        Code::NotFound => (Kind::NotFound, "SESSION_NOT_FOUND"),
        Code::PermissionDenied => (Kind::Forbidden, "NOT_YOUR_SESSION"),
        Code::ResourceExhausted => (Kind::TooMany, "SESSION_LIMIT"),
        Code::FailedPrecondition => (Kind::Forbidden, "SHELL_DISABLED"),
        Code::Unavailable | Code::Unknown => (Kind::Unavailable, "RUNNER_UNREACHABLE"),
        _ => (Kind::Internal, "SHELL_FAILED"),
    };
    Problem::new(kind, code, s.message().to_string())
}

fn session(s: pb::ShellSession) -> ShellSession {
    ShellSession {
        id: s.id,
        pid: s.pid,
        shell: s.shell,
        cwd: s.cwd,
        cols: s.cols,
        rows: s.rows,
        created_at: s.created_at,
        last_active_at: s.last_active_at,
        attached: s.attached,
    }
}

impl ShellLink {
    pub fn new(url: &str, auth: Auth) -> Self {
        let client = tonic::transport::Endpoint::from_shared(url.to_string())
            .map(|e| {
                let channel = e
                    .connect_timeout(Duration::from_secs(3))
                    .tcp_nodelay(true)
                    .connect_lazy();
                ShellClient::with_interceptor(channel, auth)
            })
            .map_err(|e| format!("bad runner address {url:?}: {e}"));
        Self { client }
    }

    /// The runner at [`crate::runner_url`].
    pub fn from_env() -> Self {
        Self::new(&crate::runner_url(), Auth::from_env())
    }

    fn client(&self) -> Result<ShellClient<Authed>, Problem> {
        self.client
            .clone()
            .map_err(|m| Problem::new(Kind::Unavailable, "RUNNER_UNREACHABLE", m))
    }

    pub async fn open(&self, owner: &str, o: OpenShell) -> Result<ShellSession, Problem> {
        let req = pb::OpenShellRequest {
            owner: owner.to_string(),
            shell: String::new(),
            cwd: o.cwd,
            cols: o.cols,
            rows: o.rows,
        };
        let s = self.client()?.open(req).await.map_err(problem)?;
        Ok(session(s.into_inner()))
    }

    pub async fn write(&self, owner: &str, id: &str, data: Vec<u8>) -> Result<(), Problem> {
        let req = pb::WriteShellRequest {
            owner: owner.to_string(),
            id: id.to_string(),
            data,
        };
        self.client()?.write(req).await.map_err(problem)?;
        Ok(())
    }

    pub async fn resize(
        &self,
        owner: &str,
        id: &str,
        cols: u32,
        rows: u32,
    ) -> Result<ShellSession, Problem> {
        let req = pb::ResizeShellRequest {
            owner: owner.to_string(),
            id: id.to_string(),
            cols,
            rows,
        };
        let s = self.client()?.resize(req).await.map_err(problem)?;
        Ok(session(s.into_inner()))
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<ShellSession>, Problem> {
        let req = pb::ListShellsRequest {
            owner: owner.to_string(),
        };
        let s = self.client()?.list(req).await.map_err(problem)?;
        Ok(s.into_inner().sessions.into_iter().map(session).collect())
    }

    pub async fn close(&self, owner: &str, id: &str) -> Result<ShellSession, Problem> {
        let req = pb::CloseShellRequest {
            owner: owner.to_string(),
            id: id.to_string(),
        };
        let s = self.client()?.close(req).await.map_err(problem)?;
        Ok(session(s.into_inner()))
    }

    /// The screen, then output; ends after the exit (or when the runner goes).
    pub async fn attach(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<impl futures_util::Stream<Item = ShellFrame> + Send + 'static, Problem> {
        let req = pb::AttachShellRequest {
            owner: owner.to_string(),
            id: id.to_string(),
        };
        let stream = self.client()?.attach(req).await.map_err(problem)?;
        Ok(stream.into_inner().filter_map(|f| async move {
            use pb::shell_frame::Kind as K;
            match f.ok()?.kind? {
                K::Screen(s) => Some(ShellFrame::Screen(s)),
                K::Output(o) => Some(ShellFrame::Output(o)),
                K::Exit(e) => Some(ShellFrame::Exit {
                    code: e.code,
                    signal: e.signal,
                }),
            }
        }))
    }
}

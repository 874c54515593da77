//! `portos.browser.v1.Browser`: the host's control API, converted here and only here.

use std::sync::Arc;

use chromiumoxide::cdp::browser_protocol::network::{Cookie, CookieParam, TimeSinceEpoch};
use portos_proto::browser::v1 as pb;
use tonic::{Request, Response, Status};

use crate::host::{BrowserError, Host, Snapshot, Tab};

impl From<BrowserError> for Status {
    fn from(e: BrowserError) -> Self {
        match &e {
            BrowserError::Unavailable(_) => Status::unavailable(e.to_string()),
            BrowserError::NoTab(_) => Status::not_found(e.to_string()),
            BrowserError::Invalid(_) => Status::invalid_argument(e.to_string()),
            BrowserError::Page(_) => Status::failed_precondition(e.to_string()),
            BrowserError::Timeout { .. } => Status::deadline_exceeded(e.to_string()),
            BrowserError::Cdp(_) | BrowserError::Store(_) => Status::internal(e.to_string()),
        }
    }
}

fn tab(t: Tab) -> pb::Tab {
    pb::Tab {
        id: t.id,
        title: t.title,
        url: t.url,
        r#type: t.kind,
    }
}

fn cookie(c: Cookie) -> pb::Cookie {
    pb::Cookie {
        name: c.name,
        value: c.value,
        domain: c.domain,
        path: c.path,
        expires: if c.session { 0.0 } else { c.expires },
        http_only: c.http_only,
        secure: c.secure,
        session: c.session,
        same_site: c
            .same_site
            .map(|s| s.as_ref().to_string())
            .unwrap_or_default(),
    }
}

fn cookie_param(c: pb::Cookie, url: &str) -> CookieParam {
    let mut p = CookieParam::new(c.name, c.value);
    let non_empty = |s: String| (!s.is_empty()).then_some(s);
    p.domain = non_empty(c.domain);
    p.path = non_empty(c.path);
    p.url = (p.domain.is_none() && !url.is_empty()).then(|| url.to_string());
    p.http_only = Some(c.http_only);
    p.secure = Some(c.secure);
    p.expires = (c.expires > 0.0).then(|| TimeSinceEpoch::new(c.expires));
    p
}

struct BrowserRpc(Arc<Host>);

impl BrowserRpc {
    async fn status(&self, snapshot: Snapshot) -> pb::BrowserStatus {
        let tab_count = if snapshot.serving {
            // A status answers at once, even from a Chromium that stopped answering.
            tokio::time::timeout(std::time::Duration::from_secs(2), self.0.tabs())
                .await
                .ok()
                .and_then(Result::ok)
                .map_or(0, |t| t.len() as u32)
        } else {
            0
        };
        let s = &self.0.settings;
        pb::BrowserStatus {
            serving: snapshot.serving,
            reason: snapshot.reason,
            cdp_host: s.cdp_host.clone(),
            cdp_port: u32::from(s.cdp_port),
            cdp_endpoint: s.cdp_endpoint(),
            headless: snapshot.headless,
            version: snapshot.version,
            pid: snapshot.pid,
            launches: snapshot.launches,
            tab_count,
            binary: snapshot.binary,
            profile_dir: snapshot.profile_dir,
            closed_by_request: snapshot.closed_by_request,
        }
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::browser_server::Browser for BrowserRpc {
    async fn status(&self, _: Request<pb::StatusRequest>) -> Answer<pb::BrowserStatus> {
        Ok(Response::new(self.status(self.0.snapshot()).await))
    }

    async fn launch(&self, _: Request<pb::LaunchRequest>) -> Answer<pb::BrowserStatus> {
        let snapshot = self.0.launch().await?;
        Ok(Response::new(self.status(snapshot).await))
    }

    async fn close(&self, _: Request<pb::CloseRequest>) -> Answer<pb::BrowserStatus> {
        let snapshot = self.0.close().await;
        Ok(Response::new(self.status(snapshot).await))
    }

    async fn list_tabs(&self, _: Request<pb::ListTabsRequest>) -> Answer<pb::ListTabsResponse> {
        let tabs = self.0.tabs().await?.into_iter().map(tab).collect();
        Ok(Response::new(pb::ListTabsResponse { tabs }))
    }

    async fn open_tab(&self, req: Request<pb::OpenTabRequest>) -> Answer<pb::Tab> {
        Ok(Response::new(tab(self
            .0
            .open_tab(&req.into_inner().url)
            .await?)))
    }

    async fn close_tab(&self, req: Request<pb::TabRequest>) -> Answer<pb::CloseTabResponse> {
        self.0.close_tab(&req.into_inner().tab_id).await?;
        Ok(Response::new(pb::CloseTabResponse {}))
    }

    async fn navigate(&self, req: Request<pb::NavigateRequest>) -> Answer<pb::Tab> {
        let req = req.into_inner();
        Ok(Response::new(tab(self
            .0
            .navigate(&req.tab_id, &req.url)
            .await?)))
    }

    async fn screenshot(
        &self,
        req: Request<pb::ScreenshotRequest>,
    ) -> Answer<pb::ScreenshotResponse> {
        let req = req.into_inner();
        let shot = self
            .0
            .screenshot(&req.tab_id, req.full_page, &req.filename)
            .await?;
        Ok(Response::new(pb::ScreenshotResponse {
            filename: shot.filename,
            path: shot.path.display().to_string(),
            size: shot.png.len() as u64,
            width: shot.width,
            height: shot.height,
            data: if req.include_data {
                shot.png
            } else {
                Vec::new()
            },
            tab: Some(tab(shot.tab)),
        }))
    }

    async fn evaluate(&self, req: Request<pb::EvaluateRequest>) -> Answer<pb::EvaluateResponse> {
        let req = req.into_inner();
        let json = self.0.evaluate(&req.tab_id, &req.expression).await?;
        Ok(Response::new(pb::EvaluateResponse { json }))
    }

    async fn get_cookies(
        &self,
        req: Request<pb::GetCookiesRequest>,
    ) -> Answer<pb::CookiesResponse> {
        let cookies = self.0.cookies(&req.into_inner().urls).await?;
        Ok(Response::new(pb::CookiesResponse {
            cookies: cookies.into_iter().map(cookie).collect(),
        }))
    }

    async fn set_cookies(
        &self,
        req: Request<pb::SetCookiesRequest>,
    ) -> Answer<pb::CookiesResponse> {
        let req = req.into_inner();
        let params = req
            .cookies
            .into_iter()
            .map(|c| cookie_param(c, &req.url))
            .collect();
        self.0.set_cookies(params).await?;
        let urls: Vec<String> = (!req.url.is_empty())
            .then_some(req.url)
            .into_iter()
            .collect();
        let cookies = self.0.cookies(&urls).await?;
        Ok(Response::new(pb::CookiesResponse {
            cookies: cookies.into_iter().map(cookie).collect(),
        }))
    }
}

/// The service, ready for the frame, and its name for reflection.
pub fn routes(host: Arc<Host>) -> (tonic::service::Routes, Vec<&'static str>) {
    (
        tonic::service::Routes::new(pb::browser_server::BrowserServer::new(BrowserRpc(host))),
        vec!["portos.browser.v1.Browser"],
    )
}

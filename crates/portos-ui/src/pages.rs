//! The pages: one askama template each, all on the same layout (`base.html`)
//! with the navigation, the offline banner and the toasts. What a page shows
//! comes from the api server, fetched by `assets/app.js`.

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::Upstream;

/// One entry of the navigation.
pub struct NavItem {
    pub id: &'static str,
    pub path: &'static str,
    pub title: &'static str,
}

macro_rules! pages {
    ($($ty:ident: $id:literal, $path:literal, $title:literal, $file:literal;)*) => {
        /// The navigation, in order.
        pub const NAV: &[NavItem] = &[$(NavItem { id: $id, path: $path, title: $title }),*];

        $(
            #[derive(Template)]
            #[template(path = $file)]
            struct $ty {
                nav: &'static [NavItem],
                current: &'static str,
                title: &'static str,
                autofixer_port: String,
                /// `PORTOS_AUTH=off`: every page says so in red.
                auth_off: bool,
            }
        )*

        /// A route per page.
        pub fn routes(auth_off: bool) -> Router<Upstream> {
            Router::new()
            $(
                .route($path, get(move || async move {
                    render(&$ty { nav: NAV, current: $id, title: $title, autofixer_port: autofixer_port(), auth_off })
                }))
            )*
        }
    };
}

pages! {
    Dashboard: "dashboard", "/", "Dashboard", "dashboard.html";
    Logs: "logs", "/logs", "Logs", "logs.html";
    Providers: "providers", "/providers", "Providers", "providers.html";
    Runs: "runs", "/runs", "Runs", "runs.html";
    Prompts: "prompts", "/prompts", "Prompts", "prompts.html";
    Browser: "browser", "/browser", "Browser", "browser.html";
    Screenshots: "screenshots", "/screenshots", "Screenshots", "gallery.html";
    Uploads: "uploads", "/uploads", "Uploads", "gallery.html";
    Agents: "agents", "/agents", "Agents", "agents.html";
    Schedules: "schedules", "/schedules", "Schedules", "schedules.html";
    JiraPage: "jira", "/jira", "JIRA", "jira.html";
    History: "history", "/history", "History", "history.html";
}

/// The autofixer UI's port, for the link to it (`PORTOS_AUTOFIXER_UI_PORT`, 5560).
fn autofixer_port() -> String {
    portos_rt::env_or("PORTOS_AUTOFIXER_UI_PORT", "5560")
}

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

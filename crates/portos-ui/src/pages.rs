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

/// A group of the navigation: a few pages under one heading, so the bar stays
/// short on a desktop and folds into one menu on a phone.
pub struct NavSection {
    pub title: &'static str,
    pub ids: &'static [&'static str],
}

impl NavSection {
    /// The section's pages, in order.
    pub fn items(&self) -> Vec<&'static NavItem> {
        self.ids
            .iter()
            .filter_map(|id| NAV.iter().find(|n| n.id == *id))
            .collect()
    }
}

/// The navigation's sections; every page of [`NAV`] is in one of them.
pub const SECTIONS: &[NavSection] = &[
    NavSection {
        title: "Machine",
        ids: &[
            "dashboard",
            "apps",
            "instances",
            "brain",
            "shell",
            "logs",
            "history",
        ],
    },
    NavSection {
        title: "AI",
        ids: &["cos", "providers", "runs", "prompts", "usage"],
    },
    NavSection {
        title: "Tools",
        ids: &["browser", "screenshots", "uploads", "jira"],
    },
    NavSection {
        title: "Agents",
        ids: &["agents", "schedules"],
    },
];

macro_rules! pages {
    ($($ty:ident: $id:literal, $path:literal, $title:literal, $file:literal;)*) => {
        /// The navigation, in order.
        pub const NAV: &[NavItem] = &[$(NavItem { id: $id, path: $path, title: $title }),*];

        $(
            #[derive(Template)]
            #[template(path = $file)]
            struct $ty {
                sections: &'static [NavSection],
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
                    render(&$ty { sections: SECTIONS, current: $id, title: $title, autofixer_port: autofixer_port(), auth_off })
                }))
            )*
        }
    };
}

pages! {
    Dashboard: "dashboard", "/", "Dashboard", "dashboard.html";
    AppsPage: "apps", "/apps", "Apps", "apps.html";
    Instances: "instances", "/instances", "Instances", "instances.html";
    Brain: "brain", "/brain", "Brain", "brain.html";
    Cos: "cos", "/cos", "Chief of Staff", "cos.html";
    Shell: "shell", "/shell", "Shell", "shell.html";
    Logs: "logs", "/logs", "Logs", "logs.html";
    Providers: "providers", "/providers", "Providers", "providers.html";
    Runs: "runs", "/runs", "Runs", "runs.html";
    Prompts: "prompts", "/prompts", "Prompts", "prompts.html";
    Usage: "usage", "/usage", "Usage", "usage.html";
    Browser: "browser", "/browser", "Browser", "browser.html";
    Screenshots: "screenshots", "/screenshots", "Screenshots", "gallery.html";
    Uploads: "uploads", "/uploads", "Uploads", "gallery.html";
    Agents: "agents", "/agents", "Agents", "agents.html";
    Schedules: "schedules", "/schedules", "Schedules", "schedules.html";
    JiraPage: "jira", "/jira", "JIRA", "jira.html";
    History: "history", "/history", "History", "history.html";
}

/// The autofixer UI's port, for the link to it (`PORTOS_AUTOFIXER_UI_PORT`,
/// else the table's `portos-autofixer-ui` port, else 5560).
fn autofixer_port() -> String {
    let table = portos_core::siblings::port("portos-autofixer-ui", "ui").unwrap_or(5560);
    portos_rt::env_or("PORTOS_AUTOFIXER_UI_PORT", &table.to_string())
}

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_in_one_section() {
        for item in NAV {
            let n = SECTIONS.iter().filter(|s| s.ids.contains(&item.id)).count();
            assert_eq!(n, 1, "{} is in {n} sections", item.id);
        }
        let listed: usize = SECTIONS.iter().map(|s| s.items().len()).sum();
        assert_eq!(listed, NAV.len());
    }
}

//! The browser host (`portos-browser`): one persistent headless Chromium with
//! its DevTools protocol on `CDP_HOST:CDP_PORT` (127.0.0.1:5556), and on
//! `HOST:PORT` (127.0.0.1:5557) the original's health contract (`/health`, `/`,
//! `/json/version`) beside the gRPC `portos.browser.v1.Browser` service: status,
//! launch and close, tabs, navigation, screenshots saved to `data/screenshots/`,
//! script evaluation and the profile's cookies, all driven through chromiumoxide.
//!
//! Owns: finding and launching Chromium (flags for a closed network, profile in
//! `data/browser-profile/` or the config's `userDataDir`), relaunching it when it
//! dies without the supervisor restarting the host, and closing it cleanly so the
//! profile reaches the disk. Without Chromium installed it stays up, not serving,
//! with the reason and the install hint, instead of crash-looping.
//! Must not depend on: the supervisor, the api server or any other service crate.

pub mod chromium;
pub mod grpc;
pub mod host;
pub mod rest;

pub use host::{BrowserError, Host, Settings};

//! The stylesheet, the script and the icon, embedded at compile time.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

/// The browser libraries `build.rs` fetched (pinned, integrity-checked) and
/// their licences, under `/assets/vendor/`.
const VENDOR: &[(&str, &[u8])] = &[
    (
        "xterm.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/xterm.js")),
    ),
    (
        "xterm.css",
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/xterm.css")),
    ),
    (
        "addon-fit.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/addon-fit.js")),
    ),
    (
        "xterm.LICENSE.txt",
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/xterm.LICENSE.txt")),
    ),
    (
        "addon-fit.LICENSE.txt",
        include_bytes!(concat!(env!("OUT_DIR"), "/vendor/addon-fit.LICENSE.txt")),
    ),
];

pub async fn serve(Path(file): Path<String>) -> Response {
    let vendored = file
        .strip_prefix("vendor/")
        .and_then(|name| VENDOR.iter().find(|(n, _)| *n == name))
        .map(|(_, bytes)| std::borrow::Cow::Borrowed(*bytes));
    match vendored.or_else(|| Assets::get(&file).map(|f| f.data)) {
        Some(data) => {
            let mime = mime_guess::from_path(&file).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                data,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

//! The file folders of the data dir: `uploads/`, `screenshots/` and
//! `cos/attachments/`, each with its size limit and rules (screenshots must be
//! images, attachments of known types). A name can never leave its folder: it
//! is reduced to one safe path component before any file system call.
//!
//! Owns: names, types, decoding the original's base64 bodies, storing,
//! reading, listing, deleting and clearing.
//! Must not depend on: any wire (axum, tonic, hyper, tower) or any service crate.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use portos_core::{Problem, Refuse};
use serde_json::{Value, json};

/// What can go wrong with a file.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Store(#[from] portos_store::StoreError),
}

/// One file's bytes, as a client names it; not found when missing.
pub async fn read(
    root: &Path,
    folder: Folder,
    name: &str,
) -> Result<(String, Vec<u8>), FilesError> {
    let name = requested_name(name)?;
    let bytes = tokio::fs::read(folder_path(root, folder).join(&name))
        .await
        .map_err(|_| FilesError::not_found(format!("{} not found", folder.noun)))?;
    Ok((name, bytes))
}

/// Deletes every file of a folder: how many, and the bytes freed.
pub async fn clear(root: &Path, folder: Folder) -> (usize, u64) {
    let mut freed = 0;
    let mut deleted = 0;
    for f in listing(root, folder).await {
        if tokio::fs::remove_file(&f.path).await.is_ok() {
            freed += f.size;
            deleted += 1;
        }
    }
    (deleted, freed)
}

/// One of the three file folders and its rules.
#[derive(Debug, Clone, Copy)]
pub struct Folder {
    /// Under the data dir.
    pub dir: &'static str,
    /// Largest decoded size.
    pub max: usize,
    /// How the files are checked and named.
    pub kind: Kind,
    /// "File", "Screenshot", "Attachment": for messages.
    pub noun: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uploads,
    Screenshots,
    Attachments,
}

pub const UPLOADS: Folder = Folder {
    dir: "uploads",
    max: 100 << 20,
    kind: Kind::Uploads,
    noun: "File",
};
pub const SCREENSHOTS: Folder = Folder {
    dir: "screenshots",
    max: 10 << 20,
    kind: Kind::Screenshots,
    noun: "Screenshot",
};
pub const ATTACHMENTS: Folder = Folder {
    dir: "cos/attachments",
    max: 50 << 20,
    kind: Kind::Attachments,
    noun: "Attachment",
};

/// Extensions an attachment may have.
const ATTACHMENT_TYPES: &[&str] = &[
    "txt", "md", "json", "csv", "xml", "yaml", "yml", "png", "jpg", "jpeg", "gif", "webp", "svg",
    "pdf", "js", "ts", "jsx", "tsx", "py", "sh", "sql", "html", "css", "zip", "tar", "gz",
];

/// The original's sanitiser: the last path component, every character outside
/// `[A-Za-z0-9._-]` replaced by `_`, a leading `.` replaced by `_`.
pub fn sanitize_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    out
}

/// A name from a URL: must already be safe, else 400 (never a path outside the folder).
pub fn requested_name(name: &str) -> Result<String, FilesError> {
    let clean = sanitize_name(name);
    if clean.is_empty() || clean != name {
        return Err(FilesError::bad_request(
            "INVALID_FILENAME",
            format!("invalid file name {name:?}"),
        ));
    }
    Ok(clean)
}

/// Where a folder's files are.
pub fn folder_path(root: &Path, f: Folder) -> PathBuf {
    root.join(f.dir)
}

/// `512 B`, `1.5 KB`, `2.0 MB`.
pub fn size_formatted(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The MIME type served for a name.
pub fn mime_of(name: &str) -> &'static str {
    match extension(name).as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Whether a browser may show the file in place: raster images and plain
/// text only. Anything else (HTML, SVG, PDF, scripts, archives, …) is served
/// as a download, so nothing stored can run as a page of PortOS's origin.
pub fn shown_inline(name: &str) -> bool {
    matches!(
        extension(name).as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "txt" | "log"
    )
}

/// An image type by its first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("jpg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

pub fn decode(data: &str) -> Result<Vec<u8>, FilesError> {
    // Data URLs (`data:image/png;base64,...`) are accepted as they come from browsers.
    let raw = data.split_once(";base64,").map_or(data, |(_, d)| d);
    let cleaned: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.trim_end_matches('='))
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.trim_end_matches('='))
        })
        .map_err(|e| FilesError::validation(format!("data is not valid base64: {e}")))
}

/// Stores `bytes` under a safe name and answers the original's record.
pub async fn store(
    root: &Path,
    f: Folder,
    original: Option<&str>,
    bytes: Vec<u8>,
) -> Result<Value, FilesError> {
    if bytes.len() > f.max {
        return Err(FilesError::bad_request(
            "FILE_TOO_LARGE",
            format!(
                "{} is too large: {} (the limit is {})",
                f.noun,
                size_formatted(bytes.len() as u64),
                size_formatted(f.max as u64)
            ),
        ));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (stored, mime) = match f.kind {
        Kind::Screenshots => {
            let ext = image_type(&bytes).ok_or_else(|| {
                FilesError::bad_request(
                    "INVALID_FILE_TYPE",
                    "screenshots must be PNG, JPEG, GIF or WebP images",
                )
            })?;
            let base = original
                .map(sanitize_name)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("screenshot-{id}"));
            let name = if extension(&base) == ext {
                base
            } else {
                format!("{base}.{ext}")
            };
            let mime = mime_of(&name);
            (name, mime)
        }
        Kind::Uploads | Kind::Attachments => {
            let original =
                original.ok_or_else(|| FilesError::validation("filename is required"))?;
            let clean = sanitize_name(original);
            if clean.is_empty() {
                return Err(FilesError::bad_request(
                    "INVALID_FILENAME",
                    format!("invalid file name {original:?}"),
                ));
            }
            if f.kind == Kind::Attachments
                && !ATTACHMENT_TYPES.contains(&extension(&clean).as_str())
            {
                return Err(FilesError::bad_request(
                    "INVALID_FILE_TYPE",
                    format!(
                        "attachments may be: {}",
                        ATTACHMENT_TYPES
                            .iter()
                            .map(|e| format!(".{e}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ));
            }
            let name = format!("{}-{clean}", &id[..8]);
            let mime = mime_of(&name);
            (name, mime)
        }
    };
    let dir = folder_path(root, f);
    let path = dir.join(portos_store::safe_name(&stored)?);
    let size = bytes.len() as u64;
    tokio::task::spawn_blocking({
        let path = path.clone();
        move || portos_store::write_atomic(&path, &bytes)
    })
    .await
    .map_err(|e| FilesError::internal(e.to_string()))??;
    let mut out = json!({
        "id": id,
        "filename": stored,
        "path": path.display().to_string(),
        "size": size,
        "mimeType": mime,
    });
    if f.kind != Kind::Screenshots {
        out["originalName"] = json!(original);
    }
    if f.kind == Kind::Uploads {
        out["sizeFormatted"] = json!(size_formatted(size));
        out["createdAt"] = json!(portos_core::time::now_iso());
    }
    Ok(out)
}

/// Deletes one file, named as a client names it; its checked name and size.
pub async fn delete(root: &Path, folder: Folder, name: &str) -> Result<(String, u64), FilesError> {
    let name = requested_name(name)?;
    let path = folder_path(root, folder).join(&name);
    let size = tokio::fs::metadata(&path)
        .await
        .map_err(|_| FilesError::not_found(format!("{} not found", folder.noun)))?
        .len();
    tokio::fs::remove_file(&path)
        .await
        .map_err(|e| FilesError::internal(e.to_string()))?;
    Ok((name, size))
}

/// One file of a folder.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub created: SystemTime,
    pub modified: SystemTime,
}

/// The files of a folder, newest first (none when the folder is missing).
pub async fn listing(root: &Path, folder: Folder) -> Vec<Listed> {
    list_dir(&folder_path(root, folder)).await
}

pub async fn list_dir(dir: &Path) -> Vec<Listed> {
    let mut out = Vec::new();
    let Ok(mut rd) = tokio::fs::read_dir(dir).await else {
        return out;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let Ok(meta) = e.metadata().await else {
            continue;
        };
        let name = e.file_name().to_string_lossy().into_owned();
        if !meta.is_file() || name.starts_with('.') {
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        out.push(Listed {
            path: e.path(),
            size: meta.len(),
            created: meta.created().unwrap_or(modified),
            modified,
            name,
        });
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.created));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_their_folder() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_name(".env"), "_env");
        assert_eq!(sanitize_name("a b;c.txt"), "a_b_c.txt");
        assert_eq!(sanitize_name(".."), "_.");
        assert!(requested_name("..").is_err());
        assert!(requested_name("a/b").is_err());
        assert!(requested_name("").is_err());
        assert_eq!(requested_name("ok-1.png").unwrap(), "ok-1.png");
    }
}

//! `/api/uploads`, `/api/screenshots`, `/api/attachments`: files sent as base64
//! JSON (the original's way) or, for uploads, as multipart forms; listed,
//! downloaded and deleted by name, over `portos-files` (the rules are there).

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path as UrlPath, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portos_core::time::iso;
use portos_files::{Folder, Kind, UPLOADS, decode, mime_of, size_formatted};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub struct Base64Body {
    data: Option<String>,
    filename: Option<String>,
}

/// `POST` a file: JSON `{ data: base64, filename }`, or (uploads) a multipart form with a `file` part.
pub async fn create(
    State(app): State<AppState>,
    folder: Folder,
    req: Request,
) -> Result<Response, ApiError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let created = if is_multipart && folder.kind == Kind::Uploads {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request("BAD_REQUEST", e.body_text()))?;
        let mut stored = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("BAD_REQUEST", e.body_text()))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let name = field.file_name().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::bad_request("BAD_REQUEST", e.body_text()))?;
            stored = Some(
                portos_files::store(app.store.root(), folder, name.as_deref(), bytes.to_vec())
                    .await?,
            );
        }
        stored.ok_or_else(|| ApiError::validation("a multipart upload needs a `file` part"))?
    } else {
        let Json(body) = Json::<Base64Body>::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request("BAD_REQUEST", e.body_text()))?;
        let data = body
            .data
            .filter(|d| !d.is_empty())
            .ok_or_else(|| ApiError::validation("data is required (base64)"))?;
        portos_files::store(
            app.store.root(),
            folder,
            body.filename.as_deref(),
            decode(&data)?,
        )
        .await?
    };
    let status = if folder.kind == Kind::Screenshots {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(created)).into_response())
}

/// `GET` one file's bytes.
pub async fn download(
    State(app): State<AppState>,
    folder: Folder,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let (name, bytes) = portos_files::read(app.store.root(), folder, &name).await?;
    Ok(served_file(&name, bytes))
}

/// A stored file as a browser gets it: never a page of this origin. The
/// sandbox CSP takes scripts and the origin away even from a file shown in
/// place, `nosniff` keeps the type ours, and all but raster images and plain
/// text come as downloads.
pub fn served_file(name: &str, bytes: Vec<u8>) -> Response {
    let disposition = if portos_files::shown_inline(name) {
        "inline".to_string()
    } else {
        // The name is already one safe path component ([A-Za-z0-9._-]).
        format!("attachment; filename=\"{name}\"")
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, mime_of(name).to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from(bytes),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-cache"),
    );
    resp
}

/// `DELETE` one file.
pub async fn remove(
    State(app): State<AppState>,
    folder: Folder,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (name, size) = portos_files::delete(app.store.root(), folder, &name).await?;
    let mut out = json!({ "success": true, "filename": name });
    if folder.kind == Kind::Uploads {
        out["size"] = json!(size);
    }
    Ok(Json(out))
}

/// `GET /api/uploads` and `GET /api/attachments` (and the screenshot list).
pub async fn list(State(app): State<AppState>, folder: Folder) -> Result<Json<Value>, ApiError> {
    let dir = portos_files::folder_path(app.store.root(), folder);
    let exists = tokio::fs::metadata(&dir).await.is_ok();
    let files = portos_files::list_dir(&dir).await;
    Ok(Json(match folder.kind {
        Kind::Uploads => {
            if !exists {
                return Ok(Json(
                    json!({ "uploads": [], "totalSize": 0, "totalSizeFormatted": "0 B" }),
                ));
            }
            let total: u64 = files.iter().map(|f| f.size).sum();
            json!({
                "uploads": files.iter().map(|f| json!({
                    "filename": f.name, "path": f.path.display().to_string(), "size": f.size,
                    "sizeFormatted": size_formatted(f.size), "mimeType": mime_of(&f.name),
                    "createdAt": iso(f.created), "modifiedAt": iso(f.modified),
                })).collect::<Vec<_>>(),
                "count": files.len(),
                "totalSize": total,
                "totalSizeFormatted": size_formatted(total),
            })
        }
        Kind::Attachments => json!({
            "attachments": files.iter().map(|f| json!({
                "filename": f.name, "path": f.path.display().to_string(), "size": f.size,
                "mimeType": mime_of(&f.name), "createdAt": iso(f.created),
            })).collect::<Vec<_>>(),
        }),
        Kind::Screenshots => json!({
            "screenshots": files.iter().map(|f| json!({
                "filename": f.name, "size": f.size, "mimeType": mime_of(&f.name), "createdAt": iso(f.created),
            })).collect::<Vec<_>>(),
        }),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ConfirmQuery {
    confirm: Option<String>,
}

/// `DELETE /api/uploads?confirm=true`: every upload.
#[utoipa::path(delete, operation_id = "clearUploads", path = "/api/uploads", tag = "uploads", params(("confirm" = Option<bool>, Query)), responses((status = 200, description = "`{ success, deleted, freedSpace, freedSpaceFormatted }`"), (status = 400, description = "CONFIRMATION_REQUIRED")))]
pub async fn clear_uploads(
    State(app): State<AppState>,
    Query(q): Query<ConfirmQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.confirm.as_deref() != Some("true") {
        return Err(ApiError::bad_request(
            "CONFIRMATION_REQUIRED",
            "add ?confirm=true to delete every upload",
        ));
    }
    let (deleted, freed) = portos_files::clear(app.store.root(), UPLOADS).await;
    Ok(Json(
        json!({ "success": true, "deleted": deleted, "freedSpace": freed, "freedSpaceFormatted": size_formatted(freed) }),
    ))
}

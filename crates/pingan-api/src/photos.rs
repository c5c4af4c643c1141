//! Photo upload and download. Photos are checked by content (JPEG, PNG or
//! WebP), stored once under their SHA-256, and shown only with a matter the
//! caller may see.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pingan_storage::now_ms;
use pingan_storage::photos::StoredPhoto;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiPath;
use crate::matters::{store_photo, visible_matter};
use crate::state::AppState;

/// Uploads one photo as the raw request body (any image content type; the
/// bytes decide). Name it by `sha256` in a report or an action. Uploading the
/// same photo again is harmless.
#[utoipa::path(post, path = "/api/v1/photos", tag = "matters",
    request_body(content = String, content_type = "image/*",
        description = "The photo file itself (JPEG, PNG or WebP), as binary"),
    responses(
        (status = 201, description = "Stored", body = Object),
        (status = 400, description = "Damaged photo or bad dimensions", body = ErrorBody),
        (status = 413, description = "Too large", body = ErrorBody),
        (status = 415, description = "Not a JPEG, PNG or WebP image", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<StoredPhoto>)> {
    let stored = store_photo(&state, &caller, &body, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// A photo of a matter the caller may see.
#[utoipa::path(get, path = "/api/v1/matters/{id}/photos/{sha256}", tag = "matters",
    params(("id" = i64, Path), ("sha256" = String, Path)),
    responses((status = 200, description = "The image"), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, sha)): ApiPath<(i64, String)>,
) -> ApiResult<Response> {
    visible_matter(&state, &caller, id).await?;
    let attached = state
        .store
        .matter_photos(id)
        .await?
        .into_iter()
        .any(|p| p.sha256 == sha);
    if !attached {
        return Err(ApiError::NotFound("photo"));
    }
    let (kind, bytes) = state
        .photos
        .open(&sha)
        .await
        .map_err(ApiError::Photo)?
        .ok_or(ApiError::NotFound("photo"))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.mime()));
    // Content-addressed: the bytes behind a name never change.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

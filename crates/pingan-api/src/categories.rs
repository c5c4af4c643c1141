//! The category catalogue (事件分类): read by everyone signed in, edited by
//! admins. Each edit stores a new catalogue version; a matter keeps the time
//! limit it was dispatched under (`time_limit` on the matter).
use axum::extract::State;
use axum::Json;
use pingan_domain::category::{Catalogue, Category, CategoryCode, MajorCategory};
use pingan_domain::Role;
use pingan_storage::now_ms;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueView {
    /// Send it back with an edit; an edit against an older version is refused.
    pub version: Option<i64>,
    /// The major categories (大类) and the categories (小类) with severities,
    /// time limits (`4wh` working hours, `7wd` working days, `30wm` working
    /// minutes, `15m` wall-clock minutes), level, unit kind and dispute flag.
    #[schema(value_type = Object)]
    pub catalogue: Catalogue,
}

/// The catalogue in force.
#[utoipa::path(get, path = "/api/v1/categories", tag = "categories",
    responses((status = 200, body = CatalogueView)))]
pub async fn catalogue(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<CatalogueView>> {
    let (version, catalogue) = state.catalogue();
    Ok(Json(CatalogueView {
        version,
        catalogue: (*catalogue).clone(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryEdit {
    /// The catalogue version the admin edited.
    pub version: i64,
    /// The category as it should be; its `code` must match the path. A new
    /// code adds a category (its major category must exist or be given).
    #[schema(value_type = Object)]
    pub category: Category,
    /// A new major category, when the category opens one.
    #[schema(value_type = Option<Object>)]
    pub major: Option<MajorCategory>,
}

/// Adds or changes one category (admins). The whole catalogue is validated
/// before it is stored as a new version.
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "categories",
    params(("code" = String, Path)), request_body = CategoryEdit,
    responses(
        (status = 200, body = CatalogueView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Edited from an older version", body = ErrorBody),
    ))]
pub async fn put_category(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
    ApiJson(edit): ApiJson<CategoryEdit>,
) -> ApiResult<Json<CatalogueView>> {
    if caller.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let code = CategoryCode::parse(&code).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if edit.category.code != code {
        return Err(ApiError::BadRequest(
            "the category's code differs from the path".into(),
        ));
    }
    let (version, current) = state.catalogue();
    if version != Some(edit.version) {
        return Err(ApiError::StaleVersion(format!(
            "the catalogue is at version {}, not {}",
            version.unwrap_or(0),
            edit.version
        )));
    }
    let mut next = (*current).clone();
    if let Some(major) = edit.major {
        if major.code != code.major() {
            return Err(ApiError::BadRequest(
                "the major category does not match the code".into(),
            ));
        }
        match next.majors.iter_mut().find(|m| m.code == major.code) {
            Some(m) => *m = major,
            None => next.majors.push(major),
        }
    }
    match next.categories.iter_mut().find(|c| c.code == code) {
        Some(c) => *c = edit.category,
        None => next.categories.push(edit.category),
    }
    next.majors.sort_by(|a, b| a.code.cmp(&b.code));
    next.categories.sort_by(|a, b| a.code.cmp(&b.code));
    next.validate().map_err(|e| {
        ApiError::invalid(
            "invalid_catalogue",
            format!("分类目录无效：{e}"),
            format!("invalid catalogue: {e}"),
        )
    })?;
    let body = serde_json::to_string(&next).map_err(|e| ApiError::Internal(e.to_string()))?;
    let saved = state
        .store
        .save_catalogue(Some(edit.version), &body, Some(caller.id), now_ms())
        .await?;
    state.replace_catalogue(saved, next.clone());
    Ok(Json(CatalogueView {
        version: Some(saved),
        catalogue: next,
    }))
}

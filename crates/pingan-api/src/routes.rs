//! Handlers for regions, grids, units, accounts and locate. Every
//! region-bound read and write passes the caller's scope to the store, which
//! filters by it; handlers add only the role checks.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pingan_domain::{RegionCode, Role, Scope, UnitKind};
use pingan_geo::Crs;
use pingan_storage::{NewAccount, NewUnit, Page as StorePage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{hash_password, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::views::{AccountView, GridView, Page, RegionView, UnitView};

pub const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The `next` value of the previous page.
    pub after: Option<String>,
    /// Items per page, 1-1000 (default 100).
    pub limit: Option<u32>,
}

impl ListQuery {
    pub(crate) fn page(&self) -> ApiResult<StorePage> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=StorePage::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be between 1 and {}",
                StorePage::MAX_LIMIT
            )));
        }
        Ok(StorePage {
            after: self.after.clone(),
            limit,
        })
    }
}

fn require(caller: &Caller, allowed: impl Fn(Role) -> bool) -> ApiResult<()> {
    if allowed(caller.0.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Reads an optional coordinate-system name; WGS-84 when absent.
pub(crate) fn crs_from(text: Option<&str>) -> Result<Crs, String> {
    text.map_or(Ok(Crs::Wgs84), |c| {
        c.parse()
            .map_err(|e: pingan_geo::crs::UnknownCrs| e.to_string())
    })
}

/// Reads a region code given as 2, 4, 6, 9 or 12 digits.
fn region_code(text: &str) -> ApiResult<RegionCode> {
    let parsed = if text.len() == 12 {
        RegionCode::infer(text)
    } else {
        RegionCode::from_short(text)
    };
    parsed.map_err(|e| ApiError::BadRequest(e.to_string()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub backend: &'static str,
    pub grids: usize,
}

/// Liveness and readiness: the server binds its port only once the grid
/// index is loaded, so any answer means ready.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        backend: state.store.backend(),
        grids: state.index().len(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocateQuery {
    /// Longitude.
    pub lng: f64,
    /// Latitude.
    pub lat: f64,
    /// Coordinate system of the input: wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionRef {
    pub code: String,
    pub name: String,
    pub level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocateResponse {
    pub grid: GridRef,
    /// From province down to village.
    pub regions: Vec<RegionRef>,
}

/// The grid a point lies in, with its chain of regions. Open to anyone: the
/// administrative map is public, and a reporter must be able to place a
/// matter before signing in.
#[utoipa::path(get, path = "/api/v1/locate", tag = "geography", params(LocateQuery),
    responses(
        (status = 200, body = LocateResponse),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The point lies in no grid", body = ErrorBody),
    ))]
pub async fn locate(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LocateQuery>,
) -> ApiResult<Json<LocateResponse>> {
    let crs = crs_from(q.crs.as_deref()).map_err(ApiError::InvalidQuery)?;
    let in_range = (-180.0..=180.0).contains(&q.lng) && (-90.0..=90.0).contains(&q.lat);
    if !in_range {
        return Err(ApiError::InvalidQuery(
            "lng must be within -180..180 and lat within -90..90".into(),
        ));
    }
    let (lng, lat) = pingan_geo::crs::to_wgs84(crs, q.lng, q.lat);
    let code = state
        .index()
        .locate(lng, lat)
        .cloned()
        .ok_or(ApiError::NotInAnyGrid)?;
    let (regions, name) = crate::imports::place_of(&*state.store, &code).await?;
    let name = name.ok_or(ApiError::NotInAnyGrid)?;
    Ok(Json(LocateResponse {
        grid: GridRef {
            code: code.to_string(),
            name,
        },
        regions: regions
            .into_iter()
            .map(|r| RegionRef {
                code: r.code,
                name: r.name,
                level: r.level.as_str().to_string(),
            })
            .collect(),
    }))
}

/// A region within, or above, the caller's scope.
#[utoipa::path(get, path = "/api/v1/regions/{code}", tag = "geography",
    params(("code" = String, Path, description = "Region code, 2-12 digits")),
    responses((status = 200, body = RegionView), (status = 404, body = ErrorBody)))]
pub async fn region(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<RegionView>> {
    let code = region_code(&code)?;
    state
        .store
        .region(&caller.scope, code.as_str())
        .await?
        .map(|r| Json(r.into()))
        .ok_or(ApiError::NotFound("region"))
}

/// The children of a region that the caller's scope reaches.
#[utoipa::path(get, path = "/api/v1/regions/{code}/children", tag = "geography",
    params(("code" = String, Path, description = "Region code, 2-12 digits"), ListQuery),
    responses((status = 200, body = Page<RegionView>), (status = 404, body = ErrorBody)))]
pub async fn region_children(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<RegionView>>> {
    let code = region_code(&code)?;
    let page = q.page()?;
    if state
        .store
        .region(&caller.scope, code.as_str())
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("region"));
    }
    let rows = state
        .store
        .region_children(&caller.scope, code.as_str(), &page)
        .await?;
    Ok(Json(Page::new(rows, page.limit, |r| r.code.clone())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GridListQuery {
    /// Only grids under this region or grid code prefix.
    pub under: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// Grids in the caller's scope, by code.
#[utoipa::path(get, path = "/api/v1/grids", tag = "geography", params(GridListQuery),
    responses((status = 200, body = Page<GridView>), (status = 400, body = ErrorBody)))]
pub async fn grids(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<GridListQuery>,
) -> ApiResult<Json<Page<GridView>>> {
    let page = ListQuery {
        after: q.after,
        limit: q.limit,
    }
    .page()?;
    let under = q.under.unwrap_or_default();
    if !under.bytes().all(|b| b.is_ascii_digit()) || under.len() > 15 {
        return Err(ApiError::InvalidQuery(
            "under must be a code prefix of digits".into(),
        ));
    }
    let reach = Scope::parse(&under).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
    if caller.scope.intersect(&reach).is_none() {
        return Err(ApiError::OutOfScope(under));
    }
    let rows = state
        .store
        .grids(&caller.scope, reach.as_text(), &page)
        .await?;
    Ok(Json(Page::new(rows, page.limit, |g| g.code.clone())))
}

/// One grid as a GeoJSON Feature (WGS-84).
#[utoipa::path(get, path = "/api/v1/grids/{code}", tag = "geography",
    params(("code" = String, Path, description = "15-digit grid code")),
    responses((status = 200, description = "GeoJSON Feature", body = Object), (status = 404, body = ErrorBody)))]
pub async fn grid(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let code =
        pingan_domain::GridCode::parse(&code).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let row = state
        .store
        .grid(&caller.scope, code.as_str())
        .await?
        .ok_or(ApiError::NotFound("grid"))?;
    let geometry = pingan_geo::geometry::decode(&row.geometry)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!({
        "type": "Feature",
        "properties": {
            "code": row.grid.code,
            "name": row.grid.name,
            "village_code": row.grid.village_code,
        },
        "geometry": multipolygon_json(&geometry),
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Coordinate system of the file: wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
}

/// Imports a GeoJSON FeatureCollection of grids (admins, within their scope).
/// All or nothing: one bad feature refuses the whole file.
#[utoipa::path(post, path = "/api/v1/grids/import", tag = "geography", params(ImportQuery),
    request_body(content = Object, description = "GeoJSON FeatureCollection"),
    responses(
        (status = 200, body = crate::imports::GridImportReport),
        (status = 403, body = ErrorBody),
        (status = 422, description = "Refused; nothing written", body = ErrorBody),
    ))]
pub async fn import_grids(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: String,
) -> ApiResult<Json<crate::imports::GridImportReport>> {
    if !caller.role.manages_accounts() {
        return Err(ApiError::Forbidden);
    }
    let crs = crs_from(q.crs.as_deref()).map_err(ApiError::InvalidQuery)?;
    let index = state.index();
    let report =
        crate::imports::import_grids(&*state.store, &index, &body, crs, &caller.scope, &|_| {})
            .await
            .map_err(|e| match e {
                crate::imports::GridImportError::OutOfScope(codes) => {
                    ApiError::OutOfScope(codes.join(", "))
                }
                crate::imports::GridImportError::Store(e) => ApiError::from(e),
                other => ApiError::ImportRefused(other.to_string()),
            })?;
    let fresh = crate::imports::load_index(&*state.store)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    state.replace_index(fresh);
    Ok(Json(report))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUnitRequest {
    pub name: String,
    /// command_centre, department, four_platform_office, mediation_committee or village_committee.
    pub kind: String,
    /// The region the unit belongs to (2-12 digits).
    pub region_code: String,
}

/// Units in the caller's scope.
#[utoipa::path(get, path = "/api/v1/units", tag = "organisation", params(ListQuery),
    responses((status = 200, body = Page<UnitView>)))]
pub async fn units(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<UnitView>>> {
    let page = q.page()?;
    let rows = state.store.units(&caller.scope, &page).await?;
    Ok(Json(Page::new(rows, page.limit, |u| u.id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "organisation",
    params(("id" = i64, Path)),
    responses((status = 200, body = UnitView), (status = 404, body = ErrorBody)))]
pub async fn unit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UnitView>> {
    state
        .store
        .unit(&caller.scope, id)
        .await?
        .map(|u| Json(u.into()))
        .ok_or(ApiError::NotFound("unit"))
}

/// Creates a unit in a region within the caller's scope (admins).
#[utoipa::path(post, path = "/api/v1/units", tag = "organisation", request_body = NewUnitRequest,
    responses((status = 201, body = UnitView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewUnitRequest>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    require(&caller, Role::manages_accounts)?;
    let kind: UnitKind = req.kind.parse().map_err(ApiError::BadRequest)?;
    let region = region_code(&req.region_code)?;
    let unit = state
        .store
        .create_unit(
            &caller.0.scope,
            &NewUnit {
                name: req.name,
                kind,
                region,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(unit.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccountRequest {
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    pub role: String,
    /// A region code (2-12 digits), a 15-digit grid code, or `*`.
    pub scope: String,
    pub unit_id: Option<i64>,
    pub display_name: String,
    pub phone: Option<String>,
}

pub const MIN_PASSWORD_LEN: usize = 10;

/// Accounts whose scope lies within the caller's (admins).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "organisation", params(ListQuery),
    responses((status = 200, body = Page<AccountView>), (status = 403, body = ErrorBody)))]
pub async fn accounts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AccountView>>> {
    require(&caller, Role::manages_accounts)?;
    let page = q.page()?;
    let rows = state.store.accounts(&caller.0.scope, &page).await?;
    Ok(Json(Page::new(rows, page.limit, |a| a.id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "organisation", params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AccountView>> {
    require(&caller, Role::manages_accounts)?;
    state
        .store
        .account(&caller.0.scope, id)
        .await?
        .map(|a| Json(a.into()))
        .ok_or(ApiError::NotFound("account"))
}

/// Creates an account within the caller's scope (admins).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "organisation", request_body = NewAccountRequest,
    responses((status = 201, body = AccountView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    require(&caller, Role::manages_accounts)?;
    let role: Role = req
        .role
        .parse()
        .map_err(|e: pingan_domain::role::UnknownRole| ApiError::BadRequest(e.to_string()))?;
    let scope = Scope::parse(&req.scope).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if req.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::BadRequest(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    let password = req.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let account = state
        .store
        .create_account(
            &caller.0.scope,
            &NewAccount {
                username: req.username,
                password_hash,
                role,
                scope,
                unit_id: req.unit_id,
                display_name: req.display_name,
                phone: req.phone,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountChange {
    pub disabled: bool,
}

/// Disables or re-enables an account in the caller's scope (admins);
/// disabling ends its sessions.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "organisation", params(("id" = i64, Path)),
    request_body = AccountChange,
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn change_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(change): ApiJson<AccountChange>,
) -> ApiResult<Json<AccountView>> {
    require(&caller, Role::manages_accounts)?;
    if id == caller.0.id && change.disabled {
        return Err(ApiError::BadRequest(
            "an admin cannot disable their own account".into(),
        ));
    }
    if !state
        .store
        .set_account_disabled(&caller.0.scope, id, change.disabled)
        .await?
    {
        return Err(ApiError::NotFound("account"));
    }
    // A disabled account's sessions must stop working now, not in a moment.
    state.sessions.clear();
    account(State(state), caller, ApiPath(id)).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedPhone {
    pub phone: String,
}

/// The unmasked phone number of an account in the caller's scope. Every read
/// is written to the audit log.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/phone", tag = "organisation", params(("id" = i64, Path)),
    responses((status = 200, body = RevealedPhone), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reveal_phone(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RevealedPhone>> {
    require(&caller, Role::may_unmask_personal_data)?;
    state
        .store
        .reveal_phone(&caller.0.scope, caller.0.id, id)
        .await?
        .map(|phone| Json(RevealedPhone { phone }))
        .ok_or(ApiError::NotFound("account"))
}

/// A MultiPolygon as a GeoJSON geometry object.
fn multipolygon_json(mp: &geo::MultiPolygon<f64>) -> serde_json::Value {
    multipolygon_json_with(mp, |v| v)
}

/// A MultiPolygon as a GeoJSON geometry object with coordinates to 1e-6°
/// (about 0.1 m), for maps of many shapes.
pub(crate) fn multipolygon_json_rounded(mp: &geo::MultiPolygon<f64>) -> serde_json::Value {
    multipolygon_json_with(mp, |v| (v * 1e6).round() / 1e6)
}

fn multipolygon_json_with(
    mp: &geo::MultiPolygon<f64>,
    round: impl Fn(f64) -> f64,
) -> serde_json::Value {
    let ring = |r: &geo::LineString<f64>| -> Vec<[f64; 2]> {
        r.0.iter().map(|c| [round(c.x), round(c.y)]).collect()
    };
    let polygons: Vec<Vec<Vec<[f64; 2]>>> =
        mp.0.iter()
            .map(|p| {
                std::iter::once(ring(p.exterior()))
                    .chain(p.interiors().iter().map(ring))
                    .collect()
            })
            .collect();
    serde_json::json!({ "type": "MultiPolygon", "coordinates": polygons })
}

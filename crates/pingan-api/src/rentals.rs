//! Rental housing, hotel style (出租房屋旅馆式管理): properties and their
//! units, the safety check before letting (租前安全把关) with rectification
//! through the matter loop, check-in registration (入住登记), automatic
//! check-out and purge, QR sheets with signed links, the public listing, and
//! the overview per grid, village and township.
//!
//! Rules chosen here:
//! - Landlords reach only their own properties; staff (grid workers and
//!   chiefs, centre operators) every property whose grid lies in their
//!   scope; leaders and admins read the overview. Others are refused.
//! - A failed check files a rectification matter (category 0603, 出租房消防隐患)
//!   through the matter service as the inspecting grid worker, with the
//!   check's photos; its deadline is set by the matter loop on dispatch. The
//!   unit cannot be checked again until that matter is closed (closed,
//!   rated, or otherwise final: rejected or merged).
//! - Tenants' names, document numbers and phones go only to the store's
//!   sealed fields; answers show them masked, logs never carry them, and the
//!   exact-match lookup by document number is audited without the number.
use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use pingan_domain::calendar::LocalDate;
use pingan_domain::rental::{
    self as rules, CheckResult, DocumentType, UnitAction, UnitActor, UnitState,
};
use pingan_domain::{Role, Scope};
use pingan_storage::rental::{
    CheckIn, Inspection, NewInspection, NewProperty, NewRentalUnit, NewTenant, Property,
    RentalCounts, RentalReach, RentalUnit, RentalUnitFilter, Tenancy, UnitChange, UnitDetails,
};
use pingan_storage::{now_ms, Account, NewLogEntry, Page as StorePage, StoreError};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::ListQuery;
use crate::state::AppState;
use crate::views::Page;

/// The category of a rectification matter: 出租房消防隐患.
pub const RECTIFICATION_CATEGORY: &str = "0603";
/// When the catalogue has no time limit for the rectification category, a
/// failed unit is due for its follow-up check this long after it.
const FOLLOW_UP_AFTER_DAYS: i64 = 7;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// Leases run at most 20 years (the Civil Code's limit for a lease).
const MAX_LEASE_MS: i64 = 20 * 366 * DAY_MS;
/// The purpose a link-signing key is derived for.
const LINK_KEY_PURPOSE: &str = "rental-unit-links";

// ---------------------------------------------------------------- access

/// What rental data the caller reaches; `Forbidden` for roles with no part.
fn reach_for(caller: &Account) -> ApiResult<RentalReach> {
    match caller.role {
        Role::Landlord => Ok(RentalReach {
            scope: caller.scope.clone(),
            landlord_id: Some(caller.id),
        }),
        Role::GridWorker | Role::GridChief | Role::CentreOperator | Role::Leader | Role::Admin => {
            Ok(RentalReach {
                scope: caller.scope.clone(),
                landlord_id: None,
            })
        }
        _ => Err(ApiError::Forbidden),
    }
}

/// The relations the caller holds towards a unit it can see.
fn actors_for(caller: &Account, unit: &RentalUnit) -> Vec<UnitActor> {
    let mut out = Vec::new();
    for &actor in UnitActor::for_role(caller.role) {
        let holds = match actor {
            UnitActor::Owner => unit.landlord_id == caller.id,
            UnitActor::Staff | UnitActor::Inspector => caller.scope.covers(&unit.grid_code),
            UnitActor::System => false,
        };
        if holds {
            out.push(actor);
        }
    }
    out
}

async fn visible_unit(state: &AppState, caller: &Account, id: i64) -> ApiResult<RentalUnit> {
    let reach = reach_for(caller)?;
    state
        .store
        .rental_unit(&reach, id)
        .await?
        .ok_or(ApiError::NotFound("rental unit"))
}

/// A refusal of the unit's table: 409 when nobody may act in this state,
/// 403 when someone may but not the caller.
fn refused(r: rules::UnitRefusal) -> ApiError {
    let (status, state, action, zh) = match r {
        rules::UnitRefusal::NotAllowedInState { state, action } => (
            StatusCode::CONFLICT,
            state,
            action,
            "房间处于“{s}”状态，不能执行“{a}”",
        ),
        rules::UnitRefusal::NotAllowedForActor { state, action } => (
            StatusCode::FORBIDDEN,
            state,
            action,
            "无权对“{s}”状态的房间执行“{a}”",
        ),
    };
    ApiError::Refused {
        status,
        code: r.code(),
        zh: zh
            .replace("{s}", state.name_zh())
            .replace("{a}", action.name_zh()),
        en: r.to_string(),
    }
}

fn conflict(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::Refused {
        status: StatusCode::CONFLICT,
        code,
        zh: zh.into(),
        en: en.into(),
    }
}

fn unit_state(unit: &RentalUnit) -> ApiResult<UnitState> {
    unit.state
        .parse()
        .map_err(|e: rules::UnknownRentalName| ApiError::Internal(e.to_string()))
}

fn entry(
    caller: &Account,
    action: &str,
    from: Option<&str>,
    to: Option<&str>,
    body: serde_json::Value,
    at: i64,
) -> NewLogEntry {
    NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: action.to_string(),
        from_state: from.map(str::to_string),
        to_state: to.map(str::to_string),
        body: body.to_string(),
        at,
    }
}

fn system_entry(action: &str, body: serde_json::Value, at: i64) -> NewLogEntry {
    NewLogEntry {
        subject: String::new(),
        actor_id: None,
        actor_role: "system".into(),
        unit_id: None,
        action: action.to_string(),
        from_state: None,
        to_state: None,
        body: body.to_string(),
        at,
    }
}

/// Store conflicts of rentals keep their own codes.
fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) if m.contains("occupancy limit") => conflict(
            "occupancy_limit_exceeded",
            "入住人数将超过该房间的核定人数",
            m,
        ),
        StoreError::Conflict(m) if m.contains("already registered") => {
            conflict("tenant_already_registered", "该租客已在此房间登记", m)
        }
        StoreError::Conflict(m) if m.contains("version") => ApiError::StaleVersion(m),
        StoreError::Conflict(m) => conflict("conflict", format!("操作冲突：{m}"), m),
        StoreError::NotFound(_) => ApiError::NotFound("rental unit"),
        other => other.into(),
    }
}

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyView {
    pub id: i64,
    pub grid_code: String,
    pub landlord_id: i64,
    pub name: String,
    pub address: String,
    pub lng: f64,
    pub lat: f64,
    /// The landlord's contact phone for this property, masked.
    pub contact_masked: Option<String>,
    pub created_at: i64,
}

impl From<Property> for PropertyView {
    fn from(p: Property) -> Self {
        PropertyView {
            id: p.id,
            grid_code: p.grid_code,
            landlord_id: p.landlord_id,
            name: p.name,
            address: p.address,
            lng: p.lng,
            lat: p.lat,
            contact_masked: p.contact_masked,
            created_at: p.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RentalUnitView)]
pub struct UnitView {
    pub id: i64,
    pub property_id: i64,
    pub grid_code: String,
    pub landlord_id: i64,
    /// Room or flat number, e.g. `301`.
    pub label: String,
    pub area_m2: f64,
    /// Monthly rent in yuan.
    pub rent_yuan: i64,
    pub street_facing: bool,
    pub floor: i64,
    pub facilities: Vec<String>,
    pub occupancy_limit: i64,
    pub lng: f64,
    pub lat: f64,
    /// draft, awaiting_inspection, passed, rectification_required, vacant, let, withdrawn.
    pub state: String,
    pub state_name: String,
    /// Send it back with an action, an inspection or a check-in.
    pub version: i64,
    pub tenants_now: i64,
    pub rectification_matter_id: Option<i64>,
    pub last_inspected_at: Option<i64>,
    pub next_inspection_due: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// What the caller may do: submit, inspect, publish, check_in, withdraw, relist.
    pub actions_allowed: Vec<String>,
    /// The signed token of the unit's public page (`/rental/{token}`).
    pub public_token: String,
}

fn unit_view(state: &AppState, caller: &Account, u: RentalUnit) -> UnitView {
    let actors = actors_for(caller, &u);
    let mut actions: Vec<String> = Vec::new();
    if let Ok(st) = u.state.parse::<UnitState>() {
        for a in rules::allowed(st, &actors) {
            let name = match a {
                UnitAction::InspectPass | UnitAction::InspectFail => "inspect",
                UnitAction::ResumeLetting => "publish",
                UnitAction::CheckOut => continue,
                UnitAction::CheckIn if u.tenants_now >= u.occupancy_limit => continue,
                other => other.as_str(),
            };
            if !actions.iter().any(|x| x == name) {
                actions.push(name.to_string());
            }
        }
    }
    let name_zh = u
        .state
        .parse::<UnitState>()
        .map(|s| s.name_zh())
        .unwrap_or("");
    UnitView {
        public_token: unit_token(state, u.id),
        id: u.id,
        property_id: u.property_id,
        grid_code: u.grid_code,
        landlord_id: u.landlord_id,
        label: u.label,
        area_m2: u.area_m2,
        rent_yuan: u.rent_yuan,
        street_facing: u.street_facing,
        floor: u.floor,
        facilities: u.facilities,
        occupancy_limit: u.occupancy_limit,
        lng: u.lng,
        lat: u.lat,
        state_name: name_zh.to_string(),
        state: u.state,
        version: u.version,
        tenants_now: u.tenants_now,
        rectification_matter_id: u.rectification_matter_id,
        last_inspected_at: u.last_inspected_at,
        next_inspection_due: u.next_inspection_due,
        created_at: u.created_at,
        updated_at: u.updated_at,
        actions_allowed: actions,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResultView {
    /// extinguisher, escape_route, no_indoor_ebike_charging, wiring, gas, smoke_alarm, occupancy_per_area.
    pub item: String,
    pub item_name: String,
    pub passed: bool,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionView {
    pub id: i64,
    pub unit_id: i64,
    pub inspector_id: i64,
    pub at: i64,
    pub passed: bool,
    /// Done on a night round.
    pub night: bool,
    pub note: String,
    /// sha256 of the photos; shown with the rectification matter when one was filed.
    pub photos: Vec<String>,
    /// The rectification matter a failed check filed.
    pub matter_id: Option<i64>,
    pub items: Vec<CheckResultView>,
}

impl From<Inspection> for InspectionView {
    fn from(i: Inspection) -> Self {
        InspectionView {
            id: i.id,
            unit_id: i.unit_id,
            inspector_id: i.inspector_id,
            at: i.at,
            passed: i.passed,
            night: i.night,
            note: i.note,
            photos: i.photos,
            matter_id: i.matter_id,
            items: i
                .items
                .into_iter()
                .map(|r| CheckResultView {
                    item: r.item.as_str().to_string(),
                    item_name: r.item.name_zh().to_string(),
                    passed: r.passed,
                    note: r.note,
                })
                .collect(),
        }
    }
}

/// A registration, its personal fields masked (all null once purged).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenancyView {
    pub id: i64,
    pub unit_id: i64,
    pub grid_code: String,
    pub doc_type: String,
    pub name_masked: Option<String>,
    pub id_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub lease_start: i64,
    pub lease_end: i64,
    /// active or ended.
    pub state: String,
    pub ended_at: Option<i64>,
    /// lease_end (automatic check-out) or early (checked out by hand).
    pub end_reason: Option<String>,
    pub registered_by: i64,
    pub registered_at: i64,
    /// When the personal fields were deleted.
    pub purged_at: Option<i64>,
}

impl From<Tenancy> for TenancyView {
    fn from(t: Tenancy) -> Self {
        TenancyView {
            id: t.id,
            unit_id: t.unit_id,
            grid_code: t.grid_code,
            doc_type: t.doc_type,
            name_masked: t.name_masked,
            id_masked: t.id_masked,
            phone_masked: t.phone_masked,
            lease_start: t.lease_start,
            lease_end: t.lease_end,
            state: t.state,
            ended_at: t.ended_at,
            end_reason: t.end_reason,
            registered_by: t.registered_by,
            registered_at: t.registered_at,
            purged_at: t.purged_at,
        }
    }
}

// ---------------------------------------------------------------- properties

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPropertyRequest {
    /// A name for the building, e.g. `清波街 12 号`.
    pub name: String,
    /// The full address (staff and the landlord only; never public).
    pub address: String,
    /// Where it is; the grid is located from the point.
    pub lng: f64,
    pub lat: f64,
    /// wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
    /// Staff name the landlord's account (role landlord); a landlord leaves it out.
    pub landlord_id: Option<i64>,
    /// A contact phone for the property; stored encrypted, shown masked.
    pub contact: Option<String>,
}

fn check_len(what: &str, text: &str, max: usize) -> ApiResult<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n == 0 {
        return Err(ApiError::invalid(
            "text_required",
            format!("缺少必填内容：{what}"),
            format!("{what} is required"),
        ));
    }
    if n > max {
        return Err(ApiError::invalid(
            "text_too_long",
            format!("{what} 超过 {max} 个字符"),
            format!("{what} is longer than {max} characters"),
        ));
    }
    Ok(t.to_string())
}

fn bad_phone() -> ApiError {
    ApiError::invalid(
        "invalid_phone",
        "电话号码格式不正确",
        "the phone number is not valid",
    )
}

/// Adds a property: a landlord for themselves, or staff for a landlord account.
#[utoipa::path(post, path = "/api/v1/rentals/properties", tag = "rentals", operation_id = "rental_create_property", request_body = NewPropertyRequest,
    responses((status = 201, body = PropertyView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, description = "The point lies in no grid", body = ErrorBody)))]
pub async fn create_property(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<NewPropertyRequest>,
) -> ApiResult<(StatusCode, Json<PropertyView>)> {
    let p = add_property(&state, &caller, req, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// The service behind `POST /api/v1/rentals/properties` (also used by the demo).
pub async fn add_property(
    state: &AppState,
    caller: &Account,
    req: NewPropertyRequest,
    now: i64,
) -> ApiResult<Property> {
    let landlord = match caller.role {
        Role::Landlord => {
            if req.landlord_id.is_some_and(|id| id != caller.id) {
                return Err(ApiError::Forbidden);
            }
            caller.clone()
        }
        Role::GridWorker | Role::GridChief | Role::CentreOperator => {
            let id = req.landlord_id.ok_or_else(|| {
                ApiError::invalid(
                    "landlord_required",
                    "请指定房东账号",
                    "landlord_id is required",
                )
            })?;
            let account = state
                .store
                .account(&caller.scope, id)
                .await?
                .filter(|a| a.role == Role::Landlord && !a.disabled);
            account.ok_or_else(|| {
                ApiError::invalid(
                    "not_a_landlord",
                    "所指定的账号不是本辖区的房东",
                    "landlord_id is not a landlord account in the caller's scope",
                )
            })?
        }
        _ => return Err(ApiError::Forbidden),
    };
    let name = check_len("name", &req.name, 100)?;
    let address = check_len("address", &req.address, 200)?;
    if let Some(c) = req.contact.as_deref().filter(|c| !c.trim().is_empty()) {
        if !rules::phone_plausible(c) {
            return Err(bad_phone());
        }
    }
    let crs = crate::routes::crs_from(req.crs.as_deref()).map_err(ApiError::BadRequest)?;
    if !((-180.0..=180.0).contains(&req.lng) && (-90.0..=90.0).contains(&req.lat)) {
        return Err(ApiError::BadRequest("lng or lat out of range".into()));
    }
    let (lng, lat) = pingan_geo::crs::to_wgs84(crs, req.lng, req.lat);
    let grid = state
        .index()
        .locate(lng, lat)
        .cloned()
        .ok_or(ApiError::PlaceOutsideGrids)?;
    // Both the caller and the landlord must reach the grid, so the
    // landlord will see what staff entered for them.
    if !caller.scope.covers(grid.as_str()) || !landlord.scope.covers(grid.as_str()) {
        return Err(ApiError::OutOfScope(format!("grid {grid}")));
    }
    let log = entry(
        caller,
        "create",
        None,
        None,
        serde_json::json!({ "grid_code": grid.as_str(), "landlord_id": landlord.id }),
        now,
    );
    Ok(state
        .store
        .create_property(
            &NewProperty {
                grid_code: grid.to_string(),
                landlord_id: landlord.id,
                name,
                address,
                lng,
                lat,
                contact: req.contact,
                created_by: caller.id,
            },
            &log,
        )
        .await?)
}

/// Properties the caller reaches (a landlord: their own), by id.
#[utoipa::path(get, path = "/api/v1/rentals/properties", tag = "rentals", operation_id = "rental_properties", params(ListQuery),
    responses((status = 200, body = Page<PropertyView>), (status = 403, body = ErrorBody)))]
pub async fn properties(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<PropertyView>>> {
    let reach = reach_for(&caller)?;
    let page = q.page()?;
    let rows = state.store.properties(&reach, &page).await?;
    Ok(Json(Page::new(rows, page.limit, |p| p.id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/rentals/properties/{id}", tag = "rentals", operation_id = "rental_property", params(("id" = i64, Path)),
    responses((status = 200, body = PropertyView), (status = 404, body = ErrorBody)))]
pub async fn property(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PropertyView>> {
    let reach = reach_for(&caller)?;
    let p = state
        .store
        .property(&reach, id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    Ok(Json(p.into()))
}

// ---------------------------------------------------------------- units

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = NewRentalUnitRequest)]
pub struct NewUnitRequest {
    /// Room or flat number, 1-32 characters.
    pub label: String,
    /// Usable floor area, 1-1000 m².
    pub area_m2: f64,
    /// Monthly rent in yuan, 0-1,000,000.
    pub rent_yuan: i64,
    pub street_facing: bool,
    /// -5 (basement) to 200.
    pub floor: i64,
    /// At most 20 names of up to 20 characters, e.g. `空调`, `独立卫生间`.
    #[serde(default)]
    pub facilities: Vec<String>,
    /// At least 1, at most one occupant per 5 m² of area.
    pub occupancy_limit: i64,
}

/// Adds a unit to a property, as a draft.
#[utoipa::path(post, path = "/api/v1/rentals/properties/{id}/units", tag = "rentals", operation_id = "rental_create_unit", params(("id" = i64, Path)),
    request_body = NewUnitRequest,
    responses((status = 201, body = UnitView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_unit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<NewUnitRequest>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    let u = add_unit(&state, &caller, id, req, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(unit_view(&state, &caller, u))))
}

/// The service behind `POST /api/v1/rentals/properties/{id}/units`.
pub async fn add_unit(
    state: &AppState,
    caller: &Account,
    property_id: i64,
    req: NewUnitRequest,
    now: i64,
) -> ApiResult<RentalUnit> {
    let reach = reach_for(caller)?;
    let p = state
        .store
        .property(&reach, property_id)
        .await?
        .ok_or(ApiError::NotFound("property"))?;
    let may = match caller.role {
        Role::Landlord => p.landlord_id == caller.id,
        Role::GridWorker | Role::GridChief | Role::CentreOperator => true,
        _ => false,
    };
    if !may {
        return Err(ApiError::Forbidden);
    }
    let d = unit_details(&req)?;
    let log = entry(
        caller,
        "create",
        None,
        Some(rules::INITIAL.as_str()),
        serde_json::json!({ "property_id": p.id, "label": d.label, "area_m2": d.area_m2,
            "rent_yuan": d.rent_yuan, "occupancy_limit": d.occupancy_limit }),
        now,
    );
    state
        .store
        .create_rental_unit(
            &NewRentalUnit {
                property_id: p.id,
                label: d.label,
                area_m2: d.area_m2,
                rent_yuan: d.rent_yuan,
                street_facing: d.street_facing,
                floor: d.floor,
                facilities: d.facilities,
                occupancy_limit: d.occupancy_limit,
                state: rules::INITIAL.as_str().to_string(),
                at: now,
            },
            &log,
        )
        .await
        .map_err(store_err)
}

/// Checks a unit's details against the rules (the occupancy limit against the area).
fn unit_details(req: &NewUnitRequest) -> ApiResult<UnitDetails> {
    let label = check_len("label", &req.label, 32)?;
    if !(req.area_m2.is_finite() && (1.0..=1000.0).contains(&req.area_m2)) {
        return Err(ApiError::invalid(
            "bad_area",
            "面积须在 1 至 1000 平方米之间",
            "area_m2 must be 1-1000",
        ));
    }
    if !(0..=1_000_000).contains(&req.rent_yuan) {
        return Err(ApiError::invalid(
            "bad_rent",
            "月租金须在 0 至 1,000,000 元之间",
            "rent_yuan must be 0-1000000",
        ));
    }
    if !(-5..=200).contains(&req.floor) {
        return Err(ApiError::invalid(
            "bad_floor",
            "楼层须在 -5 至 200 之间",
            "floor must be -5 to 200",
        ));
    }
    let facilities: Vec<String> = req
        .facilities
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    if facilities.len() > 20 || facilities.iter().any(|f| f.chars().count() > 20) {
        return Err(ApiError::invalid(
            "bad_facilities",
            "设施最多 20 项，每项不超过 20 个字符",
            "at most 20 facilities of up to 20 characters",
        ));
    }
    let limit = u32::try_from(req.occupancy_limit).unwrap_or(0);
    if !rules::occupancy_limit_allowed(req.area_m2, limit) {
        return Err(ApiError::invalid(
            "occupancy_exceeds_area",
            format!(
                "核定人数须为 1 至 {} 人（人均不少于 {} 平方米）",
                rules::max_occupants(req.area_m2),
                rules::MIN_AREA_PER_OCCUPANT_M2
            ),
            format!(
                "occupancy_limit must be 1-{} (at least {} m² per occupant)",
                rules::max_occupants(req.area_m2),
                rules::MIN_AREA_PER_OCCUPANT_M2
            ),
        ));
    }
    Ok(UnitDetails {
        label,
        area_m2: req.area_m2,
        rent_yuan: req.rent_yuan,
        street_facing: req.street_facing,
        floor: req.floor,
        facilities,
        occupancy_limit: req.occupancy_limit,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UnitDetailsRequest {
    /// The version the caller saw.
    pub version: i64,
    /// Every detail, as when the unit was added.
    pub details: NewUnitRequest,
}

/// Replaces a unit's details (rent, facilities…) by its landlord or staff.
/// The occupancy limit must suit the area and still hold the tenants now.
#[utoipa::path(put, path = "/api/v1/rentals/units/{id}", tag = "rentals", operation_id = "rental_edit_unit", params(("id" = i64, Path)),
    request_body = UnitDetailsRequest,
    responses((status = 200, body = UnitView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "occupancy_below_tenants or stale_version", body = ErrorBody)))]
pub async fn edit_unit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UnitDetailsRequest>,
) -> ApiResult<Json<UnitView>> {
    let u = change_details(&state, &caller, id, req, now_ms()).await?;
    Ok(Json(unit_view(&state, &caller, u)))
}

/// The service behind `PUT /api/v1/rentals/units/{id}`.
pub async fn change_details(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: UnitDetailsRequest,
    now: i64,
) -> ApiResult<RentalUnit> {
    let unit = visible_unit(state, caller, id).await?;
    if !actors_for(caller, &unit)
        .iter()
        .any(|a| matches!(a, UnitActor::Owner | UnitActor::Staff))
    {
        return Err(ApiError::Forbidden);
    }
    let d = unit_details(&req.details)?;
    if req.version != unit.version {
        return Err(ApiError::StaleVersion(format!(
            "rental unit {id} is at version {}, not {}",
            unit.version, req.version
        )));
    }
    if d.occupancy_limit < unit.tenants_now {
        return Err(conflict(
            "occupancy_below_tenants",
            format!("已住 {} 人，核定人数不能低于此数", unit.tenants_now),
            format!(
                "{} tenants live there; the limit cannot be lower",
                unit.tenants_now
            ),
        ));
    }
    let log = entry(
        caller,
        "edit",
        Some(&unit.state),
        Some(&unit.state),
        serde_json::json!({ "label": d.label, "area_m2": d.area_m2, "rent_yuan": d.rent_yuan,
            "street_facing": d.street_facing, "floor": d.floor, "facilities": d.facilities,
            "occupancy_limit": d.occupancy_limit }),
        now,
    );
    state
        .store
        .update_unit_details(id, req.version, &d, &log)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) if m.contains("below") => {
                conflict("occupancy_below_tenants", "核定人数不能低于现住人数", m)
            }
            other => store_err(other),
        })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitListQuery {
    pub property_id: Option<i64>,
    /// One state, e.g. `vacant`.
    pub state: Option<String>,
    /// A region or grid code prefix within the caller's scope.
    pub under: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

fn list_page(after: Option<String>, limit: Option<u32>) -> ApiResult<StorePage> {
    ListQuery { after, limit }.page()
}

fn under_prefix(under: Option<&str>) -> ApiResult<Option<String>> {
    under
        .map(|u| {
            Scope::parse(u)
                .map(|s| s.prefix().to_string())
                .map_err(|e| ApiError::InvalidQuery(e.to_string()))
        })
        .transpose()
}

/// Units the caller reaches, by id.
#[utoipa::path(get, path = "/api/v1/rentals/units", tag = "rentals", operation_id = "rental_units", params(UnitListQuery),
    responses((status = 200, body = Page<UnitView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn units(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<UnitListQuery>,
) -> ApiResult<Json<Page<UnitView>>> {
    let reach = reach_for(&caller)?;
    let page = list_page(q.after, q.limit)?;
    let mut filter = RentalUnitFilter {
        under: under_prefix(q.under.as_deref())?,
        property_id: q.property_id,
        ..RentalUnitFilter::default()
    };
    if let Some(s) = q.state {
        let st: UnitState = s
            .parse()
            .map_err(|e: rules::UnknownRentalName| ApiError::InvalidQuery(e.to_string()))?;
        filter.states.push(st.as_str().to_string());
    }
    let rows = state.store.rental_units(&reach, &filter, &page).await?;
    let next = (rows.len() as u32 >= page.limit)
        .then(|| rows.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows
            .into_iter()
            .map(|u| unit_view(&state, &caller, u))
            .collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/api/v1/rentals/units/{id}", tag = "rentals", operation_id = "rental_unit", params(("id" = i64, Path)),
    responses((status = 200, body = UnitView), (status = 404, body = ErrorBody)))]
pub async fn unit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UnitView>> {
    let u = visible_unit(&state, &caller, id).await?;
    Ok(Json(unit_view(&state, &caller, u)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UnitActionRequest {
    /// submit, publish, withdraw or relist (inspections and check-ins have their own routes).
    pub action: String,
    /// The version the caller saw.
    pub version: i64,
    pub note: Option<String>,
}

/// Moves a unit through its life: submit for the check, publish, withdraw, relist.
#[utoipa::path(post, path = "/api/v1/rentals/units/{id}/actions", tag = "rentals", operation_id = "rental_act", params(("id" = i64, Path)),
    request_body = UnitActionRequest,
    responses((status = 200, body = UnitView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not in this state, or a stale version", body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UnitActionRequest>,
) -> ApiResult<Json<UnitView>> {
    let u = perform(&state, &caller, id, req, now_ms()).await?;
    Ok(Json(unit_view(&state, &caller, u)))
}

/// The service behind `POST /api/v1/rentals/units/{id}/actions`.
pub async fn perform(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: UnitActionRequest,
    now: i64,
) -> ApiResult<RentalUnit> {
    let unit = visible_unit(state, caller, id).await?;
    let mut action: UnitAction = req
        .action
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown action {:?}", req.action)))?;
    if !matches!(
        action,
        UnitAction::Submit | UnitAction::Publish | UnitAction::Withdraw | UnitAction::Relist
    ) {
        return Err(ApiError::invalid(
            "not_a_direct_action",
            "检查、入住和退租请使用各自的接口",
            "inspections, check-ins and check-outs have their own routes",
        ));
    }
    let note = req
        .note
        .as_deref()
        .map(|n| check_len("note", n, 1000))
        .transpose()?;
    if req.version != unit.version {
        return Err(ApiError::StaleVersion(format!(
            "rental unit {id} is at version {}, not {}",
            unit.version, req.version
        )));
    }
    // Tenants who stayed through a rectification keep the unit let.
    if action == UnitAction::Publish && unit.tenants_now > 0 {
        action = UnitAction::ResumeLetting;
    }
    let from = unit_state(&unit)?;
    let to = rules::next(from, action, &actors_for(caller, &unit)).map_err(refused)?;
    let log = entry(
        caller,
        action.as_str(),
        Some(from.as_str()),
        Some(to.as_str()),
        serde_json::json!({ "note": note }),
        now,
    );
    let change = UnitChange {
        state: to.as_str().to_string(),
        ..UnitChange::default()
    };
    state
        .store
        .apply_unit_change(id, req.version, &change, &log)
        .await
        .map_err(store_err)
}

// ---------------------------------------------------------------- inspections

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckItemRequest {
    /// extinguisher, escape_route, no_indoor_ebike_charging, wiring, gas, smoke_alarm, occupancy_per_area.
    pub item: String,
    pub passed: bool,
    /// Up to 200 characters; say what is wrong when an item fails.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InspectionRequest {
    /// The unit's version the inspector saw.
    pub version: i64,
    /// Every item of the checklist, once each.
    pub items: Vec<CheckItemRequest>,
    /// At least one photo, uploaded before with `POST /api/v1/photos`.
    pub photos: Vec<String>,
    pub note: Option<String>,
    /// Done on a night round (夜查).
    #[serde(default)]
    pub night: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionOutcome {
    pub inspection: InspectionView,
    pub unit: UnitView,
    /// The rectification matter filed for a failed check.
    pub matter_id: Option<i64>,
    /// Its tracking code.
    pub matter_tracking_code: Option<String>,
    /// When the rectification is due (the category's time limit on the
    /// working-time calendar); also the unit's next check.
    pub rectify_by: Option<i64>,
}

/// Records a safety check by a grid worker or chief of the unit's grid. A
/// failed item files a rectification matter and blocks letting.
#[utoipa::path(post, path = "/api/v1/rentals/units/{id}/inspections", tag = "rentals", operation_id = "rental_inspect", params(("id" = i64, Path)),
    request_body = InspectionRequest,
    responses((status = 201, body = InspectionOutcome), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Not in this state, a rectification still open, or a stale version", body = ErrorBody)))]
pub async fn inspect(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<InspectionRequest>,
) -> ApiResult<(StatusCode, Json<InspectionOutcome>)> {
    let out = record_inspection(&state, &caller, id, req, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The service behind `POST /api/v1/rentals/units/{id}/inspections`.
pub async fn record_inspection(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: InspectionRequest,
    now: i64,
) -> ApiResult<InspectionOutcome> {
    let unit = visible_unit(state, caller, id).await?;
    let mut items = Vec::with_capacity(req.items.len());
    for i in &req.items {
        let item = i.item.parse().map_err(|_| {
            ApiError::invalid(
                "unknown_check_item",
                format!("未知的检查项：{}", i.item),
                format!("unknown checklist item {:?}", i.item),
            )
        })?;
        let note = i
            .note
            .as_deref()
            .map(|n| check_len("note", n, 200))
            .transpose()?;
        items.push(CheckResult {
            item,
            passed: i.passed,
            note,
        });
    }
    let passed = rules::checklist_passed(&items).map_err(|e| {
        ApiError::invalid(
            "incomplete_checklist",
            format!("检查表须逐项填写且每项一次：{e}"),
            e.to_string(),
        )
    })?;
    if req.photos.is_empty() {
        return Err(ApiError::invalid(
            "photo_required",
            "安全检查须附至少一张照片",
            "a check needs at least one photo",
        ));
    }
    if req.photos.len() > state.config.photos_per_request {
        return Err(ApiError::invalid(
            "too_many_photos",
            format!("照片最多 {} 张", state.config.photos_per_request),
            format!("at most {} photos", state.config.photos_per_request),
        ));
    }
    let note = req
        .note
        .as_deref()
        .map(|n| check_len("note", n, 1000))
        .transpose()?
        .unwrap_or_default();
    if req.version != unit.version {
        return Err(ApiError::StaleVersion(format!(
            "rental unit {id} is at version {}, not {}",
            unit.version, req.version
        )));
    }
    let from = unit_state(&unit)?;
    let action = if passed {
        UnitAction::InspectPass
    } else {
        UnitAction::InspectFail
    };
    let to = rules::next(from, action, &actors_for(caller, &unit)).map_err(refused)?;
    // The rule linking the two loops: a unit under rectification is checked
    // again only once its rectification matter is closed.
    if from == UnitState::RectificationRequired {
        if let Some(mid) = unit.rectification_matter_id {
            let m = state.store.matter(&Scope::everywhere(), mid).await?;
            let done = m
                .and_then(|m| m.state.parse::<pingan_domain::workflow::State>().ok())
                .is_none_or(|s| s.is_closed() || s.is_final());
            if !done {
                return Err(conflict(
                    "rectification_open",
                    format!("整改事件 {mid} 尚未结案，结案后方可复查"),
                    format!("rectification matter {mid} is not closed yet"),
                ));
            }
        }
    }
    // Photos must be the inspector's own uploads, as with reports.
    for sha in &req.photos {
        if state
            .store
            .photo_upload(&sha.to_ascii_lowercase(), caller.id)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "unknown_photo",
                format!("照片 {sha} 未上传或不属于本账号"),
                format!("photo {sha} was not uploaded by this account"),
            ));
        }
    }
    let photos: Vec<String> = req.photos.iter().map(|s| s.to_ascii_lowercase()).collect();
    // The rectification deadline: the category's time limit (3 working days
    // for 0603) on the working-time calendar. The unit is due for its
    // follow-up check then; the matter gets its own deadline on dispatch.
    let rectify_by = (!passed).then(|| {
        pingan_domain::category::CategoryCode::parse(RECTIFICATION_CATEGORY)
            .ok()
            .and_then(|code| {
                state
                    .catalogue()
                    .1
                    .get(&code)
                    .and_then(|c| c.limit(pingan_domain::category::Severity::Normal))
            })
            .map(|limit| limit.deadline(&state.calendar, now))
            .unwrap_or(now + FOLLOW_UP_AFTER_DAYS * DAY_MS)
    });
    let mut matter = None;
    if let Some(due) = rectify_by {
        let failed: Vec<&str> = items
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.item.name_zh())
            .collect();
        // Names the unit and the failed items only: no personal data.
        let day = pingan_domain::calendar::LocalDate::from_utc_ms(due);
        let description = format!(
            "出租房安全检查未通过（房间 {} #{}）：{}。请于 {}-{:02}-{:02} 前整改。",
            unit.label,
            unit.id,
            failed.join("、"),
            day.year(),
            day.month(),
            day.day()
        );
        let (m, _) = crate::matters::file_report(
            state,
            caller,
            crate::matters::NewMatterRequest {
                description,
                category_code: Some(RECTIFICATION_CATEGORY.into()),
                severity: None,
                lng: None,
                lat: None,
                crs: None,
                grid_code: Some(unit.grid_code.clone()),
                contact: None,
                idempotency_key: None,
                channel: None,
                photos: Some(photos.clone()),
            },
            now,
        )
        .await?;
        matter = Some(m);
    }
    let matter_id = matter.as_ref().map(|m| m.id);
    let change = UnitChange {
        state: to.as_str().to_string(),
        rectification_matter_id: if passed { None } else { Some(matter_id) },
        last_inspected_at: Some(now),
        next_inspection_due: Some(Some(
            rectify_by.unwrap_or(now + rules::REINSPECT_AFTER_DAYS * DAY_MS),
        )),
    };
    let log = entry(
        caller,
        action.as_str(),
        Some(from.as_str()),
        Some(to.as_str()),
        serde_json::json!({
            "failed_items": items.iter().filter(|r| !r.passed).map(|r| r.item.as_str()).collect::<Vec<_>>(),
            "photos": photos,
            "night": req.night,
            "matter_id": matter_id,
            "rectify_by": rectify_by,
        }),
        now,
    );
    let (inspection, unit) = state
        .store
        .record_inspection(
            id,
            req.version,
            &NewInspection {
                inspector_id: caller.id,
                at: now,
                passed,
                night: req.night,
                note,
                photos,
                matter_id,
                items,
            },
            &change,
            &log,
        )
        .await
        .map_err(store_err)?;
    Ok(InspectionOutcome {
        inspection: inspection.into(),
        unit: unit_view(state, caller, unit),
        matter_id,
        matter_tracking_code: matter.map(|m| m.tracking_code),
        rectify_by,
    })
}

/// A unit's checks, newest first.
#[utoipa::path(get, path = "/api/v1/rentals/units/{id}/inspections", tag = "rentals", operation_id = "rental_inspections", params(("id" = i64, Path)),
    responses((status = 200, body = [InspectionView]), (status = 404, body = ErrorBody)))]
pub async fn inspections(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<InspectionView>>> {
    visible_unit(&state, &caller, id).await?;
    let list = state.store.inspections(id).await?;
    Ok(Json(list.into_iter().map(InspectionView::from).collect()))
}

/// A photo of one of the unit's checks.
#[utoipa::path(get, path = "/api/v1/rentals/units/{id}/photos/{sha256}", tag = "rentals", operation_id = "rental_photo",
    params(("id" = i64, Path), ("sha256" = String, Path)),
    responses((status = 200, description = "The image"), (status = 404, body = ErrorBody)))]
pub async fn photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((id, sha)): ApiPath<(i64, String)>,
) -> ApiResult<Response> {
    visible_unit(&state, &caller, id).await?;
    let attached = state
        .store
        .inspections(id)
        .await?
        .iter()
        .any(|i| i.photos.contains(&sha));
    if !attached {
        return Err(ApiError::NotFound("photo"));
    }
    let (kind, bytes) = state
        .photos
        .open(&sha)
        .await
        .map_err(ApiError::Photo)?
        .ok_or(ApiError::NotFound("photo"))?;
    let mut response = image(bytes, kind.mime());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoundsQuery {
    /// Also list units falling due within this many hours (0-168, default 12:
    /// tonight's round).
    pub within_hours: Option<i64>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// The night inspection round: units in the caller's scope awaiting a check
/// or due for one again, by id.
#[utoipa::path(get, path = "/api/v1/rentals/rounds", tag = "rentals", operation_id = "rental_rounds", params(RoundsQuery),
    responses((status = 200, body = Page<UnitView>), (status = 403, body = ErrorBody)))]
pub async fn rounds(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<RoundsQuery>,
) -> ApiResult<Json<Page<UnitView>>> {
    if !matches!(
        caller.role,
        Role::GridWorker | Role::GridChief | Role::CentreOperator
    ) {
        return Err(ApiError::Forbidden);
    }
    let hours = q.within_hours.unwrap_or(12);
    if !(0..=168).contains(&hours) {
        return Err(ApiError::InvalidQuery("within_hours must be 0-168".into()));
    }
    let reach = reach_for(&caller)?;
    let page = list_page(q.after, q.limit)?;
    let filter = RentalUnitFilter {
        inspection_due_by: Some(now_ms() + hours * 3600 * 1000),
        ..RentalUnitFilter::default()
    };
    let rows = state.store.rental_units(&reach, &filter, &page).await?;
    let next = (rows.len() as u32 >= page.limit)
        .then(|| rows.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows
            .into_iter()
            .map(|u| unit_view(&state, &caller, u))
            .collect(),
        next,
    }))
}

// ---------------------------------------------------------------- tenancies

#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantRequest {
    /// 1-50 characters.
    pub name: String,
    /// resident_id (checked against GB 11643), passport, hk_macao_permit,
    /// taiwan_permit or foreign_permanent_resident_id.
    pub doc_type: String,
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckInRequest {
    /// The unit's version the caller saw.
    pub version: i64,
    /// Milliseconds since the Unix epoch (UTC).
    pub lease_start: i64,
    /// When the lease ends: the tenancy is checked out automatically then.
    pub lease_end: i64,
    /// 1 or more tenants moving in together (a family), within the
    /// unit's occupancy limit.
    pub tenants: Vec<TenantRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInOutcome {
    pub tenancies: Vec<TenancyView>,
    pub unit: UnitView,
}

/// Check-in registration (入住登记) by the landlord or staff (the township's
/// service desk). Refused unless the unit passed its check and is published.
#[utoipa::path(post, path = "/api/v1/rentals/units/{id}/tenancies", tag = "rentals", operation_id = "rental_check_in", params(("id" = i64, Path)),
    request_body = CheckInRequest,
    responses((status = 201, body = CheckInOutcome), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Unit not lettable (unit_action_not_allowed_in_state), occupancy_limit_exceeded, tenant_already_registered or stale_version", body = ErrorBody)))]
pub async fn check_in(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CheckInRequest>,
) -> ApiResult<(StatusCode, Json<CheckInOutcome>)> {
    let out = register(&state, &caller, id, req, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The service behind check-in.
pub async fn register(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: CheckInRequest,
    now: i64,
) -> ApiResult<CheckInOutcome> {
    let unit = visible_unit(state, caller, id).await?;
    if req.tenants.is_empty() {
        return Err(ApiError::invalid(
            "tenants_required",
            "请至少登记一名租客",
            "at least one tenant is required",
        ));
    }
    let today = LocalDate::from_utc_ms(now);
    let mut tenants = Vec::with_capacity(req.tenants.len());
    for t in &req.tenants {
        let name = check_len("name", &t.name, 50)?;
        let doc: DocumentType = t.doc_type.parse().map_err(|_| {
            ApiError::invalid(
                "unknown_document_type",
                format!("未知的证件类型：{}", t.doc_type),
                format!("unknown document type {:?}", t.doc_type),
            )
        })?;
        let number = rules::validate_document(doc, &t.id_number, today).map_err(|e| {
            let zh = match e {
                rules::IdNumberError::Format => {
                    "身份证号码须为 18 位：17 位数字加校验码（数字或 X）"
                }
                rules::IdNumberError::BirthDate => "身份证号码中的出生日期无效",
                rules::IdNumberError::CheckDigit => "身份证号码校验码不正确",
                rules::IdNumberError::OtherFormat => "证件号码须为 5-32 位字母或数字",
            };
            ApiError::invalid("invalid_id_number", zh, e.to_string())
        })?;
        if !rules::phone_plausible(&t.phone) {
            return Err(bad_phone());
        }
        tenants.push(NewTenant {
            name,
            doc_type: doc.as_str().to_string(),
            id_number: number,
            phone: t.phone.trim().to_string(),
        });
    }
    if req.lease_end <= req.lease_start
        || req.lease_end <= now
        || req.lease_end - req.lease_start > MAX_LEASE_MS
    {
        return Err(ApiError::invalid(
            "bad_lease",
            "租期须在入住之后结束、尚未届满，且不超过 20 年",
            "lease_end must follow lease_start, lie in the future, and within 20 years",
        ));
    }
    if req.version != unit.version {
        return Err(ApiError::StaleVersion(format!(
            "rental unit {id} is at version {}, not {}",
            unit.version, req.version
        )));
    }
    let from = unit_state(&unit)?;
    let to = rules::next(from, UnitAction::CheckIn, &actors_for(caller, &unit)).map_err(refused)?;
    if unit.tenants_now + tenants.len() as i64 > unit.occupancy_limit {
        return Err(conflict(
            "occupancy_limit_exceeded",
            format!(
                "该房间核定 {} 人，已住 {} 人，不能再登记 {} 人",
                unit.occupancy_limit,
                unit.tenants_now,
                tenants.len()
            ),
            format!(
                "the unit houses at most {}; {} live there, {} more would exceed it",
                unit.occupancy_limit,
                unit.tenants_now,
                tenants.len()
            ),
        ));
    }
    // No personal data in the log: the document type and the lease only.
    let log = entry(
        caller,
        "check_in",
        None,
        Some("active"),
        serde_json::json!({ "unit_id": unit.id, "lease_start": req.lease_start, "lease_end": req.lease_end }),
        now,
    );
    let unit_change = (to != from).then(|| {
        (
            UnitChange {
                state: to.as_str().to_string(),
                ..UnitChange::default()
            },
            entry(
                caller,
                UnitAction::CheckIn.as_str(),
                Some(from.as_str()),
                Some(to.as_str()),
                serde_json::json!({ "tenants": tenants.len() }),
                now,
            ),
        )
    });
    let made = state
        .store
        .check_in(&CheckIn {
            unit_id: unit.id,
            unit_version: req.version,
            tenants,
            lease_start: req.lease_start,
            lease_end: req.lease_end,
            registered_by: caller.id,
            log,
            unit_change,
        })
        .await
        .map_err(store_err)?;
    let unit = visible_unit(state, caller, id).await?;
    Ok(CheckInOutcome {
        tenancies: made.into_iter().map(TenancyView::from).collect(),
        unit: unit_view(state, caller, unit),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenancyListQuery {
    /// Only tenants registered now.
    pub active: Option<bool>,
}

/// A unit's registrations, newest first, masked.
#[utoipa::path(get, path = "/api/v1/rentals/units/{id}/tenancies", tag = "rentals", operation_id = "rental_tenancies", params(("id" = i64, Path), TenancyListQuery),
    responses((status = 200, body = [TenancyView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tenancies(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<TenancyListQuery>,
) -> ApiResult<Json<Vec<TenancyView>>> {
    let unit = visible_unit(&state, &caller, id).await?;
    if actors_for(&caller, &unit).is_empty() {
        // Leaders and admins see counts, not registrations.
        return Err(ApiError::Forbidden);
    }
    let reach = reach_for(&caller)?;
    let list = state
        .store
        .tenancies(&reach, id, q.active.unwrap_or(false))
        .await?;
    Ok(Json(list.into_iter().map(TenancyView::from).collect()))
}

/// Checks a tenant out before the lease ends (landlord or staff).
#[utoipa::path(post, path = "/api/v1/rentals/tenancies/{id}/check-out", tag = "rentals", operation_id = "rental_check_out", params(("id" = i64, Path)),
    responses((status = 200, body = TenancyView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Already ended", body = ErrorBody)))]
pub async fn check_out(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TenancyView>> {
    let t = end_early(&state, &caller, id, now_ms()).await?;
    Ok(Json(t.into()))
}

/// The service behind early check-out.
pub async fn end_early(
    state: &AppState,
    caller: &Account,
    id: i64,
    now: i64,
) -> ApiResult<Tenancy> {
    let reach = reach_for(caller)?;
    let t = state
        .store
        .tenancy(&reach, id)
        .await?
        .ok_or(ApiError::NotFound("tenancy"))?;
    let unit = visible_unit(state, caller, t.unit_id).await?;
    let actors = actors_for(caller, &unit);
    if !actors
        .iter()
        .any(|a| matches!(a, UnitActor::Owner | UnitActor::Staff))
    {
        return Err(ApiError::Forbidden);
    }
    if t.state != "active" {
        return Err(conflict(
            "tenancy_ended",
            "该登记已退租",
            format!("tenancy {id} has ended"),
        ));
    }
    let log = entry(caller, "check_out", None, None, serde_json::json!({}), now);
    state
        .store
        .end_tenancy(id, "early", &log)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => conflict("tenancy_ended", "该登记已退租", m),
            other => other.into(),
        })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TenantLookupRequest {
    /// The exact document number (spaces and case are ignored). Sent in the
    /// body, so it stays out of URLs and access logs.
    pub id_number: String,
}

/// Finds registrations by exact document number, for authorised staff
/// (grid workers and chiefs, centre operators) within their scope. Every
/// search is audited (without the number).
#[utoipa::path(post, path = "/api/v1/rentals/tenants/lookup", tag = "rentals", operation_id = "rental_lookup", request_body = TenantLookupRequest,
    responses((status = 200, body = [TenancyView]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<TenantLookupRequest>,
) -> ApiResult<Json<Vec<TenancyView>>> {
    if !matches!(
        caller.role,
        Role::GridWorker | Role::GridChief | Role::CentreOperator
    ) {
        return Err(ApiError::Forbidden);
    }
    let number = req.id_number.trim();
    if !(5..=32).contains(&number.len()) {
        return Err(ApiError::invalid(
            "invalid_id_number",
            "证件号码须为 5-32 位",
            "the document number must be 5-32 characters",
        ));
    }
    let reach = reach_for(&caller)?;
    let found = state
        .store
        .tenancies_by_document(&reach, caller.id, &number.to_ascii_uppercase(), now_ms())
        .await?;
    Ok(Json(found.into_iter().map(TenancyView::from).collect()))
}

// ---------------------------------------------------------------- overview

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// township, village (default) or grid.
    pub level: Option<String>,
    /// A region prefix within the caller's scope (default: the whole scope).
    pub under: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewRow {
    /// Township (9 digits), village (12) or grid (15) code.
    pub code: String,
    pub name: Option<String>,
    pub units: i64,
    pub let_units: i64,
    pub vacant_units: i64,
    pub tenants_now: i64,
    pub inspections_due: i64,
    pub failed_checks: i64,
    /// Registrations ever made, including purged (anonymous) ones.
    pub registrations_total: i64,
}

/// Units, occupancy, tenants and checks per township, village or grid.
#[utoipa::path(get, path = "/api/v1/rentals/overview", tag = "rentals", operation_id = "rental_overview", params(OverviewQuery),
    responses((status = 200, body = [OverviewRow]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn overview(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Json<Vec<OverviewRow>>> {
    if !matches!(
        caller.role,
        Role::GridWorker | Role::GridChief | Role::CentreOperator | Role::Leader | Role::Admin
    ) {
        return Err(ApiError::Forbidden);
    }
    let digits = match q.level.as_deref().unwrap_or("village") {
        "township" => 9,
        "village" => 12,
        "grid" => 15,
        other => return Err(ApiError::InvalidQuery(format!("unknown level {other:?}"))),
    };
    let under = match &q.under {
        Some(u) => Scope::parse(u).map_err(|e| ApiError::InvalidQuery(e.to_string()))?,
        None => caller.scope.clone(),
    };
    let Some(reach) = caller.scope.intersect(&under) else {
        return Ok(Json(Vec::new()));
    };
    let rows = state
        .store
        .rental_overview(&reach, digits, now_ms())
        .await?;
    let names = place_names(&state, rows.iter().map(|r| r.code.clone())).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r: RentalCounts| OverviewRow {
                name: names.get(&r.code).cloned(),
                code: r.code,
                units: r.units,
                let_units: r.let_units,
                vacant_units: r.vacant_units,
                tenants_now: r.tenants_now,
                inspections_due: r.inspections_due,
                failed_checks: r.failed_checks,
                registrations_total: r.registrations_total,
            })
            .collect(),
    ))
}

/// Names of township, village and grid codes (public administrative names).
async fn place_names(
    state: &AppState,
    codes: impl Iterator<Item = String>,
) -> ApiResult<HashMap<String, String>> {
    let mut regions = Vec::new();
    let mut out = HashMap::new();
    for code in codes {
        if code.len() == 15 {
            let grids = state
                .store
                .grids(&Scope::everywhere(), &code, &StorePage::first(1))
                .await?;
            if let Some(g) = grids.into_iter().find(|g| g.code == code) {
                out.insert(code.clone(), g.name);
            }
        } else if code.len() <= 12 {
            regions.push(format!("{code:0<12}"));
        }
    }
    regions.sort();
    regions.dedup();
    for r in state.store.region_names(&regions).await? {
        let short = pingan_domain::RegionCode::new(&r.code, r.level)
            .map(|c| c.prefix().to_string())
            .unwrap_or(r.code.clone());
        out.insert(short, r.name);
    }
    Ok(out)
}

// ---------------------------------------------------------------- signed links and QR

fn link_mac(state: &AppState, id: i64) -> Hmac<Sha256> {
    let key = state.store.derived_key(LINK_KEY_PURPOSE);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC accepts any key length");
    mac.update(format!("rental-unit:{id}").as_bytes());
    mac
}

/// The unit's public token: its id and 96 bits of an HMAC under a key
/// derived from the personal-data keys, so tokens cannot be guessed or
/// enumerated from ids.
pub fn unit_token(state: &AppState, id: i64) -> String {
    let tag = link_mac(state, id).finalize().into_bytes();
    format!("{id}.{}", B64URL.encode(&tag[..12]))
}

/// The unit id a token names, if its signature holds.
pub fn verify_token(state: &AppState, token: &str) -> Option<i64> {
    let (id, tag) = token.split_once('.')?;
    let id: i64 = id.parse().ok().filter(|i| *i > 0)?;
    let tag = B64URL.decode(tag).ok().filter(|t| t.len() == 12)?;
    link_mac(state, id).verify_truncated_left(&tag).ok()?;
    Some(id)
}

/// The absolute address of a unit's public page.
fn public_link(state: &AppState, headers: &HeaderMap, token: &str) -> String {
    let base = match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                })
                .unwrap_or("127.0.0.1:8080");
            format!("http://{host}")
        }
    };
    format!("{base}/rental/{token}")
}

fn qr_modules(link: &str) -> ApiResult<qrcode::QrCode> {
    qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| ApiError::Internal(format!("QR encoding failed: {e}")))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A printable A4 sheet: title, the unit's label, the QR code and its link.
pub fn qr_sheet_svg(link: &str, label: &str) -> ApiResult<String> {
    let code = qr_modules(link)?;
    let n = code.width();
    let colors = code.to_colors();
    // 130 mm wide code, centred on a 210 × 297 mm page.
    let size = 130.0;
    let cell = size / n as f64;
    let (x0, y0) = ((210.0 - size) / 2.0, 70.0);
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % n, i / n);
            path.push_str(&format!(
                "M{:.3} {:.3}h{cell:.3}v{cell:.3}h-{cell:.3}z",
                x0 + x as f64 * cell,
                y0 + y as f64 * cell
            ));
        }
    }
    Ok(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297">
<rect width="210" height="297" fill="#fff"/>
<text x="105" y="35" font-size="14" text-anchor="middle" font-family="sans-serif">出租房屋信息</text>
<text x="105" y="55" font-size="10" text-anchor="middle" font-family="sans-serif">{label}</text>
<path d="{path}" fill="#000" shape-rendering="crispEdges"/>
<text x="105" y="220" font-size="7" text-anchor="middle" font-family="sans-serif">扫码查看房源信息 · Scan for the listing</text>
<text x="105" y="232" font-size="4" text-anchor="middle" font-family="monospace">{link}</text>
</svg>
"##,
        label = xml_escape(label),
        link = xml_escape(link),
    ))
}

/// The QR code alone as a greyscale PNG: 8 pixels a module, 4 modules of
/// quiet zone.
pub fn qr_png(link: &str) -> ApiResult<Vec<u8>> {
    let code = qr_modules(link)?;
    let n = code.width();
    let colors = code.to_colors();
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let side = (n + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % n + QUIET, i / n + QUIET);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    Ok(pingan_storage::photos::grey_png(
        side as u32,
        side as u32,
        &pixels,
    ))
}

async fn sheet_for(
    state: &AppState,
    caller: &Account,
    id: i64,
    headers: &HeaderMap,
) -> ApiResult<(String, String)> {
    let unit = visible_unit(state, caller, id).await?;
    if actors_for(caller, &unit).is_empty() {
        return Err(ApiError::Forbidden);
    }
    Ok((
        public_link(state, headers, &unit_token(state, id)),
        unit.label,
    ))
}

fn image(bytes: Vec<u8>, mime: &'static str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The unit's printable QR sheet (A4, SVG) linking to its public page.
#[utoipa::path(get, path = "/api/v1/rentals/units/{id}/qr.svg", tag = "rentals", operation_id = "rental_qr_svg", params(("id" = i64, Path)),
    responses((status = 200, description = "image/svg+xml"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn qr_svg(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (link, label) = sheet_for(&state, &caller, id, &headers).await?;
    Ok(image(
        qr_sheet_svg(&link, &label)?.into_bytes(),
        "image/svg+xml",
    ))
}

/// The unit's QR code as a PNG.
#[utoipa::path(get, path = "/api/v1/rentals/units/{id}/qr.png", tag = "rentals", operation_id = "rental_qr_png_route", params(("id" = i64, Path)),
    responses((status = 200, description = "image/png"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn qr_png_route(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (link, _) = sheet_for(&state, &caller, id, &headers).await?;
    Ok(image(qr_png(&link)?, "image/png"))
}

// ---------------------------------------------------------------- public

/// A unit as the public sees it: no landlord, no address, no tenant, the
/// point rounded to about 100 m.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingView {
    /// Opens this listing at `/api/v1/public/rentals/{token}`.
    pub token: String,
    pub label: String,
    pub area_m2: f64,
    pub rent_yuan: i64,
    pub street_facing: bool,
    pub floor: i64,
    pub facilities: Vec<String>,
    pub occupancy_limit: i64,
    /// Whether tenants may move in now.
    pub vacant: bool,
    pub grid_code: String,
    pub township: Option<String>,
    pub village: Option<String>,
    /// WGS-84, rounded to 3 decimals.
    pub lng: f64,
    pub lat: f64,
    /// When it last passed its safety check.
    pub last_inspected_at: Option<i64>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

async fn listings(state: &AppState, units: Vec<RentalUnit>) -> ApiResult<Vec<ListingView>> {
    let names = place_names(
        state,
        units
            .iter()
            .flat_map(|u| [u.grid_code[..9].to_string(), u.grid_code[..12].to_string()]),
    )
    .await?;
    Ok(units
        .into_iter()
        .map(|u| ListingView {
            token: unit_token(state, u.id),
            township: names.get(&u.grid_code[..9]).cloned(),
            village: names.get(&u.grid_code[..12]).cloned(),
            vacant: u.state == UnitState::Vacant.as_str(),
            label: u.label,
            area_m2: u.area_m2,
            rent_yuan: u.rent_yuan,
            street_facing: u.street_facing,
            floor: u.floor,
            facilities: u.facilities,
            occupancy_limit: u.occupancy_limit,
            grid_code: u.grid_code,
            lng: round3(u.lng),
            lat: round3(u.lat),
            last_inspected_at: u.last_inspected_at,
        })
        .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A region code prefix (e.g. a township's 9 digits).
    pub under: Option<String>,
    pub rent_min: Option<i64>,
    pub rent_max: Option<i64>,
    pub area_min: Option<f64>,
    pub area_max: Option<f64>,
    pub street_facing: Option<bool>,
    /// true: only units tenants may move into now (default: every listed unit).
    pub vacant: Option<bool>,
    /// west,south,east,north in WGS-84, for a map.
    pub bbox: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// The units a public search finds, and the page it asked for.
async fn find_listed(
    state: &AppState,
    q: SearchQuery,
    max: u32,
) -> ApiResult<(Vec<RentalUnit>, StorePage)> {
    let page = list_page(q.after, q.limit.or(Some(50)))?;
    if page.limit > max {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be at most {max}"
        )));
    }
    let bbox = match q.bbox.as_deref() {
        None => None,
        Some(text) => {
            let v: Vec<f64> = text
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect();
            match v[..] {
                [w, s, e, n] if w <= e && s <= n => Some([w, s, e, n]),
                _ => {
                    return Err(ApiError::InvalidQuery(
                        "bbox must be west,south,east,north".into(),
                    ))
                }
            }
        }
    };
    let states = if q.vacant == Some(true) {
        vec![UnitState::Vacant.as_str().to_string()]
    } else {
        vec![
            UnitState::Vacant.as_str().to_string(),
            UnitState::Let.as_str().to_string(),
        ]
    };
    let filter = RentalUnitFilter {
        under: under_prefix(q.under.as_deref())?,
        states,
        rent_min: q.rent_min,
        rent_max: q.rent_max,
        area_min: q.area_min,
        area_max: q.area_max,
        street_facing: q.street_facing,
        bbox,
        ..RentalUnitFilter::default()
    };
    let rows = state
        .store
        .rental_units(&RentalReach::everywhere(), &filter, &page)
        .await?;
    Ok((rows, page))
}

/// Public search of listed units (vacant or let) without signing in.
#[utoipa::path(get, path = "/api/v1/public/rentals", tag = "public", operation_id = "rental_search", params(SearchQuery), security(()),
    responses((status = 200, body = Page<ListingView>), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Page<ListingView>>> {
    let (rows, page) = find_listed(&state, q, 200).await?;
    let next = (rows.len() as u32 >= page.limit)
        .then(|| rows.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: listings(&state, rows).await?,
        next,
    }))
}

/// The same search as GeoJSON points for a map (limit up to 1000): each
/// feature's properties are a listing's, its point rounded to about 100 m.
#[utoipa::path(get, path = "/api/v1/public/rentals/geojson", tag = "public", operation_id = "rental_geojson", params(SearchQuery), security(()),
    responses((status = 200, description = "A GeoJSON FeatureCollection of listings", body = Object),
        (status = 400, body = ErrorBody)))]
pub async fn geojson(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let (rows, page) = find_listed(&state, q, 1000).await?;
    let next = (rows.len() as u32 >= page.limit)
        .then(|| rows.last().map(|u| u.id.to_string()))
        .flatten();
    let features: Vec<serde_json::Value> = listings(&state, rows)
        .await?
        .into_iter()
        .map(|l| {
            serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [l.lng, l.lat]},
                "properties": l,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({"type": "FeatureCollection", "features": features, "next": next}),
    ))
}

/// A listing by its signed token (the QR code's link), without signing in.
#[utoipa::path(get, path = "/api/v1/public/rentals/{token}", tag = "public", operation_id = "rental_listing", params(("token" = String, Path)), security(()),
    responses((status = 200, body = ListingView), (status = 404, body = ErrorBody)))]
pub async fn listing(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Json<ListingView>> {
    let id = verify_token(&state, &token).ok_or(ApiError::NotFound("listing"))?;
    let unit = state
        .store
        .rental_unit(&RentalReach::everywhere(), id)
        .await?
        .filter(|u| u.state.parse::<UnitState>().is_ok_and(UnitState::is_listed))
        .ok_or(ApiError::NotFound("listing"))?;
    let mut out = listings(&state, vec![unit]).await?;
    out.pop().map(Json).ok_or(ApiError::NotFound("listing"))
}

// ---------------------------------------------------------------- scheduler

/// What a rental sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RentalSweep {
    pub checked_out: u64,
    pub purged: u64,
}

/// Checks out tenancies whose lease ended by `now`, and deletes the personal
/// fields of those that ended more than the retention period ago.
pub async fn sweep(state: &AppState, now: i64) -> Result<RentalSweep, StoreError> {
    let mut out = RentalSweep::default();
    loop {
        let due = state.store.due_check_outs(now, 500).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for t in due {
            let log = system_entry("check_out", serde_json::json!({}), now);
            match state.store.end_tenancy(t.id, "lease_end", &log).await {
                Ok(_) => {
                    out.checked_out += 1;
                    progressed = true;
                }
                // Checked out by hand at the same moment.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            break;
        }
    }
    let cutoff = now - state.config.tenant_retention_days * DAY_MS;
    let log = NewLogEntry {
        from_state: Some("ended".into()),
        to_state: Some("purged".into()),
        ..system_entry(
            "purge",
            serde_json::json!({ "retention_days": state.config.tenant_retention_days }),
            now,
        )
    };
    loop {
        let n = state.store.purge_tenancies(cutoff, 500, &log).await?;
        out.purged += n;
        if n < 500 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_sheets_are_whole_images() {
        let link = "https://pingan.example.gov.cn/rental/42.AbCdEfGhIjKlMnOp";
        let png = qr_png(link).unwrap();
        let info = pingan_storage::photos::inspect(&png, 10 << 20).unwrap();
        // Version 4 at level M holds this link: 33 modules and 8 of quiet zone, 8 px each.
        assert_eq!((info.width, info.height), (328, 328));
        if let Ok(dir) = std::env::var("PINGAN_QR_SAMPLE_DIR") {
            std::fs::write(std::path::Path::new(&dir).join("qr.png"), &png).unwrap();
        }
        let svg = qr_sheet_svg(link, "3<01>&").unwrap();
        assert!(svg.contains("3&lt;01&gt;&amp;") && svg.contains(link));
        assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    }
}

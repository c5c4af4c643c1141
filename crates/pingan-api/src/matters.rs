//! Matters (事件): intake, the current state with the actions the caller may
//! take, actions through the workflow table, the log, and public tracking.
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use pingan_domain::calendar::TimeLimit;
use pingan_domain::category::{CategoryCode, Milestone, Severity};
use pingan_domain::matter::schedule::MilestoneState;
use pingan_domain::matter::{self as rules, Relation};
use pingan_domain::workflow::{self, Action, Actor, Refusal};
use pingan_domain::{GridCode, Role, Scope};
use pingan_storage::photos::{PhotoError, StoredPhoto};
use pingan_storage::{
    now_ms, Account, LogEntry, Matter, MatterChange, MatterFilter, NewLogEntry, NewMatter,
    Page as StorePage, PhotoRef, PhotoUpload,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::views::Page;

pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_NOTE_CHARS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMatterRequest {
    /// What happened, 1-2000 characters.
    pub description: String,
    /// A 4-digit category code; citizens may leave it out.
    pub category_code: Option<String>,
    /// normal (default), urgent or emergency.
    pub severity: Option<String>,
    /// Where: a point (located to its grid) …
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    /// … in wgs84 (default), gcj02 or bd09 …
    pub crs: Option<String>,
    /// … or a grid chosen by a grid worker.
    pub grid_code: Option<String>,
    /// The reporter's phone for call-backs; stored encrypted, shown masked.
    pub contact: Option<String>,
    /// A client-made id (8-64 letters, digits, dashes): sending the same report
    /// again answers the first matter instead of filing a duplicate.
    pub idempotency_key: Option<String>,
    /// The intake channel; centre operators name `hotline` (default) or
    /// `video_patrol`, everyone else reports through their own.
    pub channel: Option<String>,
    /// Photos of the scene uploaded before with `POST /api/v1/photos`
    /// (their `sha256`), besides any sent in the same multipart request.
    pub photos: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatterView {
    pub id: i64,
    pub tracking_code: String,
    pub state: String,
    pub state_name: String,
    /// Send it back with an action: a stale version is refused with 409.
    pub version: i64,
    pub category_code: Option<String>,
    pub severity: String,
    pub description: String,
    pub grid_code: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    /// grid_worker, citizen, hotline, video_patrol, department, higher_level.
    pub source: String,
    pub contact_masked: Option<String>,
    /// The region prefix of the centre holding the matter.
    pub holder: String,
    pub assigned_unit_id: Option<i64>,
    /// Milliseconds since the Unix epoch (UTC), once dispatched.
    pub deadline: Option<i64>,
    /// The time limit it was dispatched under, e.g. `7wd`.
    pub time_limit: Option<String>,
    /// Emergencies: milestones (respond, arrive, first feedback…) with their
    /// due times, when reached, and whether they were called late.
    #[schema(value_type = Vec<Object>)]
    pub milestones: Vec<MilestoneState>,
    pub overdue: bool,
    /// Under supervision (督办) by a higher level.
    pub supervised: bool,
    pub rework_count: i64,
    pub rating: Option<i64>,
    pub closed_at: Option<i64>,
    /// For a duplicate: the matter it was merged into.
    pub merged_into: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The actions the caller may take now.
    pub actions_allowed: Vec<String>,
    /// Photos of the scene and of the result (in the detail view only), at
    /// `/api/v1/matters/{id}/photos/{sha256}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub photos: Option<Vec<PhotoRef>>,
    /// The mediation case it was referred to (in the detail view only), at
    /// `/api/v1/mediation/cases/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<i64>,
}

fn relation(caller: &Account, m: &Matter) -> Relation {
    Relation::of(
        caller.id,
        &caller.scope,
        caller.unit_id,
        m.reporter_id,
        &m.holder,
        m.assigned_unit_id,
        &m.grid_code,
    )
}

fn parse_state(m: &Matter) -> ApiResult<workflow::State> {
    m.state
        .parse()
        .map_err(|_| ApiError::Internal(format!("matter {} has unknown state {}", m.id, m.state)))
}

fn view(caller: &Account, m: Matter) -> ApiResult<MatterView> {
    let state = parse_state(&m)?;
    let actors = rules::actors(caller.role, &relation(caller, &m));
    let milestones = milestones_of(&m);
    let actions_allowed = workflow::allowed_for_any(state, &actors)
        .into_iter()
        .map(|a| a.as_str().to_string())
        .collect();
    Ok(MatterView {
        id: m.id,
        tracking_code: m.tracking_code,
        state: m.state,
        state_name: state.name_zh().to_string(),
        version: m.version,
        category_code: m.category_code,
        severity: m.severity,
        description: m.description,
        grid_code: m.grid_code,
        lng: m.lng,
        lat: m.lat,
        source: m.source,
        contact_masked: m.contact_masked,
        holder: m.holder,
        assigned_unit_id: m.assigned_unit_id,
        deadline: m.deadline,
        milestones,
        time_limit: m.time_limit,
        overdue: m.overdue,
        supervised: m.supervised,
        rework_count: m.rework_count,
        rating: m.rating,
        closed_at: m.closed_at,
        merged_into: m.merged_into,
        created_at: m.created_at,
        updated_at: m.updated_at,
        actions_allowed,
        photos: None,
        case_id: None,
    })
}

/// Citizens and landlords see only what they reported; everyone else sees
/// every matter in their scope.
pub(crate) async fn visible_matter(
    state: &AppState,
    caller: &Account,
    id: i64,
) -> ApiResult<Matter> {
    let m = state
        .store
        .matter(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound("matter"))?;
    if matches!(caller.role, Role::Citizen | Role::Landlord) && m.reporter_id != Some(caller.id) {
        return Err(ApiError::NotFound("matter"));
    }
    Ok(m)
}

pub(crate) fn check_idempotency_key(key: &str) -> ApiResult<()> {
    let ok = (8..=64).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "bad_idempotency_key",
            "idempotency_key 须为 8-64 位字母、数字或连字符",
            "idempotency_key must be 8-64 letters, digits or dashes",
        ))
    }
}

fn tracking_code() -> String {
    // thread_rng is a CSPRNG seeded from the OS; OsRng would cost a system call per character.
    let mut rng = rand::thread_rng();
    (0..rules::TRACKING_LEN)
        .map(|_| rules::TRACKING_ALPHABET[rng.gen_range(0..rules::TRACKING_ALPHABET.len())] as char)
        .collect()
}

pub(crate) fn check_text(what: &str, text: &str, max: usize, required: bool) -> ApiResult<()> {
    let n = text.trim().chars().count();
    if required && n == 0 {
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
    Ok(())
}

fn parse_severity(text: Option<&str>) -> ApiResult<Severity> {
    match text {
        None => Ok(Severity::Normal),
        Some(s) => Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ApiError::BadRequest(format!("unknown severity {s:?}"))),
    }
}

fn known_category(state: &AppState, code: &str) -> ApiResult<String> {
    let unknown = || {
        ApiError::invalid(
            "unknown_category",
            format!("未知的事件类别：{code}"),
            format!("unknown category {code}"),
        )
    };
    let parsed = CategoryCode::parse(code).map_err(|_| unknown())?;
    state
        .catalogue()
        .1
        .get(&parsed)
        .map(|c| c.code.as_str().to_string())
        .ok_or_else(unknown)
}

/// Resolves photo references: each must be a photo the caller uploaded.
async fn attach_photos(
    state: &AppState,
    caller: &Account,
    shas: &[String],
    stage: &str,
) -> ApiResult<Vec<PhotoRef>> {
    if shas.len() > state.config.photos_per_request {
        return Err(ApiError::invalid(
            "too_many_photos",
            format!("照片最多 {} 张", state.config.photos_per_request),
            format!("at most {} photos", state.config.photos_per_request),
        ));
    }
    let mut out: Vec<PhotoRef> = Vec::with_capacity(shas.len());
    for sha in shas {
        let sha = sha.to_ascii_lowercase();
        let kind = state
            .store
            .photo_upload(&sha, caller.id)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(
                    "unknown_photo",
                    format!("照片 {sha} 未上传或不属于本账号"),
                    format!("photo {sha} was not uploaded by this account"),
                )
            })?;
        if !out.iter().any(|p| p.sha256 == sha) {
            out.push(PhotoRef {
                sha256: sha,
                kind,
                stage: stage.to_string(),
            });
        }
    }
    Ok(out)
}

/// Stores a photo and notes its uploader; the answer names it for reports
/// and actions.
pub async fn store_photo(
    state: &AppState,
    caller: &Account,
    bytes: &[u8],
    now: i64,
) -> ApiResult<StoredPhoto> {
    let stored = state
        .photos
        .put(bytes, state.config.photo_limit)
        .await
        .map_err(ApiError::Photo)?;
    state
        .store
        .record_photo_upload(&PhotoUpload {
            sha256: stored.sha256.clone(),
            account_id: caller.id,
            kind: stored.kind.extension().to_string(),
            bytes: stored.bytes as i64,
            at: now,
        })
        .await?;
    Ok(stored)
}

/// Files a report (the service behind `POST /api/v1/matters`, also used by
/// the demo's simulation). The place is located to its grid; the matter
/// starts at the township centre of that grid. Answers whether it is new.
pub async fn file_report(
    state: &AppState,
    caller: &Account,
    req: NewMatterRequest,
    now: i64,
) -> ApiResult<(Matter, bool)> {
    let draft = check_report(state, caller, &req)?;
    let photos = attach_photos(
        state,
        caller,
        req.photos.as_deref().unwrap_or(&[]),
        "report",
    )
    .await?;
    let (new, log) = report_rows(state, caller, req, draft, photos, now);
    let filed = crate::intake::submit(state, new, log).await?;
    state.live.changed();
    Ok(filed)
}

/// A report's checked fields: where it lies and how it came.
#[derive(Debug, Clone)]
pub struct ReportDraft {
    pub severity: Severity,
    pub category_code: Option<String>,
    pub grid_code: GridCode,
    pub point: Option<(f64, f64)>,
    pub source: &'static str,
}

/// Checks a report and locates it, without touching the store.
pub fn check_report(
    state: &AppState,
    caller: &Account,
    req: &NewMatterRequest,
) -> ApiResult<ReportDraft> {
    check_text("description", &req.description, MAX_DESCRIPTION_CHARS, true)?;
    let severity = parse_severity(req.severity.as_deref())?;
    let category_code = req
        .category_code
        .as_deref()
        .map(|c| known_category(state, c))
        .transpose()?;
    if category_code.is_none() && !matches!(caller.role, Role::Citizen | Role::Landlord) {
        return Err(ApiError::invalid(
            "category_required",
            "请选择事件类别",
            "category_code is required",
        ));
    }
    if let Some(key) = &req.idempotency_key {
        check_idempotency_key(key)?;
    }
    if let Some(contact) = &req.contact {
        check_text("contact", contact, 32, false)?;
    }
    let (grid_code, point) = match (&req.grid_code, req.lng, req.lat) {
        (Some(code), None, None) => {
            let unknown = || {
                ApiError::invalid(
                    "unknown_grid",
                    format!("未知的网格：{code}"),
                    format!("unknown grid {code}"),
                )
            };
            let code = GridCode::parse(code).map_err(|_| unknown())?;
            if state.index().get(&code).is_none() {
                return Err(unknown());
            }
            (code, None)
        }
        (None, Some(lng), Some(lat)) => {
            let crs = crate::routes::crs_from(req.crs.as_deref()).map_err(ApiError::BadRequest)?;
            if !((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat)) {
                return Err(ApiError::BadRequest("lng or lat out of range".into()));
            }
            let (lng, lat) = pingan_geo::crs::to_wgs84(crs, lng, lat);
            let code = state
                .index()
                .locate(lng, lat)
                .cloned()
                .ok_or(ApiError::PlaceOutsideGrids)?;
            (code, Some((lng, lat)))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give either lng and lat, or grid_code".into(),
            ))
        }
    };
    let source = rules::channel_for(caller.role, req.channel.as_deref()).ok_or_else(|| {
        ApiError::invalid(
            "bad_channel",
            "该角色不能使用此上报渠道",
            "this role cannot report through that channel",
        )
    })?;
    Ok(ReportDraft {
        severity,
        category_code,
        grid_code,
        point,
        source,
    })
}

/// The rows a checked report files: the matter and its log entry (the
/// service's rules, shared with the history generator).
pub fn report_rows(
    state: &AppState,
    caller: &Account,
    req: NewMatterRequest,
    draft: ReportDraft,
    photos: Vec<PhotoRef>,
    now: i64,
) -> (NewMatter, NewLogEntry) {
    let ReportDraft {
        severity,
        category_code,
        grid_code,
        point,
        source,
    } = draft;
    let holder = rules::initial_holder(grid_code.as_str()).to_string();
    let new = NewMatter {
        tracking_code: tracking_code(),
        idempotency_key: req.idempotency_key,
        state: workflow::INITIAL.as_str().to_string(),
        category_code,
        severity: severity.as_str().to_string(),
        description: req.description.trim().to_string(),
        grid_code: grid_code.to_string(),
        lng: point.map(|p| p.0),
        lat: point.map(|p| p.1),
        source: source.to_string(),
        reporter_id: Some(caller.id),
        contact: req.contact,
        holder,
        next_due: Some(rules::schedule::REGISTRATION_LIMIT.deadline(&state.calendar, now)),
        photos,
    };
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: "report".into(),
        from_state: None,
        to_state: Some(new.state.clone()),
        body: serde_json::json!({
            "source": new.source,
            "grid_code": new.grid_code,
            // The indicators count the report under its category (see `stats rebuild`).
            "category_code": new.category_code,
            "photos": new.photos.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
        })
        .to_string(),
        at: now,
    };
    (new, log)
}

/// Files a report: JSON, or `multipart/form-data` with a `report` part (the
/// same JSON) and up to nine `photo` parts (JPEG, PNG or WebP, checked by
/// content). Photos may also be uploaded first with `POST /api/v1/photos` and
/// named in `photos`, which suits a phone sending again after being offline.
#[utoipa::path(post, path = "/api/v1/matters", tag = "matters", request_body = NewMatterRequest,
    responses(
        (status = 201, description = "Filed", body = MatterView),
        (status = 200, description = "Already filed with this idempotency key", body = MatterView),
        (status = 400, body = ErrorBody),
        (status = 413, description = "A photo is too large", body = ErrorBody),
        (status = 415, description = "A photo is not an image", body = ErrorBody),
        (status = 422, description = "The place lies in no grid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    request: Request,
) -> ApiResult<(StatusCode, Json<MatterView>)> {
    let now = now_ms();
    let req = read_report(&state, &caller, request, now).await?;
    let (matter, created) = file_report(&state, &caller, req, now).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&caller, matter)?)))
}

async fn read_report(
    state: &AppState,
    caller: &Account,
    request: Request,
    now: i64,
) -> ApiResult<NewMatterRequest> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::InvalidJson(
                "send application/json or multipart/form-data".into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ));
        }
        // The route admits photo-sized bodies; a JSON report stays small.
        let bytes = axum::body::to_bytes(request.into_body(), state.config.body_limit)
            .await
            .map_err(|_| {
                ApiError::InvalidJson(
                    "the body is too large".into(),
                    StatusCode::PAYLOAD_TOO_LARGE,
                )
            })?;
        return Json::<NewMatterRequest>::from_bytes(&bytes)
            .map(|Json(r)| r)
            .map_err(crate::extract::json_rejection);
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut report: Option<NewMatterRequest> = None;
    let mut shas = Vec::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?
    {
        match field.name().unwrap_or("") {
            "report" => {
                let text = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.body_text()))?;
                if text.len() > state.config.body_limit {
                    return Err(ApiError::InvalidJson(
                        "the report part is too large".into(),
                        StatusCode::PAYLOAD_TOO_LARGE,
                    ));
                }
                report = Some(serde_json::from_slice(&text).map_err(|e| {
                    ApiError::InvalidJson(e.to_string(), StatusCode::UNPROCESSABLE_ENTITY)
                })?);
            }
            "photo" | "photos" => {
                if shas.len() >= state.config.photos_per_request {
                    return Err(ApiError::invalid(
                        "too_many_photos",
                        format!("照片最多 {} 张", state.config.photos_per_request),
                        format!("at most {} photos", state.config.photos_per_request),
                    ));
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.body_text()))?
                {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > state.config.photo_limit {
                        // Refused before the rest arrives.
                        return Err(ApiError::Photo(PhotoError::TooLarge {
                            max: state.config.photo_limit,
                            actual: bytes.len(),
                        }));
                    }
                }
                shas.push(store_photo(state, caller, &bytes, now).await?.sha256);
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unexpected form part {other:?}: send report and photo parts"
                )))
            }
        }
    }
    let mut report =
        report.ok_or_else(|| ApiError::BadRequest("the form has no report part".into()))?;
    report.photos.get_or_insert_with(Vec::new).extend(shas);
    Ok(report)
}
/// A matter with the actions the caller may take now.
#[utoipa::path(get, path = "/api/v1/matters/{id}", tag = "matters", params(("id" = i64, Path)),
    responses((status = 200, body = MatterView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MatterView>> {
    let m = visible_matter(&state, &caller, id).await?;
    let photos = state.store.matter_photos(id).await?;
    let mut v = view(&caller, m)?;
    v.photos = Some(photos);
    v.case_id = state.store.case_of_matter(id).await?.map(|c| c.id);
    Ok(Json(v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatterListQuery {
    /// Only these states, comma-separated.
    pub state: Option<String>,
    /// Only under this region or grid code prefix.
    pub under: Option<String>,
    /// Only this category (4 digits) or major category (2 digits).
    pub category: Option<String>,
    /// Only from this channel: grid_worker, citizen, hotline, video_patrol, department, higher_level.
    pub source: Option<String>,
    /// Only overdue (true) or not overdue (false) matters.
    pub overdue: Option<bool>,
    /// Filed at or after, ms since the Unix epoch (UTC).
    pub from: Option<i64>,
    /// Filed before, ms since the Unix epoch (UTC).
    pub to: Option<i64>,
    /// Only supervised (督办) matters (true) or only the others (false).
    pub supervised: Option<bool>,
    /// Only matters the scheduler escalated (true) or never escalated (false).
    pub escalated: Option<bool>,
    /// The `next` value of the previous page.
    pub after: Option<String>,
    /// 1-1000, default 100.
    pub limit: Option<u32>,
}

fn digits(what: &str, v: &str, lens: &[usize]) -> ApiResult<String> {
    if lens.contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(ApiError::InvalidQuery(format!(
            "{what} must be a code of {lens:?} digits"
        )))
    }
}

impl MatterListQuery {
    pub(crate) fn filter(&self, caller: &Account) -> ApiResult<MatterFilter> {
        let mut states = Vec::new();
        for s in self
            .state
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.is_empty())
        {
            let st: workflow::State = s
                .parse()
                .map_err(|_| ApiError::InvalidQuery(format!("unknown state {s:?}")))?;
            states.push(st.as_str().to_string());
        }
        Ok(MatterFilter {
            states,
            under: self
                .under
                .as_deref()
                .map(|u| digits("under", u, &[2, 4, 6, 9, 12, 15]))
                .transpose()?,
            category_prefix: self
                .category
                .as_deref()
                .map(|c| digits("category", c, &[2, 4]))
                .transpose()?,
            source: self.source.clone(),
            overdue: self.overdue,
            created_from: self.from,
            created_to: self.to,
            supervised: self.supervised,
            escalated: self.escalated,
            // Citizens and landlords list only what they reported.
            reporter_id: matches!(caller.role, Role::Citizen | Role::Landlord).then_some(caller.id),
            ..MatterFilter::default()
        })
        .and_then(|f| {
            if let Some(under) = &f.under {
                let reach =
                    Scope::parse(under).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
                if caller.scope.intersect(&reach).is_none() {
                    return Err(ApiError::OutOfScope(under.clone()));
                }
            }
            Ok(f)
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StateCounts {
    pub total: i64,
    /// Matters per state (only states with any).
    pub by_state: std::collections::BTreeMap<String, i64>,
}

/// How many matters in the caller's scope pass the filters, per state.
#[utoipa::path(get, path = "/api/v1/matters/counts", tag = "matters", params(MatterListQuery),
    responses((status = 200, body = StateCounts), (status = 400, body = ErrorBody)))]
pub async fn counts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<MatterListQuery>,
) -> ApiResult<Json<StateCounts>> {
    let filter = q.filter(&caller)?;
    let by_state: std::collections::BTreeMap<String, i64> = state
        .store
        .count_matters_by_state(&caller.scope, &filter)
        .await?
        .into_iter()
        .collect();
    Ok(Json(StateCounts {
        total: by_state.values().sum(),
        by_state,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GeoJsonQuery {
    /// west,south,east,north in WGS-84 degrees.
    pub bbox: String,
    /// Only these states, comma-separated.
    pub state: Option<String>,
    /// Only this category (4 digits) or major category (2 digits).
    pub category: Option<String>,
    pub overdue: Option<bool>,
    pub supervised: Option<bool>,
    /// 1-10000, default 2000; the newest come first.
    pub limit: Option<u32>,
}

/// Matters with a position inside a bounding box, as GeoJSON points for maps.
/// `truncated` says more matched than `limit`.
#[utoipa::path(get, path = "/api/v1/matters/geojson", tag = "matters", params(GeoJsonQuery),
    responses((status = 200, description = "A GeoJSON FeatureCollection", body = Object),
        (status = 400, body = ErrorBody)))]
pub async fn geojson(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<GeoJsonQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let parts: Vec<f64> = q
        .bbox
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::InvalidQuery("bbox must be four numbers".into()))?;
    let [west, south, east, north] = parts[..] else {
        return Err(ApiError::InvalidQuery(
            "bbox must be west,south,east,north".into(),
        ));
    };
    if !(west <= east
        && south <= north
        && west >= -180.0
        && east <= 180.0
        && south >= -90.0
        && north <= 90.0)
    {
        return Err(ApiError::InvalidQuery("bbox is not a valid box".into()));
    }
    let limit = q.limit.unwrap_or(2000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::InvalidQuery(
            "limit must be between 1 and 10000".into(),
        ));
    }
    let list = MatterListQuery {
        state: q.state,
        under: None,
        category: q.category,
        source: None,
        overdue: q.overdue,
        from: None,
        to: None,
        supervised: q.supervised,
        escalated: None,
        after: None,
        limit: None,
    };
    let mut filter = list.filter(&caller)?;
    filter.bbox = Some([west, south, east, north]);
    let mut features = Vec::new();
    let mut after = None;
    let mut truncated = false;
    // Pages of at most 1000 rows (the store's page limit).
    while features.len() < limit as usize {
        let want = (limit as usize - features.len()).min(StorePage::MAX_LIMIT as usize) as u32;
        let rows = state
            .store
            .matters(
                &caller.scope,
                &filter,
                &StorePage {
                    after: after.clone(),
                    limit: want,
                },
            )
            .await?;
        let full = rows.len() as u32 == want;
        after = rows.last().map(|m| m.id.to_string());
        for m in rows {
            let (Some(lng), Some(lat)) = (m.lng, m.lat) else {
                continue;
            };
            features.push(serde_json::json!({
                "type": "Feature",
                "id": m.id,
                "geometry": { "type": "Point", "coordinates": [lng, lat] },
                "properties": {
                    "id": m.id,
                    "state": m.state,
                    "category_code": m.category_code,
                    "severity": m.severity,
                    "grid_code": m.grid_code,
                    "overdue": m.overdue,
                    "supervised": m.supervised,
                    "created_at": m.created_at,
                },
            }));
        }
        if !full {
            break;
        }
        if features.len() >= limit as usize {
            truncated = true;
        }
    }
    Ok(Json(serde_json::json!({
        "type": "FeatureCollection",
        "features": features,
        "truncated": truncated,
    })))
}

/// Matters in the caller's scope, newest first, with filters.
#[utoipa::path(get, path = "/api/v1/matters", tag = "matters", params(MatterListQuery),
    responses((status = 200, body = Page<MatterView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<MatterListQuery>,
) -> ApiResult<Json<Page<MatterView>>> {
    let limit = q.limit.unwrap_or(crate::routes::DEFAULT_LIMIT);
    if !(1..=StorePage::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidQuery(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let filter = q.filter(&caller)?;
    let page = StorePage {
        after: q.after.clone(),
        limit,
    };
    let rows = state.store.matters(&caller.scope, &filter, &page).await?;
    paged(&caller, rows, limit).map(Json)
}

fn paged(caller: &Account, rows: Vec<Matter>, limit: u32) -> ApiResult<Page<MatterView>> {
    let next = (rows.len() as u32 >= limit)
        .then(|| rows.last().map(|m| m.id.to_string()))
        .flatten();
    let items = rows
        .into_iter()
        .map(|m| view(caller, m))
        .collect::<ApiResult<_>>()?;
    Ok(Page { items, next })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxBucket {
    /// to_review, to_verify, returned, to_accept, to_handle, overdue.
    pub name: String,
    pub count: i64,
    /// The newest 20.
    pub items: Vec<MatterView>,
}

/// What waits for the caller: for centre operators what to review, verify and
/// re-dispatch at their centre; for handlers what their unit must accept and
/// handle; for everyone what is overdue in their scope.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "matters",
    responses((status = 200, body = [InboxBucket])))]
pub async fn inbox(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<InboxBucket>>> {
    let states = |list: &[workflow::State]| {
        list.iter()
            .map(|s| s.as_str().to_string())
            .collect::<Vec<_>>()
    };
    let mut buckets: Vec<(&str, MatterFilter)> = Vec::new();
    if caller.role == Role::CentreOperator {
        let holder = Some(caller.scope.prefix().to_string());
        use workflow::State as S;
        for (name, list) in [
            ("to_review", &[S::Reported, S::Reopened][..]),
            ("to_verify", &[S::Handled][..]),
            ("returned", &[S::Returned][..]),
        ] {
            buckets.push((
                name,
                MatterFilter {
                    states: states(list),
                    holder: holder.clone(),
                    ..MatterFilter::default()
                },
            ));
        }
    }
    if let Some(unit) = caller.unit_id {
        use workflow::State as S;
        for (name, list) in [
            ("to_accept", &[S::Dispatched][..]),
            ("to_handle", &[S::Accepted, S::Rework][..]),
        ] {
            buckets.push((
                name,
                MatterFilter {
                    states: states(list),
                    assigned_unit_id: Some(unit),
                    ..MatterFilter::default()
                },
            ));
        }
    }
    if !matches!(caller.role, Role::Citizen | Role::Landlord) {
        buckets.push((
            "overdue",
            MatterFilter {
                overdue: Some(true),
                ..MatterFilter::default()
            },
        ));
    }
    let mut out = Vec::with_capacity(buckets.len());
    for (name, filter) in buckets {
        let count = state.store.count_matters(&caller.scope, &filter).await?;
        let rows = state
            .store
            .matters(&caller.scope, &filter, &StorePage::first(20))
            .await?;
        out.push(InboxBucket {
            name: name.to_string(),
            count,
            items: rows
                .into_iter()
                .map(|m| view(&caller, m))
                .collect::<ApiResult<_>>()?,
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ActionRequest {
    /// One of the matter's `actions_allowed`.
    pub action: String,
    /// The version the caller saw.
    pub version: i64,
    /// dispatch: the unit to handle it.
    pub unit_id: Option<i64>,
    /// dispatch: the category, if the report had none.
    pub category_code: Option<String>,
    /// transfer_down / transfer_sideways: the region prefix to hand it to.
    pub target: Option<String>,
    /// merge: the matter this one duplicates.
    pub target_matter_id: Option<i64>,
    /// request_extension: how much longer, e.g. `3wd` (working days) or `8wh`.
    pub extend_by: Option<String>,
    /// report_progress: the milestone reached (arrive, first_feedback, stop,
    /// penalty); without one it is a progress note.
    pub milestone: Option<String>,
    /// rate: 1-5.
    pub rating: Option<i64>,
    /// A note; required to return, to fail verification and with requests.
    pub note: Option<String>,
    /// self_resolve / report_handled: photos of the result (required), uploaded
    /// before with `POST /api/v1/photos`.
    pub photos: Option<Vec<String>>,
    /// 8-64 letters, digits or dashes, made by the client: an action sent
    /// again with the same key (a phone resending after a lost answer) is
    /// not applied twice; the answer is the matter as it is.
    pub idempotency_key: Option<String>,
}

/// A matter's milestones, as stored (JSON) on the matter.
pub(crate) fn milestones_of(m: &Matter) -> Vec<MilestoneState> {
    m.milestones
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The open request of a kind (extension or suspension), if any: the last
/// such request with no answer after it.
async fn pending_request(
    state: &AppState,
    id: i64,
    request: Action,
    answers: [Action; 2],
) -> ApiResult<Option<LogEntry>> {
    let entries = state.store.log_for(&format!("matter:{id}")).await?;
    for e in entries.into_iter().rev() {
        if answers.iter().any(|a| a.as_str() == e.action) {
            return Ok(None);
        }
        if e.action == request.as_str() {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

fn no_pending(what_zh: &str, what_en: &str) -> ApiError {
    ApiError::invalid(
        "no_pending_request",
        format!("没有待审批的{what_zh}申请"),
        format!("there is no pending {what_en} request"),
    )
}

fn already_pending(what_zh: &str, what_en: &str) -> ApiError {
    ApiError::invalid(
        "request_pending",
        format!("已有待审批的{what_zh}申请"),
        format!("a {what_en} request is already pending"),
    )
}

/// Performs an action through the workflow table (the service behind
/// `POST /api/v1/matters/{id}/actions`, also used by the demo's simulation).
/// The state change and its log entry are written together, only if the
/// matter is still at `req.version`.
pub async fn perform(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: ActionRequest,
    now: i64,
) -> ApiResult<Matter> {
    perform_acting(state, caller, id, req, now, false).await
}

/// Performs an action for the matter's contact person, whose phone the portal
/// has verified: a resident who reported to a grid worker rates and reopens
/// the matter as its reporter would.
pub async fn perform_as_contact(
    state: &AppState,
    portal: &Account,
    id: i64,
    req: ActionRequest,
    now: i64,
) -> ApiResult<Matter> {
    perform_acting(state, portal, id, req, now, true).await
}

/// Whether an action with this idempotency key is in the matter's log.
async fn already_applied(state: &AppState, id: i64, key: &str) -> ApiResult<bool> {
    let entries = state.store.log_for(&format!("matter:{id}")).await?;
    Ok(entries.iter().any(|e| {
        serde_json::from_str::<serde_json::Value>(&e.body)
            .is_ok_and(|b| b.get("idempotency_key").and_then(|k| k.as_str()) == Some(key))
    }))
}

async fn perform_acting(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: ActionRequest,
    now: i64,
    verified_contact: bool,
) -> ApiResult<Matter> {
    let action: Action = req
        .action
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown action {:?}", req.action)))?;
    if let Some(note) = &req.note {
        check_text("note", note, MAX_NOTE_CHARS, false)?;
    }
    let m = if verified_contact {
        state
            .store
            .matter(&caller.scope, id)
            .await?
            .ok_or(ApiError::NotFound("matter"))?
    } else {
        visible_matter(state, caller, id).await?
    };
    if let Some(key) = &req.idempotency_key {
        check_idempotency_key(key)?;
        if already_applied(state, id, key).await? {
            return Ok(m);
        }
    }
    // The table refuses before anything else is looked up.
    let from = parse_state(&m)?;
    let mut rel = relation(caller, &m);
    rel.is_reporter |= verified_contact;
    pick_actor(from, action, &rules::actors(caller.role, &rel))?;
    let facts = action_facts(state, caller, id, action, &req).await?;
    let (change, log) = plan_action(state, caller, &m, &req, &facts, verified_contact, now)?;
    let done = state
        .store
        .apply_matter_action(&caller.scope, id, req.version, &change, &log)
        .await?;
    state.live.changed();
    Ok(done)
}

/// What an action needs from the store besides the matter: looked up by
/// `perform`, or given by a bulk generator of history.
#[derive(Debug, Clone, Default)]
pub struct ActionFacts {
    /// dispatch: the unit's region prefix.
    pub unit_prefix: String,
    /// merge: the target matter's state.
    pub merge_target: Option<workflow::State>,
    /// self_resolve, report_handled: the photos attached.
    pub photos: Vec<PhotoRef>,
    /// Requests and their answers: the open request of the action's kind.
    pub pending: Option<LogEntry>,
    /// resume: when the suspension was approved.
    pub suspended_since: Option<i64>,
}

async fn action_facts(
    state: &AppState,
    caller: &Account,
    id: i64,
    action: Action,
    req: &ActionRequest,
) -> ApiResult<ActionFacts> {
    let mut facts = ActionFacts::default();
    let extension = (
        Action::RequestExtension,
        [Action::ApproveExtension, Action::DenyExtension],
    );
    let suspension = (
        Action::RequestSuspension,
        [Action::ApproveSuspension, Action::DenySuspension],
    );
    match action {
        Action::Dispatch => {
            let unit_id = req
                .unit_id
                .ok_or_else(|| ApiError::BadRequest("dispatch needs unit_id".into()))?;
            let unit = state
                .store
                .unit(&Scope::everywhere(), unit_id)
                .await?
                .ok_or_else(|| ApiError::BadRequest(format!("unknown unit {unit_id}")))?;
            facts.unit_prefix = pingan_domain::RegionCode::infer(&unit.region_code)
                .map(|r| r.prefix().to_string())
                .unwrap_or_default();
        }
        Action::Merge => {
            let target_id = req
                .target_matter_id
                .ok_or_else(|| ApiError::BadRequest("merge needs target_matter_id".into()))?;
            let target = visible_matter(state, caller, target_id).await?;
            facts.merge_target = Some(parse_state(&target)?);
        }
        Action::SelfResolve | Action::ReportHandled => {
            let shas = req.photos.as_deref().unwrap_or(&[]);
            if shas.is_empty() {
                return Err(ApiError::invalid(
                    "photos_required",
                    "请附上处置结果照片",
                    "photos of the result are required",
                ));
            }
            facts.photos = attach_photos(state, caller, shas, "result").await?;
        }
        Action::RequestExtension | Action::ApproveExtension | Action::DenyExtension => {
            facts.pending = pending_request(state, id, extension.0, extension.1).await?;
        }
        Action::RequestSuspension | Action::ApproveSuspension | Action::DenySuspension => {
            facts.pending = pending_request(state, id, suspension.0, suspension.1).await?;
        }
        Action::Resume => {
            let entries = state.store.log_for(&format!("matter:{id}")).await?;
            facts.suspended_since = entries
                .iter()
                .rev()
                .find(|e| e.action == Action::ApproveSuspension.as_str())
                .map(|e| e.at);
        }
        _ => {}
    }
    Ok(facts)
}

/// Plans an action on a matter as it stands: the projection change and the
/// log entry, without writing (the service's rules, shared with the history
/// generator so that both write the same rows).
pub fn plan_action(
    state: &AppState,
    caller: &Account,
    m: &Matter,
    req: &ActionRequest,
    facts: &ActionFacts,
    verified_contact: bool,
    now: i64,
) -> ApiResult<(MatterChange, NewLogEntry)> {
    let id = m.id;
    let action: Action = req
        .action
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown action {:?}", req.action)))?;
    let from = parse_state(m)?;
    let mut rel = relation(caller, m);
    rel.is_reporter |= verified_contact;
    let actors = rules::actors(caller.role, &rel);
    let (to, actor) = pick_actor(from, action, &actors)?;
    let mut change = MatterChange {
        state: to.as_str().to_string(),
        ..MatterChange::default()
    };
    let note_required = |what: &str| -> ApiResult<()> {
        check_text(
            what,
            req.note.as_deref().unwrap_or(""),
            MAX_NOTE_CHARS,
            true,
        )
    };
    let mut detail = serde_json::Map::new();
    match action {
        Action::Dispatch => {
            let unit_id = req
                .unit_id
                .ok_or_else(|| ApiError::BadRequest("dispatch needs unit_id".into()))?;
            if !rules::may_dispatch_to(&m.holder, &facts.unit_prefix) {
                return Err(ApiError::OutOfScope(format!("unit {unit_id}")));
            }
            let category = match (&req.category_code, &m.category_code) {
                (Some(c), _) => known_category(state, c)?,
                (None, Some(c)) => c.clone(),
                (None, None) => {
                    return Err(ApiError::invalid(
                        "category_required",
                        "派遣前须确定事件类别",
                        "dispatch needs a category_code",
                    ))
                }
            };
            let severity = parse_severity(Some(&m.severity))?;
            let catalogue = state.catalogue().1;
            let limits = CategoryCode::parse(&category)
                .ok()
                .and_then(|c| catalogue.get(&c).and_then(|c| c.limits_for(severity)))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("category {category} has no time limit"))
                })?;
            let deadline = limits.limit.deadline(&state.calendar, now);
            // Emergencies also carry minute-level milestones (respond, arrive…),
            // each watched by the scheduler until reached.
            let milestones: Vec<MilestoneState> = limits
                .milestones
                .iter()
                .map(|ms| MilestoneState {
                    milestone: ms.milestone,
                    due: ms.within.deadline(&state.calendar, now),
                    done_at: None,
                    late: false,
                })
                .collect();
            if !milestones.is_empty() {
                detail.insert(
                    "milestones".into(),
                    serde_json::to_value(&milestones).unwrap_or_default(),
                );
            }
            change.milestone_due = Some(rules::schedule::milestone_wake(&milestones));
            change.milestones = Some(
                (!milestones.is_empty())
                    .then(|| serde_json::to_string(&milestones).ok())
                    .flatten(),
            );
            detail.insert("time_limit".into(), limits.limit.to_string().into());
            change.time_limit = Some(Some(limits.limit.to_string()));
            detail.insert("category_code".into(), category.as_str().into());
            change.category_code = Some(category);
            change.assigned_unit_id = Some(Some(unit_id));
            change.deadline = Some(Some(deadline));
            change.next_due = Some(Some(rules::schedule::reminder_at(now, deadline)));
            change.overdue = Some(false);
        }
        Action::Return => {
            note_required("a reason (note)")?;
            change.assigned_unit_id = Some(None);
            change.deadline = Some(None);
        }
        Action::Merge => {
            let target_id = req
                .target_matter_id
                .ok_or_else(|| ApiError::BadRequest("merge needs target_matter_id".into()))?;
            let target_state = facts.merge_target.ok_or(ApiError::NotFound("matter"))?;
            if target_id == id
                || matches!(
                    target_state,
                    workflow::State::Merged | workflow::State::Rejected
                )
            {
                return Err(ApiError::invalid(
                    "bad_merge_target",
                    format!("不能并入事件 {target_id}"),
                    format!("cannot merge into matter {target_id}"),
                ));
            }
            change.merged_into = Some(target_id);
            detail.insert("merged_into".into(), target_id.into());
        }
        Action::Accept | Action::ReportProgress => {
            let mut milestones = milestones_of(m);
            let reached = if action == Action::Accept {
                // Accepting is the response.
                Some(Milestone::Respond)
            } else {
                match req.milestone.as_deref() {
                    Some(name) => Some(
                        Milestone::ALL
                            .into_iter()
                            .find(|x| x.as_str() == name)
                            .filter(|x| {
                                milestones
                                    .iter()
                                    .any(|s| s.milestone == *x && s.done_at.is_none())
                            })
                            .ok_or_else(|| {
                                ApiError::invalid(
                                    "unknown_milestone",
                                    format!("该事件没有待完成的节点“{name}”"),
                                    format!("the matter has no pending milestone {name:?}"),
                                )
                            })?,
                    ),
                    None => {
                        note_required("the progress (note)")?;
                        None
                    }
                }
            };
            if let Some(reached) = reached {
                if rules::schedule::reach(&mut milestones, reached, now) {
                    detail.insert("milestone".into(), reached.as_str().into());
                    change.milestone_due = Some(rules::schedule::milestone_wake(&milestones));
                    change.milestones = Some(serde_json::to_string(&milestones).ok());
                }
            }
        }
        Action::SelfResolve | Action::ReportHandled => {
            if facts.photos.is_empty() {
                return Err(ApiError::invalid(
                    "photos_required",
                    "请附上处置结果照片",
                    "photos of the result are required",
                ));
            }
            change.photos = facts.photos.clone();
            if action == Action::SelfResolve {
                change.closed_at = Some(Some(now));
            }
        }
        Action::VerifyFail => {
            note_required("what is wrong (note)")?;
            change.add_rework = true;
            // The handling deadline runs again for the rework.
            change.next_due = Some(m.deadline.filter(|_| !m.overdue));
        }
        Action::Close => change.closed_at = Some(Some(now)),
        Action::Rate => {
            let rating = req
                .rating
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| ApiError::BadRequest("rate needs a rating from 1 to 5".into()))?;
            change.rating = Some(rating);
        }
        Action::Reopen => {
            let window = state.config.reopen_days * 86_400_000;
            if m.closed_at.is_none_or(|closed| now - closed > window) {
                return Err(ApiError::invalid(
                    "reopen_window_closed",
                    format!("已超过办结后 {} 天的重启期限", state.config.reopen_days),
                    format!(
                        "a matter can be reopened only within {} days of closure",
                        state.config.reopen_days
                    ),
                ));
            }
            note_required("why it is not solved (note)")?;
            change.next_due = Some(Some(
                rules::schedule::REGISTRATION_LIMIT.deadline(&state.calendar, now),
            ));
        }
        Action::Supervise => {
            change.supervised = Some(true);
        }
        Action::RequestExtension | Action::RequestSuspension => {
            note_required("a reason (note)")?;
            let (kind_zh, kind_en) = if action == Action::RequestExtension {
                ("延期", "extension")
            } else {
                ("缓办", "suspension")
            };
            if facts.pending.is_some() {
                return Err(already_pending(kind_zh, kind_en));
            }
            if action == Action::RequestExtension {
                let by: TimeLimit = req
                    .extend_by
                    .as_deref()
                    .ok_or_else(|| {
                        ApiError::BadRequest("request_extension needs extend_by".into())
                    })?
                    .parse()
                    .map_err(|e: pingan_domain::calendar::CalendarError| {
                        ApiError::BadRequest(e.to_string())
                    })?;
                if by.amount() == 0 {
                    return Err(ApiError::BadRequest("extend_by must be positive".into()));
                }
                detail.insert("extend_by".into(), by.to_string().into());
            }
        }
        Action::ApproveExtension | Action::DenyExtension => {
            let request = facts
                .pending
                .as_ref()
                .ok_or_else(|| no_pending("延期", "extension"))?;
            if action == Action::ApproveExtension {
                let by: Option<TimeLimit> =
                    serde_json::from_str::<serde_json::Value>(&request.body)
                        .ok()
                        .and_then(|b| b.get("extend_by")?.as_str()?.parse().ok());
                let (Some(by), Some(deadline)) = (by, m.deadline) else {
                    return Err(no_pending("延期", "extension"));
                };
                // The extension counts from the old deadline, or from now if
                // that has already passed.
                let new_deadline = by.deadline(&state.calendar, deadline.max(now));
                change.deadline = Some(Some(new_deadline));
                change.overdue = Some(false);
                change.next_due = Some(Some(rules::schedule::reminder_at(now, new_deadline)));
                detail.insert("deadline_before".into(), deadline.into());
            }
        }
        Action::ApproveSuspension | Action::DenySuspension => {
            facts
                .pending
                .as_ref()
                .ok_or_else(|| no_pending("缓办", "suspension"))?;
            if action == Action::ApproveSuspension {
                // The clock stops while suspended.
                change.next_due = Some(None);
            }
        }
        Action::Resume => {
            // The deadline moves by the time spent suspended.
            if let (Some(since), Some(deadline)) = (facts.suspended_since, m.deadline) {
                let new_deadline = deadline + (now - since).max(0);
                change.deadline = Some(Some(new_deadline));
                change.next_due = Some(Some(rules::schedule::reminder_at(now, new_deadline)));
            }
        }
        Action::TransferUp => {
            let up = rules::holder_above(&m.holder)
                .ok_or_else(|| ApiError::BadRequest("there is no level above".into()))?;
            change.holder = Some(up.to_string());
            change.assigned_unit_id = Some(None);
            change.deadline = Some(None);
        }
        Action::TransferDown | Action::TransferSideways => {
            let target = req
                .target
                .clone()
                .ok_or_else(|| ApiError::BadRequest("a transfer needs a target region".into()))?;
            let target_scope =
                Scope::parse(&target).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            let target = target_scope.prefix().to_string();
            let fits = if action == Action::TransferDown {
                target.starts_with(&m.holder) && target.len() > m.holder.len() && target.len() <= 12
            } else {
                target.len() == m.holder.len()
                    && target != m.holder
                    && rules::holder_above(&target) == rules::holder_above(&m.holder)
            };
            let off_path = action == Action::TransferDown && !m.grid_code.starts_with(&target);
            if !fits || off_path {
                return Err(ApiError::BadRequest(format!("cannot transfer to {target}")));
            }
            change.holder = Some(target);
            change.assigned_unit_id = Some(None);
            change.deadline = Some(None);
        }
        _ => {}
    }
    // Leaving the states the scheduler watches ends its schedule.
    let watched = |s: workflow::State| {
        rules::schedule::deadline_runs(s)
            || matches!(s, workflow::State::Reported | workflow::State::Reopened)
    };
    if change.next_due.is_none() && !watched(to) {
        change.next_due = Some(None);
    }
    if !rules::schedule::deadline_runs(to) {
        change.milestone_due = Some(None);
    }
    let mut body = serde_json::json!({
        "as": actor.as_str(),
        "note": req.note,
        "unit_id": change.assigned_unit_id.flatten(),
        "deadline": change.deadline.flatten(),
        "holder": change.holder,
        "rating": change.rating,
        "photos": change.photos.iter().map(|p| &p.sha256).collect::<Vec<_>>(),
    });
    if let Some(map) = body.as_object_mut() {
        map.extend(detail);
        if let Some(key) = &req.idempotency_key {
            map.insert("idempotency_key".into(), key.as_str().into());
        }
    }
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: action.as_str().to_string(),
        from_state: Some(from.as_str().to_string()),
        to_state: Some(to.as_str().to_string()),
        body: body.to_string(),
        at: now,
    };
    Ok((change, log))
}

/// Performs an action through the workflow table. The state change and its
/// log entry are written together, only if the matter is still at `version`.
#[utoipa::path(post, path = "/api/v1/matters/{id}/actions", tag = "matters", params(("id" = i64, Path)),
    request_body = ActionRequest,
    responses(
        (status = 200, body = MatterView),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Not for this caller", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not in this state, or a stale version", body = ErrorBody),
    ))]
pub async fn act(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ActionRequest>,
) -> ApiResult<Json<MatterView>> {
    let updated = perform(&state, &caller, id, req, now_ms()).await?;
    Ok(Json(view(&caller, updated)?))
}
/// The first of the caller's actors the table lets act; else the refusal
/// that explains best (the state's, when nobody could act).
fn pick_actor(
    from: workflow::State,
    action: Action,
    actors: &[Actor],
) -> ApiResult<(workflow::State, Actor)> {
    let mut refusal = Refusal::NotAllowedForActor {
        state: from,
        action,
        actor: actors.first().copied().unwrap_or(Actor::Reporter),
    };
    for &actor in actors {
        match workflow::next(from, action, actor) {
            Ok(to) => return Ok((to, actor)),
            Err(r) => refusal = r,
        }
    }
    if actors.is_empty() {
        if let Err(r @ Refusal::NotAllowedInState { .. }) =
            workflow::next(from, action, Actor::System)
        {
            refusal = r;
        }
    }
    Err(ApiError::Workflow(refusal))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntryView {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub unit_id: Option<i64>,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// JSON text: note, unit, deadline…
    pub body: String,
}

impl From<LogEntry> for LogEntryView {
    fn from(e: LogEntry) -> Self {
        LogEntryView {
            seq: e.seq,
            at: e.at,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            unit_id: e.unit_id,
            action: e.action,
            from_state: e.from_state,
            to_state: e.to_state,
            body: e.body,
        }
    }
}

/// A matter's log, oldest first.
#[utoipa::path(get, path = "/api/v1/matters/{id}/log", tag = "matters", params(("id" = i64, Path)),
    responses((status = 200, body = [LogEntryView]), (status = 404, body = ErrorBody)))]
pub async fn log(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<LogEntryView>>> {
    visible_matter(&state, &caller, id).await?;
    let entries = state.store.log_for(&format!("matter:{id}")).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| LogEntryView {
                seq: e.seq,
                at: e.at,
                actor_id: e.actor_id,
                actor_role: e.actor_role,
                unit_id: e.unit_id,
                action: e.action,
                from_state: e.from_state,
                to_state: e.to_state,
                body: e.body,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingStep {
    pub at: i64,
    pub action: String,
    pub state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackingView {
    pub tracking_code: String,
    pub state: String,
    pub state_name: String,
    pub category_code: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deadline: Option<i64>,
    /// What happened when; no names, no notes, no personal data.
    pub steps: Vec<TrackingStep>,
}

/// Progress of a matter by its tracking code, without signing in.
#[utoipa::path(get, path = "/api/v1/track/{code}", tag = "matters", params(("code" = String, Path)),
    security(()),
    responses((status = 200, body = TrackingView), (status = 404, body = ErrorBody)))]
pub async fn track(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<TrackingView>> {
    let code = code.to_ascii_uppercase();
    if !rules::is_tracking_code(&code) {
        return Err(ApiError::NotFound("matter"));
    }
    let m = state
        .store
        .matter_by_tracking_code(&code)
        .await?
        .ok_or(ApiError::NotFound("matter"))?;
    Ok(Json(tracking_view(&state, m).await?))
}

/// What anyone with the tracking code sees: no names, notes or personal data.
pub async fn tracking_view(state: &AppState, m: Matter) -> ApiResult<TrackingView> {
    let st = parse_state(&m)?;
    let steps = state
        .store
        .log_for(&format!("matter:{}", m.id))
        .await?
        .into_iter()
        .map(|e| TrackingStep {
            at: e.at,
            action: e.action,
            state: e.to_state,
        })
        .collect();
    Ok(TrackingView {
        tracking_code: m.tracking_code,
        state: m.state,
        state_name: st.name_zh().to_string(),
        category_code: m.category_code,
        created_at: m.created_at,
        updated_at: m.updated_at,
        deadline: m.deadline,
        steps,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DispatchQuery {
    /// Only units of this kind; default: the kind the matter's category names.
    /// `any` lists every kind.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchOptions {
    /// The unit kind the category is normally handled by.
    pub suggested_kind: Option<String>,
    /// The time limit a dispatch now would set, e.g. `7wd`.
    pub time_limit: Option<String>,
    /// The deadline a dispatch now would set (ms since the Unix epoch, UTC),
    /// counted on the working-time calendar.
    pub deadline_preview: Option<i64>,
    /// Units of the holding centre's region and below, and of the regions
    /// above it (their departments), nearest level last.
    pub units: Vec<crate::views::UnitView>,
}

/// Where the holding centre may send a matter, and the deadline it would get:
/// what a dispatch dialog shows.
#[utoipa::path(get, path = "/api/v1/matters/{id}/dispatch-options", tag = "matters",
    params(("id" = i64, Path), DispatchQuery),
    responses((status = 200, body = DispatchOptions), (status = 404, body = ErrorBody)))]
pub async fn dispatch_options(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DispatchQuery>,
) -> ApiResult<Json<DispatchOptions>> {
    let m = visible_matter(&state, &caller, id).await?;
    let catalogue = state.catalogue().1;
    let category = m.category_code.as_deref().and_then(|c| catalogue.find(c));
    let limit = category.and_then(|c| c.limit(parse_severity(Some(&m.severity)).ok()?));
    let kind = match q.kind.as_deref() {
        Some("any") => None,
        Some(k) => Some(
            k.parse::<pingan_domain::UnitKind>()
                .map_err(ApiError::InvalidQuery)?,
        ),
        None => category.map(|c| c.unit_kind),
    };
    let mut ancestors = Vec::new();
    let mut level = pingan_domain::RegionCode::from_short(&m.holder).ok();
    while let Some(region) = level.and_then(|r| r.parent()) {
        ancestors.push(region.as_str().to_string());
        level = Some(region);
    }
    let units = state
        .store
        .dispatch_units(&m.holder, &ancestors, kind)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(DispatchOptions {
        suggested_kind: category.map(|c| c.unit_kind.as_str().to_string()),
        time_limit: limit.map(|l| l.to_string()),
        deadline_preview: limit.map(|l| l.deadline(&state.calendar, now_ms())),
        units,
    }))
}

/// A matter that may report the same thing, and how far away it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct PossibleDuplicate {
    #[serde(flatten)]
    pub matter: MatterView,
    /// Metres between the two reported points.
    pub distance_m: f64,
}

/// Possible duplicates (疑似重复) of a matter: others of the same category
/// filed within 250 m and 7 days of it, not rejected or merged, within the
/// caller's scope, nearest first (at most 50). A matter without a point or a
/// category has none.
#[utoipa::path(get, path = "/api/v1/matters/{id}/duplicates", tag = "matters",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PossibleDuplicate>), (status = 404, body = ErrorBody)))]
pub async fn duplicates(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<PossibleDuplicate>>> {
    let m = visible_matter(&state, &caller, id).await?;
    let (Some(lng), Some(lat), Some(category)) = (m.lng, m.lat, m.category_code.clone()) else {
        return Ok(Json(Vec::new()));
    };
    let filter = MatterFilter {
        states: workflow::State::ALL
            .into_iter()
            .filter(|s| !matches!(s, workflow::State::Rejected | workflow::State::Merged))
            .map(|s| s.as_str().to_string())
            .collect(),
        category_prefix: Some(category),
        created_from: Some(m.created_at - rules::DUPLICATE_WINDOW_MS),
        created_to: Some(m.created_at + rules::DUPLICATE_WINDOW_MS + 1),
        bbox: Some(rules::box_around((lng, lat), rules::DUPLICATE_RADIUS_M)),
        reporter_id: matches!(caller.role, Role::Citizen | Role::Landlord).then_some(caller.id),
        ..MatterFilter::default()
    };
    let rows = state
        .store
        .matters(
            &caller.scope,
            &filter,
            &StorePage::first(StorePage::MAX_LIMIT),
        )
        .await?;
    let mut found = Vec::new();
    for other in rows {
        let (Some(olng), Some(olat)) = (other.lng, other.lat) else {
            continue;
        };
        let distance_m = rules::distance_m((lng, lat), (olng, olat));
        if other.id != m.id && distance_m <= rules::DUPLICATE_RADIUS_M {
            found.push(PossibleDuplicate {
                distance_m: (distance_m * 10.0).round() / 10.0,
                matter: view(&caller, other)?,
            });
        }
    }
    found.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    found.truncate(50);
    Ok(Json(found))
}

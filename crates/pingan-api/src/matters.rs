//! Matters (事件): intake, the current state with the actions the caller may
//! take, actions through the workflow table, the log, and public tracking.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pingan_domain::category::{CategoryCode, Severity};
use pingan_domain::matter::{self as rules, Relation};
use pingan_domain::workflow::{self, Action, Actor, Refusal};
use pingan_domain::{GridCode, Role, Scope};
use pingan_storage::{
    now_ms, Account, Matter, MatterChange, MatterFilter, NewLogEntry, NewMatter, Page as StorePage,
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
    /// grid_worker, citizen, hotline, department, higher_level.
    pub source: String,
    pub contact_masked: Option<String>,
    /// The region prefix of the centre holding the matter.
    pub holder: String,
    pub assigned_unit_id: Option<i64>,
    /// Milliseconds since the Unix epoch (UTC), once dispatched.
    pub deadline: Option<i64>,
    pub rework_count: i64,
    pub rating: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The actions the caller may take now.
    pub actions_allowed: Vec<String>,
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
        rework_count: m.rework_count,
        rating: m.rating,
        created_at: m.created_at,
        updated_at: m.updated_at,
        actions_allowed,
    })
}

/// Citizens and landlords see only what they reported; everyone else sees
/// every matter in their scope.
async fn visible_matter(state: &AppState, caller: &Account, id: i64) -> ApiResult<Matter> {
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

fn tracking_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..rules::TRACKING_LEN)
        .map(|_| rules::TRACKING_ALPHABET[rng.gen_range(0..rules::TRACKING_ALPHABET.len())] as char)
        .collect()
}

fn check_text(what: &str, text: &str, max: usize, required: bool) -> ApiResult<()> {
    let n = text.trim().chars().count();
    if required && n == 0 {
        return Err(ApiError::BadRequest(format!("{what} is required")));
    }
    if n > max {
        return Err(ApiError::BadRequest(format!(
            "{what} is longer than {max} characters"
        )));
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
    let parsed = CategoryCode::parse(code).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state
        .catalogue
        .get(&parsed)
        .map(|c| c.code.as_str().to_string())
        .ok_or_else(|| ApiError::BadRequest(format!("unknown category {code}")))
}

/// Files a report. The place is located to its grid; the matter starts at the
/// township centre of that grid.
#[utoipa::path(post, path = "/api/v1/matters", tag = "matters", request_body = NewMatterRequest,
    responses(
        (status = 201, description = "Filed", body = MatterView),
        (status = 200, description = "Already filed with this idempotency key", body = MatterView),
        (status = 400, body = ErrorBody),
        (status = 422, description = "The place lies in no grid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<NewMatterRequest>,
) -> ApiResult<(StatusCode, Json<MatterView>)> {
    check_text("description", &req.description, MAX_DESCRIPTION_CHARS, true)?;
    let severity = parse_severity(req.severity.as_deref())?;
    let category_code = req
        .category_code
        .as_deref()
        .map(|c| known_category(&state, c))
        .transpose()?;
    if category_code.is_none() && !matches!(caller.role, Role::Citizen | Role::Landlord) {
        return Err(ApiError::BadRequest("category_code is required".into()));
    }
    if let Some(key) = &req.idempotency_key {
        let ok = (8..=64).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(ApiError::BadRequest(
                "idempotency_key must be 8-64 letters, digits or dashes".into(),
            ));
        }
    }
    if let Some(contact) = &req.contact {
        check_text("contact", contact, 32, false)?;
    }
    let (grid_code, point) = match (&req.grid_code, req.lng, req.lat) {
        (Some(code), None, None) => {
            let code = GridCode::parse(code).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            if state.index().get(&code).is_none() {
                return Err(ApiError::BadRequest(format!("unknown grid {code}")));
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
        source: rules::channel_of(caller.role).to_string(),
        reporter_id: Some(caller.id),
        contact: req.contact,
        holder,
        next_due: Some(rules::schedule::REGISTRATION_LIMIT.deadline(&state.calendar, now_ms())),
    };
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: "report".into(),
        from_state: None,
        to_state: Some(new.state.clone()),
        body: serde_json::json!({ "source": new.source, "grid_code": new.grid_code }).to_string(),
    };
    let (matter, created) = state.store.create_matter(&new, &log).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&caller, matter)?)))
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
    Ok(Json(view(&caller, m)?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MatterListQuery {
    /// Only these states, comma-separated.
    pub state: Option<String>,
    /// Only under this region or grid code prefix.
    pub under: Option<String>,
    /// Only this category (4 digits) or major category (2 digits).
    pub category: Option<String>,
    /// Only from this channel: grid_worker, citizen, hotline, department, higher_level.
    pub source: Option<String>,
    /// Only overdue (true) or not overdue (false) matters.
    pub overdue: Option<bool>,
    /// Filed at or after, ms since the Unix epoch (UTC).
    pub from: Option<i64>,
    /// Filed before, ms since the Unix epoch (UTC).
    pub to: Option<i64>,
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
    fn filter(&self, caller: &Account) -> ApiResult<MatterFilter> {
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
            // Citizens and landlords list only what they reported.
            reporter_id: matches!(caller.role, Role::Citizen | Role::Landlord).then_some(caller.id),
            ..MatterFilter::default()
        })
    }
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
    if let Some(under) = &filter.under {
        let reach = Scope::parse(under).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
        if caller.scope.intersect(&reach).is_none() {
            return Err(ApiError::OutOfScope(under.clone()));
        }
    }
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

#[derive(Debug, Deserialize, ToSchema)]
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
    /// rate: 1-5.
    pub rating: Option<i64>,
    /// A note; required to return or to fail verification.
    pub note: Option<String>,
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
    let action: Action = req
        .action
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown action {:?}", req.action)))?;
    if let Some(note) = &req.note {
        check_text("note", note, MAX_NOTE_CHARS, false)?;
    }
    let m = visible_matter(&state, &caller, id).await?;
    let from = parse_state(&m)?;
    let actors = rules::actors(caller.role, &relation(&caller, &m));
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
            // A centre dispatches within its own line: to units of its
            // region or below, or to the departments above it.
            let unit_prefix = pingan_domain::RegionCode::infer(&unit.region_code)
                .map(|r| r.prefix().to_string())
                .unwrap_or_default();
            if !(unit_prefix.starts_with(&m.holder) || m.holder.starts_with(&unit_prefix)) {
                return Err(ApiError::OutOfScope(format!("unit {unit_id}")));
            }
            let category = match (&req.category_code, &m.category_code) {
                (Some(c), _) => known_category(&state, c)?,
                (None, Some(c)) => c.clone(),
                (None, None) => {
                    return Err(ApiError::BadRequest(
                        "dispatch needs a category_code".into(),
                    ))
                }
            };
            let severity = parse_severity(Some(&m.severity))?;
            let limit = CategoryCode::parse(&category)
                .ok()
                .and_then(|c| state.catalogue.get(&c).and_then(|c| c.limit(severity)))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("category {category} has no time limit"))
                })?;
            let now = now_ms();
            let deadline = limit.deadline(&state.calendar, now);
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
        Action::VerifyFail => {
            note_required("what is wrong (note)")?;
            change.add_rework = true;
            // The handling deadline runs again for the rework.
            change.next_due = Some(m.deadline.filter(|_| !m.overdue));
        }
        Action::Rate => {
            let rating = req
                .rating
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| ApiError::BadRequest("rate needs a rating from 1 to 5".into()))?;
            change.rating = Some(rating);
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
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: action.as_str().to_string(),
        from_state: Some(from.as_str().to_string()),
        to_state: Some(to.as_str().to_string()),
        body: serde_json::json!({
            "as": actor.as_str(),
            "note": req.note,
            "unit_id": change.assigned_unit_id.flatten(),
            "deadline": change.deadline.flatten(),
            "holder": change.holder,
            "rating": change.rating,
        })
        .to_string(),
    };
    let updated = state
        .store
        .apply_matter_action(&caller.scope, id, req.version, &change, &log)
        .await?;
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
    Ok(Json(TrackingView {
        tracking_code: m.tracking_code,
        state: m.state,
        state_name: st.name_zh().to_string(),
        category_code: m.category_code,
        created_at: m.created_at,
        updated_at: m.updated_at,
        deadline: m.deadline,
        steps,
    }))
}

//! Patrols (巡查): a grid worker's round of their grid with notes, kept on the
//! phone while it runs (often offline) and sent once it ends. Start, end and
//! notes only: Pingan keeps no positions, since it does not track people.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pingan_domain::{Role, Scope};
use pingan_storage::{now_ms, NewPatrol, Patrol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::matters::check_idempotency_key;
use crate::routes::ListQuery;
use crate::state::AppState;
use crate::views::Page;

const MAX_NOTES: usize = 200;
const MAX_NOTE_CHARS: usize = 500;
const MAX_LENGTH_MS: i64 = 24 * 3_600_000;
/// How old a patrol may be when it arrives: a phone may stay offline a while.
const MAX_AGE_MS: i64 = 30 * 24 * 3_600_000;
/// Phone clocks run a little ahead at times.
const CLOCK_SLACK_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PatrolNoteView {
    /// When, ms since the Unix epoch (UTC).
    pub at: i64,
    /// 1-500 characters.
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPatrolRequest {
    /// Made by the phone (8-64 letters, digits or dashes): sending the same
    /// patrol again stores it once.
    pub idempotency_key: Option<String>,
    /// The grid patrolled; a grid worker's own grid by default.
    pub grid_code: Option<String>,
    /// Start and end, ms since the Unix epoch (UTC), at most 24 h apart.
    pub started_at: i64,
    pub ended_at: i64,
    /// At most 200, each within the patrol's time.
    #[serde(default)]
    pub notes: Vec<PatrolNoteView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatrolView {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub grid_code: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub notes: Vec<PatrolNoteView>,
    pub created_at: i64,
}

impl TryFrom<Patrol> for PatrolView {
    type Error = ApiError;

    fn try_from(p: Patrol) -> ApiResult<Self> {
        let notes = serde_json::from_str(&p.notes)
            .map_err(|e| ApiError::Internal(format!("patrol {} notes: {e}", p.id)))?;
        Ok(PatrolView {
            id: p.id,
            account_id: p.account_id,
            account_name: p.account_name,
            grid_code: p.grid_code,
            started_at: p.started_at,
            ended_at: p.ended_at,
            notes,
            created_at: p.created_at,
        })
    }
}

fn invalid(code: &'static str, zh: &'static str, en: &'static str) -> ApiError {
    ApiError::invalid(code, zh, en)
}

/// Records a finished patrol (grid workers and grid chiefs).
#[utoipa::path(post, path = "/api/v1/patrols", tag = "patrols", operation_id = "create_patrol", request_body = NewPatrolRequest,
    responses((status = 201, body = PatrolView),
        (status = 200, description = "Already stored with this idempotency key", body = PatrolView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<NewPatrolRequest>,
) -> ApiResult<(StatusCode, Json<PatrolView>)> {
    if !matches!(caller.role, Role::GridWorker | Role::GridChief) {
        return Err(ApiError::Forbidden);
    }
    if let Some(key) = &req.idempotency_key {
        check_idempotency_key(key)?;
    }
    let grid_code = match req.grid_code {
        Some(code) => code,
        None if caller.scope.prefix().len() == 15 => caller.scope.prefix().to_string(),
        None => {
            return Err(invalid(
                "grid_required",
                "请指定巡查的网格",
                "name the grid patrolled (grid_code)",
            ))
        }
    };
    if !state
        .index()
        .under(&grid_code)
        .iter()
        .any(|(c, _)| c.as_str() == grid_code)
    {
        return Err(invalid("unknown_grid", "没有这个网格", "no such grid"));
    }
    if !caller.scope.covers(&grid_code) {
        return Err(ApiError::OutOfScope(grid_code));
    }
    let now = now_ms();
    let (start, end) = (req.started_at, req.ended_at);
    if start > end
        || end - start > MAX_LENGTH_MS
        || end > now + CLOCK_SLACK_MS
        || start < now - MAX_AGE_MS
    {
        return Err(invalid(
            "bad_patrol_time",
            "巡查时间不合理：须在近30天内，结束不早于开始，且不超过24小时",
            "a patrol must lie within the last 30 days, end after it starts and last at most 24 hours",
        ));
    }
    if req.notes.len() > MAX_NOTES {
        return Err(invalid(
            "too_many_notes",
            "一次巡查最多200条记录",
            "at most 200 notes per patrol",
        ));
    }
    for note in &req.notes {
        let chars = note.text.trim().chars().count();
        if chars == 0 || chars > MAX_NOTE_CHARS {
            return Err(invalid(
                "bad_note",
                "每条巡查记录须为1-500字",
                "each note must be 1-500 characters",
            ));
        }
        if note.at < start || note.at > end {
            return Err(invalid(
                "note_outside_patrol",
                "巡查记录的时间须在巡查期间",
                "a note's time must lie within the patrol",
            ));
        }
    }
    let notes = serde_json::to_string(&req.notes).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (patrol, created) = state
        .store
        .create_patrol(&NewPatrol {
            idempotency_key: req.idempotency_key,
            account_id: caller.id,
            grid_code,
            started_at: start,
            ended_at: end,
            notes,
            created_at: now,
        })
        .await?;
    if !created && patrol.account_id != caller.id {
        // Someone else's key: tell nothing of their patrol.
        return Err(invalid(
            "bad_idempotency_key",
            "idempotency_key 已被使用",
            "idempotency_key is already used",
        ));
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(patrol.try_into()?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatrolListQuery {
    /// Only patrols of grids under this region or grid code prefix.
    pub under: Option<String>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// Patrols of the grids in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/patrols", tag = "patrols", operation_id = "list_patrols", params(PatrolListQuery),
    responses((status = 200, body = Page<PatrolView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<PatrolListQuery>,
) -> ApiResult<Json<Page<PatrolView>>> {
    let page = ListQuery {
        after: q.after,
        limit: q.limit,
    }
    .page()?;
    let under = q.under.unwrap_or_default();
    let reach = Scope::parse(&under).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
    if caller.scope.intersect(&reach).is_none() {
        return Err(ApiError::OutOfScope(under));
    }
    let rows = state
        .store
        .patrols(&caller.scope, reach.as_text(), &page)
        .await?;
    let next = (rows.len() as u32 >= page.limit.max(1))
        .then(|| rows.last().map(|p| p.id.to_string()))
        .flatten();
    let items = rows
        .into_iter()
        .map(PatrolView::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Page { items, next }))
}

/// One patrol with its notes.
#[utoipa::path(get, path = "/api/v1/patrols/{id}", tag = "patrols", operation_id = "get_patrol", params(("id" = i64, Path)),
    responses((status = 200, body = PatrolView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PatrolView>> {
    state
        .store
        .patrol(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound("patrol"))
        .and_then(PatrolView::try_from)
        .map(Json)
}

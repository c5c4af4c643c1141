//! Notifications (通知): each account's in-app feed, webhook subscriptions
//! for integrations, and the notifier that writes both from the event log.
//!
//! The event log is the outbox. The notifier tails it by `seq` from a cursor
//! kept in the database and moves the cursor in the same transaction as the
//! notifications and deliveries it writes, so intake never waits on
//! notification work, a restart resumes where it stopped, and two notifiers
//! never write the same entry twice.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode, Uri};
use axum::Json;
use hmac::{Hmac, Mac};
use hyper_util::rt::TokioIo;
use pingan_domain::notice::{self, MatterEvent, NoticeKind};
use pingan_storage::{
    Account, DeliveryOutcome, DueDelivery, LogEntry, MarkRead, Matter, NewDelivery,
    NewNotification, NewWebhook, Notification, StoreError, Webhook,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::live::LiveEvent;
use crate::routes::ListQuery;
use crate::state::AppState;
use crate::views::Page;

/// How often the spawned notifier sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// How long one webhook endpoint may take to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Log entries read per batch, and batches per sweep, so a backlog after a
/// long stop does not starve deliveries.
const LOG_BATCH: u32 = 500;
const MAX_LOG_BATCHES: usize = 20;
/// Deliveries attempted at once, and batches per sweep.
const DELIVERY_BATCH: u32 = 32;
const MAX_DELIVERY_BATCHES: usize = 8;
/// A claimed delivery is held this long: longer than any attempt can take,
/// so no two notifiers send it at once.
const DELIVERY_HOLD_MS: i64 = 60_000;
const MAX_IDS_PER_MARK: usize = 1000;
const MAX_URL_LEN: usize = 2000;
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;
const HTTPS_UNSUPPORTED: &str = "https not supported in this build";

// --- the feed ---

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// When it happened: milliseconds since the Unix epoch (UTC).
    pub at: i64,
    /// new_task, reminder, returned, escalated, rated, overdue or rework.
    pub kind: String,
    /// What it is about, e.g. `matter:42`.
    pub subject: String,
    /// The matter's id, when it is about a matter.
    pub matter_id: Option<i64>,
    /// The title in Chinese (zh-CN).
    pub title: String,
    /// The same title in English.
    pub title_en: String,
    /// Whether the caller has read it.
    pub read: bool,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id,
            at: n.at,
            kind: n.kind,
            matter_id: matter_id(&n.subject),
            subject: n.subject,
            title: n.title_zh,
            title_en: n.title_en,
            read: n.read,
        }
    }
}

fn matter_id(subject: &str) -> Option<i64> {
    subject.strip_prefix("matter:")?.parse().ok()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    /// Notifications in the caller's feed not yet read.
    pub count: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkReadRequest {
    /// These notifications (at most 1000; ids outside the caller's feed are ignored) …
    pub ids: Option<Vec<i64>>,
    /// … or, when true, everything in the feed so far.
    pub all: Option<bool>,
}

/// The caller's notifications: its own, its unit's, and (for centre
/// operators) its centre's, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(ListQuery),
    responses((status = 200, body = Page<NotificationView>), (status = 400, body = ErrorBody)))]
pub async fn feed(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<NotificationView>>> {
    let page = q.page()?;
    let rows = state.store.notifications_for(&caller, &page).await?;
    Ok(Json(Page::new(rows, page.limit, |n| n.id.to_string())))
}

/// How many notifications the caller has not read.
#[utoipa::path(get, path = "/api/v1/notifications/unread", tag = "notifications",
    responses((status = 200, body = UnreadCount)))]
pub async fn unread(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<UnreadCount>> {
    let count = state.store.unread_count(&caller).await?;
    Ok(Json(UnreadCount { count }))
}

/// Marks notifications read, by id or all at once; answers what is left unread.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications",
    request_body = MarkReadRequest,
    responses((status = 200, body = UnreadCount), (status = 400, body = ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<MarkReadRequest>,
) -> ApiResult<Json<UnreadCount>> {
    let which = match (req.ids, req.all) {
        (Some(ids), None | Some(false)) if ids.len() <= MAX_IDS_PER_MARK => MarkRead::Ids(ids),
        (Some(_), None | Some(false)) => {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_IDS_PER_MARK} ids at once; use all"
            )))
        }
        (None, Some(true)) => MarkRead::All,
        _ => return Err(ApiError::BadRequest("give either ids or all: true".into())),
    };
    state.store.mark_read(&caller, &which).await?;
    let count = state.store.unread_count(&caller).await?;
    Ok(Json(UnreadCount { count }))
}

// --- webhooks ---

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhookRequest {
    /// Where to POST: an http:// or https:// URL. (This build cannot speak
    /// TLS: deliveries to https URLs fail and are not retried.)
    pub url: String,
    /// Kinds to deliver: some of new_task, reminder, returned, escalated,
    /// rated, overdue, rework; or `["*"]` for all.
    pub events: Vec<String>,
    /// The HMAC-SHA256 key of the signature, 16-256 characters; when absent
    /// a random one is made. Either way it is shown in this answer only.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    /// Kinds delivered, or `["*"]`.
    pub events: Vec<String>,
    /// Only matters under this region or grid are delivered (the creator's scope).
    pub scope: String,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            events: w.events.split(',').map(str::to_string).collect(),
            scope: if w.scope_prefix.is_empty() {
                "*".into()
            } else {
                w.scope_prefix
            },
            active: w.active,
            created_by: w.created_by,
            created_at: w.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing key. Keep it: it is never shown again.
    pub secret: String,
}

fn require_admin(caller: &Account) -> ApiResult<()> {
    if caller.role.manages_accounts() {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// An absolute http(s) URL with a host; checked again at delivery.
fn check_url(url: &str) -> ApiResult<()> {
    let bad = |why: &str| ApiError::BadRequest(format!("url {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(bad("is too long"));
    }
    let uri: Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    // Credentials in a URL would be stored and listed in the clear.
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(bad("must not carry a user name or password"));
    }
    Ok(())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Subscribes an integration to notifications of matters within the
/// caller's scope (admins). Each delivery is a signed POST; see
/// `X-Pingan-Signature` in the API description.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "notifications", request_body = NewWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<NewWebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    require_admin(&caller)?;
    let url = req.url.trim().to_string();
    check_url(&url)?;
    let events =
        notice::event_filter(&req.events).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let secret = match req.secret {
        Some(s) if SECRET_LEN.contains(&s.chars().count()) => s,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "secret must be 16-256 characters".into(),
            ))
        }
        None => random_secret(),
    };
    let created = state
        .store
        .create_webhook(
            &caller.scope,
            &NewWebhook {
                url,
                secret,
                events,
                scope_prefix: caller.scope.prefix().to_string(),
                created_by: Some(caller.id),
            },
        )
        .await?;
    let secret = created.secret.clone();
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: created.into(),
            secret,
        }),
    ))
}

/// Webhooks within the caller's scope, active or not (admins). Secrets are never listed.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "notifications", params(ListQuery),
    responses((status = 200, body = Page<WebhookView>), (status = 403, body = ErrorBody)))]
pub async fn webhooks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<WebhookView>>> {
    require_admin(&caller)?;
    let page = q.page()?;
    let rows = state.store.webhooks(&caller.scope, &page).await?;
    Ok(Json(Page::new(rows, page.limit, |w| w.id.to_string())))
}

/// Stops a webhook (admins); nothing more is delivered to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204, description = "Stopped"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deactivate_webhook(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    require_admin(&caller)?;
    if state.store.deactivate_webhook(&caller.scope, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

// --- the notifier ---

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyReport {
    /// Log entries read and passed.
    pub entries: u64,
    pub notifications: u64,
    /// Webhook deliveries queued.
    pub queued: u64,
    pub delivered: u64,
    /// Failed attempts that will be tried again.
    pub retrying: u64,
    /// Deliveries given up for good.
    pub abandoned: u64,
    /// Another notifier moved the cursor first; the next sweep goes on from there.
    pub raced: bool,
}

/// Turns new log entries into notifications and deliveries (up to a batch
/// limit), then attempts the deliveries due by `now` (a parameter, so tests
/// drive the clock).
pub async fn notify_sweep(state: &AppState, now: i64) -> Result<NotifyReport, StoreError> {
    let mut report = NotifyReport::default();
    let webhooks = state.store.active_webhooks().await?;
    let alerts = crate::indicators::alert_settings(state)
        .await
        .map(|(_, s)| s)
        .unwrap_or_default();
    for _ in 0..MAX_LOG_BATCHES {
        let from = state.store.notifier_cursor().await?;
        let entries = state.store.log_after(from, LOG_BATCH).await?;
        let Some(to) = entries.last().map(|e| e.seq) else {
            break;
        };
        let (notifications, deliveries, live) =
            translate(state, &entries, &webhooks, &alerts, now).await?;
        if !state
            .store
            .record_notifications(from, to, &notifications, &deliveries)
            .await?
        {
            report.raced = true;
            break;
        }
        // Published once the cursor moved on, so each entry goes out once.
        for event in live {
            state.live.publish(event);
        }
        report.entries += entries.len() as u64;
        report.notifications += notifications.len() as u64;
        report.queued += deliveries.len() as u64;
        if entries.len() < LOG_BATCH as usize {
            break;
        }
    }
    deliver_due(state, now, &mut report).await?;
    Ok(report)
}

/// What a batch of log entries means: notifications, and deliveries to the
/// webhooks that want them.
async fn translate(
    state: &AppState,
    entries: &[LogEntry],
    webhooks: &[Webhook],
    alerts: &notice::AlertSettings,
    now: i64,
) -> Result<(Vec<NewNotification>, Vec<NewDelivery>, Vec<LiveEvent>), StoreError> {
    let catalogue = state.catalogue().1;
    // One read for the whole batch's matters.
    let mut ids: Vec<i64> = entries
        .iter()
        .filter_map(|e| matter_id(&e.subject))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let matters: HashMap<i64, Matter> = state
        .store
        .matters_by_ids(&ids)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut notifications = Vec::new();
    let mut deliveries = Vec::new();
    let mut live = Vec::new();
    for entry in entries {
        if entry.subject.starts_with("case:") {
            notifications.extend(case_notices(entry));
            continue;
        }
        let Some(id) = matter_id(&entry.subject) else {
            continue;
        };
        let Some(matter) = matters.get(&id) else {
            continue;
        };
        live.push(LiveEvent {
            seq: entry.seq,
            at: entry.at,
            matter_id: id,
            action: entry.action.clone(),
            state: entry
                .to_state
                .clone()
                .unwrap_or_else(|| matter.state.clone()),
            grid_code: matter.grid_code.clone(),
            category_code: matter.category_code.clone(),
            severity: matter.severity.clone(),
            overdue: matter.overdue,
            summary: LiveEvent::summary_of(&matter.description),
        });
        let body: Value = serde_json::from_str(&entry.body).unwrap_or(Value::Null);
        let text = |key: &str| body.get(key).and_then(Value::as_str);
        let event = MatterEvent {
            matter_id: id,
            action: &entry.action,
            dispatched_unit: body.get("unit_id").and_then(Value::as_i64),
            new_holder: text("holder"),
            holder_before: text("holder_before"),
            reason: text("reason"),
            rating: body.get("rating").and_then(Value::as_i64),
            grid_code: text("grid_code"),
            current_holder: &matter.holder,
            current_unit: matter.assigned_unit_id,
        };
        let mut notices = notice::notices_for(&event);
        // Immediate alerts: a red-flag category, or a cluster in a village.
        if entry.action == notice::REPORT_ACTION {
            let grid = event.grid_code.unwrap_or(&matter.grid_code);
            let category = match body.get("category_code") {
                Some(v) => v.as_str(),
                None => matter.category_code.as_deref(),
            };
            if let (Some(category), true) = (category, grid.len() >= 12) {
                let window = i64::from(alerts.cluster_hours) * 3_600_000;
                let similar = state
                    .clusters
                    .lock()
                    .map(|mut w| w.note(entry.seq, entry.at, &grid[..12], category, window))
                    .unwrap_or(None);
                let name = catalogue
                    .find(category)
                    .map_or(category.to_string(), |c| c.name_zh.clone());
                if let Some(similar) = similar {
                    notices.extend(notice::alerts_for(
                        id, grid, category, &name, similar, alerts,
                    ));
                }
            }
        }
        // One delivery per kind: the payload names no audience.
        let mut kinds: HashSet<NoticeKind> = HashSet::new();
        for n in notices {
            notifications.push(NewNotification {
                at: entry.at,
                audience: n.audience.as_text(),
                kind: n.kind.as_str().to_string(),
                subject: entry.subject.clone(),
                log_seq: entry.seq,
                title_zh: n.title_zh,
                title_en: n.title_en,
            });
            if !kinds.insert(n.kind) {
                continue;
            }
            for w in webhooks.iter().filter(|w| {
                notice::filter_accepts(&w.events, n.kind)
                    && matter.grid_code.starts_with(&w.scope_prefix)
            }) {
                deliveries.push(NewDelivery {
                    webhook_id: w.id,
                    log_seq: entry.seq,
                    event: n.kind.as_str().to_string(),
                    payload: delivery_payload(n.kind, id, entry, matter),
                    next_attempt_at: now,
                });
            }
        }
    }
    Ok((notifications, deliveries, live))
}

/// A mediation case's entries carry their notifications (`notices`: whom,
/// what kind, the titles), worked out by the case service when it knew the
/// case's mediators; cases send no webhooks.
fn case_notices(entry: &LogEntry) -> Vec<NewNotification> {
    let body: Value = serde_json::from_str(&entry.body).unwrap_or(Value::Null);
    let Some(list) = body.get("notices").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|n| {
            let text = |k: &str| n.get(k).and_then(Value::as_str).map(str::to_string);
            let audience = text("audience")?;
            let valid = audience
                .split_once(':')
                .is_some_and(|(k, v)| matches!(k, "account" | "unit") && v.parse::<i64>().is_ok());
            valid.then(|| NewNotification {
                at: entry.at,
                audience,
                kind: text("kind").unwrap_or_else(|| "reminder".into()),
                subject: entry.subject.clone(),
                log_seq: entry.seq,
                title_zh: text("title_zh").unwrap_or_default(),
                title_en: text("title_en").unwrap_or_default(),
            })
        })
        .collect()
}

/// What an integration is told: no names, notes or contacts.
fn delivery_payload(kind: NoticeKind, matter_id: i64, entry: &LogEntry, m: &Matter) -> String {
    serde_json::json!({
        "event": kind.as_str(),
        "matter_id": matter_id,
        "state": entry.to_state.as_deref().unwrap_or(&m.state),
        "log_seq": entry.seq,
        "at": entry.at,
    })
    .to_string()
}

/// Attempts the deliveries due by `now`, a batch at a time, until none is
/// left or the sweep has done its share.
async fn deliver_due(
    state: &AppState,
    now: i64,
    report: &mut NotifyReport,
) -> Result<(), StoreError> {
    for _ in 0..MAX_DELIVERY_BATCHES {
        let due = state
            .store
            .due_deliveries(now, now + DELIVERY_HOLD_MS, DELIVERY_BATCH)
            .await?;
        let full = due.len() >= DELIVERY_BATCH as usize;
        deliver_batch(state, due, now, report).await?;
        if !full {
            break;
        }
    }
    Ok(())
}

/// Attempts these deliveries at once, and records each outcome.
async fn deliver_batch(
    state: &AppState,
    due: Vec<DueDelivery>,
    now: i64,
    report: &mut NotifyReport,
) -> Result<(), StoreError> {
    let mut attempts = tokio::task::JoinSet::new();
    for d in due {
        attempts.spawn(async move {
            let result = post_signed(&d, now / 1000).await;
            (d, result)
        });
    }
    while let Some(joined) = attempts.join_next().await {
        let Ok((d, result)) = joined else {
            // The attempt panicked: the hold runs out and it comes due again.
            tracing::warn!("a webhook delivery attempt panicked");
            continue;
        };
        let (outcome, next) = match result {
            Ok(status) if (200..300).contains(&status) => {
                report.delivered += 1;
                (DeliveryOutcome::Delivered { at: now, status }, None)
            }
            failure => {
                let (status, error, permanent) = match failure {
                    Ok(status) => (Some(status), format!("HTTP {status}"), false),
                    Err(SendError::Permanent(e)) => (None, e, true),
                    Err(SendError::Transient(e)) => (None, e, false),
                };
                let failed = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
                let next = if permanent {
                    None
                } else {
                    notice::retry_delay_ms(failed).map(|delay| now + delay)
                };
                if next.is_some() {
                    report.retrying += 1;
                } else {
                    report.abandoned += 1;
                    tracing::warn!(delivery = d.id, webhook = d.webhook_id, %error, "webhook delivery given up");
                }
                (
                    DeliveryOutcome::Failed {
                        at: now,
                        status,
                        error,
                    },
                    next,
                )
            }
        };
        state
            .store
            .record_delivery_attempt(d.id, &outcome, next)
            .await?;
    }
    Ok(())
}

/// Why an attempt failed: worth retrying, or not.
#[derive(Debug)]
enum SendError {
    Transient(String),
    Permanent(String),
}

/// The signature header's value without its `sha256=` tag: hex of
/// HMAC-SHA256 under the secret (its UTF-8 bytes) of `timestamp "." body`.
/// Receivers recompute it, and may refuse old timestamps to stop replays.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// POSTs one delivery over plain HTTP/1.1; answers the status.
async fn post_signed(d: &DueDelivery, unix_secs: i64) -> Result<u16, SendError> {
    let uri: Uri = d
        .url
        .parse()
        .map_err(|_| SendError::Permanent("invalid URL".into()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(SendError::Permanent(HTTPS_UNSUPPORTED.into())),
        _ => return Err(SendError::Permanent("not an http URL".into())),
    }
    let host = uri
        .host()
        .ok_or_else(|| SendError::Permanent("URL has no host".into()))?;
    let port = uri.port_u16().unwrap_or(80);
    let host_header = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let timestamp = unix_secs.to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, host_header)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "pingan-webhook/1")
        .header("x-pingan-event", d.event.as_str())
        .header("x-pingan-delivery", d.id.to_string())
        .header("x-pingan-timestamp", timestamp.as_str())
        .header(
            "x-pingan-signature",
            format!("sha256={}", signature(&d.secret, &timestamp, &d.payload)),
        )
        .body(Body::from(d.payload.clone()))
        .map_err(|e| SendError::Permanent(format!("cannot build the request: {e}")))?;
    // An IPv6 literal comes bracketed in URLs but not in socket addresses.
    let connect_host = host.trim_start_matches('[').trim_end_matches(']');
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((connect_host, port))
            .await
            .map_err(|e| SendError::Transient(format!("cannot connect: {e}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::Transient(format!("HTTP handshake failed: {e}")))?;
        let driver = tokio::spawn(connection);
        let answer = sender.send_request(request).await;
        driver.abort();
        answer
            .map(|response| response.status().as_u16())
            .map_err(|e| SendError::Transient(format!("no HTTP answer: {e}")))
    };
    tokio::time::timeout(DELIVERY_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            SendError::Transient(format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()))
        })?
}

/// Runs [`notify_sweep`] at start and then every [`SWEEP_EVERY`].
pub fn spawn_notifier(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match notify_sweep(&state, pingan_storage::now_ms()).await {
                Ok(r) if r != NotifyReport::default() => tracing::debug!(?r, "notifier sweep"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notifier sweep failed"),
            }
            // Woken by a commit, or after a while for due webhook retries.
            tokio::select! {
                () = tokio::time::sleep(SWEEP_EVERY) => {}
                () = state.live.wait_for_change() => {}
            }
        }
    })
}

//! The citizen portal (群众端) for people without an account: report after a
//! phone check, then follow, rate or reopen the matter with its tracking code
//! and the same phone number.
//!
//! Portal reports are filed by one system account, `citizen-portal`, that
//! cannot sign in; the matter keeps the phone (encrypted) as its contact, and
//! whoever shows the tracking code and that phone acts as the reporter.
use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use pingan_domain::{Role, Scope};
use pingan_storage::{now_ms, Account, NewAccount, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath};
use crate::matters::{self, ActionRequest, NewMatterRequest, TrackingView};
use crate::state::AppState;

/// The system account portal reports are filed under.
pub const PORTAL_ACCOUNT: &str = "citizen-portal";
/// How long a code is valid, and how often a phone may ask for one.
const CODE_TTL_MS: i64 = 10 * 60_000;
const RESEND_AFTER_MS: i64 = 60_000;
/// Wrong guesses before a code is void.
const MAX_ATTEMPTS: u32 = 5;
/// Wrong phones for one tracking code before it is locked for a while, so the
/// phone cannot be guessed.
const MAX_WRONG_PHONES: u32 = 5;
const LOCK_MS: i64 = 15 * 60_000;

/// Delivers verification codes: the pluggable step. The shipped sender only
/// logs (masked phone, the code); a deployment plugs in its SMS gateway.
pub trait CodeSender: Send + Sync + std::fmt::Debug {
    fn send(&self, phone: &str, code: &str) -> Result<(), String>;
}

#[derive(Debug, Default)]
pub struct LogSender;

impl CodeSender for LogSender {
    fn send(&self, phone: &str, code: &str) -> Result<(), String> {
        tracing::info!(
            phone = %pingan_domain::mask::mask_phone(phone),
            code,
            "verification code (no SMS gateway configured)"
        );
        Ok(())
    }
}

#[derive(Debug)]
struct Pending {
    code_hash: [u8; 32],
    issued: i64,
    attempts: u32,
}

/// Codes waiting to be used, by phone; kept in memory only (hashed).
#[derive(Debug)]
pub struct Portal {
    codes: Mutex<HashMap<String, Pending>>,
    /// Wrong phones per tracking code: (count, time of the last).
    wrong_phones: Mutex<HashMap<String, (u32, i64)>>,
    sender: Box<dyn CodeSender>,
    account: OnceCell<Account>,
}

impl Default for Portal {
    fn default() -> Self {
        Portal {
            codes: Mutex::default(),
            wrong_phones: Mutex::default(),
            sender: Box::new(LogSender),
            account: OnceCell::new(),
        }
    }
}

fn digest(phone: &str, code: &str) -> [u8; 32] {
    Sha256::digest(format!("{phone}:{code}").as_bytes()).into()
}

impl Portal {
    pub fn with_sender(sender: Box<dyn CodeSender>) -> Self {
        Portal {
            sender,
            ..Portal::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.codes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new code for `phone`, or how many seconds to wait for one.
    fn issue(&self, phone: &str, now: i64) -> Result<String, u64> {
        let mut codes = self.lock();
        codes.retain(|_, p| now - p.issued < CODE_TTL_MS);
        if let Some(p) = codes.get(phone) {
            let wait = RESEND_AFTER_MS - (now - p.issued);
            if wait > 0 {
                return Err((wait as u64).div_ceil(1000));
            }
        }
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        codes.insert(
            phone.to_string(),
            Pending {
                code_hash: digest(phone, &code),
                issued: now,
                attempts: 0,
            },
        );
        Ok(code)
    }

    /// Whether `code` is the live code of `phone`; a right code is used up.
    fn check(&self, phone: &str, code: &str, now: i64) -> bool {
        let mut codes = self.lock();
        let Some(p) = codes.get_mut(phone) else {
            return false;
        };
        if now - p.issued >= CODE_TTL_MS || p.attempts >= MAX_ATTEMPTS {
            codes.remove(phone);
            return false;
        }
        if p.code_hash == digest(phone, code) {
            codes.remove(phone);
            true
        } else {
            p.attempts += 1;
            false
        }
    }

    /// Seconds a tracking code stays locked after too many wrong phones.
    fn locked(&self, tracking: &str, now: i64) -> Option<u64> {
        let mut wrong = self
            .wrong_phones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        wrong.retain(|_, (_, last)| now - *last < LOCK_MS);
        match wrong.get(tracking) {
            Some((n, last)) if *n >= MAX_WRONG_PHONES => {
                Some(((LOCK_MS - (now - last)) as u64).div_ceil(1000))
            }
            _ => None,
        }
    }

    fn wrong_phone(&self, tracking: &str, now: i64) {
        let mut wrong = self
            .wrong_phones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = wrong.entry(tracking.to_string()).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
    }

    /// The portal's system account, created on first use.
    async fn account(&self, state: &AppState) -> Result<Account, StoreError> {
        self.account
            .get_or_try_init(|| async {
                let everywhere = Scope::everywhere();
                if let Some(a) = state
                    .store
                    .account_by_username(&everywhere, PORTAL_ACCOUNT)
                    .await?
                {
                    return Ok(a);
                }
                // A password nobody knows: the account acts, it never signs in.
                let secret = format!("{:032x}", rand::random::<u128>());
                let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&secret))
                    .await
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let made = state
                    .store
                    .create_account(
                        &everywhere,
                        &NewAccount {
                            username: PORTAL_ACCOUNT.into(),
                            password_hash: hash,
                            role: Role::Citizen,
                            scope: everywhere.clone(),
                            unit_id: None,
                            display_name: "群众门户".into(),
                            phone: None,
                        },
                    )
                    .await;
                match made {
                    Ok(a) => Ok(a),
                    // Another process made it first.
                    Err(StoreError::Conflict(_)) => state
                        .store
                        .account_by_username(&everywhere, PORTAL_ACCOUNT)
                        .await?
                        .ok_or_else(|| StoreError::Invalid("portal account vanished".into())),
                    Err(e) => Err(e),
                }
            })
            .await
            .cloned()
    }
}

/// A mainland mobile number: 11 digits starting with 1.
fn mobile(phone: &str) -> ApiResult<String> {
    let phone = phone.trim();
    if phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit()) {
        Ok(phone.to_string())
    } else {
        Err(ApiError::invalid(
            "bad_phone",
            "请输入 11 位手机号码",
            "give an 11-digit mobile number",
        ))
    }
}

fn bad_code() -> ApiError {
    ApiError::invalid(
        "bad_code",
        "验证码错误或已过期",
        "the verification code is wrong or has expired",
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Only when the server runs as a demo (no SMS gateway): the code itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_code: Option<String>,
}

/// Sends a verification code to a phone (once a minute at most).
#[utoipa::path(post, path = "/api/v1/public/codes", tag = "portal", security(()),
    request_body = CodeRequest,
    responses((status = 202, body = CodeSent), (status = 400, body = ErrorBody),
        (status = 429, description = "Asked again too soon", body = ErrorBody)))]
pub async fn send_code(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let phone = mobile(&req.phone)?;
    let code = state
        .portal
        .issue(&phone, now_ms())
        .map_err(|retry_after_secs| ApiError::Throttled { retry_after_secs })?;
    state
        .portal
        .sender
        .send(&phone, &code)
        .map_err(ApiError::Internal)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            expires_in: (CODE_TTL_MS / 1000) as u64,
            demo_code: state.config.demo_codes.then_some(code),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PortalReport {
    pub phone: String,
    /// The code sent to the phone.
    pub code: String,
    pub description: String,
    /// Optional: the centre sorts it when registering.
    pub category_code: Option<String>,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    /// wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Files a report without an account, after the phone check; answers the
/// tracking code to follow it with.
#[utoipa::path(post, path = "/api/v1/public/matters", tag = "portal", security(()),
    request_body = PortalReport,
    responses((status = 201, body = TrackingView), (status = 400, body = ErrorBody),
        (status = 422, description = "The place lies in no grid", body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PortalReport>,
) -> ApiResult<(StatusCode, Json<TrackingView>)> {
    let phone = mobile(&req.phone)?;
    let now = now_ms();
    if !state.portal.check(&phone, req.code.trim(), now) {
        return Err(bad_code());
    }
    if req.lng.is_none() || req.lat.is_none() {
        return Err(ApiError::BadRequest("give the place as lng and lat".into()));
    }
    let account = state.portal.account(&state).await?;
    let (matter, _) = matters::file_report(
        &state,
        &account,
        NewMatterRequest {
            description: req.description,
            category_code: req.category_code,
            severity: None,
            lng: req.lng,
            lat: req.lat,
            crs: req.crs,
            grid_code: None,
            contact: Some(phone),
            idempotency_key: req.idempotency_key,
            photos: None,
            channel: None,
        },
        now,
    )
    .await?;
    let view = matters::tracking_view(&state, matter).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PortalAction {
    /// rate or reopen.
    pub action: String,
    /// The phone the report was filed with.
    pub phone: String,
    /// rate: 1-5.
    pub rating: Option<i64>,
    pub note: Option<String>,
}

/// Rates or reopens a matter by its tracking code and the contact phone given
/// with the report (by the resident on the portal, or to a grid worker).
#[utoipa::path(post, path = "/api/v1/track/{code}/actions", tag = "portal", security(()),
    operation_id = "track_act",
    params(("code" = String, Path)), request_body = PortalAction,
    responses((status = 200, body = TrackingView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiJson(req): ApiJson<PortalAction>,
) -> ApiResult<Json<TrackingView>> {
    if !matches!(req.action.as_str(), "rate" | "reopen") {
        return Err(ApiError::BadRequest("the portal can rate or reopen".into()));
    }
    let phone = mobile(&req.phone)?;
    let account = state.portal.account(&state).await?;
    let code = code.to_ascii_uppercase();
    let matter = state
        .store
        .matter_by_tracking_code(&code)
        .await?
        .ok_or(ApiError::NotFound("matter"))?;
    let now = now_ms();
    if let Some(retry_after_secs) = state.portal.locked(&code, now) {
        return Err(ApiError::Throttled { retry_after_secs });
    }
    // The same answer for a wrong phone as for a wrong code: nothing to probe.
    if !state.store.matter_contact_is(matter.id, &phone).await? {
        state.portal.wrong_phone(&code, now);
        return Err(ApiError::NotFound("matter"));
    }
    let done = matters::perform_as_contact(
        &state,
        &account,
        matter.id,
        ActionRequest {
            action: req.action,
            version: matter.version,
            rating: req.rating,
            note: req.note,
            ..ActionRequest::default()
        },
        now,
    )
    .await?;
    Ok(Json(matters::tracking_view(&state, done).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_use_limited_and_expire() {
        let portal = Portal::default();
        let code = portal.issue("13800001111", 0).unwrap();
        assert_eq!(code.len(), 6);
        assert!(
            portal.issue("13800001111", 30_000).is_err(),
            "once a minute"
        );
        assert!(!portal.check("13800001111", "not-it", 1_000));
        assert!(portal.check("13800001111", &code, 2_000));
        assert!(!portal.check("13800001111", &code, 3_000), "used up");
        let code = portal.issue("13800001111", 70_000).unwrap();
        assert!(
            !portal.check("13800001111", &code, 70_000 + CODE_TTL_MS),
            "expired"
        );
        let code = portal.issue("13900002222", 0).unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert!(!portal.check("13900002222", "000000x", 1));
        }
        assert!(!portal.check("13900002222", &code, 2), "too many guesses");
    }

    #[test]
    fn wrong_phones_lock_a_tracking_code_for_a_while() {
        let portal = Portal::default();
        for i in 0..MAX_WRONG_PHONES {
            assert_eq!(portal.locked("ABCDEFGHJK", i64::from(i)), None);
            portal.wrong_phone("ABCDEFGHJK", i64::from(i));
        }
        assert!(portal.locked("ABCDEFGHJK", 10).is_some());
        assert_eq!(
            portal.locked("KJHGFEDCBA", 10),
            None,
            "other codes are free"
        );
        assert_eq!(
            portal.locked("ABCDEFGHJK", 10 + LOCK_MS),
            None,
            "the lock ends"
        );
    }
}

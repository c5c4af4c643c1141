//! Sign-in, sessions and the [`Caller`] extractor.
//!
//! A session token is 32 random bytes, handed to the client once (as an
//! HttpOnly SameSite cookie and in the JSON body for API clients) and stored
//! only as its SHA-256 hash.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use pingan_storage::{now_ms, Account};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::views::AccountView;

pub const SESSION_COOKIE: &str = "pingan_session";

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("Argon2 hashing with default parameters does not fail")
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the username is unknown, so that the answer
/// takes as long as for a known one and does not reveal which names exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing"))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session token of a request: the bearer token, else the cookie.
fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = auth.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The signed-in account making the request. Handlers that take a `Caller`
/// answer 401 to anonymous requests.
#[derive(Debug, Clone)]
pub struct Caller(pub Account);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = request_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let hash = token_hash(&token);
        let now = now_ms();
        if let Some(account) = state.sessions.get(&hash, now) {
            return Ok(Caller(account));
        }
        match state.store.session_account(&hash, now).await? {
            Some(account) => {
                state.sessions.put(hash, account.clone(), now);
                Ok(Caller(account))
            }
            None => {
                state.sessions.forget(&hash);
                Err(ApiError::Unauthenticated)
            }
        }
    }
}

/// Sessions checked in the last [`SessionCache::TTL_MS`], so a busy client
/// costs one database read per token every few seconds rather than one per
/// request. Logout and account changes through this server clear it at once;
/// a change made by another process (the CLI) takes effect within the TTL.
///
/// In the second half of an entry's life the first request to see it reads
/// the database again while the others keep using the entry, so a busy
/// token never expires for all its requests at once.
#[derive(Debug, Default)]
pub struct SessionCache {
    entries: std::sync::Mutex<HashMap<Vec<u8>, CachedSession>>,
}

#[derive(Debug)]
struct CachedSession {
    account: Account,
    checked: i64,
    refreshing: bool,
}

impl SessionCache {
    pub const TTL_MS: i64 = 2_000;
    /// Beyond this many cached sessions the cache starts afresh.
    const MAX_ENTRIES: usize = 20_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, CachedSession>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached account, unless the caller should read the database: the
    /// entry is missing or stale, or it is this caller's turn to refresh it.
    fn get(&self, hash: &[u8], now: i64) -> Option<Account> {
        let mut entries = self.lock();
        let entry = entries.get_mut(hash)?;
        let age = now - entry.checked;
        if !(0..Self::TTL_MS).contains(&age) {
            return None;
        }
        if age >= Self::TTL_MS / 2 && !entry.refreshing {
            entry.refreshing = true;
            return None;
        }
        Some(entry.account.clone())
    }

    fn put(&self, hash: Vec<u8>, account: Account, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= Self::MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            hash,
            CachedSession {
                account,
                checked: now,
                refreshing: false,
            },
        );
    }

    /// Forgets every cached session (after an account changed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn forget(&self, hash: &[u8]) {
        self.lock().remove(hash);
    }
}

/// The peer address, when the server was started with connect info (tests
/// driving the router directly have none).
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

/// Counts failed sign-ins per account and per address in a sliding window;
/// past the limit, sign-ins are refused until the window has passed. Kept in
/// memory: one process serves a deployment, and a restart forgetting the
/// counts only gives an attacker one more window.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_PER_ACCOUNT: usize = 5;
const MAX_PER_ADDRESS: usize = 20;

impl LoginThrottle {
    fn keys(username: &str, addr: Option<SocketAddr>) -> [(String, usize); 2] {
        [
            (format!("user:{username}"), MAX_PER_ACCOUNT),
            (
                format!(
                    "addr:{}",
                    addr.map(|a| a.ip().to_string()).unwrap_or_default()
                ),
                MAX_PER_ADDRESS,
            ),
        ]
    }

    /// Seconds to wait, if either the account or the address is locked.
    pub fn check(&self, username: &str, addr: Option<SocketAddr>) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(username, addr)
            .iter()
            .filter_map(|(key, max)| {
                let list = map.get_mut(key)?;
                list.retain(|t| now.duration_since(*t) < WINDOW);
                (list.len() >= *max).then(|| {
                    let oldest = list[list.len() - max];
                    (WINDOW - now.duration_since(oldest)).as_secs().max(1)
                })
            })
            .max()
    }

    pub fn record_failure(&self, username: &str, addr: Option<SocketAddr>) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, list| list.iter().any(|t| now.duration_since(*t) < WINDOW));
        }
        for (key, _) in Self::keys(username, addr) {
            map.entry(key).or_default().push(now);
        }
    }

    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("user:{username}"));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Opaque session token; send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// When the session ends, milliseconds since the Unix epoch (UTC).
    pub expires_at: i64,
    pub account: AccountView,
}

/// Sign in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; also sets the session cookie", body = LoginResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let username = req.username.trim().to_string();
    if let Some(retry_after_secs) = state.throttle.check(&username, addr) {
        return Err(ApiError::Throttled { retry_after_secs });
    }
    let credentials = state.store.credentials(&username).await?;
    let hash = credentials
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = req.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let account = match credentials {
        Some(c) if matches && !c.account.disabled => c.account,
        _ => {
            state.throttle.record_failure(&username, addr);
            tracing::info!(username = %username, "failed sign-in");
            return Err(ApiError::BadCredentials);
        }
    };
    state.throttle.record_success(&username);
    let token = new_token();
    let ttl = state.config.session_ttl;
    let expires_at = now_ms() + ttl.as_millis() as i64;
    state
        .store
        .create_session(&token_hash(&token), account.id, expires_at)
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let body = LoginResponse {
        token,
        expires_at,
        account: AccountView::from(account),
    };
    let mut response = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Sign out: the session token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = request_token(&headers) {
        let hash = token_hash(&token);
        state.store.revoke_session(&hash).await?;
        state.sessions.forget(&hash);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("pingan_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)))]
pub async fn me(Caller(account): Caller) -> axum::Json<AccountView> {
    axum::Json(AccountView::from(account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_locks_an_account_after_five_failures() {
        let t = LoginThrottle::default();
        let addr: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        for _ in 0..MAX_PER_ACCOUNT {
            assert!(t.check("alice", Some(addr)).is_none());
            t.record_failure("alice", Some(addr));
        }
        assert!(t.check("alice", Some(addr)).is_some());
        assert!(t.check("bob", Some(addr)).is_none());
    }

    #[test]
    fn throttle_locks_an_address_trying_many_accounts() {
        let t = LoginThrottle::default();
        let attacker: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let other: SocketAddr = "10.0.0.10:5000".parse().unwrap();
        for i in 0..MAX_PER_ADDRESS {
            assert!(t.check(&format!("user{i}"), Some(attacker)).is_none());
            t.record_failure(&format!("user{i}"), Some(attacker));
        }
        assert!(t.check("someone-new", Some(attacker)).is_some());
        assert!(t.check("someone-new", Some(other)).is_none());
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let h = hash_password("s3cret");
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret!", &h));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn token_comes_from_bearer_or_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; pingan_session=xyz"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("xyz"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(request_token(&h).as_deref(), Some("abc"));
    }
}

#[cfg(test)]
mod session_cache_tests {
    use super::*;
    use pingan_domain::Role;

    fn account() -> Account {
        Account {
            id: 7,
            username: "operator".into(),
            role: Role::CentreOperator,
            scope: pingan_domain::Scope::parse("330102001").unwrap(),
            unit_id: None,
            display_name: "坐席".into(),
            phone_masked: None,
            disabled: false,
            created_at: 0,
        }
    }

    #[test]
    fn sessions_are_cached_briefly_and_refreshed_by_one_request() {
        let cache = SessionCache::default();
        let key = b"token-hash".to_vec();
        assert!(cache.get(&key, 1_000).is_none(), "nothing cached yet");
        cache.put(key.clone(), account(), 1_000);
        assert_eq!(cache.get(&key, 1_500).map(|a| a.id), Some(7));
        // Past half its life: the first caller is sent to the database, the
        // others keep the entry until that caller puts a fresh one.
        let half = 1_000 + SessionCache::TTL_MS / 2;
        assert!(cache.get(&key, half).is_none());
        assert_eq!(cache.get(&key, half + 1).map(|a| a.id), Some(7));
        cache.put(key.clone(), account(), half + 2);
        assert_eq!(cache.get(&key, half + 3).map(|a| a.id), Some(7));
        // Expired, or from a clock that went back: not used.
        assert!(cache.get(&key, half + 2 + SessionCache::TTL_MS).is_none());
        cache.put(key.clone(), account(), 5_000);
        assert!(cache.get(&key, 4_000).is_none());
        cache.forget(&key);
        assert!(cache.get(&key, 5_001).is_none());
    }
}

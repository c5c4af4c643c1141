//! Shared state of the running server.
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pingan_geo::LocateIndex;
use pingan_storage::Store;

use crate::auth::LoginThrottle;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Mark the session cookie `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    /// Largest request body accepted, except grid imports.
    pub body_limit: usize,
    /// Largest grid import body accepted.
    pub import_body_limit: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
            body_limit: 1 << 20,
            import_body_limit: 256 << 20,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The in-memory grid index: replaced whole after an import, so readers
    /// never wait on a rebuild.
    pub index: Arc<RwLock<Arc<LocateIndex>>>,
    pub throttle: Arc<LoginThrottle>,
    pub config: Arc<ApiConfig>,
    /// Working time for deadlines.
    pub calendar: Arc<pingan_domain::calendar::Calendar>,
    /// Categories and their time limits.
    pub catalogue: Arc<pingan_domain::category::Catalogue>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, index: LocateIndex, config: ApiConfig) -> Self {
        AppState {
            store,
            index: Arc::new(RwLock::new(Arc::new(index))),
            throttle: Arc::new(LoginThrottle::default()),
            config: Arc::new(config),
            calendar: Arc::new(pingan_domain::calendar::Calendar::shipped()),
            catalogue: Arc::new(pingan_domain::category::default_catalogue()),
        }
    }

    /// The current index; cheap (one Arc clone).
    pub fn index(&self) -> Arc<LocateIndex> {
        self.index
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn replace_index(&self, index: LocateIndex) {
        let mut guard = self
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(index);
    }
}

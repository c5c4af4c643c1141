//! Shared state of the running server.
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pingan_domain::category::Catalogue;
use pingan_geo::LocateIndex;
use pingan_storage::photos::PhotoStore;
use pingan_storage::{Store, StoreError};

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
    /// Largest photo accepted, in bytes.
    pub photo_limit: usize,
    /// Most photos on one report or action.
    pub photos_per_request: usize,
    /// Where photos are stored, content-addressed (`DATA/photos`).
    pub photo_dir: PathBuf,
    /// Days after closure in which the reporter may reopen a matter.
    pub reopen_days: i64,
    /// Answer the citizen portal's verification codes in the response: only
    /// for the demo, which has no SMS gateway.
    pub demo_codes: bool,
    /// Days a tenancy's personal fields are kept after check-out; then they
    /// are deleted, leaving anonymous counts.
    pub tenant_retention_days: i64,
    /// The address the public reaches the server at (e.g.
    /// `https://pingan.example.gov.cn`), for the links in rental QR codes;
    /// without it the request's Host header is used.
    pub public_url: Option<String>,
    /// When the monthly reports are made (the 15th, 08:00 Asia/Shanghai).
    pub report_schedule: pingan_domain::report::ReportSchedule,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            secure_cookies: false,
            session_ttl: Duration::from_secs(12 * 3600),
            body_limit: 1 << 20,
            import_body_limit: 256 << 20,
            photo_limit: 10 << 20,
            photos_per_request: 9,
            photo_dir: std::env::temp_dir().join("pingan-photos"),
            reopen_days: 7,
            demo_codes: false,
            tenant_retention_days: 180,
            public_url: None,
            report_schedule: Default::default(),
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
    /// Categories and their time limits, with the stored version they came
    /// from (`None` until [`AppState::load_catalogue`]); replaced whole on edit.
    pub catalogue: Arc<RwLock<(Option<i64>, Arc<Catalogue>)>>,
    pub photos: Arc<PhotoStore>,
    /// The citizen portal's verification codes and system account.
    pub portal: Arc<crate::portal::Portal>,
    /// Sessions checked moments ago.
    pub sessions: Arc<crate::auth::SessionCache>,
    /// New reports, written in groups by one task.
    pub intake: crate::intake::IntakeQueue,
    /// Changes pushed to screens as they happen.
    pub live: Arc<crate::live::Live>,
    /// Recent reports per village and category, for cluster alerts.
    pub clusters: Arc<std::sync::Mutex<pingan_domain::notice::ClusterWindow>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, index: LocateIndex, config: ApiConfig) -> Self {
        AppState {
            store,
            index: Arc::new(RwLock::new(Arc::new(index))),
            throttle: Arc::new(LoginThrottle::default()),
            calendar: Arc::new(pingan_domain::calendar::Calendar::shipped()),
            catalogue: Arc::new(RwLock::new((
                None,
                Arc::new(pingan_domain::category::default_catalogue()),
            ))),
            photos: Arc::new(PhotoStore::new(config.photo_dir.clone())),
            intake: crate::intake::IntakeQueue::default(),
            live: Arc::default(),
            clusters: Arc::default(),
            sessions: Arc::default(),
            portal: Arc::default(),
            config: Arc::new(config),
        }
    }

    /// Loads the newest stored catalogue, storing the default one first on a
    /// new database.
    pub async fn load_catalogue(&self) -> Result<(), StoreError> {
        let (version, catalogue) = match self.store.latest_catalogue().await? {
            Some((version, body)) => {
                let catalogue: Catalogue = serde_json::from_str(&body).map_err(|e| {
                    StoreError::Invalid(format!("stored catalogue {version} is unreadable: {e}"))
                })?;
                (version, catalogue)
            }
            None => {
                let catalogue = pingan_domain::category::default_catalogue();
                let body = serde_json::to_string(&catalogue)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                match self
                    .store
                    .save_catalogue(None, &body, None, pingan_storage::now_ms())
                    .await
                {
                    Ok(version) => (version, catalogue),
                    // Another process stored it first: read theirs.
                    Err(StoreError::Conflict(_)) => return Box::pin(self.load_catalogue()).await,
                    Err(e) => return Err(e),
                }
            }
        };
        self.replace_catalogue(version, catalogue);
        Ok(())
    }

    /// The current catalogue and its version; cheap (one Arc clone).
    pub fn catalogue(&self) -> (Option<i64>, Arc<Catalogue>) {
        self.catalogue
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn replace_catalogue(&self, version: i64, catalogue: Catalogue) {
        let mut guard = self
            .catalogue
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = (Some(version), Arc::new(catalogue));
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

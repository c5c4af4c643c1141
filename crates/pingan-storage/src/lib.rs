//! Storage of Pingan: one [`Store`] trait with a SQLite and a PostgreSQL
//! implementation. Every read and write of region-bound data takes the
//! caller's [`Scope`], so no handler can forget it.
#![forbid(unsafe_code)]

pub mod cells;
pub mod chain;
mod migrate;
pub mod personal;
pub mod photos;
mod postgres;
mod queries;
pub mod rental;
pub mod reports;
mod sqlite;
pub mod testing;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use pingan_domain::{Role, Scope, UnitKind};

pub use chain::{ChainFault, LogEntry, NewLogEntry};
pub use personal::{KeyError, PersonalDataKeys};
pub use photos::{PhotoError, PhotoInfo, PhotoKind, PhotoStore, StoredPhoto};
pub use postgres::PgStore;
pub use rental::RentalStore;
pub use reports::{MonthlyReport, NewMonthlyReport, ReportFile, ReportStore};
pub use sqlite::SqliteStore;
pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {version} ({name}) was changed after it was applied; add a new migration instead")]
    MigrationChanged { version: i64, name: String },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} is outside the caller's scope")]
    OutOfScope(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the store a URL names: `postgres://…`/`postgresql://…`, or else a
/// SQLite file path (optionally `sqlite://PATH`), created on first use.
/// Migrations are applied before it returns.
pub async fn open(url: &str, keys: PersonalDataKeys) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, keys).await?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Arc::new(SqliteStore::open(path.as_ref(), keys).await?))
    }
}

/// Everything Pingan keeps. Region-bound reads and writes take the caller's
/// scope and never return or touch rows outside it.
#[async_trait]
pub trait Store: RentalStore + ReportStore + Send + Sync + std::fmt::Debug {
    /// Which backend this is: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    // --- regions ---
    /// Imports a whole set of divisions in one transaction: adds new codes,
    /// renames, re-activates, and marks codes of the imported provinces that
    /// the set no longer has inactive (never deleting them).
    async fn import_divisions(
        &self,
        regions: &[NewRegion],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<DivisionImportSummary>;
    /// A region the scope reaches: within it, or one of its ancestors.
    async fn region(&self, scope: &Scope, code: &str) -> Result<Option<Region>>;
    /// Children of a region that the scope reaches, by code.
    async fn region_children(&self, scope: &Scope, code: &str, page: &Page) -> Result<Vec<Region>>;
    /// Regions by code regardless of scope: only names and levels, used to
    /// describe a located point's place in the public administrative tree.
    async fn region_names(&self, codes: &[String]) -> Result<Vec<Region>>;
    /// The active regions of one level under a prefix within the scope, by
    /// code (nothing when the prefix lies outside the scope).
    async fn regions_at_level(
        &self,
        scope: &Scope,
        under: &str,
        level: pingan_domain::Level,
    ) -> Result<Vec<Region>>;
    /// Which of these 12-digit codes are not active villages.
    async fn unknown_villages(&self, codes: &[String]) -> Result<Vec<String>>;
    async fn save_region_shapes(&self, shapes: &[(String, Vec<u8>)]) -> Result<()>;

    // --- grids ---
    /// Inserts or replaces grids in one transaction.
    async fn import_grids(
        &self,
        grids: &[NewGrid],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<GridImportSummary>;
    /// Changes whenever grids are added or replaced: (count, latest update).
    async fn grids_fingerprint(&self) -> Result<(i64, i64)>;
    /// Every grid's code and geometry, to build the locate index.
    async fn grid_geometries(&self) -> Result<Vec<(String, Vec<u8>)>>;
    /// Hands each packed grid geometry row to `each`, in order, as it is read;
    /// answers false (having handed over nothing usable) when the saved packs
    /// are missing or were made for another fingerprint.
    async fn each_grid_pack(
        &self,
        fingerprint: &str,
        each: &mut (dyn FnMut(Vec<u8>) + Send),
    ) -> Result<bool>;
    /// Replaces the packed grid geometries.
    async fn save_grid_packs(&self, fingerprint: &str, packs: &[Vec<u8>]) -> Result<()>;
    /// Grids within both the scope and `under` (a region prefix), by code.
    async fn grids(&self, scope: &Scope, under: &str, page: &Page) -> Result<Vec<Grid>>;
    async fn grid(&self, scope: &Scope, code: &str) -> Result<Option<GridWithGeometry>>;
    /// Every grid in the scope with its geometry, in code order, for export.
    async fn export_grids(&self, scope: &Scope) -> Result<Vec<GridWithGeometry>>;

    // --- units ---
    async fn create_unit(&self, scope: &Scope, unit: &NewUnit) -> Result<Unit>;
    async fn units(&self, scope: &Scope, page: &Page) -> Result<Vec<Unit>>;
    async fn unit(&self, scope: &Scope, id: i64) -> Result<Option<Unit>>;

    // --- accounts ---
    /// Creates an account whose scope lies within `scope`.
    async fn create_account(&self, scope: &Scope, account: &NewAccount) -> Result<Account>;
    /// The account and password hash for a login, whatever its scope.
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>>;
    async fn accounts(&self, scope: &Scope, page: &Page) -> Result<Vec<Account>>;
    async fn account(&self, scope: &Scope, id: i64) -> Result<Option<Account>>;
    async fn account_by_username(&self, scope: &Scope, username: &str) -> Result<Option<Account>>;
    /// Accounts in the scope whose phone number equals `phone` (by keyed hash).
    async fn accounts_by_phone(&self, scope: &Scope, phone: &str) -> Result<Vec<Account>>;
    /// Disables or re-enables an account in the scope; disabling revokes its sessions.
    async fn set_account_disabled(&self, scope: &Scope, id: i64, disabled: bool) -> Result<bool>;
    /// The unmasked phone number of an account in the scope; the read is
    /// written to the audit log in the same transaction.
    async fn reveal_phone(&self, scope: &Scope, actor: i64, id: i64) -> Result<Option<String>>;
    /// Re-encrypts every personal field still sealed with an older key.
    async fn reencrypt_personal_data(&self) -> Result<u64>;

    // --- sessions ---
    async fn create_session(
        &self,
        token_hash: &[u8],
        account_id: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The account of a live session: not revoked, not expired, account enabled.
    async fn session_account(&self, token_hash: &[u8], now: i64) -> Result<Option<Account>>;
    async fn revoke_session(&self, token_hash: &[u8]) -> Result<()>;

    // --- matters ---
    /// Files a report and its first log entry in one transaction. A repeated
    /// idempotency key answers the matter the first call made, writing nothing.
    async fn create_matter(&self, matter: &NewMatter, log: &NewLogEntry) -> Result<(Matter, bool)>;
    /// Writes whole matter histories in one transaction (bulk loads of
    /// benchmark history): each matter's final row, its photos, its log
    /// entries in order on the chain and the indicator cells of every step,
    /// the same rows as `create_matters` followed by `apply_matter_action`
    /// step by step. Answers the matters as stored.
    async fn import_matter_histories(&self, batch: &[MatterHistory]) -> Result<Vec<Matter>>;
    /// Files many reports in one transaction (a group commit), in order; a
    /// repeated idempotency key, also within the batch, answers the first
    /// matter. Any failure fails the whole batch and writes nothing.
    async fn create_matters(
        &self,
        batch: &[(NewMatter, NewLogEntry)],
    ) -> Result<Vec<(Matter, bool)>>;
    /// A matter whose grid lies in the scope.
    async fn matter(&self, scope: &Scope, id: i64) -> Result<Option<Matter>>;
    /// A matter by its tracking code, whatever the scope (the public view
    /// shows no personal data).
    async fn matter_by_tracking_code(&self, code: &str) -> Result<Option<Matter>>;
    /// Matters in the scope that pass the filter, newest first.
    async fn matters(
        &self,
        scope: &Scope,
        filter: &MatterFilter,
        page: &Page,
    ) -> Result<Vec<Matter>>;
    /// How many matters in the scope pass the filter.
    async fn count_matters(&self, scope: &Scope, filter: &MatterFilter) -> Result<i64>;
    /// The matters with these ids, whatever the scope (for system tasks such
    /// as the notifier), in no particular order; unknown ids are left out.
    async fn matters_by_ids(&self, ids: &[i64]) -> Result<Vec<Matter>>;
    /// Matters the scheduler must look at by `now`, soonest first, whatever
    /// the scope (the scheduler acts for the whole deployment).
    async fn due_matters(&self, now: i64, limit: u32) -> Result<Vec<Matter>>;
    /// Forgets a matter's schedule (deadline and milestones): bookkeeping of
    /// the scheduler, not a state change, so it is not logged.
    async fn clear_matter_schedule(&self, id: i64) -> Result<()>;
    /// Moves when the scheduler next looks at a matter's milestones
    /// (bookkeeping, not logged).
    async fn reschedule_milestones(&self, id: i64, due: Option<i64>) -> Result<()>;
    /// Applies an action: the projection and its log entry commit together,
    /// and only if the matter is still at `version` (else `Conflict`).
    async fn apply_matter_action(
        &self,
        scope: &Scope,
        id: i64,
        version: i64,
        change: &MatterChange,
        log: &NewLogEntry,
    ) -> Result<Matter>;
    /// Stores a patrol; with a known idempotency key, the patrol stored
    /// before and `false`.
    async fn create_patrol(&self, patrol: &NewPatrol) -> Result<(Patrol, bool)>;
    /// Patrols of grids within the scope and under `under`, newest first.
    async fn patrols(&self, scope: &Scope, under: &str, page: &Page) -> Result<Vec<Patrol>>;
    async fn patrol(&self, scope: &Scope, id: i64) -> Result<Option<Patrol>>;
    /// How many matters in the scope pass the filter, per group, state and
    /// overdue flag.
    async fn tally_matters(
        &self,
        scope: &Scope,
        filter: &MatterFilter,
        by: TallyBy,
    ) -> Result<Vec<MatterTally>>;
    /// The matters passing the filter whose deadline fell in `[from, to)`.
    async fn deadline_cohort(
        &self,
        scope: &Scope,
        filter: &MatterFilter,
        from: i64,
        to: i64,
    ) -> Result<DeadlineCohort>;
    /// Sums of indicator cells (平安报表指标) under a region prefix of 2-9
    /// digits within the scope, over a range of local days, grouped as asked.
    /// Nothing when the prefix lies outside the scope.
    async fn indicator_sums(
        &self,
        scope: &Scope,
        query: &CellQuery,
    ) -> Result<Vec<(String, pingan_domain::indicators::Counters)>>;
    /// Replaces every indicator cell (a rebuild from the event log).
    async fn replace_indicator_cells(
        &self,
        cells: &std::collections::BTreeMap<
            pingan_domain::indicators::CellKey,
            pingan_domain::indicators::Counters,
        >,
    ) -> Result<()>;
    /// Adds cell deltas to the aggregates (bulk loads; the store adds them
    /// itself with every report and action).
    async fn add_indicator_cells(
        &self,
        cells: &std::collections::BTreeMap<
            pingan_domain::indicators::CellKey,
            pingan_domain::indicators::Counters,
        >,
    ) -> Result<()>;
    /// Every stored cell of the finest table, to check it against the log.
    async fn indicator_cells(
        &self,
    ) -> Result<
        Vec<(
            pingan_domain::indicators::CellKey,
            pingan_domain::indicators::Counters,
        )>,
    >;
    /// Every stored township month (keyed by the month's first day), to
    /// check the monthly rollup against the log.
    async fn indicator_township_months(
        &self,
    ) -> Result<Vec<((i64, String), pingan_domain::indicators::Counters)>>;
    /// The log entries of these matters, oldest first (system tasks).
    async fn logs_of_matters(&self, ids: &[i64]) -> Result<Vec<LogEntry>>;
    /// Immediate alerts (notifications of kind `alert`) addressed to the
    /// township centres under a prefix, newest first; `page.after` is an id.
    async fn alerts(&self, under: &str, page: &Page) -> Result<Vec<Notification>>;
    /// The newest version of a settings document and its JSON body.
    async fn latest_setting(&self, name: &str) -> Result<Option<(i64, String)>>;
    /// Adds a version of a settings document; `Conflict` when `expected` is
    /// no longer the newest.
    async fn save_setting(
        &self,
        name: &str,
        expected: Option<i64>,
        body: &str,
        by: Option<i64>,
        at: i64,
    ) -> Result<i64>;
    /// The stored boundaries of these regions (12-digit codes), where known.
    async fn region_shapes(&self, codes: &[String]) -> Result<Vec<(String, Vec<u8>)>>;
    /// How many matters in the scope pass the filter, per state.
    async fn count_matters_by_state(
        &self,
        scope: &Scope,
        filter: &MatterFilter,
    ) -> Result<Vec<(String, i64)>>;
    /// The units a centre holding matters for `holder` (a region prefix) may
    /// dispatch to: those of its region and below, and those of the regions
    /// above it (`ancestors`, 12-digit codes); of one kind if given. At most 500.
    async fn dispatch_units(
        &self,
        holder: &str,
        ancestors: &[String],
        kind: Option<UnitKind>,
    ) -> Result<Vec<Unit>>;
    /// Whether a matter's contact (encrypted) is this phone number; the
    /// citizen portal's proof of being the reporter. Reveals nothing else.
    async fn matter_contact_is(&self, id: i64, phone: &str) -> Result<bool>;
    /// The photos shown with a matter, oldest first.
    async fn matter_photos(&self, matter_id: i64) -> Result<Vec<PhotoRef>>;

    // --- mediation ---
    /// Creates a mediation committee: a unit of kind `mediation_committee`
    /// in the scope and its specialty, in one transaction.
    async fn create_committee(
        &self,
        scope: &Scope,
        unit: &NewUnit,
        specialty: &str,
    ) -> Result<Committee>;
    /// A committee by id, whatever the scope (units are public names).
    async fn committee(&self, id: i64) -> Result<Option<Committee>>;
    /// Committees whose region lies in the scope, or is one of `regions`
    /// (12-digit codes, e.g. the ancestors of a place), by id.
    async fn committees(&self, scope: &Scope, regions: &[String]) -> Result<Vec<Committee>>;
    /// Opens a case with its parties and first log entry, and with the
    /// matter's referral when it comes from one, all in one transaction. A
    /// repeated idempotency key answers the case made first and `false`.
    async fn create_case(
        &self,
        case: &NewCase,
        parties: &[NewParty],
        log: &NewLogEntry,
        matter: Option<&LinkedMatterChange>,
    ) -> Result<(Case, bool)>;
    /// A case within the reach.
    async fn case(&self, reach: &CaseReach, id: i64) -> Result<Option<Case>>;
    /// Cases within the reach that pass the filter, newest first; `page.after` is an id.
    async fn cases(&self, reach: &CaseReach, filter: &CaseFilter, page: &Page)
        -> Result<Vec<Case>>;
    /// Every case within the reach that passes the filter (for statistics).
    async fn all_cases(&self, reach: &CaseReach, filter: &CaseFilter) -> Result<Vec<Case>>;
    /// The case of a matter, whatever the reach.
    async fn case_of_matter(&self, matter_id: i64) -> Result<Option<Case>>;
    /// Applies a case action: the projection, its log entry (and the
    /// matter's change with its entry, when the case ends) commit together,
    /// only if the case is still at `version` (else `Conflict`).
    async fn apply_case_action(
        &self,
        reach: &CaseReach,
        id: i64,
        version: i64,
        change: &CaseChange,
        log: &NewLogEntry,
        matter: Option<&LinkedMatterChange>,
    ) -> Result<Case>;
    /// A case's parties, masked.
    async fn case_parties(&self, case_id: i64) -> Result<Vec<Party>>;
    /// A case's parties in clear; the read is written to the audit log (by
    /// `actor`, for `purpose`) in the same transaction. Callers check the
    /// case's reach first.
    async fn reveal_case_parties(
        &self,
        case_id: i64,
        actor: i64,
        purpose: &str,
    ) -> Result<Vec<PartyInClear>>;
    /// Cases the scheduler must look at by `now`, soonest first.
    async fn due_cases(&self, now: i64, limit: u32) -> Result<Vec<Case>>;
    /// Moves when the scheduler next looks at a case (bookkeeping, not logged).
    async fn reschedule_case(&self, id: i64, due: Option<i64>) -> Result<()>;

    // --- photos ---
    /// Notes that an account uploaded a stored photo (so only it may attach it).
    async fn record_photo_upload(&self, upload: &PhotoUpload) -> Result<()>;
    /// The kind of a photo this account uploaded, if it did.
    async fn photo_upload(&self, sha256: &str, account_id: i64) -> Result<Option<String>>;

    // --- category catalogue ---
    /// The newest catalogue version and its JSON body.
    async fn latest_catalogue(&self) -> Result<Option<(i64, String)>>;
    /// Adds a catalogue version; `Conflict` when `expected` is no longer the newest.
    async fn save_catalogue(
        &self,
        expected: Option<i64>,
        body: &str,
        by: Option<i64>,
        at: i64,
    ) -> Result<i64>;

    // --- event log ---
    /// Appends one entry to the hash-chained event log.
    async fn append_log(&self, entry: &NewLogEntry) -> Result<LogEntry>;
    /// The entries about one subject, oldest first.
    async fn log_for(&self, subject: &str) -> Result<Vec<LogEntry>>;
    /// Checks the whole chain; answers the number of entries, or the first fault.
    async fn verify_log(&self) -> Result<std::result::Result<u64, ChainFault>>;

    // --- audit ---
    async fn audit(&self, entry: &AuditEntry) -> Result<()>;
    async fn audit_log(&self, subject: &str) -> Result<Vec<AuditEntry>>;

    // --- notifications ---
    /// Event log entries after `seq`, oldest first, at most `limit`.
    async fn log_after(&self, seq: i64, limit: u32) -> Result<Vec<LogEntry>>;
    /// The last event log seq the notifier has turned into notifications.
    async fn notifier_cursor(&self) -> Result<i64>;
    /// Writes notifications and webhook deliveries and moves the notifier's
    /// cursor from `cursor_from` to `cursor_to`, in one transaction and only
    /// if the cursor is still at `cursor_from`. Answers false, writing
    /// nothing, when another notifier moved it first.
    async fn record_notifications(
        &self,
        cursor_from: i64,
        cursor_to: i64,
        notifications: &[NewNotification],
        deliveries: &[NewDelivery],
    ) -> Result<bool>;
    /// The account's feed (its own, its unit's and, for centre operators, its
    /// centre's notifications), newest first, with its read flags;
    /// `page.after` is a notification id.
    async fn notifications_for(&self, account: &Account, page: &Page) -> Result<Vec<Notification>>;
    /// How many notifications of the account's feed it has not read.
    async fn unread_count(&self, account: &Account) -> Result<i64>;
    async fn mark_read(&self, account: &Account, which: &MarkRead) -> Result<()>;

    // --- webhooks ---
    /// Creates a webhook whose scope lies within `scope`.
    async fn create_webhook(&self, scope: &Scope, webhook: &NewWebhook) -> Result<Webhook>;
    /// Webhooks whose scope lies within `scope`, by id; `page.after` is an id.
    async fn webhooks(&self, scope: &Scope, page: &Page) -> Result<Vec<Webhook>>;
    /// Every active webhook, whatever the scope (the notifier serves all).
    async fn active_webhooks(&self) -> Result<Vec<Webhook>>;
    /// Stops a webhook in the scope; its pending deliveries are given up.
    /// False when the scope has no such webhook.
    async fn deactivate_webhook(&self, scope: &Scope, id: i64) -> Result<bool>;
    /// Claims up to `limit` pending deliveries of active webhooks due by
    /// `now`, soonest first. Each is held until `hold_until`, so that another
    /// notifier does not send it at the same time; one whose attempt is never
    /// recorded (the process died) comes due again then.
    async fn due_deliveries(
        &self,
        now: i64,
        hold_until: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>>;
    /// Records an attempt: delivered, or failed with the next try at
    /// `next_attempt_at` (`None`: given up for good).
    async fn record_delivery_attempt(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        next_attempt_at: Option<i64>,
    ) -> Result<()>;
    /// A webhook's deliveries, newest first; `page.after` is a delivery id.
    /// Callers check the webhook's scope first.
    async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        page: &Page,
    ) -> Result<Vec<WebhookDelivery>>;
}

/// Whether a role name read from the database is one we know; a row with an
/// unknown role can only come from a newer version and is refused.
pub(crate) fn parse_role(text: &str) -> Result<Role> {
    text.parse()
        .map_err(|e: pingan_domain::role::UnknownRole| StoreError::Invalid(e.to_string()))
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

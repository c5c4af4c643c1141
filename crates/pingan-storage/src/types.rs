//! Rows going in and out of the store.
use crate::NewLogEntry;
use pingan_domain::{Level, RegionCode, Role, Scope, UnitKind};
use serde::Serialize;

/// Keyset pagination: rows after `after` (a code or id, as text), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<String>,
    pub limit: u32,
}

impl Page {
    pub const MAX_LIMIT: u32 = 1000;

    pub fn first(limit: u32) -> Self {
        Page { after: None, limit }
    }

    pub(crate) fn limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT))
    }
}

#[derive(Debug, Clone)]
pub struct NewRegion {
    pub code: RegionCode,
    pub name: String,
    pub parent: Option<RegionCode>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Region {
    pub code: String,
    pub level: Level,
    pub name: String,
    pub parent_code: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DivisionImportSummary {
    pub added: u64,
    pub renamed: u64,
    pub reactivated: u64,
    pub deactivated: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone)]
pub struct NewGrid {
    pub code: String,
    pub name: String,
    /// pingan-geo's binary encoding, WGS-84.
    pub geometry: Vec<u8>,
    /// min lng, min lat, max lng, max lat.
    pub bbox: [f64; 4],
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GridImportSummary {
    pub added: u64,
    pub replaced: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grid {
    pub code: String,
    pub name: String,
    pub village_code: String,
    pub bbox: [f64; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct GridWithGeometry {
    pub grid: Grid,
    pub geometry: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewUnit {
    pub name: String,
    pub kind: UnitKind,
    pub region: RegionCode,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    pub id: i64,
    pub name: String,
    pub kind: UnitKind,
    pub region_code: String,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub scope: Scope,
    pub unit_id: Option<i64>,
    pub display_name: String,
    pub phone: Option<String>,
}

/// An account as others may see it: personal fields masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    pub unit_id: Option<i64>,
    pub display_name: String,
    pub phone_masked: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub account: Account,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub account_id: Option<i64>,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// A new report (上报).
#[derive(Debug, Clone)]
pub struct NewMatter {
    pub tracking_code: String,
    /// A client-made key: the same key twice gives the same matter.
    pub idempotency_key: Option<String>,
    pub state: String,
    pub category_code: Option<String>,
    pub severity: String,
    pub description: String,
    pub grid_code: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub source: String,
    pub reporter_id: Option<i64>,
    /// The reporter's phone or other contact, encrypted at rest.
    pub contact: Option<String>,
    pub holder: String,
    /// When the scheduler must first look at it (registration time limit).
    pub next_due: Option<i64>,
    /// Photos of the scene, already stored and uploaded by the reporter.
    pub photos: Vec<PhotoRef>,
}

/// A photo an account uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUpload {
    pub sha256: String,
    pub account_id: i64,
    pub kind: String,
    pub bytes: i64,
    pub at: i64,
}

/// A photo attached to a matter: the scene when reported, or the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoRef {
    /// 64 lowercase hex digits; also the file's name.
    pub sha256: String,
    /// jpeg, png or webp.
    pub kind: String,
    /// report or result.
    pub stage: String,
}

/// A matter's current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matter {
    pub id: i64,
    pub tracking_code: String,
    pub state: String,
    pub version: i64,
    pub category_code: Option<String>,
    pub severity: String,
    pub description: String,
    pub grid_code: String,
    pub lng: Option<f64>,
    pub lat: Option<f64>,
    pub source: String,
    pub reporter_id: Option<i64>,
    pub contact_masked: Option<String>,
    /// The region prefix of the centre holding the matter.
    pub holder: String,
    pub assigned_unit_id: Option<i64>,
    pub deadline: Option<i64>,
    pub rework_count: i64,
    pub rating: Option<i64>,
    pub overdue: bool,
    pub next_due: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Under supervision (督办) by a higher level.
    pub supervised: bool,
    /// The time limit it was dispatched under, e.g. `7wd`.
    pub time_limit: Option<String>,
    /// When it was last closed; the reporter's reopen window counts from it.
    pub closed_at: Option<i64>,
    /// The matter this duplicate was merged into.
    pub merged_into: Option<i64>,
    /// Milestones (JSON array of `schedule::MilestoneState`), once dispatched
    /// under a limit that has them.
    pub milestones: Option<String>,
    /// When the scheduler must next look at the milestones.
    pub milestone_due: Option<i64>,
}

/// What an action changes besides the state; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MatterChange {
    pub state: String,
    pub category_code: Option<String>,
    pub holder: Option<String>,
    pub assigned_unit_id: Option<Option<i64>>,
    pub deadline: Option<Option<i64>>,
    pub add_rework: bool,
    pub rating: Option<i64>,
    pub overdue: Option<bool>,
    pub next_due: Option<Option<i64>>,
    pub supervised: Option<bool>,
    pub time_limit: Option<Option<String>>,
    pub closed_at: Option<Option<i64>>,
    pub merged_into: Option<i64>,
    pub milestones: Option<Option<String>>,
    pub milestone_due: Option<Option<i64>>,
    /// Photos the action attaches (result photos, mostly).
    pub photos: Vec<PhotoRef>,
}

impl NewMatter {
    /// The matter as the store files it (version 1, nothing decided yet).
    pub fn filed(&self, id: i64, contact_masked: Option<String>, at: i64) -> Matter {
        Matter {
            id,
            tracking_code: self.tracking_code.clone(),
            state: self.state.clone(),
            version: 1,
            category_code: self.category_code.clone(),
            severity: self.severity.clone(),
            description: self.description.clone(),
            grid_code: self.grid_code.clone(),
            lng: self.lng,
            lat: self.lat,
            source: self.source.clone(),
            reporter_id: self.reporter_id,
            contact_masked,
            holder: self.holder.clone(),
            assigned_unit_id: None,
            deadline: None,
            rework_count: 0,
            rating: None,
            overdue: false,
            next_due: self.next_due,
            created_at: at,
            updated_at: at,
            supervised: false,
            time_limit: None,
            closed_at: None,
            merged_into: None,
            milestones: None,
            milestone_due: None,
        }
    }
}

impl MatterChange {
    /// Applies the change to a matter in memory exactly as the store's
    /// UPDATE does to the row (bulk loads write the outcome directly).
    pub fn apply(&self, m: &mut Matter, at: i64) {
        m.state = self.state.clone();
        m.version += 1;
        if let Some(c) = &self.category_code {
            m.category_code = Some(c.clone());
        }
        if let Some(h) = &self.holder {
            m.holder = h.clone();
        }
        if let Some(u) = self.assigned_unit_id {
            m.assigned_unit_id = u;
        }
        if let Some(d) = self.deadline {
            m.deadline = d;
        }
        m.rework_count += i64::from(self.add_rework);
        if let Some(r) = self.rating {
            m.rating = Some(r);
        }
        m.updated_at = at;
        if let Some(o) = self.overdue {
            m.overdue = o;
        }
        if let Some(d) = self.next_due {
            m.next_due = d;
        }
        if let Some(s) = self.supervised {
            m.supervised = s;
        }
        if let Some(t) = &self.time_limit {
            m.time_limit = t.clone();
        }
        if let Some(c) = self.closed_at {
            m.closed_at = c;
        }
        if let Some(t) = self.merged_into {
            m.merged_into = Some(t);
        }
        if let Some(ms) = &self.milestones {
            m.milestones = ms.clone();
        }
        if let Some(d) = self.milestone_due {
            m.milestone_due = d;
        }
    }
}

/// A matter's whole history for a bulk load: its report and every later
/// action in order, each as the service layer plans it.
#[derive(Debug, Clone)]
pub struct MatterHistory {
    pub report: NewMatter,
    pub log: NewLogEntry,
    pub actions: Vec<(MatterChange, NewLogEntry)>,
}

/// Which matters a list shows; every field narrows it, within the caller's scope.
#[derive(Debug, Clone, Default)]
pub struct MatterFilter {
    /// Any of these states (empty: all).
    pub states: Vec<String>,
    /// Under this region or grid code prefix.
    pub under: Option<String>,
    /// Category code or its 2-digit major.
    pub category_prefix: Option<String>,
    pub source: Option<String>,
    /// Held by exactly this centre (region prefix).
    pub holder: Option<String>,
    pub assigned_unit_id: Option<i64>,
    pub reporter_id: Option<i64>,
    pub overdue: Option<bool>,
    /// Filed at or after (ms, UTC).
    pub created_from: Option<i64>,
    /// Filed before (ms, UTC).
    pub created_to: Option<i64>,
    pub supervised: Option<bool>,
    /// Only matters with a position inside (west, south, east, north), WGS-84.
    pub bbox: Option<[f64; 4]>,
    /// Only matters the scheduler escalated (true) or never escalated (false).
    pub escalated: Option<bool>,
}

/// How [`crate::Store::tally_matters`] groups matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TallyBy {
    /// By the first `n` digits of the grid code: 6 county, 9 township,
    /// 12 village, 15 grid.
    GridPrefix(usize),
    /// By category code (`""` for matters not yet categorised).
    Category,
}

/// Matters of one group in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterTally {
    pub key: String,
    pub state: String,
    pub overdue: bool,
    pub count: i64,
}

/// The matters whose deadline fell in a period (应结案): the denominator of
/// the closure and on-time closure rates (DOMAIN.md §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineCohort {
    pub due: i64,
    /// Of those, suspended now (taken out of the denominator).
    pub suspended: i64,
    /// Of those, closed (结案, incl. rated).
    pub closed: i64,
    /// Of those, closed no later than their deadline.
    pub closed_on_time: i64,
}

/// A notification (通知) the notifier writes for one audience.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// When the log entry it comes from happened (ms, UTC).
    pub at: i64,
    /// `account:<id>`, `unit:<id>` or `centre:<region prefix>`.
    pub audience: String,
    pub kind: String,
    /// What it is about, e.g. `matter:42`.
    pub subject: String,
    pub log_seq: i64,
    pub title_zh: String,
    pub title_en: String,
}

/// A notification in an account's feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub at: i64,
    pub audience: String,
    pub kind: String,
    pub subject: String,
    pub log_seq: i64,
    pub title_zh: String,
    pub title_en: String,
    /// Whether this account has read it.
    pub read: bool,
}

/// Which notifications to mark read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    /// These, where they are in the account's feed (others are ignored).
    Ids(Vec<i64>),
    /// Everything in the feed so far.
    All,
}

/// A webhook subscription to create.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
    /// A comma list of notification kinds, or `*`.
    pub events: String,
    /// Only matters whose grid code starts with this are delivered.
    pub scope_prefix: String,
    pub created_by: Option<i64>,
}

/// A webhook subscription (Webhook 订阅) of an integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// The HMAC key; shown to its creator once, never listed.
    pub secret: String,
    pub events: String,
    pub scope_prefix: String,
    pub active: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// A webhook delivery to queue with the notifications of the same entries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub webhook_id: i64,
    pub log_seq: i64,
    /// The notification kind, sent as `X-Pingan-Event`.
    pub event: String,
    /// The JSON body to POST.
    pub payload: String,
    pub next_attempt_at: i64,
}

/// A delivery whose time has come, with what is needed to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub payload: String,
    /// Attempts made so far.
    pub attempts: i64,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx.
    Delivered { at: i64, status: u16 },
    /// Any other answer (`status`), or none at all.
    Failed {
        at: i64,
        status: Option<u16>,
        error: String,
    },
}

/// A delivery as recorded, for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub log_seq: i64,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
    /// `None` once delivered or given up.
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub failed_permanently: bool,
}

/// A patrol (巡查) to store: a grid worker's round, sent when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatrol {
    pub idempotency_key: Option<String>,
    pub account_id: i64,
    pub grid_code: String,
    pub started_at: i64,
    pub ended_at: i64,
    /// JSON: an array of `{at, text}`, checked by the API.
    pub notes: String,
    pub created_at: i64,
}

/// A stored patrol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patrol {
    pub id: i64,
    pub account_id: i64,
    /// The patrolling account's display name.
    pub account_name: String,
    pub grid_code: String,
    pub started_at: i64,
    pub ended_at: i64,
    /// JSON: an array of `{at, text}`, checked by the API.
    pub notes: String,
    pub created_at: i64,
}

/// A mediation committee (人民调解委员会): a unit of kind
/// `mediation_committee` with what it takes on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Committee {
    pub id: i64,
    pub name: String,
    /// The unit's region (12 digits).
    pub region_code: String,
    /// `general` or a professional field (see `mediation::Specialty`).
    pub specialty: String,
}

/// Which cases a caller reaches (the case's region-bound scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseReach {
    /// Every case: system tasks.
    All,
    /// A mediator: the cases of their committee, and with `below` (the
    /// committee's region prefix, for a general committee) those held by
    /// committees in regions strictly below it.
    Committee { unit_id: i64, below: Option<String> },
    /// A supervisor: cases held by a committee in the scope, or about a place in it.
    Region(Scope),
}

/// A case to open. Texts of JSON fields are checked by the API.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub idempotency_key: Option<String>,
    pub case_type: String,
    pub matter_id: Option<i64>,
    pub committee_id: i64,
    pub holder: String,
    pub place_code: String,
    pub title: String,
    pub facts: String,
    pub claims: String,
    pub risk_level: String,
    /// JSON array of strings.
    pub risk_reasons: String,
    /// JSON array of account ids.
    pub mediators: String,
    pub deadline: i64,
    pub opened_by: Option<i64>,
    pub opened_at: i64,
    pub next_due: Option<i64>,
}

/// A party (当事人) to store; personal fields are encrypted by the store.
#[derive(Debug, Clone)]
pub struct NewParty {
    /// `person` or `organisation`.
    pub kind: String,
    /// `applicant`, `respondent` or `third_party`.
    pub side: String,
    /// A person's name, or an organisation's.
    pub name: String,
    /// A person's identity card number, or an organisation's credit code.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// A party as views show it: masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Party {
    pub seq: i64,
    pub kind: String,
    pub side: String,
    /// A person's masked name (`张**`), or an organisation's name.
    pub display_name: String,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub has_address: bool,
}

/// A party with every field in clear: only through an audited read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartyInClear {
    pub seq: i64,
    pub kind: String,
    pub side: String,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

/// A mediation case's current state (JSON columns as text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub id: i64,
    pub case_number: String,
    pub state: String,
    pub version: i64,
    pub case_type: String,
    pub matter_id: Option<i64>,
    pub committee_id: i64,
    pub holder: String,
    pub place_code: String,
    pub title: String,
    pub facts: String,
    pub claims: String,
    pub risk_level: String,
    pub risk_reasons: String,
    pub mediators: String,
    pub deadline: i64,
    pub sessions: String,
    pub follow_ups: String,
    pub agreement: Option<String>,
    pub confirmation: Option<String>,
    pub outcome: Option<String>,
    pub referral: Option<String>,
    pub opened_by: Option<i64>,
    pub opened_at: i64,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
    pub next_due: Option<i64>,
    pub reminders_sent: String,
}

/// What a case action changes besides the state; `None` leaves a field.
#[derive(Debug, Clone, Default)]
pub struct CaseChange {
    pub state: String,
    pub committee_id: Option<i64>,
    pub holder: Option<String>,
    pub case_type: Option<String>,
    pub title: Option<String>,
    pub facts: Option<String>,
    pub claims: Option<String>,
    pub risk_level: Option<String>,
    pub risk_reasons: Option<String>,
    pub mediators: Option<String>,
    pub deadline: Option<i64>,
    pub sessions: Option<String>,
    pub follow_ups: Option<String>,
    pub agreement: Option<String>,
    pub confirmation: Option<String>,
    pub outcome: Option<String>,
    pub referral: Option<String>,
    pub ended_at: Option<i64>,
    pub next_due: Option<Option<i64>>,
    pub reminders_sent: Option<String>,
    /// Replaces the parties' contact fields (phone, address) by `seq`.
    pub party_contacts: Vec<(i64, Option<String>, Option<String>)>,
}

/// A matter change made together with a case's (referral, end of mediation).
#[derive(Debug, Clone)]
pub struct LinkedMatterChange {
    pub matter_id: i64,
    pub version: i64,
    pub change: MatterChange,
    pub log: NewLogEntry,
}

/// Which cases a list shows, within the caller's reach.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub states: Vec<String>,
    pub case_type: Option<String>,
    /// Held by a committee or about a place under this prefix.
    pub under: Option<String>,
    pub committee_id: Option<i64>,
    /// Opened at or after / before (ms, UTC).
    pub opened_from: Option<i64>,
    pub opened_to: Option<i64>,
    /// Assigned to this mediator.
    pub mediator_id: Option<i64>,
}

/// Which indicator cells to sum (see [`crate::Store::indicator_sums`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellQuery {
    /// Region prefix: 2 (province), 4 (city), 6 (county) or 9 (township) digits.
    pub under: String,
    /// First and last local day (days since 1970-01-01), both included.
    pub first_day: i64,
    pub last_day: i64,
    /// A 4-digit category or its 2-digit major; `""` for reports without one.
    pub category: Option<String>,
    pub group: CellGroup,
}

/// How [`CellQuery`] sums are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellGroup {
    /// One sum, keyed `""`.
    Total,
    /// By the first n digits of the township code: 4, 6 or 9.
    Region(usize),
    /// By category code.
    Category,
    /// By local day (the key is the day number as text).
    Day,
}

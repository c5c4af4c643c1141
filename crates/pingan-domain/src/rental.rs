//! Rental housing managed "hotel style" (出租房屋旅馆式管理): the state
//! machine of a rentable unit as one explicit transition table, the safety
//! checklist before letting (租前安全把关), the occupancy-per-area rule, and
//! the check of a mainland resident ID number (GB 11643-1999) for check-in
//! registration (入住登记).
//!
//! Like the matter workflow, every change of a unit is a row of
//! [`TRANSITIONS`]; the service layer runs each through [`next`] and logs it.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::LocalDate;
use crate::role::Role;

/// The state of a rentable unit (出租房间状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Entered by the landlord or staff, not yet put forward for the check.
    Draft,
    /// Waiting for the safety check before letting.
    AwaitingInspection,
    /// Passed the check; not yet published.
    Passed,
    /// Failed the check: a rectification matter is open; cannot be let.
    RectificationRequired,
    /// Published and empty: tenants may check in.
    Vacant,
    /// Published with at least one tenant registered.
    Let,
    /// Taken off the market.
    Withdrawn,
}

impl UnitState {
    pub const ALL: [UnitState; 7] = [
        UnitState::Draft,
        UnitState::AwaitingInspection,
        UnitState::Passed,
        UnitState::RectificationRequired,
        UnitState::Vacant,
        UnitState::Let,
        UnitState::Withdrawn,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            UnitState::Draft => "draft",
            UnitState::AwaitingInspection => "awaiting_inspection",
            UnitState::Passed => "passed",
            UnitState::RectificationRequired => "rectification_required",
            UnitState::Vacant => "vacant",
            UnitState::Let => "let",
            UnitState::Withdrawn => "withdrawn",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            UnitState::Draft => "草稿",
            UnitState::AwaitingInspection => "待安全检查",
            UnitState::Passed => "检查通过",
            UnitState::RectificationRequired => "待整改",
            UnitState::Vacant => "空置可租",
            UnitState::Let => "已出租",
            UnitState::Withdrawn => "已下架",
        }
    }

    /// Whether tenants may check in: only a unit that passed its check and
    /// was published (租前安全把关: no check, no letting).
    pub const fn may_check_in(self) -> bool {
        matches!(self, UnitState::Vacant | UnitState::Let)
    }

    /// Whether the public listing shows the unit.
    pub const fn is_listed(self) -> bool {
        matches!(self, UnitState::Vacant | UnitState::Let)
    }
}

impl fmt::Display for UnitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UnitState {
    type Err = UnknownRentalName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownRentalName::new("unit state", s))
    }
}

/// Something done to a rentable unit. Each is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitAction {
    /// Put the unit forward for the safety check.
    Submit,
    /// A safety check found every item in order.
    InspectPass,
    /// A safety check found an item wanting; a rectification matter opens.
    InspectFail,
    /// Put a checked, empty unit on the market.
    Publish,
    /// Put a checked unit whose tenants stayed through a rectification back
    /// on the market, still let.
    ResumeLetting,
    /// The first tenant checked in.
    CheckIn,
    /// The last tenant checked out (early, or when the lease ended).
    CheckOut,
    /// Take the unit off the market.
    Withdraw,
    /// Bring a withdrawn unit back; it must pass the check again.
    Relist,
}

impl UnitAction {
    pub const ALL: [UnitAction; 9] = [
        UnitAction::Submit,
        UnitAction::InspectPass,
        UnitAction::InspectFail,
        UnitAction::Publish,
        UnitAction::ResumeLetting,
        UnitAction::CheckIn,
        UnitAction::CheckOut,
        UnitAction::Withdraw,
        UnitAction::Relist,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            UnitAction::Submit => "submit",
            UnitAction::InspectPass => "inspect_pass",
            UnitAction::InspectFail => "inspect_fail",
            UnitAction::Publish => "publish",
            UnitAction::ResumeLetting => "resume_letting",
            UnitAction::CheckIn => "check_in",
            UnitAction::CheckOut => "check_out",
            UnitAction::Withdraw => "withdraw",
            UnitAction::Relist => "relist",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            UnitAction::Submit => "提交检查",
            UnitAction::InspectPass => "检查通过",
            UnitAction::InspectFail => "检查不通过",
            UnitAction::Publish => "发布",
            UnitAction::ResumeLetting => "恢复出租",
            UnitAction::CheckIn => "入住",
            UnitAction::CheckOut => "退租",
            UnitAction::Withdraw => "下架",
            UnitAction::Relist => "重新上架",
        }
    }
}

impl fmt::Display for UnitAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UnitAction {
    type Err = UnknownRentalName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitAction::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownRentalName::new("unit action", s))
    }
}

/// The part an account plays towards one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitActor {
    /// The landlord whose property it is.
    Owner,
    /// Staff whose scope covers the unit's grid: centre operators (the
    /// township's service desk), grid workers and chiefs.
    Staff,
    /// A grid worker or chief of the unit's grid, doing the safety check.
    Inspector,
    /// The scheduler: check-out when a lease ends.
    System,
}

impl UnitActor {
    pub const fn as_str(self) -> &'static str {
        match self {
            UnitActor::Owner => "owner",
            UnitActor::Staff => "staff",
            UnitActor::Inspector => "inspector",
            UnitActor::System => "system",
        }
    }

    /// The relations an account of `role` can stand in; whether it does
    /// towards a given unit (its own property, its own grid) is for the
    /// service layer to tell.
    pub const fn for_role(role: Role) -> &'static [UnitActor] {
        match role {
            Role::Landlord => &[UnitActor::Owner],
            Role::GridWorker | Role::GridChief => &[UnitActor::Staff, UnitActor::Inspector],
            Role::CentreOperator => &[UnitActor::Staff],
            _ => &[],
        }
    }
}

/// A name that is not a unit state, action or checklist item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownRentalName {
    pub kind: &'static str,
    pub name: String,
}

impl UnknownRentalName {
    fn new(kind: &'static str, name: &str) -> Self {
        UnknownRentalName {
            kind,
            name: name.to_string(),
        }
    }
}

/// One row of the table: in state `from`, any of `by` may take `action`,
/// leaving the unit in `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnitTransition {
    pub from: UnitState,
    pub action: UnitAction,
    pub by: &'static [UnitActor],
    pub to: UnitState,
}

/// Why a unit action was refused. Nothing is written either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnitRefusal {
    /// Nobody may do this in this state (HTTP 409).
    #[error("{action} is not allowed on a unit in state {state}")]
    NotAllowedInState {
        state: UnitState,
        action: UnitAction,
    },
    /// Someone may, but not the caller (HTTP 403).
    #[error("{action} on a unit in state {state} is not allowed for this caller")]
    NotAllowedForActor {
        state: UnitState,
        action: UnitAction,
    },
}

impl UnitRefusal {
    pub const fn code(&self) -> &'static str {
        match self {
            UnitRefusal::NotAllowedInState { .. } => "unit_action_not_allowed_in_state",
            UnitRefusal::NotAllowedForActor { .. } => "unit_action_not_allowed_for_actor",
        }
    }
}

use UnitAction as A;
use UnitActor as R;
use UnitState as S;

const KEEPERS: &[UnitActor] = &[R::Owner, R::Staff];
const INSPECTOR: &[UnitActor] = &[R::Inspector];
const OCCUPANCY: &[UnitActor] = &[R::Owner, R::Staff, R::System];

const fn t(
    from: UnitState,
    action: UnitAction,
    by: &'static [UnitActor],
    to: UnitState,
) -> UnitTransition {
    UnitTransition {
        from,
        action,
        by,
        to,
    }
}

/// The unit's life. At most one row per (state, action).
///
/// Choices worth knowing:
/// - A failed check from any checked state sends the unit to
///   `rectification_required`, even when let: the tenants stay registered,
///   but nobody new checks in until it passes again.
/// - A unit in `rectification_required` may be checked again only once its
///   rectification matters are closed (the service layer tells); passing
///   leads to `passed`, then `publish` (empty) or `resume_letting` (tenants
///   stayed) puts it back on the market.
/// - A passing re-check of a published unit keeps its state; it moves only
///   the date of the next check.
/// - `check_in` and `check_out` follow occupancy: the first tenant in makes
///   the unit `let`, the last one out makes it `vacant`.
/// - A let unit cannot be withdrawn: its tenants check out first.
pub const TRANSITIONS: &[UnitTransition] = &[
    t(S::Draft, A::Submit, KEEPERS, S::AwaitingInspection),
    t(S::Draft, A::Withdraw, KEEPERS, S::Withdrawn),
    t(S::AwaitingInspection, A::InspectPass, INSPECTOR, S::Passed),
    t(
        S::AwaitingInspection,
        A::InspectFail,
        INSPECTOR,
        S::RectificationRequired,
    ),
    t(S::AwaitingInspection, A::Withdraw, KEEPERS, S::Withdrawn),
    t(
        S::RectificationRequired,
        A::InspectPass,
        INSPECTOR,
        S::Passed,
    ),
    t(
        S::RectificationRequired,
        A::InspectFail,
        INSPECTOR,
        S::RectificationRequired,
    ),
    t(S::RectificationRequired, A::Withdraw, KEEPERS, S::Withdrawn),
    t(S::Passed, A::InspectPass, INSPECTOR, S::Passed),
    t(
        S::Passed,
        A::InspectFail,
        INSPECTOR,
        S::RectificationRequired,
    ),
    t(S::Passed, A::Publish, KEEPERS, S::Vacant),
    t(S::Passed, A::ResumeLetting, KEEPERS, S::Let),
    t(S::Passed, A::Withdraw, KEEPERS, S::Withdrawn),
    t(S::Vacant, A::InspectPass, INSPECTOR, S::Vacant),
    t(
        S::Vacant,
        A::InspectFail,
        INSPECTOR,
        S::RectificationRequired,
    ),
    t(S::Vacant, A::CheckIn, KEEPERS, S::Let),
    t(S::Vacant, A::Withdraw, KEEPERS, S::Withdrawn),
    t(S::Let, A::InspectPass, INSPECTOR, S::Let),
    t(S::Let, A::InspectFail, INSPECTOR, S::RectificationRequired),
    t(S::Let, A::CheckIn, KEEPERS, S::Let),
    t(S::Let, A::CheckOut, OCCUPANCY, S::Vacant),
    t(S::Withdrawn, A::Relist, KEEPERS, S::AwaitingInspection),
];

/// The state of a new unit.
pub const INITIAL: UnitState = UnitState::Draft;

/// The row for `action` in state `from`, whoever acts.
pub fn transition(from: UnitState, action: UnitAction) -> Option<&'static UnitTransition> {
    TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.action == action)
}

/// The state the first of `actors` that may take `action` in `from` leads to.
pub fn next(
    from: UnitState,
    action: UnitAction,
    actors: &[UnitActor],
) -> Result<UnitState, UnitRefusal> {
    let row = transition(from, action).ok_or(UnitRefusal::NotAllowedInState {
        state: from,
        action,
    })?;
    if actors.iter().any(|a| row.by.contains(a)) {
        Ok(row.to)
    } else {
        Err(UnitRefusal::NotAllowedForActor {
            state: from,
            action,
        })
    }
}

/// The actions a caller standing in any of `actors` may take in `from`.
pub fn allowed(from: UnitState, actors: &[UnitActor]) -> Vec<UnitAction> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from == from && actors.iter().any(|a| t.by.contains(a)))
        .map(|t| t.action)
        .collect()
}

/// The transition table as Markdown, one row per transition: the part of
/// `docs/rentals.md` between its `transitions` markers (a test keeps them equal).
pub fn transition_table() -> String {
    let mut out = String::from("| from | action | by | to |\n|---|---|---|---|\n");
    for t in TRANSITIONS {
        let by: Vec<&str> = t.by.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "| {} ({}) | {} ({}) | {} | {} ({}) |\n",
            t.from,
            t.from.name_zh(),
            t.action,
            t.action.name_zh(),
            by.join(", "),
            t.to,
            t.to.name_zh()
        ));
    }
    out
}

/// An item of the safety checklist before letting (租前安全检查项).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckItem {
    /// 灭火器: a working extinguisher within reach.
    Extinguisher,
    /// 逃生通道: a clear escape route.
    EscapeRoute,
    /// 电动车不进室内充电: no e-bike charging indoors.
    NoIndoorEbikeCharging,
    /// 电气线路: wiring in order, no improvised cables.
    Wiring,
    /// 燃气: gas appliances and hoses in order.
    Gas,
    /// 烟感报警器: a working smoke alarm.
    SmokeAlarm,
    /// 人均面积: no more occupants than the area allows.
    OccupancyPerArea,
}

impl CheckItem {
    pub const ALL: [CheckItem; 7] = [
        CheckItem::Extinguisher,
        CheckItem::EscapeRoute,
        CheckItem::NoIndoorEbikeCharging,
        CheckItem::Wiring,
        CheckItem::Gas,
        CheckItem::SmokeAlarm,
        CheckItem::OccupancyPerArea,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CheckItem::Extinguisher => "extinguisher",
            CheckItem::EscapeRoute => "escape_route",
            CheckItem::NoIndoorEbikeCharging => "no_indoor_ebike_charging",
            CheckItem::Wiring => "wiring",
            CheckItem::Gas => "gas",
            CheckItem::SmokeAlarm => "smoke_alarm",
            CheckItem::OccupancyPerArea => "occupancy_per_area",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            CheckItem::Extinguisher => "灭火器",
            CheckItem::EscapeRoute => "逃生通道",
            CheckItem::NoIndoorEbikeCharging => "电动车不进室内充电",
            CheckItem::Wiring => "电气线路",
            CheckItem::Gas => "燃气安全",
            CheckItem::SmokeAlarm => "烟感报警器",
            CheckItem::OccupancyPerArea => "人均居住面积",
        }
    }
}

impl std::str::FromStr for CheckItem {
    type Err = UnknownRentalName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckItem::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownRentalName::new("checklist item", s))
    }
}

/// One answered item of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub item: CheckItem,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What is wrong with a filled-in checklist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecklistError {
    #[error("checklist item {0} is missing")]
    Missing(&'static str),
    #[error("checklist item {0} is answered twice")]
    Duplicate(&'static str),
}

/// Checks that every item is answered exactly once; answers whether all passed.
pub fn checklist_passed(results: &[CheckResult]) -> Result<bool, ChecklistError> {
    for item in CheckItem::ALL {
        match results.iter().filter(|r| r.item == item).count() {
            0 => return Err(ChecklistError::Missing(item.as_str())),
            1 => {}
            _ => return Err(ChecklistError::Duplicate(item.as_str())),
        }
    }
    Ok(results.iter().all(|r| r.passed))
}

/// Least usable floor area per occupant, in m². Local rules across
/// Zhejiang's cities put it at 4-5 m²; the stricter figure is used.
pub const MIN_AREA_PER_OCCUPANT_M2: f64 = 5.0;

/// The most occupants a unit of `area_m2` may house.
pub fn max_occupants(area_m2: f64) -> u32 {
    if !area_m2.is_finite() || area_m2 <= 0.0 {
        return 0;
    }
    // A hair of tolerance so 10.0 m² / 5 is 2 despite float rounding.
    ((area_m2 + 1e-9) / MIN_AREA_PER_OCCUPANT_M2).floor() as u32
}

/// Whether an occupancy limit suits the area: at least one, at most what
/// the area allows.
pub fn occupancy_limit_allowed(area_m2: f64, limit: u32) -> bool {
    limit >= 1 && limit <= max_occupants(area_m2)
}

/// Days after a passing check when the unit is due for its next one (the
/// grid worker's night rounds draw from these).
pub const REINSPECT_AFTER_DAYS: i64 = 90;

/// The kind of identity document a tenant registers with (证件类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// 居民身份证 (GB 11643, checked).
    ResidentId,
    /// 护照
    Passport,
    /// 港澳居民来往内地通行证
    HkMacaoPermit,
    /// 台湾居民来往大陆通行证
    TaiwanPermit,
    /// 外国人永久居留身份证
    ForeignPermanentResidentId,
}

impl DocumentType {
    pub const ALL: [DocumentType; 5] = [
        DocumentType::ResidentId,
        DocumentType::Passport,
        DocumentType::HkMacaoPermit,
        DocumentType::TaiwanPermit,
        DocumentType::ForeignPermanentResidentId,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DocumentType::ResidentId => "resident_id",
            DocumentType::Passport => "passport",
            DocumentType::HkMacaoPermit => "hk_macao_permit",
            DocumentType::TaiwanPermit => "taiwan_permit",
            DocumentType::ForeignPermanentResidentId => "foreign_permanent_resident_id",
        }
    }
}

impl std::str::FromStr for DocumentType {
    type Err = UnknownRentalName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentType::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownRentalName::new("document type", s))
    }
}

/// Why a document number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("a resident ID number has 18 characters: 17 digits and a check digit or X")]
    Format,
    #[error("the birth date in the resident ID number is not a real date")]
    BirthDate,
    #[error("the check digit of the resident ID number does not match")]
    CheckDigit,
    #[error("a document number is 5-32 letters and digits")]
    OtherFormat,
}

/// Weights of the 17 body digits in the GB 11643 check (2^(18-i) mod 11).
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder mod 11.
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The check character of a 17-digit body, or `None` if it is not 17 digits.
pub fn resident_id_check_char(body: &str) -> Option<char> {
    let digits = body.as_bytes();
    if digits.len() != 17 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = digits
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(ID_CHECK[(sum % 11) as usize] as char)
}

/// Checks a mainland resident ID number (GB 11643-1999): 18 characters, a
/// plausible birth date (1900 or later, not after `today`) and the check
/// character. A lower-case `x` is accepted; answers the number normalised.
pub fn validate_resident_id(number: &str, today: LocalDate) -> Result<String, IdNumberError> {
    let n = number.trim().to_ascii_uppercase();
    let bytes = n.as_bytes();
    if bytes.len() != 18
        || !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        || bytes[0] == b'0'
    {
        return Err(IdNumberError::Format);
    }
    let num = |r: std::ops::Range<usize>| n[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(6..10) as i32, num(10..12) as u8, num(12..14) as u8);
    let birth = LocalDate::new(year, month, day).ok_or(IdNumberError::BirthDate)?;
    if year < 1900 || birth > today {
        return Err(IdNumberError::BirthDate);
    }
    if resident_id_check_char(&n[..17]) != Some(bytes[17] as char) {
        return Err(IdNumberError::CheckDigit);
    }
    Ok(n)
}

/// Checks a document number of the given type; answers it normalised
/// (trimmed, upper case).
pub fn validate_document(
    kind: DocumentType,
    number: &str,
    today: LocalDate,
) -> Result<String, IdNumberError> {
    match kind {
        DocumentType::ResidentId => validate_resident_id(number, today),
        _ => {
            let n = number.trim().to_ascii_uppercase();
            if (5..=32).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(n)
            } else {
                Err(IdNumberError::OtherFormat)
            }
        }
    }
}

/// Whether a phone number looks dialable: 5-20 digits, with an optional
/// leading `+` and dashes or spaces between.
pub fn phone_plausible(phone: &str) -> bool {
    let p = phone.trim();
    let body = p.strip_prefix('+').unwrap_or(p);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;

    fn today() -> LocalDate {
        LocalDate::new(2026, 11, 23).unwrap()
    }

    #[test]
    fn the_table_has_one_row_per_state_and_action() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            for b in &TRANSITIONS[i + 1..] {
                assert!(
                    !(a.from == b.from && a.action == b.action),
                    "two rows for {} / {}",
                    a.from,
                    a.action
                );
            }
        }
        // Every state but the draft is reachable, and every state can be left.
        for s in UnitState::ALL {
            assert!(TRANSITIONS.iter().any(|t| t.from == s), "{s} is a dead end");
            if s != INITIAL {
                assert!(TRANSITIONS.iter().any(|t| t.to == s), "{s} is unreachable");
            }
        }
    }

    #[test]
    fn a_unit_is_let_only_after_passing_the_check() {
        let keepers = [UnitActor::Owner];
        let inspector = [UnitActor::Inspector];
        // The lifecycle the issue names.
        let mut s = INITIAL;
        s = next(s, UnitAction::Submit, &keepers).unwrap();
        assert_eq!(s, UnitState::AwaitingInspection);
        assert!(!s.may_check_in());
        assert_eq!(
            next(s, UnitAction::CheckIn, &keepers),
            Err(UnitRefusal::NotAllowedInState {
                state: s,
                action: UnitAction::CheckIn
            })
        );
        // The owner cannot pass their own check.
        assert!(matches!(
            next(s, UnitAction::InspectPass, &keepers),
            Err(UnitRefusal::NotAllowedForActor { .. })
        ));
        s = next(s, UnitAction::InspectFail, &inspector).unwrap();
        assert_eq!(s, UnitState::RectificationRequired);
        assert!(next(s, UnitAction::Publish, &keepers).is_err());
        s = next(s, UnitAction::InspectPass, &inspector).unwrap();
        s = next(s, UnitAction::Publish, &keepers).unwrap();
        assert_eq!(s, UnitState::Vacant);
        s = next(s, UnitAction::CheckIn, &keepers).unwrap();
        assert_eq!(s, UnitState::Let);
        assert!(next(s, UnitAction::Withdraw, &keepers).is_err());
        s = next(s, UnitAction::CheckOut, &[UnitActor::System]).unwrap();
        s = next(s, UnitAction::Withdraw, &keepers).unwrap();
        assert_eq!(s, UnitState::Withdrawn);
        // Walk every path: whatever the order, no unit reaches `let` without
        // an `inspect_pass` since its last failure or relisting.
        let mut rng = SplitMix64::new(11643);
        for _ in 0..2000 {
            let mut s = INITIAL;
            let mut checked = false;
            for _ in 0..20 {
                let rows: Vec<_> = TRANSITIONS.iter().filter(|t| t.from == s).collect();
                let row = rows[(rng.next_u64() % rows.len() as u64) as usize];
                match row.action {
                    UnitAction::InspectPass => checked = true,
                    UnitAction::InspectFail | UnitAction::Relist => checked = false,
                    _ => {}
                }
                s = row.to;
                if s.may_check_in() {
                    assert!(checked, "reached {s} without a passing check");
                }
            }
        }
    }

    #[test]
    fn docs_show_the_table() {
        const BEGIN: &str = "<!-- transitions: generated by rental::transition_table() -->\n";
        const END: &str = "<!-- end of transitions -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rentals.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (head, rest) = doc
            .split_once(BEGIN)
            .expect("docs/rentals.md has the begin marker");
        let (_, tail) = rest
            .split_once(END)
            .expect("docs/rentals.md has the end marker");
        let fresh = format!("{head}{BEGIN}{}{END}{tail}", transition_table());
        if std::env::var_os("PINGAN_UPDATE_DOCS").is_some() {
            std::fs::write(path, &fresh).unwrap();
            return;
        }
        assert!(
            doc == fresh,
            "docs/rentals.md is out of date; run PINGAN_UPDATE_DOCS=1 cargo test -p pingan-domain rental"
        );
    }

    #[test]
    fn roles_stand_in_their_relations() {
        assert_eq!(UnitActor::for_role(Role::Landlord), &[UnitActor::Owner]);
        assert!(UnitActor::for_role(Role::GridWorker).contains(&UnitActor::Inspector));
        assert!(!UnitActor::for_role(Role::CentreOperator).contains(&UnitActor::Inspector));
        assert!(UnitActor::for_role(Role::Citizen).is_empty());
        assert_eq!(
            allowed(UnitState::Vacant, &[UnitActor::Owner]),
            [UnitAction::CheckIn, UnitAction::Withdraw]
        );
    }

    #[test]
    fn resident_id_check_digit() {
        // The worked example of GB 11643-1999.
        assert_eq!(resident_id_check_char("11010519491231002"), Some('X'));
        assert_eq!(
            validate_resident_id("11010519491231002x", today()).unwrap(),
            "11010519491231002X"
        );
        assert_eq!(
            validate_resident_id("110105194912310021", today()),
            Err(IdNumberError::CheckDigit)
        );
        assert_eq!(
            validate_resident_id("440524188001010014", today()),
            Err(IdNumberError::BirthDate)
        );
        assert_eq!(
            validate_resident_id("110105194902300020", today()),
            Err(IdNumberError::BirthDate),
            "30 February"
        );
        assert_eq!(
            validate_resident_id("110105203001010020", today()),
            Err(IdNumberError::BirthDate),
            "born in the future"
        );
        for bad in [
            "",
            "1101051949123100",
            "11010519491231002Y",
            "A1010519491231002X",
        ] {
            assert_eq!(
                validate_resident_id(bad, today()),
                Err(IdNumberError::Format)
            );
        }
        // Property: a valid number stays valid only with its own check
        // character, and any one changed body digit breaks it (the weights
        // are all non-zero mod 11).
        let mut rng = SplitMix64::new(7);
        for _ in 0..500 {
            let date = LocalDate::from_days_since_epoch(-20_000 + (rng.next_u64() % 40_000) as i64);
            let body = format!(
                "{}{:05}{:04}{:02}{:02}{:03}",
                1 + rng.next_u64() % 8,
                rng.next_u64() % 100_000,
                date.year(),
                date.month(),
                date.day(),
                rng.next_u64() % 1000
            );
            let check = resident_id_check_char(&body).unwrap();
            let id = format!("{body}{check}");
            assert_eq!(
                validate_resident_id(&id, today()).as_deref(),
                Ok(id.as_str())
            );
            let pos = 14 + (rng.next_u64() % 3) as usize;
            let mut changed = id.clone().into_bytes();
            changed[pos] = b'0' + (changed[pos] - b'0' + 1 + (rng.next_u64() % 9) as u8) % 10;
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(
                validate_resident_id(&changed, today()),
                Err(IdNumberError::CheckDigit),
                "{changed}"
            );
        }
        assert_eq!(
            validate_document(DocumentType::Passport, " e1234567 ", today()).unwrap(),
            "E1234567"
        );
        assert!(validate_document(DocumentType::Passport, "12", today()).is_err());
    }

    #[test]
    fn occupancy_follows_the_area() {
        assert_eq!(max_occupants(10.0), 2);
        assert_eq!(max_occupants(9.99), 1);
        assert_eq!(max_occupants(0.0), 0);
        assert_eq!(max_occupants(f64::NAN), 0);
        assert!(occupancy_limit_allowed(40.0, 8));
        assert!(!occupancy_limit_allowed(40.0, 9));
        assert!(!occupancy_limit_allowed(40.0, 0));
        for tenths in 0..2000u32 {
            let area = f64::from(tenths) / 10.0;
            let max = max_occupants(area);
            assert!(f64::from(max) * MIN_AREA_PER_OCCUPANT_M2 <= area + 1e-6);
            assert!(f64::from(max + 1) * MIN_AREA_PER_OCCUPANT_M2 > area);
        }
    }

    #[test]
    fn the_checklist_needs_every_item_once() {
        let all: Vec<CheckResult> = CheckItem::ALL
            .iter()
            .map(|&item| CheckResult {
                item,
                passed: true,
                note: None,
            })
            .collect();
        assert_eq!(checklist_passed(&all), Ok(true));
        let mut one_failed = all.clone();
        one_failed[2].passed = false;
        assert_eq!(checklist_passed(&one_failed), Ok(false));
        assert_eq!(
            checklist_passed(&all[1..]),
            Err(ChecklistError::Missing("extinguisher"))
        );
        let mut twice = all.clone();
        twice.push(all[0].clone());
        assert!(matches!(
            checklist_passed(&twice),
            Err(ChecklistError::Duplicate(_))
        ));
        assert!(phone_plausible("138 1234-1234"));
        assert!(phone_plausible("+85291234567"));
        assert!(!phone_plausible("12a4567"));
    }
}

//! People's mediation (人民调解): committees, cases opened from dispute
//! matters or for walk-ins, sessions, agreements (with their printable PDF),
//! judicial confirmation, escalation up the committee ladder, and statistics.
//!
//! Every change of a case goes through the table in
//! `pingan_domain::mediation` and is a chained log entry `case:<id>`; the
//! matter a case came from waits `in_mediation` and is closed in the same
//! transaction as the case's end. Parties' personal fields are encrypted by
//! the store; reading them in clear (the parties list, the agreement PDF)
//! is allowed to the holding committee and its supervisors and is audited.
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pingan_domain::calendar::LocalDate;
use pingan_domain::category::CategoryCode;
use pingan_domain::matter::{self as rules, Relation};
use pingan_domain::mediation::{
    self as med, AgreementForm, CaseAction, CaseActor, CaseClock, CaseRefusal, CaseRelation,
    CaseState, CaseType, PlannedSession, Referral, RiskLevel, SessionMode, Specialty,
};
use pingan_domain::workflow::{self, Action};
use pingan_domain::{RegionCode, Role, Scope};
use pingan_storage::{
    now_ms, Account, Case, CaseChange, CaseFilter, CaseReach, Committee, LinkedMatterChange,
    MatterChange, NewCase, NewLogEntry, NewParty, NewUnit, Party, PartyInClear,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::matters::{check_idempotency_key, check_text, LogEntryView};
use crate::routes::ListQuery;
use crate::state::AppState;
use crate::views::Page;

const DAY: i64 = 24 * 3_600_000;
const MAX_FACTS: usize = 4000;
const MAX_SHORT: usize = 200;
const MAX_MINUTES: usize = 5000;

fn invalid(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::invalid(code, zh, en)
}

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct CommitteeView {
    pub id: i64,
    pub name: String,
    /// 12-digit region code of the committee.
    pub region_code: String,
    /// village, township or county (the level of its region).
    pub level: String,
    /// general, traffic, medical, construction, labour, commercial or family.
    pub specialty: String,
    pub specialty_name: String,
}

fn level_of(prefix: &str) -> &'static str {
    match prefix.len() {
        12 => "village",
        9 => "township",
        6 => "county",
        4 => "city",
        2 => "province",
        _ => "other",
    }
}

fn prefix_of(region_code: &str) -> String {
    RegionCode::infer(region_code)
        .map(|r| r.prefix().to_string())
        .unwrap_or_else(|_| region_code.to_string())
}

impl From<Committee> for CommitteeView {
    fn from(c: Committee) -> Self {
        let specialty_name = c
            .specialty
            .parse::<Specialty>()
            .map(|s| s.name_zh())
            .unwrap_or("")
            .to_string();
        CommitteeView {
            level: level_of(&prefix_of(&c.region_code)).to_string(),
            id: c.id,
            name: c.name,
            region_code: c.region_code,
            specialty: c.specialty,
            specialty_name,
        }
    }
}

/// A session (调解会议), stored as JSON on the case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    /// When it is planned (ms, UTC).
    pub scheduled_at: i64,
    /// in_person or video.
    pub mode: String,
    /// Where, for a session in person.
    pub place: Option<String>,
    /// The meeting link, for a video session (Pingan hosts no video).
    pub meeting_link: Option<String>,
    /// scheduled, held or cancelled.
    pub status: String,
    pub held_at: Option<i64>,
    /// Who attended (names as the minutes give them).
    #[serde(default)]
    pub attendees: Vec<String>,
    pub minutes: Option<String>,
    pub cancel_reason: Option<String>,
}

/// One agreed term (协议条款) with its performance deadline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TermView {
    /// 1-500 characters.
    pub text: String,
    /// YYYY-MM-DD: by when it must be performed.
    pub deadline: Option<String>,
}

/// The agreement (调解协议), stored as JSON on the case.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgreementView {
    /// written or oral.
    pub form: String,
    pub terms: Vec<TermView>,
    /// YYYY-MM-DD, the day it takes effect (signed by all; for an oral
    /// agreement, the day it was recorded).
    pub effective_date: String,
    /// When it was recorded (ms, UTC).
    pub recorded_at: i64,
}

/// Judicial confirmation (司法确认), for a written agreement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ConfirmationView {
    /// YYYY-MM-DD: the last day of the 30 to apply.
    pub deadline: String,
    pub applied_on: Option<String>,
    pub court: Option<String>,
    /// granted or refused.
    pub result: Option<String>,
    pub result_on: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FollowUpView {
    pub at: i64,
    pub by: i64,
    pub note: String,
    /// Whether the terms are performed, if the visit found out.
    pub performed: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    /// arbitration, court or administrative.
    pub to: String,
    /// The body named, e.g. 诸暨市劳动人事争议仲裁委员会.
    pub body: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediatorView {
    pub id: i64,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    pub seq: i64,
    /// person or organisation.
    pub kind: String,
    /// applicant, respondent or third_party.
    pub side: String,
    /// A person's masked name, or an organisation's name.
    pub display_name: String,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub has_address: bool,
}

impl From<Party> for PartyView {
    fn from(p: Party) -> Self {
        PartyView {
            seq: p.seq,
            kind: p.kind,
            side: p.side,
            display_name: p.display_name,
            id_number_masked: p.id_number_masked,
            phone_masked: p.phone_masked,
            has_address: p.has_address,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub id: i64,
    /// 调解案号, e.g. （2026）330681105调字第12号.
    pub case_number: String,
    pub state: String,
    pub state_name: String,
    /// Send it back with an action: a stale version is refused with 409.
    pub version: i64,
    pub case_type: String,
    pub case_type_name: String,
    /// The matter it came from, if any.
    pub matter_id: Option<i64>,
    pub committee: CommitteeView,
    /// The holding committee's region prefix.
    pub holder: String,
    /// village, township or county.
    pub level: String,
    /// Where the dispute is: a grid or region code.
    pub place_code: String,
    pub title: String,
    pub facts: String,
    pub claims: String,
    /// low, medium or high.
    pub risk_level: String,
    pub risk_reasons: Vec<String>,
    pub mediators: Vec<MediatorView>,
    /// The case's deadline (ms, UTC).
    pub deadline: i64,
    /// Past its deadline without having ended.
    pub overdue: bool,
    pub sessions: Vec<SessionView>,
    pub follow_ups: Vec<FollowUpView>,
    pub agreement: Option<AgreementView>,
    pub confirmation: Option<ConfirmationView>,
    /// agreement, failed or withdrawn, once ended.
    pub outcome: Option<String>,
    pub referral: Option<ReferralView>,
    /// Masked; the clear fields through `GET …/parties` (audited).
    pub parties: Vec<PartyView>,
    pub opened_at: i64,
    pub ended_at: Option<i64>,
    pub updated_at: i64,
    pub actions_allowed: Vec<String>,
    /// Whether the caller may read the parties in clear and print the agreement.
    pub may_reveal_parties: bool,
}

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

fn json_opt<T: serde::de::DeserializeOwned>(text: &Option<String>) -> Option<T> {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

fn to_json<T: Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()))
}

fn parse_case_state(c: &Case) -> ApiResult<CaseState> {
    c.state
        .parse()
        .map_err(|_| ApiError::Internal(format!("case {} has unknown state {}", c.id, c.state)))
}

fn mediator_ids(c: &Case) -> Vec<i64> {
    json_list(&c.mediators)
}

// ---------------------------------------------------------------- reach

/// Which cases the caller reaches: mediators their committee's (and, for a
/// general committee, those of committees below it); leaders, centre
/// operators and department handlers (the justice office) their region's.
async fn reach_of(state: &AppState, caller: &Account) -> ApiResult<Option<CaseReach>> {
    Ok(match caller.role {
        Role::Mediator => match caller.unit_id {
            Some(unit_id) => {
                let below = state
                    .store
                    .committee(unit_id)
                    .await?
                    .filter(|c| c.specialty == Specialty::General.as_str())
                    .map(|c| prefix_of(&c.region_code));
                Some(CaseReach::Committee { unit_id, below })
            }
            None => None,
        },
        Role::Leader | Role::CentreOperator | Role::DepartmentHandler => {
            Some(CaseReach::Region(caller.scope.clone()))
        }
        _ => None,
    })
}

/// A case the caller may see; 404 otherwise, whatever the reason.
async fn visible_case(state: &AppState, caller: &Account, id: i64) -> ApiResult<(Case, CaseReach)> {
    let reach = reach_of(state, caller)
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    let case = state
        .store
        .case(&reach, id)
        .await?
        .ok_or(ApiError::NotFound("case"))?;
    Ok((case, reach))
}

fn relation(caller: &Account, c: &Case) -> CaseRelation {
    CaseRelation {
        in_committee: caller.role == Role::Mediator && caller.unit_id == Some(c.committee_id),
        assigned: mediator_ids(c).contains(&caller.id),
        supervises: matches!(caller.role, Role::Leader | Role::CentreOperator)
            && caller.scope.covers(&c.holder),
    }
}

/// The holding committee, the mediators of a committee above it, and the
/// leaders and operators whose region holds it may read parties in clear.
fn may_reveal(caller: &Account, c: &Case, reach: &CaseReach) -> bool {
    let rel = relation(caller, c);
    let from_above = matches!(reach, CaseReach::Committee { below: Some(p), .. }
        if c.holder.starts_with(p.as_str()) && c.holder != *p);
    rel.in_committee || rel.supervises || from_above
}

fn case_refusal(r: CaseRefusal) -> ApiError {
    ApiError::CaseWorkflow(r)
}

fn pick_actor(
    from: CaseState,
    action: CaseAction,
    actors: &[CaseActor],
) -> ApiResult<(CaseState, CaseActor)> {
    let mut refusal = CaseRefusal::NotAllowedForActor {
        state: from,
        action,
        actor: actors.first().copied().unwrap_or(CaseActor::Supervisor),
    };
    for &actor in actors {
        match med::next(from, action, actor) {
            Ok(to) => return Ok((to, actor)),
            Err(r) => refusal = r,
        }
    }
    if actors.is_empty() {
        if let Err(r @ CaseRefusal::NotAllowedInState { .. }) =
            med::next(from, action, CaseActor::System)
        {
            refusal = r;
        }
    }
    Err(case_refusal(refusal))
}

async fn committee_or_invalid(state: &AppState, id: i64) -> ApiResult<Committee> {
    state.store.committee(id).await?.ok_or_else(|| {
        invalid(
            "unknown_committee",
            format!("没有编号为 {id} 的人民调解委员会"),
            format!("no mediation committee {id}"),
        )
    })
}

pub async fn case_view(
    state: &AppState,
    caller: &Account,
    c: Case,
    reach: &CaseReach,
) -> ApiResult<CaseView> {
    let st = parse_case_state(&c)?;
    let committee = state
        .store
        .committee(c.committee_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("case {} has no committee", c.id)))?;
    let mut mediators = Vec::new();
    for id in mediator_ids(&c) {
        if let Some(a) = state.store.account(&Scope::everywhere(), id).await? {
            mediators.push(MediatorView {
                id,
                display_name: a.display_name,
            });
        }
    }
    let parties = state
        .store
        .case_parties(c.id)
        .await?
        .into_iter()
        .map(PartyView::from)
        .collect();
    let actors = med::actors(caller.role, &relation(caller, &c));
    let actions_allowed = med::allowed_for_any(st, &actors)
        .into_iter()
        .map(|a| a.as_str().to_string())
        .collect();
    let case_type_name = c
        .case_type
        .parse::<CaseType>()
        .map(|t| t.name_zh())
        .unwrap_or("")
        .to_string();
    Ok(CaseView {
        may_reveal_parties: may_reveal(caller, &c, reach),
        id: c.id,
        case_number: c.case_number,
        state: c.state,
        state_name: st.name_zh().to_string(),
        version: c.version,
        case_type: c.case_type,
        case_type_name,
        matter_id: c.matter_id,
        committee: committee.into(),
        level: level_of(&c.holder).to_string(),
        holder: c.holder,
        place_code: c.place_code,
        title: c.title,
        facts: c.facts,
        claims: c.claims,
        risk_level: c.risk_level,
        risk_reasons: json_list(&c.risk_reasons),
        mediators,
        deadline: c.deadline,
        overdue: !st.has_ended() && now_ms() > c.deadline,
        sessions: json_list(&c.sessions),
        follow_ups: json_list(&c.follow_ups),
        agreement: json_opt(&c.agreement),
        confirmation: json_opt(&c.confirmation),
        outcome: c.outcome,
        referral: json_opt(&c.referral),
        parties,
        opened_at: c.opened_at,
        ended_at: c.ended_at,
        updated_at: c.updated_at,
        actions_allowed,
    })
}

// ---------------------------------------------------------------- checks

fn parse_named<T: std::str::FromStr>(what: &'static str, text: &str) -> ApiResult<T> {
    text.parse().map_err(|_| {
        invalid(
            "unknown_value",
            format!("{what} 的取值无效：{text}"),
            format!("unknown {what} {text:?}"),
        )
    })
}

fn parse_date(what: &'static str, text: &str) -> ApiResult<LocalDate> {
    text.parse().map_err(|_| {
        invalid(
            "bad_date",
            format!("{what} 须为 YYYY-MM-DD 格式的日期"),
            format!("{what} must be a date YYYY-MM-DD"),
        )
    })
}

fn check_phone(phone: &str) -> ApiResult<()> {
    let ok = (5..=20).contains(&phone.len())
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' '));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "bad_phone",
            "电话号码格式无效",
            "not a phone number",
        ))
    }
}

/// The mediators named must be mediator accounts of the committee.
async fn check_mediators(state: &AppState, committee: i64, ids: &[i64]) -> ApiResult<()> {
    if ids.len() > 10 {
        return Err(invalid(
            "bad_mediator",
            "最多指派10名调解员",
            "at most 10 mediators",
        ));
    }
    for id in ids {
        let ok = state
            .store
            .account(&Scope::everywhere(), *id)
            .await?
            .is_some_and(|a| {
                a.role == Role::Mediator && a.unit_id == Some(committee) && !a.disabled
            });
        if !ok {
            return Err(invalid(
                "bad_mediator",
                format!("账号 {id} 不是本调解委员会的调解员"),
                format!("account {id} is not a mediator of the committee"),
            ));
        }
    }
    Ok(())
}

fn check_reasons(reasons: &[String]) -> ApiResult<()> {
    if reasons.len() > 10
        || reasons
            .iter()
            .any(|r| r.trim().is_empty() || r.chars().count() > MAX_SHORT)
    {
        return Err(invalid(
            "bad_risk_reasons",
            "风险原因最多10条，每条1-200字",
            "at most 10 risk reasons of 1-200 characters each",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- reminders

fn clock_of(
    st: CaseState,
    deadline: i64,
    sessions: &[SessionView],
    confirmation: Option<&ConfirmationView>,
) -> CaseClock {
    CaseClock {
        state: st,
        deadline,
        sessions: sessions
            .iter()
            .filter(|s| s.status == "scheduled")
            .map(|s| PlannedSession {
                id: s.id,
                at: s.scheduled_at,
            })
            .collect(),
        confirmation_deadline: confirmation
            .filter(|c| c.applied_on.is_none())
            .and_then(|c| c.deadline.parse().ok()),
    }
}

/// When the scheduler must next look at a case.
fn next_due(clock: &CaseClock, sent: &[String], now: i64) -> Option<i64> {
    let (due, next) = med::due_reminders(clock, sent, now);
    if due.is_empty() {
        next
    } else {
        Some(now)
    }
}

fn notices(audiences: &[String], kind: &str, zh: &str, en: &str) -> Value {
    Value::Array(
        audiences
            .iter()
            .map(|a| json!({"audience": a, "kind": kind, "title_zh": zh, "title_en": en}))
            .collect(),
    )
}

/// Whom a case's news reaches: its mediators, or the committee while none is assigned.
fn case_audiences(committee: i64, mediators: &[i64]) -> Vec<String> {
    if mediators.is_empty() {
        vec![format!("unit:{committee}")]
    } else {
        mediators.iter().map(|m| format!("account:{m}")).collect()
    }
}

// ---------------------------------------------------------------- committees

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommitteeQuery {
    /// Committees under this region prefix (default: the caller's scope),
    /// and those of the regions above it.
    pub under: Option<String>,
}

/// Mediation committees of a region and of the regions above it.
#[utoipa::path(get, path = "/api/v1/mediation/committees", operation_id = "mediation_committees", tag = "mediation", params(CommitteeQuery),
    responses((status = 200, body = [CommitteeView]), (status = 400, body = ErrorBody)))]
pub async fn committees(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<CommitteeQuery>,
) -> ApiResult<Json<Vec<CommitteeView>>> {
    let under = match q.under {
        Some(u) => Scope::parse(&u).map_err(|e| ApiError::InvalidQuery(e.to_string()))?,
        None => caller.scope.clone(),
    };
    let reach = caller
        .scope
        .intersect(&under)
        .unwrap_or_else(|| under.clone());
    let mut ancestors = Vec::new();
    let p = under.prefix();
    for len in [2, 4, 6, 9, 12] {
        if p.len() > len {
            if let Ok(r) = RegionCode::from_short(&p[..len]) {
                ancestors.push(r.as_str().to_string());
            }
        }
    }
    let rows = state.store.committees(&reach, &ancestors).await?;
    Ok(Json(rows.into_iter().map(CommitteeView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCommitteeRequest {
    pub name: String,
    /// The region it serves (a village, township or county code).
    pub region_code: String,
    /// general (default) or a professional field.
    pub specialty: Option<String>,
}

/// Creates a mediation committee (admins, within their scope).
#[utoipa::path(post, path = "/api/v1/mediation/committees", operation_id = "mediation_create_committee", tag = "mediation", request_body = NewCommitteeRequest,
    responses((status = 201, body = CommitteeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_committee(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<NewCommitteeRequest>,
) -> ApiResult<(StatusCode, Json<CommitteeView>)> {
    if !caller.role.manages_accounts() {
        return Err(ApiError::Forbidden);
    }
    let specialty: Specialty =
        parse_named("specialty", req.specialty.as_deref().unwrap_or("general"))?;
    let region = RegionCode::from_short(&req.region_code)
        .or_else(|_| RegionCode::infer(&req.region_code))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !matches!(region.prefix().len(), 6 | 9 | 12) {
        return Err(invalid(
            "bad_committee_level",
            "调解委员会须设在县、乡镇或村（社区）",
            "a committee serves a county, township or village",
        ));
    }
    check_text("name", &req.name, 100, true)?;
    let c = state
        .store
        .create_committee(
            &caller.scope,
            &NewUnit {
                name: req.name,
                kind: pingan_domain::UnitKind::MediationCommittee,
                region,
            },
            specialty.as_str(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

// ---------------------------------------------------------------- opening

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PartyRequest {
    /// person (default) or organisation.
    pub kind: Option<String>,
    /// applicant, respondent or third_party.
    pub side: String,
    /// 1-100 characters.
    pub name: String,
    /// Identity card number, or an organisation's credit code.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenCaseRequest {
    /// The matter of a dispute category it comes from (registered, referred
    /// by the centre holding it); leave out for a walk-in.
    pub matter_id: Option<i64>,
    /// The matter's version, with `matter_id`.
    pub matter_version: Option<i64>,
    pub committee_id: i64,
    /// neighbourhood, family_marriage, land, wage_labour, property_management,
    /// traffic, medical, consumer, construction or other.
    pub case_type: String,
    /// A short title; by default the type and the first party.
    pub title: Option<String>,
    /// 1-4000 characters.
    pub facts: String,
    /// What the parties ask for, up to 4000 characters.
    pub claims: Option<String>,
    /// low (default), medium or high.
    pub risk_level: Option<String>,
    #[serde(default)]
    pub risk_reasons: Vec<String>,
    /// Two or more; personal fields are stored encrypted.
    pub parties: Vec<PartyRequest>,
    /// Mediators of the committee; a mediator opening a case is assigned by default.
    #[serde(default)]
    pub mediator_ids: Vec<i64>,
    /// Days from now the case has (1-90, default 30).
    pub deadline_days: Option<i64>,
    /// Walk-ins: where the dispute is (a region or grid code within the
    /// committee's region; default the committee's region).
    pub place_code: Option<String>,
    /// 8-64 letters, digits or dashes: opening again with it answers the first case.
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
}

fn party_requests(parties: &[PartyRequest]) -> ApiResult<Vec<NewParty>> {
    if parties.len() < 2 || parties.len() > 20 {
        return Err(invalid(
            "parties_required",
            "调解案件须有2至20名当事人",
            "a case needs 2 to 20 parties",
        ));
    }
    parties
        .iter()
        .map(|p| {
            let kind = p.kind.clone().unwrap_or_else(|| "person".into());
            if !matches!(kind.as_str(), "person" | "organisation") {
                return Err(invalid(
                    "bad_party",
                    "当事人类型须为 person 或 organisation",
                    "a party's kind is person or organisation",
                ));
            }
            if !matches!(p.side.as_str(), "applicant" | "respondent" | "third_party") {
                return Err(invalid(
                    "bad_party",
                    "当事人身份须为 applicant、respondent 或 third_party",
                    "a party's side is applicant, respondent or third_party",
                ));
            }
            check_text("a party's name", &p.name, 100, true)?;
            if let Some(phone) = p.phone.as_deref().filter(|s| !s.trim().is_empty()) {
                check_phone(phone)?;
            }
            if let Some(id) = p.id_number.as_deref().filter(|s| !s.trim().is_empty()) {
                if id.len() > 30 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "bad_id_number",
                        "证件号码格式无效",
                        "not an identity number",
                    ));
                }
            }
            if let Some(a) = &p.address {
                check_text("an address", a, MAX_SHORT, false)?;
            }
            Ok(NewParty {
                kind,
                side: p.side.clone(),
                name: p.name.trim().to_string(),
                id_number: p.id_number.clone(),
                phone: p.phone.clone(),
                address: p.address.clone(),
            })
        })
        .collect()
}

/// Opens a case (the service behind `POST /api/v1/mediation/cases`, also
/// used by the demo). From a matter, the matter's referral
/// (`refer_to_mediation`) is written in the same transaction.
pub async fn open_case(
    state: &AppState,
    caller: &Account,
    req: OpenCaseRequest,
    now: i64,
) -> ApiResult<(Case, bool)> {
    let case_type: CaseType = parse_named("case_type", &req.case_type)?;
    let risk: RiskLevel = parse_named("risk_level", req.risk_level.as_deref().unwrap_or("low"))?;
    check_text("facts", &req.facts, MAX_FACTS, true)?;
    check_text(
        "claims",
        req.claims.as_deref().unwrap_or(""),
        MAX_FACTS,
        false,
    )?;
    check_text(
        "title",
        req.title.as_deref().unwrap_or(""),
        MAX_SHORT,
        false,
    )?;
    if let Some(n) = &req.note {
        check_text("note", n, MAX_SHORT * 5, false)?;
    }
    check_reasons(&req.risk_reasons)?;
    if let Some(key) = &req.idempotency_key {
        check_idempotency_key(key)?;
    }
    let parties = party_requests(&req.parties)?;
    let days = req.deadline_days.unwrap_or(med::DEFAULT_CASE_DAYS);
    if !(1..=90).contains(&days) {
        return Err(invalid(
            "bad_deadline",
            "调解期限须为1-90天",
            "deadline_days must be 1-90",
        ));
    }
    let committee = committee_or_invalid(state, req.committee_id).await?;
    let holder = prefix_of(&committee.region_code);
    let mut mediators = req.mediator_ids.clone();
    mediators.sort_unstable();
    mediators.dedup();
    if mediators.is_empty() && caller.role == Role::Mediator && caller.unit_id == Some(committee.id)
    {
        mediators.push(caller.id);
    }
    check_mediators(state, committee.id, &mediators).await?;
    let mut link = None;
    let place_code = match req.matter_id {
        Some(matter_id) => {
            let m = crate::matters::visible_matter(state, caller, matter_id).await?;
            let from: workflow::State = m
                .state
                .parse()
                .map_err(|_| ApiError::Internal(format!("matter {matter_id} state")))?;
            let rel = Relation::of(
                caller.id,
                &caller.scope,
                caller.unit_id,
                m.reporter_id,
                &m.holder,
                m.assigned_unit_id,
                &m.grid_code,
            );
            let actors = rules::actors(caller.role, &rel);
            let actor = actors
                .iter()
                .copied()
                .find(|a| workflow::next(from, Action::ReferToMediation, *a).is_ok());
            let Some(actor) = actor else {
                let refusal = actors
                    .first()
                    .map(|a| workflow::next(from, Action::ReferToMediation, *a))
                    .unwrap_or_else(|| {
                        workflow::next(from, Action::ReferToMediation, workflow::Actor::System)
                    });
                return Err(match refusal {
                    Err(r) => ApiError::Workflow(r),
                    Ok(_) => ApiError::Forbidden,
                });
            };
            let is_dispute = m
                .category_code
                .as_deref()
                .and_then(|c| CategoryCode::parse(c).ok())
                .and_then(|c| state.catalogue().1.get(&c).map(|c| c.is_dispute))
                .unwrap_or(false);
            if !is_dispute {
                return Err(invalid(
                    "not_a_dispute",
                    "只有矛盾纠纷类事件可以转人民调解",
                    "only a matter of a dispute category can go to mediation",
                ));
            }
            if !m.grid_code.starts_with(&holder) {
                return Err(invalid(
                    "committee_out_of_reach",
                    "该调解委员会不管辖事件所在地",
                    "the committee does not serve the matter's place",
                ));
            }
            let version = req.matter_version.ok_or_else(|| {
                invalid(
                    "matter_version_required",
                    "请提供事件的 version",
                    "matter_version is required with matter_id",
                )
            })?;
            link = Some(LinkedMatterChange {
                matter_id,
                version,
                change: MatterChange {
                    state: workflow::State::InMediation.as_str().to_string(),
                    next_due: Some(None),
                    milestone_due: Some(None),
                    ..MatterChange::default()
                },
                log: NewLogEntry {
                    subject: String::new(),
                    actor_id: Some(caller.id),
                    actor_role: caller.role.as_str().to_string(),
                    unit_id: caller.unit_id,
                    action: Action::ReferToMediation.as_str().to_string(),
                    from_state: Some(from.as_str().to_string()),
                    to_state: Some(workflow::State::InMediation.as_str().to_string()),
                    body: json!({"as": actor.as_str(), "note": req.note, "committee_id": committee.id}).to_string(),
                    at: now,
                },
            });
            m.grid_code
        }
        None => {
            let allowed = (caller.role == Role::Mediator && caller.unit_id == Some(committee.id))
                || (matches!(caller.role, Role::Leader | Role::CentreOperator)
                    && caller.scope.covers(&holder));
            if !allowed {
                return Err(ApiError::Forbidden);
            }
            let place = req.place_code.clone().unwrap_or_else(|| holder.clone());
            let parsed = Scope::parse(&place).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            if !parsed.prefix().starts_with(&holder) {
                return Err(invalid(
                    "committee_out_of_reach",
                    "纠纷发生地不在该调解委员会辖区内",
                    "the place lies outside the committee's region",
                ));
            }
            parsed.prefix().to_string()
        }
    };
    let title = req
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| {
            format!(
                "{}：{}",
                case_type.name_zh(),
                parties[0].display_name_hint()
            )
        });
    let deadline = now + days * DAY;
    let clock = clock_of(CaseState::Accepted, deadline, &[], None);
    let audiences = case_audiences(committee.id, &mediators);
    let case = NewCase {
        idempotency_key: req.idempotency_key.clone(),
        case_type: case_type.as_str().to_string(),
        matter_id: req.matter_id,
        committee_id: committee.id,
        holder,
        place_code,
        title,
        facts: req.facts.trim().to_string(),
        claims: req.claims.clone().unwrap_or_default().trim().to_string(),
        risk_level: risk.as_str().to_string(),
        risk_reasons: to_json(&req.risk_reasons)?,
        mediators: to_json(&mediators)?,
        deadline,
        opened_by: Some(caller.id),
        opened_at: now,
        next_due: next_due(&clock, &[], now),
    };
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: "open".into(),
        from_state: None,
        to_state: Some(med::INITIAL.as_str().to_string()),
        body: json!({
            "matter_id": req.matter_id,
            "committee_id": committee.id,
            "case_type": case_type.as_str(),
            "parties": parties.len(),
            "mediators": mediators,
            "deadline": deadline,
            "note": req.note,
            "notices": notices(&audiences, "new_task", "新的调解案件", "a new mediation case"),
        })
        .to_string(),
        at: now,
    };
    let (case, created) = state
        .store
        .create_case(&case, &parties, &log, link.as_ref())
        .await?;
    if !created && case.opened_by != Some(caller.id) {
        return Err(invalid(
            "bad_idempotency_key",
            "idempotency_key 已被使用",
            "idempotency_key is already used",
        ));
    }
    Ok((case, created))
}

trait DisplayHint {
    fn display_name_hint(&self) -> String;
}

impl DisplayHint for NewParty {
    /// A title never carries a person's full name.
    fn display_name_hint(&self) -> String {
        if self.kind == "person" {
            pingan_domain::mask::mask_name(&self.name)
        } else {
            self.name.clone()
        }
    }
}

/// Opens a mediation case, from a dispute matter or for a walk-in.
#[utoipa::path(post, path = "/api/v1/mediation/cases", operation_id = "mediation_create", tag = "mediation", request_body = OpenCaseRequest,
    responses((status = 201, body = CaseView),
        (status = 200, description = "Already opened with this idempotency key", body = CaseView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The matter is not registered, or a stale matter version", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(req): ApiJson<OpenCaseRequest>,
) -> ApiResult<(StatusCode, Json<CaseView>)> {
    let (case, created) = open_case(&state, &caller, req, now_ms()).await?;
    let reach = reach_of(&state, &caller).await?.unwrap_or(CaseReach::All);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(case_view(&state, &caller, case, &reach).await?),
    ))
}

// ---------------------------------------------------------------- reading

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    /// Comma-separated states.
    pub state: Option<String>,
    pub case_type: Option<String>,
    /// Held by a committee, or about a place, under this region prefix.
    pub under: Option<String>,
    pub committee_id: Option<i64>,
    /// Only cases assigned to the caller.
    pub mine: Option<bool>,
    /// Opened from / before (ms, UTC).
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub after: Option<String>,
    pub limit: Option<u32>,
}

/// Cases the caller reaches, newest first.
#[utoipa::path(get, path = "/api/v1/mediation/cases", operation_id = "mediation_list", tag = "mediation", params(CaseListQuery),
    responses((status = 200, body = Page<CaseView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<CaseListQuery>,
) -> ApiResult<Json<Page<CaseView>>> {
    let reach = reach_of(&state, &caller)
        .await?
        .ok_or(ApiError::Forbidden)?;
    let page = ListQuery {
        after: q.after.clone(),
        limit: q.limit,
    }
    .page()?;
    let mut filter = CaseFilter {
        opened_from: q.from,
        opened_to: q.to,
        committee_id: q.committee_id,
        mediator_id: q.mine.unwrap_or(false).then_some(caller.id),
        ..CaseFilter::default()
    };
    if let Some(states) = &q.state {
        for s in states.split(',').filter(|s| !s.is_empty()) {
            let st: CaseState = s
                .parse()
                .map_err(|_| ApiError::InvalidQuery(format!("unknown state {s:?}")))?;
            filter.states.push(st.as_str().to_string());
        }
    }
    if let Some(t) = &q.case_type {
        let t: CaseType = t
            .parse()
            .map_err(|_| ApiError::InvalidQuery(format!("unknown case_type {t:?}")))?;
        filter.case_type = Some(t.as_str().to_string());
    }
    if let Some(u) = &q.under {
        let s = Scope::parse(u).map_err(|e| ApiError::InvalidQuery(e.to_string()))?;
        filter.under = Some(s.prefix().to_string());
    }
    let rows = state.store.cases(&reach, &filter, &page).await?;
    let next = (rows.len() as u32 >= page.limit.max(1))
        .then(|| rows.last().map(|c| c.id.to_string()))
        .flatten();
    let mut items = Vec::with_capacity(rows.len());
    for c in rows {
        items.push(case_view(&state, &caller, c, &reach).await?);
    }
    Ok(Json(Page { items, next }))
}

/// One case, with the actions the caller may take.
#[utoipa::path(get, path = "/api/v1/mediation/cases/{id}", operation_id = "mediation_get", tag = "mediation", params(("id" = i64, Path)),
    responses((status = 200, body = CaseView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CaseView>> {
    let (case, reach) = visible_case(&state, &caller, id).await?;
    Ok(Json(case_view(&state, &caller, case, &reach).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartyInClearView {
    pub seq: i64,
    pub kind: String,
    pub side: String,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

impl From<PartyInClear> for PartyInClearView {
    fn from(p: PartyInClear) -> Self {
        PartyInClearView {
            seq: p.seq,
            kind: p.kind,
            side: p.side,
            name: p.name,
            id_number: p.id_number,
            phone: p.phone,
            address: p.address,
        }
    }
}

/// The parties in clear: the holding committee and its supervisors only;
/// every reading is written to the audit log.
#[utoipa::path(get, path = "/api/v1/mediation/cases/{id}/parties", operation_id = "mediation_parties", tag = "mediation", params(("id" = i64, Path)),
    responses((status = 200, body = [PartyInClearView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn parties(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<PartyInClearView>>> {
    let (case, reach) = visible_case(&state, &caller, id).await?;
    if !may_reveal(&caller, &case, &reach) {
        return Err(ApiError::Forbidden);
    }
    let rows = state
        .store
        .reveal_case_parties(case.id, caller.id, "view")
        .await?;
    Ok(Json(rows.into_iter().map(PartyInClearView::from).collect()))
}

/// A case's log, oldest first.
#[utoipa::path(get, path = "/api/v1/mediation/cases/{id}/log", operation_id = "mediation_log", tag = "mediation", params(("id" = i64, Path)),
    responses((status = 200, body = [LogEntryView]), (status = 404, body = ErrorBody)))]
pub async fn log(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<LogEntryView>>> {
    visible_case(&state, &caller, id).await?;
    let entries = state.store.log_for(&format!("case:{id}")).await?;
    Ok(Json(entries.into_iter().map(LogEntryView::from).collect()))
}

/// The written agreement as a printable A4 PDF (人民调解协议书) with the
/// parties' real names: an audited read of personal data.
#[utoipa::path(get, path = "/api/v1/mediation/cases/{id}/agreement.pdf", operation_id = "mediation_agreement_pdf", tag = "mediation", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", description = "The agreement"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn agreement_pdf(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let (case, reach) = visible_case(&state, &caller, id).await?;
    if !may_reveal(&caller, &case, &reach) {
        return Err(ApiError::Forbidden);
    }
    let pdf = render_agreement(&state, &caller, &case).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"agreement-{}.pdf\"", case.id),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        pdf,
    )
        .into_response())
}

/// The agreement PDF of a case with a written agreement.
pub async fn render_agreement(
    state: &AppState,
    caller: &Account,
    case: &Case,
) -> ApiResult<Vec<u8>> {
    let agreement: AgreementView = json_opt(&case.agreement).ok_or_else(|| {
        invalid(
            "no_written_agreement",
            "该案件没有书面调解协议",
            "the case has no written agreement",
        )
    })?;
    if agreement.form != AgreementForm::Written.as_str() {
        return Err(invalid(
            "no_written_agreement",
            "该案件没有书面调解协议",
            "the case has no written agreement",
        ));
    }
    let committee = committee_or_invalid(state, case.committee_id).await?;
    let parties = state
        .store
        .reveal_case_parties(case.id, caller.id, "agreement_pdf")
        .await?;
    let mut mediators = Vec::new();
    for id in mediator_ids(case) {
        if let Some(a) = state.store.account(&Scope::everywhere(), id).await? {
            mediators.push(a.display_name);
        }
    }
    Ok(agreement_document(
        case, &committee, &parties, &mediators, &agreement,
    ))
}

fn side_zh(side: &str) -> &'static str {
    match side {
        "applicant" => "申请人",
        "respondent" => "被申请人",
        _ => "第三人",
    }
}

/// Lays out 人民调解协议书 (People's Mediation Law arts. 28-29: parties,
/// facts and claims, agreed terms with their deadlines, signatures, seal).
pub fn agreement_document(
    case: &Case,
    committee: &Committee,
    parties: &[PartyInClear],
    mediators: &[String],
    agreement: &AgreementView,
) -> Vec<u8> {
    use crate::pdf::{Flow, A4_WIDTH};
    let mut f = Flow::new("人民调解协议书", 60.0);
    f.centred(22.0, "人民调解协议书");
    f.gap(4.0);
    f.centred(11.0, &case.case_number);
    f.gap(10.0);
    f.paragraph(12.0, 0.0, "当事人");
    for p in parties {
        let mut line = format!("{}：{}", side_zh(&p.side), p.name);
        if let Some(id) = &p.id_number {
            line.push_str(if p.kind == "person" {
                "，身份证号码 "
            } else {
                "，统一社会信用代码 "
            });
            line.push_str(id);
        }
        if let Some(phone) = &p.phone {
            line.push_str(&format!("，联系电话 {phone}"));
        }
        if let Some(addr) = &p.address {
            line.push_str(&format!("，住址 {addr}"));
        }
        f.paragraph(11.0, 24.0, &line);
    }
    f.gap(6.0);
    f.paragraph(12.0, 0.0, "纠纷主要事实、争议事项");
    f.paragraph(11.0, 24.0, &case.facts);
    if !case.claims.is_empty() {
        f.paragraph(11.0, 24.0, &format!("当事人请求：{}", case.claims));
    }
    f.gap(6.0);
    f.paragraph(12.0, 0.0, "经调解，当事人自愿达成如下协议：");
    let width = f.width();
    let mut rows = vec![vec![
        "序号".to_string(),
        "协议内容".to_string(),
        "履行期限".to_string(),
    ]];
    for (i, t) in agreement.terms.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            t.text.clone(),
            t.deadline.clone().unwrap_or_else(|| "—".into()),
        ]);
    }
    f.table(11.0, &[40.0, width - 140.0, 100.0], &rows);
    f.gap(8.0);
    f.paragraph(
        11.0,
        0.0,
        "本协议自各方当事人签名（盖章）、人民调解员签名并加盖人民调解委员会印章之日起生效。\
         本协议具有法律约束力，当事人应当按照约定履行。当事人可以自本协议生效之日起三十日内共同向人民法院申请司法确认。",
    );
    f.paragraph(
        11.0,
        0.0,
        &format!(
            "本协议生效日期：{}。本协议一式{}份，当事人各执一份，人民调解委员会留存一份。",
            agreement.effective_date,
            parties.len() + 1
        ),
    );
    f.gap(14.0);
    // Signature blocks: two columns of parties, then the mediators.
    let col = width / 2.0;
    for pair in parties.chunks(2) {
        f.need(50.0);
        f.gap(30.0);
        let y = f.y;
        let margin = f.margin;
        let page = f.page();
        for (k, p) in pair.iter().enumerate() {
            let x = margin + k as f32 * col;
            page.text(x, y, 11.0, &format!("{}（签名或盖章）：", side_zh(&p.side)));
            page.line(x + 150.0, y - 2.0, x + col - 20.0, y - 2.0, 0.5);
            page.text(x, y - 18.0, 9.0, &p.name);
        }
        f.gap(18.0);
    }
    f.need(140.0);
    f.gap(34.0);
    let y = f.y;
    let margin = f.margin;
    let names = if mediators.is_empty() {
        "—".to_string()
    } else {
        mediators.join("、")
    };
    let page = f.page();
    page.text(margin, y, 11.0, "人民调解员（签名）：");
    page.line(margin + 110.0, y - 2.0, margin + col - 20.0, y - 2.0, 0.5);
    page.text(margin, y - 18.0, 9.0, &names);
    // The seal goes over the committee's name and the date.
    let cx = A4_WIDTH - margin - 80.0;
    page.circle(cx, y - 40.0, 42.0, 0.8);
    page.text_centred(cx, y - 44.0, 9.0, "（印章）");
    page.text_right(A4_WIDTH - margin, y - 95.0, 11.0, &committee.name);
    page.text_right(
        A4_WIDTH - margin,
        y - 113.0,
        11.0,
        &agreement.effective_date,
    );
    f.gap(120.0);
    f.finish()
}

// ---------------------------------------------------------------- actions

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SessionRequest {
    /// When (ms, UTC), not in the past.
    pub scheduled_at: i64,
    /// in_person or video.
    pub mode: String,
    /// Required in person.
    pub place: Option<String>,
    /// Required for video: an http(s) link to the meeting.
    pub meeting_link: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AgreementRequest {
    /// written or oral.
    pub form: String,
    /// One or more terms with their performance deadlines.
    pub terms: Vec<TermView>,
    /// YYYY-MM-DD; today by default.
    pub effective_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReferralRequest {
    /// arbitration, court or administrative.
    pub to: String,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PartyContactRequest {
    pub seq: i64,
    pub phone: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CaseActionRequest {
    /// One of the case's `actions_allowed`.
    pub action: String,
    /// The version the caller saw.
    pub version: i64,
    /// A note; required to withdraw, fail, escalate, cancel a session and follow up.
    pub note: Option<String>,
    /// assign: the mediators (replacing the current ones).
    pub mediator_ids: Option<Vec<i64>>,
    /// update: any of these.
    pub title: Option<String>,
    pub facts: Option<String>,
    pub claims: Option<String>,
    pub case_type: Option<String>,
    pub risk_level: Option<String>,
    pub risk_reasons: Option<Vec<String>>,
    /// update: a new deadline (ms, UTC).
    pub deadline: Option<i64>,
    pub party_contacts: Option<Vec<PartyContactRequest>>,
    /// schedule_session.
    pub session: Option<SessionRequest>,
    /// record_session / cancel_session: which one.
    pub session_id: Option<i64>,
    /// record_session.
    pub attendees: Option<Vec<String>>,
    pub minutes: Option<String>,
    /// escalate: the committee one level up (default: the general one there).
    pub committee_id: Option<i64>,
    /// record_agreement.
    pub agreement: Option<AgreementRequest>,
    /// record_failure.
    pub referral: Option<ReferralRequest>,
    /// follow_up.
    pub performed: Option<bool>,
    /// apply_confirmation: the court, and the day applied (default today).
    pub court: Option<String>,
    pub applied_on: Option<String>,
    /// confirmation_granted / confirmation_refused: the day of the ruling (default today).
    pub result_on: Option<String>,
    /// 8-64 letters, digits or dashes: a resent action is applied once.
    pub idempotency_key: Option<String>,
}

fn note_required(req: &CaseActionRequest, what: &str) -> ApiResult<String> {
    let note = req.note.clone().unwrap_or_default();
    check_text(what, &note, 1000, true)?;
    Ok(note.trim().to_string())
}

/// Performs a case action through the table (the service behind
/// `POST /api/v1/mediation/cases/{id}/actions`, used by the demo). The
/// projection, its log entry and the matter's closure when the case ends are
/// written together, only if the case is still at `req.version`.
pub async fn perform(
    state: &AppState,
    caller: &Account,
    id: i64,
    req: CaseActionRequest,
    now: i64,
) -> ApiResult<Case> {
    let action: CaseAction = req
        .action
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown action {:?}", req.action)))?;
    if let Some(n) = &req.note {
        check_text("note", n, 1000, false)?;
    }
    let (case, reach) = visible_case(state, caller, id).await?;
    if let Some(key) = &req.idempotency_key {
        check_idempotency_key(key)?;
        let entries = state.store.log_for(&format!("case:{id}")).await?;
        if entries.iter().any(|e| {
            serde_json::from_str::<Value>(&e.body)
                .is_ok_and(|b| b.get("idempotency_key").and_then(|k| k.as_str()) == Some(key))
        }) {
            return Ok(case);
        }
    }
    let from = parse_case_state(&case)?;
    let actors = med::actors(caller.role, &relation(caller, &case));
    let (to, actor) = pick_actor(from, action, &actors)?;
    apply(
        state,
        caller,
        &case,
        &reach,
        from,
        to,
        action,
        actor.as_str(),
        req,
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    state: &AppState,
    caller: &Account,
    case: &Case,
    reach: &CaseReach,
    from: CaseState,
    to: CaseState,
    action: CaseAction,
    actor: &str,
    req: CaseActionRequest,
    now: i64,
) -> ApiResult<Case> {
    let mut change = CaseChange {
        state: to.as_str().to_string(),
        ..CaseChange::default()
    };
    let mut sessions: Vec<SessionView> = json_list(&case.sessions);
    let mut confirmation: Option<ConfirmationView> = json_opt(&case.confirmation);
    let mut mediators = mediator_ids(case);
    let mut committee_id = case.committee_id;
    let mut deadline = case.deadline;
    let mut detail = serde_json::Map::new();
    let mut notice: Option<(&str, String, String)> = None;
    let today = LocalDate::from_utc_ms(now);
    match action {
        CaseAction::Assign => {
            let mut ids = req.mediator_ids.clone().unwrap_or_default();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(invalid(
                    "bad_mediator",
                    "请指派至少一名调解员",
                    "name at least one mediator",
                ));
            }
            check_mediators(state, case.committee_id, &ids).await?;
            detail.insert("mediator_ids".into(), json!(ids));
            change.mediators = Some(to_json(&ids)?);
            mediators = ids;
            notice = Some((
                "new_task",
                "您被指派承办调解案件".into(),
                "you were assigned a mediation case".into(),
            ));
        }
        CaseAction::Update => {
            let mut changed = Vec::new();
            if let Some(t) = &req.title {
                check_text("title", t, MAX_SHORT, true)?;
                change.title = Some(t.trim().to_string());
                changed.push("title");
            }
            if let Some(t) = &req.facts {
                check_text("facts", t, MAX_FACTS, true)?;
                change.facts = Some(t.trim().to_string());
                changed.push("facts");
            }
            if let Some(t) = &req.claims {
                check_text("claims", t, MAX_FACTS, false)?;
                change.claims = Some(t.trim().to_string());
                changed.push("claims");
            }
            if let Some(t) = &req.case_type {
                change.case_type = Some(
                    parse_named::<CaseType>("case_type", t)?
                        .as_str()
                        .to_string(),
                );
                changed.push("case_type");
            }
            if let Some(t) = &req.risk_level {
                change.risk_level = Some(
                    parse_named::<RiskLevel>("risk_level", t)?
                        .as_str()
                        .to_string(),
                );
                changed.push("risk_level");
            }
            if let Some(r) = &req.risk_reasons {
                check_reasons(r)?;
                change.risk_reasons = Some(to_json(r)?);
                changed.push("risk_reasons");
            }
            if let Some(d) = req.deadline {
                if d <= now || d > now + 180 * DAY {
                    return Err(invalid(
                        "bad_deadline",
                        "调解期限须在今后180天内",
                        "the deadline must lie within the next 180 days",
                    ));
                }
                change.deadline = Some(d);
                deadline = d;
                changed.push("deadline");
            }
            if let Some(contacts) = &req.party_contacts {
                let parties = state.store.case_parties(case.id).await?;
                for c in contacts {
                    if !parties.iter().any(|p| p.seq == c.seq) {
                        return Err(invalid(
                            "bad_party",
                            format!("没有第 {} 号当事人", c.seq),
                            format!("no party {}", c.seq),
                        ));
                    }
                    if let Some(p) = &c.phone {
                        check_phone(p)?;
                    }
                    if let Some(a) = &c.address {
                        check_text("an address", a, MAX_SHORT, true)?;
                    }
                    change
                        .party_contacts
                        .push((c.seq, c.phone.clone(), c.address.clone()));
                }
                changed.push("party_contacts");
            }
            if changed.is_empty() {
                return Err(invalid(
                    "nothing_to_update",
                    "没有要更新的内容",
                    "nothing to update",
                ));
            }
            // Which fields changed, not their values: the log holds no personal data.
            detail.insert("changed".into(), json!(changed));
        }
        CaseAction::ScheduleSession => {
            let s = req.session.clone().ok_or_else(|| {
                invalid(
                    "session_required",
                    "请提供调解会议安排",
                    "schedule_session needs a session",
                )
            })?;
            let mode: SessionMode = parse_named("mode", &s.mode)?;
            if s.scheduled_at < now - 5 * 60_000 || s.scheduled_at > now + 180 * DAY {
                return Err(invalid(
                    "bad_session_time",
                    "调解时间须在今后180天内",
                    "a session must lie within the next 180 days",
                ));
            }
            match mode {
                SessionMode::InPerson => {
                    check_text("place", s.place.as_deref().unwrap_or(""), MAX_SHORT, true)?
                }
                SessionMode::Video => {
                    let link = s.meeting_link.as_deref().unwrap_or("");
                    if !(link.starts_with("https://") || link.starts_with("http://"))
                        || link.len() > 500
                        || link.chars().any(char::is_whitespace)
                    {
                        return Err(invalid(
                            "bad_meeting_link",
                            "远程视频调解须提供有效的会议链接",
                            "a video session needs an http(s) meeting link",
                        ));
                    }
                }
            }
            let id = sessions.iter().map(|s| s.id).max().unwrap_or(0) + 1;
            sessions.push(SessionView {
                id,
                scheduled_at: s.scheduled_at,
                mode: mode.as_str().to_string(),
                place: s.place.clone(),
                meeting_link: s.meeting_link.clone(),
                status: "scheduled".into(),
                held_at: None,
                attendees: Vec::new(),
                minutes: None,
                cancel_reason: None,
            });
            detail.insert("session_id".into(), id.into());
            detail.insert("scheduled_at".into(), s.scheduled_at.into());
            detail.insert("mode".into(), mode.as_str().into());
            change.sessions = Some(to_json(&sessions)?);
            notice = Some((
                "reminder",
                "已安排调解会议".into(),
                "a mediation session was scheduled".into(),
            ));
        }
        CaseAction::RecordSession | CaseAction::CancelSession => {
            let sid = req.session_id.ok_or_else(|| {
                invalid(
                    "session_required",
                    "请指明调解会议",
                    "name the session (session_id)",
                )
            })?;
            let s = sessions
                .iter_mut()
                .find(|s| s.id == sid && s.status == "scheduled")
                .ok_or_else(|| {
                    invalid(
                        "unknown_session",
                        "没有这个待举行的调解会议",
                        "no such scheduled session",
                    )
                })?;
            if action == CaseAction::RecordSession {
                let attendees = req.attendees.clone().unwrap_or_default();
                if attendees.is_empty()
                    || attendees.len() > 50
                    || attendees
                        .iter()
                        .any(|a| a.trim().is_empty() || a.chars().count() > 100)
                {
                    return Err(invalid(
                        "bad_attendees",
                        "请填写1-50名参加人",
                        "name 1-50 attendees",
                    ));
                }
                check_text(
                    "minutes",
                    req.minutes.as_deref().unwrap_or(""),
                    MAX_MINUTES,
                    true,
                )?;
                s.status = "held".into();
                s.held_at = Some(now);
                s.attendees = attendees.iter().map(|a| a.trim().to_string()).collect();
                s.minutes = req.minutes.clone();
            } else {
                s.status = "cancelled".into();
                s.cancel_reason = Some(note_required(&req, "a reason (note)")?);
            }
            detail.insert("session_id".into(), sid.into());
            change.sessions = Some(to_json(&sessions)?);
        }
        CaseAction::Escalate => {
            note_required(&req, "a reason (note)")?;
            let above = med::region_above(&case.holder).ok_or_else(|| {
                invalid(
                    "no_committee_above",
                    "已是最高一级调解委员会",
                    "there is no committee above this one",
                )
            })?;
            let target = match req.committee_id {
                Some(cid) => committee_or_invalid(state, cid).await?,
                None => {
                    let region = RegionCode::from_short(above)
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    state
                        .store
                        .committees(
                            &Scope::parse(above).map_err(|e| ApiError::Internal(e.to_string()))?,
                            &[region.as_str().to_string()],
                        )
                        .await?
                        .into_iter()
                        .find(|c| {
                            prefix_of(&c.region_code) == above
                                && c.specialty == Specialty::General.as_str()
                        })
                        .ok_or_else(|| {
                            invalid(
                                "no_committee_above",
                                "上一级没有人民调解委员会",
                                "there is no committee one level up",
                            )
                        })?
                }
            };
            let target_prefix = prefix_of(&target.region_code);
            if target_prefix != above {
                return Err(invalid(
                    "bad_escalation_target",
                    "只能上移到上一级的人民调解委员会",
                    "a case moves up to a committee exactly one level up",
                ));
            }
            // Planned sessions of the old committee lapse; the new one starts afresh.
            for s in sessions.iter_mut().filter(|s| s.status == "scheduled") {
                s.status = "cancelled".into();
                s.cancel_reason = Some("escalated".into());
            }
            detail.insert("committee_before".into(), case.committee_id.into());
            detail.insert("holder_before".into(), case.holder.clone().into());
            detail.insert("committee_id".into(), target.id.into());
            detail.insert("holder".into(), target_prefix.clone().into());
            change.sessions = Some(to_json(&sessions)?);
            change.committee_id = Some(target.id);
            change.holder = Some(target_prefix);
            change.mediators = Some("[]".into());
            mediators.clear();
            committee_id = target.id;
            notice = Some((
                "escalated",
                "下级调解委员会上移的调解案件".into(),
                "a case referred up from the committee below".into(),
            ));
        }
        CaseAction::RecordAgreement => {
            if !sessions.iter().any(|s| s.status == "held") {
                return Err(invalid(
                    "no_session_held",
                    "尚未举行调解，不能记录协议",
                    "no session was held yet",
                ));
            }
            let a = req.agreement.clone().ok_or_else(|| {
                invalid(
                    "agreement_required",
                    "请提供协议内容",
                    "record_agreement needs an agreement",
                )
            })?;
            let form: AgreementForm = parse_named("form", &a.form)?;
            if a.terms.is_empty() || a.terms.len() > 30 {
                return Err(invalid(
                    "terms_required",
                    "协议须有1-30项条款",
                    "an agreement has 1-30 terms",
                ));
            }
            for t in &a.terms {
                check_text("a term", &t.text, 500, true)?;
                if let Some(d) = &t.deadline {
                    parse_date("a term's deadline", d)?;
                }
            }
            let effective = match &a.effective_date {
                Some(d) => parse_date("effective_date", d)?,
                None => today,
            };
            if effective > today || effective < today.add_days(-30) {
                return Err(invalid(
                    "bad_effective_date",
                    "协议生效日期须在近30天内且不晚于今天",
                    "the effective date lies within the last 30 days",
                ));
            }
            let agreement = AgreementView {
                form: form.as_str().to_string(),
                terms: a.terms.clone(),
                effective_date: effective.to_string(),
                recorded_at: now,
            };
            if form == AgreementForm::Written {
                let c = ConfirmationView {
                    deadline: med::confirmation_deadline(effective).to_string(),
                    ..ConfirmationView::default()
                };
                detail.insert("confirmation_deadline".into(), c.deadline.clone().into());
                change.confirmation = Some(to_json(&c)?);
                confirmation = Some(c);
            }
            detail.insert("form".into(), form.as_str().into());
            detail.insert(
                "effective_date".into(),
                agreement.effective_date.clone().into(),
            );
            detail.insert("terms".into(), agreement.terms.len().into());
            change.agreement = Some(to_json(&agreement)?);
            change.outcome = Some("agreement".into());
            change.ended_at = Some(now);
        }
        CaseAction::RecordFailure => {
            note_required(&req, "why no agreement was reached (note)")?;
            let r = req.referral.clone().ok_or_else(|| {
                invalid(
                    "referral_required",
                    "请告知当事人救济途径",
                    "record_failure needs a referral",
                )
            })?;
            let to_: Referral = parse_named("referral", &r.to)?;
            if let Some(b) = &r.body {
                check_text("the referral's body", b, MAX_SHORT, false)?;
            }
            let referral = ReferralView {
                to: to_.as_str().to_string(),
                body: r.body.clone(),
            };
            detail.insert("referral".into(), json!(referral));
            change.referral = Some(to_json(&referral)?);
            change.outcome = Some("failed".into());
            change.ended_at = Some(now);
        }
        CaseAction::Withdraw => {
            note_required(&req, "a reason (note)")?;
            change.outcome = Some("withdrawn".into());
            change.ended_at = Some(now);
        }
        CaseAction::FollowUp => {
            let note = note_required(&req, "what the visit found (note)")?;
            let mut follow_ups: Vec<FollowUpView> = json_list(&case.follow_ups);
            follow_ups.push(FollowUpView {
                at: now,
                by: caller.id,
                note,
                performed: req.performed,
            });
            detail.insert("performed".into(), json!(req.performed));
            change.follow_ups = Some(to_json(&follow_ups)?);
        }
        CaseAction::ApplyConfirmation => {
            let mut c = confirmation.clone().ok_or_else(|| {
                invalid(
                    "oral_agreement",
                    "口头协议不能申请司法确认",
                    "only a written agreement can be confirmed",
                )
            })?;
            let court = req.court.clone().unwrap_or_default();
            check_text("court", &court, MAX_SHORT, true)?;
            let applied = match &req.applied_on {
                Some(d) => parse_date("applied_on", d)?,
                None => today,
            };
            let last: LocalDate = parse_date("deadline", &c.deadline)?;
            if applied > today {
                return Err(invalid(
                    "bad_date",
                    "申请日期不能晚于今天",
                    "applied_on cannot be in the future",
                ));
            }
            if applied > last {
                return Err(invalid(
                    "confirmation_deadline_passed",
                    format!("已超过申请司法确认的期限（{last}）"),
                    format!("the 30 days to apply for judicial confirmation ended on {last}"),
                ));
            }
            c.applied_on = Some(applied.to_string());
            c.court = Some(court.trim().to_string());
            c.result = None;
            c.result_on = None;
            detail.insert("court".into(), court.trim().into());
            detail.insert("applied_on".into(), applied.to_string().into());
            change.confirmation = Some(to_json(&c)?);
            confirmation = Some(c);
        }
        CaseAction::ConfirmationGranted | CaseAction::ConfirmationRefused => {
            let mut c = confirmation.clone().unwrap_or_default();
            let on = match &req.result_on {
                Some(d) => parse_date("result_on", d)?,
                None => today,
            };
            if on > today {
                return Err(invalid(
                    "bad_date",
                    "裁定日期不能晚于今天",
                    "result_on cannot be in the future",
                ));
            }
            let result = if action == CaseAction::ConfirmationGranted {
                "granted"
            } else {
                "refused"
            };
            c.result = Some(result.into());
            c.result_on = Some(on.to_string());
            detail.insert("result".into(), result.into());
            detail.insert("result_on".into(), on.to_string().into());
            change.confirmation = Some(to_json(&c)?);
            confirmation = Some(c);
        }
        CaseAction::Close => {}
        CaseAction::Remind => {
            note_required(&req, "the reminder (note)")?;
            notice = Some((
                "reminder",
                "上级催办调解案件".into(),
                "a supervisor asks about a case".into(),
            ));
        }
    }
    // Reminders follow the case's new state and times.
    let sent: Vec<String> = json_list(&case.reminders_sent);
    let clock = clock_of(to, deadline, &sessions, confirmation.as_ref());
    change.next_due = Some(next_due(&clock, &sent, now));
    // The end of the mediation closes the matter, in the same transaction.
    let mut link = None;
    if to.has_ended() && !from.has_ended() {
        if let Some(matter_id) = case.matter_id {
            let m = state.store.matter(&Scope::everywhere(), matter_id).await?;
            if let Some(m) = m.filter(|m| m.state == workflow::State::InMediation.as_str()) {
                let rel = Relation {
                    ends_case: true,
                    ..Relation::default()
                };
                let actors = rules::actors(caller.role, &rel);
                let closed = actors
                    .iter()
                    .find_map(|a| {
                        workflow::next(workflow::State::InMediation, Action::MediationEnded, *a)
                            .ok()
                    })
                    .ok_or_else(|| ApiError::Internal("mediation_ended not allowed".into()))?;
                link = Some(LinkedMatterChange {
                    matter_id,
                    version: m.version,
                    change: MatterChange {
                        state: closed.as_str().to_string(),
                        closed_at: Some(Some(now)),
                        next_due: Some(None),
                        ..MatterChange::default()
                    },
                    log: NewLogEntry {
                        subject: String::new(),
                        actor_id: Some(caller.id),
                        actor_role: caller.role.as_str().to_string(),
                        unit_id: caller.unit_id,
                        action: Action::MediationEnded.as_str().to_string(),
                        from_state: Some(m.state.clone()),
                        to_state: Some(closed.as_str().to_string()),
                        body: json!({
                            "as": workflow::Actor::Mediation.as_str(),
                            "case_id": case.id,
                            "outcome": change.outcome,
                            "referral": json_opt::<ReferralView>(&change.referral),
                            "note": req.note,
                        })
                        .to_string(),
                        at: now,
                    },
                });
            }
        }
    }
    let mut body = json!({ "as": actor, "note": req.note });
    if let Some(map) = body.as_object_mut() {
        map.extend(detail);
        if let Some(key) = &req.idempotency_key {
            map.insert("idempotency_key".into(), key.as_str().into());
        }
        if let Some((kind, zh, en)) = notice {
            map.insert(
                "notices".into(),
                notices(&case_audiences(committee_id, &mediators), kind, &zh, &en),
            );
        }
    }
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: Some(caller.id),
        actor_role: caller.role.as_str().to_string(),
        unit_id: caller.unit_id,
        action: action.as_str().to_string(),
        from_state: Some(from.as_str().to_string()),
        to_state: Some(to.as_str().to_string()),
        body: body.to_string(),
        at: now,
    };
    Ok(state
        .store
        .apply_case_action(reach, case.id, req.version, &change, &log, link.as_ref())
        .await?)
}

/// Performs an action on a case through the table.
#[utoipa::path(post, path = "/api/v1/mediation/cases/{id}/actions", operation_id = "mediation_act", tag = "mediation", params(("id" = i64, Path)),
    request_body = CaseActionRequest,
    responses(
        (status = 200, body = CaseView),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Not for this caller", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not in this state, or a stale version", body = ErrorBody),
    ))]
pub async fn act(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CaseActionRequest>,
) -> ApiResult<Json<CaseView>> {
    let case = perform(&state, &caller, id, req, now_ms()).await?;
    let reach = reach_of(&state, &caller).await?.unwrap_or(CaseReach::All);
    Ok(Json(case_view(&state, &caller, case, &reach).await?))
}

// ---------------------------------------------------------------- scheduler

/// Sends the reminders due by `now` (sessions, case deadline, judicial
/// confirmation 7 days before and on the last day), each once, as logged
/// system actions with notifications to the mediators. Answers how many.
pub async fn sweep(state: &AppState, now: i64) -> Result<u64, pingan_storage::StoreError> {
    let mut sent_count = 0;
    for _ in 0..100 {
        let due = state.store.due_cases(now, 500).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for c in due {
            let Ok(st) = c.state.parse::<CaseState>() else {
                continue;
            };
            let sessions: Vec<SessionView> = json_list(&c.sessions);
            let confirmation: Option<ConfirmationView> = json_opt(&c.confirmation);
            let clock = clock_of(st, c.deadline, &sessions, confirmation.as_ref());
            let mut sent: Vec<String> = json_list(&c.reminders_sent);
            let (reminders, _) = med::due_reminders(&clock, &sent, now);
            let to = med::next(st, CaseAction::Remind, CaseActor::System);
            let may_remind = to.is_ok();
            let mut change = CaseChange {
                state: c.state.clone(),
                ..CaseChange::default()
            };
            let (Ok(to), false) = (to, reminders.is_empty()) else {
                // Nothing to send now: look again at the next reminder, if
                // the state still owes one (bookkeeping, not logged).
                let next = med::due_reminders(&clock, &sent, now)
                    .1
                    .filter(|_| may_remind);
                state.store.reschedule_case(c.id, next).await?;
                progressed = true;
                continue;
            };
            sent.extend(reminders.iter().map(|r| r.key.clone()));
            let (_, next) = med::due_reminders(&clock, &sent, now);
            change.state = to.as_str().to_string();
            change.reminders_sent =
                Some(serde_json::to_string(&sent).unwrap_or_else(|_| "[]".into()));
            change.next_due = Some(next);
            let mediators = mediator_ids(&c);
            let audiences = case_audiences(c.committee_id, &mediators);
            let all_notices: Vec<Value> = reminders
                .iter()
                .flat_map(
                    |r| match notices(&audiences, "reminder", &r.title_zh, &r.title_en) {
                        Value::Array(v) => v,
                        _ => Vec::new(),
                    },
                )
                .collect();
            let log = NewLogEntry {
                subject: String::new(),
                actor_id: None,
                actor_role: "system".into(),
                unit_id: None,
                action: CaseAction::Remind.as_str().to_string(),
                from_state: Some(st.as_str().to_string()),
                to_state: Some(to.as_str().to_string()),
                body: json!({
                    "as": "system",
                    "reasons": reminders.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
                    "confirmation_deadline": confirmation.as_ref().map(|c| c.deadline.clone()),
                    "notices": all_notices,
                })
                .to_string(),
                at: now,
            };
            match state
                .store
                .apply_case_action(&CaseReach::All, c.id, c.version, &change, &log, None)
                .await
            {
                Ok(_) => {
                    sent_count += reminders.len() as u64;
                    progressed = true;
                }
                Err(pingan_storage::StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            break;
        }
    }
    Ok(sent_count)
}

// ---------------------------------------------------------------- statistics

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// A region prefix within the caller's scope (default: the scope).
    pub under: Option<String>,
    /// Cases opened from / before (ms, UTC); default the last 30 days.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Tally {
    /// The type, level or outcome counted.
    pub key: String,
    pub name: String,
    pub cases: u64,
    pub agreements: u64,
}

/// Mediation indicators of a region and period (调解统计), for the pages and
/// the safety report.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CaseStats {
    pub under: String,
    pub from: i64,
    pub to: i64,
    /// Cases opened in the period.
    pub opened: u64,
    /// Of them, ended (agreement, failure or withdrawal).
    pub ended: u64,
    pub agreements: u64,
    pub failed: u64,
    pub withdrawn: u64,
    /// Still being mediated.
    pub open: u64,
    /// agreements / ended; null without ended cases.
    pub success_rate: Option<f64>,
    /// Agreements reached by committees at township level or below /
    /// agreements (小事不出村、大事不出镇); null without agreements.
    pub township_or_below_share: Option<f64>,
    /// Mean days from opening to the end, over ended cases.
    pub average_duration_days: Option<f64>,
    pub by_type: Vec<Tally>,
    /// village, township, county: the level of the committee holding the case.
    pub by_level: Vec<Tally>,
    /// agreement, failed, withdrawn, open.
    pub by_outcome: Vec<Tally>,
}

/// Computes the indicators over the cases given.
pub fn stats_of(cases: &[Case], under: &str, from: i64, to: i64) -> CaseStats {
    let mut s = CaseStats {
        under: under.to_string(),
        from,
        to,
        ..CaseStats::default()
    };
    let mut durations = 0i64;
    let mut low_agreements = 0u64;
    let bump = |list: &mut Vec<Tally>, key: &str, name: &str, agreed: bool| {
        let t = match list.iter_mut().position(|t| t.key == key) {
            Some(i) => &mut list[i],
            None => {
                list.push(Tally {
                    key: key.to_string(),
                    name: name.to_string(),
                    ..Tally::default()
                });
                list.last_mut().expect("just pushed")
            }
        };
        t.cases += 1;
        t.agreements += u64::from(agreed);
    };
    for c in cases {
        let Ok(st) = c.state.parse::<CaseState>() else {
            continue;
        };
        s.opened += 1;
        let agreed = st.is_success();
        let outcome = c.outcome.as_deref().unwrap_or("open");
        match outcome {
            "agreement" => s.agreements += 1,
            "failed" => s.failed += 1,
            "withdrawn" => s.withdrawn += 1,
            _ => s.open += 1,
        }
        if st.has_ended() {
            s.ended += 1;
            durations += c.ended_at.unwrap_or(c.updated_at) - c.opened_at;
        }
        if agreed && med::at_township_or_below(&c.holder) {
            low_agreements += 1;
        }
        let type_name = c
            .case_type
            .parse::<CaseType>()
            .map(|t| t.name_zh())
            .unwrap_or("");
        bump(&mut s.by_type, &c.case_type, type_name, agreed);
        let level = level_of(&c.holder);
        let level_name = match level {
            "village" => "村（社区）",
            "township" => "乡镇（街道）",
            "county" => "县（区）",
            _ => "其他",
        };
        bump(&mut s.by_level, level, level_name, agreed);
        let outcome_name = match outcome {
            "agreement" => "达成协议",
            "failed" => "调解不成",
            "withdrawn" => "撤回",
            _ => "调解中",
        };
        bump(&mut s.by_outcome, outcome, outcome_name, agreed);
    }
    let ratio =
        |a: u64, b: u64| (b > 0).then(|| (a as f64 / b as f64 * 10_000.0).round() / 10_000.0);
    s.success_rate = ratio(s.agreements, s.ended);
    s.township_or_below_share = ratio(low_agreements, s.agreements);
    s.average_duration_days = (s.ended > 0)
        .then(|| ((durations as f64 / s.ended as f64 / DAY as f64) * 100.0).round() / 100.0);
    for list in [&mut s.by_type, &mut s.by_level, &mut s.by_outcome] {
        list.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.key.cmp(&b.key)));
    }
    s
}

/// The indicators for a region the scope reaches (the safety report calls this).
pub async fn case_stats(
    state: &AppState,
    reach: &CaseReach,
    under: &str,
    from: i64,
    to: i64,
) -> ApiResult<CaseStats> {
    let filter = CaseFilter {
        under: Some(under.to_string()),
        opened_from: Some(from),
        opened_to: Some(to),
        ..CaseFilter::default()
    };
    let cases = state.store.all_cases(reach, &filter).await?;
    Ok(stats_of(&cases, under, from, to))
}

/// Cases by type, level and outcome; success rate; share settled at
/// township level or below; average duration.
#[utoipa::path(get, path = "/api/v1/mediation/stats", operation_id = "mediation_stats", tag = "mediation", params(StatsQuery),
    responses((status = 200, body = CaseStats), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<CaseStats>> {
    let reach = reach_of(&state, &caller)
        .await?
        .ok_or(ApiError::Forbidden)?;
    let under = match &q.under {
        Some(u) => Scope::parse(u).map_err(|e| ApiError::InvalidQuery(e.to_string()))?,
        None => caller.scope.clone(),
    };
    if caller.role != Role::Mediator && caller.scope.intersect(&under).is_none() {
        return Err(ApiError::OutOfScope(under.as_text().to_string()));
    }
    let to = q.to.unwrap_or_else(now_ms);
    let from = q.from.unwrap_or(to - 30 * DAY);
    if from >= to {
        return Err(ApiError::InvalidQuery("from must be before to".into()));
    }
    Ok(Json(
        case_stats(&state, &reach, under.prefix(), from, to).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(state: &str, holder: &str, outcome: Option<&str>, days: i64) -> Case {
        Case {
            id: 1,
            case_number: String::new(),
            state: state.into(),
            version: 1,
            case_type: "wage_labour".into(),
            matter_id: None,
            committee_id: 1,
            holder: holder.into(),
            place_code: holder.into(),
            title: String::new(),
            facts: String::new(),
            claims: String::new(),
            risk_level: "low".into(),
            risk_reasons: "[]".into(),
            mediators: "[]".into(),
            deadline: 0,
            sessions: "[]".into(),
            follow_ups: "[]".into(),
            agreement: None,
            confirmation: None,
            outcome: outcome.map(str::to_string),
            referral: None,
            opened_by: None,
            opened_at: 0,
            ended_at: outcome.map(|_| days * DAY),
            updated_at: 0,
            next_due: None,
            reminders_sent: "[]".into(),
        }
    }

    #[test]
    fn indicators_have_explicit_denominators() {
        let cases = [
            case("agreed", "330681105001", Some("agreement"), 2),
            case("confirmed", "330681105", Some("agreement"), 4),
            case("closed", "330681", Some("agreement"), 6),
            case("failed", "330681105", Some("failed"), 8),
            case("mediating", "330681105", None, 0),
        ];
        let s = stats_of(&cases, "330681", 0, 1);
        assert_eq!(
            (s.opened, s.ended, s.agreements, s.failed, s.open),
            (5, 4, 3, 1, 1)
        );
        assert_eq!(s.success_rate, Some(0.75));
        assert_eq!(s.township_or_below_share, Some(0.6667));
        assert_eq!(s.average_duration_days, Some(5.0));
        assert_eq!(s.by_level[0].key, "township");
        assert_eq!(s.by_level[0].cases, 3);
        let empty = stats_of(&[], "33", 0, 1);
        assert_eq!(empty.success_rate, None);
    }
}

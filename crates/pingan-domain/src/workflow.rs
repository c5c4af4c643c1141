//! The matter workflow: one explicit transition table, the single source of
//! truth for what may happen to a matter, in which state, and by whom.
//!
//! Every action — even one that leaves the state as it is, like a reminder —
//! is a row of [`TRANSITIONS`], so the service layer can run every action
//! through [`next`] and log it the same way. A row is keyed by state and
//! action; the actors allowed on it are the accounts' *relations* to the
//! matter ([`Actor`]), not their roles, because "may accept" depends on the
//! matter having been dispatched to the caller's unit, which only the service
//! layer can tell. [`Actor::played_by`] says which roles can stand in which
//! relation at all.
//!
//! `docs/workflow.md` is rendered from this table by [`document`]; a test
//! fails when it is out of date.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::role::Role;

/// The state of a matter (事件状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Received from a channel, awaiting review by the centre holding it.
    Reported,
    /// Accepted as a case (立案), awaiting dispatch.
    Registered,
    /// Not registered (不予立案/作废): out of scope, unfounded or a prank. Final.
    Rejected,
    /// A duplicate of another matter, which carries on. Final.
    Merged,
    /// Sent to a unit with a deadline, awaiting its acceptance.
    Dispatched,
    /// Accepted by the unit it was dispatched to, being handled.
    Accepted,
    /// Sent back by the unit as not its own, awaiting the centre.
    Returned,
    /// Reported handled by the unit, awaiting verification.
    Handled,
    /// Verified on site as done, awaiting closure by the centre.
    Verified,
    /// Failed verification; the same unit must handle it again.
    Rework,
    /// Closed (结案). The reporter may rate or reopen it.
    Closed,
    /// Closed and rated by the reporter.
    Rated,
    /// Suspended (缓办/挂账): long-running, its clock stopped, counted apart.
    Suspended,
    /// Reopened by the reporter after closure, awaiting the centre again.
    Reopened,
    /// A dispute referred to a people's mediation committee: it waits for the
    /// mediation case, which has its own deadline, and closes when the case ends.
    InMediation,
}

impl State {
    pub const ALL: [State; 15] = [
        State::Reported,
        State::Registered,
        State::Rejected,
        State::Merged,
        State::Dispatched,
        State::Accepted,
        State::Returned,
        State::Handled,
        State::Verified,
        State::Rework,
        State::Closed,
        State::Rated,
        State::Suspended,
        State::Reopened,
        State::InMediation,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Registered => "registered",
            State::Rejected => "rejected",
            State::Merged => "merged",
            State::Dispatched => "dispatched",
            State::Accepted => "accepted",
            State::Returned => "returned",
            State::Handled => "handled",
            State::Verified => "verified",
            State::Rework => "rework",
            State::Closed => "closed",
            State::Rated => "rated",
            State::Suspended => "suspended",
            State::Reopened => "reopened",
            State::InMediation => "in_mediation",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            State::Reported => "待受理",
            State::Registered => "已立案",
            State::Rejected => "不予立案",
            State::Merged => "已合并",
            State::Dispatched => "已派遣",
            State::Accepted => "处置中",
            State::Returned => "已退回",
            State::Handled => "已处置",
            State::Verified => "核查通过",
            State::Rework => "返工",
            State::Closed => "已结案",
            State::Rated => "已评价",
            State::Suspended => "缓办",
            State::Reopened => "已重启",
            State::InMediation => "调解中",
        }
    }

    /// Whether nothing more can happen to a matter in this state.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from == self)
    }

    /// Whether the matter counts as closed for the indicators (结案).
    pub const fn is_closed(self) -> bool {
        matches!(self, State::Closed | State::Rated)
    }

    /// Whether the matter is still to be dealt with: neither closed nor
    /// ended (rejected, merged). Suspended matters stay open.
    pub fn is_open(self) -> bool {
        !self.is_closed() && !self.is_final()
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName::new("state", s))
    }
}

/// Something done to a matter (处置动作). Each is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accept the report as a case.
    Register,
    /// Refuse to register it.
    Reject,
    /// Fold it into another matter about the same thing.
    Merge,
    /// A grid worker solves it on the spot, with photos of the result.
    SelfResolve,
    /// Send it to a unit, with a deadline from the calendar.
    Dispatch,
    /// The unit takes the task on.
    Accept,
    /// The unit sends it back as not its own, with a reason.
    Return,
    /// Hand it to the centre one level up (上报).
    TransferUp,
    /// Hand it to a centre one level down (下派).
    TransferDown,
    /// Hand it to another centre at the same level (流转/移交).
    TransferSideways,
    /// The unit asks for more time.
    RequestExtension,
    /// The deadline is moved.
    ApproveExtension,
    /// The request for more time is refused; the deadline stands.
    DenyExtension,
    /// The unit asks to park a long-running matter.
    RequestSuspension,
    /// The matter is parked and its clock stopped.
    ApproveSuspension,
    /// The request to park it is refused.
    DenySuspension,
    /// A parked matter is taken up again.
    Resume,
    /// The unit reports progress: a milestone reached (arrived, first
    /// feedback, stopped…) or a note; the state stays.
    ReportProgress,
    /// The unit reports it done, with photos of the result.
    ReportHandled,
    /// Verification on site finds it done.
    VerifyPass,
    /// Verification finds it not done; back to the unit (counted as rework).
    VerifyFail,
    /// The centre closes the case.
    Close,
    /// The reporter rates the outcome (1-5, with a comment).
    Rate,
    /// The reporter reopens it within the allowed number of days.
    Reopen,
    /// A reminder to whoever holds it.
    Remind,
    /// A higher level flags it for supervision.
    Supervise,
    /// The scheduler moves it up a level: unregistered or overdue too long.
    Escalate,
    /// The centre refers a dispute to a mediation committee, opening a case.
    ReferToMediation,
    /// The mediation case ended (agreement, failure with referral, or
    /// withdrawal); its outcome is in the entry.
    MediationEnded,
}

impl Action {
    pub const ALL: [Action; 29] = [
        Action::Register,
        Action::Reject,
        Action::Merge,
        Action::SelfResolve,
        Action::Dispatch,
        Action::Accept,
        Action::Return,
        Action::TransferUp,
        Action::TransferDown,
        Action::TransferSideways,
        Action::RequestExtension,
        Action::ApproveExtension,
        Action::DenyExtension,
        Action::RequestSuspension,
        Action::ApproveSuspension,
        Action::DenySuspension,
        Action::Resume,
        Action::ReportProgress,
        Action::ReportHandled,
        Action::VerifyPass,
        Action::VerifyFail,
        Action::Close,
        Action::Rate,
        Action::Reopen,
        Action::Remind,
        Action::Supervise,
        Action::Escalate,
        Action::ReferToMediation,
        Action::MediationEnded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Reject => "reject",
            Action::Merge => "merge",
            Action::SelfResolve => "self_resolve",
            Action::Dispatch => "dispatch",
            Action::Accept => "accept",
            Action::Return => "return",
            Action::TransferUp => "transfer_up",
            Action::TransferDown => "transfer_down",
            Action::TransferSideways => "transfer_sideways",
            Action::RequestExtension => "request_extension",
            Action::ApproveExtension => "approve_extension",
            Action::DenyExtension => "deny_extension",
            Action::RequestSuspension => "request_suspension",
            Action::ApproveSuspension => "approve_suspension",
            Action::DenySuspension => "deny_suspension",
            Action::Resume => "resume",
            Action::ReportProgress => "report_progress",
            Action::ReportHandled => "report_handled",
            Action::VerifyPass => "verify_pass",
            Action::VerifyFail => "verify_fail",
            Action::Close => "close",
            Action::Rate => "rate",
            Action::Reopen => "reopen",
            Action::Remind => "remind",
            Action::Supervise => "supervise",
            Action::Escalate => "escalate",
            Action::ReferToMediation => "refer_to_mediation",
            Action::MediationEnded => "mediation_ended",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            Action::Register => "立案",
            Action::Reject => "不予立案",
            Action::Merge => "合并",
            Action::SelfResolve => "自办结",
            Action::Dispatch => "派遣",
            Action::Accept => "签收",
            Action::Return => "退回",
            Action::TransferUp => "上报",
            Action::TransferDown => "下派",
            Action::TransferSideways => "流转",
            Action::RequestExtension => "申请延期",
            Action::ApproveExtension => "批准延期",
            Action::DenyExtension => "驳回延期",
            Action::RequestSuspension => "申请缓办",
            Action::ApproveSuspension => "批准缓办",
            Action::DenySuspension => "驳回缓办",
            Action::Resume => "恢复办理",
            Action::ReportProgress => "进展反馈",
            Action::ReportHandled => "处置反馈",
            Action::VerifyPass => "核查通过",
            Action::VerifyFail => "核查不通过",
            Action::Close => "结案",
            Action::Rate => "评价",
            Action::Reopen => "重启",
            Action::Remind => "催办",
            Action::Supervise => "督办",
            Action::Escalate => "升级",
            Action::ReferToMediation => "转人民调解",
            Action::MediationEnded => "调解终结",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName::new("action", s))
    }
}

/// The part an account plays towards one matter (办理关系). Permissions are
/// granted to relations rather than roles: a department handler may accept a
/// matter only when it was dispatched to their unit. The service layer works
/// out the relations of the caller; an account may stand in several at once
/// (a grid worker who reported a matter in their own grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// Whoever filed the report: the citizen, grid worker, department or
    /// leader; for a hotline call, the operator acting on the caller's behalf.
    Reporter,
    /// An operator of the centre (综治中心) currently holding the matter.
    CentreOperator,
    /// A handler of the unit the matter is dispatched to.
    AssignedUnit,
    /// A leader or operator of a centre above the one holding the matter.
    HigherLevel,
    /// A grid worker or chief of the grid the matter lies in.
    GridWorkerOnSite,
    /// The scheduler: reminders and escalation by policy.
    System,
    /// A mediator ending the mediation case the matter waits on; only the
    /// case service stands in this relation, never a caller of the matter API.
    Mediation,
}

impl Actor {
    pub const ALL: [Actor; 7] = [
        Actor::Reporter,
        Actor::CentreOperator,
        Actor::AssignedUnit,
        Actor::HigherLevel,
        Actor::GridWorkerOnSite,
        Actor::System,
        Actor::Mediation,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Actor::Reporter => "reporter",
            Actor::CentreOperator => "centre_operator",
            Actor::AssignedUnit => "assigned_unit",
            Actor::HigherLevel => "higher_level",
            Actor::GridWorkerOnSite => "grid_worker_on_site",
            Actor::System => "system",
            Actor::Mediation => "mediation",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            Actor::Reporter => "上报人",
            Actor::CentreOperator => "受理中心坐席",
            Actor::AssignedUnit => "承办单位",
            Actor::HigherLevel => "上级",
            Actor::GridWorkerOnSite => "属地网格员",
            Actor::System => "系统",
            Actor::Mediation => "调解案件",
        }
    }

    /// The relations an account of `role` can ever stand in. Which of them it
    /// holds towards a given matter is for the service layer to decide.
    pub const fn for_role(role: Role) -> &'static [Actor] {
        match role {
            Role::GridWorker => &[Actor::Reporter, Actor::GridWorkerOnSite],
            // A grid chief is often a village cadre: tasks sent down to the
            // village committee land with them.
            Role::GridChief => &[
                Actor::Reporter,
                Actor::GridWorkerOnSite,
                Actor::AssignedUnit,
            ],
            // Operators file hotline calls on a caller's behalf and record the
            // caller's rating on the follow-up call (回访).
            Role::CentreOperator => &[Actor::Reporter, Actor::CentreOperator, Actor::HigherLevel],
            Role::DepartmentHandler => &[Actor::Reporter, Actor::AssignedUnit],
            Role::Leader => &[Actor::Reporter, Actor::HigherLevel],
            Role::Mediator => &[Actor::Reporter, Actor::AssignedUnit, Actor::Mediation],
            Role::Landlord | Role::Citizen => &[Actor::Reporter],
            // Administrators manage accounts and catalogues, not matters.
            Role::Admin => &[],
        }
    }

    /// Whether an account of `role` can stand in this relation at all.
    pub fn played_by(self, role: Role) -> bool {
        Actor::for_role(role).contains(&self)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Actor {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Actor::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName::new("actor", s))
    }
}

/// A name that is not a state, action or actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

impl UnknownName {
    pub(crate) fn new(kind: &'static str, name: &str) -> Self {
        UnknownName {
            kind,
            name: name.to_string(),
        }
    }
}

/// One row of the table: in state `from`, any of `by` may take `action`,
/// which leaves the matter in state `to` (possibly `from` itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: State,
    pub action: Action,
    pub by: &'static [Actor],
    pub to: State,
}

impl Transition {
    /// Whether the action leaves the state as it is (a reminder, a request…).
    pub fn keeps_state(&self) -> bool {
        self.from == self.to
    }
}

/// Why an action was refused. Nothing is written either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nobody may do this in this state: a conflict with the matter's state
    /// (HTTP 409), typically because someone else acted first.
    #[error("{action} is not allowed on a matter in state {state}")]
    NotAllowedInState { state: State, action: Action },
    /// Someone may, but not the caller (HTTP 403).
    #[error("{action} on a matter in state {state} is not allowed for {actor}")]
    NotAllowedForActor {
        state: State,
        action: Action,
        actor: Actor,
    },
}

impl Refusal {
    /// A stable code for API errors.
    pub const fn code(&self) -> &'static str {
        match self {
            Refusal::NotAllowedInState { .. } => "action_not_allowed_in_state",
            Refusal::NotAllowedForActor { .. } => "action_not_allowed_for_actor",
        }
    }
}

use Action as A;
use Actor as R;
use State as S;

const OPERATOR: &[Actor] = &[R::CentreOperator];
const UNIT: &[Actor] = &[R::AssignedUnit];
const ON_SITE: &[Actor] = &[R::GridWorkerOnSite];
const REPORTER: &[Actor] = &[R::Reporter];
const VERIFIERS: &[Actor] = &[R::CentreOperator, R::GridWorkerOnSite];
const APPROVERS: &[Actor] = &[R::CentreOperator, R::HigherLevel];
const RESUMERS: &[Actor] = &[R::CentreOperator, R::AssignedUnit, R::HigherLevel];
const REMINDERS: &[Actor] = &[R::Reporter, R::CentreOperator, R::HigherLevel, R::System];
const SUPERVISORS: &[Actor] = &[R::HigherLevel];
const SYSTEM: &[Actor] = &[R::System];
const MEDIATION: &[Actor] = &[R::Mediation];

const fn t(from: State, action: Action, by: &'static [Actor], to: State) -> Transition {
    Transition {
        from,
        action,
        by,
        to,
    }
}

/// The workflow. At most one row per (state, action): the target depends on
/// the state and action only, the actor merely decides whether it is allowed.
///
/// Choices worth knowing:
/// - Self-resolution (自办结) closes the matter outright: the grid worker is
///   both the one who fixed it and the on-site verifier, the result photos
///   are in the log, and the reporter can still reopen it.
/// - Verification and closure are separate steps (handled → verified →
///   closed), so closing is the centre's act and cannot skip a check.
/// - A transfer moves the matter to another centre, which dispatches it
///   anew: from a returned matter or one the unit cannot solve at its level
///   the matter goes back to `registered`.
/// - A dispute (a category marked `is_dispute`) may be referred from
///   `registered` to a mediation committee: the matter waits `in_mediation`
///   without a handling deadline of its own (the case has one, so the
///   scheduler leaves it alone) and is closed by `mediation_ended` whatever
///   the outcome: an agreement, a withdrawal, or a failure whose referral
///   (arbitration, court, an administrative body) is recorded in the case
///   and in the entry; the reporter may still reopen it.
/// - Remind, supervise, escalate and the extension/suspension requests keep
///   the state; whether a request is pending, the reopen window and the
///   rating range are for the service layer to check.
pub const TRANSITIONS: &[Transition] = &[
    // Review.
    t(S::Reported, A::Register, OPERATOR, S::Registered),
    t(S::Reported, A::Reject, OPERATOR, S::Rejected),
    t(S::Reported, A::Merge, OPERATOR, S::Merged),
    t(S::Reported, A::SelfResolve, ON_SITE, S::Closed),
    t(S::Reported, A::TransferUp, OPERATOR, S::Reported),
    t(S::Reported, A::TransferDown, OPERATOR, S::Reported),
    t(S::Reported, A::TransferSideways, OPERATOR, S::Reported),
    t(S::Reported, A::Remind, REMINDERS, S::Reported),
    t(S::Reported, A::Supervise, SUPERVISORS, S::Reported),
    t(S::Reported, A::Escalate, SYSTEM, S::Reported),
    // Routing.
    t(S::Registered, A::Dispatch, OPERATOR, S::Dispatched),
    t(S::Registered, A::Merge, OPERATOR, S::Merged),
    t(S::Registered, A::TransferUp, OPERATOR, S::Registered),
    t(S::Registered, A::TransferDown, OPERATOR, S::Registered),
    t(S::Registered, A::TransferSideways, OPERATOR, S::Registered),
    t(S::Registered, A::Remind, REMINDERS, S::Registered),
    t(S::Registered, A::Supervise, SUPERVISORS, S::Registered),
    t(S::Registered, A::Escalate, SYSTEM, S::Registered),
    t(S::Registered, A::ReferToMediation, OPERATOR, S::InMediation),
    t(S::InMediation, A::MediationEnded, MEDIATION, S::Closed),
    t(S::InMediation, A::Supervise, SUPERVISORS, S::InMediation),
    t(S::Dispatched, A::Accept, UNIT, S::Accepted),
    t(S::Dispatched, A::Return, UNIT, S::Returned),
    t(S::Dispatched, A::Remind, REMINDERS, S::Dispatched),
    t(S::Dispatched, A::Supervise, SUPERVISORS, S::Dispatched),
    t(S::Dispatched, A::Escalate, SYSTEM, S::Dispatched),
    t(S::Returned, A::Dispatch, OPERATOR, S::Dispatched),
    t(S::Returned, A::TransferUp, OPERATOR, S::Registered),
    t(S::Returned, A::TransferDown, OPERATOR, S::Registered),
    t(S::Returned, A::TransferSideways, OPERATOR, S::Registered),
    t(S::Returned, A::Remind, REMINDERS, S::Returned),
    t(S::Returned, A::Supervise, SUPERVISORS, S::Returned),
    t(S::Returned, A::Escalate, SYSTEM, S::Returned),
    // Handling.
    t(S::Accepted, A::ReportHandled, UNIT, S::Handled),
    t(S::Accepted, A::ReportProgress, UNIT, S::Accepted),
    t(S::Accepted, A::TransferUp, UNIT, S::Registered),
    t(S::Accepted, A::RequestExtension, UNIT, S::Accepted),
    t(S::Accepted, A::ApproveExtension, APPROVERS, S::Accepted),
    t(S::Accepted, A::DenyExtension, APPROVERS, S::Accepted),
    t(S::Accepted, A::RequestSuspension, UNIT, S::Accepted),
    t(S::Accepted, A::ApproveSuspension, APPROVERS, S::Suspended),
    t(S::Accepted, A::DenySuspension, APPROVERS, S::Accepted),
    t(S::Accepted, A::Remind, REMINDERS, S::Accepted),
    t(S::Accepted, A::Supervise, SUPERVISORS, S::Accepted),
    t(S::Accepted, A::Escalate, SYSTEM, S::Accepted),
    t(S::Suspended, A::Resume, RESUMERS, S::Accepted),
    t(S::Suspended, A::Supervise, SUPERVISORS, S::Suspended),
    t(S::Rework, A::ReportHandled, UNIT, S::Handled),
    t(S::Rework, A::ReportProgress, UNIT, S::Rework),
    t(S::Rework, A::RequestExtension, UNIT, S::Rework),
    t(S::Rework, A::ApproveExtension, APPROVERS, S::Rework),
    t(S::Rework, A::DenyExtension, APPROVERS, S::Rework),
    t(S::Rework, A::Remind, REMINDERS, S::Rework),
    t(S::Rework, A::Supervise, SUPERVISORS, S::Rework),
    t(S::Rework, A::Escalate, SYSTEM, S::Rework),
    // Verification and closure.
    t(S::Handled, A::VerifyPass, VERIFIERS, S::Verified),
    t(S::Handled, A::VerifyFail, VERIFIERS, S::Rework),
    t(S::Handled, A::Remind, REMINDERS, S::Handled),
    t(S::Handled, A::Supervise, SUPERVISORS, S::Handled),
    t(S::Handled, A::Escalate, SYSTEM, S::Handled),
    t(S::Verified, A::Close, OPERATOR, S::Closed),
    t(S::Verified, A::Remind, REMINDERS, S::Verified),
    t(S::Verified, A::Supervise, SUPERVISORS, S::Verified),
    t(S::Verified, A::Escalate, SYSTEM, S::Verified),
    // Evaluation and reopening.
    t(S::Closed, A::Rate, REPORTER, S::Rated),
    t(S::Closed, A::Reopen, REPORTER, S::Reopened),
    t(S::Rated, A::Reopen, REPORTER, S::Reopened),
    // A reopened matter is reviewed again; closing it says the reopening was
    // unfounded and the earlier result stands.
    t(S::Reopened, A::Register, OPERATOR, S::Registered),
    t(S::Reopened, A::Dispatch, OPERATOR, S::Dispatched),
    t(S::Reopened, A::SelfResolve, ON_SITE, S::Closed),
    t(S::Reopened, A::Close, OPERATOR, S::Closed),
    t(S::Reopened, A::TransferUp, OPERATOR, S::Reopened),
    t(S::Reopened, A::TransferDown, OPERATOR, S::Reopened),
    t(S::Reopened, A::TransferSideways, OPERATOR, S::Reopened),
    t(S::Reopened, A::Remind, REMINDERS, S::Reopened),
    t(S::Reopened, A::Supervise, SUPERVISORS, S::Reopened),
    t(S::Reopened, A::Escalate, SYSTEM, S::Reopened),
];

/// The state of a new matter.
pub const INITIAL: State = State::Reported;

/// The row for `action` in state `from`, whoever acts.
pub fn transition(from: State, action: Action) -> Option<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.action == action)
}

/// The state `actor` taking `action` on a matter in state `from` leads to.
pub fn next(from: State, action: Action, actor: Actor) -> Result<State, Refusal> {
    let row = transition(from, action).ok_or(Refusal::NotAllowedInState {
        state: from,
        action,
    })?;
    if row.by.contains(&actor) {
        Ok(row.to)
    } else {
        Err(Refusal::NotAllowedForActor {
            state: from,
            action,
            actor,
        })
    }
}

/// The actions `actor` may take in state `from`, in table order.
pub fn allowed(from: State, actor: Actor) -> Vec<Action> {
    allowed_for_any(from, &[actor])
}

/// The actions a caller standing in any of `actors` may take in state
/// `from`, in table order, each once: what the API lists as `actions_allowed`.
pub fn allowed_for_any(from: State, actors: &[Actor]) -> Vec<Action> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from == from && actors.iter().any(|a| t.by.contains(a)))
        .map(|t| t.action)
        .collect()
}

/// The table as a Mermaid state diagram. Rows between the same two states
/// share one edge, labelled with their actions; who may take them is in the
/// table of [`document`].
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n    direction TB\n");
    for s in State::ALL {
        out.push_str(&format!(
            "    state \"{} {}\" as {}\n",
            s.as_str(),
            s.name_zh(),
            s.as_str()
        ));
    }
    out.push_str(&format!("    [*] --> {}\n", INITIAL.as_str()));
    let mut edges: Vec<(State, State, Vec<Action>)> = Vec::new();
    for row in TRANSITIONS {
        match edges
            .iter_mut()
            .find(|(from, to, _)| *from == row.from && *to == row.to)
        {
            Some((_, _, actions)) => actions.push(row.action),
            None => edges.push((row.from, row.to, vec![row.action])),
        }
    }
    for (from, to, actions) in edges {
        let label: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "    {} --> {}: {}\n",
            from.as_str(),
            to.as_str(),
            label.join(", ")
        ));
    }
    for s in State::ALL.into_iter().filter(|s| s.is_final()) {
        out.push_str(&format!("    {} --> [*]\n", s.as_str()));
    }
    out
}

/// `docs/workflow.md`: the diagram, the full table and the role map, all
/// rendered from the code so the docs cannot drift from it.
pub fn document() -> String {
    let mut out = String::new();
    out.push_str("# The matter workflow (事件流转)\n\n");
    out.push_str(
        "Generated from `crates/pingan-domain/src/workflow.rs` by `workflow::document()`; \
         do not edit by hand. To regenerate, run\n\
         `PINGAN_UPDATE_DOCS=1 cargo test -p pingan-domain workflow`.\n\n",
    );
    out.push_str(
        "Every action goes through the table, including those that keep the state \
         (reminders, supervision, escalation, extension and suspension requests), so \
         every action is logged the same way. An action not in the table for the \
         matter's state is refused with `action_not_allowed_in_state` (HTTP 409); one \
         in the table but not for the caller's relation to the matter with \
         `action_not_allowed_for_actor` (HTTP 403).\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n");
    out.push_str("## Transitions\n\n| From | Action | By | To |\n|---|---|---|---|\n");
    for row in TRANSITIONS {
        let by: Vec<&str> = row.by.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "| {} {} | {} {} | {} | {} {} |\n",
            row.from.as_str(),
            row.from.name_zh(),
            row.action.as_str(),
            row.action.name_zh(),
            by.join(", "),
            row.to.as_str(),
            row.to.name_zh()
        ));
    }
    out.push_str("\n## Actors\n\nAn actor is an account's relation to one matter; the service layer works it out. A role can stand only in these relations:\n\n| Actor | Meaning | Roles |\n|---|---|---|\n");
    for actor in Actor::ALL {
        let roles: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| actor.played_by(*r))
            .map(|r| r.as_str())
            .collect();
        let meaning = match actor {
            Actor::Reporter => {
                "filed the report (for a hotline call, the operator on the caller's behalf)"
            }
            Actor::CentreOperator => "operator of the centre holding the matter",
            Actor::AssignedUnit => "handler of the unit the matter is dispatched to",
            Actor::HigherLevel => "leader or operator of a centre above the one holding the matter",
            Actor::GridWorkerOnSite => "grid worker or chief of the matter's grid",
            Actor::System => "the scheduler (reminders, escalation by policy)",
            Actor::Mediation => {
                "a mediator ending the matter's mediation case (only through the case service)"
            }
        };
        out.push_str(&format!(
            "| {} {} | {} | {} |\n",
            actor.as_str(),
            actor.name_zh(),
            meaning,
            if roles.is_empty() {
                "—".to_string()
            } else {
                roles.join(", ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the table says for one cell, found by a plain scan.
    fn expected(from: State, action: Action, actor: Actor) -> Option<Option<State>> {
        let rows: Vec<_> = TRANSITIONS
            .iter()
            .filter(|t| t.from == from && t.action == action)
            .collect();
        match rows.as_slice() {
            [] => None,
            [row] => Some(row.by.contains(&actor).then_some(row.to)),
            _ => panic!("{from} × {action} has several rows"),
        }
    }

    #[test]
    fn every_cell_follows_the_table() {
        let mut allowed_cells = 0;
        for from in State::ALL {
            for action in Action::ALL {
                for actor in Actor::ALL {
                    let got = next(from, action, actor);
                    match expected(from, action, actor) {
                        None => assert_eq!(
                            got,
                            Err(Refusal::NotAllowedInState {
                                state: from,
                                action
                            }),
                            "{from} × {action} × {actor}"
                        ),
                        Some(None) => assert_eq!(
                            got,
                            Err(Refusal::NotAllowedForActor {
                                state: from,
                                action,
                                actor
                            }),
                            "{from} × {action} × {actor}"
                        ),
                        Some(Some(to)) => {
                            allowed_cells += 1;
                            assert_eq!(got, Ok(to), "{from} × {action} × {actor}");
                            assert!(allowed(from, actor).contains(&action));
                        }
                    }
                    if got.is_err() {
                        assert!(!allowed(from, actor).contains(&action));
                    }
                }
            }
        }
        let rows_times_actors: usize = TRANSITIONS.iter().map(|t| t.by.len()).sum();
        assert_eq!(allowed_cells, rows_times_actors);
    }

    #[test]
    fn table_is_well_formed() {
        for (i, row) in TRANSITIONS.iter().enumerate() {
            assert!(
                !row.by.is_empty(),
                "{} × {} has no actor",
                row.from,
                row.action
            );
            for later in &TRANSITIONS[i + 1..] {
                assert!(
                    !(later.from == row.from && later.action == row.action),
                    "{} × {} appears twice",
                    row.from,
                    row.action
                );
            }
            let mut by = row.by.to_vec();
            by.sort();
            by.dedup();
            assert_eq!(by.len(), row.by.len(), "{} × {}", row.from, row.action);
        }
        for action in Action::ALL {
            assert!(
                TRANSITIONS.iter().any(|t| t.action == action),
                "{action} is never allowed"
            );
        }
        // Escalation is the scheduler's alone, and the scheduler does nothing else
        // but remind.
        for row in TRANSITIONS {
            assert_eq!(row.action == Action::Escalate, row.by == [Actor::System]);
            if row.by.contains(&Actor::System) {
                assert!(matches!(row.action, Action::Escalate | Action::Remind));
                assert!(row.keeps_state());
            }
        }
    }

    fn reachable_from(start: State) -> Vec<State> {
        let mut seen = vec![start];
        let mut i = 0;
        while i < seen.len() {
            let s = seen[i];
            for row in TRANSITIONS.iter().filter(|t| t.from == s) {
                if !seen.contains(&row.to) {
                    seen.push(row.to);
                }
            }
            i += 1;
        }
        seen
    }

    #[test]
    fn every_state_is_reachable_and_every_open_one_can_close() {
        let from_start = reachable_from(INITIAL);
        for s in State::ALL {
            assert!(from_start.contains(&s), "{s} is unreachable");
            if !s.is_final() {
                assert!(
                    reachable_from(s).contains(&State::Closed),
                    "{s} can never be closed"
                );
            }
        }
    }

    #[test]
    fn rejected_and_merged_are_final_and_nothing_else_is() {
        let finals: Vec<State> = State::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [State::Rejected, State::Merged]);
        for s in finals {
            for actor in Actor::ALL {
                assert!(allowed(s, actor).is_empty());
                assert!(matches!(
                    next(s, Action::Remind, actor),
                    Err(Refusal::NotAllowedInState { .. })
                ));
            }
        }
    }

    #[test]
    fn the_end_to_end_path_of_the_issue_is_walkable() {
        use Action::*;
        use Actor::*;
        let path = [
            (Register, CentreOperator, State::Registered),
            (Dispatch, CentreOperator, State::Dispatched),
            (Return, AssignedUnit, State::Returned),
            (Dispatch, CentreOperator, State::Dispatched),
            (Accept, AssignedUnit, State::Accepted),
            (ReportHandled, AssignedUnit, State::Handled),
            (VerifyFail, GridWorkerOnSite, State::Rework),
            (ReportHandled, AssignedUnit, State::Handled),
            (VerifyPass, GridWorkerOnSite, State::Verified),
            (Close, CentreOperator, State::Closed),
            (Rate, Reporter, State::Rated),
        ];
        let mut state = INITIAL;
        for (action, actor, to) in path {
            state = next(state, action, actor).unwrap();
            assert_eq!(state, to, "after {action}");
        }
    }

    #[test]
    fn side_paths() {
        use Action::*;
        use Actor::*;
        let walk = |start: State, steps: &[(Action, Actor)]| {
            steps
                .iter()
                .try_fold(start, |s, (a, r)| next(s, *a, *r))
                .unwrap()
        };
        // Self-resolution closes; the reporter may still reopen and the
        // centre take it up again.
        assert_eq!(
            walk(
                State::Reported,
                &[
                    (SelfResolve, GridWorkerOnSite),
                    (Reopen, Reporter),
                    (Register, CentreOperator),
                    (Dispatch, CentreOperator),
                ]
            ),
            State::Dispatched
        );
        assert_eq!(
            walk(
                State::Accepted,
                &[
                    (RequestSuspension, AssignedUnit),
                    (ApproveSuspension, HigherLevel),
                    (Resume, AssignedUnit),
                    (RequestExtension, AssignedUnit),
                    (ApproveExtension, CentreOperator),
                    (Remind, System),
                    (Escalate, System),
                    (Supervise, HigherLevel),
                ]
            ),
            State::Accepted
        );
        assert_eq!(
            walk(State::Accepted, &[(TransferUp, AssignedUnit)]),
            State::Registered
        );
        // The unit may not close its own matter, nor the reporter verify it.
        assert!(matches!(
            next(State::Verified, Close, AssignedUnit),
            Err(Refusal::NotAllowedForActor { .. })
        ));
        assert!(matches!(
            next(State::Handled, VerifyPass, Reporter),
            Err(Refusal::NotAllowedForActor { .. })
        ));
        // Closing straight from handled skips verification: a state conflict.
        assert!(matches!(
            next(State::Handled, Close, CentreOperator),
            Err(Refusal::NotAllowedInState { .. })
        ));
    }

    #[test]
    fn several_relations_at_once() {
        let gw = Actor::for_role(Role::GridWorker);
        assert_eq!(
            allowed_for_any(State::Reported, gw),
            [Action::SelfResolve, Action::Remind]
        );
        assert_eq!(
            allowed_for_any(State::Closed, gw),
            [Action::Rate, Action::Reopen]
        );
        assert!(allowed_for_any(State::Reported, &[]).is_empty());
        assert!(Actor::for_role(Role::Admin).is_empty());
        for role in Role::ALL {
            assert!(!Actor::System.played_by(role));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        for r in Actor::ALL {
            assert_eq!(r.as_str().parse::<Actor>().unwrap(), r);
        }
        assert!("closed_ish".parse::<State>().is_err());
    }

    #[test]
    fn a_dispute_goes_to_mediation_and_closes_when_the_case_ends() {
        use Action::*;
        use Actor::*;
        let s = next(State::Registered, ReferToMediation, CentreOperator).unwrap();
        assert_eq!(s, State::InMediation);
        assert!(s.is_open());
        // Nobody but the case may end it; the scheduler has nothing to do there.
        for actor in [CentreOperator, AssignedUnit, HigherLevel, Reporter, System] {
            assert!(next(s, MediationEnded, actor).is_err());
        }
        assert!(matches!(
            next(s, Escalate, System),
            Err(Refusal::NotAllowedInState { .. })
        ));
        assert_eq!(next(s, MediationEnded, Mediation), Ok(State::Closed));
        assert!(matches!(
            next(State::Dispatched, ReferToMediation, CentreOperator),
            Err(Refusal::NotAllowedInState { .. })
        ));
        assert!(Mediation.played_by(Role::Mediator));
        assert!(!Mediation.played_by(Role::CentreOperator));
    }

    #[test]
    fn docs_are_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/workflow.md");
        let doc = document();
        if std::env::var_os("PINGAN_UPDATE_DOCS").is_some() {
            std::fs::write(path, &doc).unwrap();
            return;
        }
        assert!(
            include_str!("../../../docs/workflow.md") == doc,
            "docs/workflow.md is out of date; run PINGAN_UPDATE_DOCS=1 cargo test -p pingan-domain workflow"
        );
    }
}

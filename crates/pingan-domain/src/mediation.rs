//! People's mediation (人民调解): case types, committees' specialties, the
//! case workflow as one explicit transition table, the escalation ladder,
//! the judicial-confirmation deadline and the reminders a case owes.
//!
//! As for matters ([`crate::workflow`]), every change of a case is a row of
//! [`TRANSITIONS`] and is logged the same way; `docs/mediation.md` is
//! rendered from the table by [`document`], and a test fails when it is out
//! of date.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::LocalDate;
use crate::workflow::UnknownName;
use crate::Role;

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, [$($(#[$vmeta:meta])* $variant:ident = $text:literal, $zh:literal;)+]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub const fn name_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| UnknownName {
                        kind: $kind,
                        name: s.to_string(),
                    })
            }
        }
    };
}

named_enum!(
    /// The type of a dispute (纠纷类型).
    CaseType, "case type", [
        Neighbourhood = "neighbourhood", "邻里纠纷";
        FamilyMarriage = "family_marriage", "婚姻家庭纠纷";
        Land = "land", "土地纠纷";
        WageLabour = "wage_labour", "劳资纠纷（欠薪）";
        PropertyManagement = "property_management", "物业纠纷";
        Traffic = "traffic", "交通事故纠纷";
        Medical = "medical", "医疗纠纷";
        Consumer = "consumer", "消费纠纷";
        Construction = "construction", "建设工程纠纷";
        Other = "other", "其他纠纷";
    ]
);

named_enum!(
    /// What a mediation committee (人民调解委员会) takes on: the general
    /// committee of a village or township, or a professional one (行业性、专业性).
    Specialty, "specialty", [
        General = "general", "综合";
        Traffic = "traffic", "交通事故";
        Medical = "medical", "医疗纠纷";
        Construction = "construction", "建设工程";
        Labour = "labour", "劳动争议";
        Commercial = "commercial", "商事";
        Family = "family", "婚姻家庭";
    ]
);

named_enum!(
    /// How likely a dispute is to turn worse (风险等级): violence, a group
    /// petition, self-harm.
    RiskLevel, "risk level", [
        Low = "low", "低";
        Medium = "medium", "中";
        High = "high", "高";
    ]
);

named_enum!(
    /// Where a failed case is referred (告知救济途径).
    Referral, "referral", [
        Arbitration = "arbitration", "仲裁";
        Court = "court", "诉讼";
        Administrative = "administrative", "行政机关处理";
    ]
);

named_enum!(
    /// The form of an agreement (调解协议): written (书面, art. 28-29) or oral
    /// (口头, recorded by the mediator).
    AgreementForm, "agreement form", [
        Written = "written", "书面协议";
        Oral = "oral", "口头协议";
    ]
);

named_enum!(
    /// How a session is held (调解方式): in person, or by remote video through
    /// a meeting link (Pingan hosts no video).
    SessionMode, "session mode", [
        InPerson = "in_person", "现场调解";
        Video = "video", "远程视频调解";
    ]
);

named_enum!(
    /// The state of a mediation case (调解案件状态).
    CaseState, "case state", [
        /// Opened (受理), awaiting its first session.
        Accepted = "accepted", "已受理";
        /// Sessions scheduled or held.
        Mediating = "mediating", "调解中";
        /// An agreement was reached (written or oral); its performance is followed up.
        Agreed = "agreed", "达成协议";
        /// The parties applied jointly to a court for judicial confirmation.
        Confirming = "confirming", "司法确认中";
        /// The court confirmed the agreement.
        Confirmed = "confirmed", "已司法确认";
        /// No agreement; the parties were told where to turn. Final.
        Failed = "failed", "调解不成";
        /// A party withdrew (or the parties settled themselves). Final.
        Withdrawn = "withdrawn", "已撤回";
        /// Performed and archived (归档). Final.
        Closed = "closed", "已归档";
    ]
);

impl CaseState {
    /// Whether nothing more can happen to a case in this state.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from == self)
    }

    /// Whether the mediation itself has ended (with or without agreement):
    /// what the statistics count and what closes the matter.
    pub const fn has_ended(self) -> bool {
        !matches!(self, CaseState::Accepted | CaseState::Mediating)
    }

    /// Whether the case ended in an agreement.
    pub const fn is_success(self) -> bool {
        matches!(
            self,
            CaseState::Agreed | CaseState::Confirming | CaseState::Confirmed | CaseState::Closed
        )
    }
}

named_enum!(
    /// Something done to a case (调解操作). Each is logged as `case:<id>`.
    CaseAction, "case action", [
        /// Name the mediators who handle it.
        Assign = "assign", "指派调解员";
        /// Correct facts, claims, risk, parties' contact or the deadline.
        Update = "update", "更新案情";
        /// Plan a session: when, where or by which video link, with whom.
        ScheduleSession = "schedule_session", "安排调解";
        /// A session took place: attendees and minutes.
        RecordSession = "record_session", "记录调解";
        /// A planned session will not take place.
        CancelSession = "cancel_session", "取消调解";
        /// Refer the case to the committee one level up (小事不出村、大事不出镇).
        Escalate = "escalate", "上移";
        /// The parties agreed: written or oral.
        RecordAgreement = "record_agreement", "达成协议";
        /// No agreement: end with a referral.
        RecordFailure = "record_failure", "调解不成";
        /// A party withdrew.
        Withdraw = "withdraw", "撤回";
        /// A visit on the agreement's performance (回访).
        FollowUp = "follow_up", "回访";
        /// The parties' joint application to a court (申请司法确认).
        ApplyConfirmation = "apply_confirmation", "申请司法确认";
        /// The court confirmed the agreement as valid.
        ConfirmationGranted = "confirmation_granted", "确认有效";
        /// The court refused to confirm it.
        ConfirmationRefused = "confirmation_refused", "不予确认";
        /// Archive a performed case.
        Close = "close", "归档";
        /// A reminder: a session near, the case deadline near, the
        /// confirmation deadline near or reached.
        Remind = "remind", "提醒";
    ]
);

named_enum!(
    /// The part an account plays towards one case (案件关系), worked out by the
    /// service layer as for matters.
    CaseActor, "case actor", [
        /// A mediator of the committee holding the case.
        CommitteeMediator = "committee_mediator", "本委员会调解员";
        /// A mediator assigned to the case.
        AssignedMediator = "assigned_mediator", "承办调解员";
        /// A leader or centre operator whose region holds the committee.
        Supervisor = "supervisor", "上级";
        /// The scheduler.
        System = "system", "系统";
    ]
);

impl CaseActor {
    /// The relations an account of `role` can ever stand in.
    pub const fn for_role(role: Role) -> &'static [CaseActor] {
        match role {
            Role::Mediator => &[CaseActor::CommitteeMediator, CaseActor::AssignedMediator],
            Role::Leader | Role::CentreOperator => &[CaseActor::Supervisor],
            _ => &[],
        }
    }

    pub fn played_by(self, role: Role) -> bool {
        CaseActor::for_role(role).contains(&self)
    }
}

/// One row of the case table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaseTransition {
    pub from: CaseState,
    pub action: CaseAction,
    pub by: &'static [CaseActor],
    pub to: CaseState,
}

/// Why a case action was refused; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaseRefusal {
    /// HTTP 409: nobody may do this in this state.
    #[error("{action} is not allowed on a case in state {state}")]
    NotAllowedInState {
        state: CaseState,
        action: CaseAction,
    },
    /// HTTP 403: someone may, not the caller.
    #[error("{action} on a case in state {state} is not allowed for {actor}")]
    NotAllowedForActor {
        state: CaseState,
        action: CaseAction,
        actor: CaseActor,
    },
}

impl CaseRefusal {
    pub const fn code(&self) -> &'static str {
        match self {
            CaseRefusal::NotAllowedInState { .. } => "case_action_not_allowed_in_state",
            CaseRefusal::NotAllowedForActor { .. } => "case_action_not_allowed_for_actor",
        }
    }
}

use CaseAction as A;
use CaseActor as R;
use CaseState as S;

const COMMITTEE: &[CaseActor] = &[R::CommitteeMediator, R::AssignedMediator];
const ASSIGNED: &[CaseActor] = &[R::AssignedMediator];
const ASSIGNERS: &[CaseActor] = &[R::CommitteeMediator, R::Supervisor];
const ESCALATORS: &[CaseActor] = &[R::AssignedMediator, R::CommitteeMediator, R::Supervisor];
const REMINDERS: &[CaseActor] = &[R::Supervisor, R::System];

const fn t(
    from: CaseState,
    action: CaseAction,
    by: &'static [CaseActor],
    to: CaseState,
) -> CaseTransition {
    CaseTransition {
        from,
        action,
        by,
        to,
    }
}

/// The case workflow: at most one row per (state, action).
///
/// Choices worth knowing:
/// - Scheduling the first session starts the mediation (accepted → mediating).
/// - Escalation hands the case to the committee one level up (village →
///   township → county) and starts it afresh there (`accepted`), its
///   mediators to be assigned by the new committee; every step is logged.
/// - Agreement, failure and withdrawal end the mediation: the case's matter,
///   if any, is closed with the outcome (`mediation_ended`).
/// - Judicial confirmation is a side track of a written agreement:
///   applying, then the court's result; a refusal returns the case to
///   `agreed` with the result recorded.
pub const TRANSITIONS: &[CaseTransition] = &[
    t(S::Accepted, A::Assign, ASSIGNERS, S::Accepted),
    t(S::Accepted, A::Update, COMMITTEE, S::Accepted),
    t(S::Accepted, A::ScheduleSession, ASSIGNED, S::Mediating),
    t(S::Accepted, A::Escalate, ESCALATORS, S::Accepted),
    t(S::Accepted, A::Withdraw, COMMITTEE, S::Withdrawn),
    t(S::Accepted, A::Remind, REMINDERS, S::Accepted),
    t(S::Mediating, A::Assign, ASSIGNERS, S::Mediating),
    t(S::Mediating, A::Update, COMMITTEE, S::Mediating),
    t(S::Mediating, A::ScheduleSession, ASSIGNED, S::Mediating),
    t(S::Mediating, A::RecordSession, ASSIGNED, S::Mediating),
    t(S::Mediating, A::CancelSession, ASSIGNED, S::Mediating),
    t(S::Mediating, A::Escalate, ESCALATORS, S::Accepted),
    t(S::Mediating, A::RecordAgreement, ASSIGNED, S::Agreed),
    t(S::Mediating, A::RecordFailure, ASSIGNED, S::Failed),
    t(S::Mediating, A::Withdraw, COMMITTEE, S::Withdrawn),
    t(S::Mediating, A::Remind, REMINDERS, S::Mediating),
    t(S::Agreed, A::FollowUp, COMMITTEE, S::Agreed),
    t(S::Agreed, A::ApplyConfirmation, COMMITTEE, S::Confirming),
    t(S::Agreed, A::Close, COMMITTEE, S::Closed),
    t(S::Agreed, A::Remind, REMINDERS, S::Agreed),
    t(S::Confirming, A::FollowUp, COMMITTEE, S::Confirming),
    t(
        S::Confirming,
        A::ConfirmationGranted,
        COMMITTEE,
        S::Confirmed,
    ),
    t(S::Confirming, A::ConfirmationRefused, COMMITTEE, S::Agreed),
    t(S::Confirmed, A::FollowUp, COMMITTEE, S::Confirmed),
    t(S::Confirmed, A::Close, COMMITTEE, S::Closed),
];

/// The state of a new case.
pub const INITIAL: CaseState = CaseState::Accepted;

pub fn transition(from: CaseState, action: CaseAction) -> Option<&'static CaseTransition> {
    TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.action == action)
}

/// The state `actor` taking `action` on a case in state `from` leads to.
pub fn next(
    from: CaseState,
    action: CaseAction,
    actor: CaseActor,
) -> Result<CaseState, CaseRefusal> {
    let row = transition(from, action).ok_or(CaseRefusal::NotAllowedInState {
        state: from,
        action,
    })?;
    if row.by.contains(&actor) {
        Ok(row.to)
    } else {
        Err(CaseRefusal::NotAllowedForActor {
            state: from,
            action,
            actor,
        })
    }
}

/// The actions a caller standing in any of `actors` may take, in table order.
pub fn allowed_for_any(from: CaseState, actors: &[CaseActor]) -> Vec<CaseAction> {
    TRANSITIONS
        .iter()
        .filter(|t| t.from == from && actors.iter().any(|a| t.by.contains(a)))
        .map(|t| t.action)
        .collect()
}

/// What the service layer knows of a caller's relation to one case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseRelation {
    /// The caller's unit is the committee holding the case.
    pub in_committee: bool,
    /// The caller is one of the case's mediators.
    pub assigned: bool,
    /// The caller's scope covers the holding committee's region.
    pub supervises: bool,
}

/// The actors a caller of `role` stands in for a case.
pub fn actors(role: Role, rel: &CaseRelation) -> Vec<CaseActor> {
    CaseActor::for_role(role)
        .iter()
        .copied()
        .filter(|a| match a {
            CaseActor::CommitteeMediator => rel.in_committee,
            CaseActor::AssignedMediator => rel.in_committee && rel.assigned,
            CaseActor::Supervisor => rel.supervises,
            CaseActor::System => false,
        })
        .collect()
}

/// The region of the committee one level up (上移): a village's township, a
/// township's county. A county committee is the top of the ladder
/// (大事不出镇: what the county cannot settle goes to court or arbitration).
pub fn region_above(region_prefix: &str) -> Option<&str> {
    match region_prefix.len() {
        12 => Some(&region_prefix[..9]),
        9 => Some(&region_prefix[..6]),
        _ => None,
    }
}

/// Whether a committee at a region of this prefix counts as "township or
/// below" (乡镇及以下) for the indicators.
pub fn at_township_or_below(region_prefix: &str) -> bool {
    region_prefix.len() >= 9
}

/// Days the parties have to apply jointly for judicial confirmation after
/// the agreement takes effect (人民调解法 art. 33).
pub const CONFIRMATION_DAYS: i64 = 30;

/// The last day to apply for judicial confirmation: the effective date plus
/// 30 calendar days.
pub fn confirmation_deadline(effective: LocalDate) -> LocalDate {
    effective.add_days(CONFIRMATION_DAYS)
}

/// The default time a case has (调解期限), in calendar days from opening;
/// the committee may set another when opening or updating it.
pub const DEFAULT_CASE_DAYS: i64 = 30;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A reminder a case owes (提醒), keyed so that it is sent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Stable key, e.g. `session:3`, `deadline`, `confirmation:7d`.
    pub key: String,
    /// When it is due (ms, UTC).
    pub at: i64,
    pub title_zh: String,
    pub title_en: String,
}

/// A planned session as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedSession {
    pub id: i64,
    pub at: i64,
}

/// The times a case's reminders hang on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseClock {
    pub state: CaseState,
    /// The case deadline (ms, UTC).
    pub deadline: i64,
    /// Sessions still planned.
    pub sessions: Vec<PlannedSession>,
    /// The confirmation deadline's day, for a written agreement not yet
    /// sent to court.
    pub confirmation_deadline: Option<LocalDate>,
}

/// Sessions are announced a day ahead.
pub const SESSION_NOTICE_MS: i64 = DAY;
/// The case deadline is announced three days ahead.
pub const DEADLINE_NOTICE_MS: i64 = 3 * DAY;
/// The confirmation deadline is announced 7 days ahead and on the day.
pub const CONFIRMATION_NOTICE_DAYS: i64 = 7;

/// Every reminder the case owes in its state, sent or not, soonest first.
pub fn reminders(clock: &CaseClock) -> Vec<Reminder> {
    let mut out = Vec::new();
    if matches!(clock.state, CaseState::Accepted | CaseState::Mediating) {
        for s in &clock.sessions {
            out.push(Reminder {
                key: format!("session:{}", s.id),
                at: s.at - SESSION_NOTICE_MS,
                title_zh: "调解会议将于一天内举行".into(),
                title_en: "a mediation session takes place within a day".into(),
            });
        }
        out.push(Reminder {
            key: "deadline".into(),
            at: clock.deadline - DEADLINE_NOTICE_MS,
            title_zh: "调解期限将在三天内届满".into(),
            title_en: "the case's deadline is three days away".into(),
        });
    }
    if clock.state == CaseState::Agreed {
        if let Some(last) = clock.confirmation_deadline {
            // 08:00 Beijing time of the day: reminders arrive in working hours.
            let morning = |d: LocalDate| d.start_utc_ms() + 8 * HOUR;
            out.push(Reminder {
                key: format!("confirmation:{CONFIRMATION_NOTICE_DAYS}d"),
                at: morning(last.add_days(-CONFIRMATION_NOTICE_DAYS)),
                title_zh: "司法确认申请期限还有7天".into(),
                title_en: "7 days left to apply for judicial confirmation".into(),
            });
            out.push(Reminder {
                key: "confirmation:0d".into(),
                at: morning(last),
                title_zh: "今天是申请司法确认的最后一天".into(),
                title_en: "today is the last day to apply for judicial confirmation".into(),
            });
        }
    }
    out.sort_by_key(|r| r.at);
    out
}

/// The reminders not yet sent whose time has come by `now`, and when the
/// scheduler must look next.
pub fn due_reminders(clock: &CaseClock, sent: &[String], now: i64) -> (Vec<Reminder>, Option<i64>) {
    let pending: Vec<Reminder> = reminders(clock)
        .into_iter()
        .filter(|r| !sent.contains(&r.key))
        .collect();
    let next = pending.iter().map(|r| r.at).find(|at| *at > now);
    (pending.into_iter().filter(|r| r.at <= now).collect(), next)
}

/// The case as rows of a Mermaid diagram, edges labelled with actions.
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n    direction TB\n");
    for s in CaseState::ALL {
        out.push_str(&format!(
            "    state \"{} {}\" as {}\n",
            s.as_str(),
            s.name_zh(),
            s.as_str()
        ));
    }
    out.push_str(&format!("    [*] --> {}\n", INITIAL.as_str()));
    let mut edges: Vec<(CaseState, CaseState, Vec<CaseAction>)> = Vec::new();
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
    for s in CaseState::ALL.iter().filter(|s| s.is_final()) {
        out.push_str(&format!("    {} --> [*]\n", s.as_str()));
    }
    out
}

/// `docs/mediation.md`, rendered from the table.
pub fn document() -> String {
    let mut out = String::new();
    out.push_str("# The mediation case workflow (人民调解案件流转)\n\n");
    out.push_str(
        "Generated from `crates/pingan-domain/src/mediation.rs` by `mediation::document()`; \
         do not edit by hand. To regenerate, run\n\
         `PINGAN_UPDATE_DOCS=1 cargo test -p pingan-domain mediation`.\n\n",
    );
    out.push_str(
        "A case opens `accepted`, from a matter of a dispute category (the matter waits \
         `in_mediation`, see [workflow.md](workflow.md)) or directly for a walk-in. Every action \
         is a row of this table and a chained log entry with subject `case:<id>`. An action not \
         in the table for the case's state is refused with `case_action_not_allowed_in_state` \
         (HTTP 409); one in the table but not for the caller with \
         `case_action_not_allowed_for_actor` (HTTP 403). Agreement, failure and withdrawal \
         end the mediation and close the case's matter (`mediation_ended`). Judicial \
         confirmation must be applied for within 30 calendar days of a written agreement \
         taking effect; the scheduler reminds 7 days before and on the last day.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&mermaid());
    out.push_str("```\n\n## Transitions\n\n| From | Action | By | To |\n|---|---|---|---|\n");
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
    out.push_str("\n## Actors\n\n| Actor | Meaning | Roles |\n|---|---|---|\n");
    for actor in CaseActor::ALL {
        let roles: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| actor.played_by(*r))
            .map(|r| r.as_str())
            .collect();
        let meaning = match actor {
            CaseActor::CommitteeMediator => "mediator of the committee holding the case",
            CaseActor::AssignedMediator => "mediator assigned to the case",
            CaseActor::Supervisor => {
                "leader or centre operator whose scope covers the holding committee's region"
            }
            CaseActor::System => "the scheduler (session, deadline and confirmation reminders)",
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
    out.push_str("\n## Types, specialties, referrals\n\n");
    let list = |items: Vec<(&str, &str)>| {
        items
            .iter()
            .map(|(a, z)| format!("`{a}` {z}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "- Case types: {}\n",
        list(
            CaseType::ALL
                .iter()
                .map(|x| (x.as_str(), x.name_zh()))
                .collect()
        )
    ));
    out.push_str(&format!(
        "- Committee specialties: {}\n",
        list(
            Specialty::ALL
                .iter()
                .map(|x| (x.as_str(), x.name_zh()))
                .collect()
        )
    ));
    out.push_str(&format!(
        "- Risk levels: {}\n",
        list(
            RiskLevel::ALL
                .iter()
                .map(|x| (x.as_str(), x.name_zh()))
                .collect()
        )
    ));
    out.push_str(&format!(
        "- Referrals on failure: {}\n",
        list(
            Referral::ALL
                .iter()
                .map(|x| (x.as_str(), x.name_zh()))
                .collect()
        )
    ));
    out.push_str(
        "- Escalation: village committee → township committee → county committee \
         (小事不出村、大事不出镇).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(
        from: CaseState,
        action: CaseAction,
        actor: CaseActor,
    ) -> Option<Option<CaseState>> {
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
        for &from in CaseState::ALL {
            for &action in CaseAction::ALL {
                for &actor in CaseActor::ALL {
                    let got = next(from, action, actor);
                    match expected(from, action, actor) {
                        None => assert_eq!(
                            got,
                            Err(CaseRefusal::NotAllowedInState {
                                state: from,
                                action
                            })
                        ),
                        Some(None) => assert_eq!(
                            got,
                            Err(CaseRefusal::NotAllowedForActor {
                                state: from,
                                action,
                                actor
                            })
                        ),
                        Some(Some(to)) => {
                            allowed_cells += 1;
                            assert_eq!(got, Ok(to));
                            assert!(allowed_for_any(from, &[actor]).contains(&action));
                        }
                    }
                    if got.is_err() {
                        assert!(!allowed_for_any(from, &[actor]).contains(&action));
                    }
                }
            }
        }
        let cells: usize = TRANSITIONS.iter().map(|t| t.by.len()).sum();
        assert_eq!(allowed_cells, cells);
    }

    #[test]
    fn table_is_well_formed_and_complete() {
        for (i, row) in TRANSITIONS.iter().enumerate() {
            assert!(!row.by.is_empty());
            for later in &TRANSITIONS[i + 1..] {
                assert!(!(later.from == row.from && later.action == row.action));
            }
            // The scheduler only reminds.
            if row.by.contains(&CaseActor::System) {
                assert_eq!(row.action, CaseAction::Remind);
                assert_eq!(row.from, row.to);
            }
        }
        for action in CaseAction::ALL {
            assert!(TRANSITIONS.iter().any(|t| t.action == *action), "{action}");
        }
        let finals: Vec<CaseState> = CaseState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [CaseState::Failed, CaseState::Withdrawn, CaseState::Closed]
        );
        // Every state is reachable, and every row that ends the mediation
        // starts from a state that had not ended.
        let mut seen = vec![INITIAL];
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
        assert_eq!(seen.len(), CaseState::ALL.len());
        for row in TRANSITIONS {
            if row.to.has_ended() && !row.from.has_ended() {
                assert!(matches!(
                    row.action,
                    CaseAction::RecordAgreement | CaseAction::RecordFailure | CaseAction::Withdraw
                ));
            }
        }
    }

    #[test]
    fn lifecycle_and_refusals() {
        use CaseAction::*;
        use CaseActor::*;
        let path = [
            (Assign, CommitteeMediator, CaseState::Accepted),
            (ScheduleSession, AssignedMediator, CaseState::Mediating),
            (RecordSession, AssignedMediator, CaseState::Mediating),
            (RecordAgreement, AssignedMediator, CaseState::Agreed),
            (Remind, System, CaseState::Agreed),
            (ApplyConfirmation, AssignedMediator, CaseState::Confirming),
            (ConfirmationGranted, CommitteeMediator, CaseState::Confirmed),
            (FollowUp, AssignedMediator, CaseState::Confirmed),
            (Close, AssignedMediator, CaseState::Closed),
        ];
        let mut s = INITIAL;
        for (action, actor, to) in path {
            s = next(s, action, actor).unwrap();
            assert_eq!(s, to, "after {action}");
        }
        // Only an assigned mediator records what happened in a session.
        assert!(matches!(
            next(CaseState::Mediating, RecordAgreement, CommitteeMediator),
            Err(CaseRefusal::NotAllowedForActor { .. })
        ));
        assert!(matches!(
            next(CaseState::Mediating, RecordAgreement, Supervisor),
            Err(CaseRefusal::NotAllowedForActor { .. })
        ));
        // No agreement without a session; nothing after failure.
        assert!(matches!(
            next(CaseState::Accepted, RecordAgreement, AssignedMediator),
            Err(CaseRefusal::NotAllowedInState { .. })
        ));
        assert!(matches!(
            next(CaseState::Failed, Escalate, Supervisor),
            Err(CaseRefusal::NotAllowedInState { .. })
        ));
        assert_eq!(
            next(CaseState::Mediating, Escalate, Supervisor),
            Ok(CaseState::Accepted)
        );
        assert_eq!(
            next(CaseState::Confirming, ConfirmationRefused, AssignedMediator),
            Ok(CaseState::Agreed)
        );
    }

    #[test]
    fn relations_select_actors() {
        let rel = CaseRelation {
            in_committee: true,
            assigned: false,
            supervises: false,
        };
        assert_eq!(actors(Role::Mediator, &rel), [CaseActor::CommitteeMediator]);
        let assigned_elsewhere = CaseRelation {
            in_committee: false,
            assigned: true,
            supervises: true,
        };
        assert!(actors(Role::Mediator, &assigned_elsewhere).is_empty());
        assert_eq!(
            actors(Role::Leader, &assigned_elsewhere),
            [CaseActor::Supervisor]
        );
        assert!(actors(Role::GridWorker, &assigned_elsewhere).is_empty());
    }

    #[test]
    fn ladder_and_confirmation_deadline() {
        assert_eq!(region_above("330102001001"), Some("330102001"));
        assert_eq!(region_above("330102001"), Some("330102"));
        assert_eq!(region_above("330102"), None);
        assert!(at_township_or_below("330102001"));
        assert!(!at_township_or_below("330102"));
        let d = LocalDate::new(2026, 1, 15).unwrap();
        assert_eq!(
            confirmation_deadline(d),
            LocalDate::new(2026, 2, 14).unwrap()
        );
        // Across a month end and a leap day.
        assert_eq!(
            confirmation_deadline(LocalDate::new(2028, 2, 10).unwrap()),
            LocalDate::new(2028, 3, 11).unwrap()
        );
    }

    #[test]
    fn reminders_come_once_each() {
        let last = LocalDate::new(2026, 3, 31).unwrap();
        let clock = CaseClock {
            state: CaseState::Agreed,
            deadline: 0,
            sessions: vec![PlannedSession { id: 1, at: 5 }],
            confirmation_deadline: Some(last),
        };
        let rs = reminders(&clock);
        assert_eq!(
            rs.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["confirmation:7d", "confirmation:0d"],
            "sessions and the case deadline are over once agreed"
        );
        let week_before = last.add_days(-7).start_utc_ms() + 8 * HOUR;
        let (due, next) = due_reminders(&clock, &[], week_before - 1);
        assert!(due.is_empty());
        assert_eq!(next, Some(week_before));
        let (due, next) = due_reminders(&clock, &[], week_before);
        assert_eq!(due.len(), 1);
        assert_eq!(next, Some(last.start_utc_ms() + 8 * HOUR));
        let (due, next) = due_reminders(
            &clock,
            &["confirmation:7d".into(), "confirmation:0d".into()],
            i64::MAX,
        );
        assert!(due.is_empty() && next.is_none());

        let open = CaseClock {
            state: CaseState::Mediating,
            deadline: 10 * DAY,
            sessions: vec![PlannedSession { id: 4, at: 2 * DAY }],
            confirmation_deadline: None,
        };
        let (due, next) = due_reminders(&open, &[], DAY);
        assert_eq!(due[0].key, "session:4");
        assert_eq!(next, Some(7 * DAY));
    }

    #[test]
    fn names_round_trip() {
        for x in CaseType::ALL {
            assert_eq!(x.as_str().parse::<CaseType>().unwrap(), *x);
        }
        for x in CaseAction::ALL {
            assert_eq!(x.as_str().parse::<CaseAction>().unwrap(), *x);
        }
        assert!("riot".parse::<CaseType>().is_err());
        assert_eq!(CaseType::ALL.len(), 10);
        assert_eq!(Specialty::ALL.len(), 7);
    }

    #[test]
    fn docs_are_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/mediation.md");
        let doc = document();
        if std::env::var_os("PINGAN_UPDATE_DOCS").is_some() {
            std::fs::write(path, &doc).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == doc,
            "docs/mediation.md is out of date; run PINGAN_UPDATE_DOCS=1 cargo test -p pingan-domain mediation"
        );
    }
}

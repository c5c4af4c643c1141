//! Notifications: who hears about what happens to a matter, what they are
//! told, who sees which feed, and how often a failing webhook is retried.
//! The notifier reads the event log and asks [`notices_for`] what each
//! entry means; everything here is pure so the rules can be tested alone.
use std::fmt;

use crate::matter::{holder_above, initial_holder};
use crate::workflow::Action;
use crate::Role;

/// What a notification is about (通知类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// Something now waits for the audience: to register, accept or verify.
    NewTask,
    /// A deadline is near, or someone asked for haste.
    Reminder,
    /// The unit sent the matter back to the centre.
    Returned,
    /// The matter moved up to the audience's centre.
    Escalated,
    /// The reporter rated the outcome.
    Rated,
    /// The handling deadline has passed.
    Overdue,
    /// Verification failed; the unit must handle it again.
    Rework,
    /// An immediate warning (即时预警): a report of a red-flag category, or
    /// the Nth similar report in a village within the window.
    Alert,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 8] = [
        NoticeKind::NewTask,
        NoticeKind::Reminder,
        NoticeKind::Returned,
        NoticeKind::Escalated,
        NoticeKind::Rated,
        NoticeKind::Overdue,
        NoticeKind::Rework,
        NoticeKind::Alert,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NewTask => "new_task",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Returned => "returned",
            NoticeKind::Escalated => "escalated",
            NoticeKind::Rated => "rated",
            NoticeKind::Overdue => "overdue",
            NoticeKind::Rework => "rework",
            NoticeKind::Alert => "alert",
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown notification kind {0:?}; expected * or some of new_task, reminder, returned, escalated, rated, overdue, rework, alert")]
pub struct UnknownKind(pub String);

impl std::str::FromStr for NoticeKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NoticeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Whom a notification is for (通知对象): one account, every account of a
/// unit, or the operators of the centre at a region prefix. Addressing units
/// and centres rather than people keeps the feed right when staff change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    Account(i64),
    Unit(i64),
    Centre(String),
}

impl Audience {
    /// The stored form: `account:<id>`, `unit:<id>` or `centre:<prefix>`.
    pub fn as_text(&self) -> String {
        match self {
            Audience::Account(id) => format!("account:{id}"),
            Audience::Unit(id) => format!("unit:{id}"),
            Audience::Centre(prefix) => format!("centre:{prefix}"),
        }
    }
}

/// The audiences whose notifications an account sees: its own, its unit's,
/// and its centre's when it is a centre operator (the centre being the region
/// of its scope, as for holding a matter).
pub fn audiences_of(
    account_id: i64,
    role: Role,
    unit_id: Option<i64>,
    scope_prefix: &str,
) -> Vec<Audience> {
    let mut out = vec![Audience::Account(account_id)];
    if let Some(unit) = unit_id {
        out.push(Audience::Unit(unit));
    }
    if role == Role::CentreOperator {
        out.push(Audience::Centre(scope_prefix.to_string()));
    }
    out
}

/// The scheduler's `reason` in the body of an escalation for a passed deadline.
pub const OVERDUE_REASON: &str = "overdue";
/// The scheduler's `reason` in the body of a reminder before the deadline.
pub const DEADLINE_NEAR_REASON: &str = "deadline near";
/// The log action of a new report (it is not a workflow action: it creates the matter).
pub const REPORT_ACTION: &str = "report";

/// What the notifier knows of one log entry about a matter: facts the
/// entry's body carries, and the matter as it stands now for the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatterEvent<'a> {
    pub matter_id: i64,
    /// The log entry's action, e.g. `dispatch`.
    pub action: &'a str,
    /// `unit_id` of the body: the unit a dispatch sent the matter to.
    pub dispatched_unit: Option<i64>,
    /// `holder` of the body: the centre a transfer handed the matter to.
    pub new_holder: Option<&'a str>,
    /// `holder_before` of the body: the holder a system escalation moved from.
    pub holder_before: Option<&'a str>,
    /// `reason` of the body (the scheduler's).
    pub reason: Option<&'a str>,
    /// `rating` of the body.
    pub rating: Option<i64>,
    /// `grid_code` of the body of a report.
    pub grid_code: Option<&'a str>,
    /// The centre holding the matter now.
    pub current_holder: &'a str,
    /// The unit the matter is dispatched to now.
    pub current_unit: Option<i64>,
}

/// One notification to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub audience: Audience,
    pub kind: NoticeKind,
    pub title_zh: String,
    pub title_en: String,
}

/// The notifications one log entry gives; most give none. Facts the entry
/// carries win over the matter's current state, which can have moved on
/// before the notifier reads the entry.
pub fn notices_for(e: &MatterEvent<'_>) -> Vec<Notice> {
    let id = e.matter_id;
    let centre = |prefix: &str| Audience::Centre(prefix.to_string());
    // A unit if the matter has one, else the centre holding it.
    let unit_or_centre = |holder: &str| match e.current_unit {
        Some(unit) => Audience::Unit(unit),
        None => centre(holder),
    };
    let notice = |audience: Audience, kind: NoticeKind, zh: String, en: String| Notice {
        audience,
        kind,
        title_zh: zh,
        title_en: en,
    };
    if e.action == REPORT_ACTION {
        let holder = e.grid_code.map_or(e.current_holder, initial_holder);
        return vec![notice(
            centre(holder),
            NoticeKind::NewTask,
            format!("新任务：事件 #{id} 待受理"),
            format!("New task: matter #{id} to accept"),
        )];
    }
    let Ok(action) = e.action.parse::<Action>() else {
        return Vec::new();
    };
    match action {
        Action::Dispatch => e
            .dispatched_unit
            .or(e.current_unit)
            .map(|unit| {
                notice(
                    Audience::Unit(unit),
                    NoticeKind::NewTask,
                    format!("新任务：事件 #{id} 已派遣至本单位，待签收"),
                    format!("New task: matter #{id} dispatched to your unit"),
                )
            })
            .into_iter()
            .collect(),
        Action::TransferUp => vec![notice(
            centre(e.new_holder.unwrap_or(e.current_holder)),
            NoticeKind::Escalated,
            format!("上报：事件 #{id} 已上报至本中心"),
            format!("Escalated: matter #{id} handed up to your centre"),
        )],
        Action::TransferDown | Action::TransferSideways => vec![notice(
            centre(e.new_holder.unwrap_or(e.current_holder)),
            NoticeKind::NewTask,
            format!("新任务：事件 #{id} 已转交本中心"),
            format!("New task: matter #{id} handed to your centre"),
        )],
        Action::Escalate => {
            let before = e.holder_before.unwrap_or(e.current_holder);
            // The scheduler moves it one level up; the top level keeps it.
            let up = e
                .new_holder
                .or_else(|| holder_above(before))
                .unwrap_or(before);
            let mut out = Vec::with_capacity(2);
            if e.reason == Some(OVERDUE_REASON) {
                out.push(notice(
                    unit_or_centre(before),
                    NoticeKind::Overdue,
                    format!("超期：事件 #{id} 已超过办理时限"),
                    format!("Overdue: matter #{id} is past its deadline"),
                ));
            }
            out.push(notice(
                centre(up),
                NoticeKind::Escalated,
                format!("升级：事件 #{id} 未按时办理，已升级至本中心"),
                format!("Escalated: matter #{id} was not done in time and moved up to your centre"),
            ));
            out
        }
        Action::Remind => {
            let (zh, en) = if e.reason == Some(DEADLINE_NEAR_REASON) {
                (
                    format!("催办：事件 #{id} 即将到期"),
                    format!("Reminder: matter #{id} is nearly due"),
                )
            } else {
                (
                    format!("催办：事件 #{id} 请尽快办理"),
                    format!("Reminder: matter #{id} needs attention"),
                )
            };
            vec![notice(
                unit_or_centre(e.current_holder),
                NoticeKind::Reminder,
                zh,
                en,
            )]
        }
        Action::Return => vec![notice(
            centre(e.current_holder),
            NoticeKind::Returned,
            format!("退回：事件 #{id} 被承办单位退回，待重新派遣"),
            format!("Returned: matter #{id} was sent back by the unit"),
        )],
        Action::ReportHandled => vec![notice(
            centre(e.current_holder),
            NoticeKind::NewTask,
            format!("新任务：事件 #{id} 已处置，待核查"),
            format!("New task: matter #{id} handled, to verify"),
        )],
        Action::VerifyFail => vec![notice(
            unit_or_centre(e.current_holder),
            NoticeKind::Rework,
            format!("返工：事件 #{id} 核查未通过，请重新处置"),
            format!("Rework: matter #{id} failed verification"),
        )],
        Action::Rate => {
            let (zh, en) = match e.rating {
                Some(r) => (
                    format!("评价：事件 #{id} 获评 {r} 分"),
                    format!("Rated: matter #{id} was rated {r} of 5"),
                ),
                None => (
                    format!("评价：事件 #{id} 已获评价"),
                    format!("Rated: matter #{id} was rated"),
                ),
            };
            vec![notice(
                unit_or_centre(e.current_holder),
                NoticeKind::Rated,
                zh,
                en,
            )]
        }
        _ => Vec::new(),
    }
}

/// Reads the kinds a webhook asks for (`*` for all) into the stored form: a
/// comma list in a fixed order, or `*`.
pub fn event_filter(names: &[String]) -> Result<String, UnknownKind> {
    if names.is_empty() {
        return Err(UnknownKind(String::new()));
    }
    if names.iter().any(|n| n.trim() == "*") {
        return Ok("*".into());
    }
    let mut kinds = Vec::with_capacity(names.len());
    for n in names {
        kinds.push(n.trim().parse::<NoticeKind>()?);
    }
    Ok(NoticeKind::ALL
        .into_iter()
        .filter(|k| kinds.contains(k))
        .map(NoticeKind::as_str)
        .collect::<Vec<_>>()
        .join(","))
}

/// Whether a webhook with this stored filter wants notifications of `kind`.
pub fn filter_accepts(filter: &str, kind: NoticeKind) -> bool {
    filter == "*" || filter.split(',').any(|k| k == kind.as_str())
}

/// Webhook deliveries are tried at most this many times.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 10;
const FIRST_RETRY_MS: i64 = 30_000;
const LONGEST_RETRY_MS: i64 = 3_600_000;

/// How long to wait after `failed_attempts` failed deliveries before the next
/// try: 30 s, 1 min, 2 min, … doubling up to 1 h; `None` once
/// [`MAX_DELIVERY_ATTEMPTS`] have failed (give up).
pub fn retry_delay_ms(failed_attempts: u32) -> Option<i64> {
    if failed_attempts >= MAX_DELIVERY_ATTEMPTS {
        return None;
    }
    if failed_attempts == 0 {
        return Some(0);
    }
    // 2^7 × 30 s already exceeds the cap, so larger shifts never matter.
    let doubling = (failed_attempts - 1).min(7);
    Some((FIRST_RETRY_MS << doubling).min(LONGEST_RETRY_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> MatterEvent<'_> {
        MatterEvent {
            matter_id: 42,
            action,
            current_holder: "330102001",
            ..MatterEvent::default()
        }
    }

    fn audiences(e: &MatterEvent<'_>) -> Vec<(String, &'static str)> {
        notices_for(e)
            .into_iter()
            .map(|n| (n.audience.as_text(), n.kind.as_str()))
            .collect()
    }

    #[test]
    fn each_action_reaches_its_audience() {
        let report = MatterEvent {
            grid_code: Some("330102002001001"),
            ..event("report")
        };
        assert_eq!(
            audiences(&report),
            [("centre:330102002".to_string(), "new_task")]
        );
        let dispatch = MatterEvent {
            dispatched_unit: Some(7),
            current_unit: Some(8),
            ..event("dispatch")
        };
        assert_eq!(audiences(&dispatch), [("unit:7".to_string(), "new_task")]);
        let up = MatterEvent {
            new_holder: Some("330102"),
            ..event("transfer_up")
        };
        assert_eq!(audiences(&up), [("centre:330102".to_string(), "escalated")]);
        let down = MatterEvent {
            new_holder: Some("330102002"),
            current_holder: "330102",
            ..event("transfer_down")
        };
        assert_eq!(
            audiences(&down),
            [("centre:330102002".to_string(), "new_task")]
        );
        assert_eq!(
            audiences(&event("return")),
            [("centre:330102001".to_string(), "returned")]
        );
        assert_eq!(
            audiences(&event("report_handled")),
            [("centre:330102001".to_string(), "new_task")]
        );
        let assigned = |action| MatterEvent {
            current_unit: Some(3),
            ..event(action)
        };
        assert_eq!(
            audiences(&assigned("verify_fail")),
            [("unit:3".to_string(), "rework")]
        );
        assert_eq!(
            audiences(&assigned("rate")),
            [("unit:3".to_string(), "rated")]
        );
        assert_eq!(
            audiences(&assigned("remind")),
            [("unit:3".to_string(), "reminder")]
        );
        // A reminder with no unit goes to the centre holding the matter.
        assert_eq!(
            audiences(&event("remind")),
            [("centre:330102001".to_string(), "reminder")]
        );
        for quiet in ["register", "accept", "close", "verify_pass", "flying"] {
            assert!(notices_for(&event(quiet)).is_empty(), "{quiet}");
        }
    }

    #[test]
    fn escalation_reaches_the_centre_above_and_overdue_the_unit() {
        // The scheduler ran while the notifier lagged: the body's holder_before wins.
        let unregistered = MatterEvent {
            holder_before: Some("330102001"),
            reason: Some("not registered in time"),
            current_holder: "3301",
            ..event("escalate")
        };
        assert_eq!(
            audiences(&unregistered),
            [("centre:330102".to_string(), "escalated")]
        );
        let overdue = MatterEvent {
            holder_before: Some("330102001"),
            reason: Some(OVERDUE_REASON),
            current_holder: "330102",
            current_unit: Some(5),
            ..event("escalate")
        };
        assert_eq!(
            audiences(&overdue),
            [
                ("unit:5".to_string(), "overdue"),
                ("centre:330102".to_string(), "escalated")
            ]
        );
        // The top level keeps what it cannot pass on.
        let top = MatterEvent {
            holder_before: Some("33"),
            current_holder: "33",
            ..event("escalate")
        };
        assert_eq!(audiences(&top), [("centre:33".to_string(), "escalated")]);
    }

    #[test]
    fn titles_name_the_matter_in_both_languages() {
        let n = &notices_for(&MatterEvent {
            dispatched_unit: Some(1),
            ..event("dispatch")
        })[0];
        assert!(n.title_zh.contains("事件 #42"), "{}", n.title_zh);
        assert!(n.title_en.contains("matter #42"), "{}", n.title_en);
        let rated = &notices_for(&MatterEvent {
            rating: Some(4),
            ..event("rate")
        })[0];
        assert!(rated.title_zh.contains("4 分") && rated.title_en.contains("4 of 5"));
    }

    #[test]
    fn accounts_see_their_own_unit_and_centre() {
        let text = |v: Vec<Audience>| v.iter().map(Audience::as_text).collect::<Vec<_>>();
        assert_eq!(
            text(audiences_of(1, Role::CentreOperator, Some(2), "330102001")),
            ["account:1", "unit:2", "centre:330102001"]
        );
        assert_eq!(
            text(audiences_of(1, Role::DepartmentHandler, Some(2), "330102")),
            ["account:1", "unit:2"]
        );
        // Only operators speak for a centre: a leader of the same region does not.
        assert_eq!(
            text(audiences_of(9, Role::Leader, None, "330102001")),
            ["account:9"]
        );
    }

    #[test]
    fn webhook_filters() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            event_filter(&names(&["rated", "new_task", "rated"])).unwrap(),
            "new_task,rated"
        );
        assert_eq!(event_filter(&names(&["overdue", "*"])).unwrap(), "*");
        assert!(event_filter(&names(&["everything"])).is_err());
        assert!(event_filter(&[]).is_err());
        assert!(filter_accepts("new_task,rated", NoticeKind::Rated));
        assert!(!filter_accepts("new_task,rated", NoticeKind::Rework));
        assert!(filter_accepts("*", NoticeKind::Rework));
        for k in NoticeKind::ALL {
            assert_eq!(k.as_str().parse::<NoticeKind>().unwrap(), k);
        }
    }

    #[test]
    fn retries_back_off_then_give_up() {
        let delays: Vec<Option<i64>> = (1..=10).map(retry_delay_ms).collect();
        assert_eq!(
            delays,
            [
                Some(30_000),
                Some(60_000),
                Some(120_000),
                Some(240_000),
                Some(480_000),
                Some(960_000),
                Some(1_920_000),
                Some(3_600_000),
                Some(3_600_000),
                None
            ]
        );
        assert_eq!(retry_delay_ms(0), Some(0));
        assert_eq!(retry_delay_ms(50), None);
    }
}

/// Settings of immediate warnings (即时预警), set by admins: the red-flag
/// categories whose every report raises an alert, and a cluster: this many
/// reports of one category in one village within this many hours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertSettings {
    /// 4-digit category codes.
    pub red_flag_categories: Vec<String>,
    pub cluster_size: u32,
    pub cluster_hours: u32,
}

impl Default for AlertSettings {
    /// Fire, natural hazards and signs of a mass incident; three alike in a
    /// village within 24 hours.
    fn default() -> Self {
        AlertSettings {
            red_flag_categories: vec!["0501".into(), "0504".into(), "0505".into()],
            cluster_size: 3,
            cluster_hours: 24,
        }
    }
}

impl AlertSettings {
    /// Checks the settings; the reason in English when they are unusable.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(bad) = self
            .red_flag_categories
            .iter()
            .find(|c| c.len() != 4 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("{bad:?} is not a 4-digit category code"));
        }
        if !(2..=100).contains(&self.cluster_size) {
            return Err("cluster_size must be 2-100".into());
        }
        if !(1..=168).contains(&self.cluster_hours) {
            return Err("cluster_hours must be 1-168".into());
        }
        Ok(())
    }
}

/// Recent reports per (village, category), to see clusters as reports
/// arrive; fed in log order, each entry once.
#[derive(Debug, Default)]
pub struct ClusterWindow {
    recent: std::collections::HashMap<(String, String), std::collections::VecDeque<i64>>,
    last_seq: i64,
}

impl ClusterWindow {
    /// Notes a report (log `seq`, at `at`) and answers how many reports of
    /// its category its village had within the window up to it, itself
    /// included; `None` for an entry already seen.
    pub fn note(
        &mut self,
        seq: i64,
        at: i64,
        village: &str,
        category: &str,
        window_ms: i64,
    ) -> Option<u32> {
        if seq <= self.last_seq {
            return None;
        }
        self.last_seq = seq;
        let q = self
            .recent
            .entry((village.to_string(), category.to_string()))
            .or_default();
        while q.front().is_some_and(|&t| t <= at - window_ms) {
            q.pop_front();
        }
        q.push_back(at);
        let n = q.len() as u32;
        // Forget villages gone quiet, so memory follows the window.
        if self.recent.len() > 100_000 {
            self.recent
                .retain(|_, q| q.back().is_some_and(|&t| t > at - window_ms));
        }
        Some(n)
    }
}

/// The immediate alerts a new report raises, for the township and county
/// centres: red flag, and a cluster when this report is the `cluster_size`th
/// alike (`similar` counts it) — once per cluster.
pub fn alerts_for(
    matter_id: i64,
    grid_code: &str,
    category: &str,
    category_name: &str,
    similar: u32,
    settings: &AlertSettings,
) -> Vec<Notice> {
    let mut out = Vec::new();
    let mut causes = Vec::new();
    if settings.red_flag_categories.iter().any(|c| c == category) {
        causes.push((
            format!("红色预警：{category_name}（事件 #{matter_id}）"),
            format!("Red-flag alert: {category} (matter #{matter_id})"),
        ));
    }
    if similar == settings.cluster_size {
        causes.push((
            format!(
                "聚集预警：同一村社 {} 小时内 {similar} 起{category_name}（事件 #{matter_id}）",
                settings.cluster_hours
            ),
            format!(
                "Cluster alert: {similar} reports of {category} in one village within {} h (matter #{matter_id})",
                settings.cluster_hours
            ),
        ));
    }
    for (zh, en) in causes {
        for prefix in [
            &grid_code[..9.min(grid_code.len())],
            &grid_code[..6.min(grid_code.len())],
        ] {
            out.push(Notice {
                audience: Audience::Centre(prefix.to_string()),
                kind: NoticeKind::Alert,
                title_zh: zh.clone(),
                title_en: en.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod alert_tests {
    use super::*;

    #[test]
    fn red_flags_and_clusters_alert_township_and_county_once() {
        let s = AlertSettings::default();
        s.validate().unwrap();
        let fire = alerts_for(7, "330102001001001", "0501", "火灾冒烟", 1, &s);
        assert_eq!(fire.len(), 2);
        assert_eq!(fire[0].audience, Audience::Centre("330102001".into()));
        assert_eq!(fire[1].audience, Audience::Centre("330102".into()));
        assert!(alerts_for(8, "330102001001001", "0403", "道路障碍", 2, &s).is_empty());
        let mut w = ClusterWindow::default();
        let h = 3_600_000;
        let v = "330102001001";
        assert_eq!(w.note(1, 0, v, "0403", 24 * h), Some(1));
        assert_eq!(w.note(2, 10 * h, v, "0403", 24 * h), Some(2));
        assert_eq!(w.note(2, 10 * h, v, "0403", 24 * h), None, "seen");
        assert_eq!(w.note(3, 11 * h, "330102001002", "0403", 24 * h), Some(1));
        assert_eq!(w.note(4, 23 * h, v, "0403", 24 * h), Some(3));
        assert_eq!(
            alerts_for(9, "330102001001001", "0403", "道路障碍", 3, &s).len(),
            2
        );
        // The first has left the window a day later.
        assert_eq!(w.note(5, 24 * h, v, "0403", 24 * h), Some(3));
        let bad = AlertSettings {
            cluster_size: 1,
            ..AlertSettings::default()
        };
        assert!(bad.validate().is_err());
    }
}

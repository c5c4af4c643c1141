//! Indicators of the safety report (平安报表指标): the counters, the exact
//! formulas with their denominators (DOMAIN.md §5), how each action moves the
//! counters, periods in Asia/Shanghai, three-colour warnings and the composite
//! index used for rankings.
//!
//! # Counters that add up
//! Every figure is a sum over *cells* keyed by (local day, township, category),
//! so any region at or above township level and any period is a sum of cells,
//! and rates are computed only at the end from summed counters. Two families:
//!
//! - **Event-day counters** count actions on the Shanghai day they happened,
//!   under the category the matter had right after the action (a citizen's
//!   report without a category counts under `""` until dispatch sets one).
//! - **Deadline-cohort counters** (`due_*`) describe the matters whose current
//!   deadline falls on the day, by their current state: a matter due on
//!   1 November and closed on 3 November counts as due and closed (late) in
//!   November's cohort. They move whenever a deadline is set, moved or cleared
//!   or the state changes; see [`deltas`].
//!
//! Both families come from one pure function of a matter's facts before and
//! after each action, so maintaining them with each action and recomputing them
//! from the event log give the same numbers.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calendar::LocalDate;
use crate::workflow::State;

macro_rules! counters {
    ($($variant:ident => $name:literal, $zh:literal, $en:literal;)*) => {
        /// One counter of a cell (计数项).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Counter { $($variant),* }

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$variant),*];
            /// Also the column name in the aggregate tables.
            pub const fn as_str(self) -> &'static str {
                match self { $(Counter::$variant => $name),* }
            }
            pub const fn name_zh(self) -> &'static str {
                match self { $(Counter::$variant => $zh),* }
            }
            /// What it counts, in English.
            pub const fn definition(self) -> &'static str {
                match self { $(Counter::$variant => $en),* }
            }
        }
    };
}

counters! {
    Received => "received", "受理数", "reports filed (action report), on the day filed";
    Registered => "registered", "立案数", "registrations (立案), on the day";
    Rejected => "rejected", "不予立案数", "reports rejected (不予立案/作废), on the day";
    Merged => "merged", "合并数", "reports merged into another matter, on the day";
    SelfResolved => "self_resolved", "自办结数", "matters self-resolved on the spot by a grid worker, on the day";
    Dispatched => "dispatched", "派遣数", "dispatches to a unit, on the day";
    Closed => "closed", "结案数", "closures (close or self-resolve), on the day";
    ResolvedLow => "resolved_low", "镇街及以下办结数", "closures while held by a township centre or below (holder of 9+ digits), on the day";
    Reworked => "reworked", "返工数", "failed verifications sending a matter back to its unit, on the day";
    Suspended => "suspended", "缓办数", "approved suspensions, on the day";
    Escalated => "escalated", "上报升级数", "moves one level up: the scheduler's escalations and transfers up, on the day";
    Reopened => "reopened", "重启数", "reopenings by the reporter, on the day";
    Rated => "rated", "评价数", "ratings given, on the day";
    RatingSum => "rating_sum", "评分合计", "sum of the ratings given (1-5), on the day";
    Satisfied => "satisfied", "满意数", "ratings of 4 or 5, on the day";
    Due => "due", "应结案数", "matters whose current deadline falls on the day";
    DueSuspended => "due_suspended", "应结案中缓办数", "of the due, those suspended now";
    DueClosed => "due_closed", "应结案中已结案数", "of the due, those closed (closed or rated) now";
    DueOnTime => "due_on_time", "按期结案数", "of the due, those closed no later than their deadline";
    DueOverdue => "due_overdue", "超期数", "of the due, those the scheduler found past their deadline";
    DueReworked => "due_reworked", "应结案中返工数", "of the due, those reworked at least once";
    Open => "open", "在办数", "matters open now (not closed, rejected or merged); only on the gauge day";
    OpenOverdue => "open_overdue", "超期在办数", "open matters flagged overdue now; only on the gauge day";
}

/// The day number of the gauge cells: they hold the current `open` and
/// `open_overdue` counts instead of a day's events (1969-12-31, before any
/// real period).
pub const GAUGE_DAY: i64 = -1;

/// The number of counters.
pub const COUNTERS: usize = Counter::ALL.len();

/// A set of counters (a cell, or a sum of cells). Adds up componentwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Counters(pub [i64; COUNTERS]);

impl Default for Counters {
    fn default() -> Self {
        Counters([0; COUNTERS])
    }
}

impl std::ops::Index<Counter> for Counters {
    type Output = i64;
    fn index(&self, c: Counter) -> &i64 {
        &self.0[c as usize]
    }
}

impl std::ops::IndexMut<Counter> for Counters {
    fn index_mut(&mut self, c: Counter) -> &mut i64 {
        &mut self.0[c as usize]
    }
}

impl std::ops::AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
}

impl std::ops::SubAssign<&Counters> for Counters {
    fn sub_assign(&mut self, o: &Counters) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a -= b;
        }
    }
}

impl Counters {
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&v| v == 0)
    }

    /// The counters by name, for JSON.
    pub fn to_map(&self) -> BTreeMap<&'static str, i64> {
        Counter::ALL
            .iter()
            .map(|&c| (c.as_str(), self[c]))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Cells and how actions move them
// ---------------------------------------------------------------------------

/// Where a cell lies: the local day (days since 1970-01-01, Asia/Shanghai),
/// the township (9 digits) and the category (4 digits, `""` for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub day: i64,
    pub township: String,
    pub category: String,
}

/// The first day of the month holding `day` (both days since 1970-01-01):
/// the key of the monthly rollups.
pub fn month_start(day: i64) -> i64 {
    let d = LocalDate::from_days_since_epoch(day);
    day - i64::from(d.day()) + 1
}

/// A day range cut for the monthly rollups: the whole months inside it (the
/// first days of the first and last of them) and the days left at its edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthSplit {
    pub months: Option<(i64, i64)>,
    /// Day ranges, both ends included.
    pub days: Vec<(i64, i64)>,
}

/// Cuts `first..=last` into whole months and edge days.
pub fn split_months(first: i64, last: i64) -> MonthSplit {
    let whole_from = if month_start(first) == first {
        first
    } else {
        month_start(month_start(first) + 31)
    };
    let whole_to = month_start(last + 1);
    if first > last || whole_from >= whole_to {
        return MonthSplit {
            months: None,
            days: if first <= last {
                vec![(first, last)]
            } else {
                Vec::new()
            },
        };
    }
    let mut days = Vec::new();
    if first < whole_from {
        days.push((first, whole_from - 1));
    }
    if whole_to <= last {
        days.push((whole_to, last));
    }
    MonthSplit {
        months: Some((whole_from, month_start(whole_to - 1))),
        days,
    }
}

/// What the indicators need to know of a matter at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterFacts {
    pub state: State,
    /// 15-digit grid code; its first 9 digits are the township.
    pub grid_code: String,
    pub category: Option<String>,
    /// Region prefix of the centre holding it.
    pub holder: String,
    pub deadline: Option<i64>,
    pub closed_at: Option<i64>,
    pub overdue: bool,
    pub rework_count: i64,
}

impl MatterFacts {
    fn township(&self) -> String {
        self.grid_code[..9.min(self.grid_code.len())].to_string()
    }

    fn category(&self) -> String {
        self.category.clone().unwrap_or_default()
    }

    /// The matter's contribution to its deadline cohort, if it has a deadline.
    fn cohort(&self) -> Option<(CellKey, Counters)> {
        let deadline = self.deadline?;
        let mut c = Counters::default();
        c[Counter::Due] = 1;
        let closed = self.state.is_closed();
        c[Counter::DueSuspended] = i64::from(self.state == State::Suspended);
        c[Counter::DueClosed] = i64::from(closed);
        c[Counter::DueOnTime] = i64::from(closed && self.closed_at.is_some_and(|t| t <= deadline));
        c[Counter::DueOverdue] = i64::from(self.overdue);
        c[Counter::DueReworked] = i64::from(self.rework_count > 0);
        Some((
            CellKey {
                day: day_of(deadline),
                township: self.township(),
                category: self.category(),
            },
            c,
        ))
    }

    /// The matter's contribution to the gauges, if it is open.
    fn gauge(&self) -> Option<(CellKey, Counters)> {
        if !self.state.is_open() {
            return None;
        }
        let mut c = Counters::default();
        c[Counter::Open] = 1;
        c[Counter::OpenOverdue] = i64::from(self.overdue);
        Some((
            CellKey {
                day: GAUGE_DAY,
                township: self.township(),
                category: self.category(),
            },
            c,
        ))
    }
}

/// The local (Shanghai) day number of a UTC instant in milliseconds.
pub fn day_of(utc_ms: i64) -> i64 {
    LocalDate::from_utc_ms(utc_ms).days_since_epoch()
}

/// Satisfied means a rating of 4 or 5 out of 5.
pub const SATISFIED_FROM: i64 = 4;

/// How one action (`action` as logged, at `at`) moves the cells: `before` is
/// `None` for the report that creates the matter. The answer holds each
/// touched cell once, with non-zero counters only.
pub fn deltas(
    before: Option<&MatterFacts>,
    after: &MatterFacts,
    action: &str,
    rating: Option<i64>,
    at: i64,
) -> Vec<(CellKey, Counters)> {
    let mut out: BTreeMap<CellKey, Counters> = BTreeMap::new();
    let mut event = Counters::default();
    let mut bump = |c: Counter| event[c] += 1;
    match action {
        "report" => bump(Counter::Received),
        "register" => bump(Counter::Registered),
        "reject" => bump(Counter::Rejected),
        "merge" => bump(Counter::Merged),
        "self_resolve" | "close" => {
            if action == "self_resolve" {
                bump(Counter::SelfResolved);
            }
            bump(Counter::Closed);
            // Resolved at the level holding it when it closed.
            if before.map_or(after.holder.len(), |b| b.holder.len()) >= 9 {
                bump(Counter::ResolvedLow);
            }
        }
        "dispatch" => bump(Counter::Dispatched),
        "verify_fail" => bump(Counter::Reworked),
        "approve_suspension" => bump(Counter::Suspended),
        "escalate" | "transfer_up" => bump(Counter::Escalated),
        "reopen" => bump(Counter::Reopened),
        "rate" => {
            if let Some(r) = rating {
                bump(Counter::Rated);
                event[Counter::RatingSum] += r;
                if r >= SATISFIED_FROM {
                    event[Counter::Satisfied] += 1;
                }
            }
        }
        _ => {}
    }
    if !event.is_zero() {
        let key = CellKey {
            day: day_of(at),
            township: after.township(),
            category: after.category(),
        };
        *out.entry(key).or_default() += &event;
    }
    for (key, c) in before
        .into_iter()
        .flat_map(|b| b.cohort().into_iter().chain(b.gauge()))
    {
        *out.entry(key).or_default() -= &c;
    }
    for (key, c) in after.cohort().into_iter().chain(after.gauge()) {
        *out.entry(key).or_default() += &c;
    }
    out.into_iter().filter(|(_, c)| !c.is_zero()).collect()
}

/// Adds the deltas of one action to a running total per cell, dropping cells
/// that come back to zero.
pub fn accumulate(total: &mut BTreeMap<CellKey, Counters>, add: Vec<(CellKey, Counters)>) {
    for (key, c) in add {
        let slot = total.entry(key.clone()).or_default();
        *slot += &c;
        if slot.is_zero() {
            total.remove(&key);
        }
    }
}

/// One logged action as the replay needs it (the event log's fields).
#[derive(Debug, Clone)]
pub struct LoggedAction<'a> {
    pub action: &'a str,
    pub to_state: Option<&'a str>,
    /// The entry's JSON body.
    pub body: &'a str,
    pub at: i64,
}

/// Replays a matter's log, oldest first, into its facts after each action and
/// the cell deltas; `fallback_category` stands for the category where an
/// older log entry does not record it. The `report` entry must come first.
/// Answers the total contribution of the matter to the cells.
pub fn replay(
    logged: &[LoggedAction<'_>],
    grid_code: &str,
    fallback_category: Option<&str>,
) -> BTreeMap<CellKey, Counters> {
    let mut total = BTreeMap::new();
    let mut facts: Option<MatterFacts> = None;
    for e in logged {
        let body: serde_json::Value = serde_json::from_str(e.body).unwrap_or_default();
        let field = |name: &str| body.get(name).filter(|v| !v.is_null());
        let state = e
            .to_state
            .and_then(|s| s.parse::<State>().ok())
            .unwrap_or(State::Reported);
        // Absent in entries written before the log recorded it: the fallback.
        let category_in_body: Option<Option<String>> = body
            .get("category_code")
            .map(|v| v.as_str().map(str::to_string));
        let category = || {
            category_in_body
                .clone()
                .unwrap_or_else(|| fallback_category.map(str::to_string))
        };
        let deadline_in_body = field("deadline").and_then(serde_json::Value::as_i64);
        let Some(before) = facts.clone() else {
            if e.action != "report" {
                continue;
            }
            let after = MatterFacts {
                state,
                grid_code: grid_code.to_string(),
                category: category(),
                holder: crate::matter::initial_holder(grid_code).to_string(),
                deadline: None,
                closed_at: None,
                overdue: false,
                rework_count: 0,
            };
            accumulate(&mut total, deltas(None, &after, e.action, None, e.at));
            facts = Some(after);
            continue;
        };
        let mut after = before.clone();
        after.state = state;
        match e.action {
            "dispatch" => {
                if let Some(c) = category() {
                    after.category = Some(c);
                }
                after.deadline = deadline_in_body;
                after.overdue = false;
            }
            "approve_extension" => {
                after.deadline = deadline_in_body.or(after.deadline);
                after.overdue = false;
            }
            "resume" => after.deadline = deadline_in_body.or(after.deadline),
            "return" | "transfer_up" | "transfer_down" | "transfer_sideways" => {
                after.deadline = None;
                if let Some(h) = field("holder").and_then(|v| v.as_str()) {
                    after.holder = h.to_string();
                }
            }
            "escalate" => {
                if crate::matter::schedule::deadline_runs(before.state) {
                    after.overdue = true;
                }
                if let Some(up) = crate::matter::holder_above(&before.holder) {
                    after.holder = up.to_string();
                }
            }
            "verify_fail" => after.rework_count += 1,
            "close" | "self_resolve" => after.closed_at = Some(e.at),
            _ => {}
        }
        let rating = field("rating").and_then(serde_json::Value::as_i64);
        accumulate(
            &mut total,
            deltas(Some(&before), &after, e.action, rating, e.at),
        );
        facts = Some(after);
    }
    total
}

// ---------------------------------------------------------------------------
// Indicators and their formulas
// ---------------------------------------------------------------------------

/// Which way is better for an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
    /// A volume: neither good nor bad in itself.
    Neither,
}

macro_rules! indicators {
    ($($variant:ident => $name:literal, $zh:literal, $en:literal, $better:ident, $rate:literal, $formula:literal;)*) => {
        /// An indicator of the safety report (指标): a counter or a rate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Indicator { $($variant),* }

        impl Indicator {
            pub const ALL: &'static [Indicator] = &[$(Indicator::$variant),*];
            pub const fn as_str(self) -> &'static str {
                match self { $(Indicator::$variant => $name),* }
            }
            pub const fn name_zh(self) -> &'static str {
                match self { $(Indicator::$variant => $zh),* }
            }
            pub const fn name_en(self) -> &'static str {
                match self { $(Indicator::$variant => $en),* }
            }
            pub const fn better(self) -> Better {
                match self { $(Indicator::$variant => Better::$better),* }
            }
            /// Whether it is a ratio (0-1, or 1-5 for the average rating)
            /// rather than a count.
            pub const fn is_rate(self) -> bool {
                match self { $(Indicator::$variant => $rate),* }
            }
            /// The exact formula over the counters.
            pub const fn formula(self) -> &'static str {
                match self { $(Indicator::$variant => $formula),* }
            }
        }
    };
}

indicators! {
    Received => "received", "受理数", "received", Neither, false, "received";
    Registered => "registered", "立案数", "registered", Neither, false, "registered";
    Rejected => "rejected", "不予立案数", "rejected", Neither, false, "rejected";
    SelfResolved => "self_resolved", "自办结数", "self-resolved", Neither, false, "self_resolved";
    Dispatched => "dispatched", "派遣数", "dispatched", Neither, false, "dispatched";
    Closed => "closed", "结案数", "closed", Neither, false, "closed (closures in the period)";
    Due => "due", "应结案数", "due to close", Neither, false, "due (deadline in the period)";
    DueClosed => "due_closed", "应结案中已结案数", "closed of those due", Higher, false, "due_closed";
    ClosedOnTime => "closed_on_time", "按期结案数", "closed on time", Higher, false, "due_on_time";
    Overdue => "overdue", "超期数", "overdue", Lower, false, "due_overdue";
    Reworked => "reworked", "返工数", "reworked", Lower, false, "reworked (failed verifications in the period)";
    Suspended => "suspended", "缓办数", "suspended", Lower, false, "suspended (approved in the period)";
    Escalated => "escalated", "上报升级数", "escalated", Lower, false, "escalated";
    ResolvedLow => "resolved_low", "镇街及以下办结数", "resolved at township level or below", Higher, false, "resolved_low";
    RegistrationRate => "registration_rate", "立案率", "registration rate", Neither, true, "registered / received";
    ClosureRate => "closure_rate", "结案率", "closure rate", Higher, true, "due_closed / (due − due_suspended)";
    OnTimeRate => "on_time_rate", "按期结案率", "on-time closure rate", Higher, true, "due_on_time / (due − due_suspended)";
    OverdueRate => "overdue_rate", "超期率", "overdue rate", Lower, true, "due_overdue / (due − due_suspended)";
    ReworkRate => "rework_rate", "返工率", "rework rate", Lower, true, "due_reworked / due";
    LowLevelRate => "low_level_rate", "镇街及以下化解率", "township-or-below resolution rate", Higher, true, "resolved_low / closed";
    SelfResolveRate => "self_resolve_rate", "自办结率", "self-resolution rate", Higher, true, "self_resolved / received";
    SatisfactionRate => "satisfaction_rate", "满意率", "satisfaction rate", Higher, true, "satisfied (ratings ≥ 4) / rated";
    AverageRating => "average_rating", "平均评分", "average rating", Higher, true, "rating_sum / rated (1-5)";
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Indicator {
    type Err = crate::workflow::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Indicator::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| crate::workflow::UnknownName::new("indicator", s))
    }
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Counters {
    /// The value of an indicator; `None` for a rate whose denominator is zero.
    pub fn value(&self, i: Indicator) -> Option<f64> {
        use Counter as C;
        let n = |c: C| self[c];
        let due_active = n(C::Due) - n(C::DueSuspended);
        Some(match i {
            Indicator::Received => n(C::Received) as f64,
            Indicator::Registered => n(C::Registered) as f64,
            Indicator::Rejected => n(C::Rejected) as f64,
            Indicator::SelfResolved => n(C::SelfResolved) as f64,
            Indicator::Dispatched => n(C::Dispatched) as f64,
            Indicator::Closed => n(C::Closed) as f64,
            Indicator::Due => n(C::Due) as f64,
            Indicator::DueClosed => n(C::DueClosed) as f64,
            Indicator::ClosedOnTime => n(C::DueOnTime) as f64,
            Indicator::Overdue => n(C::DueOverdue) as f64,
            Indicator::Reworked => n(C::Reworked) as f64,
            Indicator::Suspended => n(C::Suspended) as f64,
            Indicator::Escalated => n(C::Escalated) as f64,
            Indicator::ResolvedLow => n(C::ResolvedLow) as f64,
            Indicator::RegistrationRate => return ratio(n(C::Registered), n(C::Received)),
            Indicator::ClosureRate => return ratio(n(C::DueClosed), due_active),
            Indicator::OnTimeRate => return ratio(n(C::DueOnTime), due_active),
            Indicator::OverdueRate => return ratio(n(C::DueOverdue), due_active),
            Indicator::ReworkRate => return ratio(n(C::DueReworked), n(C::Due)),
            Indicator::LowLevelRate => return ratio(n(C::ResolvedLow), n(C::Closed)),
            Indicator::SelfResolveRate => return ratio(n(C::SelfResolved), n(C::Received)),
            Indicator::SatisfactionRate => return ratio(n(C::Satisfied), n(C::Rated)),
            Indicator::AverageRating => return ratio(n(C::RatingSum), n(C::Rated)),
        })
    }
}

/// A ratio as a percentage rounded to two decimals (93.72 for 911/972).
pub fn percent(r: f64) -> f64 {
    (r * 10_000.0).round() / 100.0
}

// ---------------------------------------------------------------------------
// Periods
// ---------------------------------------------------------------------------

/// The kinds of reporting period (统计周期).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

impl std::str::FromStr for PeriodKind {
    type Err = crate::workflow::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "day" => PeriodKind::Day,
            "week" => PeriodKind::Week,
            "month" => PeriodKind::Month,
            "quarter" => PeriodKind::Quarter,
            "year" => PeriodKind::Year,
            _ => return Err(crate::workflow::UnknownName::new("period", s)),
        })
    }
}

/// A span of local days, `from` included, `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: LocalDate,
    /// The first day after the period.
    pub to: LocalDate,
}

impl Period {
    /// The period of a kind containing `date`.
    pub fn containing(kind: PeriodKind, date: LocalDate) -> Period {
        let ym = |y: i32, m: u8| LocalDate::new(y, m, 1).unwrap_or(date);
        let next_month = |y: i32, m: u8| if m == 12 { ym(y + 1, 1) } else { ym(y, m + 1) };
        let (y, m) = (date.year(), date.month());
        match kind {
            PeriodKind::Day => Period {
                from: date,
                to: date.add_days(1),
            },
            PeriodKind::Week => {
                let from = date.add_days(-i64::from(date.weekday().days_from_monday()));
                Period {
                    from,
                    to: from.add_days(7),
                }
            }
            PeriodKind::Month => Period {
                from: ym(y, m),
                to: next_month(y, m),
            },
            PeriodKind::Quarter => {
                let first = (m - 1) / 3 * 3 + 1;
                Period {
                    from: ym(y, first),
                    to: next_month(y, first + 2),
                }
            }
            PeriodKind::Year => Period {
                from: ym(y, 1),
                to: ym(y + 1, 1),
            },
        }
    }

    /// A custom range, both ends included; `None` when `last` is before `first`.
    pub fn custom(first: LocalDate, last: LocalDate) -> Option<Period> {
        (last >= first).then(|| Period {
            from: first,
            to: last.add_days(1),
        })
    }

    pub fn days(self) -> i64 {
        self.to.days_since_epoch() - self.from.days_since_epoch()
    }

    /// First and last day numbers (days since 1970-01-01), both included.
    pub fn day_range(self) -> (i64, i64) {
        (self.from.days_since_epoch(), self.to.days_since_epoch() - 1)
    }

    /// The period before: the previous one of the same kind, or for a custom
    /// range the same number of days just before.
    pub fn previous(self, kind: Option<PeriodKind>) -> Period {
        match kind {
            Some(k) => Period::containing(k, self.from.add_days(-1)),
            None => Period {
                from: self.from.add_days(-self.days()),
                to: self.from,
            },
        }
    }

    /// The same period a year earlier (同期): the same dates, with 29 February
    /// read as 28 February; a week is the week 52 weeks before.
    pub fn year_before(self, kind: Option<PeriodKind>) -> Period {
        let back = |d: LocalDate| {
            LocalDate::new(d.year() - 1, d.month(), d.day())
                .or_else(|| LocalDate::new(d.year() - 1, d.month(), d.day() - 1))
                .unwrap_or(d)
        };
        match kind {
            Some(PeriodKind::Week) => Period {
                from: self.from.add_days(-364),
                to: self.to.add_days(-364),
            },
            Some(PeriodKind::Day) => {
                let from = back(self.from);
                Period {
                    from,
                    to: from.add_days(1),
                }
            }
            Some(k) => Period::containing(k, back(self.from)),
            None => {
                let from = back(self.from);
                Period {
                    from,
                    to: from.add_days(self.days()),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Three-colour warnings
// ---------------------------------------------------------------------------

/// A warning colour (预警等级), worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

/// What a warning rule compares a region's value with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The thresholds are values of the indicator.
    Absolute,
    /// The change against the previous period (环比).
    PreviousPeriod,
    /// The change against the same period last year (同比).
    SamePeriodLastYear,
    /// The difference from the median of the region and its siblings.
    SiblingsMedian,
}

/// A warning rule (预警规则), set by admins. For `absolute`, `yellow` and
/// `red` are values: a region is yellow when its value is at or beyond
/// `yellow` on the worse side, red at or beyond `red`. For the relative bases
/// they are how far the value has moved to the worse side of the base: for
/// rates in the rate's own units (0.05 = five percentage points; 0.5 for the
/// average rating is half a star), for counts as a fraction of the base
/// (0.2 = 20 % more). The worse side is the indicator's ([`Better`]); for a
/// volume (`Neither`) it is "more".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarningRule {
    pub indicator: Indicator,
    pub basis: Basis,
    pub yellow: f64,
    pub red: f64,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule {0}: thresholds must be finite numbers")]
    NotFinite(usize),
    #[error("rule {0}: red must be at or beyond yellow on the worse side")]
    RedBeforeYellow(usize),
    #[error("rule {0}: a relative threshold must be positive")]
    NotPositive(usize),
    #[error("at most {0} rules")]
    TooMany(usize),
    #[error("composite index: {0}")]
    Composite(String),
}

/// Checks a rule set.
pub fn validate_rules(rules: &[WarningRule]) -> Result<(), RuleError> {
    if rules.len() > 200 {
        return Err(RuleError::TooMany(200));
    }
    for (i, r) in rules.iter().enumerate() {
        if !r.yellow.is_finite() || !r.red.is_finite() {
            return Err(RuleError::NotFinite(i));
        }
        let worse_up = r.basis != Basis::Absolute || r.indicator.better() != Better::Higher;
        if r.basis != Basis::Absolute && (r.yellow <= 0.0 || r.red <= 0.0) {
            return Err(RuleError::NotPositive(i));
        }
        let ordered = if worse_up {
            r.red >= r.yellow
        } else {
            r.red <= r.yellow
        };
        if !ordered {
            return Err(RuleError::RedBeforeYellow(i));
        }
    }
    Ok(())
}

/// The figures a rule may compare with, for one region and indicator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Comparison {
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub last_year: Option<f64>,
    pub siblings_median: Option<f64>,
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub indicator: Indicator,
    pub basis: Basis,
    pub colour: Colour,
    pub value: f64,
    /// What it was compared with (the threshold's base); `None` for absolute.
    pub base: Option<f64>,
    /// How far to the worse side (relative bases), in the rule's units.
    pub worse_by: Option<f64>,
    pub text_zh: String,
    pub text_en: String,
}

fn basis_names(b: Basis) -> (&'static str, &'static str) {
    match b {
        Basis::Absolute => ("阈值", "threshold"),
        Basis::PreviousPeriod => ("环比", "against the previous period"),
        Basis::SamePeriodLastYear => ("同比", "against the same period last year"),
        Basis::SiblingsMedian => ("同级中位数", "against the siblings' median"),
    }
}

/// Applies one rule. `None` when the rule has nothing to compare (no value,
/// no base, or a zero base for a count).
pub fn evaluate_rule(rule: &WarningRule, cmp: &Comparison) -> Option<Reason> {
    let value = cmp.value?;
    let better = rule.indicator.better();
    let (base, worse_by) = match rule.basis {
        Basis::Absolute => (None, None),
        basis => {
            let base = match basis {
                Basis::PreviousPeriod => cmp.previous,
                Basis::SamePeriodLastYear => cmp.last_year,
                _ => cmp.siblings_median,
            }?;
            let diff = if better == Better::Higher {
                base - value
            } else {
                value - base
            };
            let worse = if rule.indicator.is_rate() {
                diff
            } else if base > 0.0 {
                diff / base
            } else {
                return None;
            };
            (Some(base), Some(worse))
        }
    };
    let beyond = |t: f64| match (worse_by, better) {
        (Some(w), _) => w >= t,
        (None, Better::Higher) => value <= t,
        (None, _) => value >= t,
    };
    let colour = if beyond(rule.red) {
        Colour::Red
    } else if beyond(rule.yellow) {
        Colour::Yellow
    } else {
        Colour::Green
    };
    let (bzh, ben) = basis_names(rule.basis);
    let shown = |v: f64| {
        if rule.indicator.is_rate() && rule.indicator != Indicator::AverageRating {
            format!("{:.2}%", percent(v))
        } else {
            format!("{v:.2}")
        }
    };
    let (text_zh, text_en) = match base {
        None => (
            format!(
                "{} {}（{}：黄 {}，红 {}）",
                rule.indicator.name_zh(),
                shown(value),
                bzh,
                shown(rule.yellow),
                shown(rule.red)
            ),
            format!(
                "{} {} ({}: yellow {}, red {})",
                rule.indicator.name_en(),
                shown(value),
                ben,
                shown(rule.yellow),
                shown(rule.red)
            ),
        ),
        Some(b) => (
            format!(
                "{} {}，{} {}",
                rule.indicator.name_zh(),
                shown(value),
                bzh,
                shown(b)
            ),
            format!(
                "{} {}, {} {}",
                rule.indicator.name_en(),
                shown(value),
                ben,
                shown(b)
            ),
        ),
    };
    Some(Reason {
        indicator: rule.indicator,
        basis: rule.basis,
        colour,
        value,
        base,
        worse_by,
        text_zh,
        text_en,
    })
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A region's warnings: the colour per indicator (the worst of its rules),
/// overall (the worst of all), and every rule's verdict that is not green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub overall: Colour,
    pub indicators: BTreeMap<Indicator, Colour>,
    pub reasons: Vec<Reason>,
}

/// Applies every rule to a region; `cmp` gives the figures per indicator.
pub fn assess(rules: &[WarningRule], cmp: &dyn Fn(Indicator) -> Comparison) -> Assessment {
    let mut indicators = BTreeMap::new();
    let mut reasons = Vec::new();
    for rule in rules {
        let Some(r) = evaluate_rule(rule, &cmp(rule.indicator)) else {
            continue;
        };
        let slot = indicators.entry(rule.indicator).or_insert(Colour::Green);
        *slot = (*slot).max(r.colour);
        if r.colour != Colour::Green {
            reasons.push(r);
        }
    }
    let overall = indicators.values().copied().max().unwrap_or(Colour::Green);
    Assessment {
        overall,
        indicators,
        reasons,
    }
}

/// The shipped rules, a starting point for admins.
pub fn default_rules() -> Vec<WarningRule> {
    let r = |indicator, basis, yellow, red| WarningRule {
        indicator,
        basis,
        yellow,
        red,
    };
    vec![
        r(Indicator::ClosureRate, Basis::Absolute, 0.90, 0.80),
        r(Indicator::OnTimeRate, Basis::Absolute, 0.80, 0.70),
        r(Indicator::OnTimeRate, Basis::PreviousPeriod, 0.05, 0.10),
        r(Indicator::SatisfactionRate, Basis::Absolute, 0.90, 0.80),
        r(Indicator::LowLevelRate, Basis::Absolute, 0.95, 0.90),
        r(Indicator::Received, Basis::SamePeriodLastYear, 0.3, 0.6),
        r(Indicator::OverdueRate, Basis::SiblingsMedian, 0.05, 0.10),
    ]
}

// ---------------------------------------------------------------------------
// Rankings and the composite index
// ---------------------------------------------------------------------------

/// Ranks values (None last, unranked): 1 is best by the indicator's
/// direction (for a volume, the largest); ties share a rank (1, 2, 2, 4).
pub fn rank(values: &[Option<f64>], better: Better) -> Vec<Option<u32>> {
    let key = |v: f64| if better == Better::Lower { v } else { -v };
    // Sorted once: a province ranks 1,387 townships on every indicator.
    let mut sorted: Vec<f64> = values.iter().flatten().map(|&v| key(v)).collect();
    sorted.sort_by(f64::total_cmp);
    values
        .iter()
        .map(|v| v.map(|x| 1 + sorted.partition_point(|&y| y < key(x)) as u32))
        .collect()
}

/// A node of the composite index (综合指数): a leaf names an indicator, an
/// inner node weighs its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexNode {
    pub name: String,
    /// Relative weight among its siblings (positive).
    pub weight: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<Indicator>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<IndexNode>,
}

/// Checks an index tree: positive finite weights, a leaf has an indicator and
/// no children, an inner node children and no indicator, at most three levels.
pub fn validate_index(root: &IndexNode) -> Result<(), RuleError> {
    fn walk(n: &IndexNode, depth: usize) -> Result<(), RuleError> {
        let bad = |m: &str| Err(RuleError::Composite(format!("{}: {m}", n.name)));
        if !(n.weight.is_finite() && n.weight > 0.0) {
            return bad("weight must be positive");
        }
        if depth > 3 {
            return bad("at most three levels below the root");
        }
        match (&n.indicator, n.children.is_empty()) {
            (Some(_), true) => Ok(()),
            (None, false) => n.children.iter().try_for_each(|c| walk(c, depth + 1)),
            (Some(_), false) => bad("a leaf names an indicator and has no children"),
            (None, true) => bad("an inner node needs children"),
        }
    }
    walk(root, 0)
}

/// The shipped composite index.
pub fn default_index() -> IndexNode {
    let leaf = |i: Indicator, w: f64| IndexNode {
        name: i.name_zh().into(),
        weight: w,
        indicator: Some(i),
        children: vec![],
    };
    IndexNode {
        name: "平安指数".into(),
        weight: 1.0,
        indicator: None,
        children: vec![
            IndexNode {
                name: "办理效能".into(),
                weight: 0.6,
                indicator: None,
                children: vec![
                    leaf(Indicator::ClosureRate, 0.4),
                    leaf(Indicator::OnTimeRate, 0.4),
                    leaf(Indicator::ReworkRate, 0.2),
                ],
            },
            IndexNode {
                name: "化解与满意".into(),
                weight: 0.4,
                indicator: None,
                children: vec![
                    leaf(Indicator::LowLevelRate, 0.5),
                    leaf(Indicator::SatisfactionRate, 0.5),
                ],
            },
        ],
    }
}

/// Composite scores (0-100) of sibling regions. Each leaf indicator is
/// normalised across the regions by min-max to 0-100, 100 for the best by the
/// indicator's direction (all 100 when they are equal; a volume counts "more
/// is better"); an inner node is the weighted mean of its children that have
/// a score, weights renormalised over those. A region without any value
/// scores `None`.
pub fn composite(
    root: &IndexNode,
    values: &dyn Fn(usize, Indicator) -> Option<f64>,
    regions: usize,
) -> Vec<Option<f64>> {
    fn node(
        n: &IndexNode,
        values: &dyn Fn(usize, Indicator) -> Option<f64>,
        regions: usize,
    ) -> Vec<Option<f64>> {
        if let Some(ind) = n.indicator {
            let vs: Vec<Option<f64>> = (0..regions).map(|r| values(r, ind)).collect();
            let present = vs.iter().flatten();
            let lo = present.clone().copied().fold(f64::INFINITY, f64::min);
            let hi = present.copied().fold(f64::NEG_INFINITY, f64::max);
            return vs
                .iter()
                .map(|v| {
                    v.map(|x| {
                        if hi - lo <= f64::EPSILON {
                            100.0
                        } else if ind.better() == Better::Lower {
                            100.0 * (hi - x) / (hi - lo)
                        } else {
                            100.0 * (x - lo) / (hi - lo)
                        }
                    })
                })
                .collect();
        }
        let kids: Vec<(f64, Vec<Option<f64>>)> = n
            .children
            .iter()
            .map(|c| (c.weight, node(c, values, regions)))
            .collect();
        (0..regions)
            .map(|r| {
                let (sum, weight) =
                    kids.iter()
                        .fold((0.0, 0.0), |(s, w), (cw, scores)| match scores[r] {
                            Some(v) => (s + cw * v, w + cw),
                            None => (s, w),
                        });
                (weight > 0.0).then(|| sum / weight)
            })
            .collect()
    }
    node(root, values, regions)
}

#[cfg(test)]
mod tests {
    #[test]
    fn month_splits() {
        let d = |y, m, day| LocalDate::new(y, m, day).unwrap().days_since_epoch();
        assert_eq!(month_start(d(2026, 3, 17)), d(2026, 3, 1));
        assert_eq!(month_start(d(2026, 3, 1)), d(2026, 3, 1));
        assert_eq!(month_start(d(2024, 2, 29)), d(2024, 2, 1));
        // A month, a quarter and a year are whole months only.
        for (from, to) in [
            (d(2026, 2, 1), d(2026, 2, 28)),
            (d(2026, 4, 1), d(2026, 6, 30)),
            (d(2026, 1, 1), d(2026, 12, 31)),
        ] {
            assert_eq!(
                split_months(from, to),
                MonthSplit {
                    months: Some((from, month_start(to))),
                    days: vec![]
                }
            );
        }
        // A custom range: edge days around the whole months.
        assert_eq!(
            split_months(d(2026, 1, 20), d(2026, 4, 3)),
            MonthSplit {
                months: Some((d(2026, 2, 1), d(2026, 3, 1))),
                days: vec![
                    (d(2026, 1, 20), d(2026, 1, 31)),
                    (d(2026, 4, 1), d(2026, 4, 3))
                ]
            }
        );
        // Within one month, or a week across two: days only.
        for (from, to) in [
            (d(2026, 1, 2), d(2026, 1, 31)),
            (d(2026, 1, 28), d(2026, 2, 3)),
        ] {
            assert_eq!(
                split_months(from, to),
                MonthSplit {
                    months: None,
                    days: vec![(from, to)]
                }
            );
        }
    }

    use super::*;

    fn d(s: &str) -> LocalDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_tianmen_month_comes_out_of_the_counters_exactly() {
        let mut c = Counters::default();
        c[Counter::Received] = 1_054;
        c[Counter::Registered] = 996;
        c[Counter::Due] = 972;
        c[Counter::DueClosed] = 911;
        c[Counter::DueOnTime] = 737;
        let closure = c.value(Indicator::ClosureRate).unwrap();
        let on_time = c.value(Indicator::OnTimeRate).unwrap();
        assert_eq!(percent(closure), 93.72);
        assert_eq!(percent(on_time), 75.82);
        assert_eq!(closure, 911.0 / 972.0);
        assert_eq!(
            percent(c.value(Indicator::RegistrationRate).unwrap()),
            94.50
        );
        // Suspended matters leave the denominator.
        c[Counter::DueSuspended] = 10;
        assert_eq!(c.value(Indicator::ClosureRate).unwrap(), 911.0 / 962.0);
        assert_eq!(Counters::default().value(Indicator::ClosureRate), None);
    }

    fn facts(state: State, deadline: Option<i64>) -> MatterFacts {
        MatterFacts {
            state,
            grid_code: "330102001001001".into(),
            category: Some("0101".into()),
            holder: "330102001".into(),
            deadline,
            closed_at: None,
            overdue: false,
            rework_count: 0,
        }
    }

    #[test]
    fn cohort_moves_with_the_deadline_and_the_state() {
        let day = LocalDate::new(2026, 11, 2).unwrap();
        let t = day.start_utc_ms() + 3_600_000;
        let registered = facts(State::Registered, None);
        let dispatched = facts(State::Dispatched, Some(t + 86_400_000));
        let dd = deltas(Some(&registered), &dispatched, "dispatch", None, t);
        assert_eq!(dd.len(), 2, "{dd:?}");
        assert_eq!(dd[0].0.day, day.days_since_epoch());
        assert_eq!(dd[0].1[Counter::Dispatched], 1);
        assert_eq!(dd[1].0.day, day.days_since_epoch() + 1);
        assert_eq!(dd[1].1[Counter::Due], 1);
        // Closing on time: the event day counts a closure, the cohort moves.
        let mut closed = dispatched.clone();
        closed.state = State::Closed;
        closed.closed_at = Some(t + 1000);
        let dd = deltas(Some(&dispatched), &closed, "close", None, t + 1000);
        let cohort = &dd
            .iter()
            .find(|(k, _)| k.day == day.days_since_epoch() + 1)
            .unwrap()
            .1;
        assert_eq!(cohort[Counter::Due], 0);
        assert_eq!(cohort[Counter::DueClosed], 1);
        assert_eq!(cohort[Counter::DueOnTime], 1);
        // Returned: the deadline goes, and the matter leaves the cohort.
        let mut returned = dispatched.clone();
        returned.state = State::Returned;
        returned.deadline = None;
        let dd = deltas(Some(&dispatched), &returned, "return", None, t);
        assert_eq!(dd.len(), 1);
        assert_eq!(dd[0].1[Counter::Due], -1);
    }

    #[test]
    fn replaying_a_log_sums_its_deltas() {
        let t0 = LocalDate::new(2026, 11, 2).unwrap().start_utc_ms() + 9 * 3_600_000;
        let deadline = t0 + 2 * 86_400_000;
        let body_dispatch = format!(r#"{{"deadline":{deadline},"category_code":"0202"}}"#);
        let log = [
            LoggedAction {
                action: "report",
                to_state: Some("reported"),
                body: "{}",
                at: t0,
            },
            LoggedAction {
                action: "register",
                to_state: Some("registered"),
                body: "{}",
                at: t0 + 1,
            },
            LoggedAction {
                action: "dispatch",
                to_state: Some("dispatched"),
                body: &body_dispatch,
                at: t0 + 2,
            },
            LoggedAction {
                action: "accept",
                to_state: Some("accepted"),
                body: "{}",
                at: t0 + 3,
            },
            LoggedAction {
                action: "report_handled",
                to_state: Some("handled"),
                body: "{}",
                at: t0 + 4,
            },
            LoggedAction {
                action: "verify_fail",
                to_state: Some("rework"),
                body: "{}",
                at: t0 + 5,
            },
            LoggedAction {
                action: "escalate",
                to_state: Some("rework"),
                body: "{}",
                at: deadline + 1,
            },
            LoggedAction {
                action: "report_handled",
                to_state: Some("handled"),
                body: "{}",
                at: deadline + 2,
            },
            LoggedAction {
                action: "verify_pass",
                to_state: Some("verified"),
                body: "{}",
                at: deadline + 3,
            },
            LoggedAction {
                action: "close",
                to_state: Some("closed"),
                body: "{}",
                at: deadline + 4,
            },
            LoggedAction {
                action: "rate",
                to_state: Some("rated"),
                body: r#"{"rating":5}"#,
                at: deadline + 5,
            },
        ];
        let cells = replay(&log, "330102001001001", Some("0101"));
        let mut total = Counters::default();
        for c in cells.values() {
            total += c;
        }
        assert_eq!(total[Counter::Received], 1);
        assert_eq!(total[Counter::Registered], 1);
        assert_eq!(total[Counter::Reworked], 1);
        assert_eq!(total[Counter::Escalated], 1);
        assert_eq!(total[Counter::Closed], 1);
        assert_eq!(
            total[Counter::ResolvedLow],
            0,
            "closed at the county, after escalation"
        );
        assert_eq!(total[Counter::Due], 1);
        assert_eq!(total[Counter::DueClosed], 1);
        assert_eq!(total[Counter::DueOnTime], 0);
        assert_eq!(total[Counter::DueOverdue], 1);
        assert_eq!(total[Counter::DueReworked], 1);
        assert_eq!(total[Counter::Satisfied], 1);
        // Received under the filed category, the rest under the dispatched one.
        let received = cells
            .iter()
            .find(|(_, c)| c[Counter::Received] == 1)
            .unwrap()
            .0;
        assert_eq!(received.category, "0101");
        let due = cells.iter().find(|(_, c)| c[Counter::Due] == 1).unwrap().0;
        assert_eq!((due.category.as_str(), due.day), ("0202", day_of(deadline)));
    }

    #[test]
    fn cells_always_sum_to_the_final_snapshot() {
        // Property: whatever the sequence of deadlines and states, the
        // cohort cells sum to the final snapshot's contribution alone.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let states = [
            State::Dispatched,
            State::Accepted,
            State::Suspended,
            State::Closed,
            State::Rework,
        ];
        for _ in 0..500 {
            let mut total = BTreeMap::new();
            let mut f = facts(State::Registered, None);
            accumulate(&mut total, deltas(None, &f, "report", None, 0));
            for step in 0..(next() % 12) as i64 {
                let mut g = f.clone();
                g.state = states[(next() % 5) as usize];
                g.deadline = (next() % 4 != 0).then(|| (next() % 10) as i64 * 86_400_000);
                g.overdue = next() % 2 == 0;
                g.rework_count += (next() % 2) as i64;
                g.closed_at = Some(step * 40_000_000);
                accumulate(&mut total, deltas(Some(&f), &g, "remind", None, step));
                f = g;
            }
            let mut expect = BTreeMap::new();
            accumulate(&mut expect, deltas(None, &f, "report", None, 0));
            assert_eq!(total, expect);
        }
    }

    #[test]
    fn periods_in_shanghai() {
        let p = Period::containing(PeriodKind::Week, d("2026-11-25"));
        assert_eq!((p.from, p.to), (d("2026-11-23"), d("2026-11-30")));
        let p = Period::containing(PeriodKind::Month, d("2026-12-31"));
        assert_eq!((p.from, p.to), (d("2026-12-01"), d("2027-01-01")));
        let q = Period::containing(PeriodKind::Quarter, d("2026-11-05"));
        assert_eq!((q.from, q.to), (d("2026-10-01"), d("2027-01-01")));
        assert_eq!(q.previous(Some(PeriodKind::Quarter)).from, d("2026-07-01"));
        assert_eq!(
            Period::containing(PeriodKind::Month, d("2026-03-10"))
                .previous(Some(PeriodKind::Month)),
            Period {
                from: d("2026-02-01"),
                to: d("2026-03-01")
            }
        );
        let leap = Period::containing(PeriodKind::Day, d("2028-02-29"));
        assert_eq!(
            leap.year_before(Some(PeriodKind::Day)).from,
            d("2027-02-28")
        );
        let c = Period::custom(d("2026-11-03"), d("2026-11-12")).unwrap();
        assert_eq!(c.days(), 10);
        assert_eq!(
            c.previous(None),
            Period {
                from: d("2026-10-24"),
                to: d("2026-11-03")
            }
        );
        assert!(Period::custom(d("2026-11-03"), d("2026-11-02")).is_none());
        // A report at 23:30 UTC on 1 November is on 2 November in Shanghai.
        let t = d("2026-11-02").start_utc_ms() - 30 * 60_000 + 8 * 3_600_000;
        assert_eq!(day_of(t), d("2026-11-02").days_since_epoch());
        assert_eq!(
            day_of(d("2026-11-02").start_utc_ms() - 1),
            d("2026-11-01").days_since_epoch()
        );
    }

    #[test]
    fn warnings_by_threshold_change_and_median() {
        let rules = default_rules();
        validate_rules(&rules).unwrap();
        let a = assess(&rules, &|i| match i {
            Indicator::ClosureRate => Comparison {
                value: Some(911.0 / 972.0),
                ..Default::default()
            },
            Indicator::OnTimeRate => Comparison {
                value: Some(0.7582),
                previous: Some(0.90),
                ..Default::default()
            },
            Indicator::OverdueRate => Comparison {
                value: Some(0.12),
                siblings_median: Some(0.05),
                ..Default::default()
            },
            Indicator::Received => Comparison {
                value: Some(130.0),
                last_year: Some(100.0),
                ..Default::default()
            },
            _ => Comparison::default(),
        });
        assert_eq!(a.indicators[&Indicator::ClosureRate], Colour::Green);
        // 75.82% is below 80% (yellow) and 14 points below last month (red).
        assert_eq!(a.indicators[&Indicator::OnTimeRate], Colour::Red);
        assert_eq!(a.indicators[&Indicator::OverdueRate], Colour::Yellow);
        assert_eq!(a.indicators[&Indicator::Received], Colour::Yellow);
        assert_eq!(a.overall, Colour::Red);
        assert_eq!(a.reasons.len(), 4);
        assert!(a
            .reasons
            .iter()
            .any(|r| r.text_zh.contains("环比") && r.text_en.contains("90.00%")));
        let bad = [WarningRule {
            indicator: Indicator::ClosureRate,
            basis: Basis::Absolute,
            yellow: 0.8,
            red: 0.9,
        }];
        assert_eq!(validate_rules(&bad), Err(RuleError::RedBeforeYellow(0)));
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }

    #[test]
    fn ranks_and_composite() {
        assert_eq!(
            rank(&[Some(0.9), None, Some(0.95), Some(0.9)], Better::Higher),
            [Some(2), None, Some(1), Some(2)]
        );
        assert_eq!(
            rank(&[Some(3.0), Some(1.0)], Better::Lower),
            [Some(2), Some(1)]
        );
        let root = default_index();
        validate_index(&root).unwrap();
        let vals = [[0.9, 0.8, 0.1, 0.95, 0.9], [1.0, 1.0, 0.0, 1.0, 1.0]];
        let order = [
            Indicator::ClosureRate,
            Indicator::OnTimeRate,
            Indicator::ReworkRate,
            Indicator::LowLevelRate,
            Indicator::SatisfactionRate,
        ];
        let scores = composite(
            &root,
            &|r, i| order.iter().position(|&o| o == i).map(|p| vals[r][p]),
            2,
        );
        assert_eq!(scores, [Some(0.0), Some(100.0)]);
        let mut broken = root.clone();
        broken.children[0].children[0].weight = 0.0;
        assert!(validate_index(&broken).is_err());
    }
}

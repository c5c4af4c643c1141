//! The in-process scheduler: reminds before deadlines, marks what is overdue,
//! and escalates by policy (小事不出村、大事不出镇: what a level does not
//! register or solve in time goes one level up). Every step is an action of
//! the `System` actor through the workflow table, so it lands in the log.
//!
//! A sweep reads only matters whose `next_due` has come (an index range), so
//! its cost grows with what is due, not with what is open; and since the
//! schedule lives in the database, work that fell due while the server was
//! down is done by the first sweep after start.
use std::time::Duration;

use pingan_domain::matter::schedule::Due;
use pingan_domain::matter::{self as rules};
use pingan_domain::workflow::{self, Action, Actor};
use pingan_domain::Scope;
use pingan_storage::{Matter, MatterChange, NewLogEntry, StoreError};
use serde::Serialize;

use crate::state::AppState;

/// Matters handled per read; the sweep reads again until nothing is due.
const BATCH: u32 = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub reminded: u64,
    pub escalated: u64,
    pub overdue: u64,
    pub cleared: u64,
    /// Milestones (respond, arrive…) called late.
    pub milestones_late: u64,
    /// Skipped because a person acted on the matter at the same moment; the
    /// next sweep sees it again.
    pub raced: u64,
    /// Tenancies checked out because their lease ended (租期届满自动注销).
    pub checked_out: u64,
    /// Tenancies whose personal fields were deleted after the retention period.
    pub purged: u64,
    /// Reminders of mediation cases (sessions, deadlines, judicial confirmation).
    pub case_reminders: u64,
}

/// Does everything due by `now` (a parameter, so tests drive the clock).
pub async fn sweep(state: &AppState, now: i64) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    loop {
        let due = state.store.due_matters(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for m in due {
            match handle(state, &m, now).await {
                Ok(Some(kind)) => {
                    progressed = true;
                    match kind {
                        Due::Remind => report.reminded += 1,
                        Due::Milestone => report.milestones_late += 1,
                        Due::Overdue => {
                            report.overdue += 1;
                            report.escalated += 1;
                        }
                        Due::Unregistered => report.escalated += 1,
                        Due::Nothing => report.cleared += 1,
                    }
                }
                Ok(None) => report.raced += 1,
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            // Everything in this batch raced with people: leave it to the next sweep.
            break;
        }
    }
    // Mediation cases keep their own deadlines; matters waiting in
    // mediation have none the loop above would act on.
    report.case_reminders = crate::mediation::sweep(state, now).await?;
    let rentals = crate::rentals::sweep(state, now).await?;
    report.checked_out = rentals.checked_out;
    report.purged = rentals.purged;
    if report != SweepReport::default() {
        state.live.changed();
    }
    Ok(report)
}

/// What the scheduler does to a matter that is due.
#[derive(Debug, Clone)]
pub enum DuePlan {
    /// An action of the `System` actor: the change and its log entry.
    Act(Due, Box<(MatterChange, NewLogEntry)>),
    /// Nothing the table lets it do any more: the schedule ends.
    Clear,
    /// The milestone was reached meanwhile: watch the next one, if any.
    Reschedule(Option<i64>),
}

/// One matter; `None` when a concurrent action changed it first.
async fn handle(state: &AppState, m: &Matter, now: i64) -> Result<Option<Due>, StoreError> {
    let Some(plan) = plan_due(state, m, now) else {
        return Ok(None);
    };
    let (due, change, entry) = match plan {
        DuePlan::Act(due, planned) => (due, planned.0, planned.1),
        DuePlan::Clear => {
            state.store.clear_matter_schedule(m.id).await?;
            return Ok(Some(Due::Nothing));
        }
        DuePlan::Reschedule(at) => {
            state.store.reschedule_milestones(m.id, at).await?;
            return Ok(Some(Due::Nothing));
        }
    };
    match state
        .store
        .apply_matter_action(&Scope::everywhere(), m.id, m.version, &change, &entry)
        .await
    {
        Ok(_) => Ok(Some(due)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Plans what is due on a matter at `now`, without writing (shared with the
/// history generator); `None` for a state this version does not know.
pub fn plan_due(state: &AppState, m: &Matter, now: i64) -> Option<DuePlan> {
    let st = m.state.parse::<workflow::State>().ok()?;
    if m.milestone_due.is_some_and(|d| d <= now) {
        return Some(milestone(m, st, now));
    }
    let due = rules::schedule::what_is_due(st, now, m.deadline, m.overdue);
    let mut change = MatterChange {
        state: m.state.clone(),
        ..MatterChange::default()
    };
    let action = match due {
        Due::Remind => {
            change.next_due = Some(m.deadline);
            Action::Remind
        }
        Due::Overdue | Due::Unregistered => {
            let up = rules::holder_above(&m.holder).map(str::to_string);
            if due == Due::Overdue {
                change.overdue = Some(true);
                change.next_due = Some(None);
            } else {
                // The level above gets the same time to register it; the top stops.
                change.next_due =
                    Some(up.as_ref().map(|_| {
                        rules::schedule::REGISTRATION_LIMIT.deadline(&state.calendar, now)
                    }));
            }
            change.holder = up;
            Action::Escalate
        }
        // `what_is_due` never answers Milestone; milestones are handled above.
        Due::Nothing | Due::Milestone => Action::Remind,
    };
    let to = match workflow::next(st, action, Actor::System) {
        Ok(to) if !matches!(due, Due::Nothing | Due::Milestone) => to,
        // Nothing the table lets the scheduler do here any more.
        _ => return Some(DuePlan::Clear),
    };
    change.state = to.as_str().to_string();
    // The notifier reads these reasons to tell overdue escalations apart.
    let reason = match due {
        Due::Remind => pingan_domain::notice::DEADLINE_NEAR_REASON,
        Due::Overdue => pingan_domain::notice::OVERDUE_REASON,
        Due::Unregistered => "not registered in time",
        Due::Nothing | Due::Milestone => "",
    };
    let entry = system_entry(m, action, st, to, reason, now);
    Some(DuePlan::Act(due, Box::new((change, entry))))
}

/// A milestone (respond, arrive, first feedback…) passed unreached: a
/// reminder in the log, once per milestone.
fn milestone(m: &Matter, st: workflow::State, now: i64) -> DuePlan {
    let mut milestones = crate::matters::milestones_of(m);
    let late = rules::schedule::late_milestone(&milestones, now);
    let to = workflow::next(st, Action::Remind, Actor::System);
    if !rules::schedule::deadline_runs(st) {
        // The matter moved on: nothing runs any more.
        return DuePlan::Clear;
    }
    let (Some(i), Ok(to)) = (late, to) else {
        // Reached meanwhile: look again at the next one.
        return DuePlan::Reschedule(rules::schedule::milestone_wake(&milestones));
    };
    milestones[i].late = true;
    let change = MatterChange {
        state: to.as_str().to_string(),
        milestones: Some(serde_json::to_string(&milestones).ok()),
        milestone_due: Some(rules::schedule::milestone_wake(&milestones)),
        ..MatterChange::default()
    };
    let reason = format!("milestone {} late", milestones[i].milestone.as_str());
    let entry = system_entry(m, Action::Remind, st, to, &reason, now);
    DuePlan::Act(Due::Milestone, Box::new((change, entry)))
}

fn system_entry(
    m: &Matter,
    action: Action,
    from: workflow::State,
    to: workflow::State,
    reason: &str,
    at: i64,
) -> NewLogEntry {
    NewLogEntry {
        subject: String::new(),
        actor_id: None,
        actor_role: "system".into(),
        unit_id: None,
        action: action.as_str().to_string(),
        from_state: Some(from.as_str().to_string()),
        to_state: Some(to.as_str().to_string()),
        body: serde_json::json!({ "reason": reason, "holder_before": m.holder, "deadline": m.deadline })
            .to_string(),
        at,
    }
}

/// Sweeps at start (catching up on what fell due while down), then every `every`.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sweep(&state, pingan_storage::now_ms()).await {
                Ok(r) if r != SweepReport::default() => tracing::info!(?r, "scheduler sweep"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler sweep failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

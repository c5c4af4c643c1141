//! Synthetic matter history for benchmarks (`pingan bench-indicators`):
//! lifecycles (report; reject, merge, self-resolve or register; dispatch,
//! accept, handle, rework, suspension, close, rate) planned by the service
//! layer's own rules — `check_report` / `report_rows` for the report,
//! `plan_action` for each action (the workflow table, deadlines from the
//! catalogue and the calendar, the log payloads) and the scheduler's
//! `plan_due` for reminders and escalations falling due in between — so that
//! the rows written in bulk through `Store::import_matter_histories` are
//! those the service would write one action at a time.
use std::collections::HashMap;

use pingan_domain::random::SplitMix64;
use pingan_domain::unit::UnitKind;
use pingan_domain::workflow::State;
use pingan_domain::{Level, RegionCode, Role, Scope};
use pingan_storage::{Account, Matter, MatterHistory, NewAccount, NewUnit, PhotoRef};

use crate::error::{ApiError, ApiResult};
use crate::matters::{self, ActionFacts, ActionRequest, NewMatterRequest};
use crate::scheduler::{plan_due, DuePlan};
use crate::state::AppState;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The people who act on the generated matters: real accounts, placed per
/// matter (a grid worker on its grid, the operator of the centre holding
/// it, the handler of its county's unit).
pub struct Cast {
    /// The reporting grid worker's account (placed on each matter's grid).
    pub grid_worker: Account,
    operator: Account,
    leader: Account,
    handler: Account,
    /// Per county (6 digits): its handling unit.
    pub units: HashMap<String, i64>,
    photo: PhotoRef,
}

impl Cast {
    pub async fn new(
        state: &AppState,
        tag: &str,
        password_hash: &str,
        now: i64,
    ) -> ApiResult<Cast> {
        let store = state.store.as_ref();
        let everywhere = Scope::everywhere();
        let mut units = HashMap::new();
        for county in store
            .regions_at_level(&everywhere, "33", Level::County)
            .await?
        {
            let unit = store
                .create_unit(
                    &everywhere,
                    &NewUnit {
                        name: format!("{}综合执法", county.name),
                        kind: UnitKind::Department,
                        region: RegionCode::infer(&county.code)
                            .map_err(|e| ApiError::Internal(e.to_string()))?,
                    },
                )
                .await?;
            units.insert(county.code[..6].to_string(), unit.id);
        }
        let first_unit = units.values().min().copied();
        let mut made = Vec::new();
        for (role, name, unit_id) in [
            (Role::GridWorker, "grid-worker", None),
            (Role::CentreOperator, "operator", None),
            (Role::Leader, "leader", None),
            (Role::DepartmentHandler, "handler", first_unit),
        ] {
            made.push(
                store
                    .create_account(
                        &everywhere,
                        &NewAccount {
                            username: format!("bench-{name}-{tag}"),
                            password_hash: password_hash.to_string(),
                            role,
                            scope: Scope::parse("33")
                                .map_err(|e| ApiError::Internal(e.to_string()))?,
                            unit_id,
                            display_name: format!("基准{name}"),
                            phone: None,
                        },
                    )
                    .await?,
            );
        }
        let [grid_worker, operator, leader, handler]: [Account; 4] = made
            .try_into()
            .map_err(|_| ApiError::Internal("four accounts".into()))?;
        // One real result photo, attached to every handled matter.
        let png = pingan_storage::photos::solid_png(64, 48, [96, 160, 110]);
        let stored = matters::store_photo(state, &handler, &png, now).await?;
        Ok(Cast {
            grid_worker,
            operator,
            leader,
            handler,
            units,
            photo: PhotoRef {
                sha256: stored.sha256,
                kind: stored.kind.extension().to_string(),
                stage: "result".into(),
            },
        })
    }

    /// An account placed on a region or grid (and unit) for one matter.
    pub fn at(account: &Account, prefix: &str, unit_id: Option<i64>) -> Account {
        let mut a = account.clone();
        if let Ok(scope) = Scope::parse(prefix) {
            a.scope = scope;
        }
        a.unit_id = unit_id.or(a.unit_id);
        a
    }
}

/// One matter's life, planned step by step as the service would, stopping
/// at `now`.
struct Life<'a> {
    state: &'a AppState,
    cast: &'a Cast,
    now: i64,
    matter: Matter,
    history: MatterHistory,
}

impl Life<'_> {
    /// Runs the scheduler's steps that fall due by `at`; false once past `now`.
    fn sweep_until(&mut self, at: i64) -> bool {
        loop {
            let m = &self.matter;
            let due = match (m.next_due, m.milestone_due) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if due > at || due > self.now {
                break;
            }
            match plan_due(self.state, m, due) {
                Some(DuePlan::Act(_, planned)) => {
                    let (change, log) = *planned;
                    change.apply(&mut self.matter, log.at);
                    self.history.actions.push((change, log));
                }
                Some(DuePlan::Clear) | None => {
                    self.matter.next_due = None;
                    self.matter.milestone_due = None;
                }
                Some(DuePlan::Reschedule(next)) => self.matter.milestone_due = next,
            }
        }
        at <= self.now
    }

    /// Performs an action by the first of the cast the table lets act.
    fn act(&mut self, at: i64, req: ActionRequest, facts: &ActionFacts) -> bool {
        if !self.sweep_until(at) {
            return false;
        }
        let m = &self.matter;
        let county = &m.grid_code[..6];
        let unit = self.cast.units.get(county).copied();
        let above = pingan_domain::matter::holder_above(&m.holder).unwrap_or("33");
        let callers = [
            Cast::at(&self.cast.operator, &m.holder, None),
            Cast::at(&self.cast.handler, county, unit),
            Cast::at(&self.cast.grid_worker, &m.grid_code, None),
            Cast::at(&self.cast.leader, above, None),
        ];
        let req = ActionRequest {
            version: m.version,
            ..req
        };
        for caller in &callers {
            if let Ok((change, log)) =
                matters::plan_action(self.state, caller, m, &req, facts, false, at)
            {
                change.apply(&mut self.matter, at);
                self.history.actions.push((change, log));
                return true;
            }
        }
        false
    }

    fn simple(&mut self, at: i64, action: &str) -> bool {
        self.act(at, request(action), &ActionFacts::default())
    }
}

fn request(action: &str) -> ActionRequest {
    ActionRequest {
        action: action.into(),
        ..ActionRequest::default()
    }
}

/// One matter's life through the service's planning, up to `now`; the
/// merge target, if any, is an earlier matter's id.
#[allow(clippy::too_many_arguments)]
pub fn lifecycle(
    state: &AppState,
    cast: &Cast,
    rng: &mut SplitMix64,
    grid: &str,
    category: &str,
    reported: i64,
    now: i64,
    merge_into: Option<i64>,
) -> ApiResult<MatterHistory> {
    let reporter = Cast::at(&cast.grid_worker, grid, None);
    let req: NewMatterRequest = serde_json::from_value(serde_json::json!({
        "description": "网格员巡查发现",
        "category_code": category,
        "grid_code": grid,
    }))
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let draft = matters::check_report(state, &reporter, &req)?;
    let (report, log) = matters::report_rows(state, &reporter, req, draft, Vec::new(), reported);
    let matter = report.filed(0, None, reported);
    let mut life = Life {
        state,
        cast,
        now,
        matter,
        history: MatterHistory {
            report,
            log,
            actions: Vec::new(),
        },
    };
    run_life(&mut life, rng, reported, merge_into);
    // What fell due after the last action, up to now.
    life.sweep_until(now);
    Ok(life.history)
}

fn run_life(life: &mut Life<'_>, rng: &mut SplitMix64, reported: i64, merge_into: Option<i64>) {
    let photos = ActionFacts {
        photos: vec![life.cast.photo.clone()],
        ..ActionFacts::default()
    };
    let roll = rng.next_f64();
    let mut t = reported + rng.range_i64(10 * 60_000, 3 * HOUR);
    if roll < 0.05 {
        life.simple(t, "reject");
        return;
    }
    if let (true, Some(target)) = (roll < 0.08, merge_into) {
        let req = ActionRequest {
            target_matter_id: Some(target),
            ..request("merge")
        };
        let facts = ActionFacts {
            merge_target: Some(State::Registered),
            ..ActionFacts::default()
        };
        life.act(t, req, &facts);
        return;
    }
    if roll < 0.20 {
        life.act(t, request("self_resolve"), &photos);
        return;
    }
    if !life.simple(t, "register") {
        return;
    }
    t += rng.range_i64(5 * 60_000, 2 * HOUR);
    let county = life.matter.grid_code[..6].to_string();
    let dispatch = ActionRequest {
        unit_id: life.cast.units.get(&county).copied(),
        ..request("dispatch")
    };
    let unit_facts = ActionFacts {
        unit_prefix: county,
        ..ActionFacts::default()
    };
    if !life.act(t, dispatch, &unit_facts) {
        return;
    }
    let deadline = life.matter.deadline.unwrap_or(t + DAY);
    t += rng
        .range_i64(10 * 60_000, 4 * HOUR)
        .min((deadline - t).max(60_000) / 2);
    if !life.simple(t, "accept") {
        return;
    }
    if rng.next_f64() < 0.01 {
        let req = ActionRequest {
            note: Some("等待上级批复".into()),
            ..request("request_suspension")
        };
        if life.act(t + HOUR, req, &ActionFacts::default()) {
            let pending = life
                .history
                .actions
                .last()
                .map(|(_, log)| pingan_storage::LogEntry {
                    seq: 0,
                    at: log.at,
                    subject: String::new(),
                    actor_id: log.actor_id,
                    actor_role: log.actor_role.clone(),
                    unit_id: log.unit_id,
                    action: log.action.clone(),
                    from_state: log.from_state.clone(),
                    to_state: log.to_state.clone(),
                    body: log.body.clone(),
                    prev_hash: Vec::new(),
                    hash: Vec::new(),
                });
            let facts = ActionFacts {
                pending,
                ..ActionFacts::default()
            };
            life.act(t + 2 * HOUR, request("approve_suspension"), &facts);
        }
        return;
    }
    // Three in four on time; the rest run late (the scheduler marks them).
    let done = if rng.next_f64() < 0.25 {
        deadline + rng.range_i64(HOUR, 5 * DAY)
    } else {
        t + (deadline - t).max(0) * rng.range_i64(20, 95) / 100
    };
    if rng.next_f64() < 0.08 {
        let half = t + (done - t) / 2;
        life.act(half, request("report_handled"), &photos);
        let req = ActionRequest {
            note: Some("整改不到位".into()),
            ..request("verify_fail")
        };
        life.act(
            half + HOUR.min((done - half) / 2),
            req,
            &ActionFacts::default(),
        );
    }
    if !life.act(done, request("report_handled"), &photos) {
        return;
    }
    life.simple(done + HOUR, "verify_pass");
    let closed = done + 2 * HOUR;
    if !life.simple(closed, "close") {
        return;
    }
    if rng.next_f64() < 0.6 {
        let req = ActionRequest {
            rating: Some(*rng.pick(&[3, 4, 4, 5, 5, 5])),
            ..request("rate")
        };
        life.act(closed + DAY, req, &ActionFacts::default());
    }
}

//! The demo's month of activity in 诸暨市 (with 枫桥镇) and 台州市路桥区: grid
//! workers and citizens report, centres register, dispatch and verify, units
//! accept, return and handle, some matters run overdue and are escalated by
//! the scheduler, fail verification and are reworked, get rated or reopened.
//!
//! Every step goes through the same service functions as the HTTP API
//! (`file_report`, `perform`, `store_photo`, the scheduler's `sweep`), each
//! at its simulated time, so every demo matter has a valid chained log.
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use anyhow::Context;
use geo::BoundingRect;
use pingan_api::matters::{file_report, perform, store_photo, ActionRequest, NewMatterRequest};
use pingan_api::AppState;
use pingan_domain::category::{Category, Severity};
use pingan_domain::random::SplitMix64;
use pingan_domain::{GridCode, RegionCode, Role, Scope, UnitKind};
use pingan_storage::{Account, Matter, NewAccount, NewUnit};

use crate::progress::bar;

/// The simulated counties: 诸暨市 (home of the Fengqiao way) and 路桥区.
pub const COUNTIES: [&str; 2] = ["330681", "331004"];
/// Reports per county on a working day; weekends see about half.
const REPORTS_PER_DAY: u64 = 45;
/// The scheduler sweeps this often in simulated time.
const SWEEP_EVERY_MS: i64 = 15 * MINUTE;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Asia/Shanghai is UTC+8 all year.
const SHANGHAI: i64 = 8 * HOUR;

#[derive(Debug, Default)]
pub struct SimReport {
    pub reports: u64,
    pub actions: u64,
    /// Steps the service refused (for instance a matter that an escalation
    /// moved on first); the matter simply stays where it is.
    pub refused: u64,
    pub escalated: u64,
    pub overdue: u64,
    pub reminded: u64,
}

/// One account per role the simulation needs, per place.
struct Cast {
    /// Centre operators by the region prefix they hold matters for.
    operators: HashMap<String, Account>,
    /// Grid workers with the grids of their village, by county.
    workers: HashMap<String, Vec<(Account, Vec<GridCode>)>>,
    citizens: HashMap<String, Vec<Account>>,
    /// Units that handle matters: county departments and township offices,
    /// with the handler account of each.
    departments: HashMap<String, Vec<(i64, Account)>>,
    township_units: HashMap<String, (i64, Account)>,
    handlers: HashMap<i64, Account>,
    /// A password hash nobody knows the password of: simulation accounts act
    /// through the service layer and cannot sign in.
    sealed_hash: String,
}

/// The front-door accounts of the simulated counties, for people to sign in
/// with: `(username, role, scope, display name)`.
pub const FRONT_DOOR: [(&str, Role, &str, &str); 4] = [
    ("zhuji-leader", Role::Leader, "330681", "诸暨市领导"),
    (
        "zhuji-operator",
        Role::CentreOperator,
        "330681",
        "诸暨市中心坐席",
    ),
    (
        "fengqiao-operator",
        Role::CentreOperator,
        "330681109",
        "枫桥镇坐席",
    ),
    ("luqiao-leader", Role::Leader, "331004", "路桥区领导"),
];

/// What happens to one matter, decided when it is reported.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    SelfResolve,
    Reject,
    Merge,
    Register,
    Dispatch,
    Return,
    Redispatch,
    Accept,
    Handle,
    Verify,
    Close,
    Rate,
    Reopen,
    CloseReopened,
}

struct Track {
    id: i64,
    reporter: Account,
    township: String,
    overdue: bool,
    rework: bool,
    rated: Option<i64>,
    reopen: bool,
    verify_failed: bool,
}

pub async fn run(state: &AppState, days: u32, seed: u64, end: i64) -> anyhow::Result<SimReport> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(seed ^ 0x5151_0000);
    let cast = cast(state, &mut rng).await?;
    let catalogue = state.catalogue().1;
    let categories: Vec<&Category> = catalogue.categories.iter().collect();
    // A few real photos (one colour per stage), stored once each.
    let photo = |rgb: [u8; 3]| pingan_storage::photos::solid_png(64, 48, rgb);
    let scene_photo = photo([176, 120, 92]);
    let result_photo = photo([96, 160, 110]);

    // Midnight in Shanghai, `days` ago.
    let today = (end + SHANGHAI).div_euclid(DAY) * DAY - SHANGHAI;
    let first_day = today - i64::from(days) * DAY;
    let mut queue: BinaryHeap<Reverse<(i64, u64, usize, u8)>> = BinaryHeap::new();
    let mut pending_reports: Vec<(i64, String)> = Vec::new();
    for day in 0..=i64::from(days) {
        let midnight = first_day + day * DAY;
        let weekday = (midnight + SHANGHAI).div_euclid(DAY).rem_euclid(7); // 0 = Thursday (1970-01-01)
        let weekend = weekday == 2 || weekday == 3;
        for county in COUNTIES {
            let n = if weekend {
                REPORTS_PER_DAY / 2
            } else {
                REPORTS_PER_DAY
            };
            for _ in 0..rng.range_i64(n as i64 * 8 / 10, n as i64 * 12 / 10) {
                let at = midnight + rng.range_i64(7 * HOUR, 21 * HOUR);
                if at < end {
                    pending_reports.push((at, county.to_string()));
                }
            }
        }
    }
    pending_reports.sort();
    let mut tracks: Vec<Track> = Vec::new();
    let mut plans: Vec<Vec<Step>> = Vec::new();
    let mut report = SimReport::default();
    let mut recent_by_township: HashMap<String, Vec<i64>> = HashMap::new();
    let mut seq = 0u64;
    let mut next_sweep = first_day;
    let label = format!("simulating {days} days");
    let pb = bar(pending_reports.len() as u64, &label, false);
    let mut reports = pending_reports.into_iter().peekable();

    loop {
        // The earliest of: the next report, the next step of a matter.
        let next_step = queue.peek().map(|Reverse((t, ..))| *t);
        let next_report = reports.peek().map(|(t, _)| *t);
        let now = match (next_step, next_report) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
        };
        if now >= end {
            break;
        }
        while next_sweep <= now {
            let swept = pingan_api::scheduler::sweep(state, next_sweep).await?;
            report.escalated += swept.escalated;
            report.overdue += swept.overdue;
            report.reminded += swept.reminded;
            next_sweep += SWEEP_EVERY_MS;
        }
        if next_report == Some(now) && next_step.is_none_or(|s| now <= s) {
            let Some((at, county)) = reports.next() else {
                continue;
            };
            pb.inc(1);
            let category = *rng.pick(&categories);
            let severity = if rng.below(100) < 3 {
                Severity::Urgent
            } else {
                Severity::Normal
            };
            let by_worker = rng.below(100) < 72;
            // Citizens report in the grids the county's workers look after.
            let (worker, grids) = rng.pick(&cast.workers[&county]);
            let grid = rng.pick(grids).clone();
            let reporter = if by_worker {
                worker.clone()
            } else {
                rng.pick(&cast.citizens[&county]).clone()
            };
            let Some((lng, lat)) = point_in(state, &grid, &mut rng) else {
                continue;
            };
            let mut photos = None;
            if by_worker {
                let stored = store_photo(state, &reporter, &scene_photo, at).await?;
                photos = Some(vec![stored.sha256]);
            }
            let req = NewMatterRequest {
                description: describe(category, &mut rng),
                category_code: Some(category.code.as_str().to_string()),
                severity: Some(severity.as_str().to_string()),
                lng: Some(lng),
                lat: Some(lat),
                crs: None,
                grid_code: None,
                // Obviously fictitious numbers (the 19999 range is unassigned).
                contact: (!by_worker).then(|| format!("19999{:06}", rng.below(1_000_000))),
                idempotency_key: Some(format!("demo-{seed}-{}", report.reports)),
                photos,
                channel: None,
            };
            let (matter, _) = file_report(state, &reporter, req, at)
                .await
                .context("a simulated report was refused")?;
            report.reports += 1;
            let township = matter.grid_code[..9].to_string();
            let plan = plan_for(by_worker, &mut rng);
            let track = Track {
                id: matter.id,
                reporter,
                township: township.clone(),
                overdue: rng.below(100) < 8,
                rework: rng.below(100) < 10,
                rated: (rng.below(100) < 75).then(|| {
                    if rng.below(10) < 8 {
                        5
                    } else {
                        rng.range_i64(3, 5)
                    }
                }),
                reopen: rng.below(100) < 2,
                verify_failed: false,
            };
            recent_by_township
                .entry(township)
                .or_default()
                .push(matter.id);
            let delay = first_delay(&plan, &mut rng);
            let when = state.calendar.add_working_duration(at, delay);
            tracks.push(track);
            plans.push(plan);
            seq += 1;
            queue.push(Reverse((when, seq, tracks.len() - 1, 0)));
            continue;
        }
        let Some(Reverse((at, _, index, step_no))) = queue.pop() else {
            continue;
        };
        let step = plans[index][usize::from(step_no)];
        let track = &mut tracks[index];
        let Some(matter) = state.store.matter(&Scope::everywhere(), track.id).await? else {
            continue;
        };
        let outcome = take_step(
            state,
            &cast,
            track,
            &matter,
            step,
            at,
            &result_photo,
            &recent_by_township,
            &mut rng,
        )
        .await;
        let next = match outcome {
            Ok(Some(next)) => {
                report.actions += 1;
                next
            }
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(matter = track.id, ?step, error = %e, "simulated step refused");
                report.refused += 1;
                continue;
            }
        };
        let following = usize::from(step_no) + 1;
        // Rework repeats handling and verification once.
        let (next_no, when) = match next {
            Flow::Next(delay) if following < plans[index].len() => (
                following as u8,
                state.calendar.add_working_duration(at, delay),
            ),
            Flow::At(t) if following < plans[index].len() => (following as u8, t),
            Flow::Rework(delay) => {
                let handle = plans[index]
                    .iter()
                    .position(|s| *s == Step::Handle)
                    .unwrap_or(0);
                (handle as u8, state.calendar.add_working_duration(at, delay))
            }
            _ => continue,
        };
        seq += 1;
        queue.push(Reverse((when, seq, index, next_no)));
    }
    let cases = simulate_mediation(state, &cast, end, &mut rng)
        .await
        .context("the simulated mediation failed")?;
    let swept = pingan_api::scheduler::sweep(state, end).await?;
    report.escalated += swept.escalated;
    report.overdue += swept.overdue;
    report.reminded += swept.reminded;
    pb.finish_and_clear();
    println!(
        "simulated {days} days in {:.1} s: {} reports, {} actions ({} steps overtaken by events), \
         {} escalations ({} overdue), {} reminders, {} mediation cases",
        started.elapsed().as_secs_f64(),
        report.reports,
        report.actions,
        report.refused,
        report.escalated,
        report.overdue,
        report.reminded,
        cases,
    );
    Ok(report)
}

/// What comes after a step: the next one after `n` working minutes, the next
/// one at a given time, or handling again after `n` working minutes.
enum Flow {
    Next(i64),
    At(i64),
    Rework(i64),
}

fn plan_for(by_worker: bool, rng: &mut SplitMix64) -> Vec<Step> {
    use Step::*;
    let roll = rng.below(100);
    if by_worker && roll < 15 {
        return vec![SelfResolve, Rate];
    }
    if roll < 19 {
        return vec![Reject];
    }
    if roll < 22 {
        return vec![Merge];
    }
    let mut plan = vec![Register, Dispatch];
    if rng.below(100) < 8 {
        plan.extend([Return, Redispatch]);
    }
    plan.extend([Accept, Handle, Verify, Close, Rate, Reopen, CloseReopened]);
    plan
}

fn first_delay(plan: &[Step], rng: &mut SplitMix64) -> i64 {
    match plan.first() {
        // On the spot.
        Some(Step::SelfResolve) => rng.range_i64(5, 40),
        // A few wait past the registration limit, and the scheduler escalates them.
        _ if rng.below(100) < 4 => rng.range_i64(125, 200),
        _ => rng.range_i64(5, 100),
    }
}

#[allow(clippy::too_many_arguments)]
async fn take_step(
    state: &AppState,
    cast: &Cast,
    track: &mut Track,
    matter: &Matter,
    step: Step,
    at: i64,
    result_photo: &[u8],
    recent: &HashMap<String, Vec<i64>>,
    rng: &mut SplitMix64,
) -> anyhow::Result<Option<Flow>> {
    let operator = |holder: &str| {
        cast.operators
            .get(holder)
            .with_context(|| format!("no operator for {holder}"))
    };
    let mut req = ActionRequest {
        version: matter.version,
        ..ActionRequest::default()
    };
    let (actor, flow) = match step {
        Step::SelfResolve | Step::Handle => {
            let actor = if step == Step::SelfResolve {
                &track.reporter
            } else {
                matter
                    .assigned_unit_id
                    .and_then(|u| cast.handlers.get(&u))
                    .context("no handler")?
            };
            let stored = store_photo(state, actor, result_photo, at).await?;
            req.photos = Some(vec![stored.sha256]);
            req.action = if step == Step::SelfResolve {
                "self_resolve"
            } else {
                "report_handled"
            }
            .into();
            req.note = Some("已处置完毕".into());
            let flow = if step == Step::SelfResolve {
                Flow::At(at + rng.range_i64(HOUR, 36 * HOUR))
            } else {
                Flow::Next(rng.range_i64(30, 240))
            };
            (actor, flow)
        }
        Step::Reject => {
            req.action = "reject".into();
            req.note = Some("不属于受理范围".into());
            (operator(&matter.holder)?, Flow::Next(0))
        }
        Step::Merge => {
            let earlier: Vec<i64> = recent
                .get(&track.township)
                .map(|ids| ids.iter().copied().filter(|id| *id < track.id).collect())
                .unwrap_or_default();
            let Some(target) = earlier.last().copied() else {
                return Ok(None);
            };
            req.action = "merge".into();
            req.target_matter_id = Some(target);
            req.note = Some("与此前上报为同一事件".into());
            (operator(&matter.holder)?, Flow::Next(0))
        }
        Step::Register => {
            req.action = "register".into();
            (operator(&matter.holder)?, Flow::Next(rng.range_i64(5, 30)))
        }
        Step::Dispatch | Step::Redispatch => {
            req.action = "dispatch".into();
            req.unit_id = Some(unit_for(cast, matter, &track.township, state, rng)?);
            (
                operator(&matter.holder)?,
                Flow::Next(rng.range_i64(10, 120)),
            )
        }
        Step::Return => {
            req.action = "return".into();
            req.note = Some("不属于本单位职责，请重新派遣".into());
            let handler = matter
                .assigned_unit_id
                .and_then(|u| cast.handlers.get(&u))
                .context("no handler")?;
            (handler, Flow::Next(rng.range_i64(10, 60)))
        }
        Step::Accept => {
            req.action = "accept".into();
            let handler = matter
                .assigned_unit_id
                .and_then(|u| cast.handlers.get(&u))
                .context("no handler")?;
            let deadline = matter.deadline.unwrap_or(at + DAY);
            let handle_at = if track.overdue {
                deadline + rng.range_i64(HOUR, 2 * DAY)
            } else {
                at + ((deadline - at).max(HOUR) as f64 * rng.range_f64(0.2, 0.9)) as i64
            };
            (handler, Flow::At(handle_at))
        }
        Step::Verify => {
            let fail = track.rework && !track.verify_failed;
            req.action = if fail { "verify_fail" } else { "verify_pass" }.into();
            if fail {
                track.verify_failed = true;
                req.note = Some("现场复核未整改到位".into());
            }
            let flow = if fail {
                Flow::Rework(rng.range_i64(60, 480))
            } else {
                Flow::Next(rng.range_i64(5, 60))
            };
            (operator(&matter.holder)?, flow)
        }
        Step::Close => {
            req.action = "close".into();
            (
                operator(&matter.holder)?,
                Flow::At(at + rng.range_i64(HOUR, 48 * HOUR)),
            )
        }
        Step::Rate => {
            let Some(rating) = track.rated else {
                return Ok(None);
            };
            req.action = "rate".into();
            req.rating = Some(rating);
            req.note = Some(
                if rating >= 4 {
                    "处理及时，满意"
                } else {
                    "基本满意"
                }
                .into(),
            );
            (&track.reporter, Flow::At(at + rng.range_i64(DAY, 3 * DAY)))
        }
        Step::Reopen => {
            if !track.reopen {
                return Ok(None);
            }
            req.action = "reopen".into();
            req.note = Some("问题再次出现".into());
            (&track.reporter, Flow::Next(rng.range_i64(30, 240)))
        }
        Step::CloseReopened => {
            req.action = "close".into();
            req.note = Some("经核实已处理，维持原结果".into());
            (operator(&matter.holder)?, Flow::Next(0))
        }
    };
    perform(state, actor, track.id, req, at).await?;
    Ok(Some(flow))
}

/// The unit a centre sends a matter to: the county department for matters of
/// departments, else the township's own office.
fn unit_for(
    cast: &Cast,
    matter: &Matter,
    township: &str,
    state: &AppState,
    rng: &mut SplitMix64,
) -> anyhow::Result<i64> {
    let catalogue = state.catalogue().1;
    let kind = matter
        .category_code
        .as_deref()
        .and_then(|c| catalogue.find(c))
        .map(|c| c.unit_kind);
    let county = &township[..6];
    if kind == Some(UnitKind::Department) || matter.holder.len() < 9 {
        let list = cast.departments.get(county).context("no departments")?;
        return Ok(rng.pick(list).0);
    }
    cast.township_units
        .get(township)
        .map(|(id, _)| *id)
        .context("no township unit")
}

/// A point inside a grid, by rejection sampling over its bounding box.
fn point_in(state: &AppState, grid: &GridCode, rng: &mut SplitMix64) -> Option<(f64, f64)> {
    let index = state.index();
    let rect = index.get(grid)?.bounding_rect()?;
    for _ in 0..200 {
        let lng = rng.range_f64(rect.min().x, rect.max().x);
        let lat = rng.range_f64(rect.min().y, rect.max().y);
        if index.locate(lng, lat) == Some(grid) {
            return Some((lng, lat));
        }
    }
    None
}

fn describe(category: &Category, rng: &mut SplitMix64) -> String {
    const WHERE: [&str; 6] = [
        "村口",
        "主干道旁",
        "菜市场附近",
        "出租房楼下",
        "小区东门",
        "学校门前",
    ];
    const WHEN: [&str; 4] = ["今早发现", "群众反映", "巡查发现", "持续多日"];
    format!(
        "{}{}：{}，请尽快处理。",
        rng.pick(&WHERE),
        rng.pick(&WHEN),
        category.name_zh
    )
}

/// Creates the simulated counties' units and accounts.
async fn cast(state: &AppState, rng: &mut SplitMix64) -> anyhow::Result<Cast> {
    let store = &state.store;
    let everywhere = Scope::everywhere();
    let sealed_hash = {
        let secret = crate::tools::random_password();
        tokio::task::spawn_blocking(move || pingan_api::auth::hash_password(&secret)).await?
    };
    let mut cast = Cast {
        operators: HashMap::new(),
        workers: HashMap::new(),
        citizens: HashMap::new(),
        departments: HashMap::new(),
        township_units: HashMap::new(),
        handlers: HashMap::new(),
        sealed_hash,
    };
    let index = state.index();
    for county in COUNTIES {
        // Townships and villages of the county, from its grids.
        let mut villages: HashMap<String, Vec<GridCode>> = HashMap::new();
        for (code, _) in index.iter() {
            if code.as_str().starts_with(county) {
                villages
                    .entry(code.as_str()[..12].to_string())
                    .or_default()
                    .push(code.clone());
            }
        }
        anyhow::ensure!(!villages.is_empty(), "county {county} has no grids");
        let mut townships: Vec<String> = villages.keys().map(|v| v[..9].to_string()).collect();
        townships.sort();
        townships.dedup();
        // Names by short code (the store keys regions by their 12 digits).
        let mut full: Vec<String> = Vec::new();
        for short in townships.iter().map(String::as_str).chain([county]) {
            full.push(RegionCode::from_short(short)?.as_str().to_string());
        }
        let names: HashMap<String, String> = store
            .region_names(&full)
            .await?
            .into_iter()
            .filter_map(|r| {
                Some((
                    RegionCode::infer(&r.code).ok()?.prefix().to_string(),
                    r.name,
                ))
            })
            .collect();
        let n = |s: &str| names.get(s).cloned().unwrap_or_else(|| s.to_string());
        let county_name = n(county);
        let county_code = RegionCode::from_short(county)?;

        // Centres from the county up to the province hold escalated matters.
        for (holder, title) in [
            (county.to_string(), format!("{county_name}社会治理中心坐席")),
            (county[..4].to_string(), "市社会治理中心坐席".to_string()),
            ("33".to_string(), "省社会治理中心坐席".to_string()),
        ] {
            if !cast.operators.contains_key(&holder) {
                let account =
                    add(&cast, state, Role::CentreOperator, &holder, None, &title).await?;
                cast.operators.insert(holder, account);
            }
        }
        for (name, short) in [
            ("住房和城乡建设局", "housing"),
            ("综合行政执法局", "enforcement"),
            ("应急管理局", "emergency"),
        ] {
            let unit = store
                .create_unit(
                    &everywhere,
                    &NewUnit {
                        name: format!("{county_name}{name}"),
                        kind: UnitKind::Department,
                        region: county_code.clone(),
                    },
                )
                .await?;
            let handler = add(
                &cast,
                state,
                Role::DepartmentHandler,
                county,
                Some(unit.id),
                &format!("{name}办理人（{short}）"),
            )
            .await?;
            cast.handlers.insert(unit.id, handler.clone());
            cast.departments
                .entry(county.to_string())
                .or_default()
                .push((unit.id, handler));
        }
        for township in &townships {
            let code = RegionCode::from_short(township)?;
            let office = store
                .create_unit(
                    &everywhere,
                    &NewUnit {
                        name: format!("{}四平台办公室", n(township)),
                        kind: UnitKind::FourPlatformOffice,
                        region: code,
                    },
                )
                .await?;
            let handler = add(
                &cast,
                state,
                Role::DepartmentHandler,
                township,
                Some(office.id),
                &format!("{}四平台办理人", n(township)),
            )
            .await?;
            cast.handlers.insert(office.id, handler.clone());
            cast.township_units
                .insert(township.clone(), (office.id, handler));
            let operator = add(
                &cast,
                state,
                Role::CentreOperator,
                township,
                None,
                &format!("{}综治中心坐席", n(township)),
            )
            .await?;
            cast.operators.insert(township.clone(), operator);
            // Two grid workers per township, each for one village's grids.
            let mut in_township: Vec<&String> = villages
                .keys()
                .filter(|v| v.starts_with(township.as_str()))
                .collect();
            in_township.sort();
            for _ in 0..2 {
                let village = (*rng.pick(&in_township)).clone();
                let worker = add(
                    &cast,
                    state,
                    Role::GridWorker,
                    &village,
                    None,
                    &format!("{}网格员", n(township)),
                )
                .await?;
                cast.workers
                    .entry(county.to_string())
                    .or_default()
                    .push((worker, villages[&village].clone()));
            }
        }
        for i in 0..4 {
            let citizen = add(
                &cast,
                state,
                Role::Citizen,
                county,
                None,
                &format!("{county_name}群众{}", i + 1),
            )
            .await?;
            cast.citizens
                .entry(county.to_string())
                .or_default()
                .push(citizen);
        }
    }
    Ok(cast)
}

async fn add(
    cast: &Cast,
    state: &AppState,
    role: Role,
    scope: &str,
    unit_id: Option<i64>,
    display: &str,
) -> anyhow::Result<Account> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(state
        .store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: format!("sim-{}-{scope}-{n}", role.as_str()),
                password_hash: cast.sealed_hash.clone(),
                role,
                scope: Scope::parse(scope)?,
                unit_id,
                display_name: display.to_string(),
                phone: None,
            },
        )
        .await?)
}

/// Where the demo's mediation happens: 枫桥镇 of 诸暨市, the home of the
/// Fengqiao way (小事不出村、大事不出镇).
pub const MEDIATION_TOWNSHIP: &str = "330681109";

/// The demo's mediation committees: (village, township, county labour).
pub struct DemoCommittees {
    pub village: pingan_storage::Committee,
    pub township: pingan_storage::Committee,
    pub labour: pingan_storage::Committee,
}

/// Mediator accounts people sign in with, by committee (0 village,
/// 1 township, 2 labour): `(username, committee, display name)`.
pub const FRONT_DOOR_MEDIATORS: [(&str, usize, &str); 3] = [
    ("fengqiao-village-mediator", 0, "枫桥镇村调委会调解员"),
    ("fengqiao-mediator", 1, "枫桥镇调委会调解员"),
    ("zhuji-labour-mediator", 2, "诸暨市劳动争议调委会调解员"),
];

/// Finds or creates the demo's committees: the general committees of the
/// first village of 枫桥镇 and of the township, and 诸暨市's professional
/// labour-dispute committee. `None` when the township has no grids.
pub async fn ensure_committees(
    store: &dyn pingan_storage::Store,
) -> anyhow::Result<Option<DemoCommittees>> {
    let county = &MEDIATION_TOWNSHIP[..6];
    let Some(first_grid) = store
        .grids(
            &Scope::everywhere(),
            MEDIATION_TOWNSHIP,
            &pingan_storage::Page::first(1),
        )
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let village = RegionCode::infer(&first_grid.village_code)?;
    let names: HashMap<String, String> = store
        .region_names(&[
            village.as_str().to_string(),
            RegionCode::from_short(MEDIATION_TOWNSHIP)?
                .as_str()
                .to_string(),
            RegionCode::from_short(county)?.as_str().to_string(),
        ])
        .await?
        .into_iter()
        .map(|r| (r.code, r.name))
        .collect();
    let existing = store.committees(&Scope::parse(county)?, &[]).await?;
    let mut found = Vec::new();
    for (region, specialty, suffix) in [
        (village.clone(), "general", "人民调解委员会"),
        (
            RegionCode::from_short(MEDIATION_TOWNSHIP)?,
            "general",
            "人民调解委员会",
        ),
        (
            RegionCode::from_short(county)?,
            "labour",
            "劳动争议人民调解委员会",
        ),
    ] {
        let c = match existing
            .iter()
            .find(|c| c.region_code == region.as_str() && c.specialty == specialty)
        {
            Some(c) => c.clone(),
            None => {
                let name = names.get(region.as_str()).cloned().unwrap_or_default();
                store
                    .create_committee(
                        &Scope::everywhere(),
                        &NewUnit {
                            name: format!("{name}{suffix}"),
                            kind: UnitKind::MediationCommittee,
                            region,
                        },
                        specialty,
                    )
                    .await?
            }
        };
        found.push(c);
    }
    let labour = found.pop().expect("three committees");
    let township = found.pop().expect("three committees");
    let village = found.pop().expect("three committees");
    Ok(Some(DemoCommittees {
        village,
        township,
        labour,
    }))
}

/// A few disputes of 枫桥镇 go to mediation during the last days: wage
/// arrears, neighbours, land, family; sessions in person and by video,
/// written and oral agreements, a failure referred to arbitration, an
/// escalation from the village to the township, and cases still open.
async fn simulate_mediation(
    state: &AppState,
    cast: &Cast,
    end: i64,
    rng: &mut SplitMix64,
) -> anyhow::Result<u64> {
    use pingan_api::mediation::{self, CaseActionRequest, OpenCaseRequest};
    let Some(committees) = ensure_committees(&*state.store).await? else {
        return Ok(0);
    };
    let county = &MEDIATION_TOWNSHIP[..6];
    let mut mediators = Vec::new();
    for (c, name) in [
        (&committees.village, "村调委会调解员"),
        (&committees.township, "镇调委会调解员"),
        (&committees.labour, "劳动争议调委会调解员"),
    ] {
        let scope = RegionCode::infer(&c.region_code)?.prefix().to_string();
        mediators.push(add(cast, state, Role::Mediator, &scope, Some(c.id), name).await?);
    }
    let Some(operator) = cast.operators.get(MEDIATION_TOWNSHIP) else {
        return Ok(0);
    };
    let Some(citizen) = cast.citizens.get(county).and_then(|c| c.first()) else {
        return Ok(0);
    };
    let village_prefix = RegionCode::infer(&committees.village.region_code)?
        .prefix()
        .to_string();
    let grids: Vec<GridCode> = state
        .index()
        .under(&village_prefix)
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    anyhow::ensure!(!grids.is_empty(), "the mediation village has no grids");
    // (category, case type, committee 0/1/2, facts, how it goes)
    let plans: [(&str, &str, usize, &str, &str); 6] = [
        (
            "0703",
            "wage_labour",
            2,
            "某建筑工地拖欠14名务工人员三个月工资共计9.6万元，工人多次讨要未果。",
            "written",
        ),
        (
            "0701",
            "neighbourhood",
            0,
            "两户村民因宅基地之间的排水沟堵塞、雨水倒灌发生争执。",
            "oral",
        ),
        (
            "0704",
            "land",
            0,
            "两户村民对承包地边界有争议，涉及约20平方米。",
            "escalate",
        ),
        (
            "0703",
            "wage_labour",
            1,
            "某服装加工厂拖欠5名工人工资共计2.1万元，老板称资金周转困难。",
            "failed",
        ),
        (
            "0702",
            "family_marriage",
            0,
            "夫妻因赡养老人问题多次争吵，女方回娘家居住。",
            "open",
        ),
        (
            "0705",
            "property_management",
            1,
            "小区业主与物业公司因停车收费标准发生纠纷。",
            "accepted",
        ),
    ];
    let mut opened = 0;
    for (i, (category, case_type, committee, facts, course)) in plans.iter().enumerate() {
        let t = end - (12 - 2 * i as i64) * DAY;
        let grid = rng.pick(&grids).clone();
        let Some((lng, lat)) = point_in(state, &grid, rng) else {
            continue;
        };
        let req = NewMatterRequest {
            description: facts.to_string(),
            category_code: Some(category.to_string()),
            severity: None,
            lng: Some(lng),
            lat: Some(lat),
            crs: None,
            grid_code: None,
            contact: Some(format!("19999{:06}", rng.below(1_000_000))),
            idempotency_key: Some(format!("demo-mediation-{i}")),
            photos: None,
            channel: None,
        };
        let (matter, _) = file_report(state, citizen, req, t).await?;
        let matter = perform(
            state,
            operator,
            matter.id,
            ActionRequest {
                action: "register".into(),
                version: matter.version,
                ..ActionRequest::default()
            },
            t + HOUR,
        )
        .await?;
        let committee_id = [
            committees.village.id,
            committees.township.id,
            committees.labour.id,
        ][*committee];
        let mediator = &mediators[*committee];
        let parties = serde_json::json!([
            {"side": "applicant", "name": (["王建国", "陈美华", "赵立新", "周小红", "孙丽", "钱伟"][i]),
             "phone": format!("19999{:06}", rng.below(1_000_000)), "address": "枫桥镇"},
            {"kind": (if *case_type == "wage_labour" || *case_type == "property_management" { "organisation" } else { "person" }),
             "side": "respondent",
             "name": (["诸暨某建筑劳务有限公司", "李永刚", "吴国庆", "诸暨某服装加工厂", "郑强", "诸暨某物业服务有限公司"][i])}
        ]);
        let (case, _) = mediation::open_case(
            state,
            operator,
            OpenCaseRequest {
                matter_id: Some(matter.id),
                matter_version: Some(matter.version),
                committee_id,
                case_type: case_type.to_string(),
                title: None,
                facts: facts.to_string(),
                claims: Some("请求依法调解".into()),
                risk_level: Some(if i == 0 { "high" } else { "low" }.into()),
                risk_reasons: if i == 0 {
                    vec!["涉及人数多".into(), "临近年关".into()]
                } else {
                    vec![]
                },
                parties: serde_json::from_value(parties)?,
                mediator_ids: vec![mediator.id],
                deadline_days: None,
                place_code: None,
                idempotency_key: Some(format!("demo-case-{i}")),
                note: None,
            },
            t + 2 * HOUR,
        )
        .await?;
        opened += 1;
        let act = |name: &str, version: i64| CaseActionRequest {
            action: name.into(),
            version,
            ..CaseActionRequest::default()
        };
        if *course == "accepted" {
            continue;
        }
        if *course == "escalate" {
            let mut req = act("escalate", case.version);
            req.note = Some("涉及两个村民小组，村级难以化解，提请镇调委会调解".into());
            let case = mediation::perform(state, mediator, case.id, req, t + DAY).await?;
            let mut req = act("assign", case.version);
            req.mediator_ids = Some(vec![mediators[1].id]);
            mediation::perform(state, &mediators[1], case.id, req, t + DAY + HOUR).await?;
            continue;
        }
        let video = i % 2 == 0;
        let session_at = if *course == "open" {
            end + 2 * DAY
        } else {
            t + DAY
        };
        let mut req = act("schedule_session", case.version);
        req.session = Some(serde_json::from_value(serde_json::json!({
            "scheduled_at": session_at,
            "mode": if video { "video" } else { "in_person" },
            "place": (!video).then_some("枫桥镇矛盾纠纷调处化解中心调解室"),
            "meeting_link": video.then_some("https://meeting.example.cn/j/fengqiao"),
        }))?);
        let case = mediation::perform(state, mediator, case.id, req, t + 3 * HOUR).await?;
        if *course == "open" {
            continue;
        }
        let mut req = act("record_session", case.version);
        req.session_id = Some(1);
        req.attendees = Some(vec!["申请人".into(), "被申请人".into(), "调解员".into()]);
        req.minutes = Some("调解员释法说理，双方陈述意见。".into());
        let case = mediation::perform(state, mediator, case.id, req, t + DAY + 2 * HOUR).await?;
        let mut req = match *course {
            "failed" => {
                let mut r = act("record_failure", case.version);
                r.note = Some("双方对金额分歧较大，未能达成协议".into());
                r.referral = Some(serde_json::from_value(serde_json::json!({
                    "to": "arbitration", "body": "诸暨市劳动人事争议仲裁委员会"
                }))?);
                r
            }
            form => {
                let mut r = act("record_agreement", case.version);
                let deadline = pingan_domain::calendar::LocalDate::from_utc_ms(t + 20 * DAY);
                r.agreement = Some(serde_json::from_value(serde_json::json!({
                    "form": form,
                    "terms": [
                        {"text": "被申请人分两期支付全部款项，第一期于期限前支付一半", "deadline": deadline.to_string()},
                        {"text": "双方就本纠纷不再另行主张其他权利"}
                    ]
                }))?);
                r
            }
        };
        req.idempotency_key = Some(format!("demo-case-end-{i}"));
        mediation::perform(state, mediator, case.id, req, t + DAY + 3 * HOUR).await?;
    }
    Ok(opened)
}

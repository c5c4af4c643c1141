//! `pingan bench-indicators` (hidden): a year of history for the indicator
//! benchmarks, then the report, ranking and data-screen queries timed
//! in-process through the router (server time, no network).
//!
//! The history is generated as matter lifecycles (report, register or
//! reject or self-resolve, dispatch with a deadline, accept, handle, rework,
//! suspension, escalation, close, rate) whose facts before and after each
//! action go through `pingan_domain::indicators::deltas`, the same function
//! the store applies in the transaction of every report and action. Only the
//! aggregate cells are written: the endpoints measured read nothing else
//! (plus the regions), so their cost is that of the cells.
use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use pingan_domain::calendar::LocalDate;
use pingan_domain::indicators::{self, CellKey, Counters, MatterFacts};
use pingan_domain::random::SplitMix64;
use pingan_domain::workflow::State;
use pingan_domain::{Level, Role, Scope};
use pingan_storage::{NewAccount, Page, Store};
use tower::ServiceExt;

use crate::config::Settings;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Cells are upserted (additively) whenever this many have gathered.
const FLUSH_AT: usize = 400_000;

/// One matter's life, action by action, through the indicator deltas.
fn lifecycle(
    rng: &mut SplitMix64,
    grid: &str,
    category: &str,
    reported: i64,
    now: i64,
    cells: &mut BTreeMap<CellKey, Counters>,
) {
    let mut facts = MatterFacts {
        state: State::Reported,
        grid_code: grid.to_string(),
        category: Some(category.to_string()),
        holder: grid[..9].to_string(),
        deadline: None,
        closed_at: None,
        overdue: false,
        rework_count: 0,
    };
    indicators::accumulate(
        cells,
        indicators::deltas(None, &facts, "report", None, reported),
    );
    let mut t = reported;
    let mut step = |facts: &mut MatterFacts,
                    t: i64,
                    action: &str,
                    rating: Option<i64>,
                    change: &dyn Fn(&mut MatterFacts)|
     -> bool {
        if t > now {
            return false;
        }
        let before = facts.clone();
        change(facts);
        indicators::accumulate(
            cells,
            indicators::deltas(Some(&before), facts, action, rating, t),
        );
        true
    };
    let roll = rng.next_f64();
    t += rng.range_i64(10 * 60_000, 3 * HOUR);
    if roll < 0.05 {
        step(&mut facts, t, "reject", None, &|f| {
            f.state = State::Rejected
        });
        return;
    }
    if roll < 0.08 {
        step(&mut facts, t, "merge", None, &|f| f.state = State::Merged);
        return;
    }
    if roll < 0.20 {
        step(&mut facts, t, "self_resolve", None, &|f| {
            f.state = State::Closed;
            f.closed_at = Some(t);
        });
        return;
    }
    if !step(&mut facts, t, "register", None, &|f| {
        f.state = State::Registered
    }) {
        return;
    }
    t += rng.range_i64(5 * 60_000, 2 * HOUR);
    let deadline = t + rng.range_i64(4 * HOUR, 13 * DAY);
    if !step(&mut facts, t, "dispatch", None, &|f| {
        f.state = State::Dispatched;
        f.deadline = Some(deadline);
    }) {
        return;
    }
    t += rng.range_i64(10 * 60_000, 4 * HOUR);
    if !step(&mut facts, t, "accept", None, &|f| {
        f.state = State::Accepted
    }) {
        return;
    }
    if rng.next_f64() < 0.01 {
        t += HOUR;
        step(&mut facts, t, "approve_suspension", None, &|f| {
            f.state = State::Suspended
        });
        return;
    }
    // Three in four on time; the rest run late and are escalated.
    let late = rng.next_f64() < 0.25;
    let done = if late {
        if !step(&mut facts, deadline, "escalate", None, &|f| {
            f.overdue = true;
            f.holder = f.holder[..6].to_string();
        }) {
            return;
        }
        deadline + rng.range_i64(HOUR, 5 * DAY)
    } else {
        t + (deadline - t) * rng.range_i64(20, 95) / 100
    };
    if rng.next_f64() < 0.08 {
        let half = t + (done - t) / 2;
        step(&mut facts, half, "report_handled", None, &|f| {
            f.state = State::Handled
        });
        step(&mut facts, half + HOUR, "verify_fail", None, &|f| {
            f.state = State::Rework;
            f.rework_count += 1;
        });
    }
    if !step(&mut facts, done, "report_handled", None, &|f| {
        f.state = State::Handled
    }) {
        return;
    }
    step(&mut facts, done + HOUR, "verify_pass", None, &|f| {
        f.state = State::Verified
    });
    let closed = done + 2 * HOUR;
    if !step(&mut facts, closed, "close", None, &|f| {
        f.state = State::Closed;
        f.closed_at = Some(closed);
    }) {
        return;
    }
    if rng.next_f64() < 0.6 {
        let rating = *rng.pick(&[3, 4, 4, 5, 5, 5]);
        step(&mut facts, closed + DAY, "rate", Some(rating), &|f| {
            f.state = State::Rated
        });
    }
}

async fn grid_codes(store: &dyn Store) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = store.grids(&Scope::everywhere(), "33", &page).await?;
        let full = rows.len() == page.limit as usize;
        page.after = rows.last().map(|g| g.code.clone());
        out.extend(rows.into_iter().map(|g| g.code));
        if !full {
            return Ok(out);
        }
    }
}

/// Writes `matters` lifecycles reported over the `days` before now.
pub async fn generate(
    store: &dyn Store,
    matters: u64,
    days: i64,
    seed: u64,
    now: i64,
) -> anyhow::Result<()> {
    let grids = grid_codes(store).await?;
    anyhow::ensure!(
        !grids.is_empty(),
        "no grids: run `pingan demo --days 0` first"
    );
    let catalogue = pingan_domain::category::default_catalogue();
    let categories: Vec<String> = catalogue
        .categories
        .iter()
        .map(|c| c.code.as_str().to_string())
        .collect();
    let mut rng = SplitMix64::new(seed);
    let started = Instant::now();
    let mut cells = BTreeMap::new();
    let (mut written, mut upserts) = (0_u64, 0_usize);
    let start = now - days * DAY;
    for i in 0..matters {
        // In order of filing, spread evenly over the period.
        let reported = start + (i as i64) * (days * DAY) / matters.max(1) as i64;
        let grid = rng.pick(&grids).clone();
        // A few categories dominate, as in practice.
        let category = if rng.next_f64() < 0.6 {
            &categories[(rng.below(8) as usize).min(categories.len() - 1)]
        } else {
            rng.pick(&categories)
        };
        lifecycle(&mut rng, &grid, category, reported, now, &mut cells);
        written += 1;
        if cells.len() >= FLUSH_AT {
            upserts += cells.len();
            store
                .add_indicator_cells(&std::mem::take(&mut cells))
                .await?;
            println!(
                "{written} matters, {upserts} cell upserts, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    upserts += cells.len();
    store.add_indicator_cells(&cells).await?;
    println!(
        "history: {written} matters over {days} days, {upserts} cell upserts in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times the report, ranking and data-screen requests through the router.
pub async fn measure(settings: &Settings, runs: usize, now: i64) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let everywhere = Scope::everywhere();
    let password = crate::tools::random_password();
    let name = format!("bench-leader-{now}");
    store
        .create_account(
            &everywhere,
            &NewAccount {
                username: name.clone(),
                password_hash: pingan_api::auth::hash_password(&password),
                role: Role::Leader,
                scope: Scope::parse("33")?,
                unit_id: None,
                display_name: "基准测试".into(),
                phone: None,
            },
        )
        .await?;
    let index = pingan_api::imports::load_index(&*store).await?;
    let state = crate::serve::app_state(settings, store.clone(), index, false).await?;
    let app = pingan_api::router(state);
    let login = serde_json::json!({"username": name, "password": password}).to_string();
    let res = app
        .clone()
        .oneshot(
            Request::post("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(login))?,
        )
        .await?;
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
    let token = body["token"]
        .as_str()
        .context("no token from login")?
        .to_string();
    let get = |uri: String| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let t = Instant::now();
            let res = app
                .oneshot(
                    Request::get(&uri)
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .body(Body::empty())?,
                )
                .await?;
            let status = res.status();
            let bytes = res.into_body().collect().await?.to_bytes();
            anyhow::ensure!(
                status == StatusCode::OK,
                "{uri}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
            Ok::<f64, anyhow::Error>(t.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let counties: Vec<String> = store
        .regions_at_level(&everywhere, "33", Level::County)
        .await?
        .into_iter()
        .map(|r| r.code[..6].to_string())
        .collect();
    let today = LocalDate::from_utc_ms(now);
    let last_month = LocalDate::new(today.year(), today.month(), 1)
        .context("first of month")?
        .add_days(-1);
    let month = format!("period=month&date={last_month}");
    let from30 = today.add_days(-29);
    let mut report = Vec::new();
    let mut screen = Vec::new();
    let mut ranking = Vec::new();
    for run in 0..runs {
        for county in &counties {
            // The monthly report's data for a county: totals and townships,
            // categories, and the townships' warnings.
            let mut ms = get(format!(
                "/api/v1/indicators?region={county}&{month}&breakdown=child"
            ))
            .await?;
            ms += get(format!(
                "/api/v1/indicators?region={county}&{month}&breakdown=category"
            ))
            .await?;
            ms += get(format!("/api/v1/warnings?parent={county}&{month}")).await?;
            report.push(ms);
            // The data screen's first load: today by category with open and
            // overdue now, and the 30-day trend (the 7-day one is its tail).
            let mut ms = get(format!(
                "/api/v1/indicators?region={county}&period=day&date={today}&breakdown=category"
            ))
            .await?;
            ms += get(format!(
                "/api/v1/indicators?region={county}&period=custom&from={from30}&to={today}&breakdown=day"
            ))
            .await?;
            screen.push(ms);
        }
        let _ = run;
        ranking.push(get(format!("/api/v1/rankings?parent=33&level=township&{month}")).await?);
    }
    for (what, mut v) in [
        ("monthly report data, one county (3 requests)", report),
        ("ranking of all townships (composite)", ranking),
        ("data screen first load, one county (2 requests)", screen),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{what}: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(0.0)
        );
    }
    Ok(())
}

pub async fn run(
    settings: &Settings,
    matters: u64,
    days: i64,
    seed: u64,
    runs: usize,
) -> anyhow::Result<()> {
    let now = pingan_storage::now_ms();
    if matters > 0 {
        let store = settings.open_store().await?;
        generate(store.as_ref(), matters, days, seed, now).await?;
    }
    if runs > 0 {
        measure(settings, runs, now).await?;
    }
    Ok(())
}

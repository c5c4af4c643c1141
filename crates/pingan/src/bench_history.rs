//! `pingan bench-indicators` (hidden): a year of history for the indicator
//! benchmarks, then the report, ranking, data-screen and list queries timed
//! in-process through the router (server time, no network).
//!
//! The history is matter lifecycles planned by the service layer's own rules
//! (`pingan_api::history`), written many at a time through the store's
//! `import_matter_histories`: final rows, hash-chained log and indicator
//! cells in one transaction, as the single actions write them.
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use pingan_api::history::{lifecycle, Cast};
use pingan_api::AppState;
use pingan_domain::calendar::LocalDate;
use pingan_domain::random::SplitMix64;
use pingan_domain::{Level, Role, Scope};
use pingan_storage::{NewAccount, Page, Store};
use tower::ServiceExt;

use crate::config::Settings;

const DAY: i64 = 24 * 3_600_000;
/// Lifecycles written per transaction.
const BATCH: usize = 2_000;

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
    state: &AppState,
    matters: u64,
    days: i64,
    seed: u64,
    now: i64,
) -> anyhow::Result<()> {
    let store = state.store.as_ref();
    let grids = grid_codes(store).await?;
    anyhow::ensure!(
        !grids.is_empty(),
        "no grids: run `pingan demo --days 0` first"
    );
    let hash = pingan_api::auth::hash_password(&crate::tools::random_password());
    let cast = Cast::new(state, &format!("{seed}-{now}"), &hash, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // Categories with a time limit (those the service can dispatch).
    let catalogue = state.catalogue().1;
    let categories: Vec<String> = catalogue
        .categories
        .iter()
        .filter(|c| {
            c.limits_for(pingan_domain::category::Severity::Normal)
                .is_some()
        })
        .map(|c| c.code.as_str().to_string())
        .collect();
    anyhow::ensure!(!categories.is_empty(), "no category has a time limit");
    let mut rng = SplitMix64::new(seed);
    let started = Instant::now();
    let start = now - days * DAY;
    let bar = crate::progress::bar(matters, "matters", false);
    let (mut written, mut entries) = (0_u64, 0_usize);
    let mut merge_into: Option<i64> = None;
    let mut batch = Vec::with_capacity(BATCH);
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
        batch.push(
            lifecycle(
                state, &cast, &mut rng, &grid, category, reported, now, merge_into,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
        if batch.len() == BATCH || i + 1 == matters {
            entries += batch.iter().map(|h| 1 + h.actions.len()).sum::<usize>();
            let made = store.import_matter_histories(&batch).await?;
            written += made.len() as u64;
            merge_into = made.last().map(|m| m.id);
            bar.set_position(written);
            batch.clear();
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "history: {written} matters and {entries} log entries over {days} days in {secs:.0} s ({:.0} matters/s)",
        written as f64 / secs.max(1e-9)
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
    let mut ticker = Vec::new();
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
            // The data screen's ticker: the county's newest matters.
            ticker.push(get(format!("/api/v1/matters?under={county}&limit=20")).await?);
        }
        let _ = run;
        ranking.push(get(format!("/api/v1/rankings?parent=33&level=township&{month}")).await?);
    }
    for (what, mut v) in [
        ("monthly report data, one county (3 requests)", report),
        ("ranking of all townships (composite)", ranking),
        ("data screen first load, one county (2 requests)", screen),
        ("newest matters of one county (ticker)", ticker),
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
        let index = pingan_api::imports::load_index(&*store).await?;
        let state = crate::serve::app_state(settings, store, index, false).await?;
        generate(&state, matters, days, seed, now).await?;
    }
    if runs > 0 {
        measure(settings, runs, now).await?;
    }
    Ok(())
}

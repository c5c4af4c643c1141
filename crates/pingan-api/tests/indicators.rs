//! The safety report: indicators from the aggregates maintained with every
//! report and action, equal to a recomputation from the event log; rankings,
//! warnings and their settings; on both backends.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_api::matters::{self, NewMatterRequest};
use pingan_api::scheduler::sweep;
use pingan_domain::calendar::LocalDate;
use pingan_domain::indicators::{Counters, Period, PeriodKind, GAUGE_DAY};
use pingan_domain::{Role, Scope};
use pingan_storage::{
    on_both_backends, Account, CellGroup, CellQuery, MatterChange, NewAccount, NewLogEntry,
    NewMatter, Store,
};
use serde_json::{json, Value};

on_both_backends!(
    service_layer_fixture,
    tianmen_month,
    rankings_warnings_and_settings,
    immediate_alerts,
    month_rollups
);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Monday 2 November 2026, 09:00 in Shanghai.
fn t0() -> i64 {
    LocalDate::new(2026, 11, 2).unwrap().start_utc_ms() + 9 * HOUR
}

async fn county_leader(f: &Fixture) -> String {
    f.store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "county-leader".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::Leader,
                scope: Scope::parse("330102").unwrap(),
                unit_id: None,
                display_name: "区领导".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    login_token(f, "county-leader").await
}

async fn file(f: &Fixture, who: &Account, grid: &str, at: i64) -> i64 {
    let req: NewMatterRequest = serde_json::from_value(
        json!({"description": "道路障碍物", "category_code": "0403", "grid_code": grid}),
    )
    .unwrap();
    let (m, _) = matters::file_report(&f.state, who, req, at).await.unwrap();
    m.id
}

async fn get(f: &Fixture, token: &str, uri: &str) -> Value {
    let (status, body) = call(&f.app, Method::GET, uri, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn indicator(report: &Value, id: &str) -> Value {
    report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
        .clone()
}

/// Every cell, grouped several ways, to compare the aggregates with a rebuild.
async fn all_cells(store: &dyn Store) -> Vec<Vec<(String, Counters)>> {
    let mut out = Vec::new();
    for group in [
        CellGroup::Region(9),
        CellGroup::Category,
        CellGroup::Day,
        CellGroup::Region(6),
    ] {
        for category in [None, Some("04".to_string())] {
            out.push(
                store
                    .indicator_sums(
                        &Scope::everywhere(),
                        &CellQuery {
                            under: "33".into(),
                            first_day: GAUGE_DAY,
                            last_day: 100_000,
                            category: category.clone(),
                            group,
                        },
                    )
                    .await
                    .unwrap(),
            );
        }
    }
    out
}

/// A hand-computed fixture through the service layer: three reports in
/// township A (one rejected, one closed on time and rated 5, one overdue
/// and escalated) and one in township B left unregistered and escalated.
async fn service_layer_fixture(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let (unit, housing_token) = department(&f).await;
    let worker = account(&f, "grid_worker").await;
    let operator = account(&f, "centre_operator").await;
    let handler = account(&f, "housing").await;
    let county = account(&f, "county-leader").await;
    let t = t0();
    let g = "330102001001001";
    let a = file(&f, &worker, g, t).await;
    let b = file(&f, &worker, g, t + 60_000).await;
    let c = file(&f, &worker, g, t + 120_000).await;
    let d = file(&f, &county, "330102002001001", t).await;
    act(
        &f,
        &operator,
        b,
        "reject",
        t + HOUR,
        json!({"note": "重复"}),
    )
    .await;
    for id in [a, c] {
        act(&f, &operator, id, "register", t + HOUR, json!({})).await;
        act(
            &f,
            &operator,
            id,
            "dispatch",
            t + HOUR,
            json!({"unit_id": unit}),
        )
        .await;
    }
    let photo = upload_photo(
        &f,
        &housing_token,
        &pingan_storage::photos::solid_png(4, 4, [1, 2, 3]),
    )
    .await;
    act(&f, &handler, a, "accept", t + HOUR + 60_000, json!({})).await;
    act(
        &f,
        &handler,
        a,
        "report_handled",
        t + 90 * 60_000,
        json!({"photos": [photo]}),
    )
    .await;
    act(&f, &operator, a, "verify_pass", t + 100 * 60_000, json!({})).await;
    act(&f, &operator, a, "close", t + 2 * HOUR, json!({})).await;
    act(&f, &worker, a, "rate", t + 3 * HOUR, json!({"rating": 5})).await;
    // c runs past its deadline (12:00); d was never registered.
    sweep(&f.state, t + 3 * DAY).await.unwrap();
    let _ = d;

    let month = "period=month&date=2026-11-02";
    let township = get(
        &f,
        &leader,
        &format!("/api/v1/indicators?region=330102001&{month}"),
    )
    .await;
    assert_eq!(township["source"], "aggregates");
    assert_eq!(township["period"]["from"], "2026-11-01");
    assert_eq!(township["period"]["to"], "2026-11-30");
    let counters = &township["counters"];
    for (name, n) in [
        ("received", 3),
        ("registered", 2),
        ("rejected", 1),
        ("dispatched", 2),
        ("closed", 1),
        ("resolved_low", 1),
        ("rated", 1),
        ("rating_sum", 5),
        ("satisfied", 1),
        ("escalated", 1),
        ("due", 2),
        ("due_closed", 1),
        ("due_on_time", 1),
        ("due_overdue", 1),
        ("due_suspended", 0),
    ] {
        assert_eq!(counters[name], n, "{name}: {township}");
    }
    assert_eq!(indicator(&township, "closure_rate")["percent"], 50.0);
    assert_eq!(indicator(&township, "on_time_rate")["percent"], 50.0);
    assert_eq!(indicator(&township, "registration_rate")["percent"], 66.67);
    assert_eq!(indicator(&township, "average_rating")["value"], 5.0);
    assert_eq!(indicator(&township, "low_level_rate")["value"], 1.0);
    assert_eq!(
        (township["open"].as_i64(), township["open_overdue"].as_i64()),
        (Some(1), Some(1))
    );

    // The village and the grid are computed live from the log: the same numbers.
    for region in ["330102001001", g] {
        let live = get(
            &f,
            &leader,
            &format!("/api/v1/indicators?region={region}&{month}"),
        )
        .await;
        assert_eq!(live["source"], "live");
        assert_eq!(live["counters"], township["counters"], "{region}");
        assert_eq!(live["open"], township["open"]);
    }
    // A category filter and a major; another category is empty.
    for cat in ["0403", "04"] {
        let r = get(
            &f,
            &leader,
            &format!("/api/v1/indicators?region=330102001&{month}&category={cat}"),
        )
        .await;
        assert_eq!(r["counters"], township["counters"], "{cat}");
    }
    let none = get(
        &f,
        &leader,
        &format!("/api/v1/indicators?region=330102001&{month}&category=0101"),
    )
    .await;
    assert_eq!(none["counters"]["received"], 0);
    assert_eq!(indicator(&none, "closure_rate")["value"], Value::Null);

    // The county adds township B's report and escalation; children break it down.
    let county_report = get(
        &f,
        &leader,
        &format!("/api/v1/indicators?region=330102&{month}&breakdown=child"),
    )
    .await;
    assert_eq!(county_report["counters"]["received"], 4);
    assert_eq!(county_report["counters"]["escalated"], 2);
    assert_eq!(county_report["open"], 2);
    let rows = county_report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["key"], "330102001");
    assert_eq!(rows[0]["counters"], township["counters"]);
    assert_eq!(rows[1]["name"], "湖滨街道");
    // By day: everything on 2 November (the cohort too: deadlines at noon)
    // but the escalation by the sweep on the 5th.
    let by_day = get(
        &f,
        &leader,
        &format!("/api/v1/indicators?region=330102001&{month}&breakdown=day"),
    )
    .await;
    let days = by_day["rows"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{by_day}");
    assert_eq!(days[0]["key"], "2026-11-02");
    assert_eq!(days[0]["counters"]["due"], 2);
    assert_eq!(
        (
            days[1]["key"].as_str(),
            days[1]["counters"]["escalated"].as_i64()
        ),
        (Some("2026-11-05"), Some(1))
    );
    // A week and a custom range holding the day, and one that does not.
    for p in [
        "period=week&date=2026-11-08",
        "period=custom&from=2026-11-02&to=2026-11-02",
    ] {
        let r = get(
            &f,
            &leader,
            &format!("/api/v1/indicators?region=330102001&{p}"),
        )
        .await;
        assert_eq!(r["counters"]["received"], 3, "{p}");
    }
    let r = get(
        &f,
        &leader,
        "/api/v1/indicators?region=330102001&period=day&date=2026-11-03",
    )
    .await;
    assert_eq!(r["counters"]["received"], 0);

    // Out of scope and bad input.
    let (status, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/indicators?region=330203",
        Some(&leader),
        None,
    )
    .await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{status}"
    );
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/indicators?region=330102&period=fortnight",
        Some(&leader),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // The aggregates equal a recomputation from the event log.
    let (n, differ) = pingan_api::indicators::check(f.store.as_ref())
        .await
        .unwrap();
    assert!(n > 0 && differ.is_empty(), "{differ:?}");
    let before = all_cells(f.store.as_ref()).await;
    let cells = pingan_api::indicators::rebuild(f.store.as_ref())
        .await
        .unwrap();
    assert!(cells > 0);
    assert_eq!(all_cells(f.store.as_ref()).await, before);
}

fn new_matter(n: usize, at: i64) -> (NewMatter, NewLogEntry) {
    let grid = if n.is_multiple_of(2) {
        "330102001001001"
    } else {
        "330102001002001"
    };
    (
        NewMatter {
            tracking_code: format!("T{n:09}"),
            idempotency_key: None,
            state: "reported".into(),
            category_code: Some("0403".into()),
            severity: "normal".into(),
            description: "天门月".into(),
            grid_code: grid.into(),
            lng: None,
            lat: None,
            source: "grid_worker".into(),
            reporter_id: None,
            contact: None,
            holder: "330102001".into(),
            next_due: None,
            photos: vec![],
        },
        NewLogEntry {
            subject: String::new(),
            actor_id: None,
            actor_role: "grid_worker".into(),
            unit_id: None,
            action: "report".into(),
            from_state: None,
            to_state: Some("reported".into()),
            body: json!({"category_code": "0403"}).to_string(),
            at,
        },
    )
}

async fn step(
    store: &dyn Store,
    id: i64,
    action: &str,
    to: &str,
    change: MatterChange,
    at: i64,
    body: Value,
) {
    let m = store
        .matter(&Scope::everywhere(), id)
        .await
        .unwrap()
        .unwrap();
    let log = NewLogEntry {
        subject: String::new(),
        actor_id: None,
        actor_role: "centre_operator".into(),
        unit_id: None,
        action: action.into(),
        from_state: Some(m.state.clone()),
        to_state: Some(to.into()),
        body: body.to_string(),
        at,
    };
    let change = MatterChange {
        state: to.into(),
        ..change
    };
    store
        .apply_matter_action(&Scope::everywhere(), id, m.version, &change, &log)
        .await
        .unwrap();
}

/// The Tianmen month (DOMAIN.md §5): 1,054 received, 996 registered, 972
/// due, 911 closed (93.72%), 737 on time (75.82%), written through the
/// store's reports and actions so the aggregates move as in production.
async fn tianmen_month(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let s = f.store.as_ref();
    let start = LocalDate::new(2026, 11, 1).unwrap().start_utc_ms() + 9 * HOUR;
    let batch: Vec<_> = (0..1054)
        .map(|n| new_matter(n, start + (n as i64 % 20) * DAY))
        .collect();
    let mut ids = Vec::new();
    for chunk in batch.chunks(200) {
        ids.extend(
            s.create_matters(chunk)
                .await
                .unwrap()
                .into_iter()
                .map(|(m, _)| m.id),
        );
    }
    for (n, &id) in ids.iter().enumerate() {
        let at = start + (n as i64 % 20) * DAY + HOUR;
        if n >= 996 {
            step(
                s,
                id,
                "reject",
                "rejected",
                MatterChange::default(),
                at,
                json!({}),
            )
            .await;
            continue;
        }
        step(
            s,
            id,
            "register",
            "registered",
            MatterChange::default(),
            at,
            json!({}),
        )
        .await;
        if n >= 972 {
            continue;
        }
        let deadline = at + 3 * DAY;
        let change = MatterChange {
            deadline: Some(Some(deadline)),
            category_code: Some("0403".into()),
            ..MatterChange::default()
        };
        step(
            s,
            id,
            "dispatch",
            "dispatched",
            change,
            at,
            json!({"deadline": deadline, "category_code": "0403"}),
        )
        .await;
        if n >= 911 {
            continue;
        }
        let closed_at = if n < 737 {
            deadline - HOUR
        } else {
            deadline + HOUR
        };
        let change = MatterChange {
            closed_at: Some(Some(closed_at)),
            ..MatterChange::default()
        };
        step(s, id, "close", "closed", change, closed_at, json!({})).await;
    }
    let r = get(
        &f,
        &leader,
        "/api/v1/indicators?region=330102001&period=month&date=2026-11-01",
    )
    .await;
    let c = &r["counters"];
    assert_eq!(
        (
            c["received"].as_i64(),
            c["registered"].as_i64(),
            c["due"].as_i64(),
            c["due_closed"].as_i64(),
            c["due_on_time"].as_i64()
        ),
        (Some(1054), Some(996), Some(972), Some(911), Some(737)),
        "{r}"
    );
    assert_eq!(indicator(&r, "closure_rate")["percent"], 93.72);
    assert_eq!(indicator(&r, "on_time_rate")["percent"], 75.82);
    assert_eq!(indicator(&r, "registration_rate")["percent"], 94.5);
    // The county and province read the rollups: the same figures.
    f.store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "province-leader".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::Leader,
                scope: Scope::parse("33").unwrap(),
                unit_id: None,
                display_name: "省领导".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    let province = login_token(&f, "province-leader").await;
    for region in ["330102", "3301", "33"] {
        let up = get(
            &f,
            &province,
            &format!("/api/v1/indicators?region={region}&period=month&date=2026-11-01"),
        )
        .await;
        assert_eq!(up["counters"], r["counters"], "{region}");
    }
    let before = all_cells(s).await;
    pingan_api::indicators::rebuild(s).await.unwrap();
    assert_eq!(all_cells(s).await, before);
}

async fn rankings_warnings_and_settings(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let (unit, housing_token) = department(&f).await;
    let worker = account(&f, "grid_worker").await;
    let operator = account(&f, "centre_operator").await;
    let other = account(&f, "other-operator").await;
    let county = account(&f, "county-leader").await;
    let handler = account(&f, "housing").await;
    let t = t0();
    // Township A: two due, none closed. Township B: one due, closed on time.
    for _ in 0..2 {
        let id = file(&f, &worker, "330102001001001", t).await;
        act(&f, &operator, id, "register", t + HOUR, json!({})).await;
        act(
            &f,
            &operator,
            id,
            "dispatch",
            t + HOUR,
            json!({"unit_id": unit}),
        )
        .await;
    }
    let id = file(&f, &county, "330102002001001", t).await;
    act(&f, &other, id, "register", t + HOUR, json!({})).await;
    act(
        &f,
        &other,
        id,
        "dispatch",
        t + HOUR,
        json!({"unit_id": unit}),
    )
    .await;
    let photo = upload_photo(
        &f,
        &housing_token,
        &pingan_storage::photos::solid_png(4, 4, [3, 2, 1]),
    )
    .await;
    act(&f, &handler, id, "accept", t + HOUR, json!({})).await;
    act(
        &f,
        &handler,
        id,
        "report_handled",
        t + 90 * 60_000,
        json!({"photos": [photo]}),
    )
    .await;
    act(&f, &other, id, "verify_pass", t + 100 * 60_000, json!({})).await;
    act(&f, &other, id, "close", t + 2 * HOUR, json!({})).await;

    let month = "period=month&date=2026-11-02";
    let ranking = get(
        &f,
        &leader,
        &format!("/api/v1/rankings?parent=330102&{month}&indicator=received"),
    )
    .await;
    assert_eq!(ranking["level"], "township");
    let regions = ranking["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 2);
    assert_eq!(regions[0]["code"], "330102001000");
    assert_eq!(regions[0]["rank"], 1);
    assert_eq!(regions[0]["value"], 2.0);
    assert_eq!(regions[1]["rank"], 2);
    let composite = get(
        &f,
        &leader,
        &format!("/api/v1/rankings?parent=330102&{month}&all=true"),
    )
    .await;
    assert_eq!(composite["indicator"], "composite");
    let a = composite["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "330102001000")
        .unwrap();
    assert_eq!(
        (
            a["values"]["received"].as_f64(),
            a["ranks"]["received"].as_u64()
        ),
        (Some(2.0), Some(1))
    );

    // Warnings with the shipped rules, then with an admin's.
    let w = get(
        &f,
        &leader,
        &format!("/api/v1/warnings?parent=330102&{month}"),
    )
    .await;
    assert_eq!(w["rules_version"], Value::Null);
    assert_eq!(w["previous_period"]["from"], "2026-10-01");
    assert_eq!(w["same_period_last_year"]["from"], "2025-11-01");
    let a = &w["regions"][0];
    assert_eq!(a["code"], "330102001000");
    assert_eq!(a["overall"], "red", "{w}");
    assert_eq!(a["indicators"]["closure_rate"], "red");
    assert!(a["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["indicator"] == "closure_rate"
            && r["basis"] == "absolute"
            && r["text_zh"].as_str().unwrap().contains("结案率")));

    let admin = &f.tokens[&Role::Admin];
    let rules = json!({"version": null, "rules": [
        {"indicator": "received", "basis": "siblings_median", "yellow": 0.2, "red": 0.5}
    ]});
    let (status, body) = call(
        &f.app,
        Method::PUT,
        "/api/v1/warning-rules",
        Some(&leader),
        Some(rules.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, saved) = call(
        &f.app,
        Method::PUT,
        "/api/v1/warning-rules",
        Some(admin),
        Some(rules.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 1);
    let (status, _) = call(
        &f.app,
        Method::PUT,
        "/api/v1/warning-rules",
        Some(admin),
        Some(rules),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a stale version");
    let bad = json!({"version": 1, "rules": [{"indicator": "closure_rate", "basis": "absolute", "yellow": 0.8, "red": 0.9}]});
    let (status, body) = call(
        &f.app,
        Method::PUT,
        "/api/v1/warning-rules",
        Some(admin),
        Some(bad),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_rules");
    let w = get(
        &f,
        &leader,
        &format!("/api/v1/warnings?parent=330102&{month}"),
    )
    .await;
    assert_eq!(w["rules_version"], 1);
    // Received 2 and 1: the median is 1.5; A is a third above it (yellow).
    assert_eq!(w["regions"][0]["overall"], "yellow", "{w}");
    assert_eq!(w["regions"][1]["overall"], "green");

    // The composite index: on-time closure only; B ranks first.
    let index = json!({"version": null, "index": {"name": "平安指数", "weight": 1.0, "children": [
        {"name": "按期结案率", "weight": 1.0, "indicator": "on_time_rate"}]}});
    let (status, saved) = call(
        &f.app,
        Method::PUT,
        "/api/v1/composite-index",
        Some(admin),
        Some(index),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (_, got) = call(
        &f.app,
        Method::GET,
        "/api/v1/composite-index",
        Some(&leader),
        None,
    )
    .await;
    assert_eq!(got["version"], 1);
    let composite = get(
        &f,
        &leader,
        &format!("/api/v1/rankings?parent=330102&{month}"),
    )
    .await;
    assert_eq!(composite["composite_index_version"], 1);
    assert_eq!(
        composite["regions"][0]["code"], "330102002000",
        "{composite}"
    );
    assert_eq!(composite["regions"][0]["composite"], 100.0);
    assert_eq!(composite["regions"][1]["composite"], 0.0);
}

async fn report_category(f: &Fixture, who: &Account, grid: &str, category: &str, at: i64) -> i64 {
    let req: NewMatterRequest = serde_json::from_value(
        json!({"description": "即时预警测试", "category_code": category, "grid_code": grid}),
    )
    .unwrap();
    matters::file_report(&f.state, who, req, at)
        .await
        .unwrap()
        .0
        .id
}

/// A red-flag report and the third alike in a village within 24 hours
/// alert the township and county centres at once; the second village's
/// report and one outside the window do not.
async fn immediate_alerts(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let worker = account(&f, "grid_worker").await;
    let t = t0();
    let g = "330102001001001";
    report_category(&f, &worker, g, "0403", t - 30 * HOUR).await;
    for k in 0..3 {
        report_category(&f, &worker, g, "0403", t + k * HOUR).await;
    }
    let fire = report_category(&f, &worker, g, "0501", t + 4 * HOUR).await;
    pingan_api::notify::notify_sweep(&f.state, t + 5 * HOUR)
        .await
        .unwrap();
    let alerts = get(&f, &leader, "/api/v1/alerts").await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["matter_id"], fire);
    assert!(alerts[0]["title_zh"].as_str().unwrap().contains("红色预警"));
    assert!(alerts[1]["title_zh"].as_str().unwrap().contains("聚集预警"));
    assert_eq!(alerts[1]["township"], "330102001");
    // The township centre's operators have them in their feed.
    let feed = get(
        &f,
        &f.tokens[&Role::CentreOperator],
        "/api/v1/notifications",
    )
    .await;
    let kinds: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .filter(|k| *k == "alert")
        .collect();
    assert_eq!(kinds.len(), 2, "{feed}");
    // Admins set the cluster size; others may only read it.
    let admin = &f.tokens[&Role::Admin];
    let doc = json!({"version": null, "settings": {"red_flag_categories": ["0505"], "cluster_size": 5, "cluster_hours": 12}});
    let (status, body) = call(
        &f.app,
        Method::PUT,
        "/api/v1/alert-settings",
        Some(&leader),
        Some(doc.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, saved) = call(
        &f.app,
        Method::PUT,
        "/api/v1/alert-settings",
        Some(admin),
        Some(doc),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let got = get(&f, &leader, "/api/v1/alert-settings").await;
    assert_eq!(got["settings"]["cluster_size"], 5);
    let (status, body) = call(&f.app, Method::PUT, "/api/v1/alert-settings", Some(admin),
        Some(json!({"version": 1, "settings": {"red_flag_categories": ["x"], "cluster_size": 3, "cluster_hours": 24}}))).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_alert_settings",
    );
}

/// Sums over months, quarters, a year and a custom range read the monthly
/// rollup: they equal the day cells' sums after reports and actions spread
/// across month ends; a tampered cell still fails `stats check`.
async fn month_rollups(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let s = f.store.as_ref();
    let start = LocalDate::new(2026, 1, 20).unwrap().start_utc_ms() + 9 * HOUR;
    let batch: Vec<_> = (0..240)
        .map(|n| new_matter(n, start + (n as i64 % 80) * DAY))
        .collect();
    let made = s.create_matters(&batch).await.unwrap();
    for (n, (m, _)) in made.iter().enumerate() {
        let at = m.created_at + (n as i64 % 5) * DAY;
        if n % 7 == 0 {
            let change = MatterChange::default();
            step(s, m.id, "reject", "rejected", change, at, json!({})).await;
            continue;
        }
        step(
            s,
            m.id,
            "register",
            "registered",
            MatterChange::default(),
            at,
            json!({}),
        )
        .await;
        let deadline = at + 3 * DAY;
        let change = MatterChange {
            deadline: Some(Some(deadline)),
            ..MatterChange::default()
        };
        step(
            s,
            m.id,
            "dispatch",
            "dispatched",
            change,
            at + HOUR,
            json!({}),
        )
        .await;
        if n % 3 != 0 {
            let closed_at = at + (n as i64 % 6) * DAY;
            let change = MatterChange {
                closed_at: Some(Some(closed_at)),
                ..MatterChange::default()
            };
            step(s, m.id, "close", "closed", change, closed_at, json!({})).await;
        }
    }
    // As kept with every report and action, then as `stats rebuild` writes them.
    for rebuilt in [false, true] {
        if rebuilt {
            pingan_api::indicators::rebuild(s).await.unwrap();
        }
        same_month_sums(s).await;
    }
    let (_, differ) = pingan_api::indicators::check(s).await.unwrap();
    assert!(differ.is_empty(), "{differ:?}");
    // A tampered cell (and so its month) differs from the log.
    let cells = s.indicator_cells().await.unwrap();
    let (key, _) = cells.iter().find(|(k, _)| k.day >= 0).unwrap().clone();
    let mut extra = Counters::default();
    extra.0[0] = 1;
    s.add_indicator_cells(&[(key.clone(), extra)].into_iter().collect())
        .await
        .unwrap();
    let (_, differ) = pingan_api::indicators::check(s).await.unwrap();
    let month = pingan_domain::indicators::month_start(key.day);
    assert!(differ.contains(&key), "{differ:?}");
    assert!(
        differ
            .iter()
            .any(|k| k.day == month && k.township == key.township && k.category == "*"),
        "{differ:?}"
    );
    // A rebuild puts the cells and their months right again.
    pingan_api::indicators::rebuild(s).await.unwrap();
    let (_, differ) = pingan_api::indicators::check(s).await.unwrap();
    assert!(differ.is_empty(), "{differ:?}");
}

/// Township sums over months, quarters, a year and custom ranges equal the
/// sums of the day cells.
async fn same_month_sums(s: &dyn Store) {
    let cells = s.indicator_cells().await.unwrap();
    let expect = |first: i64, last: i64| {
        let mut by: std::collections::BTreeMap<String, Counters> = Default::default();
        for (k, c) in cells
            .iter()
            .filter(|(k, _)| (first..=last).contains(&k.day))
        {
            *by.entry(k.township.clone()).or_default() += c;
        }
        by.into_iter().collect::<Vec<_>>()
    };
    let date = |m, d| LocalDate::new(2026, m, d).unwrap();
    let periods = [
        Period::containing(PeriodKind::Month, date(1, 15)),
        Period::containing(PeriodKind::Month, date(2, 1)),
        Period::containing(PeriodKind::Month, date(3, 31)),
        Period::containing(PeriodKind::Quarter, date(2, 10)),
        Period::containing(PeriodKind::Quarter, date(4, 10)),
        Period::containing(PeriodKind::Year, date(6, 1)),
        Period::custom(date(1, 25), date(3, 10)).unwrap(),
        Period::custom(date(2, 27), date(3, 2)).unwrap(),
    ];
    for period in periods {
        let (first_day, last_day) = period.day_range();
        let sums = s
            .indicator_sums(
                &Scope::everywhere(),
                &CellQuery {
                    under: "33".into(),
                    first_day,
                    last_day,
                    category: None,
                    group: CellGroup::Region(9),
                },
            )
            .await
            .unwrap();
        let expected = expect(first_day, last_day);
        assert!(!expected.is_empty(), "{period:?}");
        assert_eq!(sums, expected, "{period:?}");
    }
}

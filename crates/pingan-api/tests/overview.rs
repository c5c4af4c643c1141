//! The drill-down map, the leader's dashboard, possible duplicates and the
//! escalated filter, through the router on both backends.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_api::matters::{self, ActionRequest};
use pingan_api::scheduler::sweep;
use pingan_domain::{Role, Scope};
use pingan_storage::{on_both_backends, DeadlineCohort, MatterFilter, NewAccount, Store};
use serde_json::{json, Value};

on_both_backends!(
    map_drills_down_within_scope,
    duplicates_are_near_recent_and_alike,
    escalated_filter_and_deadline_cohort
);

const HOUR: i64 = 3600 * 1000;
const DAY: i64 = 24 * HOUR;
/// A point in grid 330102001001001 and others 100 m east and 400 m north of it.
const HERE: (f64, f64) = (120.005, 30.005);
const EAST_100M: (f64, f64) = (120.006_037, 30.005);
const NORTH_400M: (f64, f64) = (120.005, 30.008_6);

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

async fn report_at(f: &Fixture, token: &str, category: &str, at: (f64, f64)) -> Value {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(token),
        Some(json!({"description": "消防通道堵塞", "category_code": category, "lng": at.0, "lat": at.1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

async fn report_in(f: &Fixture, token: &str, grid: &str) -> Value {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(token),
        Some(json!({"description": "违章停车占道", "category_code": "0402", "grid_code": grid})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

fn feature<'a>(map: &'a Value, code: &str) -> &'a Value {
    map["features"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["code"] == code)
        .unwrap_or_else(|| panic!("no feature {code} in {map}"))
}

fn polygons(feature: &Value) -> usize {
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    feature["geometry"]["coordinates"].as_array().unwrap().len()
}

async fn get(f: &Fixture, token: &str, uri: &str) -> (StatusCode, Value) {
    call(&f.app, Method::GET, uri, Some(token), None).await
}

async fn map_drills_down_within_scope(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    for at in [HERE, EAST_100M, NORTH_400M] {
        report_at(&f, worker, "0401", at).await;
    }
    report_in(&f, operator, "330102001002001").await;
    report_in(&f, &leader, "330102002001001").await;

    // The county: one feature per township, drawn from its grids.
    let (status, county) = get(&f, &leader, "/api/v1/map/330102").await;
    assert_eq!(status, StatusCode::OK, "{county}");
    assert_eq!(county["child_level"], "township");
    assert_eq!(county["region"]["code"], "330102000000");
    let a = feature(&county, "330102001000");
    assert_eq!(a["properties"]["open"], 4);
    assert_eq!(a["properties"]["filed"], 4);
    assert_eq!(polygons(a), 2, "township A has two grids");
    assert_eq!(feature(&county, "330102002000")["properties"]["open"], 1);

    // Down to a township and a village: villages, then grids.
    let (_, township) = get(&f, &leader, "/api/v1/map/330102001").await;
    assert_eq!(township["child_level"], "village");
    assert_eq!(
        township["path"][township["path"].as_array().unwrap().len() - 1]["code"],
        "330102000000"
    );
    assert_eq!(feature(&township, "330102001001")["properties"]["open"], 3);
    assert_eq!(feature(&township, "330102001002")["properties"]["open"], 1);
    let (_, village) = get(&f, &leader, "/api/v1/map/330102001001").await;
    assert_eq!(village["child_level"], "grid");
    let grid = feature(&village, "330102001001001");
    assert_eq!(grid["properties"]["open"], 3);
    assert_eq!(polygons(grid), 1);

    // Township A's operator sees only A, even on the county's map.
    let (status, county_a) = get(&f, operator, "/api/v1/map/330102").await;
    assert_eq!(status, StatusCode::OK, "{county_a}");
    let codes: Vec<&str> = county_a["features"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["330102001000"]);
    let (status, _) = get(&f, operator, "/api/v1/map/330102002").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&f, operator, "/api/v1/map/33x").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = get(&f, operator, "/api/v1/map/330102001?days=0").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // The dashboard: today's intake by category, open by township.
    let (status, dash) = get(&f, &leader, "/api/v1/dashboard").await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(dash["today_total"], 5);
    assert_eq!(dash["today"][0]["category_code"], "0401");
    assert_eq!(dash["today"][0]["count"], 3);
    assert!(dash["today"][0]["name_zh"].as_str().unwrap().len() > 1);
    assert_eq!(dash["child_level"], "township");
    let open_a = dash["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "330102001000")
        .unwrap();
    assert_eq!(open_a["open"], 4);
    assert_eq!(dash["open"]["open"], 5);
    // Nothing was due this month yet: no rate rather than a made-up one.
    assert_eq!(dash["month"]["due"], 0);
    assert!(dash["month"]["closure_rate"].is_null());
    let (_, dash_a) = get(&f, operator, "/api/v1/dashboard").await;
    assert_eq!(dash_a["region"]["code"], "330102001000");
    assert_eq!(dash_a["open"]["open"], 4);
    let (status, _) = get(&f, operator, "/api/v1/dashboard?region=330102002").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn duplicates_are_near_recent_and_alike(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    let here = report_at(&f, worker, "0401", HERE).await;
    let east = report_at(&f, worker, "0401", EAST_100M).await;
    report_at(&f, worker, "0401", NORTH_400M).await;
    report_at(&f, worker, "0402", HERE).await;
    let id = here["id"].as_i64().unwrap();

    let (status, found) = get(&f, operator, &format!("/api/v1/matters/{id}/duplicates")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["id"], east["id"]);
    let d = found[0]["distance_m"].as_f64().unwrap();
    assert!((d - 100.0).abs() < 1.0, "{d}");
    assert!(found[0]["actions_allowed"].is_array());

    // Merged into the first, it is no longer offered.
    let (status, merged) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{}/actions", east["id"]),
        Some(operator),
        Some(json!({"action": "merge", "version": east["version"], "target_matter_id": id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    let (_, found) = get(&f, operator, &format!("/api/v1/matters/{id}/duplicates")).await;
    assert_eq!(found, json!([]));

    // Another township's operator cannot ask.
    let other = login_token(&f, "other-operator").await;
    let (status, _) = get(&f, &other, &format!("/api/v1/matters/{id}/duplicates")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn escalated_filter_and_deadline_cohort(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let leader = county_leader(&f).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let (unit, _) = department(&f).await;
    let operator_account = f
        .store
        .account_by_username(&Scope::everywhere(), "centre_operator")
        .await
        .unwrap()
        .unwrap();

    // Three dispatched twenty days ago: closed on time, closed late, open.
    let now = pingan_storage::now_ms();
    let t0 = now - 20 * DAY;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let m = report_in(&f, operator, "330102001001001").await;
        let id = m["id"].as_i64().unwrap();
        for (action, at) in [("register", t0), ("dispatch", t0)] {
            let version = f
                .store
                .matter(&Scope::everywhere(), id)
                .await
                .unwrap()
                .unwrap()
                .version;
            matters::perform(
                &f.state,
                &operator_account,
                id,
                ActionRequest {
                    action: action.into(),
                    version,
                    unit_id: Some(unit),
                    ..ActionRequest::default()
                },
                at,
            )
            .await
            .unwrap();
        }
        ids.push(id);
    }
    let handler = f
        .store
        .account_by_username(&Scope::everywhere(), "housing")
        .await
        .unwrap()
        .unwrap();
    for (id, closed_at) in [(ids[0], t0 + HOUR), (ids[1], now - DAY)] {
        for (who, action) in [
            (&handler, "accept"),
            (&handler, "report_handled"),
            (&operator_account, "verify_pass"),
            (&operator_account, "close"),
        ] {
            let m = f
                .store
                .matter(&Scope::everywhere(), id)
                .await
                .unwrap()
                .unwrap();
            let photos = if action == "report_handled" {
                Some(vec![
                    upload_photo(&f, &login_token(&f, "housing").await, &photo_bytes(id)).await,
                ])
            } else {
                None
            };
            matters::perform(
                &f.state,
                who,
                id,
                ActionRequest {
                    action: action.into(),
                    version: m.version,
                    photos,
                    ..ActionRequest::default()
                },
                closed_at,
            )
            .await
            .unwrap_or_else(|e| panic!("{action}: {e:?}"));
        }
    }
    let under = MatterFilter {
        under: Some("330102".into()),
        ..MatterFilter::default()
    };
    let cohort = f
        .store
        .deadline_cohort(&Scope::everywhere(), &under, t0, now)
        .await
        .unwrap();
    assert_eq!(
        cohort,
        DeadlineCohort {
            due: 3,
            suspended: 0,
            closed: 2,
            closed_on_time: 1,
        }
    );
    let later = f
        .store
        .deadline_cohort(&Scope::everywhere(), &under, now, now + 30 * DAY)
        .await
        .unwrap();
    assert_eq!(later, DeadlineCohort::default());

    // A report nobody registers is escalated by the scheduler; the filter
    // tells it from the rest.
    let late = report_in(&f, operator, "330102001002001").await;
    sweep(&f.state, now + 30 * DAY).await.unwrap();
    let (_, escalated) = get(&f, &leader, "/api/v1/matters?escalated=true").await;
    let escalated: Vec<i64> = escalated["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(escalated.contains(&late["id"].as_i64().unwrap()));
    let (_, all) = get(&f, &leader, "/api/v1/matters/counts").await;
    let (_, not) = get(&f, &leader, "/api/v1/matters/counts?escalated=false").await;
    let (_, yes) = get(&f, &leader, "/api/v1/matters/counts?escalated=true").await;
    assert_eq!(yes["total"].as_i64().unwrap(), escalated.len() as i64);
    assert_eq!(
        yes["total"].as_i64().unwrap() + not["total"].as_i64().unwrap(),
        all["total"].as_i64().unwrap()
    );
    for id in escalated {
        let log = f.store.log_for(&format!("matter:{id}")).await.unwrap();
        assert!(log.iter().any(|e| e.action == "escalate"), "matter {id}");
    }
}

/// A distinct small PNG per matter (photos are stored by content).
fn photo_bytes(seed: i64) -> Vec<u8> {
    pingan_storage::photos::solid_png(4, 4, [seed as u8, 7, 9])
}

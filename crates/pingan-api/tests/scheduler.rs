//! The scheduler on a controllable clock, on both backends: escalation of
//! unregistered reports, reminder, overdue and escalation of dispatched ones,
//! and catching up after a restart.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_api::scheduler::{sweep, SweepReport};
use pingan_api::{imports, AppState};
use pingan_domain::{RegionCode, Role, Scope, UnitKind};
use pingan_storage::{on_both_backends, NewUnit, Store};
use serde_json::{json, Value};

on_both_backends!(deadlines_remind_and_escalate);

const DAY: i64 = 24 * 3600 * 1000;

/// A fresh AppState over the same store: what the server has after a restart.
async fn restarted(store: &Arc<dyn Store>) -> AppState {
    let index = imports::load_index(&**store).await.unwrap();
    let state = AppState::new(store.clone(), index, common::test_config());
    state.load_catalogue().await.unwrap();
    state
}

async fn file(f: &Fixture, description: &str) -> Value {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(&f.tokens[&Role::GridWorker]),
        Some(json!({"description": description, "category_code": "0403", "grid_code": "330102001001001"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

async fn deadlines_remind_and_escalate(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = restarted(&f.store).await;
    let operator = &f.tokens[&Role::CentreOperator];

    // A report nobody registers goes up to the county.
    let a = file(&f, "路面有碎玻璃").await;
    let a_id = a["id"].as_i64().unwrap();
    let created = a["created_at"].as_i64().unwrap();
    assert_eq!(
        sweep(&state, created).await.unwrap(),
        SweepReport::default(),
        "nothing due yet"
    );
    let report = sweep(&state, created + 30 * DAY).await.unwrap();
    assert_eq!(report.escalated, 1, "{report:?}");
    let a_now = f
        .store
        .matter(&Scope::everywhere(), a_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a_now.holder, "330102");
    assert_eq!(a_now.state, "reported");
    // Done once: the same moment again finds nothing due.
    assert_eq!(
        sweep(&state, created + 30 * DAY).await.unwrap(),
        SweepReport::default()
    );

    // A dispatched matter: reminded, then overdue and escalated.
    let unit = f
        .store
        .create_unit(
            &Scope::everywhere(),
            &NewUnit {
                name: "清波门社区居委会".into(),
                kind: UnitKind::VillageCommittee,
                region: RegionCode::from_short("330102001001").unwrap(),
            },
        )
        .await
        .unwrap();
    let b = file(&f, "道路被施工材料堵塞").await;
    let b_id = b["id"].as_i64().unwrap();
    let (_, b) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{b_id}/actions"),
        Some(operator),
        Some(json!({"action": "register", "version": b["version"]})),
    )
    .await;
    let (status, b) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{b_id}/actions"),
        Some(operator),
        Some(json!({"action": "dispatch", "version": b["version"], "unit_id": unit.id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let deadline = b["deadline"].as_i64().unwrap();
    let stored = f
        .store
        .matter(&Scope::everywhere(), b_id)
        .await
        .unwrap()
        .unwrap();
    let remind_at = stored.next_due.unwrap();
    assert!(remind_at < deadline);

    let report = sweep(&state, remind_at).await.unwrap();
    assert_eq!(report.reminded, 1, "{report:?}");
    // The server restarts; the deadline passes while it is down.
    let after_restart = restarted(&f.store).await;
    let report = sweep(&after_restart, deadline + DAY).await.unwrap();
    assert_eq!((report.overdue, report.escalated), (1, 1), "{report:?}");
    let b_now = f
        .store
        .matter(&Scope::everywhere(), b_id)
        .await
        .unwrap()
        .unwrap();
    assert!(b_now.overdue);
    assert_eq!(b_now.holder, "330102");
    assert_eq!(b_now.state, "dispatched");
    assert_eq!(b_now.next_due, None);

    let log = f.store.log_for(&format!("matter:{b_id}")).await.unwrap();
    let steps: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.actor_role.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("report", "grid_worker"),
            ("register", "centre_operator"),
            ("dispatch", "centre_operator"),
            ("remind", "system"),
            ("escalate", "system")
        ]
    );
    assert!(f.store.verify_log().await.unwrap().is_ok());
}

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

on_both_backends!(
    deadlines_remind_and_escalate,
    emergency_milestones_are_watched
);

const DAY: i64 = 24 * 3600 * 1000;

/// A fresh AppState over the same store: what the server has after a restart.
async fn restarted(store: &Arc<dyn Store>) -> AppState {
    let index = imports::load_index(&**store).await.unwrap();
    let state = AppState::new(store.clone(), index, common::test_config());
    state.load_catalogue().await.unwrap();
    state
}

async fn deadlines_remind_and_escalate(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = restarted(&f.store).await;
    let operator = &f.tokens[&Role::CentreOperator];

    // A report nobody registers goes up to the county.
    let a = file_road_report(&f, "路面有碎玻璃").await;
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
    let b = file_road_report(&f, "道路被施工材料堵塞").await;
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

/// An emergency carries minute-level milestones: accepting is the response,
/// the unit reports arriving, and a milestone passed unreached gets one
/// reminder in the log, while the deadline keeps its own schedule.
async fn emergency_milestones_are_watched(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = restarted(&f.store).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let (unit, handler) = department(&f).await;
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(&f.tokens[&Role::GridWorker]),
        Some(
            json!({"description": "出租房冒烟", "category_code": "0403", "severity": "emergency",
                    "grid_code": "330102001001001"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let act = |token: String, body: Value| {
        let app = f.app.clone();
        async move {
            call(
                &app,
                Method::POST,
                &format!("/api/v1/matters/{id}/actions"),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (_, m) = act(
        operator.clone(),
        json!({"action": "register", "version": m["version"]}),
    )
    .await;
    let (status, m) = act(
        operator.clone(),
        json!({"action": "dispatch", "version": m["version"], "unit_id": unit}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let milestones = m["milestones"].as_array().unwrap().clone();
    assert!(milestones.len() >= 2, "{m}");
    assert_eq!(milestones[0]["milestone"], "respond");
    let respond_due = milestones[0]["due"].as_i64().unwrap();
    let arrive_due = milestones[1]["due"].as_i64().unwrap();
    assert!(respond_due < arrive_due && arrive_due < m["deadline"].as_i64().unwrap());

    // Nobody responds in time: one reminder, once.
    let report = sweep(&state, respond_due + 1).await.unwrap();
    assert_eq!(report.milestones_late, 1, "{report:?}");
    assert_eq!(
        sweep(&state, respond_due + 2)
            .await
            .unwrap()
            .milestones_late,
        0
    );
    // The unit accepts (the response) and reports arriving before that is due.
    let (_, m) = act(
        handler.clone(),
        json!({"action": "accept", "version": current_version(&f, id).await}),
    )
    .await;
    assert!(m["milestones"][0]["done_at"].is_i64(), "{m}");
    let (status, body) = act(
        handler.clone(),
        json!({"action": "report_progress", "version": m["version"], "milestone": "penalty"}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_milestone");
    let (status, m) = act(
        handler.clone(),
        json!({"action": "report_progress", "version": m["version"], "milestone": "arrive"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["state"], "accepted");
    assert!(m["milestones"][1]["done_at"].is_i64());
    // Arriving in time means no reminder for it.
    let report = sweep(&state, arrive_due + 1).await.unwrap();
    assert_eq!(report.milestones_late, 0, "{report:?}");
    let reminders: Vec<String> = f
        .store
        .log_for(&format!("matter:{id}"))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "remind")
        .map(|e| e.body)
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].contains("milestone respond late"),
        "{reminders:?}"
    );
}

async fn current_version(f: &Fixture, id: i64) -> i64 {
    f.store
        .matter(&Scope::everywhere(), id)
        .await
        .unwrap()
        .unwrap()
        .version
}

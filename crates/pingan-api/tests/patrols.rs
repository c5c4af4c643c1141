//! Patrols: recorded once however often the phone sends them, checked, and
//! visible only within scope; on both backends.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_domain::Role;
use pingan_storage::{now_ms, on_both_backends, Store};
use serde_json::{json, Value};

on_both_backends!(patrols_are_stored_once_checked_and_scoped);

const MINUTE: i64 = 60_000;

fn patrol(key: &str, start: i64, end: i64, notes: Value) -> Value {
    json!({"idempotency_key": key, "started_at": start, "ended_at": end, "notes": notes})
}

async fn post(f: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        "/api/v1/patrols",
        Some(token),
        Some(body),
    )
    .await
}

async fn patrols_are_stored_once_checked_and_scoped(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let end = now_ms() - MINUTE;
    let start = end - 90 * MINUTE;
    let notes = json!([
        {"at": start + 10 * MINUTE, "text": "3号楼楼道堆物，已提醒清理"},
        {"at": start + 50 * MINUTE, "text": "沿街商铺灭火器过期"},
    ]);
    let body = patrol("patrol-key-0001", start, end, notes);
    let (status, first) = post(&f, worker, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["grid_code"], "330102001001001",
        "the worker's own grid"
    );
    assert_eq!(first["notes"][1]["text"], "沿街商铺灭火器过期");
    let (status, again) = post(&f, worker, body).await;
    assert_eq!(status, StatusCode::OK, "sent again: {again}");
    assert_eq!(again["id"], first["id"]);

    // Refused, and nothing stored.
    let refusals = [
        (
            patrol("patrol-key-0002", end, start, json!([])),
            "bad_patrol_time",
        ),
        (
            patrol(
                "patrol-key-0003",
                start,
                start + 25 * 60 * MINUTE,
                json!([]),
            ),
            "bad_patrol_time",
        ),
        (
            patrol("patrol-key-0004", start, now_ms() + 60 * MINUTE, json!([])),
            "bad_patrol_time",
        ),
        (
            patrol(
                "patrol-key-0005",
                start,
                end,
                json!([{"at": end + MINUTE, "text": "晚了"}]),
            ),
            "note_outside_patrol",
        ),
        (
            patrol(
                "patrol-key-0006",
                start,
                end,
                json!([{"at": start, "text": "  "}]),
            ),
            "bad_note",
        ),
        (
            patrol("short", start, end, json!([])),
            "bad_idempotency_key",
        ),
    ];
    for (body, code) in refusals {
        let (status, answer) = post(&f, worker, body).await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, code);
    }
    let mut other_grid = patrol("patrol-key-0007", start, end, json!([]));
    other_grid["grid_code"] = json!("330102002001001");
    let (status, _) = post(&f, worker, other_grid).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &f,
        &f.tokens[&Role::CentreOperator],
        patrol("patrol-key-0008", start, end, json!([])),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "operators do not patrol");

    // The grid chief and the township see it; another township does not.
    let id = first["id"].as_i64().unwrap();
    for role in [Role::GridChief, Role::CentreOperator, Role::Leader] {
        let (status, list) = call(
            &f.app,
            Method::GET,
            "/api/v1/patrols",
            Some(&f.tokens[&role]),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [id], "{role:?}");
    }
    let other = login_token(&f, "other-operator").await;
    let (_, list) = call(&f.app, Method::GET, "/api/v1/patrols", Some(&other), None).await;
    assert_eq!(list["items"], json!([]));
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/patrols/{id}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, one) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/patrols/{id}"),
        Some(&f.tokens[&Role::GridChief]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["notes"].as_array().unwrap().len(), 2);
}

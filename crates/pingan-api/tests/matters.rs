//! The matter loop through the API on both backends: the full path from a
//! grid worker's report to the reporter's rating, tracking without login, and
//! every kind of refusal writing nothing.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_domain::Role;
use pingan_storage::photos::solid_png;
use pingan_storage::{on_both_backends, Store};
use serde_json::{json, Value};

on_both_backends!(
    report_to_rating,
    refusals_write_nothing,
    an_action_resent_with_its_key_applies_once
);

async fn act(f: &Fixture, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{id}/actions"),
        Some(token),
        Some(body),
    )
    .await
}

/// Performs an action at the matter's current version and checks the new state.
async fn step(f: &Fixture, token: &str, m: &mut Value, action: &str, extra: Value, to: &str) {
    let mut body = json!({"action": action, "version": m["version"]});
    if let Value::Object(more) = extra {
        body.as_object_mut().unwrap().extend(more);
    }
    let (status, next) = act(f, token, m["id"].as_i64().unwrap(), body).await;
    assert_eq!(status, StatusCode::OK, "{action}: {next}");
    assert_eq!(next["state"], to, "{action}");
    *m = next;
}

async fn report_to_rating(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let (unit, housing) = department(&f).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];

    let (status, mut m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(worker),
        Some(json!({"description": "房屋墙体开裂下沉", "category_code": "0602", "lng": 120.005, "lat": 30.005,
                    "contact": "13812345678", "idempotency_key": "0f6c7a52-report-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    assert_eq!(m["state"], "reported");
    assert_eq!(m["grid_code"], "330102001001001");
    assert_eq!(m["contact_masked"], "138****5678");
    let id = m["id"].as_i64().unwrap();
    // Sent again from an offline phone: the same matter, nothing new.
    let (status, again) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(worker),
        Some(json!({"description": "房屋墙体开裂下沉", "category_code": "0602", "lng": 120.005, "lat": 30.005,
                    "idempotency_key": "0f6c7a52-report-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], id);

    // The operator sees what they may do.
    let (_, seen) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{id}"),
        Some(operator),
        None,
    )
    .await;
    let allowed: Vec<&str> = seen["actions_allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        allowed.contains(&"register") && allowed.contains(&"reject"),
        "{allowed:?}"
    );

    step(&f, operator, &mut m, "register", json!({}), "registered").await;
    step(
        &f,
        operator,
        &mut m,
        "dispatch",
        json!({"unit_id": unit}),
        "dispatched",
    )
    .await;
    assert!(m["deadline"].as_i64().unwrap() > m["created_at"].as_i64().unwrap());
    step(
        &f,
        &housing,
        &mut m,
        "return",
        json!({"note": "不属于本单位"}),
        "returned",
    )
    .await;
    assert!(m["deadline"].is_null());
    step(
        &f,
        operator,
        &mut m,
        "dispatch",
        json!({"unit_id": unit}),
        "dispatched",
    )
    .await;
    step(&f, &housing, &mut m, "accept", json!({}), "accepted").await;
    let result = upload_photo(&f, &housing, &solid_png(32, 24, [90, 140, 60])).await;
    let (status, body) = act(
        &f,
        &housing,
        id,
        json!({"action": "report_handled", "version": m["version"], "note": "已加固"}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "photos_required");
    step(
        &f,
        &housing,
        &mut m,
        "report_handled",
        json!({"note": "已加固", "photos": [result]}),
        "handled",
    )
    .await;
    step(
        &f,
        operator,
        &mut m,
        "verify_fail",
        json!({"note": "裂缝仍在"}),
        "rework",
    )
    .await;
    assert_eq!(m["rework_count"], 1);
    step(
        &f,
        &housing,
        &mut m,
        "report_handled",
        json!({"note": "重新加固", "photos": [result]}),
        "handled",
    )
    .await;
    step(&f, operator, &mut m, "verify_pass", json!({}), "verified").await;
    step(&f, operator, &mut m, "close", json!({}), "closed").await;
    step(
        &f,
        worker,
        &mut m,
        "rate",
        json!({"rating": 5, "note": "满意"}),
        "rated",
    )
    .await;
    assert_eq!(m["rating"], 5);

    let (_, log) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{id}/log"),
        Some(operator),
        None,
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "report",
            "register",
            "dispatch",
            "return",
            "dispatch",
            "accept",
            "report_handled",
            "verify_fail",
            "report_handled",
            "verify_pass",
            "close",
            "rate"
        ]
    );
    assert_eq!(f.store.verify_log().await.unwrap(), Ok(12));

    // Lists filter within the scope.
    for (query, expected) in [
        ("state=rated", 1),
        ("state=closed,reported", 0),
        ("category=06", 1),
        ("category=0602", 1),
        ("category=01", 0),
        ("under=330102001001", 1),
        ("source=grid_worker", 1),
        ("overdue=true", 0),
    ] {
        let (status, list) = call(
            &f.app,
            Method::GET,
            &format!("/api/v1/matters?{query}"),
            Some(operator),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(list["items"].as_array().unwrap().len(), expected, "{query}");
    }
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/matters?under=330203",
        Some(operator),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "out_of_scope");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/matters?state=flying",
        Some(operator),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // A citizen follows it by tracking code, without signing in and without personal data.
    let code = m["tracking_code"].as_str().unwrap();
    let (status, tracked) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/track/{code}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tracked["state"], "rated");
    assert_eq!(tracked["steps"].as_array().unwrap().len(), 12);
    let text = tracked.to_string();
    assert!(
        // Neither the phone nor its masked form (timestamps may hold the digits).
        !text.contains("13812345678")
            && !text.contains("138****5678")
            && !text.contains("裂缝仍在")
            && !text.contains("actor"),
        "{text}"
    );
    let (status, _) = call(&f.app, Method::GET, "/api/v1/track/AAAAAAAAAA", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn refusals_write_nothing(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    let citizen = &f.tokens[&Role::Citizen];
    let file = |body: Value| {
        call(
            &f.app,
            Method::POST,
            "/api/v1/matters",
            Some(worker),
            Some(body),
        )
    };

    let (status, body) =
        file(json!({"description": "x", "category_code": "9998", "lng": 120.005, "lat": 30.005}))
            .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_category");
    let (status, body) =
        file(json!({"description": "x", "category_code": "0101", "lng": 100.0, "lat": 30.0})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_in_any_grid",
    );
    let (status, body) = file(json!({"description": "长".repeat(2001), "category_code": "0101", "lng": 120.005, "lat": 30.005})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "text_too_long");
    let (status, body) =
        file(json!({"description": "x", "category_code": "0101", "grid_code": "330102009009009"}))
            .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_grid");
    let (status, body) = file(
        json!({"description": "x", "category_code": "0101", "grid_code": "330102001001001",
        "photos": ["0".repeat(64)]}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_photo");
    let (status, body) = file(json!({"description": "x", "category_code": "0101"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(
        f.store.verify_log().await.unwrap(),
        Ok(0),
        "nothing was filed"
    );

    let (status, m) = file(json!({"description": "道路上有碎玻璃", "category_code": "0403", "grid_code": "330102001001001"})).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let v = m["version"].as_i64().unwrap();
    // Not in this state: 409; not for this caller: 403; stale version: 409.
    let (status, body) = act(&f, operator, id, json!({"action": "close", "version": v})).await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_not_allowed_in_state",
    );
    let (status, body) = act(&f, worker, id, json!({"action": "register", "version": v})).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "action_not_allowed_for_actor",
    );
    let (status, body) = act(
        &f,
        operator,
        id,
        json!({"action": "register", "version": v}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = act(&f, operator, id, json!({"action": "reject", "version": v})).await;
    assert!(status == StatusCode::CONFLICT, "{body}");
    let (status, body) = act(&f, operator, id, json!({"action": "fly", "version": v + 1})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    // Two operators at once: the second one's version is stale.
    let (s1, _) = act(
        &f,
        operator,
        id,
        json!({"action": "remind", "version": v + 1}),
    )
    .await;
    let (s2, body) = act(
        &f,
        operator,
        id,
        json!({"action": "remind", "version": v + 1}),
    )
    .await;
    assert_eq!(s1, StatusCode::OK);
    assert_error(s2, &body, StatusCode::CONFLICT, "stale_version");
    // Citizens see only their own reports; other townships see nothing.
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{id}"),
        Some(citizen),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = call(&f.app, Method::GET, "/api/v1/matters", Some(operator), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, log) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{id}/log"),
        Some(operator),
        None,
    )
    .await;
    assert_eq!(
        log.as_array().unwrap().len(),
        3,
        "report, register, remind: the refusals wrote nothing"
    );
    assert_eq!(f.store.verify_log().await.unwrap(), Ok(3));
}

/// A phone that lost the answer sends the same action again with the same
/// key: it is applied once, and the second answer is the matter as it is.
async fn an_action_resent_with_its_key_applies_once(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let m = file_road_report(&f, "井盖缺失").await;
    let id = m["id"].as_i64().unwrap();
    let register = json!({"action": "register", "version": m["version"], "idempotency_key": "queue-item-0001"});
    let (status, first) = act(&f, operator, id, register.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "registered");
    let (status, again) = act(&f, operator, id, register).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["version"], first["version"]);
    let log = f.store.log_for(&format!("matter:{id}")).await.unwrap();
    assert_eq!(
        log.iter().filter(|e| e.action == "register").count(),
        1,
        "applied once"
    );
    // Without its key the same request is refused, and a bad key is named.
    let (status, body) = act(
        &f,
        operator,
        id,
        json!({"action": "register", "version": m["version"]}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_not_allowed_in_state",
    );
    let (status, body) = act(
        &f,
        operator,
        id,
        json!({"action": "reject", "version": first["version"], "note": "重复", "idempotency_key": "bad key!"}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_idempotency_key",
    );
}

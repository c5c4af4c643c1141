//! The citizen portal without an account, on both backends: a phone check,
//! a report, following it by tracking code, and rating it with the same phone.
mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::*;
use pingan_api::{router, AppState};
use pingan_domain::Role;
use pingan_storage::photos::solid_png;
use pingan_storage::{on_both_backends, Store};
use serde_json::{json, Value};

on_both_backends!(report_follow_and_rate_without_an_account);

const PHONE: &str = "13712345678";

async fn report_follow_and_rate_without_an_account(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    // A portal that answers its codes, as the demo does.
    let mut config = test_config();
    config.demo_codes = true;
    let state = AppState::new(
        f.store.clone(),
        pingan_api::imports::load_index(&*f.store).await.unwrap(),
        config,
    );
    state.load_catalogue().await.unwrap();
    let app = router(state);
    let post = |path: String, body: Value| {
        let app = app.clone();
        async move { call(&app, Method::POST, &path, None, Some(body)).await }
    };

    let (status, body) = post("/api/v1/public/codes".into(), json!({"phone": "12345"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_phone");
    let (status, sent) = post("/api/v1/public/codes".into(), json!({"phone": PHONE})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let code = sent["demo_code"].as_str().unwrap().to_string();
    let (status, body) = post("/api/v1/public/codes".into(), json!({"phone": PHONE})).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );

    let report = |code: &str| {
        json!({"phone": PHONE, "code": code, "description": "小区门口路灯不亮", "lng": 120.004, "lat": 30.004,
               "idempotency_key": "portal-report-0001"})
    };
    let (status, body) = post("/api/v1/public/matters".into(), report("000000")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_code");
    let (status, filed) = post("/api/v1/public/matters".into(), report(&code)).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    assert_eq!(filed["state"], "reported");
    let tracking = filed["tracking_code"].as_str().unwrap().to_string();
    assert!(
        !filed.to_string().contains(PHONE) && !filed.to_string().contains("137****5678"),
        "no personal data: {filed}"
    );
    // The code was used up.
    let (status, body) = post("/api/v1/public/matters".into(), report(&code)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_code");

    // Too early to rate: the workflow says so.
    let rate =
        |phone: &str| json!({"action": "rate", "phone": phone, "rating": 4, "note": "修好了"});
    let (status, body) = post(format!("/api/v1/track/{tracking}/actions"), rate(PHONE)).await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_not_allowed_in_state",
    );

    // The centre handles it: the operator sees the contact masked.
    let operator = &f.tokens[&Role::CentreOperator];
    let (_, list) = call(
        &f.app,
        Method::GET,
        "/api/v1/matters?source=citizen",
        Some(operator),
        None,
    )
    .await;
    let m = list["items"][0].clone();
    assert_eq!(m["tracking_code"], tracking.as_str());
    assert_eq!(m["contact_masked"], "137****5678");
    let (unit, handler) = department(&f).await;
    let photo = upload_photo(&f, &handler, &solid_png(8, 8, [9, 9, 9])).await;
    let id = m["id"].as_i64().unwrap();
    let mut version = m["version"].as_i64().unwrap();
    for (token, body) in [
        (operator.as_str(), json!({"action": "register"})),
        (
            operator.as_str(),
            json!({"action": "dispatch", "unit_id": unit, "category_code": "0301"}),
        ),
        (handler.as_str(), json!({"action": "accept"})),
        (
            handler.as_str(),
            json!({"action": "report_handled", "photos": [photo]}),
        ),
        (operator.as_str(), json!({"action": "verify_pass"})),
        (operator.as_str(), json!({"action": "close"})),
    ] {
        let mut body = body;
        body["version"] = json!(version);
        let (status, next) = call(
            &f.app,
            Method::POST,
            &format!("/api/v1/matters/{id}/actions"),
            Some(token),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{next}");
        version = next["version"].as_i64().unwrap();
    }

    // A wrong phone learns nothing; the reporter's phone rates it.
    let (status, body) = post(
        format!("/api/v1/track/{tracking}/actions"),
        rate("13700000000"),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, rated) = post(format!("/api/v1/track/{tracking}/actions"), rate(PHONE)).await;
    assert_eq!(status, StatusCode::OK, "{rated}");
    assert_eq!(rated["state"], "rated");
    let (status, body) = post(
        format!("/api/v1/track/{tracking}/actions"),
        json!({"action": "close", "phone": PHONE}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    // A resident who reported to a grid worker reaches the matter with the
    // phone given as its contact (here too early to rate); without a contact
    // nobody can act on it through the portal.
    let worker = file_as(&f, &f.tokens[&Role::GridWorker], Some(PHONE)).await;
    let (status, body) = post(format!("/api/v1/track/{worker}/actions"), rate(PHONE)).await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_not_allowed_in_state",
    );
    let (status, _) = post(
        format!("/api/v1/track/{worker}/actions"),
        rate("13700000000"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let silent = file_as(&f, &f.tokens[&Role::GridWorker], None).await;
    let (status, _) = post(format!("/api/v1/track/{silent}/actions"), rate(PHONE)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(f.store.verify_log().await.unwrap(), Ok(10));
}

async fn file_as(f: &Fixture, token: &str, contact: Option<&str>) -> String {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(token),
        Some(json!({"description": "井盖缺失", "category_code": "0401", "grid_code": "330102001001001",
                    "contact": contact})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m["tracking_code"].as_str().unwrap().to_string()
}

//! Live events: a screen connected to `/api/v1/live` hears of an action
//! within moments, and only of matters in its scope; on both backends.
mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use pingan_domain::Role;
use pingan_storage::{on_both_backends, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends!(screens_hear_of_changes_in_their_scope);

/// Reads server-sent events until one of kind `matter` arrives.
async fn next_matter_event(body: &mut Body) -> Value {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.contains("event: matter") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap();
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

async fn connect(f: &Fixture, token: &str) -> Body {
    let req = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/live")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/event-stream",
        "server-sent events"
    );
    res.into_body()
}

async fn screens_hear_of_changes_in_their_scope(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let notifier = pingan_api::notify::spawn_notifier(f.state.clone());
    let operator = &f.tokens[&Role::CentreOperator];
    let mut ours = connect(&f, operator).await;
    let other = login_token(&f, "other-operator").await;
    let mut theirs = connect(&f, &other).await;

    // A report in township A, then one in B.
    let a = file_road_report(&f, "路面有碎玻璃").await;
    let event = next_matter_event(&mut ours).await;
    assert_eq!(event["matter_id"], a["id"]);
    assert_eq!(event["action"], "report");
    assert_eq!(event["state"], "reported");
    assert_eq!(event["summary"], "路面有碎玻璃");
    let (status, b) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(&f.tokens[&Role::Leader]),
        Some(json!({"description": "路灯不亮", "category_code": "0405", "grid_code": "330102001002001"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");

    // An action on A reaches A's screen.
    let (status, registered) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{}/actions", a["id"]),
        Some(operator),
        Some(json!({"action": "register", "version": a["version"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    let event = next_matter_event(&mut ours).await;
    assert_eq!(event["matter_id"], b["id"], "B is in township A too");
    let event = next_matter_event(&mut ours).await;
    assert_eq!(
        (event["matter_id"].clone(), event["action"].clone()),
        (a["id"].clone(), json!("register"))
    );

    // Township B's screen heard of neither; it hears of its own.
    let (status, c) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(&other),
        Some(json!({"description": "井盖缺失", "category_code": "0405", "grid_code": "330102002001001"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let event = next_matter_event(&mut theirs).await;
    assert_eq!(event["matter_id"], c["id"]);
    notifier.abort();
}

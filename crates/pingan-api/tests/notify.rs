//! Notifications on both backends: feeds reach the right accounts and only
//! them, read marks, the notifier never writing twice, the scheduler's
//! reminders and overdue escalations, and webhooks (signed, retried with
//! back-off on a controlled clock, given up, scoped, admin only) against a
//! real HTTP server on loopback.
mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use common::*;
use hmac::{Hmac, Mac};
use pingan_api::notify::{notify_sweep, NotifyReport};
use pingan_api::scheduler;
use pingan_api::{imports, ApiConfig, AppState};
use pingan_domain::{Role, Scope};
use pingan_storage::{on_both_backends, NewAccount, NewWebhook, Page, Store};
use serde_json::{json, Value};
use sha2::Sha256;

on_both_backends!(
    feeds_reach_their_audience_once,
    scheduler_reminds_and_escalates_through_the_feed,
    webhooks_are_signed_retried_and_scoped,
);

const DAY: i64 = 24 * 3600 * 1000;

/// The notifier's own view of the store, as a server has it.
async fn notifier_state(store: &Arc<dyn Store>) -> AppState {
    let index = imports::load_index(&**store).await.unwrap();
    AppState::new(store.clone(), index, ApiConfig::default())
}

/// Performs an action at the matter's current version.
async fn step(f: &Fixture, token: &str, m: &mut Value, action: &str, extra: Value) {
    let mut body = json!({"action": action, "version": m["version"]});
    if let Value::Object(more) = extra {
        body.as_object_mut().unwrap().extend(more);
    }
    let (status, next) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{}/actions", m["id"]),
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{action}: {next}");
    *m = next;
}

/// The caller's feed as (kind, matter id, read).
async fn feed(f: &Fixture, token: &str) -> Vec<(String, i64, bool)> {
    let (status, page) = call(
        &f.app,
        Method::GET,
        "/api/v1/notifications",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_string(),
                n["matter_id"].as_i64().unwrap(),
                n["read"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn unread(f: &Fixture, token: &str) -> i64 {
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/notifications/unread",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["count"].as_i64().unwrap()
}

async fn mark(f: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        "/api/v1/notifications/read",
        Some(token),
        Some(body),
    )
    .await
}

async fn feeds_reach_their_audience_once(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = notifier_state(&f.store).await;
    let (unit, housing) = department(&f).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let worker = &f.tokens[&Role::GridWorker];
    let elsewhere = login_token(&f, "other-operator").await;

    let mut m = file_road_report(&f, "小区道路井盖缺失").await;
    let id = m["id"].as_i64().unwrap();
    step(&f, operator, &mut m, "register", json!({})).await;
    step(&f, operator, &mut m, "dispatch", json!({"unit_id": unit})).await;
    let report = notify_sweep(&state, pingan_storage::now_ms())
        .await
        .unwrap();
    assert_eq!((report.entries, report.notifications), (3, 2), "{report:?}");

    // The township centre hears of the report, the unit of its new task.
    assert_eq!(
        feed(&f, operator).await,
        [("new_task".to_string(), id, false)]
    );
    assert_eq!(
        feed(&f, &housing).await,
        [("new_task".to_string(), id, false)]
    );
    let (_, page) = call(
        &f.app,
        Method::GET,
        "/api/v1/notifications",
        Some(&housing),
        None,
    )
    .await;
    let title = page["items"][0]["title"].as_str().unwrap();
    assert!(title.contains(&format!("#{id}")), "{title}");
    assert!(page["items"][0]["title_en"]
        .as_str()
        .unwrap()
        .starts_with("New task"));
    // Neither another township's centre nor the reporting grid worker.
    assert!(feed(&f, &elsewhere).await.is_empty());
    assert!(feed(&f, worker).await.is_empty());

    // Run again, and by a second notifier at once, and after a restart: nothing twice.
    let idle = notify_sweep(&state, pingan_storage::now_ms())
        .await
        .unwrap();
    assert_eq!(idle, NotifyReport::default());
    step(
        &f,
        &housing,
        &mut m,
        "return",
        json!({"note": "不属于本单位"}),
    )
    .await;
    let twin = notifier_state(&f.store).await;
    let now = pingan_storage::now_ms();
    let (a, b) = tokio::join!(notify_sweep(&state, now), notify_sweep(&twin, now));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.entries + b.entries, 1, "{a:?} {b:?}");
    assert_eq!(a.notifications + b.notifications, 1, "{a:?} {b:?}");
    let restarted = notifier_state(&f.store).await;
    assert_eq!(
        notify_sweep(&restarted, pingan_storage::now_ms())
            .await
            .unwrap(),
        NotifyReport::default()
    );

    // The return reaches the centre operator, newest first.
    assert_eq!(
        feed(&f, operator).await,
        [
            ("returned".to_string(), id, false),
            ("new_task".to_string(), id, false)
        ]
    );
    assert_eq!(feed(&f, &housing).await.len(), 1);

    // Pages of one.
    let (_, first) = call(
        &f.app,
        Method::GET,
        "/api/v1/notifications?limit=1",
        Some(operator),
        None,
    )
    .await;
    assert_eq!(first["items"][0]["kind"], "returned");
    let next = first["next"].as_str().unwrap();
    let (_, second) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/notifications?limit=1&after={next}"),
        Some(operator),
        None,
    )
    .await;
    assert_eq!(second["items"][0]["kind"], "new_task");
    let returned_id = first["items"][0]["id"].as_i64().unwrap();

    // Unread counts and marks.
    assert_eq!(unread(&f, operator).await, 2);
    let (status, left) = mark(&f, operator, json!({"ids": [returned_id]})).await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left["count"], 1);
    assert_eq!(
        feed(&f, operator).await,
        [
            ("returned".to_string(), id, true),
            ("new_task".to_string(), id, false)
        ]
    );
    // Someone else's notification is not the handler's to mark.
    let (_, left) = mark(&f, &housing, json!({"ids": [returned_id]})).await;
    assert_eq!(left["count"], 1);
    let (_, left) = mark(&f, operator, json!({"all": true})).await;
    assert_eq!(left["count"], 0);
    assert!(feed(&f, operator).await.iter().all(|n| n.2));
    assert_eq!(unread(&f, &housing).await, 1);
    let (status, body) = mark(&f, operator, json!({})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = mark(&f, operator, json!({"ids": [1], "all": true})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(&f.app, Method::GET, "/api/v1/notifications", None, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Later notifications are unread again after "mark all".
    step(&f, operator, &mut m, "dispatch", json!({"unit_id": unit})).await;
    step(&f, &housing, &mut m, "accept", json!({})).await;
    step(
        &f,
        &housing,
        &mut m,
        "report_handled",
        json!({"note": "已补装", "photos": [upload_photo(&f, &housing, &pingan_storage::photos::solid_png(8, 8, [1, 2, 3])).await]}),
    )
    .await;
    step(
        &f,
        operator,
        &mut m,
        "verify_fail",
        json!({"note": "未补装"}),
    )
    .await;
    notify_sweep(&state, pingan_storage::now_ms())
        .await
        .unwrap();
    assert_eq!(
        feed(&f, operator).await[0],
        ("new_task".to_string(), id, false),
        "handled: to verify"
    );
    assert_eq!(unread(&f, operator).await, 1);
    let kinds: Vec<String> = feed(&f, &housing).await.into_iter().map(|n| n.0).collect();
    assert_eq!(kinds, ["rework", "new_task", "new_task"]);

    // The routes are in the OpenAPI document.
    let (_, doc) = call(&f.app, Method::GET, "/api/openapi.json", None, None).await;
    for path in [
        "/api/v1/notifications",
        "/api/v1/notifications/unread",
        "/api/v1/notifications/read",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

async fn scheduler_reminds_and_escalates_through_the_feed(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = notifier_state(&f.store).await;
    let (unit, housing) = department(&f).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let county = f
        .store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "county-operator".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::CentreOperator,
                scope: Scope::parse("330102").unwrap(),
                unit_id: None,
                display_name: "区综治中心".into(),
                phone: None,
            },
        )
        .await
        .unwrap();

    let mut m = file_road_report(&f, "路灯不亮").await;
    let id = m["id"].as_i64().unwrap();
    step(&f, operator, &mut m, "register", json!({})).await;
    step(&f, operator, &mut m, "dispatch", json!({"unit_id": unit})).await;
    let deadline = m["deadline"].as_i64().unwrap();
    let stored = f
        .store
        .matter(&Scope::everywhere(), id)
        .await
        .unwrap()
        .unwrap();
    let remind_at = stored.next_due.unwrap();
    assert_eq!(
        scheduler::sweep(&state, remind_at).await.unwrap().reminded,
        1
    );
    notify_sweep(&state, remind_at).await.unwrap();
    assert_eq!(
        feed(&f, &housing).await[0],
        ("reminder".to_string(), id, false)
    );

    let report = scheduler::sweep(&state, deadline + DAY).await.unwrap();
    assert_eq!(report.overdue, 1, "{report:?}");
    notify_sweep(&state, deadline + DAY).await.unwrap();
    // The unit hears it is overdue; the county centre that now holds it, that it came up.
    assert_eq!(
        feed(&f, &housing).await[0],
        ("overdue".to_string(), id, false)
    );
    let county_feed = f
        .store
        .notifications_for(&county, &Page::first(10))
        .await
        .unwrap();
    let kinds: Vec<&str> = county_feed.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["escalated"]);
    assert_eq!(county_feed[0].audience, "centre:330102");
    assert_eq!(county_feed[0].subject, format!("matter:{id}"));
    assert!(
        feed(&f, operator).await.iter().all(|n| n.0 == "new_task"),
        "the township centre is not told of the escalation"
    );
}

/// What the receiving endpoint saw: (path and query, headers, body).
type Seen = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

async fn receive(
    State(seen): State<Seen>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let failing = uri.path() == "/fail";
    seen.lock().unwrap().push((uri.to_string(), headers, body));
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A webhook receiver on loopback: /fail answers 500, anything else 200.
async fn receiver() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new().fallback(receive).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn seen_at(seen: &Seen, path: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p.starts_with(path))
        .count()
}

async fn create(f: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        "/api/v1/webhooks",
        Some(token),
        Some(body),
    )
    .await
}

fn hex_hmac(secret: &str, message: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn webhooks_are_signed_retried_and_scoped(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let state = notifier_state(&f.store).await;
    let (addr, seen) = receiver().await;
    let admin = &f.tokens[&Role::Admin];
    let operator = &f.tokens[&Role::CentreOperator];

    // Admins only.
    let (status, body) = create(
        &f,
        operator,
        json!({"url": format!("http://{addr}/ok"), "events": ["*"]}),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/webhooks",
        Some(operator),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &f.app,
        Method::DELETE,
        "/api/v1/webhooks/1",
        Some(operator),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    for bad in [
        json!({"url": "ftp://127.0.0.1/x", "events": ["*"]}),
        json!({"url": "http://", "events": ["*"]}),
        json!({"url": "http://user:pw@127.0.0.1/x", "events": ["*"]}),
        json!({"url": format!("http://{addr}/ok"), "events": ["everything"]}),
        json!({"url": format!("http://{addr}/ok"), "events": []}),
        json!({"url": format!("http://{addr}/ok"), "events": ["*"], "secret": "short"}),
    ] {
        let (status, body) = create(&f, admin, bad.clone()).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    }

    let (status, ok) = create(
        &f,
        admin,
        json!({"url": format!("http://{addr}/ok"), "events": ["*"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ok}");
    let ok_secret = ok["secret"].as_str().unwrap().to_string();
    assert_eq!(ok_secret.len(), 64, "32 random bytes in hex");
    assert_eq!(ok["scope"], TOWNSHIP_A);
    let fail_secret = "a shared secret of enough length";
    let (status, fail) = create(
        &f,
        admin,
        json!({"url": format!("http://{addr}/fail?from=pingan"), "events": ["new_task", "rated"], "secret": fail_secret}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{fail}");
    assert_eq!(fail["events"], json!(["new_task", "rated"]));
    let (status, tls) = create(
        &f,
        admin,
        json!({"url": "https://127.0.0.1:9/hook", "events": ["new_task"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tls}");
    // Another township's webhook, and one that wants only ratings.
    let elsewhere = f
        .store
        .create_webhook(
            &Scope::everywhere(),
            &NewWebhook {
                url: format!("http://{addr}/elsewhere"),
                secret: "secret of township B".into(),
                events: "*".into(),
                scope_prefix: "330102002".into(),
                created_by: None,
            },
        )
        .await
        .unwrap();
    let (status, ratings) = create(
        &f,
        admin,
        json!({"url": format!("http://{addr}/ratings"), "events": ["rated"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ratings}");

    let (status, list) = call(&f.app, Method::GET, "/api/v1/webhooks", Some(admin), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "the other township's webhook is not listed");
    assert!(items.iter().all(|w| w.get("secret").is_none()), "{list}");

    let m = file_road_report(&f, "桥下堆放易燃杂物").await;
    let id = m["id"].as_i64().unwrap();
    let t0 = pingan_storage::now_ms();
    let report = notify_sweep(&state, t0).await.unwrap();
    assert_eq!(
        (
            report.queued,
            report.delivered,
            report.retrying,
            report.abandoned
        ),
        (3, 1, 1, 1),
        "{report:?}"
    );

    // The delivery is signed over timestamp "." body with the webhook's secret.
    let (path, headers, body) = seen.lock().unwrap()[..]
        .iter()
        .find(|(p, _, _)| p == "/ok")
        .cloned()
        .unwrap();
    assert_eq!(path, "/ok");
    let header = |name: &str| headers[name].to_str().unwrap().to_string();
    assert_eq!(header("x-pingan-event"), "new_task");
    assert_eq!(header("content-type"), "application/json");
    assert!(header("x-pingan-delivery").parse::<i64>().is_ok());
    let timestamp = header("x-pingan-timestamp");
    assert_eq!(timestamp, (t0 / 1000).to_string());
    assert_eq!(
        header("x-pingan-signature"),
        format!(
            "sha256={}",
            hex_hmac(&ok_secret, &format!("{timestamp}.{body}"))
        )
    );
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "new_task");
    assert_eq!(payload["matter_id"], id);
    assert_eq!(payload["state"], "reported");
    assert!(payload["log_seq"].as_i64().unwrap() > 0);
    assert!(payload["at"].as_i64().unwrap() > 0);
    assert_eq!(
        payload.as_object().unwrap().len(),
        5,
        "nothing personal: {payload}"
    );
    let fail_signature = {
        let seen = seen.lock().unwrap();
        let (_, h, b) = seen
            .iter()
            .find(|(p, _, _)| p.starts_with("/fail"))
            .unwrap();
        let ts = h["x-pingan-timestamp"].to_str().unwrap();
        (
            h["x-pingan-signature"].to_str().unwrap().to_string(),
            hex_hmac(fail_secret, &format!("{ts}.{b}")),
        )
    };
    assert_eq!(fail_signature.0, format!("sha256={}", fail_signature.1));

    // The failing endpoint is tried again after 30 s, 1 min, 2 min, … at most
    // 1 h apart, and not a moment earlier; ten attempts, then never again.
    let fail_id = fail["id"].as_i64().unwrap();
    let mut t = t0;
    for attempt in 1..10u32 {
        let delay = (30_000i64 << (attempt - 1).min(7)).min(3_600_000);
        notify_sweep(&state, t + delay - 1).await.unwrap();
        assert_eq!(seen_at(&seen, "/fail"), attempt as usize, "too early");
        t += delay;
        let report = notify_sweep(&state, t).await.unwrap();
        assert_eq!(
            seen_at(&seen, "/fail"),
            attempt as usize + 1,
            "attempt {}",
            attempt + 1
        );
        assert_eq!(report.abandoned, u64::from(attempt == 9), "{report:?}");
    }
    notify_sweep(&state, t + 30 * DAY).await.unwrap();
    assert_eq!(seen_at(&seen, "/fail"), 10);
    let deliveries = f
        .store
        .webhook_deliveries(fail_id, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(
        (
            d.attempts,
            d.last_status,
            d.failed_permanently,
            d.next_attempt_at
        ),
        (10, Some(500), true, None)
    );
    assert_eq!(d.last_error.as_deref(), Some("HTTP 500"));

    // https is kept but not spoken by this build: failed at once, not retried.
    let tls = f
        .store
        .webhook_deliveries(tls["id"].as_i64().unwrap(), &Page::first(10))
        .await
        .unwrap();
    assert_eq!((tls[0].attempts, tls[0].failed_permanently), (1, true));
    assert_eq!(
        tls[0].last_error.as_deref(),
        Some("https not supported in this build")
    );
    // Delivered ones are done.
    let ok_id = ok["id"].as_i64().unwrap();
    let delivered = f
        .store
        .webhook_deliveries(ok_id, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        (
            delivered[0].attempts,
            delivered[0].last_status,
            delivered[0].delivered_at
        ),
        (1, Some(200), Some(t0))
    );
    assert_eq!(seen_at(&seen, "/ok"), 1);
    // Out of scope, or not asked for: nothing.
    assert_eq!(seen_at(&seen, "/elsewhere"), 0);
    assert_eq!(seen_at(&seen, "/ratings"), 0);
    assert!(f
        .store
        .webhook_deliveries(elsewhere.id, &Page::first(10))
        .await
        .unwrap()
        .is_empty());

    // A stopped webhook gets nothing more.
    let (status, _) = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{ok_id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{}", elsewhere.id),
        Some(admin),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    file_road_report(&f, "护栏损坏").await;
    notify_sweep(&state, pingan_storage::now_ms())
        .await
        .unwrap();
    assert_eq!(seen_at(&seen, "/ok"), 1);
    let (_, list) = call(&f.app, Method::GET, "/api/v1/webhooks", Some(admin), None).await;
    let stopped = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == ok_id)
        .unwrap()
        .clone();
    assert_eq!(stopped["active"], false);
}

//! Photos, maps, counts, supervision, merging, extensions, reopening and the
//! editable category catalogue, through the router on both backends.
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use pingan_domain::Role;
use pingan_storage::photos::solid_png;
use pingan_storage::{on_both_backends, Store};
use serde_json::{json, Value};

on_both_backends!(
    photos_are_checked_and_scoped,
    maps_counts_and_supervision,
    merge_extension_and_reopen_window,
    catalogue_edits_keep_dispatched_limits,
    concurrent_reports_commit_in_groups,
    dispatch_options_reach_up_not_sideways
);

const BOUNDARY: &str = "pingan-test-boundary";

fn multipart(report: &Value, photos: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"report\"\r\nContent-Type: application/json\r\n\r\n{report}\r\n"
        )
        .as_bytes(),
    );
    for (name, bytes) in photos {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_multipart(f: &Fixture, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/matters")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap();
    raw(&f.app, req).await
}

async fn get(f: &Fixture, token: &str, path: &str) -> (StatusCode, Value) {
    call(&f.app, Method::GET, path, Some(token), None).await
}

async fn act(f: &Fixture, token: &str, m: &Value, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["version"] = m["version"].clone();
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{}/actions", m["id"]),
        Some(token),
        Some(body),
    )
    .await
}

async fn file(f: &Fixture, token: &str, body: Value) -> Value {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m
}

async fn photos_are_checked_and_scoped(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    let report = json!({"description": "出租房内电动车充电", "category_code": "0101",
                        "lng": 120.005, "lat": 30.005});
    let scene = solid_png(40, 30, [200, 60, 40]);

    // A text file named .jpg, and an oversized photo: refused, nothing filed.
    let (status, body) = post_multipart(
        &f,
        worker,
        multipart(&report, &[("scene.jpg", b"not really a photo at all")]),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "photo_not_an_image",
    );
    let big = vec![0xFFu8; f.state.config.photo_limit + 1];
    let (status, body) = post_multipart(&f, worker, multipart(&report, &[("big.jpg", &big)])).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "photo_too_large",
    );
    let mut damaged = scene.clone();
    damaged.truncate(scene.len() - 20);
    let (status, body) = upload_raw(&f, worker, &damaged).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "photo_corrupt");
    assert_eq!(
        f.store.verify_log().await.unwrap(),
        Ok(0),
        "nothing was filed"
    );

    // A report with its photo in one multipart request.
    let (status, m) =
        post_multipart(&f, worker, multipart(&report, &[("scene.png", &scene)])).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let (_, detail) = get(&f, operator, &format!("/api/v1/matters/{id}")).await;
    let photos = detail["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{detail}");
    assert_eq!(photos[0]["stage"], "report");
    let sha = photos[0]["sha256"].as_str().unwrap();
    // Stored under its content hash, once.
    let on_disk = f.state.photos.open(sha).await.unwrap().unwrap();
    assert_eq!(on_disk.1, scene);

    let req = |token: &str| {
        Request::builder()
            .uri(format!("/api/v1/matters/{id}/photos/{sha}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let res = tower::ServiceExt::oneshot(f.app.clone(), req(operator))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    // An operator of another township cannot see it.
    let other = login_token(&f, "other-operator").await;
    let (status, _) = raw(&f.app, req(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor can anyone attach a photo they did not upload.
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(operator),
        Some(
            json!({"description": "借用他人照片", "category_code": "0101",
                    "grid_code": "330102001001001", "photos": [sha]}),
        ),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_photo");
}

async fn maps_counts_and_supervision(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    f.store
        .create_account(
            &pingan_domain::Scope::everywhere(),
            &pingan_storage::NewAccount {
                username: "county-leader".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::Leader,
                scope: pingan_domain::Scope::parse("330102").unwrap(),
                unit_id: None,
                display_name: "区领导".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    let leader = &login_token(&f, "county-leader").await;
    let mut filed = Vec::new();
    for (lng, lat) in [(120.002, 30.002), (120.004, 30.004), (120.008, 30.008)] {
        filed.push(
            file(
                &f,
                worker,
                json!({"description": "路面积水", "category_code": "0402", "lng": lng, "lat": lat}),
            )
            .await,
        );
    }
    // An operator files what the video patrol saw; a grid worker cannot claim that channel.
    let seen = file(
        &f,
        operator,
        json!({"description": "监控发现道路积水", "category_code": "0402", "grid_code": "330102001002001",
               "channel": "video_patrol"}),
    )
    .await;
    assert_eq!(seen["source"], "video_patrol");
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(worker),
        Some(
            json!({"description": "x", "category_code": "0402", "grid_code": "330102001001001",
                    "channel": "video_patrol"}),
        ),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_channel");
    let (status, body) = act(&f, operator, &filed[0], json!({"action": "register"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, counts) = get(&f, operator, "/api/v1/matters/counts").await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(counts["total"], 4);
    assert_eq!(counts["by_state"]["reported"], 3);
    assert_eq!(counts["by_state"]["registered"], 1);
    let (_, counts) = get(&f, operator, "/api/v1/matters/counts?state=registered").await;
    assert_eq!(counts["total"], 1);

    let (status, map) = get(
        &f,
        operator,
        "/api/v1/matters/geojson?bbox=120.0,30.0,120.005,30.005",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert_eq!(map["type"], "FeatureCollection");
    let ids: Vec<i64> = map["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{map}");
    assert!(!ids.contains(&filed[2]["id"].as_i64().unwrap()));
    let (_, map) = get(
        &f,
        operator,
        "/api/v1/matters/geojson?bbox=120.0,30.0,120.01,30.01&limit=2",
    )
    .await;
    assert_eq!(map["features"].as_array().unwrap().len(), 2);
    assert_eq!(map["truncated"], true);
    let (status, body) = get(
        &f,
        operator,
        "/api/v1/matters/geojson?bbox=120.1,30.0,120.0",
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    // Another township's operator sees none of them on the map.
    let other = login_token(&f, "other-operator").await;
    let (_, map) = get(&f, &other, "/api/v1/matters/geojson?bbox=119,29,121,31").await;
    assert_eq!(map["features"].as_array().unwrap().len(), 0);

    // A township leader is not above the township centre; the county's is.
    let (status, body) = act(
        &f,
        &f.tokens[&Role::Leader],
        &filed[1],
        json!({"action": "supervise"}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "action_not_allowed_for_actor",
    );
    // A county leader supervises (督办) one; the list filters on it.
    let (status, m) = act(
        &f,
        leader,
        &filed[1],
        json!({"action": "supervise", "note": "请尽快处理"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["supervised"], true);
    assert_eq!(m["state"], "reported");
    let (_, list) = get(&f, operator, "/api/v1/matters?supervised=true").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], filed[1]["id"]);
}

async fn merge_extension_and_reopen_window(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    let (unit, handler) = department(&f).await;
    let handler = &handler;
    let first = file(
        &f,
        worker,
        json!({"description": "井盖缺失", "category_code": "0401", "lng": 120.003, "lat": 30.003}),
    )
    .await;
    let second = file(&f, worker, json!({"description": "井盖缺失（重复）", "category_code": "0401", "lng": 120.003, "lat": 30.003})).await;

    let (status, body) = act(&f, operator, &second, json!({"action": "merge"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = act(
        &f,
        operator,
        &second,
        json!({"action": "merge", "target_matter_id": second["id"]}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_merge_target");
    let (status, merged) = act(
        &f,
        operator,
        &second,
        json!({"action": "merge", "target_matter_id": first["id"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["state"], "merged");
    assert_eq!(merged["merged_into"], first["id"]);

    // Register, dispatch, accept; the unit asks for more time and gets it.
    let mut m = first;
    for body in [
        json!({"action": "register"}),
        json!({"action": "dispatch", "unit_id": unit}),
        json!({"action": "accept"}),
    ] {
        let token = if body["action"] == "accept" {
            handler
        } else {
            operator
        };
        let (status, next) = act(&f, token, &m, body).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        m = next;
    }
    assert!(m["time_limit"].is_string(), "{m}");
    let deadline = m["deadline"].as_i64().unwrap();
    let (status, body) = act(&f, operator, &m, json!({"action": "approve_extension"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "no_pending_request");
    let (status, next) = act(
        &f,
        handler,
        &m,
        json!({"action": "request_extension", "extend_by": "3wd", "note": "需采购配件"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    m = next;
    let (status, body) = act(
        &f,
        handler,
        &m,
        json!({"action": "request_extension", "extend_by": "1wd", "note": "再次申请"}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "request_pending");
    let (status, next) = act(&f, operator, &m, json!({"action": "approve_extension"})).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    m = next;
    let extended = m["deadline"].as_i64().unwrap();
    let expected = f.state.calendar.add_working_days(deadline, 3);
    assert_eq!(
        extended, expected,
        "three working days after the old deadline"
    );

    // Handled with a photo, verified, closed; the reporter may reopen it now…
    let photo = upload_photo(&f, handler, &solid_png(16, 16, [10, 120, 200])).await;
    for (token, body) in [
        (
            handler,
            json!({"action": "report_handled", "photos": [photo]}),
        ),
        (operator, json!({"action": "verify_pass"})),
        (operator, json!({"action": "close"})),
    ] {
        let (status, next) = act(&f, token, &m, body).await;
        assert_eq!(status, StatusCode::OK, "{next}");
        m = next;
    }
    assert!(m["closed_at"].is_i64());
    // … but not once the window has passed (driven through the service layer's clock).
    let caller = f
        .store
        .account_by_username(&pingan_domain::Scope::everywhere(), "grid_worker")
        .await
        .unwrap()
        .unwrap();
    let late = m["closed_at"].as_i64().unwrap() + (f.state.config.reopen_days + 1) * 86_400_000;
    let refused = pingan_api::matters::perform(
        &f.state,
        &caller,
        m["id"].as_i64().unwrap(),
        pingan_api::matters::ActionRequest {
            action: "reopen".into(),
            version: m["version"].as_i64().unwrap(),
            note: Some("又坏了".into()),
            ..Default::default()
        },
        late,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "reopen_window_closed");
    let (status, reopened) = act(
        &f,
        worker,
        &m,
        json!({"action": "reopen", "note": "又坏了"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    assert_eq!(reopened["state"], "reopened");
}

async fn catalogue_edits_keep_dispatched_limits(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = &f.tokens[&Role::GridWorker];
    let operator = &f.tokens[&Role::CentreOperator];
    let admin = &f.tokens[&Role::Admin];
    let (unit, _) = department(&f).await;

    let (status, cat) = get(&f, operator, "/api/v1/categories").await;
    assert_eq!(status, StatusCode::OK);
    let version = cat["version"].as_i64().unwrap();
    let categories = cat["catalogue"]["categories"].as_array().unwrap();
    assert!(categories.len() >= 30);
    let mut road = categories
        .iter()
        .find(|c| c["code"] == "0403")
        .unwrap()
        .clone();

    // Dispatched under the current limit…
    let m = file(&f, worker, json!({"description": "道路碎玻璃", "category_code": "0403", "lng": 120.001, "lat": 30.001})).await;
    let (_, m) = act(&f, operator, &m, json!({"action": "register"})).await;
    let (status, m) = act(
        &f,
        operator,
        &m,
        json!({"action": "dispatch", "unit_id": unit}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let limit_before = m["time_limit"].as_str().unwrap().to_string();
    let deadline_before = m["deadline"].as_i64().unwrap();

    // … then an admin changes the limit of every severity.
    for l in road["limits"].as_array_mut().unwrap() {
        l["limit"] = json!("20wd");
        l["milestones"] = json!([]);
    }
    let (status, body) =
        put_category(&f, operator, json!({"version": version, "category": road})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) =
        put_category(&f, admin, json!({"version": version - 1, "category": road})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "stale_version");
    let mut bad = road.clone();
    bad["limits"] = json!([]);
    let (status, body) =
        put_category(&f, admin, json!({"version": version, "category": bad})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_catalogue");
    let (status, body) =
        put_category(&f, admin, json!({"version": version, "category": road})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], version + 1);
    let (_, cat) = get(&f, worker, "/api/v1/categories").await;
    assert_eq!(cat["version"], version + 1);
    // Stored: a restarted server reads the edited catalogue.
    let reloaded = pingan_api::AppState::new(
        f.store.clone(),
        pingan_api::imports::load_index(&*f.store).await.unwrap(),
        test_config(),
    );
    reloaded.load_catalogue().await.unwrap();
    assert_eq!(reloaded.catalogue().0, Some(version + 1));

    // The matter keeps what it was dispatched under; a new one gets the new limit.
    let (_, same) = get(&f, operator, &format!("/api/v1/matters/{}", m["id"])).await;
    assert_eq!(same["time_limit"], limit_before.as_str());
    assert_eq!(same["deadline"], deadline_before);
    let n = file(&f, worker, json!({"description": "道路碎玻璃 2", "category_code": "0403", "lng": 120.001, "lat": 30.001})).await;
    let (_, n) = act(&f, operator, &n, json!({"action": "register"})).await;
    let (_, n) = act(
        &f,
        operator,
        &n,
        json!({"action": "dispatch", "unit_id": unit}),
    )
    .await;
    assert_eq!(n["time_limit"], "20wd");
}

async fn put_category(f: &Fixture, token: &str, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::PUT,
        "/api/v1/categories/0403",
        Some(token),
        Some(body),
    )
    .await
}

/// Many reports at once go through the group-commit writer: each gets its own
/// matter, and a key sent twice (even in the same batch) gives one matter.
async fn concurrent_reports_commit_in_groups(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let caller = f
        .store
        .account_by_username(&pingan_domain::Scope::everywhere(), "grid_worker")
        .await
        .unwrap()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120 {
        let state = f.state.clone();
        let caller = caller.clone();
        tasks.spawn(async move {
            let req = pingan_api::matters::NewMatterRequest {
                description: format!("并发上报 {i}"),
                category_code: Some("0403".into()),
                severity: None,
                lng: Some(120.001 + (i % 7) as f64 * 0.001),
                lat: Some(30.001),
                crs: None,
                grid_code: None,
                contact: None,
                // Every key is sent twice.
                idempotency_key: Some(format!("concurrent-key-{}", i / 2)),
                photos: None,
                channel: None,
            };
            let answer =
                pingan_api::matters::file_report(&state, &caller, req, pingan_storage::now_ms())
                    .await;
            (i, answer.map(|(m, _)| m.id))
        });
    }
    let mut ids = std::collections::HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (i, id) = done.unwrap();
        let id = id.unwrap_or_else(|e| panic!("report {i}: {e}"));
        let same = *ids.entry(i / 2).or_insert(id);
        assert_eq!(same, id, "both copies of key {} give one matter", i / 2);
    }
    let distinct: std::collections::HashSet<_> = ids.values().collect();
    assert_eq!(distinct.len(), 60);
    let (_, counts) = get(
        &f,
        &f.tokens[&Role::CentreOperator],
        "/api/v1/matters/counts",
    )
    .await;
    assert_eq!(counts["total"], 60);
    assert_eq!(f.store.verify_log().await.unwrap(), Ok(60));
}

/// A township centre may send a matter to its own units and to the county's
/// departments above it, not to a neighbouring township's units.
async fn dispatch_options_reach_up_not_sideways(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let (department, _) = department(&f).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let m = file(
        &f,
        &f.tokens[&Role::GridWorker],
        json!({"description": "墙体开裂", "category_code": "0602", "lng": 120.002, "lat": 30.002}),
    )
    .await;
    let path = format!("/api/v1/matters/{}/dispatch-options", m["id"]);
    let (status, any) = get(&f, operator, &format!("{path}?kind=any")).await;
    assert_eq!(status, StatusCode::OK, "{any}");
    let ids: Vec<i64> = any["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&department), "{any}");
    assert!(!ids.contains(&f.other_unit), "{any}");
    assert!(any["deadline_preview"].as_i64().unwrap() > pingan_storage::now_ms());
    assert!(any["time_limit"].is_string());
    // By default only the kind the category names.
    let (_, suggested) = get(&f, operator, &path).await;
    let kind = suggested["suggested_kind"].as_str().unwrap();
    assert!(suggested["units"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["kind"] == kind));
    let (status, body) = get(&f, operator, &format!("{path}?kind=spaceship")).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    // Another township's operator cannot see the matter at all.
    let other = login_token(&f, "other-operator").await;
    let (status, _) = get(&f, &other, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

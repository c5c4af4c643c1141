//! The HTTP API driven through the router (`oneshot`), on both backends.
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use pingan_domain::{Role, Scope};
use pingan_storage::{on_both_backends, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends!(
    login_logout_and_bearer,
    locate_answers_grid_and_regions,
    every_role_is_refused_outside_its_scope,
    bad_input_gets_json_errors,
    grid_import_is_all_or_nothing,
    personal_data_is_masked_and_reveal_is_audited,
    openapi_lists_every_route,
);

async fn login_logout_and_bearer(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let token = &f.tokens[&Role::Admin];
    let (status, me) = call(&f.app, Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["phone_masked"], "138****1234");

    // The cookie works as well as the bearer token.
    let req = Request::builder()
        .uri("/api/v1/me")
        .header(header::COOKIE, format!("pingan_session={token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(raw(&f.app, req).await.0, StatusCode::OK);

    let (status, body) = call(&f.app, Method::GET, "/api/v1/me", None, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = call(&f.app, Method::GET, "/api/v1/me", Some("forged"), None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");

    let (status, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/auth/logout",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&f.app, Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Wrong passwords: refused, then throttled even for the right one.
    for _ in 0..5 {
        let (status, body) = call(
            &f.app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "leader", "password": "wrong password"})),
        )
        .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "leader", "password": PASSWORD})),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );

    // A disabled account cannot sign in, and its sessions end.
    let citizen = f
        .store
        .account_by_username(&Scope::everywhere(), "citizen")
        .await
        .unwrap()
        .unwrap();
    f.store
        .set_account_disabled(&Scope::everywhere(), citizen.id, true)
        .await
        .unwrap();
    let (status, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/me",
        Some(&f.tokens[&Role::Citizen]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn locate_answers_grid_and_regions(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=120.015&lat=30.005",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grid"]["code"], "330102001002001");
    let levels: Vec<&str> = body["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["province", "city", "county", "township", "village"]
    );
    assert_eq!(body["regions"][4]["code"], "330102001002");
    assert_eq!(body["regions"][3]["name"], "清波街道");

    // The same place given in GCJ-02 lands in the same grid.
    let (gx, gy) = pingan_geo::crs::from_wgs84(pingan_geo::Crs::Gcj02, 120.015, 30.005);
    let (status, body) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/locate?lng={gx}&lat={gy}&crs=gcj02"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["grid"]["code"], "330102001002001");

    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=100&lat=30",
        None,
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_in_any_grid");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=abc&lat=30",
        None,
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=200&lat=30",
        None,
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=120&lat=30&crs=mars",
        None,
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
}

async fn every_role_is_refused_outside_its_scope(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let other_account = f.other_account;
    let other_unit = f.other_unit;
    let b_grid = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"code": "330102002001002", "name": "越界网格"},
        "geometry": {"type": "Polygon", "coordinates": [[[120.02,30.02],[120.03,30.02],[120.03,30.03],[120.02,30.03],[120.02,30.02]]]}
    }]});
    // Every region-bound endpoint, aimed at township B or another county.
    let outside: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/regions/330102002".into(), None),
        (Method::GET, "/api/v1/regions/330203".into(), None),
        (
            Method::GET,
            "/api/v1/regions/330102002/children".into(),
            None,
        ),
        (Method::GET, "/api/v1/grids/330102002001001".into(), None),
        (Method::GET, "/api/v1/grids/330203001001001".into(), None),
        (Method::GET, "/api/v1/grids?under=330102002".into(), None),
        (Method::GET, format!("/api/v1/units/{other_unit}"), None),
        (
            Method::GET,
            format!("/api/v1/accounts/{other_account}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/{other_account}/phone"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/accounts/{other_account}"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::POST,
            "/api/v1/units".into(),
            Some(json!({"name": "越界单位", "kind": "department", "region_code": "330102002"})),
        ),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({
            "username": "intruder", "password": "long enough password", "role": "centre_operator",
            "scope": "330102002", "display_name": "越界"})),
        ),
        (Method::POST, "/api/v1/grids/import".into(), Some(b_grid)),
    ];
    for role in Role::ALL {
        let token = &f.tokens[&role];
        for (method, uri, body) in &outside {
            let (status, reply) =
                call(&f.app, method.clone(), uri, Some(token), body.clone()).await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                "{role} {method} {uri} answered {status}: {reply}"
            );
            assert!(reply["code"].is_string(), "{role} {method} {uri}: {reply}");
        }
        // Lists never show what lies outside.
        let (status, grids) = call(&f.app, Method::GET, "/api/v1/grids", Some(token), None).await;
        assert_eq!(status, StatusCode::OK);
        for g in grids["items"].as_array().unwrap() {
            assert!(
                g["code"].as_str().unwrap().starts_with(scope_for(role)),
                "{role}: {g}"
            );
        }
        let (_, units) = call(&f.app, Method::GET, "/api/v1/units", Some(token), None).await;
        assert!(
            units["items"].as_array().unwrap().is_empty(),
            "{role}: {units}"
        );
        // And what lies inside is readable.
        let (status, _) = call(
            &f.app,
            Method::GET,
            "/api/v1/grids/330102001001001",
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{role}");
        let (status, _) = call(
            &f.app,
            Method::GET,
            "/api/v1/regions/330102001",
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{role}");
    }
    // Nothing was written by any of those attempts.
    let other = f
        .store
        .account(&Scope::everywhere(), other_account)
        .await
        .unwrap()
        .unwrap();
    assert!(!other.disabled);
    assert!(f.store.credentials("intruder").await.unwrap().is_none());
    assert!(f
        .store
        .grid(&Scope::everywhere(), "330102002001002")
        .await
        .unwrap()
        .is_none());
    // The admin of township A can act inside it.
    let admin = &f.tokens[&Role::Admin];
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/accounts",
        Some(admin),
        Some(json!({"username": "newworker", "password": "long enough password", "role": "grid_worker",
                    "scope": "330102001002001", "display_name": "新网格员", "phone": "13700001234"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["phone_masked"], "137****1234");
    let (_, list) = call(
        &f.app,
        Method::GET,
        "/api/v1/accounts?limit=3",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let next = list["next"].as_str().unwrap().to_string();
    let (_, rest) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/accounts?limit=100&after={next}"),
        Some(admin),
        None,
    )
    .await;
    // 9 role accounts + the new one, all in township A; the B operator is not listed.
    assert_eq!(3 + rest["items"].as_array().unwrap().len(), 10);
    assert!(rest["next"].is_null());
}

async fn bad_input_gets_json_errors(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let admin = &f.tokens[&Role::Admin];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/units")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, body) = raw(&f.app, req).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_json");
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/units",
        Some(admin),
        Some(json!({"name": "x", "kind": "palace", "region_code": "330102001"})),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/units",
        Some(admin),
        Some(json!({"name": "x", "kind": "department", "region_code": "33010200X"})),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/units",
        Some(admin),
        Some(json!({"name": "x", "kind": "department", "region_code": "330102001009"})),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(&f.app, Method::POST, "/api/v1/accounts", Some(admin),
        Some(json!({"username": "a", "password": "short", "role": "citizen", "scope": "330102001", "display_name": "x"}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(&f.app, Method::POST, "/api/v1/accounts", Some(admin),
        Some(json!({"username": "citizen", "password": "long enough password", "role": "citizen", "scope": "330102001", "display_name": "x"}))).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/grids?limit=0",
        Some(admin),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = call(&f.app, Method::GET, "/api/v1/units/abc", Some(admin), None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/nothing-here",
        Some(admin),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let big = "x".repeat(2 << 20);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            "{{\"username\":\"{big}\",\"password\":\"\"}}"
        )))
        .unwrap();
    let (status, body) = raw(&f.app, req).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // A role without the right gets 403 even inside its scope.
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/accounts",
        Some(&f.tokens[&Role::GridWorker]),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

async fn grid_import_is_all_or_nothing(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let admin = &f.tokens[&Role::Admin];
    let good = |code: &str, x: f64| {
        json!({
            "type": "Feature",
            "properties": {"code": code, "name": format!("新网格{code}")},
            "geometry": {"type": "Polygon", "coordinates": [[[x,30.1],[x+0.01,30.1],[x+0.01,30.11],[x,30.11],[x,30.1]]]}
        })
    };
    // One feature overlaps an existing grid: nothing is written.
    let mut overlapping = good("330102001001003", 120.0);
    overlapping["geometry"]["coordinates"] = json!([[
        [120.0, 30.0],
        [120.005, 30.0],
        [120.005, 30.005],
        [120.0, 30.005],
        [120.0, 30.0]
    ]]);
    let file = json!({"type": "FeatureCollection", "features": [good("330102001001002", 120.0), overlapping]});
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/grids/import",
        Some(admin),
        Some(file),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "import_refused",
    );
    assert!(f
        .store
        .grid(&Scope::everywhere(), "330102001001002")
        .await
        .unwrap()
        .is_none());
    // An unknown village: refused.
    let file = json!({"type": "FeatureCollection", "features": [good("330102001009001", 120.0)]});
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/grids/import",
        Some(admin),
        Some(file),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "import_refused",
    );
    // A good file is written and the running index knows it at once.
    let file = json!({"type": "FeatureCollection", "features": [good("330102001001002", 120.0), good("330102001001003", 120.01)]});
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/grids/import",
        Some(admin),
        Some(file),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], 2);
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/locate?lng=120.015&lat=30.105",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["grid"]["code"], "330102001001003");
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/grids/330102001001003",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], "Feature");
    assert_eq!(body["geometry"]["type"], "MultiPolygon");
}

async fn personal_data_is_masked_and_reveal_is_audited(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let admin = &f.tokens[&Role::Admin];
    let citizen = f
        .store
        .account_by_username(&Scope::everywhere(), "citizen")
        .await
        .unwrap()
        .unwrap();
    let (_, body) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/accounts/{}", citizen.id),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(body["phone_masked"], "138****1234");
    assert!(!body.to_string().contains("13812341234"));
    let (status, body) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/accounts/{}/phone", citizen.id),
        Some(&f.tokens[&Role::Leader]),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/accounts/{}/phone", citizen.id),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["phone"], "13812341234");
    let log = f
        .store
        .audit_log(&format!("account:{}", citizen.id))
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
}

async fn openapi_lists_every_route(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let (status, doc) = call(&f.app, Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/healthz",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/locate",
        "/api/v1/regions/{code}",
        "/api/v1/regions/{code}/children",
        "/api/v1/grids",
        "/api/v1/grids/{code}",
        "/api/v1/grids/import",
        "/api/v1/units",
        "/api/v1/units/{id}",
        "/api/v1/accounts",
        "/api/v1/accounts/{id}",
        "/api/v1/accounts/{id}/phone",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let req = Request::builder()
        .uri("/api/docs")
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("/api/openapi.json"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the viewer loads nothing from outside"
    );
    let req = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    assert!(
        res.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    let (status, health) = call(&f.app, Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["grids"], 4);
}

//! Shared set-up of the API tests: a small tree, four grids, one account per
//! role in township A, and a unit and an account in township B.
#![allow(dead_code)]
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use geo::{LineString, MultiPolygon, Polygon};
use http_body_util::BodyExt;
use pingan_api::{imports, router, ApiConfig, AppState};
use pingan_domain::{RegionCode, Role, Scope, UnitKind};
use pingan_storage::testing::sample_divisions;
use pingan_storage::{Account, NewAccount, NewGrid, NewUnit, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

pub fn square(x: f64, y: f64, size: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (x, y),
            (x + size, y),
            (x + size, y + size),
            (x, y + size),
            (x, y),
        ]),
        vec![],
    )])
}

/// Grids: two in 清波街道 (township A), one in 湖滨街道 (B), one in 海曙区.
pub const GRIDS: [(&str, f64); 4] = [
    ("330102001001001", 120.00),
    ("330102001002001", 120.01),
    ("330102002001001", 120.02),
    ("330203001001001", 121.50),
];
pub const TOWNSHIP_A: &str = "330102001";
pub const PASSWORD: &str = "correct horse battery";

pub struct Fixture {
    pub app: Router,
    /// The same state the router serves, for calling the service layer.
    pub state: AppState,
    pub store: Arc<dyn Store>,
    /// Session token per role, each account scoped inside township A.
    pub tokens: HashMap<Role, String>,
    /// An account, a unit and a grid in township B.
    pub other_account: i64,
    pub other_unit: i64,
}

pub fn scope_for(role: Role) -> &'static str {
    match role {
        Role::GridWorker => "330102001001001",
        Role::GridChief | Role::Landlord | Role::Citizen => "330102001001",
        _ => TOWNSHIP_A,
    }
}

/// The default settings with photos in a directory of this test's own.
pub fn test_config() -> ApiConfig {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "pingan-test-photos-{}-{n}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    ApiConfig {
        photo_dir: dir,
        ..ApiConfig::default()
    }
}

pub async fn fixture(store: Arc<dyn Store>) -> Fixture {
    let everywhere = Scope::everywhere();
    store
        .import_divisions(&sample_divisions(), &|_| {})
        .await
        .unwrap();
    let grids: Vec<NewGrid> = GRIDS
        .iter()
        .map(|(code, x)| {
            let g = square(*x, 30.0, 0.01);
            NewGrid {
                code: code.to_string(),
                name: format!("网格{}", &code[12..]),
                geometry: pingan_geo::geometry::encode(&g),
                bbox: pingan_geo::geometry::bbox(&g).unwrap(),
            }
        })
        .collect();
    store.import_grids(&grids, &|_| {}).await.unwrap();
    let hash = pingan_api::auth::hash_password(PASSWORD);
    for role in Role::ALL {
        store
            .create_account(
                &everywhere,
                &NewAccount {
                    username: role.as_str().into(),
                    password_hash: hash.clone(),
                    role,
                    scope: Scope::parse(scope_for(role)).unwrap(),
                    unit_id: None,
                    display_name: role.name_zh().into(),
                    phone: Some("13812341234".into()),
                },
            )
            .await
            .unwrap();
    }
    let other_unit = store
        .create_unit(
            &everywhere,
            &NewUnit {
                name: "湖滨街道综治中心".into(),
                kind: UnitKind::CommandCentre,
                region: RegionCode::from_short("330102002").unwrap(),
            },
        )
        .await
        .unwrap()
        .id;
    let other_account = store
        .create_account(
            &everywhere,
            &NewAccount {
                username: "other-operator".into(),
                password_hash: hash.clone(),
                role: Role::CentreOperator,
                scope: Scope::parse("330102002").unwrap(),
                unit_id: Some(other_unit),
                display_name: "他人".into(),
                phone: Some("13900001111".into()),
            },
        )
        .await
        .unwrap()
        .id;
    let index = imports::load_index(&*store).await.unwrap();
    let state = AppState::new(store.clone(), index, test_config());
    state.load_catalogue().await.unwrap();
    let app = router(state.clone());
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": role.as_str(), "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.insert(role, body["token"].as_str().unwrap().to_string());
    }
    Fixture {
        app,
        state,
        store,
        tokens,
        other_account,
        other_unit,
    }
}

pub async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    raw(app, req).await
}

pub async fn raw(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

/// Uploads a photo as a raw body; answers its sha256.
pub async fn upload_photo(f: &Fixture, token: &str, bytes: &[u8]) -> String {
    let (status, body) = upload_raw(f, token, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["sha256"].as_str().unwrap().to_string()
}

pub async fn upload_raw(f: &Fixture, token: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/photos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "image/png")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    raw(&f.app, req).await
}

/// Every error answers the documented shape.
pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(!body["message"].as_str().unwrap_or("").is_empty(), "{body}");
    assert!(
        !body["message_en"].as_str().unwrap_or("").is_empty(),
        "{body}"
    );
}

/// A county department with a handler account.
pub async fn department(f: &Fixture) -> (i64, String) {
    let unit = f
        .store
        .create_unit(
            &Scope::everywhere(),
            &NewUnit {
                name: "上城区住房和城乡建设局".into(),
                kind: UnitKind::Department,
                region: RegionCode::from_short("330102").unwrap(),
            },
        )
        .await
        .unwrap();
    f.store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "housing".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::DepartmentHandler,
                scope: Scope::parse("330102").unwrap(),
                unit_id: Some(unit.id),
                display_name: "住建局".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    (unit.id, login_token(f, "housing").await)
}

pub async fn login_token(f: &Fixture, username: &str) -> String {
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": username, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// A grid worker's report of road debris in grid 330102001001001.
pub async fn file_road_report(f: &Fixture, description: &str) -> Value {
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

/// An account by user name.
pub async fn account(f: &Fixture, name: &str) -> Account {
    f.store
        .account_by_username(&Scope::everywhere(), name)
        .await
        .unwrap()
        .unwrap()
}

/// Performs an action through the service layer at `at`, at the matter's
/// current version; `extra` adds to the request (unit, result, photos…).
pub async fn act(f: &Fixture, who: &Account, id: i64, action: &str, at: i64, extra: Value) {
    let version = f
        .store
        .matter(&Scope::everywhere(), id)
        .await
        .unwrap()
        .unwrap()
        .version;
    let mut req = json!({"action": action, "version": version});
    req.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let req: pingan_api::matters::ActionRequest = serde_json::from_value(req).unwrap();
    pingan_api::matters::perform(&f.state, who, id, req, at)
        .await
        .unwrap_or_else(|e| panic!("{action}: {e:?}"));
}

//! Rental housing through the API, on both backends: the unit's life, the
//! safety check that blocks letting, check-in validation and the occupancy
//! limit, scheduled check-out and purge on a controllable clock, scope, and
//! the public listing behind signed QR links.
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use pingan_api::scheduler::sweep;
use pingan_domain::rental::CheckItem;
use pingan_domain::{Role, Scope};
use pingan_storage::photos::solid_png;
use pingan_storage::{on_both_backends, NewAccount, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends!(
    unit_lifecycle_and_the_check_that_blocks_letting,
    check_in_validates_documents_and_the_occupancy_limit,
    leases_end_on_schedule_and_tenants_are_purged,
    landlords_and_staff_stay_in_scope,
);

const DAY: i64 = 24 * 3600 * 1000;
const TENANT: &str = "欧阳清漪";
/// The worked example of GB 11643-1999.
const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13977778888";

fn token(f: &Fixture, role: Role) -> &str {
    &f.tokens[&role]
}

/// A landlord's property in grid 330102001001001 with one unit (20 m², four
/// places unless `limit` says otherwise); answers the unit.
async fn landlord_unit(f: &Fixture, limit: i64) -> Value {
    let landlord = token(f, Role::Landlord);
    let (status, p) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/properties",
        Some(landlord),
        Some(json!({"name": "清波街 12 号", "address": "上城区清波街 12 号", "lng": 120.005, "lat": 30.005,
            "contact": "13800001111"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["grid_code"], "330102001001001");
    assert_eq!(p["contact_masked"], "138****1111");
    let (status, u) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/rentals/properties/{}/units", p["id"]),
        Some(landlord),
        Some(json!({"label": "301", "area_m2": 5.0 * limit as f64, "rent_yuan": 1200, "street_facing": true,
            "floor": 3, "facilities": ["空调", "独立卫生间"], "occupancy_limit": limit})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    assert_eq!(u["state"], "draft");
    u
}

async fn unit_action(f: &Fixture, role: Role, unit: &Value, action: &str) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/rentals/units/{}/actions", unit["id"]),
        Some(token(f, role)),
        Some(json!({"action": action, "version": unit["version"]})),
    )
    .await
}

/// A check by the grid worker; `failing` items fail.
async fn inspect(f: &Fixture, unit: &Value, failing: &[CheckItem]) -> (StatusCode, Value) {
    let worker = token(f, Role::GridWorker);
    let photo = upload_photo(f, worker, &solid_png(16, 12, [200, 40, 40])).await;
    let items: Vec<Value> = CheckItem::ALL
        .iter()
        .map(|i| json!({"item": i.as_str(), "passed": !failing.contains(i), "note": if failing.contains(i) { Some("楼道内充电") } else { None }}))
        .collect();
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/rentals/units/{}/inspections", unit["id"]),
        Some(worker),
        Some(json!({"version": unit["version"], "items": items, "photos": [photo], "night": true})),
    )
    .await
}

/// A unit that passed its check and was published.
async fn vacant_unit(f: &Fixture, limit: i64) -> Value {
    let u = landlord_unit(f, limit).await;
    let (status, u) = unit_action(f, Role::Landlord, &u, "submit").await;
    assert_eq!(status, StatusCode::OK, "{u}");
    let (status, out) = inspect(f, &u, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let (status, u) = unit_action(f, Role::Landlord, &out["unit"], "publish").await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["state"], "vacant");
    u
}

fn tenant(id_number: &str) -> Value {
    json!({"name": TENANT, "doc_type": "resident_id", "id_number": id_number, "phone": PHONE})
}

async fn check_in(
    f: &Fixture,
    role: Role,
    unit: &Value,
    tenants: Vec<Value>,
    lease_end: i64,
) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/rentals/units/{}/tenancies", unit["id"]),
        Some(token(f, role)),
        Some(
            json!({"version": unit["version"], "lease_start": pingan_storage::now_ms() - DAY,
            "lease_end": lease_end, "tenants": tenants}),
        ),
    )
    .await
}

async fn get(f: &Fixture, role: Role, uri: &str) -> (StatusCode, Value) {
    call(&f.app, Method::GET, uri, Some(token(f, role)), None).await
}

/// Everything written about a unit's tenancies stays free of the tenant.
async fn assert_log_has_no_personal_data(store: &Arc<dyn Store>) {
    let entries = store.log_after(0, 1000).await.unwrap();
    assert!(!entries.is_empty());
    for e in entries {
        for secret in [TENANT, ID_NUMBER, "002X", PHONE] {
            assert!(
                !e.body.contains(secret),
                "{} in the log: {}",
                secret,
                e.body
            );
        }
    }
}

async fn unit_lifecycle_and_the_check_that_blocks_letting(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    // Bad input answers 400 with its code and writes nothing.
    let (status, p) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/properties",
        Some(token(&f, Role::Landlord)),
        Some(json!({"name": "x", "address": "y", "lng": 120.005, "lat": 30.005})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (status, body) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/rentals/properties/{}/units", p["id"]),
        Some(token(&f, Role::Landlord)),
        Some(json!({"label": "1", "area_m2": 20.0, "rent_yuan": 800, "street_facing": false, "floor": 1,
            "occupancy_limit": 5})),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "occupancy_exceeds_area",
    );
    let (_, list) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units?property_id={}", p["id"]),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    let u = landlord_unit(&f, 4).await;
    let uid = u["id"].as_i64().unwrap();
    assert_eq!(u["actions_allowed"], json!(["submit", "withdraw"]));
    // No letting before the check.
    let (status, body) = check_in(
        &f,
        Role::Landlord,
        &u,
        vec![tenant(ID_NUMBER)],
        pingan_storage::now_ms() + 30 * DAY,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "unit_action_not_allowed_in_state",
    );
    let (status, u) = unit_action(&f, Role::Landlord, &u, "submit").await;
    assert_eq!(
        (status, u["state"].as_str()),
        (StatusCode::OK, Some("awaiting_inspection"))
    );
    // A stale version is refused.
    let (status, body) = unit_action(
        &f,
        Role::Landlord,
        &json!({"id": uid, "version": 1}),
        "publish",
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "stale_version");

    // The check fails: a rectification matter opens, letting stays blocked.
    let (status, out) = inspect(&f, &u, &[CheckItem::NoIndoorEbikeCharging]).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["unit"]["state"], "rectification_required");
    assert_eq!(out["inspection"]["passed"], false);
    assert_eq!(out["inspection"]["items"].as_array().unwrap().len(), 7);
    let matter_id = out["matter_id"].as_i64().unwrap();
    // Three working days to put it right; the follow-up check is due then.
    let rectify_by = out["rectify_by"].as_i64().unwrap();
    assert!(
        rectify_by > pingan_storage::now_ms() + DAY
            && rectify_by < pingan_storage::now_ms() + 8 * DAY
    );
    assert_eq!(out["unit"]["next_inspection_due"], rectify_by);
    assert_eq!(out["unit"]["rectification_matter_id"], matter_id);
    let (status, m) = get(
        &f,
        Role::CentreOperator,
        &format!("/api/v1/matters/{matter_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["category_code"], "0603");
    assert_eq!(m["grid_code"], "330102001001001");
    assert!(
        m["description"]
            .as_str()
            .unwrap()
            .contains("电动车不进室内充电"),
        "{m}"
    );
    let u = out["unit"].clone();
    for action in ["publish", "submit"] {
        let (status, body) = unit_action(&f, Role::Landlord, &u, action).await;
        assert_error(
            status,
            &body,
            StatusCode::CONFLICT,
            "unit_action_not_allowed_in_state",
        );
    }
    let (status, body) = check_in(
        &f,
        Role::CentreOperator,
        &u,
        vec![tenant(ID_NUMBER)],
        pingan_storage::now_ms() + 30 * DAY,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "unit_action_not_allowed_in_state",
    );
    // Not checked again while the rectification matter is open.
    let (status, body) = inspect(&f, &u, &[]).await;
    assert_error(status, &body, StatusCode::CONFLICT, "rectification_open");

    // The grid worker sees it put right on the spot and closes the matter.
    let worker = token(&f, Role::GridWorker);
    let result = upload_photo(&f, worker, &solid_png(16, 12, [40, 200, 40])).await;
    let (status, m) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{matter_id}/actions"),
        Some(worker),
        Some(json!({"action": "self_resolve", "version": m["version"], "photos": [result]})),
    )
    .await;
    assert_eq!(
        (status, m["state"].as_str()),
        (StatusCode::OK, Some("closed")),
        "{m}"
    );
    let (status, out) = inspect(&f, &u, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    assert_eq!(out["unit"]["state"], "passed");
    assert!(
        out["unit"]["next_inspection_due"].as_i64().unwrap() > pingan_storage::now_ms() + 80 * DAY
    );
    let (status, u) = unit_action(&f, Role::Landlord, &out["unit"], "publish").await;
    assert_eq!(
        (status, u["state"].as_str()),
        (StatusCode::OK, Some("vacant"))
    );

    // Let: two tenants move in; the unit cannot be withdrawn while let.
    let (status, ci) = check_in(
        &f,
        Role::Landlord,
        &u,
        vec![tenant(ID_NUMBER), tenant("110105194912310011")],
        pingan_storage::now_ms() + 30 * DAY,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ci}");
    assert_eq!(ci["unit"]["state"], "let");
    assert_eq!(ci["unit"]["tenants_now"], 2);
    assert_eq!(ci["tenancies"][0]["name_masked"], "欧***");
    assert_eq!(ci["tenancies"][0]["id_masked"], "**************002X");
    assert_eq!(ci["tenancies"][0]["phone_masked"], "139****8888");
    let (status, body) = unit_action(&f, Role::Landlord, &ci["unit"], "withdraw").await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "unit_action_not_allowed_in_state",
    );

    // Early check-out of both: vacant again, then withdrawn and unlisted.
    let token_public = u["public_token"].as_str().unwrap().to_string();
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/public/rentals/{token_public}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for t in ci["tenancies"].as_array().unwrap() {
        let (status, ended) = call(
            &f.app,
            Method::POST,
            &format!("/api/v1/rentals/tenancies/{}/check-out", t["id"]),
            Some(token(&f, Role::Landlord)),
            None,
        )
        .await;
        assert_eq!(
            (status, ended["end_reason"].as_str()),
            (StatusCode::OK, Some("early")),
            "{ended}"
        );
    }
    let (status, body) = call(
        &f.app,
        Method::POST,
        &format!(
            "/api/v1/rentals/tenancies/{}/check-out",
            ci["tenancies"][0]["id"]
        ),
        Some(token(&f, Role::Landlord)),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "tenancy_ended");
    let (_, u) = get(&f, Role::Landlord, &format!("/api/v1/rentals/units/{uid}")).await;
    assert_eq!(
        (u["state"].as_str(), u["tenants_now"].as_i64()),
        (Some("vacant"), Some(0))
    );
    let (status, u) = unit_action(&f, Role::Landlord, &u, "withdraw").await;
    assert_eq!(
        (status, u["state"].as_str()),
        (StatusCode::OK, Some("withdrawn"))
    );
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/public/rentals/{token_public}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every step is in the chained log, without the tenants.
    let log = f
        .store
        .log_for(&format!("rental_unit:{uid}"))
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create",
            "submit",
            "inspect_fail",
            "inspect_pass",
            "publish",
            "check_in",
            "check_out",
            "withdraw"
        ]
    );
    assert!(f.store.verify_log().await.unwrap().is_ok());
    assert_log_has_no_personal_data(&f.store).await;
    let (_, checks) = get(
        &f,
        Role::GridWorker,
        &format!("/api/v1/rentals/units/{uid}/inspections"),
    )
    .await;
    assert_eq!(checks.as_array().unwrap().len(), 2);
    assert_eq!(checks[1]["matter_id"], matter_id);
    let sha = checks[0]["photos"][0].as_str().unwrap();
    let (status, _) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units/{uid}/photos/{sha}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units/{uid}/photos/{}", "0".repeat(64)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn check_in_validates_documents_and_the_occupancy_limit(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let u = vacant_unit(&f, 2).await;
    let end = pingan_storage::now_ms() + 60 * DAY;
    let cases = [
        (tenant("110105194912310021"), "invalid_id_number"),
        (tenant("110105194902300020"), "invalid_id_number"),
        (
            json!({"name": TENANT, "doc_type": "resident_id", "id_number": ID_NUMBER, "phone": "call me"}),
            "invalid_phone",
        ),
        (
            json!({"name": " ", "doc_type": "resident_id", "id_number": ID_NUMBER, "phone": PHONE}),
            "text_required",
        ),
        (
            json!({"name": TENANT, "doc_type": "library_card", "id_number": ID_NUMBER, "phone": PHONE}),
            "unknown_document_type",
        ),
    ];
    for (t, code) in cases {
        let (status, body) = check_in(&f, Role::CentreOperator, &u, vec![t], end).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
    }
    let (status, body) = check_in(
        &f,
        Role::CentreOperator,
        &u,
        vec![tenant(ID_NUMBER)],
        pingan_storage::now_ms() - DAY,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_lease");
    // Three for a unit of two: refused whole.
    let three = vec![
        tenant(ID_NUMBER),
        tenant("110105194912310011"),
        tenant("110105194912310038"),
    ];
    let (status, body) = check_in(&f, Role::CentreOperator, &u, three, end).await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "occupancy_limit_exceeded",
    );
    let (_, list) = get(
        &f,
        Role::CentreOperator,
        &format!("/api/v1/rentals/units/{}/tenancies", u["id"]),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was written");

    // The service desk registers one (a lower-case x is accepted), a
    // passport holder the second; a third is one too many.
    let (status, ci) = check_in(
        &f,
        Role::CentreOperator,
        &u,
        vec![tenant(&ID_NUMBER.to_lowercase())],
        end,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ci}");
    let (status, ci) = check_in(
        &f,
        Role::Landlord,
        &ci["unit"],
        vec![json!({"name": "John Smith", "doc_type": "passport", "id_number": "E1234567", "phone": "+44 20 7946 0000"})],
        end,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ci}");
    assert_eq!(ci["unit"]["tenants_now"], 2);
    assert!(!ci["unit"]["actions_allowed"]
        .as_array()
        .unwrap()
        .contains(&json!("check_in")));
    let (status, body) = check_in(
        &f,
        Role::Landlord,
        &ci["unit"],
        vec![tenant("110105194912310011")],
        end,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "occupancy_limit_exceeded",
    );

    // The landlord edits the listing; the limit must still hold the tenants.
    let edit = |version: &Value, limit: i64, area: f64, rent: i64| {
        let (app, uri) = (f.app.clone(), format!("/api/v1/rentals/units/{}", u["id"]));
        let landlord = token(&f, Role::Landlord).to_string();
        let body = json!({"version": version, "details": {"label": "301", "area_m2": area, "rent_yuan": rent,
            "street_facing": true, "floor": 3, "facilities": ["空调"], "occupancy_limit": limit}});
        async move { call(&app, Method::PUT, &uri, Some(&landlord), Some(body)).await }
    };
    let version = ci["unit"]["version"].clone();
    let (status, body) = edit(&version, 1, 10.0, 900).await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "occupancy_below_tenants",
    );
    let (status, body) = edit(&version, 3, 10.0, 900).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "occupancy_exceeds_area",
    );
    let (status, edited) = edit(&version, 3, 15.0, 900).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (
            edited["rent_yuan"].as_i64(),
            edited["occupancy_limit"].as_i64()
        ),
        (Some(900), Some(3))
    );
    assert_eq!(edited["facilities"], json!(["空调"]));
    let (status, body) = edit(&version, 3, 15.0, 950).await;
    assert_error(status, &body, StatusCode::CONFLICT, "stale_version");

    // Exact-match lookup: staff only, audited, answers masked.
    let lookup = |role| {
        call(
            &f.app,
            Method::POST,
            "/api/v1/rentals/tenants/lookup",
            Some(token(&f, role)),
            Some(json!({"id_number": "110105 19491231002x"})),
        )
    };
    let (status, found) = lookup(Role::CentreOperator).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["name_masked"], "欧***");
    assert!(!found.to_string().contains(TENANT) && !found.to_string().contains(PHONE));
    for role in [Role::Landlord, Role::Citizen, Role::Leader] {
        let (status, body) = lookup(role).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let audit = f.store.audit_log("tenancies").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "tenant_lookup");
    assert!(!audit[0].detail.contains("002X"));
    assert_log_has_no_personal_data(&f.store).await;
}

async fn leases_end_on_schedule_and_tenants_are_purged(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let u = vacant_unit(&f, 2).await;
    let now = pingan_storage::now_ms();
    let lease_end = now + 10 * DAY;
    let (status, ci) = check_in(&f, Role::Landlord, &u, vec![tenant(ID_NUMBER)], lease_end).await;
    assert_eq!(status, StatusCode::CREATED, "{ci}");
    let tid = ci["tenancies"][0]["id"].as_i64().unwrap();

    let report = sweep(&f.state, lease_end - 1).await.unwrap();
    assert_eq!((report.checked_out, report.purged), (0, 0));
    let report = sweep(&f.state, lease_end).await.unwrap();
    assert_eq!(report.checked_out, 1, "{report:?}");
    let (_, unit) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units/{}", u["id"]),
    )
    .await;
    assert_eq!(
        (unit["state"].as_str(), unit["tenants_now"].as_i64()),
        (Some("vacant"), Some(0))
    );
    let (_, list) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units/{}/tenancies", u["id"]),
    )
    .await;
    assert_eq!(list[0]["state"], "ended");
    assert_eq!(list[0]["end_reason"], "lease_end");
    assert_eq!(list[0]["name_masked"], "欧***", "kept during retention");
    // Again at the same moment: nothing more to do.
    assert_eq!(sweep(&f.state, lease_end).await.unwrap().checked_out, 0);

    // The retention period (180 days by default) runs from the check-out.
    let report = sweep(&f.state, lease_end + 180 * DAY - 1).await.unwrap();
    assert_eq!(report.purged, 0);
    let report = sweep(&f.state, lease_end + 180 * DAY + 1).await.unwrap();
    assert_eq!(report.purged, 1, "{report:?}");
    let (_, list) = get(
        &f,
        Role::Landlord,
        &format!("/api/v1/rentals/units/{}/tenancies", u["id"]),
    )
    .await;
    assert_eq!(list[0]["id"], tid);
    for field in ["name_masked", "id_masked", "phone_masked"] {
        assert_eq!(list[0][field], Value::Null, "{field}");
    }
    assert!(list[0]["purged_at"].is_i64());
    let (_, found) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/tenants/lookup",
        Some(token(&f, Role::CentreOperator)),
        Some(json!({"id_number": ID_NUMBER})),
    )
    .await;
    assert_eq!(found, json!([]));
    // Anonymous counts stay.
    let (status, rows) = get(&f, Role::Leader, "/api/v1/rentals/overview?level=village").await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    assert_eq!(rows[0]["code"], "330102001001");
    assert_eq!(rows[0]["name"], "清波门社区");
    assert_eq!(
        (
            rows[0]["registrations_total"].as_i64(),
            rows[0]["tenants_now"].as_i64()
        ),
        (Some(1), Some(0))
    );
    let log = f.store.log_for(&format!("tenancy:{tid}")).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["check_in", "check_out", "purge"]);
    assert_eq!(log[1].actor_role, "system");
    assert!(f.store.verify_log().await.unwrap().is_ok());
}

async fn landlords_and_staff_stay_in_scope(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let u = vacant_unit(&f, 4).await;
    let uid = u["id"].as_i64().unwrap();
    let (status, ci) = check_in(
        &f,
        Role::Landlord,
        &u,
        vec![tenant(ID_NUMBER)],
        pingan_storage::now_ms() + 30 * DAY,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ci}");

    // A second landlord in the other village, whose property staff enter.
    let other = f
        .store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "landlord-2".into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::Landlord,
                scope: Scope::parse("330102001002").unwrap(),
                unit_id: None,
                display_name: "房东二".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    let other_token = login_token(&f, "landlord-2").await;
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/properties",
        Some(token(&f, Role::CentreOperator)),
        Some(
            json!({"name": "劳动路 3 号", "address": "劳动路 3 号", "lng": 120.015, "lat": 30.005}),
        ),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "landlord_required");
    let (status, p2) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/properties",
        Some(token(&f, Role::CentreOperator)),
        Some(json!({"name": "劳动路 3 号", "address": "劳动路 3 号", "lng": 120.015, "lat": 30.005, "landlord_id": other.id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p2}");
    assert_eq!(p2["grid_code"], "330102001002001");
    // A landlord cannot file a property in someone else's village.
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/rentals/properties",
        Some(token(&f, Role::Landlord)),
        Some(json!({"name": "x", "address": "y", "lng": 120.015, "lat": 30.005})),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "out_of_scope");

    // Landlords see their own only.
    let (_, mine) = call(
        &f.app,
        Method::GET,
        "/api/v1/rentals/properties",
        Some(&other_token),
        None,
    )
    .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], p2["id"]);
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/rentals/units/{uid}"),
        Some(&other_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/rentals/units/{uid}/tenancies"),
        Some(&other_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Staff within their region only: the other township's operator and a
    // grid worker of another grid see nothing.
    let other_operator = login_token(&f, "other-operator").await;
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/rentals/units/{uid}"),
        Some(&other_operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, units) = call(
        &f.app,
        Method::GET,
        "/api/v1/rentals/units",
        Some(&other_operator),
        None,
    )
    .await;
    assert_eq!(units["items"], json!([]));
    let (status, p) = get(
        &f,
        Role::GridWorker,
        &format!("/api/v1/rentals/properties/{}", p2["id"]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    let (status, list) = get(&f, Role::CentreOperator, "/api/v1/rentals/properties").await;
    assert_eq!(
        (status, list["items"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
    // Citizens and departments have no part.
    for role in [Role::Citizen, Role::DepartmentHandler] {
        let (status, body) = get(&f, role, "/api/v1/rentals/units").await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    // Leaders see counts, not tenants.
    let (status, _) = get(
        &f,
        Role::Leader,
        &format!("/api/v1/rentals/units/{uid}/tenancies"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, rows) = get(&f, Role::Leader, "/api/v1/rentals/overview?level=township").await;
    assert_eq!(
        rows,
        json!([{"code": "330102001", "name": "清波街道", "units": 1, "let_units": 1, "vacant_units": 0,
        "tenants_now": 1, "inspections_due": 0, "failed_checks": 0, "registrations_total": 1}])
    );
    let (_, rows) = call(
        &f.app,
        Method::GET,
        "/api/v1/rentals/overview",
        Some(&other_operator),
        None,
    )
    .await;
    assert_eq!(rows, json!([]));

    // The night round: the grid worker's unit that awaits its check.
    let u3 = landlord_unit(&f, 2).await;
    let (_, _) = unit_action(&f, Role::Landlord, &u3, "submit").await;
    let (status, round) = get(&f, Role::GridWorker, "/api/v1/rentals/rounds").await;
    assert_eq!(status, StatusCode::OK, "{round}");
    let ids: Vec<i64> = round["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [u3["id"].as_i64().unwrap()]);

    // The public sees listings without personal data, by signed token only.
    let (status, found) = call(
        &f.app,
        Method::GET,
        "/api/v1/public/rentals?under=330102001&rent_max=1500&area_min=15&street_facing=true&bbox=119.9,29.9,120.1,30.1",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let listing = &found["items"][0];
    assert_eq!(listing["village"], "清波门社区");
    assert_eq!(listing["vacant"], false);
    let text = found.to_string();
    for secret in [
        TENANT,
        "002X",
        PHONE,
        "13800001111",
        "138****1111",
        "清波街 12 号",
        "landlord",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let (status, map) = call(
        &f.app,
        Method::GET,
        "/api/v1/public/rentals/geojson?bbox=119.9,29.9,120.1,30.1",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert_eq!(map["type"], "FeatureCollection");
    assert_eq!(
        map["features"][0]["geometry"]["coordinates"],
        json!([120.005, 30.005])
    );
    assert_eq!(map["features"][0]["properties"]["token"], listing["token"]);
    let (_, vacant_only) = call(
        &f.app,
        Method::GET,
        "/api/v1/public/rentals?vacant=true",
        None,
        None,
    )
    .await;
    assert_eq!(vacant_only["items"], json!([]));
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/public/rentals?bbox=1,2,3",
        None,
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let good = listing["token"].as_str().unwrap();
    assert_eq!(good, u["public_token"].as_str().unwrap());
    let (status, one) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/public/rentals/{good}"),
        None,
        None,
    )
    .await;
    assert_eq!((status, &one["label"]), (StatusCode::OK, &json!("301")));
    // Neither a changed id nor a changed signature opens anything.
    let (_, sig) = good.split_once('.').unwrap();
    for forged in [
        format!("{}.{sig}", uid + 1),
        format!("{uid}.{}", "A".repeat(sig.len())),
        uid.to_string(),
    ] {
        let (status, body) = call(
            &f.app,
            Method::GET,
            &format!("/api/v1/public/rentals/{forged}"),
            None,
            None,
        )
        .await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    // The QR sheet carries the signed link; strangers get none.
    let qr = |uri: String, t: String| {
        let app = f.app.clone();
        async move {
            let req = Request::builder()
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .header(header::HOST, "pingan.example.test")
                .body(Body::empty())
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let mime = res
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_string());
            (
                status,
                mime,
                res.into_body().collect().await.unwrap().to_bytes(),
            )
        }
    };
    let landlord = token(&f, Role::Landlord).to_string();
    let (status, mime, svg) = qr(
        format!("/api/v1/rentals/units/{uid}/qr.svg"),
        landlord.clone(),
    )
    .await;
    assert_eq!(
        (status, mime.as_deref()),
        (StatusCode::OK, Some("image/svg+xml"))
    );
    let svg = String::from_utf8(svg.to_vec()).unwrap();
    assert!(
        svg.contains(&format!("http://pingan.example.test/rental/{good}")),
        "{svg}"
    );
    let (status, mime, png) = qr(format!("/api/v1/rentals/units/{uid}/qr.png"), landlord).await;
    assert_eq!(
        (status, mime.as_deref()),
        (StatusCode::OK, Some("image/png"))
    );
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let (status, _, _) = qr(format!("/api/v1/rentals/units/{uid}/qr.png"), other_token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every route is in the OpenAPI document.
    let (_, doc) = call(&f.app, Method::GET, "/api/openapi.json", None, None).await;
    for path in [
        "/api/v1/rentals/properties",
        "/api/v1/rentals/properties/{id}",
        "/api/v1/rentals/properties/{id}/units",
        "/api/v1/rentals/units",
        "/api/v1/rentals/units/{id}",
        "/api/v1/rentals/units/{id}/actions",
        "/api/v1/rentals/units/{id}/inspections",
        "/api/v1/rentals/units/{id}/photos/{sha256}",
        "/api/v1/rentals/units/{id}/tenancies",
        "/api/v1/rentals/units/{id}/qr.svg",
        "/api/v1/rentals/units/{id}/qr.png",
        "/api/v1/rentals/rounds",
        "/api/v1/rentals/tenancies/{id}/check-out",
        "/api/v1/rentals/tenants/lookup",
        "/api/v1/rentals/overview",
        "/api/v1/public/rentals",
        "/api/v1/public/rentals/geojson",
        "/api/v1/public/rentals/{token}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

//! The matter loop end to end: the real binary serving real HTTP, on SQLite
//! and on PostgreSQL. A grid worker's report goes register → dispatch →
//! return → dispatch → accept → handled → verify fail → rework → handled →
//! verify pass → close → rate; a citizen follows it by its tracking code; and
//! the tamper-evident record still verifies afterwards.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

mod support;

use support::*;

const GRID: &str = "330102001001001";
const TOWNSHIP: &str = "330102001";
const COUNTY: &str = "330102";
const PHONE: &str = "13912345678";
const RETURN_NOTE: &str = "不属于本单位职责";
const FAIL_NOTE: &str = "裂缝仍未修补";

fn add_user(data: &Path, db: Option<&str>, username: &str, role: &str, scope: &str) -> String {
    let said = ok(&pingan(
        data,
        db,
        &["user", "add", username, "--role", role, "--scope", scope],
    ));
    said.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password in {said}"))
        .to_string()
}

struct Response {
    status: u16,
    /// Header lines, names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A minimal HTTP/1.0 client: real sockets, no client library.
fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// One signed-in account (or nobody) talking JSON to the server.
struct Client {
    port: u16,
    token: Option<String>,
}

impl Client {
    fn anonymous(port: u16) -> Client {
        Client { port, token: None }
    }

    fn login(port: u16, username: &str, password: &str) -> Client {
        let (status, body) = Client::anonymous(port).post(
            "/api/v1/auth/login",
            &json!({"username": username, "password": password}),
        );
        assert_eq!(status, 200, "login {username}: {body}");
        Client {
            port,
            token: Some(body["token"].as_str().unwrap().to_string()),
        }
    }

    fn raw(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
        http_raw(
            self.port,
            method,
            path,
            self.token.as_deref(),
            content_type,
            body,
        )
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = self.raw("GET", path, "application/json", b"");
        (r.status, r.json())
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self.raw(
            "POST",
            path,
            "application/json",
            body.to_string().as_bytes(),
        );
        (r.status, r.json())
    }

    fn matter(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/api/v1/matters/{id}"));
        assert_eq!(status, 200, "{body}");
        body
    }

    fn log_actions(&self, id: i64) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/v1/matters/{id}/log"));
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    }

    /// Uploads a PNG and answers its sha256.
    fn upload_png(&self, rgb: [u8; 3]) -> (String, Vec<u8>) {
        let png = pingan_storage::photos::solid_png(8, 8, rgb);
        let r = self.raw("POST", "/api/v1/photos", "image/png", &png);
        let body = r.json();
        assert_eq!(r.status, 201, "{body}");
        (body["sha256"].as_str().unwrap().to_string(), png)
    }
}

/// One step of the loop: the caller must be offered the action, takes it at
/// the current version, and the matter lands in `to`.
fn step(who: &Client, id: i64, action: Value, to: &str) -> Value {
    let before = who.matter(id);
    let name = action["action"].as_str().unwrap();
    let allowed = before["actions_allowed"].as_array().unwrap();
    assert!(
        allowed.iter().any(|a| a == name),
        "{name} not offered in {}: {allowed:?}",
        before["state"]
    );
    let mut request = action.clone();
    request["version"] = before["version"].clone();
    let (status, after) = who.post(&format!("/api/v1/matters/{id}/actions"), &request);
    assert_eq!(status, 200, "{name}: {after}");
    assert_eq!(after["state"], to, "{name}: {after}");
    assert!(
        after["version"].as_i64() > before["version"].as_i64(),
        "{name} did not move the version: {after}"
    );
    after
}

fn matter_loop(db: Option<&str>) {
    // A tiny world: one township, one grid, and the people around it.
    let data = temp_dir("loop");
    let divisions = data.join("divisions");
    write_divisions(&divisions, "");
    ok(&pingan(
        &data,
        db,
        &["import", "divisions", divisions.to_str().unwrap()],
    ));
    let grids = data.join("grids.geojson");
    let collection = json!({"type": "FeatureCollection", "features": [feature(GRID, 120.0, 30.0)]});
    std::fs::write(&grids, collection.to_string()).unwrap();
    ok(&pingan(
        &data,
        db,
        &["import", "grids", grids.to_str().unwrap()],
    ));
    let worker_pw = add_user(&data, db, "worker", "grid_worker", GRID);
    let operator_pw = add_user(&data, db, "operator", "centre_operator", TOWNSHIP);
    let admin_pw = add_user(&data, db, "admin", "admin", "*");

    let server = Server::start(&data, db);
    let port = server.1;
    let admin = Client::login(port, "admin", &admin_pw);

    // A county department and its handler, made over HTTP.
    let (status, unit) = admin.post(
        "/api/v1/units",
        &json!({"name": "上城区住建局", "kind": "department", "region_code": COUNTY}),
    );
    assert_eq!(status, 201, "{unit}");
    let unit_id = unit["id"].as_i64().unwrap();
    let handler_pw = "handler-password-2026";
    let (status, account) = admin.post(
        "/api/v1/accounts",
        &json!({"username": "handler", "password": handler_pw, "role": "department_handler",
            "scope": COUNTY, "unit_id": unit_id, "display_name": "住建局经办人"}),
    );
    assert_eq!(status, 201, "{account}");

    let worker = Client::login(port, "worker", &worker_pw);
    let operator = Client::login(port, "operator", &operator_pw);
    let handler = Client::login(port, "handler", handler_pw);

    // The grid worker reports; sending the same report again files nothing new.
    let report = json!({
        "description": "居民楼外墙出现明显裂缝",
        "category_code": "0602",
        "lng": 120.005,
        "lat": 30.005,
        "contact": PHONE,
        "idempotency_key": "e2e-report-0001",
    });
    let (status, filed) = worker.post("/api/v1/matters", &report);
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["state"], "reported");
    assert_eq!(filed["grid_code"], GRID);
    assert_eq!(filed["holder"], TOWNSHIP);
    assert_eq!(filed["source"], "grid_worker");
    assert_ne!(filed["contact_masked"], PHONE);
    let id = filed["id"].as_i64().unwrap();
    let tracking_code = filed["tracking_code"].as_str().unwrap().to_string();
    let (status, again) = worker.post("/api/v1/matters", &report);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], id);
    assert_eq!(again["tracking_code"], tracking_code.as_str());
    assert_eq!(operator.log_actions(id), ["report"]);

    // Before dispatch the department has nothing to do with it.
    assert_eq!(handler.matter(id)["actions_allowed"], json!([]));

    step(&operator, id, json!({"action": "register"}), "registered");

    // A stale version is refused and writes nothing.
    let current = operator.matter(id);
    let (status, body) = operator.post(
        &format!("/api/v1/matters/{id}/actions"),
        &json!({"action": "dispatch", "unit_id": unit_id,
            "version": current["version"].as_i64().unwrap() - 1}),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "stale_version", "{body}");
    assert_eq!(operator.log_actions(id).len(), 2);
    let unchanged = operator.matter(id);
    assert_eq!(unchanged["state"], "registered");
    assert_eq!(unchanged["version"], current["version"]);

    let dispatched = step(
        &operator,
        id,
        json!({"action": "dispatch", "unit_id": unit_id}),
        "dispatched",
    );
    assert_eq!(dispatched["assigned_unit_id"], unit_id);
    assert!(dispatched["deadline"].is_i64(), "{dispatched}");

    let returned = step(
        &handler,
        id,
        json!({"action": "return", "note": RETURN_NOTE}),
        "returned",
    );
    assert_eq!(returned["assigned_unit_id"], Value::Null);
    assert_eq!(returned["deadline"], Value::Null);

    let dispatched = step(
        &operator,
        id,
        json!({"action": "dispatch", "unit_id": unit_id}),
        "dispatched",
    );
    assert!(dispatched["deadline"].is_i64(), "{dispatched}");
    step(&handler, id, json!({"action": "accept"}), "accepted");

    // Handling needs a photo of the result, uploaded by the handler.
    let (first_photo, first_png) = handler.upload_png([200, 60, 40]);
    let (status, body) = handler.post(
        &format!("/api/v1/matters/{id}/actions"),
        &json!({"action": "report_handled", "version": handler.matter(id)["version"]}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "photos_required", "{body}");
    step(
        &handler,
        id,
        json!({"action": "report_handled", "photos": [first_photo]}),
        "handled",
    );

    let rework = step(
        &operator,
        id,
        json!({"action": "verify_fail", "note": FAIL_NOTE}),
        "rework",
    );
    assert_eq!(rework["rework_count"], 1);

    let (second_photo, _) = handler.upload_png([40, 160, 60]);
    step(
        &handler,
        id,
        json!({"action": "report_handled", "photos": [second_photo]}),
        "handled",
    );
    step(&operator, id, json!({"action": "verify_pass"}), "verified");
    let closed = step(&operator, id, json!({"action": "close"}), "closed");
    assert!(closed["closed_at"].is_i64(), "{closed}");
    let rated = step(&worker, id, json!({"action": "rate", "rating": 4}), "rated");
    assert_eq!(rated["rating"], 4);
    assert_eq!(rated["rework_count"], 1);

    // The log holds every action, in order, each leaving where the last arrived.
    assert_eq!(
        operator.log_actions(id),
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
            "rate",
        ]
    );
    let (_, log) = operator.get(&format!("/api/v1/matters/{id}/log"));
    let log = log.as_array().unwrap();
    for pair in log.windows(2) {
        assert_eq!(pair[1]["from_state"], pair[0]["to_state"], "{pair:?}");
    }

    // A citizen follows it by the tracking code, without signing in, and
    // sees no phone number and no notes.
    let r = Client::anonymous(port).raw(
        "GET",
        &format!("/api/v1/track/{tracking_code}"),
        "application/json",
        b"",
    );
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body.clone()).unwrap();
    let tracked = r.json();
    assert_eq!(tracked["state"], "rated");
    assert_eq!(tracked["tracking_code"], tracking_code.as_str());
    assert_eq!(tracked["steps"].as_array().unwrap().len(), 12);
    assert_eq!(tracked["steps"][11]["action"], "rate");
    for secret in [PHONE, "139****5678", RETURN_NOTE, FAIL_NOTE] {
        assert!(!text.contains(secret), "tracking shows {secret}: {text}");
    }

    // The result photos are on the matter, and the operator can fetch them.
    let detail = operator.matter(id);
    let shas: Vec<&str> = detail["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sha256"].as_str().unwrap())
        .collect();
    assert!(
        shas.contains(&first_photo.as_str()) && shas.contains(&second_photo.as_str()),
        "{detail}"
    );
    let photo = operator.raw(
        "GET",
        &format!("/api/v1/matters/{id}/photos/{first_photo}"),
        "application/json",
        b"",
    );
    assert_eq!(photo.status, 200);
    assert_eq!(photo.header("content-type"), Some("image/png"));
    assert_eq!(photo.body, first_png);

    server.stop();

    // The tamper-evident record still holds together.
    let said = ok(&pingan(&data, db, &["audit", "verify"]));
    let entries: u64 = said
        .split_once("intact: ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {said}"));
    // Only the matter's twelve actions are in the chain: the repeated report
    // and the stale action wrote nothing.
    assert_eq!(entries, 12, "{said}");
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn matter_loop_over_http_on_sqlite() {
    matter_loop(None);
}

#[test]
fn matter_loop_over_http_on_postgres() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(pingan_storage::testing::postgres_database_url());
    matter_loop(Some(&url));
}

//! The real binary, end to end: imports, export, locate, users, and the server
//! over real HTTP, on SQLite and on PostgreSQL; and the demo.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

mod support;

use support::*;

/// A minimal HTTP/1.0 client: real sockets, no client library.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status: u16 = raw[9..12].parse().unwrap();
    let json = raw
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn full_flow(db: Option<&str>) {
    let data = temp_dir("flow");
    let divisions = data.join("divisions");

    // A bad file is refused with file and line, and nothing is written.
    write_divisions(&divisions, "33010200100X,\"坏\",330102001,33,3301,330102\n");
    let out = pingan(
        &data,
        db,
        &["import", "divisions", divisions.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("villages.csv:4"), "{err}");
    let out = pingan(&data, db, &["locate", "120.005", "30.005"]);
    assert!(!out.status.success());

    write_divisions(&divisions, "");
    let said = ok(&pingan(
        &data,
        db,
        &["import", "divisions", divisions.to_str().unwrap()],
    ));
    assert!(said.contains("7 added"), "{said}");
    let said = ok(&pingan(
        &data,
        db,
        &["import", "divisions", divisions.to_str().unwrap()],
    ));
    assert!(said.contains("7 unchanged"), "{said}");

    // Grids: a bad feature refuses the whole file.
    let grids = data.join("grids.geojson");
    let bad = json!({"type": "FeatureCollection", "features": [
        feature("330102001001001", 120.0, 30.0), feature("3301020010010", 120.01, 30.0)]});
    std::fs::write(&grids, bad.to_string()).unwrap();
    let out = pingan(&data, db, &["import", "grids", grids.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("feature 1"), "{err}");
    let good = json!({"type": "FeatureCollection", "features": [
        feature("330102001001001", 120.0, 30.0), feature("330102002001001", 120.01, 30.0)]});
    std::fs::write(&grids, good.to_string()).unwrap();
    let said = ok(&pingan(
        &data,
        db,
        &["import", "grids", grids.to_str().unwrap()],
    ));
    assert!(said.contains("2 added"), "{said}");

    let exported = data.join("export.geojson");
    ok(&pingan(
        &data,
        db,
        &["export", "grids", "--out", exported.to_str().unwrap()],
    ));
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(back["features"].as_array().unwrap().len(), 2);

    let said = ok(&pingan(&data, db, &["locate", "120.015", "30.005"]));
    assert!(
        said.contains("330102002001001") && said.contains("湖滨街道"),
        "{said}"
    );

    let said = ok(&pingan(
        &data,
        db,
        &[
            "user",
            "add",
            "op",
            "--role",
            "centre_operator",
            "--scope",
            "330102001",
            "--phone",
            "13812345678",
        ],
    ));
    let password = said
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    let said = ok(&pingan(&data, db, &["audit", "verify"]));
    assert!(said.contains("intact: 0 entries"), "{said}");
    let list = ok(&pingan(&data, db, &["user", "list"]));
    assert!(
        list.contains("138****5678") && !list.contains("13812345678"),
        "{list}"
    );

    let server = Server::start(&data, db);
    let port = server.1;
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/locate?lng=120.005&lat=30.005",
        None,
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grid"]["code"], "330102001001001");
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "op", "password": password})),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let (status, body) = http(port, "GET", "/api/v1/grids", Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (status, _) = http(
        port,
        "GET",
        "/api/v1/grids/330102002001001",
        Some(&token),
        None,
    );
    assert_eq!(status, 404);
    server.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn cli_and_server_on_sqlite() {
    full_flow(None);
}

#[test]
fn cli_and_server_on_postgres() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(pingan_storage::testing::postgres_database_url());
    full_flow(Some(&url));
}

#[test]
fn demo_builds_zhejiang_and_its_accounts_sign_in() {
    let data = temp_dir("demo");
    // Three days of simulated activity keep this test quick; the default is 30.
    let out = Command::new(BIN)
        .args(["demo", "--no-serve", "--days", "3", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let printed = ok(&out);
    assert!(printed.contains("simulated 3 days"), "{printed}");
    // Every simulated matter has a valid chained log.
    let verified = ok(&pingan(&data, None, &["audit", "verify"]));
    assert!(verified.contains("intact"), "{verified}");
    // The indicator aggregates kept with every action equal a recomputation
    // from the event log, and a rebuild keeps them so.
    let checked = ok(&pingan(&data, None, &["stats", "check"]));
    assert!(checked.contains("match the event log"), "{checked}");
    let rebuilt = ok(&pingan(&data, None, &["stats", "rebuild"]));
    assert!(rebuilt.contains("rebuilt"), "{rebuilt}");
    ok(&pingan(&data, None, &["stats", "check"]));
    let accounts = std::fs::read_to_string(data.join("demo-accounts.txt")).unwrap();
    let rows: Vec<Vec<&str>> = accounts.lines().map(|l| l.split('\t').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 4), "{accounts}");
    for role in [
        "grid_worker",
        "grid_chief",
        "centre_operator",
        "department_handler",
        "leader",
        "mediator",
        "landlord",
        "citizen",
        "admin",
    ] {
        assert!(rows.iter().any(|r| r[2] == role), "no {role} in {accounts}");
    }
    let townships: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "centre_operator" && r[3].len() == 9)
        .map(|r| r[3])
        .collect();
    assert!(
        townships.len() >= 2
            && townships[0][..6] == townships[1][..6]
            && townships[0] != townships[1]
    );
    let mut passwords: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    passwords.sort();
    passwords.dedup();
    assert_eq!(
        passwords.len(),
        rows.len(),
        "passwords are random and distinct"
    );

    // The SQLite file holds no phone number in plain text.
    let db = std::fs::read(data.join("pingan.sqlite")).unwrap();
    assert!(!db.windows(11).any(|w| w == b"19999000001"));

    // A second run reuses the directory (same accounts).
    ok(&Command::new(BIN)
        .args(["demo", "--no-serve", "--data"])
        .arg(&data)
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read_to_string(data.join("demo-accounts.txt")).unwrap(),
        accounts
    );

    let server = Server::start(&data, None);
    let port = server.1;
    for r in &rows {
        let (status, body) = http(
            port,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": r[0], "password": r[1]})),
        );
        assert_eq!(status, 200, "{}: {body}", r[0]);
    }
    // West Lake's Hubin area, GCJ-02 as a phone map gives it.
    let (status, body) = http(
        port,
        "GET",
        "/api/v1/locate?lng=120.1655&lat=30.2575&crs=gcj02",
        None,
        None,
    );
    assert_eq!(status, 200, "{body}");
    let regions = body["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 5);
    assert_eq!(regions[0]["name"], "浙江省");
    assert_eq!(regions[1]["name"], "杭州市");
    assert!(body["grid"]["code"]
        .as_str()
        .unwrap()
        .starts_with(regions[4]["code"].as_str().unwrap()));
    let (status, body) = http(port, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    assert_eq!(body["grids"], 76641);
    // The web app answers its own routes; unknown API paths stay JSON 404s.
    assert_eq!(http(port, "GET", "/matters/1", None, None).0, 200);
    let (status, body) = http(port, "GET", "/api/v1/nothing-here", None, None);
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // 诸暨's leader sees the simulated matters in several states; 上城区's
    // operator sees none of them.
    let token_of = |name: &str| {
        let r = rows.iter().find(|r| r[0] == name).unwrap();
        let (_, body) = http(
            port,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": r[0], "password": r[1]})),
        );
        body["token"].as_str().unwrap().to_string()
    };
    let (status, counts) = http(
        port,
        "GET",
        "/api/v1/matters/counts",
        Some(&token_of("zhuji-leader")),
        None,
    );
    assert_eq!(status, 200, "{counts}");
    assert!(counts["total"].as_i64().unwrap() > 50, "{counts}");
    assert!(
        counts["by_state"].as_object().unwrap().len() >= 4,
        "{counts}"
    );
    let (_, theirs) = http(
        port,
        "GET",
        "/api/v1/matters/counts",
        Some(&token_of("operator1")),
        None,
    );
    assert_eq!(theirs["total"], 0, "{theirs}");
    // 枫桥镇's landlord has rentals in every state, and the public finds
    // the listed ones.
    let (status, units) = http(
        port,
        "GET",
        "/api/v1/rentals/units",
        Some(&token_of("fengqiao-landlord")),
        None,
    );
    assert_eq!(status, 200, "{units}");
    let mut states: Vec<&str> = units["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["state"].as_str().unwrap())
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            "awaiting_inspection",
            "draft",
            "let",
            "let",
            "rectification_required",
            "vacant"
        ]
    );
    let (status, listed) = http(
        port,
        "GET",
        "/api/v1/public/rentals?under=330681109",
        None,
        None,
    );
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 3, "{listed}");
    server.stop();
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn config_file_is_read_and_its_faults_name_the_line() {
    let data = temp_dir("config");
    let config = data.join("pingan.toml");
    let elsewhere = data.join("elsewhere");
    std::fs::write(
        &config,
        format!("# test\ndata = {:?}\n", elsewhere.display().to_string()),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["user", "list"])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        elsewhere.join("pingan.sqlite").exists(),
        "the data directory comes from the file"
    );

    std::fs::write(&config, "data = \"x\"\nlisten = 5\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pingan.toml:2"), "{err}");
    std::fs::remove_dir_all(&data).ok();
}

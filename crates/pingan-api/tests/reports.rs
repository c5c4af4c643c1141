//! The monthly safety report: made on the schedule for every county and
//! city, once; listed and downloaded within scope; its PDF and XLSX carry
//! the same figures as `/indicators`; made on request with clear refusals;
//! on both backends.
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use pingan_api::matters::{self, NewMatterRequest};
use pingan_api::reports::catch_up;
use pingan_api::scheduler::sweep;
use pingan_domain::calendar::{LocalDate, LocalDateTime};
use pingan_domain::{Role, Scope};
use pingan_storage::{on_both_backends, Account, NewAccount, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends!(scheduled_reports_are_listed_and_downloaded_within_scope);

const HOUR: i64 = 3_600_000;

fn at(y: i32, m: u8, d: u8, h: u8, min: u8) -> i64 {
    LocalDateTime::new(LocalDate::new(y, m, d).unwrap(), h, min, 0)
        .unwrap()
        .to_utc_ms()
}

async fn leader(f: &Fixture, name: &str, scope: &str) -> String {
    f.store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: name.into(),
                password_hash: pingan_api::auth::hash_password(PASSWORD),
                role: Role::Leader,
                scope: Scope::parse(scope).unwrap(),
                unit_id: None,
                display_name: "领导".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    login_token(f, name).await
}

async fn file(f: &Fixture, who: &Account, grid: &str, category: &str, at: i64) -> i64 {
    let req: NewMatterRequest = serde_json::from_value(
        json!({"description": "月报测试事件", "category_code": category, "grid_code": grid}),
    )
    .unwrap();
    matters::file_report(&f.state, who, req, at)
        .await
        .unwrap()
        .0
        .id
}

async fn download(f: &Fixture, token: &str, uri: &str) -> (StatusCode, String, String, Vec<u8>) {
    let req = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let head = |h| {
        res.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (kind, disposition) = (
        head(header::CONTENT_TYPE),
        head(header::CONTENT_DISPOSITION),
    );
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, kind, disposition, body)
}

/// The PDF's text by pdftotext (poppler-utils, which `scripts/test.sh`
/// installs); `None` when it is missing.
fn pdf_text(pdf: &[u8], name: &str) -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn sheet(files: &[(String, Vec<u8>)], n: usize) -> String {
    let name = format!("xl/worksheets/sheet{n}.xml");
    String::from_utf8(files.iter().find(|(f, _)| *f == name).unwrap().1.clone()).unwrap()
}

async fn scheduled_reports_are_listed_and_downloaded_within_scope(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let worker = account(&f, "grid_worker").await;
    let operator = account(&f, "centre_operator").await;
    let unit = department(&f).await.0;

    // October 2026 in 上城区: in 清波街道 one closed on time and rated, one
    // dispatched and left overdue; in 湖滨街道 one left unregistered.
    let t = at(2026, 10, 12, 9, 0);
    let done = file(&f, &worker, "330102001001001", "0403", t).await;
    act(&f, &operator, done, "register", t + HOUR, json!({})).await;
    act(
        &f,
        &operator,
        done,
        "dispatch",
        t + 2 * HOUR,
        json!({"unit_id": unit}),
    )
    .await;
    let late = file(&f, &worker, "330102001002001", "0403", t + 3 * HOUR).await;
    act(&f, &operator, late, "register", t + 4 * HOUR, json!({})).await;
    act(
        &f,
        &operator,
        late,
        "dispatch",
        t + 5 * HOUR,
        json!({"unit_id": unit}),
    )
    .await;
    file(&f, &worker, "330102002001001", "0403", t + 6 * HOUR).await;
    sweep(&f.state, at(2026, 11, 10, 9, 0)).await.unwrap();
    let late_code = f
        .store
        .matter(&Scope::everywhere(), late)
        .await
        .unwrap()
        .unwrap();
    assert!(late_code.overdue, "the fixture needs an overdue matter");
    let late_code = late_code.tracking_code;

    // The schedule: before 08:00 on the 15th it is September's turn, then
    // October's, each once, for both cities and both counties.
    assert_eq!(
        catch_up(&f.state, at(2026, 11, 15, 7, 59)).await.unwrap(),
        4
    );
    assert_eq!(catch_up(&f.state, at(2026, 11, 15, 8, 0)).await.unwrap(), 4);
    assert_eq!(catch_up(&f.state, at(2026, 11, 20, 8, 0)).await.unwrap(), 0);
    let everywhere = Scope::everywhere();
    let all = f
        .store
        .monthly_reports(&everywhere, None, &pingan_storage::Page::first(100))
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    assert!(all
        .iter()
        .all(|r| r.origin == "schedule" && r.pdf_pages >= 2));
    assert_eq!(
        all.iter().map(|r| r.month.as_str()).collect::<Vec<_>>(),
        ["2026-10", "2026-10", "2026-10", "2026-10", "2026-09", "2026-09", "2026-09", "2026-09"]
    );

    // The county's leader sees its two reports, a page at a time.
    let county = leader(&f, "county-leader", "330102").await;
    let (status, page1) = call(
        &f.app,
        Method::GET,
        "/api/v1/reports?limit=1",
        Some(&county),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page1}");
    assert_eq!(page1["items"].as_array().unwrap().len(), 1);
    let report = page1["items"][0].clone();
    assert_eq!(report["region_code"], "330102000000");
    assert_eq!(report["month"], "2026-10");
    let next = page1["next"].as_str().unwrap();
    let (_, page2) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/reports?limit=1&after={next}"),
        Some(&county),
        None,
    )
    .await;
    assert_eq!(page2["items"][0]["month"], "2026-09");
    assert_eq!(page2["items"][0]["region_code"], "330102000000");
    let (_, page3) = call(
        &f.app,
        Method::GET,
        &format!(
            "/api/v1/reports?limit=1&after={}",
            page2["next"].as_str().unwrap()
        ),
        Some(&county),
        None,
    )
    .await;
    assert!(page3["items"].as_array().unwrap().is_empty());
    let (_, october) = call(
        &f.app,
        Method::GET,
        "/api/v1/reports?month=2026-10",
        Some(&county),
        None,
    )
    .await;
    assert_eq!(october["items"].as_array().unwrap().len(), 1);
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/reports?month=2026-13",
        Some(&county),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_month");

    // The PDF: its figures are the indicators' own.
    let id = report["id"].as_i64().unwrap();
    let (_, indicators) = call(
        &f.app,
        Method::GET,
        "/api/v1/indicators?region=330102&period=month&date=2026-10-01",
        Some(&county),
        None,
    )
    .await;
    let received = indicators["counters"]["received"].as_i64().unwrap();
    assert_eq!(received, 3);
    let (status, kind, disposition, pdf) =
        download(&f, &county, &format!("/api/v1/reports/{id}/pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/pdf");
    assert!(
        disposition.starts_with("attachment; filename=\"pingan-report-330102000000-2026-10.pdf\"")
    );
    assert!(
        disposition.contains("filename*=UTF-8''%E4%B8%8A%E5%9F%8E%E5%8C%BA"),
        "{disposition}"
    );
    let objects = pingan_api::pdf::check_structure(&pdf).unwrap();
    assert!(objects > 6);
    assert_eq!(report["pdf_bytes"].as_i64().unwrap(), pdf.len() as i64);
    if let Some(text) = pdf_text(&pdf, &format!("monthly-report-{}", f.store.backend())) {
        let flat: String = text.split_whitespace().collect();
        assert!(
            flat.contains("上城区平安建设月度报表（2026年10月）"),
            "{text}"
        );
        assert!(
            flat.contains("清波街道") && flat.contains("湖滨街道"),
            "{text}"
        );
        assert!(flat.contains("本月受理3件"), "{text}");
        assert!(
            flat.contains(&late_code),
            "the overdue list names {late_code}: {text}"
        );
        assert!(flat.contains("第1页/共"), "{text}");
    } else {
        eprintln!("pdftotext not installed: only the structure was checked");
    }

    // The XLSX: the same received count, the townships and the overdue matter.
    let (status, kind, _, xlsx) =
        download(&f, &county, &format!("/api/v1/reports/{id}/xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/vnd.openxmlformats-officedocument.spreadsheetml"));
    let files = pingan_api::xlsx::unzip(&xlsx).unwrap();
    let summary = sheet(&files, 1);
    assert!(
        summary.contains(&format!("受理数</t></is></c><c r=\"B2\"><v>{received}</v>")),
        "{summary}"
    );
    assert!(sheet(&files, 2).contains("清波街道"));
    assert!(sheet(&files, 6).contains(&late_code));

    // Out of scope: another county's leader cannot see it; a grid worker may not list.
    let other = leader(&f, "other-leader", "330203").await;
    let (status, _, _, _) = download(&f, &other, &format!("/api/v1/reports/{id}/pdf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = call(&f.app, Method::GET, "/api/v1/reports", Some(&other), None).await;
    assert!(theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["region_code"] == "330203000000"));
    let (status, body) = call(
        &f.app,
        Method::GET,
        "/api/v1/reports",
        Some(&f.tokens[&Role::GridWorker]),
        None,
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // On request: the current month so far; refusals name what is wrong
    // and write nothing.
    let post = |body: Value| {
        let app = f.app.clone();
        let county = county.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/api/v1/reports",
                Some(&county),
                Some(body),
            )
            .await
        }
    };
    let (status, body) = post(json!({"region": "330102000000", "month": "2026-10"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["origin"], "request");
    assert_eq!(body["id"], report["id"], "made again in place");
    for (req, code, expected) in [
        (
            json!({"region": "330102000000", "month": "2999-01"}),
            "future_month",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "330102001000", "month": "2026-10"}),
            "report_level",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "3301", "month": "2026-10"}),
            "invalid_region",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "330102000000", "month": "10/2026"}),
            "invalid_month",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "330203000000", "month": "2026-10"}),
            "out_of_scope",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (status, body) = post(req.clone()).await;
        assert_error(status, &body, expected, code);
    }
    let after = f
        .store
        .monthly_reports(&everywhere, None, &pingan_storage::Page::first(100))
        .await
        .unwrap();
    assert_eq!(after.len(), 8, "refusals wrote nothing");
}

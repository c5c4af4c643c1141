//! People's mediation on both backends: a case from a wage-arrears matter
//! through a session to an agreement and its PDF (the matter closing with
//! it), refused transitions writing nothing, the 30-day judicial
//! confirmation deadline on a controllable clock, escalation up the
//! committee ladder, and scope.
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use pingan_api::mediation::{self, CaseActionRequest, OpenCaseRequest, PartyRequest};
use pingan_api::scheduler::sweep;
use pingan_domain::calendar::LocalDate;
use pingan_domain::{RegionCode, Role, Scope, UnitKind};
use pingan_storage::{on_both_backends, Account, NewAccount, NewUnit, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

on_both_backends!(
    a_wage_arrears_matter_is_mediated_to_an_agreement,
    judicial_confirmation_deadline_runs_on_the_clock,
    cases_move_up_the_ladder,
    scope_bad_input_and_statistics
);

const DAY: i64 = 24 * 3600 * 1000;

struct Committees {
    village: i64,
    township: i64,
    county: i64,
    /// 湖滨街道's, for the scope checks through its mediator.
    #[allow(dead_code)]
    other: i64,
}

/// Committees of 清波门社区, 清波街道, 上城区 and 湖滨街道, one mediator each
/// (usernames med-village, med-township, med-county, med-other).
async fn committees(f: &Fixture) -> Committees {
    let mut ids = Vec::new();
    for (name, region, user) in [
        ("清波门社区人民调解委员会", "330102001001", "med-village"),
        ("清波街道人民调解委员会", "330102001", "med-township"),
        ("上城区人民调解委员会", "330102", "med-county"),
        ("湖滨街道人民调解委员会", "330102002", "med-other"),
    ] {
        let region = RegionCode::from_short(region).unwrap();
        let c = f
            .store
            .create_committee(
                &Scope::everywhere(),
                &NewUnit {
                    name: name.into(),
                    kind: UnitKind::MediationCommittee,
                    region: region.clone(),
                },
                "general",
            )
            .await
            .unwrap();
        f.store
            .create_account(
                &Scope::everywhere(),
                &NewAccount {
                    username: user.into(),
                    password_hash: pingan_api::auth::hash_password(PASSWORD),
                    role: Role::Mediator,
                    scope: Scope::region(&region),
                    unit_id: Some(c.id),
                    display_name: format!("{user}调解员"),
                    phone: None,
                },
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    Committees {
        village: ids[0],
        township: ids[1],
        county: ids[2],
        other: ids[3],
    }
}

async fn account(f: &Fixture, username: &str) -> Account {
    f.store
        .account_by_username(&Scope::everywhere(), username)
        .await
        .unwrap()
        .unwrap()
}

fn parties() -> Value {
    json!([
        {"side": "applicant", "name": "张三丰", "id_number": "33010219800101123X", "phone": "13812345678", "address": "清波街道1号"},
        {"kind": "organisation", "side": "respondent", "name": "杭州某建筑劳务有限公司", "phone": "0571-88888888"}
    ])
}

fn party_requests() -> Vec<PartyRequest> {
    serde_json::from_value(parties()).unwrap()
}

async fn act(f: &Fixture, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::POST,
        &format!("/api/v1/mediation/cases/{id}/actions"),
        Some(token),
        Some(body),
    )
    .await
}

async fn get_case(f: &Fixture, token: &str, id: i64) -> (StatusCode, Value) {
    call(
        &f.app,
        Method::GET,
        &format!("/api/v1/mediation/cases/{id}"),
        Some(token),
        None,
    )
    .await
}

async fn get_bytes(f: &Fixture, token: &str, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let req = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, kind, bytes)
}

/// A registered wage-arrears matter in grid 330102001001001: (id, version).
async fn registered_wage_matter(f: &Fixture) -> (i64, i64) {
    let (status, m) = call(
        &f.app,
        Method::POST,
        "/api/v1/matters",
        Some(&f.tokens[&Role::GridWorker]),
        Some(json!({"description": "工地拖欠12名工人工资共8万元", "category_code": "0703", "grid_code": "330102001001001"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    let id = m["id"].as_i64().unwrap();
    let (status, m) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{id}/actions"),
        Some(&f.tokens[&Role::CentreOperator]),
        Some(json!({"action": "register", "version": m["version"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    (id, m["version"].as_i64().unwrap())
}

/// Renders the first page with pdftoppm when it is installed (Debian
/// poppler-utils; poppler-data for the CJK CMap; `scripts/test.sh` installs
/// both) and checks it is not blank; the PDF goes to `target/test-output`,
/// a PNG of it to `web/test-output`.
fn render_if_possible(pdf: &[u8], name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let Ok(out) = std::process::Command::new("pdftoppm")
        .args(["-r", "40", "-gray", "-f", "1", "-l", "1"])
        .arg(&path)
        .output()
    else {
        eprintln!("pdftoppm not installed: only the structure was checked");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // PGM: header "P5\nW H\n255\n" then one byte per pixel.
    let data = out.stdout;
    let header_end = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .map(|(i, _)| i + 1)
        .unwrap();
    let dark = data[header_end..].iter().filter(|p| **p < 128).count();
    assert!(
        dark > 500,
        "the rendered page is blank ({dark} dark pixels)"
    );
    // A PNG beside the browser tests' screenshots, for people to look at.
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/test-output");
    if std::fs::create_dir_all(&shots).is_ok() {
        let _ = std::process::Command::new("pdftoppm")
            .args(["-r", "72", "-png", "-singlefile", "-f", "1", "-l", "1"])
            .arg(&path)
            .arg(shots.join(name))
            .status();
    }
}

async fn a_wage_arrears_matter_is_mediated_to_an_agreement(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let c = committees(&f).await;
    let operator = &f.tokens[&Role::CentreOperator];
    let village = login_token(&f, "med-village").await;
    let other = login_token(&f, "med-other").await;
    let med_village = account(&f, "med-village").await;
    let (matter_id, version) = registered_wage_matter(&f).await;

    // The centre refers it to the village committee.
    let open = json!({
        "matter_id": matter_id, "matter_version": version, "committee_id": c.village,
        "case_type": "wage_labour", "facts": "某工地拖欠12名工人2026年1月至3月工资共8万元。",
        "claims": "支付全部欠薪", "risk_level": "high", "risk_reasons": ["人数较多", "临近春节"],
        "parties": parties(), "mediator_ids": [med_village.id]
    });
    let (status, case) = call(
        &f.app,
        Method::POST,
        "/api/v1/mediation/cases",
        Some(operator),
        Some(open.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let id = case["id"].as_i64().unwrap();
    assert_eq!(case["state"], "accepted");
    assert_eq!(case["level"], "village");
    assert_eq!(case["parties"][0]["display_name"], "张**");
    assert_eq!(case["parties"][0]["phone_masked"], "138****5678");
    assert_eq!(case["parties"][1]["display_name"], "杭州某建筑劳务有限公司");
    assert!(
        !case.to_string().contains("张三丰"),
        "no full name in views"
    );
    let (_, m) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{matter_id}"),
        Some(operator),
        None,
    )
    .await;
    assert_eq!(m["state"], "in_mediation");
    assert_eq!(m["case_id"], id);
    // The same matter cannot be referred twice.
    let mut again = open.clone();
    again["matter_version"] = m["version"].clone();
    let (status, body) = call(
        &f.app,
        Method::POST,
        "/api/v1/mediation/cases",
        Some(operator),
        Some(again),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "action_not_allowed_in_state",
    );

    // Refused transitions write nothing.
    let (status, body) = act(
        &f,
        &village,
        id,
        json!({"action": "record_agreement", "version": 1,
        "agreement": {"form": "written", "terms": [{"text": "支付"}]}}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "case_action_not_allowed_in_state",
    );
    let (status, body) = act(&f, &f.tokens[&Role::Leader], id, json!({"action": "schedule_session", "version": 1,
        "session": {"scheduled_at": pingan_storage::now_ms() + DAY, "mode": "in_person", "place": "村委会"}})).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "case_action_not_allowed_for_actor",
    );
    let (status, body) = act(
        &f,
        &village,
        id,
        json!({"action": "schedule_session", "version": 1,
        "session": {"scheduled_at": pingan_storage::now_ms() + DAY, "mode": "video"}}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_meeting_link");
    let (status, body) = act(&f, &village, id, json!({"action": "fly", "version": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, case) = get_case(&f, &village, id).await;
    assert_eq!(case["version"], 1);
    assert_eq!(
        case["actions_allowed"],
        json!([
            "assign",
            "update",
            "schedule_session",
            "escalate",
            "withdraw"
        ])
    );

    // A video session, held, then a written agreement.
    let (status, case) = act(
        &f,
        &village,
        id,
        json!({"action": "schedule_session", "version": 1,
        "session": {"scheduled_at": pingan_storage::now_ms() + 3_600_000, "mode": "video",
                    "meeting_link": "https://meeting.example.cn/j/123"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["state"], "mediating");
    let (status, case) = act(
        &f,
        &village,
        id,
        json!({"action": "record_session", "version": 2, "session_id": 1,
        "attendees": ["张三丰", "公司代表李四", "调解员"], "minutes": "双方同意分期支付欠薪。"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["sessions"][0]["status"], "held");
    let (status, case) = act(
        &f,
        &village,
        id,
        json!({"action": "record_agreement", "version": 3,
        "agreement": {"form": "written", "terms": [
            {"text": "被申请人于2026年4月30日前支付欠薪4万元", "deadline": "2026-04-30"},
            {"text": "被申请人于2026年5月31日前支付其余欠薪4万元", "deadline": "2026-05-31"}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["state"], "agreed");
    assert_eq!(case["outcome"], "agreement");
    let effective: LocalDate = case["agreement"]["effective_date"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        case["confirmation"]["deadline"],
        effective.add_days(30).to_string()
    );

    // The matter closed with it; both logs name each other.
    let (_, m) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/matters/{matter_id}"),
        Some(operator),
        None,
    )
    .await;
    assert_eq!(m["state"], "closed");
    let mlog = f
        .store
        .log_for(&format!("matter:{matter_id}"))
        .await
        .unwrap();
    let refer = mlog
        .iter()
        .find(|e| e.action == "refer_to_mediation")
        .unwrap();
    assert!(
        refer.body.contains(&format!("\"case_id\":{id}")),
        "{}",
        refer.body
    );
    let ended = mlog.last().unwrap();
    assert_eq!(ended.action, "mediation_ended");
    assert!(ended.body.contains(&format!("\"case_id\":{id}")));
    let (_, log) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/mediation/cases/{id}/log"),
        Some(&village),
        None,
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "open",
            "schedule_session",
            "record_session",
            "record_agreement"
        ]
    );
    assert!(log[0]["body"]
        .as_str()
        .unwrap()
        .contains(&format!("\"matter_id\":{matter_id}")));
    assert!(
        !log.to_string().contains("张三丰"),
        "the log holds no personal data"
    );

    // Another committee's mediator sees nothing of it.
    for uri in [
        format!("/api/v1/mediation/cases/{id}"),
        format!("/api/v1/mediation/cases/{id}/parties"),
        format!("/api/v1/mediation/cases/{id}/log"),
        format!("/api/v1/mediation/cases/{id}/agreement.pdf"),
    ] {
        let (status, body) = call(&f.app, Method::GET, &uri, Some(&other), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }

    // Parties in clear and the PDF: audited reads.
    let (status, ps) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/mediation/cases/{id}/parties"),
        Some(&village),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ps}");
    assert_eq!(ps[0]["name"], "张三丰");
    assert_eq!(ps[0]["id_number"], "33010219800101123X");
    let (status, kind, pdf) = get_bytes(
        &f,
        &village,
        &format!("/api/v1/mediation/cases/{id}/agreement.pdf"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/pdf");
    pingan_api::pdf::check_structure(&pdf).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    for s in [
        "人民调解协议书",
        "张三丰",
        "清波门社区人民调解委员会",
        "2026-04-30",
    ] {
        assert!(
            text.contains(&pingan_api::pdf::hex_of(s)),
            "{s} is not in the PDF"
        );
    }
    render_if_possible(&pdf, &format!("agreement-{}", f.store.backend()));
    let audits = f.store.audit_log(&format!("case:{id}")).await.unwrap();
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(audits.iter().all(|a| a.action == "reveal_personal_data"));
    // A centre operator of township A supervises it; one of township B does not see it.
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/mediation/cases/{id}/parties"),
        Some(operator),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other_op = login_token(&f, "other-operator").await;
    let (status, _) = get_case(&f, &other_op, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Follow-up and archiving.
    let (status, case) = act(
        &f,
        &village,
        id,
        json!({"action": "follow_up", "version": 4, "note": "第一期已支付", "performed": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["follow_ups"][0]["performed"], true);
    assert!(f.store.verify_log().await.unwrap().unwrap() > 0);
}

fn walk_in(committee: i64) -> OpenCaseRequest {
    OpenCaseRequest {
        matter_id: None,
        matter_version: None,
        committee_id: committee,
        case_type: "neighbourhood".into(),
        title: None,
        facts: "邻居装修噪音扰民。".into(),
        claims: None,
        risk_level: None,
        risk_reasons: vec![],
        parties: party_requests(),
        mediator_ids: vec![],
        deadline_days: None,
        place_code: None,
        idempotency_key: None,
        note: None,
    }
}

fn action(name: &str, version: i64) -> CaseActionRequest {
    CaseActionRequest {
        action: name.into(),
        version,
        ..CaseActionRequest::default()
    }
}

/// Opens a walk-in case at `t0` and brings it to a written agreement.
async fn agreed_case(
    f: &Fixture,
    mediator: &Account,
    committee: i64,
    t0: i64,
) -> pingan_storage::Case {
    let (case, _) = mediation::open_case(&f.state, mediator, walk_in(committee), t0)
        .await
        .unwrap();
    let mut req = action("schedule_session", case.version);
    req.session = serde_json::from_value(
        json!({"scheduled_at": t0 + 3_600_000, "mode": "in_person", "place": "社区调解室"}),
    )
    .unwrap();
    let case = mediation::perform(&f.state, mediator, case.id, req, t0)
        .await
        .unwrap();
    let mut req = action("record_session", case.version);
    req.session_id = Some(1);
    req.attendees = Some(vec!["甲".into(), "乙".into()]);
    req.minutes = Some("达成一致".into());
    let case = mediation::perform(&f.state, mediator, case.id, req, t0 + 2 * 3_600_000)
        .await
        .unwrap();
    let mut req = action("record_agreement", case.version);
    req.agreement =
        serde_json::from_value(json!({"form": "written", "terms": [{"text": "晚十点后停止施工"}]}))
            .unwrap();
    mediation::perform(&f.state, mediator, case.id, req, t0 + 3 * 3_600_000)
        .await
        .unwrap()
}

async fn judicial_confirmation_deadline_runs_on_the_clock(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let c = committees(&f).await;
    let mediator = account(&f, "med-village").await;
    // 2026-03-02 09:00 in Shanghai.
    let t0 = LocalDate::new(2026, 3, 2).unwrap().start_utc_ms() + 9 * 3_600_000;
    let case = agreed_case(&f, &mediator, c.village, t0).await;
    let confirmation: Value = serde_json::from_str(case.confirmation.as_deref().unwrap()).unwrap();
    assert_eq!(
        confirmation["deadline"], "2026-04-01",
        "30 calendar days after 2026-03-02"
    );
    let last = LocalDate::new(2026, 4, 1).unwrap();
    let morning = |d: LocalDate| d.start_utc_ms() + 8 * 3_600_000;

    // Nothing until 7 days before, then once, then on the last day, once.
    assert_eq!(
        sweep(&f.state, morning(last.add_days(-7)) - 1)
            .await
            .unwrap()
            .case_reminders,
        0
    );
    assert_eq!(
        sweep(&f.state, morning(last.add_days(-7)))
            .await
            .unwrap()
            .case_reminders,
        1
    );
    assert_eq!(
        sweep(&f.state, morning(last.add_days(-7)) + 1)
            .await
            .unwrap()
            .case_reminders,
        0
    );
    assert_eq!(
        sweep(&f.state, morning(last)).await.unwrap().case_reminders,
        1
    );
    assert_eq!(
        sweep(&f.state, morning(last) + 30 * DAY)
            .await
            .unwrap()
            .case_reminders,
        0
    );
    let log = f.store.log_for(&format!("case:{}", case.id)).await.unwrap();
    let reminders: Vec<&str> = log
        .iter()
        .filter(|e| e.action == "remind")
        .map(|e| e.body.as_str())
        .collect();
    assert_eq!(reminders.len(), 2);
    assert!(reminders[0].contains("confirmation:7d") && reminders[1].contains("confirmation:0d"));
    assert!(log
        .iter()
        .filter(|e| e.action == "remind")
        .all(|e| e.actor_role == "system"));
    // The mediator is told.
    pingan_api::notify::notify_sweep(&f.state, morning(last))
        .await
        .unwrap();
    let token = login_token(&f, "med-village").await;
    let (_, feed) = call(
        &f.app,
        Method::GET,
        "/api/v1/notifications",
        Some(&token),
        None,
    )
    .await;
    let titles = feed.to_string();
    assert!(titles.contains("今天是申请司法确认的最后一天"), "{feed}");

    // Too late the day after.
    let case = f
        .store
        .case(&pingan_storage::CaseReach::All, case.id)
        .await
        .unwrap()
        .unwrap();
    let mut req = action("apply_confirmation", case.version);
    req.court = Some("杭州市上城区人民法院".into());
    let err = mediation::perform(&f.state, &mediator, case.id, req, morning(last.add_days(1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "confirmation_deadline_passed");
    // On the last day it is in time; the court confirms.
    let mut req = action("apply_confirmation", case.version);
    req.court = Some("杭州市上城区人民法院".into());
    let case = mediation::perform(&f.state, &mediator, case.id, req, morning(last) + 3_600_000)
        .await
        .unwrap();
    assert_eq!(case.state, "confirming");
    let req = action("confirmation_granted", case.version);
    let case = mediation::perform(&f.state, &mediator, case.id, req, morning(last) + 5 * DAY)
        .await
        .unwrap();
    assert_eq!(case.state, "confirmed");
    let confirmation: Value = serde_json::from_str(case.confirmation.as_deref().unwrap()).unwrap();
    assert_eq!(confirmation["court"], "杭州市上城区人民法院");
    assert_eq!(confirmation["result"], "granted");
    assert_eq!(confirmation["applied_on"], "2026-04-01");
    // An oral agreement has no confirmation.
    let (oral, _) = mediation::open_case(&f.state, &mediator, walk_in(c.village), t0)
        .await
        .unwrap();
    let mut req = action("schedule_session", oral.version);
    req.session = serde_json::from_value(
        json!({"scheduled_at": t0 + 3 * DAY, "mode": "in_person", "place": "调解室"}),
    )
    .unwrap();
    let oral = mediation::perform(&f.state, &mediator, oral.id, req, t0)
        .await
        .unwrap();
    // The session reminder comes a day ahead.
    assert_eq!(
        sweep(&f.state, t0 + 2 * DAY).await.unwrap().case_reminders,
        1
    );
    let oral = f
        .store
        .case(&pingan_storage::CaseReach::All, oral.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(oral.reminders_sent, "[\"session:1\"]");
}

async fn cases_move_up_the_ladder(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let c = committees(&f).await;
    let village = login_token(&f, "med-village").await;
    let township = login_token(&f, "med-township").await;
    let county = login_token(&f, "med-county").await;
    let med_township = account(&f, "med-township").await;

    let (status, case) = call(&f.app, Method::POST, "/api/v1/mediation/cases", Some(&village), Some(json!({
        "committee_id": c.village, "case_type": "land", "facts": "承包地边界争议", "parties": parties()}))).await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let id = case["id"].as_i64().unwrap();
    assert_eq!(
        case["mediators"][0]["display_name"], "med-village调解员",
        "the opener is assigned"
    );
    // The township committee sees the cases of the villages below it.
    let (status, _) = get_case(&f, &township, id).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = act(
        &f,
        &village,
        id,
        json!({"action": "escalate", "version": 1}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "text_required");
    let (status, body) = act(
        &f,
        &village,
        id,
        json!({"action": "escalate", "version": 1, "note": "x", "committee_id": c.county}),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_escalation_target",
    );
    let (status, case) = act(
        &f,
        &village,
        id,
        json!({"action": "escalate", "version": 1, "note": "涉及两个村，村级无法化解"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["committee"]["id"], c.township);
    assert_eq!(case["level"], "township");
    assert_eq!(case["mediators"], json!([]));
    // The village has let go of it.
    let (status, _) = get_case(&f, &village, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, case) = act(
        &f,
        &township,
        id,
        json!({"action": "assign", "version": 2, "mediator_ids": [med_township.id]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    let (status, case) = act(
        &f,
        &township,
        id,
        json!({"action": "escalate", "version": 3, "note": "重大疑难"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["level"], "county");
    let (status, body) = act(
        &f,
        &county,
        id,
        json!({"action": "escalate", "version": 4, "note": "再上"}),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "no_committee_above");
    let log = f.store.log_for(&format!("case:{id}")).await.unwrap();
    let steps: Vec<Value> = log
        .iter()
        .filter(|e| e.action == "escalate")
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["holder_before"], "330102001001");
    assert_eq!(steps[0]["holder"], "330102001");
    assert_eq!(steps[1]["holder"], "330102");
    // The township leader still sees it (its place is theirs) but no longer
    // supervises the county committee: no clear parties.
    let leader = &f.tokens[&Role::Leader];
    let (status, case) = get_case(&f, leader, id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(case["may_reveal_parties"], false);
    let (status, _) = call(
        &f.app,
        Method::GET,
        &format!("/api/v1/mediation/cases/{id}/parties"),
        Some(leader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A matter waiting in mediation is not escalated on its own deadline.
    let (matter_id, version) = registered_wage_matter(&f).await;
    let (status, _) = call(
        &f.app,
        Method::POST,
        "/api/v1/mediation/cases",
        Some(&f.tokens[&Role::CentreOperator]),
        Some(json!({
        "matter_id": matter_id, "matter_version": version, "committee_id": c.township,
        "case_type": "wage_labour", "facts": "欠薪", "parties": parties()})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    sweep(&f.state, pingan_storage::now_ms() + 60 * DAY)
        .await
        .unwrap();
    let m = f
        .store
        .matter(&Scope::everywhere(), matter_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.state.as_str(), m.holder.as_str(), m.next_due),
        ("in_mediation", "330102001", None)
    );
    assert!(!f
        .store
        .log_for(&format!("matter:{matter_id}"))
        .await
        .unwrap()
        .iter()
        .any(|e| e.action == "escalate"));
}

async fn scope_bad_input_and_statistics(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let c = committees(&f).await;
    let village = login_token(&f, "med-village").await;
    let other = login_token(&f, "med-other").await;
    let operator = &f.tokens[&Role::CentreOperator];

    // Bad input: 4xx with stable codes, nothing written.
    let base = json!({"committee_id": c.village, "case_type": "neighbourhood", "facts": "噪音", "parties": parties()});
    let mut one_party = base.clone();
    one_party["parties"] = json!([parties()[0]]);
    let mut bad_type = base.clone();
    bad_type["case_type"] = json!("brawl");
    let mut bad_phone = base.clone();
    bad_phone["parties"][0]["phone"] = json!("call me");
    let mut far = base.clone();
    far["place_code"] = json!("330102002001");
    for (body, code) in [
        (one_party, "parties_required"),
        (bad_type, "unknown_value"),
        (bad_phone, "bad_phone"),
        (far, "committee_out_of_reach"),
    ] {
        let (status, answer) = call(
            &f.app,
            Method::POST,
            "/api/v1/mediation/cases",
            Some(&village),
            Some(body),
        )
        .await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, code);
    }
    // Another committee's mediator may not open a case for this one.
    let (status, answer) = call(
        &f.app,
        Method::POST,
        "/api/v1/mediation/cases",
        Some(&other),
        Some(base.clone()),
    )
    .await;
    assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
    // A matter that is no dispute is not mediated.
    let road = file_road_report(&f, "路面坑洞").await;
    let rid = road["id"].as_i64().unwrap();
    let (_, road) = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/matters/{rid}/actions"),
        Some(operator),
        Some(json!({"action": "register", "version": road["version"]})),
    )
    .await;
    let (status, answer) = call(
        &f.app,
        Method::POST,
        "/api/v1/mediation/cases",
        Some(operator),
        Some(json!({
        "matter_id": rid, "matter_version": road["version"], "committee_id": c.village,
        "case_type": "other", "facts": "x", "parties": parties()})),
    )
    .await;
    assert_error(status, &answer, StatusCode::BAD_REQUEST, "not_a_dispute");
    let (_, list) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/cases",
        Some(operator),
        None,
    )
    .await;
    assert_eq!(list["items"], json!([]), "nothing was written");

    // Three cases: one agreed, one failed, one open.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut body = base.clone();
        body["idempotency_key"] = json!(format!("case-key-{}", ids.len()));
        let (status, case) = call(
            &f.app,
            Method::POST,
            "/api/v1/mediation/cases",
            Some(&village),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        // Resending is safe.
        let (status, again) = call(
            &f.app,
            Method::POST,
            "/api/v1/mediation/cases",
            Some(&village),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["id"], case["id"]);
        ids.push(case["id"].as_i64().unwrap());
    }
    let now = pingan_storage::now_ms();
    for (i, id) in ids.iter().enumerate().take(2) {
        let (s, _) = act(
            &f,
            &village,
            *id,
            json!({"action": "schedule_session", "version": 1,
            "session": {"scheduled_at": now + DAY, "mode": "in_person", "place": "调解室"}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = act(
            &f,
            &village,
            *id,
            json!({"action": "record_session", "version": 2, "session_id": 1,
            "attendees": ["甲"], "minutes": "记录"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let end = if i == 0 {
            json!({"action": "record_agreement", "version": 3, "agreement": {"form": "oral", "terms": [{"text": "赔礼道歉"}]}})
        } else {
            json!({"action": "record_failure", "version": 3, "note": "分歧过大", "referral": {"to": "court", "body": "上城区人民法院"}})
        };
        let (s, body) = act(&f, &village, *id, end).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // The other committee's mediator: an empty list and 404 everywhere.
    let (_, list) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/cases",
        Some(&other),
        None,
    )
    .await;
    assert_eq!(list["items"], json!([]));
    let (status, body) = act(
        &f,
        &other,
        ids[2],
        json!({"action": "withdraw", "version": 1, "note": "x"}),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // Roles without cases get 403 on lists.
    let (status, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/cases",
        Some(&f.tokens[&Role::GridWorker]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, list) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/cases?state=agreed,failed",
        Some(operator),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let (status, stats) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/stats?under=330102001",
        Some(&f.tokens[&Role::Leader]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["opened"], 3);
    assert_eq!(stats["ended"], 2);
    assert_eq!(stats["agreements"], 1);
    assert_eq!(stats["success_rate"], 0.5);
    assert_eq!(stats["township_or_below_share"], 1.0);
    assert_eq!(stats["by_level"][0]["key"], "village");
    let (status, _) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/stats?under=330203",
        Some(&f.tokens[&Role::Leader]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, committees) = call(
        &f.app,
        Method::GET,
        "/api/v1/mediation/committees",
        Some(&village),
        None,
    )
    .await;
    let names: Vec<&str> = committees
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"清波门社区人民调解委员会") && names.contains(&"上城区人民调解委员会"),
        "{names:?}"
    );
    assert!(!names.contains(&"湖滨街道人民调解委员会"));
}

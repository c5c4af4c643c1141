//! One storage test suite, run on both SQLite and PostgreSQL.
use std::sync::Arc;

use pingan_domain::{Level, RegionCode, Role, Scope, UnitKind};
use pingan_storage::on_both_backends;
use pingan_storage::*;

on_both_backends!(
    divisions_import_is_idempotent_and_retires_vanished_codes,
    region_reads_respect_scope,
    grids_import_replace_and_scope,
    accounts_units_and_scope,
    personal_data_is_encrypted_masked_and_audited,
    sessions_expire_and_revoke,
);

use pingan_storage::testing::{sample_divisions as small_tree, test_region as region};

async fn seeded(store: &Arc<dyn Store>) {
    store
        .import_divisions(&small_tree(), &|_| {})
        .await
        .unwrap();
}

async fn divisions_import_is_idempotent_and_retires_vanished_codes(store: Arc<dyn Store>) {
    let first = store
        .import_divisions(&small_tree(), &|_| {})
        .await
        .unwrap();
    assert_eq!(first.added, 12);
    let again = store
        .import_divisions(&small_tree(), &|_| {})
        .await
        .unwrap();
    assert_eq!(
        again,
        DivisionImportSummary {
            unchanged: 12,
            ..Default::default()
        }
    );
    // A rename, an addition and a vanished village.
    let mut next: Vec<NewRegion> = small_tree()
        .into_iter()
        .filter(|r| r.code.as_str() != "330102001002000")
        .filter(|r| r.code.prefix() != "330102001002")
        .collect();
    next[4].name = "清波门新社区".into();
    next.push(region("330102001003", "柳翠井巷社区"));
    let summary = store.import_divisions(&next, &|_| {}).await.unwrap();
    assert_eq!(summary.added, 1);
    assert_eq!(summary.renamed, 1);
    assert_eq!(summary.deactivated, 1);
    let gone = store
        .region(&Scope::everywhere(), "330102001002")
        .await
        .unwrap()
        .expect("vanished codes are kept");
    assert!(!gone.active);
    let renamed = store
        .region(&Scope::everywhere(), "330102001001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "清波门新社区");
    // Importing one province's files does not retire another province.
    let only_33: Vec<NewRegion> = next.into_iter().collect();
    store.import_divisions(&only_33, &|_| {}).await.unwrap();
    let other = vec![region("11", "北京市")];
    let s = store.import_divisions(&other, &|_| {}).await.unwrap();
    assert_eq!((s.added, s.deactivated), (1, 0));
    // Coming back re-activates.
    let s = store
        .import_divisions(&small_tree(), &|_| {})
        .await
        .unwrap();
    assert_eq!(s.reactivated, 1);
    assert_eq!(s.deactivated, 1, "330102001003 vanished this time");
}

async fn region_reads_respect_scope(store: Arc<dyn Store>) {
    seeded(&store).await;
    let township = Scope::parse("330102001").unwrap();
    // Own subtree and ancestors are visible, siblings are not.
    assert!(store
        .region(&township, "330102001001")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .region(&township, "330100000000")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .region(&township, "330102002000")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .region(&township, "330203001001")
        .await
        .unwrap()
        .is_none());
    // Children of an ancestor show only the path to the scope.
    let kids = store
        .region_children(&township, "330102000000", &Page::first(50))
        .await
        .unwrap();
    assert_eq!(
        kids.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        ["330102001000"]
    );
    let all = store
        .region_children(&Scope::everywhere(), "330102000000", &Page::first(50))
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].level, Level::Township);
    // Pagination by code.
    let page1 = store
        .region_children(&Scope::everywhere(), "330102001000", &Page::first(1))
        .await
        .unwrap();
    let page2 = store
        .region_children(
            &Scope::everywhere(),
            "330102001000",
            &Page {
                after: Some(page1[0].code.clone()),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(page1[0].code, "330102001001");
    assert_eq!(page2[0].code, "330102001002");
    let unknown = store
        .unknown_villages(&[
            "330102001001".into(),
            "330102001009".into(),
            "330102001000".into(),
        ])
        .await
        .unwrap();
    assert_eq!(unknown, ["330102001000", "330102001009"]);
}

fn grid(code: &str, x: f64) -> NewGrid {
    NewGrid {
        code: code.into(),
        name: format!("网格{code}"),
        geometry: vec![1, 2, 3],
        bbox: [x, 30.0, x + 0.01, 30.01],
    }
}

async fn grids_import_replace_and_scope(store: Arc<dyn Store>) {
    seeded(&store).await;
    let s = store
        .import_grids(
            &[
                grid("330102001001001", 120.0),
                grid("330102001001002", 120.01),
                grid("330203001001001", 121.5),
            ],
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!((s.added, s.replaced), (3, 0));
    let mut again = grid("330102001001001", 120.0);
    again.name = "改名".into();
    let s = store.import_grids(&[again], &|_| {}).await.unwrap();
    assert_eq!((s.added, s.replaced), (0, 1));
    assert_eq!(store.grid_geometries().await.unwrap().len(), 3);
    let township = Scope::parse("330102001").unwrap();
    let mine = store
        .grids(&township, "33", &Page::first(10))
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].name, "改名");
    assert!(store
        .grids(&township, "3302", &Page::first(10))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .grid(&township, "330203001001001")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .grid(&township, "330102001001002")
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.export_grids(&township).await.unwrap().len(), 2);
    // A grid of an unknown village is refused, and the batch with it.
    let bad = store
        .import_grids(
            &[
                grid("330102001001003", 120.0),
                grid("330102009001001", 120.0),
            ],
            &|_| {},
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    assert!(store
        .grid(&Scope::everywhere(), "330102001001003")
        .await
        .unwrap()
        .is_none());
}

fn new_account(username: &str, role: Role, scope: &str, phone: Option<&str>) -> NewAccount {
    NewAccount {
        username: username.into(),
        password_hash: "not-a-real-hash".into(),
        role,
        scope: Scope::parse(scope).unwrap(),
        unit_id: None,
        display_name: "测试".into(),
        phone: phone.map(str::to_string),
    }
}

async fn accounts_units_and_scope(store: Arc<dyn Store>) {
    seeded(&store).await;
    let county = Scope::parse("330102").unwrap();
    let township = Scope::parse("330102001").unwrap();
    let unit = store
        .create_unit(
            &county,
            &NewUnit {
                name: "清波街道综治中心".into(),
                kind: UnitKind::CommandCentre,
                region: RegionCode::from_short("330102001").unwrap(),
            },
        )
        .await
        .unwrap();
    let err = store
        .create_unit(
            &township,
            &NewUnit {
                name: "海曙区综治中心".into(),
                kind: UnitKind::CommandCentre,
                region: RegionCode::from_short("330203").unwrap(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope(_)));
    assert!(store.unit(&township, unit.id).await.unwrap().is_some());
    assert!(store
        .unit(&Scope::parse("330102002").unwrap(), unit.id)
        .await
        .unwrap()
        .is_none());

    let mut op = new_account("op1", Role::CentreOperator, "330102001", None);
    op.unit_id = Some(unit.id);
    let op = store.create_account(&county, &op).await.unwrap();
    assert_eq!(op.scope, township);
    let dup = store
        .create_account(
            &county,
            &new_account("op1", Role::CentreOperator, "330102001", None),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let outside = store
        .create_account(
            &township,
            &new_account("op2", Role::CentreOperator, "330102", None),
        )
        .await;
    assert!(matches!(outside, Err(StoreError::OutOfScope(_))));
    store
        .create_account(
            &county,
            &new_account("w1", Role::GridWorker, "330102002001001", None),
        )
        .await
        .unwrap();
    let seen: Vec<String> = store
        .accounts(&township, &Page::first(10))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(seen, ["op1"]);
    assert_eq!(
        store
            .accounts(&county, &Page::first(10))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .account_by_username(&Scope::parse("3302").unwrap(), "op1")
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .set_account_disabled(&Scope::parse("3302").unwrap(), op.id, true)
        .await
        .unwrap());
    assert!(store
        .set_account_disabled(&county, op.id, true)
        .await
        .unwrap());
    assert!(
        store
            .credentials("op1")
            .await
            .unwrap()
            .unwrap()
            .account
            .disabled
    );
}

async fn personal_data_is_encrypted_masked_and_audited(store: Arc<dyn Store>) {
    seeded(&store).await;
    let county = Scope::parse("330102").unwrap();
    let a = store
        .create_account(
            &county,
            &new_account(
                "w2",
                Role::GridWorker,
                "330102001001001",
                Some("13812341234"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(a.phone_masked.as_deref(), Some("138****1234"));
    let found = store
        .accounts_by_phone(&county, "138 1234 1234")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(store
        .accounts_by_phone(&Scope::parse("3302").unwrap(), "13812341234")
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .reveal_phone(&Scope::parse("3302").unwrap(), 99, a.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .audit_log(&format!("account:{}", a.id))
        .await
        .unwrap()
        .is_empty());
    let phone = store.reveal_phone(&county, 7, a.id).await.unwrap();
    assert_eq!(phone.as_deref(), Some("13812341234"));
    let log = store.audit_log(&format!("account:{}", a.id)).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].account_id, Some(7));
    assert_eq!(log[0].action, "reveal_personal_data");
    // Already under the current key: nothing to re-encrypt.
    assert_eq!(store.reencrypt_personal_data().await.unwrap(), 0);
}

async fn sessions_expire_and_revoke(store: Arc<dyn Store>) {
    seeded(&store).await;
    let a = store
        .create_account(
            &Scope::everywhere(),
            &new_account("admin", Role::Admin, "*", None),
        )
        .await
        .unwrap();
    let now = now_ms();
    store
        .create_session(b"live-token", a.id, now + 60_000)
        .await
        .unwrap();
    store
        .create_session(b"old-token", a.id, now - 1)
        .await
        .unwrap();
    assert_eq!(
        store
            .session_account(b"live-token", now)
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    assert!(store
        .session_account(b"old-token", now)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .session_account(b"unknown", now)
        .await
        .unwrap()
        .is_none());
    store.revoke_session(b"live-token").await.unwrap();
    assert!(store
        .session_account(b"live-token", now)
        .await
        .unwrap()
        .is_none());
    store
        .create_session(b"second", a.id, now + 60_000)
        .await
        .unwrap();
    store
        .set_account_disabled(&Scope::everywhere(), a.id, true)
        .await
        .unwrap();
    assert!(store
        .session_account(b"second", now)
        .await
        .unwrap()
        .is_none());
}

/// The SQLite file never holds a phone number in plain text, and the same
/// file can be reopened with a rotated key set.
#[tokio::test]
async fn sqlite_file_holds_no_plain_phone_and_keys_rotate() {
    let dir = std::env::temp_dir().join(format!("pingan-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.sqlite");
    let _ = std::fs::remove_file(&path);
    let text = PersonalDataKeys::generate_text();
    let store = SqliteStore::open(&path, PersonalDataKeys::parse(&text).unwrap())
        .await
        .unwrap();
    store
        .import_divisions(&small_tree(), &|_| {})
        .await
        .unwrap();
    let a = store
        .create_account(
            &Scope::everywhere(),
            &new_account(
                "w3",
                Role::GridWorker,
                "330102001001001",
                Some("13912345678"),
            ),
        )
        .await
        .unwrap();
    store.close().await;
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("p.sqlite-wal")) {
        bytes.extend(wal);
    }
    assert!(!bytes.windows(11).any(|w| w == b"13912345678"));
    assert!(
        !bytes.windows(4).any(|w| w == b"5678") || bytes.windows(11).any(|w| w == b"139****5678")
    );

    let rotated = PersonalDataKeys::rotated_text(&text).unwrap();
    let store = SqliteStore::open(&path, PersonalDataKeys::parse(&rotated).unwrap())
        .await
        .unwrap();
    assert_eq!(store.reencrypt_personal_data().await.unwrap(), 1);
    store.close().await;
    // After re-encryption the old key alone no longer opens the value.
    let store = SqliteStore::open(&path, PersonalDataKeys::parse(&text).unwrap())
        .await
        .unwrap();
    let err = store.reveal_phone(&Scope::everywhere(), 1, a.id).await;
    assert!(
        matches!(err, Err(StoreError::Keys(KeyError::UnknownKey(2)))),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

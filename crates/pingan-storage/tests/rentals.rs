//! Rental storage on both backends, and the purge of tenants' personal data
//! down to the bytes of the SQLite file.
use std::sync::Arc;

use pingan_domain::{Role, Scope};
use pingan_storage::on_both_backends;
use pingan_storage::rental::*;
use pingan_storage::testing::{sample_divisions, test_keys};
use pingan_storage::*;

on_both_backends!(tenancies_fill_empty_and_purge);

const NAME: &str = "欧阳清漪";
const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13977778888";

fn log(action: &str, at: i64) -> NewLogEntry {
    NewLogEntry {
        subject: String::new(),
        actor_id: None,
        actor_role: "system".into(),
        unit_id: None,
        action: action.into(),
        from_state: None,
        to_state: None,
        body: "{}".into(),
        at,
    }
}

/// A landlord with one property and a vacant unit for `limit` tenants.
async fn vacant_unit(store: &Arc<dyn Store>, limit: i64) -> RentalUnit {
    store
        .import_divisions(&sample_divisions(), &|_| {})
        .await
        .unwrap();
    store
        .import_grids(
            &[NewGrid {
                code: "330102001001001".into(),
                name: "网格001".into(),
                geometry: vec![1, 2, 3],
                bbox: [120.0, 30.0, 120.01, 30.01],
            }],
            &|_| {},
        )
        .await
        .unwrap();
    let landlord = store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: "landlord".into(),
                password_hash: "x".into(),
                role: Role::Landlord,
                scope: Scope::parse("330102001001").unwrap(),
                unit_id: None,
                display_name: "房东".into(),
                phone: None,
            },
        )
        .await
        .unwrap();
    let p = store
        .create_property(
            &NewProperty {
                grid_code: "330102001001001".into(),
                landlord_id: landlord.id,
                name: "清波街 12 号".into(),
                address: "清波街 12 号".into(),
                lng: 120.005,
                lat: 30.005,
                contact: Some("13800001111".into()),
                created_by: landlord.id,
            },
            &log("create", 1),
        )
        .await
        .unwrap();
    assert_eq!(p.contact_masked.as_deref(), Some("138****1111"));
    store
        .create_rental_unit(
            &NewRentalUnit {
                property_id: p.id,
                label: "301".into(),
                area_m2: 5.0 * limit as f64,
                rent_yuan: 1200,
                street_facing: true,
                floor: 3,
                facilities: vec!["空调".into()],
                occupancy_limit: limit,
                state: "vacant".into(),
                at: 1,
            },
            &log("create", 1),
        )
        .await
        .unwrap()
}

fn tenant(id_number: &str) -> NewTenant {
    NewTenant {
        name: NAME.into(),
        doc_type: "resident_id".into(),
        id_number: id_number.into(),
        phone: PHONE.into(),
    }
}

fn check_in(unit: &RentalUnit, tenants: Vec<NewTenant>, lease_end: i64) -> CheckIn {
    CheckIn {
        unit_id: unit.id,
        unit_version: unit.version,
        tenants,
        lease_start: 10,
        lease_end,
        registered_by: unit.landlord_id,
        log: log("check_in", 10),
        unit_change: Some((
            UnitChange {
                state: "let".into(),
                ..UnitChange::default()
            },
            log("check_in", 10),
        )),
    }
}

async fn tenancies_fill_empty_and_purge(store: Arc<dyn Store>) {
    let unit = vacant_unit(&store, 1).await;
    // Two tenants for a place for one: refused whole.
    let err = store
        .check_in(&check_in(
            &unit,
            vec![tenant(ID_NUMBER), tenant("110105194912310021")],
            1000,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("occupancy limit")),
        "{err}"
    );
    let reach = RentalReach::everywhere();
    assert!(store
        .tenancies(&reach, unit.id, false)
        .await
        .unwrap()
        .is_empty());
    let made = store
        .check_in(&check_in(&unit, vec![tenant(ID_NUMBER)], 1000))
        .await
        .unwrap();
    assert_eq!(made[0].name_masked.as_deref(), Some("欧***"));
    assert_eq!(made[0].id_masked.as_deref(), Some("**************002X"));
    let unit = store.rental_unit(&reach, unit.id).await.unwrap().unwrap();
    assert_eq!((unit.state.as_str(), unit.tenants_now), ("let", 1));
    // A stale version is refused.
    let stale = CheckIn {
        unit_version: unit.version - 1,
        ..check_in(&unit, vec![tenant("110105194912310021")], 1000)
    };
    assert!(matches!(
        store.check_in(&stale).await,
        Err(StoreError::Conflict(_))
    ));

    // Exact match by document number, audited without the number.
    let found = store
        .tenancies_by_document(&reach, unit.landlord_id, "11010519491231002x", 20)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let audit = store.audit_log("tenancies").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert!(!audit[0].detail.contains("002X"), "{}", audit[0].detail);
    let elsewhere = RentalReach {
        scope: Scope::parse("330102002").unwrap(),
        landlord_id: None,
    };
    assert!(store
        .tenancies_by_document(&elsewhere, unit.landlord_id, ID_NUMBER, 20)
        .await
        .unwrap()
        .is_empty());

    // The lease ends: checked out, the unit empties.
    assert!(store.due_check_outs(999, 10).await.unwrap().is_empty());
    let due = store.due_check_outs(1000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let ended = store
        .end_tenancy(due[0].id, "lease_end", &log("check_out", 1000))
        .await
        .unwrap();
    assert_eq!(ended.state, "ended");
    assert!(matches!(
        store
            .end_tenancy(due[0].id, "lease_end", &log("check_out", 1000))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let unit = store.rental_unit(&reach, unit.id).await.unwrap().unwrap();
    assert_eq!((unit.state.as_str(), unit.tenants_now), ("vacant", 0));

    // Purged after retention: the row stays for the counts, anonymous.
    assert_eq!(
        store
            .purge_tenancies(1000, 10, &log("purge", 5000))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_tenancies(1001, 10, &log("purge", 5000))
            .await
            .unwrap(),
        1
    );
    let t = store.tenancy(&reach, ended.id).await.unwrap().unwrap();
    assert_eq!(
        (t.name_masked, t.id_masked, t.phone_masked, t.purged_at),
        (None, None, None, Some(5000))
    );
    assert!(store
        .tenancies_by_document(&reach, unit.landlord_id, ID_NUMBER, 6000)
        .await
        .unwrap()
        .is_empty());
    let counts = store
        .rental_overview(&Scope::parse("330102001").unwrap(), 12, 6000)
        .await
        .unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].code.as_str(),
            counts[0].units,
            counts[0].vacant_units,
            counts[0].tenants_now,
            counts[0].registrations_total
        ),
        ("330102001001", 1, 1, 0, 1)
    );
    let log = store
        .log_for(&format!("tenancy:{}", ended.id))
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["check_in", "check_out", "purge"]);
    assert!(store.verify_log().await.unwrap().is_ok());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database file and its write-ahead log, as bytes.
fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let wal = path.with_extension("sqlite-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

#[tokio::test]
async fn purge_leaves_no_trace_in_the_sqlite_file() {
    let dir =
        std::env::temp_dir().join(format!("pingan-purge-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pingan.sqlite");
    let keys = test_keys();
    let sqlite = SqliteStore::open(&path, keys.clone()).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let unit = vacant_unit(&store, 2).await;
    let made = store
        .check_in(&check_in(&unit, vec![tenant(ID_NUMBER)], 1000))
        .await
        .unwrap();
    // The sealed values as written, read past the store.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (name_c, id_c, id_h, phone_c): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT name_cipher, id_cipher, id_hash, phone_cipher FROM tenancies WHERE id = $1",
    )
    .bind(made[0].id)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(id_h, keys.lookup_hash(TENANT_ID_FIELD, ID_NUMBER));
    let traces: Vec<(&str, Vec<u8>)> = vec![
        ("name", NAME.as_bytes().to_vec()),
        ("id number", ID_NUMBER.as_bytes().to_vec()),
        ("phone", PHONE.as_bytes().to_vec()),
        ("masked name", "欧***".as_bytes().to_vec()),
        ("masked id", "**************002X".as_bytes().to_vec()),
        ("masked phone", "139****8888".as_bytes().to_vec()),
        ("name cipher", name_c[1..].to_vec()),
        ("id cipher", id_c[1..].to_vec()),
        ("id hash", id_h),
        ("phone cipher", phone_c[1..].to_vec()),
    ];
    // The sealed forms are on disk now (the search would find them); the
    // plain ones never were.
    let before = file_bytes(&path);
    for (what, bytes) in &traces {
        let plain = matches!(*what, "name" | "id number" | "phone");
        assert_eq!(contains(&before, bytes), !plain, "{what} before the purge");
    }

    store
        .end_tenancy(made[0].id, "early", &log("check_out", 500))
        .await
        .unwrap();
    assert_eq!(
        store
            .purge_tenancies(501, 10, &log("purge", 600))
            .await
            .unwrap(),
        1
    );
    sqlite.close().await;
    let after = file_bytes(&path);
    for (what, bytes) in &traces {
        assert!(
            !contains(&after, bytes),
            "{what} is still in the database file"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn key_rotation_reseals_rental_fields() {
    let dir =
        std::env::temp_dir().join(format!("pingan-rotate-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pingan.sqlite");
    let text = PersonalDataKeys::generate_text();
    let first = SqliteStore::open(&path, PersonalDataKeys::parse(&text).unwrap())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(first.clone());
    let unit = vacant_unit(&store, 2).await;
    store
        .check_in(&check_in(&unit, vec![tenant(ID_NUMBER)], 1000))
        .await
        .unwrap();
    first.close().await;
    let rotated = PersonalDataKeys::parse(&PersonalDataKeys::rotated_text(&text).unwrap()).unwrap();
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, rotated).await.unwrap());
    // The property's contact and the tenant's name, number and phone.
    assert_eq!(second.reencrypt_personal_data().await.unwrap(), 4);
    assert_eq!(second.reencrypt_personal_data().await.unwrap(), 0);
    // Still found by exact match: the lookup hash does not change.
    let found = second
        .tenancies_by_document(&RentalReach::everywhere(), unit.landlord_id, ID_NUMBER, 20)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

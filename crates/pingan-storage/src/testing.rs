//! Helpers for tests that run against both backends: a fresh SQLite file, or a
//! fresh database on the PostgreSQL server named by `PINGAN_TEST_POSTGRES_URL`.
use std::sync::Arc;

use rand::RngCore;

use crate::{PersonalDataKeys, PgStore, SqliteStore, Store};

/// The variable naming the throw-away PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "PINGAN_TEST_POSTGRES_URL";

fn random_suffix() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A key set generated for one test.
pub fn test_keys() -> PersonalDataKeys {
    PersonalDataKeys::parse(&PersonalDataKeys::generate_text()).expect("generated keys parse")
}

/// A new SQLite store in a fresh temporary directory (kept for inspection
/// only if the test fails to clean up: the OS temp dir is cleared anyway).
pub async fn sqlite_store() -> (Arc<dyn Store>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("pingan-test-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("pingan.sqlite");
    let store = SqliteStore::open(&path, test_keys())
        .await
        .expect("open sqlite");
    (Arc::new(store), path)
}

/// The URL of a new, empty database on the test server.
pub async fn postgres_database_url() -> String {
    let base = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set: run the README's test command, which starts a throw-away PostgreSQL"
        )
    });
    let name = format!("pingan_test_{}", random_suffix());
    let admin = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let (head, _) = base.rsplit_once('/').expect("URL with a database name");
    format!("{head}/{name}")
}

/// A new PostgreSQL store in a fresh database.
pub async fn postgres_store() -> Arc<dyn Store> {
    let url = postgres_database_url().await;
    Arc::new(
        PgStore::connect(&url, test_keys())
            .await
            .expect("connect postgres store"),
    )
}

/// Declares each listed `async fn name(store: Arc<dyn Store>)` as two tokio
/// tests, `sqlite::name` and `postgres::name`, so one suite covers both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (store, _path) = $crate::testing::sqlite_store().await;
                super::$name(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name($crate::testing::postgres_store().await).await;
            })*
        }
    };
}

fn region(code: &str, name: &str) -> crate::NewRegion {
    let code = pingan_domain::RegionCode::from_short(code).expect("valid test code");
    crate::NewRegion {
        parent: code.parent(),
        code,
        name: name.to_string(),
    }
}

/// A small tree: two townships of 上城区 (one with two villages) and one of 海曙区.
pub fn sample_divisions() -> Vec<crate::NewRegion> {
    vec![
        region("33", "浙江省"),
        region("3301", "杭州市"),
        region("330102", "上城区"),
        region("330102001", "清波街道"),
        region("330102001001", "清波门社区"),
        region("330102001002", "劳动路社区"),
        region("330102002", "湖滨街道"),
        region("330102002001", "东坡路社区"),
        region("3302", "宁波市"),
        region("330203", "海曙区"),
        region("330203001", "南门街道"),
        region("330203001001", "尹江岸社区"),
    ]
}

/// A region row for tests.
pub fn test_region(code: &str, name: &str) -> crate::NewRegion {
    region(code, name)
}

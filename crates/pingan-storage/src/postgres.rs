//! The PostgreSQL backend, for production.
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::{migrate, PersonalDataKeys, Result};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Write transactions; PostgreSQL needs no separate writer, so this is
    /// the same pool.
    writer: PgPool,
    keys: PersonalDataKeys,
}

impl PgStore {
    /// Connects and applies migrations.
    pub async fn connect(url: &str, keys: PersonalDataKeys) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let store = PgStore {
            writer: pool.clone(),
            pool,
            keys,
        };
        // Serialise concurrent starts so two servers never migrate at once.
        let mut conn = store.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(727274)")
            .execute(&mut *conn)
            .await?;
        let migrated = store.migrate(migrate::POSTGRES).await;
        sqlx::query("SELECT pg_advisory_unlock(727274)")
            .execute(&mut *conn)
            .await?;
        migrated?;
        Ok(store)
    }

    /// Runs SQL past every check of the store. Only for tests that simulate
    /// tampering with the database behind Pingan's back, and for repair tools.
    #[doc(hidden)]
    pub async fn execute_unchecked(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

crate::queries::store_impl!(PgStore, sqlx::Postgres, "postgres");
crate::rental::rental_impl!(PgStore, sqlx::Postgres, "postgres");
crate::reports::report_impl!(PgStore, sqlx::Postgres);

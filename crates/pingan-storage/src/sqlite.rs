//! The embedded SQLite backend: one file in WAL mode.
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::{migrate, PersonalDataKeys, Result};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that runs write transactions. SQLite lets one
    /// writer in at a time and makes the others sleep and retry; queueing
    /// for this connection instead keeps waits short and fair, and since
    /// SQLite drops a connection's page cache whenever another connection
    /// commits, the writer finds its index pages still cached (measured
    /// with bench/intake.sh).
    writer: SqlitePool,
    keys: PersonalDataKeys,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, keys: PersonalDataKeys) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Freed bytes are zeroed, so purged personal data leaves no
            // trace in free pages or cell gaps of the file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options);
        let store = SqliteStore { pool, writer, keys };
        store.migrate(migrate::SQLITE).await?;
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
        self.writer.close().await;
        self.pool.close().await;
    }
}

crate::queries::store_impl!(SqliteStore, sqlx::Sqlite, "sqlite");
crate::rental::rental_impl!(SqliteStore, sqlx::Sqlite, "sqlite");
crate::reports::report_impl!(SqliteStore, sqlx::Sqlite);

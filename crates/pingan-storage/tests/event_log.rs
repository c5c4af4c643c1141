//! The event log is append-only and its hash chain exposes a changed,
//! removed or reordered entry, on both backends.
use std::sync::Arc;

use pingan_storage::testing::{postgres_database_url, test_keys};
use pingan_storage::*;

#[async_trait::async_trait]
trait Raw: Send + Sync {
    async fn raw(&self, sql: &str) -> Result<u64>;
    /// Removes the append-only guard, as someone editing the file directly could.
    fn drop_guards(&self) -> &'static str;
}

#[async_trait::async_trait]
impl Raw for SqliteStore {
    async fn raw(&self, sql: &str) -> Result<u64> {
        self.execute_unchecked(sql).await
    }
    fn drop_guards(&self) -> &'static str {
        "DROP TRIGGER event_log_no_update; DROP TRIGGER event_log_no_delete"
    }
}

#[async_trait::async_trait]
impl Raw for PgStore {
    async fn raw(&self, sql: &str) -> Result<u64> {
        self.execute_unchecked(sql).await
    }
    fn drop_guards(&self) -> &'static str {
        "ALTER TABLE event_log DISABLE TRIGGER USER"
    }
}

fn entry(subject: &str, action: &str, from: Option<&str>, to: &str) -> NewLogEntry {
    NewLogEntry {
        subject: subject.into(),
        actor_id: Some(7),
        actor_role: "centre_operator".into(),
        unit_id: None,
        action: action.into(),
        from_state: from.map(str::to_string),
        to_state: Some(to.into()),
        body: r#"{"note":"现场核实"}"#.into(),
        at: pingan_storage::now_ms(),
    }
}

async fn chain_exposes_tampering(store: Arc<dyn Store>, raw: &dyn Raw) {
    assert_eq!(store.verify_log().await.unwrap(), Ok(0));
    store
        .append_log(&entry("matter:1", "report", None, "reported"))
        .await
        .unwrap();
    store
        .append_log(&entry("matter:2", "report", None, "reported"))
        .await
        .unwrap();
    store
        .append_log(&entry(
            "matter:1",
            "register",
            Some("reported"),
            "registered",
        ))
        .await
        .unwrap();
    store
        .append_log(&entry(
            "matter:1",
            "dispatch",
            Some("registered"),
            "dispatched",
        ))
        .await
        .unwrap();
    let last = store
        .append_log(&entry("matter:2", "reject", Some("reported"), "rejected"))
        .await
        .unwrap();
    assert_eq!(last.seq, 5);
    assert_eq!(store.verify_log().await.unwrap(), Ok(5));
    let timeline = store.log_for("matter:1").await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["report", "register", "dispatch"]
    );

    // The store refuses to change or delete an entry.
    assert!(raw
        .raw("UPDATE event_log SET body = 'x' WHERE seq = 3")
        .await
        .is_err());
    assert!(raw
        .raw("DELETE FROM event_log WHERE seq = 2")
        .await
        .is_err());
    assert_eq!(store.verify_log().await.unwrap(), Ok(5));

    raw.raw(raw.drop_guards()).await.unwrap();
    // Changed.
    raw.raw("UPDATE event_log SET body = '{\"note\":\"改过\"}' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(
        store.verify_log().await.unwrap(),
        Err(ChainFault::Changed { seq: 3 })
    );
    raw.raw("UPDATE event_log SET body = '{\"note\":\"现场核实\"}' WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(store.verify_log().await.unwrap(), Ok(5));
    // Reordered: entries 2 and 3 swap places.
    raw.raw("UPDATE event_log SET seq = -2 WHERE seq = 2")
        .await
        .unwrap();
    raw.raw("UPDATE event_log SET seq = 2 WHERE seq = 3")
        .await
        .unwrap();
    raw.raw("UPDATE event_log SET seq = 3 WHERE seq = -2")
        .await
        .unwrap();
    assert_eq!(
        store.verify_log().await.unwrap(),
        Err(ChainFault::Reordered { seq: 2, after: 1 })
    );
    raw.raw("UPDATE event_log SET seq = -3 WHERE seq = 3")
        .await
        .unwrap();
    raw.raw("UPDATE event_log SET seq = 3 WHERE seq = 2")
        .await
        .unwrap();
    raw.raw("UPDATE event_log SET seq = 2 WHERE seq = -3")
        .await
        .unwrap();
    assert_eq!(store.verify_log().await.unwrap(), Ok(5));
    // Removed: the last entry, then one in the middle.
    raw.raw("DELETE FROM event_log WHERE seq = 5")
        .await
        .unwrap();
    assert_eq!(
        store.verify_log().await.unwrap(),
        Err(ChainFault::Removed { seq: 5 })
    );
    raw.raw("DELETE FROM event_log WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(
        store.verify_log().await.unwrap(),
        Err(ChainFault::Removed { seq: 2 })
    );
}

#[tokio::test]
async fn sqlite_chain_exposes_tampering() {
    let dir = std::env::temp_dir().join(format!("pingan-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sqlite");
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(SqliteStore::open(&path, test_keys()).await.unwrap());
    chain_exposes_tampering(store.clone(), &*store).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn postgres_chain_exposes_tampering() {
    let url = postgres_database_url().await;
    let store = Arc::new(PgStore::connect(&url, test_keys()).await.unwrap());
    chain_exposes_tampering(store.clone(), &*store).await;
}

/// Appends from many tasks at once still form one unbroken chain.
async fn concurrent_appends_keep_one_chain(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                store
                    .append_log(&entry(
                        &format!("matter:{i}"),
                        &format!("remind{j}"),
                        Some("dispatched"),
                        "dispatched",
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.verify_log().await.unwrap(), Ok(80));
}

on_both_backends!(concurrent_appends_keep_one_chain);

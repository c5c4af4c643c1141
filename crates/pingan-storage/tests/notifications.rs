//! Notifications and webhook deliveries in the store, on both backends: the
//! notifier's cursor moves once, feeds by audience, read marks, webhook
//! scopes, and claiming due deliveries.
use std::sync::Arc;

use pingan_domain::{RegionCode, Role, Scope, UnitKind};
use pingan_storage::testing::sample_divisions;
use pingan_storage::*;

on_both_backends!(
    the_cursor_moves_once_and_feeds_follow_audiences,
    webhooks_are_scoped_and_deliveries_claimed
);

async fn account(
    store: &Arc<dyn Store>,
    name: &str,
    role: Role,
    scope: &str,
    unit: Option<i64>,
) -> Account {
    store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: name.into(),
                password_hash: "x".into(),
                role,
                scope: Scope::parse(scope).unwrap(),
                unit_id: unit,
                display_name: name.into(),
                phone: None,
            },
        )
        .await
        .unwrap()
}

async fn log(store: &Arc<dyn Store>, subject: &str) -> LogEntry {
    store
        .append_log(&NewLogEntry {
            subject: subject.into(),
            actor_id: None,
            actor_role: "system".into(),
            unit_id: None,
            action: "remind".into(),
            from_state: None,
            to_state: None,
            body: String::new(),
            at: pingan_storage::now_ms(),
        })
        .await
        .unwrap()
}

fn notice(audience: &str, seq: i64) -> NewNotification {
    NewNotification {
        at: 1_000 + seq,
        audience: audience.into(),
        kind: "reminder".into(),
        subject: "matter:1".into(),
        log_seq: seq,
        title_zh: "催办".into(),
        title_en: "Reminder".into(),
    }
}

async fn the_cursor_moves_once_and_feeds_follow_audiences(store: Arc<dyn Store>) {
    store
        .import_divisions(&sample_divisions(), &|_| {})
        .await
        .unwrap();
    let unit = store
        .create_unit(
            &Scope::everywhere(),
            &NewUnit {
                name: "上城区城管局".into(),
                kind: UnitKind::Department,
                region: RegionCode::from_short("330102").unwrap(),
            },
        )
        .await
        .unwrap();
    let operator = account(&store, "op", Role::CentreOperator, "330102001", None).await;
    let handler = account(
        &store,
        "handler",
        Role::DepartmentHandler,
        "330102",
        Some(unit.id),
    )
    .await;
    let leader = account(&store, "leader", Role::Leader, "330102001", None).await;

    assert_eq!(store.notifier_cursor().await.unwrap(), 0);
    for _ in 0..3 {
        log(&store, "matter:1").await;
    }
    let seqs = |v: Vec<LogEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.log_after(0, 2).await.unwrap()), [1, 2]);
    assert_eq!(seqs(store.log_after(2, 10).await.unwrap()), [3]);

    let batch = [
        notice("centre:330102001", 1),
        notice(&format!("unit:{}", unit.id), 2),
        notice("centre:330102002", 3),
    ];
    assert!(store.record_notifications(0, 3, &batch, &[]).await.unwrap());
    // A second notifier that read the same cursor writes nothing.
    assert!(!store.record_notifications(0, 3, &batch, &[]).await.unwrap());
    assert!(matches!(
        store.record_notifications(3, 2, &[], &[]).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.notifier_cursor().await.unwrap(), 3);

    let feed = |a: Account| {
        let store = store.clone();
        async move {
            store
                .notifications_for(&a, &Page::first(10))
                .await
                .unwrap()
                .into_iter()
                .map(|n| (n.log_seq, n.read))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(feed(operator.clone()).await, [(1, false)]);
    assert_eq!(feed(handler.clone()).await, [(2, false)]);
    // Only operators speak for a centre.
    assert!(feed(leader.clone()).await.is_empty());

    let op_id = store
        .notifications_for(&operator, &Page::first(1))
        .await
        .unwrap()[0]
        .id;
    let unit_id = store
        .notifications_for(&handler, &Page::first(1))
        .await
        .unwrap()[0]
        .id;
    // Marking what is not in one's feed does nothing.
    store
        .mark_read(&operator, &MarkRead::Ids(vec![unit_id]))
        .await
        .unwrap();
    assert_eq!(store.unread_count(&handler).await.unwrap(), 1);
    assert_eq!(store.unread_count(&operator).await.unwrap(), 1);
    store
        .mark_read(&operator, &MarkRead::Ids(vec![op_id, op_id]))
        .await
        .unwrap();
    assert_eq!(store.unread_count(&operator).await.unwrap(), 0);
    assert_eq!(feed(operator.clone()).await, [(1, true)]);

    // "All" covers what is there, not what comes later.
    let e4 = log(&store, "matter:1").await;
    let e5 = log(&store, "matter:1").await;
    assert!(store
        .record_notifications(3, e4.seq, &[notice("centre:330102001", e4.seq)], &[])
        .await
        .unwrap());
    assert_eq!(store.unread_count(&operator).await.unwrap(), 1);
    store.mark_read(&operator, &MarkRead::All).await.unwrap();
    store.mark_read(&operator, &MarkRead::All).await.unwrap();
    assert_eq!(store.unread_count(&operator).await.unwrap(), 0);
    assert!(store
        .record_notifications(e4.seq, e5.seq, &[notice("centre:330102001", e5.seq)], &[])
        .await
        .unwrap());
    assert_eq!(store.unread_count(&operator).await.unwrap(), 1);
    assert_eq!(
        feed(operator.clone()).await,
        [(5, false), (4, true), (1, true)]
    );
    // Newest first, by pages.
    let first = store
        .notifications_for(&operator, &Page::first(2))
        .await
        .unwrap();
    let rest = store
        .notifications_for(
            &operator,
            &Page {
                after: Some(first[1].id.to_string()),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|n| n.log_seq).collect::<Vec<_>>(), [1]);
}

async fn webhooks_are_scoped_and_deliveries_claimed(store: Arc<dyn Store>) {
    store
        .import_divisions(&sample_divisions(), &|_| {})
        .await
        .unwrap();
    let township = Scope::parse("330102001").unwrap();
    let hook = |prefix: &str| NewWebhook {
        url: "http://127.0.0.1:9/hook".into(),
        secret: "0123456789abcdef".into(),
        events: "*".into(),
        scope_prefix: prefix.into(),
        created_by: None,
    };
    assert!(matches!(
        store.create_webhook(&township, &hook("330102")).await,
        Err(StoreError::OutOfScope(_))
    ));
    let w = store
        .create_webhook(&township, &hook("330102001"))
        .await
        .unwrap();
    let stopped = store
        .create_webhook(&township, &hook("330102001001"))
        .await
        .unwrap();
    let listed = |scope: &str| {
        let store = store.clone();
        let scope = Scope::parse(scope).unwrap();
        async move {
            store
                .webhooks(&scope, &Page::first(10))
                .await
                .unwrap()
                .into_iter()
                .map(|w| w.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("330102").await, [w.id, stopped.id]);
    assert!(listed("330102002").await.is_empty());
    assert!(!store
        .deactivate_webhook(&Scope::parse("330102002").unwrap(), stopped.id)
        .await
        .unwrap());
    assert!(store
        .deactivate_webhook(&township, stopped.id)
        .await
        .unwrap());
    let active: Vec<i64> = store
        .active_webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(active, [w.id]);

    let e = log(&store, "matter:1").await;
    let delivery = |webhook_id: i64| NewDelivery {
        webhook_id,
        log_seq: e.seq,
        event: "reminder".into(),
        payload: "{}".into(),
        next_attempt_at: 100,
    };
    assert!(store
        .record_notifications(0, e.seq, &[], &[delivery(w.id), delivery(stopped.id)])
        .await
        .unwrap());
    assert!(store
        .due_deliveries(99, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    let due = store.due_deliveries(100, 1_000, 10).await.unwrap();
    assert_eq!(due.len(), 1, "a stopped webhook's delivery is not due");
    assert_eq!((due[0].webhook_id, due[0].attempts), (w.id, 0));
    // Held for the one who claimed it, until the hold runs out.
    assert!(store
        .due_deliveries(500, 1_000, 10)
        .await
        .unwrap()
        .is_empty());
    let again = store.due_deliveries(1_000, 2_000, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    let id = again[0].id;
    store
        .record_delivery_attempt(
            id,
            &DeliveryOutcome::Failed {
                at: 1_000,
                status: Some(503),
                error: "HTTP 503".into(),
            },
            Some(5_000),
        )
        .await
        .unwrap();
    let recorded = &store
        .webhook_deliveries(w.id, &Page::first(10))
        .await
        .unwrap()[0];
    assert_eq!(
        (
            recorded.attempts,
            recorded.next_attempt_at,
            recorded.last_status
        ),
        (1, Some(5_000), Some(503))
    );
    assert!(store
        .due_deliveries(4_999, 6_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.due_deliveries(5_000, 6_000, 10).await.unwrap().len(),
        1
    );
    store
        .record_delivery_attempt(
            id,
            &DeliveryOutcome::Delivered {
                at: 5_000,
                status: 204,
            },
            None,
        )
        .await
        .unwrap();
    let done = &store
        .webhook_deliveries(w.id, &Page::first(10))
        .await
        .unwrap()[0];
    assert_eq!(
        (
            done.attempts,
            done.delivered_at,
            done.next_attempt_at,
            done.last_error.clone(),
            done.failed_permanently
        ),
        (2, Some(5_000), None, None, false)
    );
    assert!(store
        .due_deliveries(i64::MAX / 2, i64::MAX / 2, 10)
        .await
        .unwrap()
        .is_empty());

    // Stopping a webhook gives up what it still had pending.
    let later = log(&store, "matter:1").await;
    assert!(store
        .record_notifications(
            e.seq,
            later.seq,
            &[],
            &[NewDelivery {
                log_seq: later.seq,
                ..delivery(w.id)
            }]
        )
        .await
        .unwrap());
    assert!(store.deactivate_webhook(&township, w.id).await.unwrap());
    let given_up = &store
        .webhook_deliveries(w.id, &Page::first(10))
        .await
        .unwrap()[0];
    assert_eq!(
        (
            given_up.log_seq,
            given_up.next_attempt_at,
            given_up.failed_permanently,
            given_up.last_error.as_deref()
        ),
        (later.seq, None, true, Some("webhook stopped"))
    );
}

//! The benchmark history generator: lifecycles planned by the service's
//! rules and written in bulk keep the chain intact, their indicator cells
//! equal a recomputation from the log, and every kind of lifecycle writes
//! the same rows as the store's one-action-at-a-time path; on both backends.
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use pingan_api::history::{lifecycle, Cast};
use pingan_domain::calendar::LocalDate;
use pingan_domain::random::SplitMix64;
use pingan_domain::Scope;
use pingan_storage::{on_both_backends, LogEntry, Matter, MatterHistory, Store};

on_both_backends!(generated_history);

const DAY: i64 = 86_400_000;

/// A log entry without what depends on where it lies in the chain.
fn entry_shape(e: &LogEntry) -> LogEntry {
    LogEntry {
        seq: 0,
        prev_hash: Vec::new(),
        hash: Vec::new(),
        ..e.clone()
    }
}

async fn generated_history(store: Arc<dyn Store>) {
    let f = fixture(store).await;
    let s = f.store.as_ref();
    let now = LocalDate::new(2026, 11, 2).unwrap().start_utc_ms() + 9 * 3_600_000;
    let cast = Cast::new(&f.state, "test", "not-a-hash", now)
        .await
        .unwrap();
    let grids: Vec<&str> = GRIDS.iter().map(|(g, _)| *g).collect();
    let catalogue = f.state.catalogue().1;
    let categories: Vec<String> = catalogue
        .categories
        .iter()
        .filter(|c| {
            c.limits_for(pingan_domain::category::Severity::Normal)
                .is_some()
        })
        .take(4)
        .map(|c| c.code.as_str().to_string())
        .collect();
    let mut rng = SplitMix64::new(7);
    let (n, days) = (2_000_i64, 90);
    let mut made: Vec<(MatterHistory, Matter)> = Vec::new();
    let mut merge_into = None;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<MatterHistory> = chunk
            .iter()
            .map(|&i| {
                let reported = now - days * DAY + i * days * DAY / n;
                let grid = *rng.pick(&grids);
                let category = rng.pick(&categories).clone();
                lifecycle(
                    &f.state, &cast, &mut rng, grid, &category, reported, now, merge_into,
                )
                .unwrap()
            })
            .collect();
        let matters = s.import_matter_histories(&batch).await.unwrap();
        merge_into = matters.last().map(|m| m.id);
        made.extend(batch.into_iter().zip(matters));
    }
    // The chain is intact and the cells equal a recomputation from the log.
    let entries: usize = made.iter().map(|(h, _)| 1 + h.actions.len()).sum();
    assert_eq!(s.verify_log().await.unwrap(), Ok(entries as u64));
    let (cells, differ) = pingan_api::indicators::check(s).await.unwrap();
    assert!(cells > 0 && differ.is_empty(), "{differ:?}");

    // Every kind of lifecycle (its sequence of actions) once more through
    // `create_matters` and `apply_matter_action`: the same matter and log.
    let mut kinds: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (i, (h, _)) in made.iter().enumerate() {
        kinds
            .entry(h.actions.iter().map(|(_, l)| l.action.clone()).collect())
            .or_insert(i);
    }
    assert!(kinds.len() >= 8, "{:?}", kinds.keys().collect::<Vec<_>>());
    for (kind, &i) in &kinds {
        let (h, bulk) = &made[i];
        let mut report = h.report.clone();
        report.tracking_code = format!("{}-again", report.tracking_code);
        let (mut one, _) = s.create_matter(&report, &h.log).await.unwrap();
        for (change, log) in &h.actions {
            one = s
                .apply_matter_action(&Scope::everywhere(), one.id, one.version, change, log)
                .await
                .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        }
        let stored = s
            .matter(&Scope::everywhere(), bulk.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&stored, bulk, "{kind:?}");
        let aside = |m: &Matter| Matter {
            id: 0,
            tracking_code: String::new(),
            ..m.clone()
        };
        assert_eq!(aside(&one), aside(bulk), "{kind:?}");
        let shape = |id: i64, entries: Vec<LogEntry>| -> Vec<_> {
            entries
                .iter()
                .map(|e| {
                    let mut t = entry_shape(e);
                    t.subject = t.subject.replace(&format!("matter:{id}"), "matter");
                    t
                })
                .collect()
        };
        let bulk_log = shape(
            bulk.id,
            s.log_for(&format!("matter:{}", bulk.id)).await.unwrap(),
        );
        let one_log = shape(
            one.id,
            s.log_for(&format!("matter:{}", one.id)).await.unwrap(),
        );
        assert_eq!(one_log, bulk_log, "{kind:?}");
        assert_eq!(
            s.matter_photos(one.id).await.unwrap(),
            s.matter_photos(bulk.id).await.unwrap(),
            "{kind:?}"
        );
    }
    // The replayed copies moved the cells as the bulk load did: still equal.
    let (_, differ) = pingan_api::indicators::check(s).await.unwrap();
    assert!(differ.is_empty(), "{differ:?}");
}

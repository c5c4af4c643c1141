//! Group commit of new reports. Reports arriving together are written by one
//! task in one transaction, so the database commits (and, on SQLite, takes
//! its single write lock) once per batch instead of once per report. A batch
//! forms on its own: whatever queued while the previous one was committing.
use std::sync::{Arc, OnceLock};

use pingan_storage::{Matter, NewLogEntry, NewMatter, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::state::AppState;

/// Most reports in one transaction: large enough to amortise a commit, small
/// enough that one batch's latency stays a few milliseconds.
const MAX_BATCH: usize = 256;
/// Reports waiting for the writer; senders wait when it is full.
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<(Matter, bool), StoreError>>;

struct Job {
    matter: NewMatter,
    log: NewLogEntry,
    reply: Reply,
}

/// The writer's queue, started on first use (inside the server's runtime).
#[derive(Default, Clone)]
pub struct IntakeQueue(Arc<OnceLock<mpsc::Sender<Job>>>);

impl std::fmt::Debug for IntakeQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntakeQueue")
    }
}

/// Files a report through the group-commit writer; answers the matter and
/// whether it is new, exactly as [`Store::create_matter`] does.
pub async fn submit(
    state: &AppState,
    matter: NewMatter,
    log: NewLogEntry,
) -> Result<(Matter, bool), StoreError> {
    let queue = state
        .intake
        .0
        .get_or_init(|| spawn_writer(state.store.clone()));
    let (reply, answer) = oneshot::channel();
    match queue.send(Job { matter, log, reply }).await {
        Ok(()) => answer
            .await
            .map_err(|_| StoreError::Invalid("the intake writer stopped".into()))?,
        // The writer is gone (its runtime ended): write directly.
        Err(mpsc::error::SendError(job)) => state.store.create_matter(&job.matter, &job.log).await,
    }
}

fn spawn_writer(store: Arc<dyn Store>) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>(QUEUE);
    // SQLite answers from its own worker thread. Woken from outside, a task
    // of the server's runtime waits in the shared queue behind the HTTP work,
    // once per statement; on a runtime of its own the writer resumes at once
    // (measured with bench/intake.sh). PostgreSQL connections belong to the
    // server's runtime, so there the writer stays on it.
    if store.backend() == "sqlite" {
        // If the thread or its runtime cannot start, the queue closes and
        // `submit` writes each report directly.
        let started = std::thread::Builder::new()
            .name("pingan-intake".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(run_writer(store, receiver)),
                    Err(e) => tracing::error!(error = %e, "intake writer has no runtime"),
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "intake writer thread did not start");
        }
        return sender;
    }
    tokio::spawn(run_writer(store, receiver));
    sender
}

async fn run_writer(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.recv().await {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        write_batch(&*store, &mut jobs).await;
    }
}

async fn write_batch(store: &dyn Store, jobs: &mut Vec<Job>) {
    let (batch, replies): (Vec<_>, Vec<_>) =
        jobs.drain(..).map(|j| ((j.matter, j.log), j.reply)).unzip();
    let started = std::time::Instant::now();
    let written = store.create_matters(&batch).await;
    tracing::debug!(
        reports = batch.len(),
        micros = started.elapsed().as_micros() as u64,
        "intake batch"
    );
    match written {
        Ok(made) => {
            for (reply, result) in replies.into_iter().zip(made) {
                let _ = reply.send(Ok(result));
            }
        }
        // One bad report must not fail the others: write them one by one,
        // each with its own answer.
        Err(e) if batch.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(_) => {
            for ((matter, log), reply) in batch.iter().zip(replies) {
                let _ = reply.send(store.create_matter(matter, log).await);
            }
        }
    }
}

//! Live events (实时推送): each logged change of a matter, pushed to screens
//! with server-sent events. The notifier publishes what it reads from the
//! event log, and is woken as soon as a change commits, so a screen sees an
//! action within moments rather than at the next poll.
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::{broadcast, Notify};
use utoipa::ToSchema;

use crate::auth::Caller;

/// How many events a slow screen may fall behind before it is told to reload.
const BACKLOG: usize = 4096;
const SUMMARY_CHARS: usize = 40;

/// One change of a matter as a screen shows it: no personal data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveEvent {
    /// The event log's sequence number.
    pub seq: i64,
    /// When it happened, ms since the Unix epoch (UTC).
    pub at: i64,
    pub matter_id: i64,
    pub action: String,
    /// The matter's state after it.
    pub state: String,
    pub grid_code: String,
    pub category_code: Option<String>,
    pub severity: String,
    pub overdue: bool,
    /// The start of the description.
    pub summary: String,
}

impl LiveEvent {
    pub fn summary_of(description: &str) -> String {
        description.chars().take(SUMMARY_CHARS).collect()
    }
}

/// The channel between the notifier and the screens.
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
    wake: Notify,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tx: broadcast::channel(BACKLOG).0,
            wake: Notify::new(),
        }
    }
}

impl Live {
    /// Tells the notifier a change has committed.
    pub fn changed(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Live::changed`] (at once if it was called since the last wait).
    pub async fn wait_for_change(&self) {
        self.wake.notified().await;
    }

    pub fn publish(&self, event: LiveEvent) {
        // Nobody listening is fine.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}

/// Server-sent events of the matters in the caller's scope: `matter` events
/// carry a [`LiveEvent`]; `resync` means events were missed (reload the
/// figures); a comment every 15 s keeps the connection open.
#[utoipa::path(get, path = "/api/v1/live", tag = "overview",
    responses((status = 200, description = "text/event-stream of `matter` events (LiveEvent JSON) and `resync`")))]
pub async fn stream(
    State(state): State<crate::state::AppState>,
    Caller(caller): Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.live.subscribe();
    let scope = caller.scope;
    let events = futures_util::stream::unfold(rx, move |mut rx| {
        let scope = scope.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(e) if scope.covers(&e.grid_code) => {
                        let data = serde_json::to_string(&e).unwrap_or_default();
                        let event = Event::default()
                            .event("matter")
                            .id(e.seq.to_string())
                            .data(data);
                        return Some((Ok(event), rx));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("resync").data("{}")), rx));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    let hello =
        futures_util::stream::once(async { Ok(Event::default().event("hello").data("{}")) });
    Sse::new(futures_util::StreamExt::chain(hello, events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

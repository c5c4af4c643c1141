//! The hash chain of the event log: how an entry's hash is made, and how a
//! read-back chain is checked.
use serde::Serialize;
use sha2::{Digest, Sha256};

/// An entry to append: who did what to which subject, and the state change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogEntry {
    /// What the entry is about, e.g. `matter:42`.
    pub subject: String,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub unit_id: Option<i64>,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// Free detail (JSON text: note, attachments…).
    pub body: String,
    /// When it happened (ms since the Unix epoch, UTC), from the service's
    /// clock, so that a simulation or a test can run in its own time.
    pub at: i64,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub seq: i64,
    /// Milliseconds since the Unix epoch, UTC.
    pub at: i64,
    pub subject: String,
    pub actor_id: Option<i64>,
    pub actor_role: String,
    pub unit_id: Option<i64>,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub body: String,
    #[serde(skip)]
    pub prev_hash: Vec<u8>,
    #[serde(skip)]
    pub hash: Vec<u8>,
}

/// The hash of the first entry's predecessor.
pub const GENESIS: [u8; 32] = [0; 32];

/// SHA-256 over a version tag, the previous hash and every field,
/// length-prefixed so that no two different entries encode alike. The
/// sequence number is not hashed: order is carried by the links, so a moved
/// entry shows as a broken link rather than as a changed entry.
pub fn entry_hash(prev_hash: &[u8], at: i64, e: &NewLogEntry) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"pingan-event-log-v1");
    h.update(prev_hash);
    h.update(at.to_be_bytes());
    let id = |v: Option<i64>| v.map(|v| v.to_string());
    for field in [
        Some(e.subject.clone()),
        id(e.actor_id),
        Some(e.actor_role.clone()),
        id(e.unit_id),
        Some(e.action.clone()),
        e.from_state.clone(),
        e.to_state.clone(),
        Some(e.body.clone()),
    ] {
        match field {
            Some(text) => {
                h.update((text.len() as u64).to_be_bytes());
                h.update(text.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
    h.finalize().to_vec()
}

impl LogEntry {
    fn fields(&self) -> NewLogEntry {
        NewLogEntry {
            subject: self.subject.clone(),
            actor_id: self.actor_id,
            actor_role: self.actor_role.clone(),
            unit_id: self.unit_id,
            action: self.action.clone(),
            from_state: self.from_state.clone(),
            to_state: self.to_state.clone(),
            body: self.body.clone(),
            at: self.at,
        }
    }
}

/// The first fault found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainFault {
    #[error("entry {seq} was changed: its content no longer matches its hash")]
    Changed { seq: i64 },
    #[error("entry {seq} was removed")]
    Removed { seq: i64 },
    #[error("entry {seq} is out of order: it does not follow entry {after}")]
    Reordered { seq: i64, after: i64 },
}

/// Walks the chain in sequence order. `entries` must be sorted by `seq`;
/// `head` is the recorded last (seq, hash).
#[derive(Debug)]
pub struct ChainCheck {
    expected_seq: i64,
    prev_hash: Vec<u8>,
    prev_seq: i64,
    pub checked: u64,
    pub fault: Option<ChainFault>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            expected_seq: 1,
            prev_hash: GENESIS.to_vec(),
            prev_seq: 0,
            checked: 0,
            fault: None,
        }
    }
}

impl ChainCheck {
    /// Checks the next entry; after the first fault the rest is ignored.
    pub fn push(&mut self, e: &LogEntry) {
        if self.fault.is_some() {
            return;
        }
        self.checked += 1;
        if entry_hash(&e.prev_hash, e.at, &e.fields()) != e.hash {
            self.fault = Some(ChainFault::Changed { seq: e.seq });
        } else if e.prev_hash != self.prev_hash {
            self.fault = Some(if e.seq > self.expected_seq {
                ChainFault::Removed {
                    seq: self.expected_seq,
                }
            } else {
                ChainFault::Reordered {
                    seq: e.seq,
                    after: self.prev_seq,
                }
            });
        } else if e.seq != self.expected_seq {
            // Linked correctly but renumbered: an entry was removed and the
            // rest shifted, or numbers were edited.
            self.fault = Some(ChainFault::Changed { seq: e.seq });
        }
        self.expected_seq = e.seq + 1;
        self.prev_seq = e.seq;
        self.prev_hash = e.hash.clone();
    }

    /// Compares the end of the walk with the recorded head.
    pub fn finish(mut self, head_seq: i64, head_hash: &[u8]) -> Result<u64, ChainFault> {
        if let Some(f) = self.fault.take() {
            return Err(f);
        }
        if head_seq != self.prev_seq || head_hash != self.prev_hash.as_slice() {
            return Err(ChainFault::Removed {
                seq: self.prev_seq + 1,
            });
        }
        Ok(self.checked)
    }
}

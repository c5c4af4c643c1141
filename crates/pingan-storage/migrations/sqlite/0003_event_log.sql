-- The append-only, hash-chained record of every state change (全流程留痕).
-- Each entry's hash covers its fields and the previous entry's hash; the head
-- row holds the last sequence number and hash, so a removed tail is noticed too.
CREATE TABLE event_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    subject    TEXT NOT NULL,
    actor_id   INTEGER,
    actor_role TEXT NOT NULL,
    unit_id    INTEGER,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    body       TEXT NOT NULL DEFAULT '',
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
);
CREATE INDEX event_log_subject ON event_log(subject, seq);

CREATE TABLE event_log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO event_log_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER event_log_no_update BEFORE UPDATE ON event_log
BEGIN
    SELECT RAISE(ABORT, 'event_log is append-only');
END;
CREATE TRIGGER event_log_no_delete BEFORE DELETE ON event_log
BEGIN
    SELECT RAISE(ABORT, 'event_log is append-only');
END;

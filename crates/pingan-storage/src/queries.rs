//! The queries both backends share. Both accept `$n` placeholders and the same
//! SQL for everything here, so the bodies are written once and stamped out per
//! backend; anything backend-specific stays in `sqlite.rs` / `postgres.rs`.

/// The half-open range `[prefix, prefix + ":")` holds exactly the digit
/// strings starting with `prefix` (':' sorts right after '9'), and unlike
/// `LIKE` it uses the index on both backends.
pub(crate) fn prefix_range(prefix: &str) -> (String, String) {
    (prefix.to_string(), format!("{prefix}:"))
}

/// Rows per multi-row INSERT: well under both backends' bind-parameter limits.
pub(crate) const CHUNK: usize = 1000;

macro_rules! store_impl {
    ($store:ty, $db:ty, $backend:literal) => {
        mod shared_rows {
            use pingan_domain::Scope;
            use sqlx::Row;

            use crate::{parse_role, Account, Grid, Region, Result, StoreError, Unit};

            pub type DbRow = <$db as sqlx::Database>::Row;

            pub fn patrol(row: &DbRow) -> Result<crate::Patrol> {
                Ok(crate::Patrol {
                    id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    account_name: row.try_get("display_name")?,
                    grid_code: row.try_get("grid_code")?,
                    started_at: row.try_get("started_at")?,
                    ended_at: row.try_get("ended_at")?,
                    notes: row.try_get("notes")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            pub fn region(row: &DbRow) -> Result<Region> {
                let level: String = row.try_get("level")?;
                Ok(Region {
                    code: row.try_get("code")?,
                    level: level.parse().map_err(|e: pingan_domain::CodeError| {
                        StoreError::Invalid(e.to_string())
                    })?,
                    name: row.try_get("name")?,
                    parent_code: row.try_get("parent_code")?,
                    active: row.try_get("active")?,
                })
            }

            pub fn grid(row: &DbRow) -> Result<Grid> {
                Ok(Grid {
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                    village_code: row.try_get("village_code")?,
                    bbox: [
                        row.try_get("min_lng")?,
                        row.try_get("min_lat")?,
                        row.try_get("max_lng")?,
                        row.try_get("max_lat")?,
                    ],
                })
            }

            pub fn unit(row: &DbRow) -> Result<Unit> {
                let kind: String = row.try_get("kind")?;
                Ok(Unit {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    kind: kind.parse().map_err(StoreError::Invalid)?,
                    region_code: row.try_get("region_code")?,
                })
            }

            pub fn matter(row: &DbRow) -> Result<crate::Matter> {
                Ok(crate::Matter {
                    id: row.try_get("id")?,
                    tracking_code: row.try_get("tracking_code")?,
                    state: row.try_get("state")?,
                    version: row.try_get("version")?,
                    category_code: row.try_get("category_code")?,
                    severity: row.try_get("severity")?,
                    description: row.try_get("description")?,
                    grid_code: row.try_get("grid_code")?,
                    lng: row.try_get("lng")?,
                    lat: row.try_get("lat")?,
                    source: row.try_get("source")?,
                    reporter_id: row.try_get("reporter_id")?,
                    contact_masked: row.try_get("contact_masked")?,
                    holder: row.try_get("holder")?,
                    assigned_unit_id: row.try_get("assigned_unit_id")?,
                    deadline: row.try_get("deadline")?,
                    rework_count: row.try_get("rework_count")?,
                    rating: row.try_get("rating")?,
                    overdue: row.try_get("overdue")?,
                    next_due: row.try_get("next_due")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    supervised: row.try_get("supervised")?,
                    time_limit: row.try_get("time_limit")?,
                    closed_at: row.try_get("closed_at")?,
                    merged_into: row.try_get("merged_into")?,
                    milestones: row.try_get("milestones")?,
                    milestone_due: row.try_get("milestone_due")?,
                })
            }

            pub fn log_entry(row: &DbRow) -> Result<crate::LogEntry> {
                Ok(crate::LogEntry {
                    seq: row.try_get("seq")?,
                    at: row.try_get("at")?,
                    subject: row.try_get("subject")?,
                    actor_id: row.try_get("actor_id")?,
                    actor_role: row.try_get("actor_role")?,
                    unit_id: row.try_get("unit_id")?,
                    action: row.try_get("action")?,
                    from_state: row.try_get("from_state")?,
                    to_state: row.try_get("to_state")?,
                    body: row.try_get("body")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                })
            }

            pub fn account(row: &DbRow) -> Result<Account> {
                let role: String = row.try_get("role")?;
                let scope: String = row.try_get("scope_prefix")?;
                Ok(Account {
                    id: row.try_get("id")?,
                    username: row.try_get("username")?,
                    role: parse_role(&role)?,
                    scope: Scope::parse(&scope).map_err(|e| StoreError::Invalid(e.to_string()))?,
                    unit_id: row.try_get("unit_id")?,
                    display_name: row.try_get("display_name")?,
                    phone_masked: row.try_get("phone_masked")?,
                    disabled: row.try_get("disabled")?,
                    created_at: row.try_get("created_at")?,
                })
            }
        }

        const MATTER_COLUMNS: &str = "id, tracking_code, state, version, category_code, severity, description, grid_code, \
            lng, lat, source, reporter_id, contact_masked, holder, assigned_unit_id, deadline, rework_count, rating, overdue, next_due, created_at, updated_at, \
            supervised, time_limit, closed_at, merged_into, milestones, milestone_due";
        const CONTACT_FIELD: &str = "matters.contact";

        /// Appends the WHERE conditions of a matter list; false when the
        /// filter's region lies outside the scope (the list is empty).
        fn push_matter_filter<'a>(
            q: &mut sqlx::QueryBuilder<'a, $db>,
            scope: &pingan_domain::Scope,
            f: &'a crate::MatterFilter,
        ) -> bool {
            let reach = match &f.under {
                Some(under) => match pingan_domain::Scope::parse(under) {
                    Ok(u) => match scope.intersect(&u) {
                        Some(r) => r,
                        None => return false,
                    },
                    Err(_) => return false,
                },
                None => scope.clone(),
            };
            let (lo, hi) = crate::queries::prefix_range(reach.prefix());
            q.push("grid_code >= ").push_bind(lo).push(" AND grid_code < ").push_bind(hi);
            if !f.states.is_empty() {
                q.push(" AND state IN (");
                let mut list = q.separated(", ");
                for s in &f.states {
                    list.push_bind(s.as_str());
                }
                q.push(")");
            }
            if let Some(c) = &f.category_prefix {
                let (lo, hi) = crate::queries::prefix_range(c);
                q.push(" AND category_code >= ").push_bind(lo).push(" AND category_code < ").push_bind(hi);
            }
            if let Some(v) = &f.source {
                q.push(" AND source = ").push_bind(v.as_str());
            }
            if let Some(v) = &f.holder {
                q.push(" AND holder = ").push_bind(v.as_str());
            }
            if let Some(v) = f.assigned_unit_id {
                q.push(" AND assigned_unit_id = ").push_bind(v);
            }
            if let Some(v) = f.reporter_id {
                q.push(" AND reporter_id = ").push_bind(v);
            }
            if let Some(v) = f.overdue {
                q.push(" AND overdue = ").push_bind(v);
            }
            if let Some(v) = f.created_from {
                q.push(" AND created_at >= ").push_bind(v);
            }
            if let Some(v) = f.created_to {
                q.push(" AND created_at < ").push_bind(v);
            }
            if let Some(v) = f.supervised {
                q.push(" AND supervised = ").push_bind(v);
            }
            if let Some([west, south, east, north]) = f.bbox {
                q.push(" AND lng >= ").push_bind(west).push(" AND lng <= ").push_bind(east);
                q.push(" AND lat >= ").push_bind(south).push(" AND lat <= ").push_bind(north);
            }
            if let Some(v) = f.escalated {
                q.push(if v { " AND EXISTS" } else { " AND NOT EXISTS" });
                q.push(
                    " (SELECT 1 FROM event_log e WHERE e.subject = 'matter:' || matters.id \
                     AND e.action = 'escalate')",
                );
            }
            true
        }

        /// Links photos to a matter inside the caller's transaction; a photo
        /// attached twice keeps its first stage.
        pub(crate) async fn insert_photos_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            matter_id: i64,
            photos: &[crate::PhotoRef],
            at: i64,
        ) -> crate::Result<()> {
            for p in photos {
                sqlx::query(
                    "INSERT INTO matter_photos (matter_id, sha256, kind, stage, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (matter_id, sha256) DO NOTHING",
                )
                .bind(matter_id)
                .bind(&p.sha256)
                .bind(&p.kind)
                .bind(&p.stage)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        async fn latest_catalogue_version(
            tx: &mut sqlx::Transaction<'static, $db>,
        ) -> crate::Result<Option<i64>> {
            use sqlx::Row;
            let row = sqlx::query("SELECT MAX(version) AS v FROM catalogue_versions")
                .fetch_one(&mut **tx)
                .await?;
            Ok(row.try_get("v")?)
        }

        /// Most rows per multi-row statement (a power of two): far below
        /// either backend's limit on bound parameters (18 per report).
        const BULK_ROWS: usize = 128;

        /// Splits rows into runs of 128, 64, …, 1, so that multi-row
        /// statements come in eight shapes that stay prepared in the
        /// connection's statement cache instead of being parsed per batch.
        fn bulk_chunks<T>(mut rows: &[T]) -> Vec<&[T]> {
            let mut out = Vec::new();
            while !rows.is_empty() {
                let n = BULK_ROWS.min(1 << (usize::BITS - 1 - rows.len().leading_zeros()));
                let (head, tail) = rows.split_at(n);
                out.push(head);
                rows = tail;
            }
            out
        }

        /// A matter as just filed, built from what was written.
        fn new_matter(id: i64, m: &crate::NewMatter, contact_masked: Option<String>, now: i64) -> crate::Matter {
            m.filed(id, contact_masked, now)
        }

        /// Appends many entries to the chain inside the caller's transaction:
        /// the head moves once and the entries go in multi-row INSERTs, each
        /// linked to the one before exactly as single appends would be.
        pub(crate) async fn append_logs_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            entries: &[crate::NewLogEntry],
        ) -> crate::Result<()> {
            use sqlx::Row;
            if entries.is_empty() {
                return Ok(());
            }
            let head = sqlx::query("UPDATE event_log_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
                .bind(entries.len() as i64)
                .fetch_one(&mut **tx)
                .await?;
            let last: i64 = head.try_get("seq")?;
            let mut prev: Vec<u8> = head.try_get("hash")?;
            let first = last - entries.len() as i64 + 1;
            let mut links = Vec::with_capacity(entries.len());
            for e in entries {
                let hash = crate::chain::entry_hash(&prev, e.at, e);
                links.push((std::mem::replace(&mut prev, hash.clone()), hash));
            }
            let numbered: Vec<(i64, &crate::NewLogEntry, &(Vec<u8>, Vec<u8>))> = entries
                .iter()
                .zip(&links)
                .enumerate()
                .map(|(k, (e, l))| (first + k as i64, e, l))
                .collect();
            for chunk in bulk_chunks(&numbered) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO event_log (seq, at, subject, actor_id, actor_role, unit_id, action, from_state, to_state, body, prev_hash, hash) ",
                );
                q.push_values(chunk, |mut row, (seq, e, (prev_hash, hash))| {
                    row.push_bind(*seq)
                        .push_bind(e.at)
                        .push_bind(&e.subject)
                        .push_bind(e.actor_id)
                        .push_bind(&e.actor_role)
                        .push_bind(e.unit_id)
                        .push_bind(&e.action)
                        .push_bind(&e.from_state)
                        .push_bind(&e.to_state)
                        .push_bind(&e.body)
                        .push_bind(prev_hash)
                        .push_bind(hash);
                });
                q.build().execute(&mut **tx).await?;
            }
            sqlx::query("UPDATE event_log_head SET hash = $1 WHERE id = 1")
                .bind(&prev)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        async fn matter_by_key<'e, E>(executor: E, key: &str) -> crate::Result<Option<crate::Matter>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query(&format!("SELECT {MATTER_COLUMNS} FROM matters WHERE idempotency_key = $1"))
                .bind(key)
                .fetch_optional(executor)
                .await?;
            row.as_ref().map(shared_rows::matter).transpose()
        }

        const LOG_COLUMNS: &str = "seq, at, subject, actor_id, actor_role, unit_id, action, from_state, to_state, body, prev_hash, hash";

        /// Appends to the event log inside the caller's transaction, so a state
        /// change and its log entry commit together. Bumping the head row first
        /// takes the write lock (SQLite) or the row lock (PostgreSQL), which
        /// serialises appends without a separate lock.
        pub(crate) async fn append_log_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            entry: &crate::NewLogEntry,
        ) -> crate::Result<crate::LogEntry> {
            use sqlx::Row;
            let head = sqlx::query("UPDATE event_log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut **tx)
                .await?;
            let seq: i64 = head.try_get("seq")?;
            let prev_hash: Vec<u8> = head.try_get("hash")?;
            let at = entry.at;
            let hash = crate::chain::entry_hash(&prev_hash, at, entry);
            sqlx::query(
                "INSERT INTO event_log (seq, at, subject, actor_id, actor_role, unit_id, action, from_state, to_state, body, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(seq)
            .bind(at)
            .bind(&entry.subject)
            .bind(entry.actor_id)
            .bind(&entry.actor_role)
            .bind(entry.unit_id)
            .bind(&entry.action)
            .bind(&entry.from_state)
            .bind(&entry.to_state)
            .bind(&entry.body)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE event_log_head SET hash = $1 WHERE id = 1")
                .bind(&hash)
                .execute(&mut **tx)
                .await?;
            Ok(crate::LogEntry {
                seq,
                at,
                subject: entry.subject.clone(),
                actor_id: entry.actor_id,
                actor_role: entry.actor_role.clone(),
                unit_id: entry.unit_id,
                action: entry.action.clone(),
                from_state: entry.from_state.clone(),
                to_state: entry.to_state.clone(),
                body: entry.body.clone(),
                prev_hash,
                hash,
            })
        }

        /// Applies a matter action inside the caller's transaction: the
        /// projection, its photos and its log entry. Answers false, writing
        /// nothing, when the matter is not at `version` within `lo..hi`.
        pub(crate) async fn apply_matter_change_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            (lo, hi): (&str, &str),
            id: i64,
            version: i64,
            change: &crate::MatterChange,
            log: &crate::NewLogEntry,
        ) -> crate::Result<bool> {
                // The matter before, for the indicator deltas; a stale version fails below.
                let before = sqlx::query(&format!("SELECT {MATTER_COLUMNS} FROM matters WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .as_ref()
                    .map(shared_rows::matter)
                    .transpose()?
                    .filter(|m| m.version == version);
                let (set_unit, unit) = match change.assigned_unit_id {
                    Some(u) => (true, u),
                    None => (false, None),
                };
                let (set_deadline, deadline) = match change.deadline {
                    Some(d) => (true, d),
                    None => (false, None),
                };
                let (set_due, next_due) = match change.next_due {
                    Some(d) => (true, d),
                    None => (false, None),
                };
                let updated = sqlx::query(
                    "UPDATE matters SET state = $1, version = version + 1, \
                     category_code = COALESCE($2, category_code), holder = COALESCE($3, holder), \
                     assigned_unit_id = CASE WHEN $4 THEN $5 ELSE assigned_unit_id END, \
                     deadline = CASE WHEN $6 THEN $7 ELSE deadline END, \
                     rework_count = rework_count + $8, rating = COALESCE($9, rating), updated_at = $10, \
                     overdue = COALESCE($15, overdue), next_due = CASE WHEN $16 THEN $17 ELSE next_due END, \
                     supervised = COALESCE($18, supervised), time_limit = CASE WHEN $19 THEN $20 ELSE time_limit END, \
                     closed_at = CASE WHEN $21 THEN $22 ELSE closed_at END, merged_into = COALESCE($23, merged_into), \
                     milestones = CASE WHEN $24 THEN $25 ELSE milestones END, \
                     milestone_due = CASE WHEN $26 THEN $27 ELSE milestone_due END \
                     WHERE id = $11 AND version = $12 AND grid_code >= $13 AND grid_code < $14",
                )
                .bind(&change.state)
                .bind(&change.category_code)
                .bind(&change.holder)
                .bind(set_unit)
                .bind(unit)
                .bind(set_deadline)
                .bind(deadline)
                .bind(i64::from(change.add_rework))
                .bind(change.rating)
                .bind(log.at)
                .bind(id)
                .bind(version)
                .bind(lo)
                .bind(hi)
                .bind(change.overdue)
                .bind(set_due)
                .bind(next_due)
                .bind(change.supervised)
                .bind(change.time_limit.is_some())
                .bind(change.time_limit.clone().flatten())
                .bind(change.closed_at.is_some())
                .bind(change.closed_at.flatten())
                .bind(change.merged_into)
                .bind(change.milestones.is_some())
                .bind(change.milestones.clone().flatten())
                .bind(change.milestone_due.is_some())
                .bind(change.milestone_due.flatten())
                .execute(&mut **tx)
                .await
                .map_err(|e| map_insert_error(e, "action"))?
                .rows_affected();
                if updated == 0 {
                    return Ok(false);
                }
                insert_photos_tx(tx, id, &change.photos, log.at).await?;
                let mut entry = log.clone();
                entry.subject = format!("matter:{id}");
                append_log_tx(tx, &entry).await?;
                // Indicators move in the same transaction as the matter.
                let row = sqlx::query(&format!("SELECT {MATTER_COLUMNS} FROM matters WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await?;
                let after = shared_rows::matter(&row)?;
                let before = before.ok_or_else(|| crate::StoreError::Conflict(format!("matter {id} changed meanwhile")))?;
                let mut cells = std::collections::BTreeMap::new();
                crate::cells::action_deltas(&mut cells, &before, &after, &log.action, change.rating, log.at);
                add_indicator_cells_tx(tx, &cells).await?;
                Ok(true)
            }

        const COMMITTEE_SELECT: &str = "SELECT u.id, u.name, u.region_code, COALESCE(c.specialty, 'general') AS specialty \
            FROM units u LEFT JOIN mediation_committees c ON c.unit_id = u.id WHERE u.kind = 'mediation_committee'";
        const CASE_COLUMNS: &str = "id, case_number, state, version, case_type, matter_id, committee_id, holder, place_code, title, \
            facts, claims, risk_level, risk_reasons, mediators, deadline, sessions, follow_ups, agreement, confirmation, outcome, \
            referral, opened_by, opened_at, ended_at, updated_at, next_due, reminders_sent";
        const PARTY_NAME: &str = "case_parties.name";
        const PARTY_ID_NUMBER: &str = "case_parties.id_number";
        const PARTY_PHONE: &str = "case_parties.phone";
        const PARTY_ADDRESS: &str = "case_parties.address";

        fn committee_row(row: &shared_rows::DbRow) -> crate::Result<crate::Committee> {
            use sqlx::Row;
            Ok(crate::Committee {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                region_code: row.try_get("region_code")?,
                specialty: row.try_get("specialty")?,
            })
        }

        fn case_row(row: &shared_rows::DbRow) -> crate::Result<crate::Case> {
            use sqlx::Row;
            Ok(crate::Case {
                id: row.try_get("id")?,
                case_number: row.try_get::<Option<String>, _>("case_number")?.unwrap_or_default(),
                state: row.try_get("state")?,
                version: row.try_get("version")?,
                case_type: row.try_get("case_type")?,
                matter_id: row.try_get("matter_id")?,
                committee_id: row.try_get("committee_id")?,
                holder: row.try_get("holder")?,
                place_code: row.try_get("place_code")?,
                title: row.try_get("title")?,
                facts: row.try_get("facts")?,
                claims: row.try_get("claims")?,
                risk_level: row.try_get("risk_level")?,
                risk_reasons: row.try_get("risk_reasons")?,
                mediators: row.try_get("mediators")?,
                deadline: row.try_get("deadline")?,
                sessions: row.try_get("sessions")?,
                follow_ups: row.try_get("follow_ups")?,
                agreement: row.try_get("agreement")?,
                confirmation: row.try_get("confirmation")?,
                outcome: row.try_get("outcome")?,
                referral: row.try_get("referral")?,
                opened_by: row.try_get("opened_by")?,
                opened_at: row.try_get("opened_at")?,
                ended_at: row.try_get("ended_at")?,
                updated_at: row.try_get("updated_at")?,
                next_due: row.try_get("next_due")?,
                reminders_sent: row.try_get("reminders_sent")?,
            })
        }

        /// The condition of a case reach (no leading AND).
        fn push_case_reach(q: &mut sqlx::QueryBuilder<'_, $db>, reach: &crate::CaseReach) {
            match reach {
                crate::CaseReach::All => {
                    q.push("1 = 1");
                }
                crate::CaseReach::Committee { unit_id, below } => {
                    q.push("(committee_id = ").push_bind(*unit_id);
                    if let Some(prefix) = below {
                        let (lo, hi) = crate::queries::prefix_range(prefix);
                        q.push(" OR (holder >= ").push_bind(lo).push(" AND holder < ").push_bind(hi);
                        q.push(" AND holder <> ").push_bind(prefix.clone()).push(")");
                    }
                    q.push(")");
                }
                crate::CaseReach::Region(scope) => {
                    let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                    q.push("((holder >= ").push_bind(lo.clone()).push(" AND holder < ").push_bind(hi.clone());
                    q.push(") OR (place_code >= ").push_bind(lo).push(" AND place_code < ").push_bind(hi).push("))");
                }
            }
        }

        fn push_case_filter(q: &mut sqlx::QueryBuilder<'_, $db>, f: &crate::CaseFilter) {
            if !f.states.is_empty() {
                q.push(" AND state IN (");
                let mut list = q.separated(", ");
                for s in &f.states {
                    list.push_bind(s.clone());
                }
                q.push(")");
            }
            if let Some(t) = &f.case_type {
                q.push(" AND case_type = ").push_bind(t.clone());
            }
            if let Some(under) = &f.under {
                let (lo, hi) = crate::queries::prefix_range(under);
                q.push(" AND ((holder >= ").push_bind(lo.clone()).push(" AND holder < ").push_bind(hi.clone());
                q.push(") OR (place_code >= ").push_bind(lo).push(" AND place_code < ").push_bind(hi).push("))");
            }
            if let Some(c) = f.committee_id {
                q.push(" AND committee_id = ").push_bind(c);
            }
            if let Some(v) = f.opened_from {
                q.push(" AND opened_at >= ").push_bind(v);
            }
            if let Some(v) = f.opened_to {
                q.push(" AND opened_at < ").push_bind(v);
            }
            if let Some(m) = f.mediator_id {
                // mediators is a JSON array of ids: match the id between delimiters.
                q.push(" AND (',' || REPLACE(REPLACE(mediators, '[', ''), ']', '') || ',') LIKE ")
                    .push_bind(format!("%,{m},%"));
            }
        }

        const ACCOUNT_COLUMNS: &str = "id, username, role, scope_prefix, unit_id, display_name, phone_masked, disabled, created_at";
        const GRID_COLUMNS: &str = "code, name, village_code, min_lng, min_lat, max_lng, max_lat";
        const PHONE_FIELD: &str = "accounts.phone";

        impl $store {
            async fn migrate(&self, migrations: &[crate::migrate::Migration]) -> crate::Result<()> {
                use sqlx::Row;
                sqlx::query(crate::migrate::CREATE_TABLE).execute(&self.pool).await?;
                let applied = sqlx::query("SELECT version, checksum FROM schema_migrations")
                    .fetch_all(&self.pool)
                    .await?;
                for m in migrations {
                    let known = applied
                        .iter()
                        .find(|r| r.try_get::<i64, _>("version").ok() == Some(m.version));
                    match known {
                        Some(row) => {
                            let sum: String = row.try_get("checksum")?;
                            if sum != m.checksum() {
                                return Err(crate::StoreError::MigrationChanged {
                                    version: m.version,
                                    name: m.name.to_string(),
                                });
                            }
                        }
                        None => {
                            let mut tx = self.writer.begin().await?;
                            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
                            sqlx::query(
                                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                            )
                            .bind(m.version)
                            .bind(m.name)
                            .bind(m.checksum())
                            .bind(crate::now_ms())
                            .execute(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            tracing::info!(backend = $backend, version = m.version, name = m.name, "applied migration");
                        }
                    }
                }
                Ok(())
            }

            /// Encrypts a personal field: cipher, lookup hash and masked copy.
            fn encrypt_field(
                &self,
                field: &str,
                value: Option<&str>,
                mask: fn(&str) -> String,
            ) -> (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>) {
                match value.map(str::trim).filter(|p| !p.is_empty()) {
                    None => (None, None, None),
                    Some(p) => (
                        Some(self.keys.encrypt(field, p)),
                        Some(self.keys.lookup_hash(field, p)),
                        Some(mask(p)),
                    ),
                }
            }

            async fn insert_party_tx(
                &self,
                tx: &mut sqlx::Transaction<'static, $db>,
                case_id: i64,
                seq: i64,
                p: &crate::NewParty,
            ) -> crate::Result<()> {
                let name = p.name.trim();
                let display = if p.kind == "person" {
                    pingan_domain::mask::mask_name(name)
                } else {
                    name.to_string()
                };
                let (id_cipher, id_hash, id_masked) =
                    self.encrypt_field(PARTY_ID_NUMBER, p.id_number.as_deref(), pingan_domain::mask::mask_id_number);
                let (phone_cipher, phone_hash, phone_masked) =
                    self.encrypt_field(PARTY_PHONE, p.phone.as_deref(), pingan_domain::mask::mask_phone);
                let address_cipher = p
                    .address
                    .as_deref()
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| self.keys.encrypt(PARTY_ADDRESS, a));
                sqlx::query(
                    "INSERT INTO case_parties (case_id, seq, kind, side, display_name, name_cipher, id_number_cipher, id_number_masked, \
                     id_number_hash, phone_cipher, phone_masked, phone_hash, address_cipher) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(case_id)
                .bind(seq)
                .bind(&p.kind)
                .bind(&p.side)
                .bind(display)
                .bind(self.keys.encrypt(PARTY_NAME, name))
                .bind(id_cipher)
                .bind(id_masked)
                .bind(id_hash)
                .bind(phone_cipher)
                .bind(phone_masked)
                .bind(phone_hash)
                .bind(address_cipher)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            fn encrypt_phone(&self, phone: Option<&str>) -> (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>) {
                match phone.map(str::trim).filter(|p| !p.is_empty()) {
                    None => (None, None, None),
                    Some(p) => (
                        Some(self.keys.encrypt(PHONE_FIELD, p)),
                        Some(self.keys.lookup_hash(PHONE_FIELD, p)),
                        Some(pingan_domain::mask::mask_phone(p)),
                    ),
                }
            }
        }

        /// Upserts summed counters into one aggregate table: each key once
        /// per statement (PostgreSQL refuses to touch a row twice in one).
        async fn upsert_counters_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            table: &str,
            keys: &[&str],
            rows: &[(i64, Vec<&str>, &pingan_domain::indicators::Counters)],
        ) -> crate::Result<()> {
            use pingan_domain::indicators::Counter;
            let names: Vec<&str> = Counter::ALL.iter().map(|c| c.as_str()).collect();
            let updates: Vec<String> = names.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
            for chunk in bulk_chunks(rows) {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "INSERT INTO {table} (day, {}, {}) ",
                    keys.join(", "),
                    names.join(", ")
                ));
                q.push_values(chunk, |mut row, (day, key, counters)| {
                    row.push_bind(*day);
                    for k in key {
                        row.push_bind(k.to_string());
                    }
                    for v in counters.0 {
                        row.push_bind(v);
                    }
                });
                q.push(format!(" ON CONFLICT (day, {}) DO UPDATE SET {}", keys.join(", "), updates.join(", ")));
                q.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Adds cell deltas to the indicator tables and their three rollups,
        /// in the caller's transaction.
        pub(crate) async fn add_indicator_cells_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            cells: &std::collections::BTreeMap<pingan_domain::indicators::CellKey, pingan_domain::indicators::Counters>,
        ) -> crate::Result<()> {
            if cells.is_empty() {
                return Ok(());
            }
            let (townships, counties) = crate::cells::rollups(cells);
            let rows: Vec<_> = cells.iter().map(|(k, c)| (k.day, vec![k.township.as_str(), k.category.as_str()], c)).collect();
            upsert_counters_tx(tx, "indicator_cells", &["township", "category"], &rows).await?;
            let rows: Vec<_> = townships.iter().map(|((d, t), c)| (*d, vec![t.as_str()], c)).collect();
            upsert_counters_tx(tx, "indicator_township_days", &["township"], &rows).await?;
            let months = crate::cells::months(&townships);
            let rows: Vec<_> = months.iter().map(|((d, t), c)| (*d, vec![t.as_str()], c)).collect();
            upsert_counters_tx(tx, "indicator_township_months", &["township"], &rows).await?;
            let rows: Vec<_> = counties.iter().map(|((d, k, cat), c)| (*d, vec![k.as_str(), cat.as_str()], c)).collect();
            upsert_counters_tx(tx, "indicator_county_cells", &["county", "category"], &rows).await?;
            Ok(())
        }

        fn map_insert_error(e: sqlx::Error, what: &str) -> crate::StoreError {
            match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    crate::StoreError::Conflict(what.to_string())
                }
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                    crate::StoreError::Invalid(format!("{what} refers to something that does not exist"))
                }
                _ => crate::StoreError::Database(e),
            }
        }

        #[async_trait::async_trait]
        impl crate::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn import_divisions(
                &self,
                regions: &[crate::NewRegion],
                progress: &(dyn Fn(u64) + Sync),
            ) -> crate::Result<crate::DivisionImportSummary> {
                use std::collections::{HashMap, HashSet};
                use sqlx::Row;
                let now = crate::now_ms();
                let mut tx = self.writer.begin().await?;
                let rows = sqlx::query("SELECT code, name, parent_code, active FROM regions")
                    .fetch_all(&mut *tx)
                    .await?;
                let mut existing: HashMap<String, (String, Option<String>, bool)> =
                    HashMap::with_capacity(rows.len());
                for row in rows {
                    existing.insert(
                        row.try_get("code")?,
                        (row.try_get("name")?, row.try_get("parent_code")?, row.try_get("active")?),
                    );
                }
                let mut summary = crate::DivisionImportSummary::default();
                let mut changed = Vec::new();
                for r in regions {
                    let parent = r.parent.as_ref().map(|p| p.as_str().to_string());
                    match existing.get(r.code.as_str()) {
                        None => {
                            summary.added += 1;
                            changed.push(r);
                        }
                        Some((_, _, false)) => {
                            summary.reactivated += 1;
                            changed.push(r);
                        }
                        Some((name, old_parent, true)) if *name != r.name || *old_parent != parent => {
                            summary.renamed += 1;
                            changed.push(r);
                        }
                        Some(_) => summary.unchanged += 1,
                    }
                }
                let mut done = summary.unchanged;
                progress(done);
                for chunk in changed.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO regions (code, level, name, parent_code, active, updated_at) ",
                    );
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(r.code.as_str())
                            .push_bind(r.code.level().as_str())
                            .push_bind(r.name.as_str())
                            .push_bind(r.parent.as_ref().map(|p| p.as_str()))
                            .push_bind(true)
                            .push_bind(now);
                    });
                    q.push(
                        " ON CONFLICT (code) DO UPDATE SET level = excluded.level, name = excluded.name, \
                         parent_code = excluded.parent_code, active = excluded.active, updated_at = excluded.updated_at",
                    );
                    q.build().execute(&mut *tx).await?;
                    done += chunk.len() as u64;
                    progress(done);
                }
                // Only the provinces this set covers can have vanished codes:
                // importing one province must not retire the others.
                let provinces: HashSet<&str> = regions.iter().map(|r| &r.code.as_str()[..2]).collect();
                let incoming: HashSet<&str> = regions.iter().map(|r| r.code.as_str()).collect();
                let mut vanished: Vec<&str> = existing
                    .iter()
                    .filter(|(code, (_, _, active))| {
                        *active && provinces.contains(&code[..2]) && !incoming.contains(code.as_str())
                    })
                    .map(|(code, _)| code.as_str())
                    .collect();
                // Children first is not needed (nothing is deleted), but a stable order keeps runs repeatable.
                vanished.sort_unstable();
                for chunk in vanished.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE regions SET active = ");
                    q.push_bind(false).push(", updated_at = ").push_bind(now).push(" WHERE code IN (");
                    let mut list = q.separated(", ");
                    for code in chunk {
                        list.push_bind(*code);
                    }
                    q.push(")");
                    q.build().execute(&mut *tx).await?;
                }
                summary.deactivated = vanished.len() as u64;
                tx.commit().await?;
                Ok(summary)
            }

            async fn region(&self, scope: &pingan_domain::Scope, code: &str) -> crate::Result<Option<crate::Region>> {
                let row = sqlx::query("SELECT code, level, name, parent_code, active FROM regions WHERE code = $1")
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let region = shared_rows::region(&row)?;
                let Ok(rc) = pingan_domain::RegionCode::new(&region.code, region.level) else {
                    return Ok(None);
                };
                Ok(scope.overlaps_region(&rc).then_some(region))
            }

            async fn region_children(
                &self,
                scope: &pingan_domain::Scope,
                code: &str,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Region>> {
                let Some(parent) = self.region(scope, code).await? else {
                    return Ok(Vec::new());
                };
                let parent_code = pingan_domain::RegionCode::new(&parent.code, parent.level)
                    .map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
                let after = page.after.clone().unwrap_or_default();
                let (lo, hi) = if scope.covers(parent_code.prefix()) {
                    crate::queries::prefix_range("")
                } else {
                    // The parent is an ancestor of the scope: only the child on
                    // the path down to the scope is visible.
                    let Some(child_level) = pingan_domain::Level::ALL
                        .into_iter()
                        .find(|l| l.parent() == Some(parent.level))
                    else {
                        return Ok(Vec::new());
                    };
                    let digits = child_level.significant_digits();
                    if scope.prefix().len() < digits {
                        return Ok(Vec::new());
                    }
                    crate::queries::prefix_range(&scope.prefix()[..digits])
                };
                let rows = sqlx::query(
                    "SELECT code, level, name, parent_code, active FROM regions \
                     WHERE parent_code = $1 AND code >= $2 AND code < $3 AND code > $4 ORDER BY code LIMIT $5",
                )
                .bind(&parent.code)
                .bind(lo)
                .bind(hi)
                .bind(after)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::region).collect()
            }

            async fn regions_at_level(
                &self,
                scope: &pingan_domain::Scope,
                under: &str,
                level: pingan_domain::Level,
            ) -> crate::Result<Vec<crate::Region>> {
                if !scope.covers(under) {
                    return Ok(Vec::new());
                }
                let (lo, hi) = crate::queries::prefix_range(under);
                let rows = sqlx::query(
                    "SELECT code, level, name, parent_code, active FROM regions \
                     WHERE code >= $1 AND code < $2 AND level = $3 AND active ORDER BY code",
                )
                .bind(lo)
                .bind(hi)
                .bind(level.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::region).collect()
            }

            async fn region_names(&self, codes: &[String]) -> crate::Result<Vec<crate::Region>> {
                if codes.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT code, level, name, parent_code, active FROM regions WHERE code IN (",
                );
                let mut list = q.separated(", ");
                for c in codes {
                    list.push_bind(c.as_str());
                }
                q.push(") ORDER BY code");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(shared_rows::region).collect()
            }

            async fn unknown_villages(&self, codes: &[String]) -> crate::Result<Vec<String>> {
                use sqlx::Row;
                let mut known = std::collections::HashSet::new();
                for chunk in codes.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT code FROM regions WHERE level = 'village' AND active = ");
                    q.push_bind(true).push(" AND code IN (");
                    let mut list = q.separated(", ");
                    for c in chunk {
                        list.push_bind(c.as_str());
                    }
                    q.push(")");
                    for row in q.build().fetch_all(&self.pool).await? {
                        known.insert(row.try_get::<String, _>("code")?);
                    }
                }
                let mut unknown: Vec<String> = codes.iter().filter(|c| !known.contains(*c)).cloned().collect();
                unknown.sort();
                unknown.dedup();
                Ok(unknown)
            }

            async fn save_region_shapes(&self, shapes: &[(String, Vec<u8>)]) -> crate::Result<()> {
                let mut tx = self.writer.begin().await?;
                for chunk in shapes.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO region_shapes (code, geometry) ");
                    q.push_values(chunk, |mut b, (code, geometry)| {
                        b.push_bind(code.as_str()).push_bind(geometry.as_slice());
                    });
                    q.push(" ON CONFLICT (code) DO UPDATE SET geometry = excluded.geometry");
                    q.build().execute(&mut *tx).await.map_err(|e| map_insert_error(e, "region shape"))?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn import_grids(
                &self,
                grids: &[crate::NewGrid],
                progress: &(dyn Fn(u64) + Sync),
            ) -> crate::Result<crate::GridImportSummary> {
                use sqlx::Row;
                let now = crate::now_ms();
                let mut tx = self.writer.begin().await?;
                let mut existing = std::collections::HashSet::new();
                for chunk in grids.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT code FROM grids WHERE code IN (");
                    let mut list = q.separated(", ");
                    for g in chunk {
                        list.push_bind(g.code.as_str());
                    }
                    q.push(")");
                    for row in q.build().fetch_all(&mut *tx).await? {
                        existing.insert(row.try_get::<String, _>("code")?);
                    }
                }
                let mut done = 0u64;
                for chunk in grids.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO grids (code, village_code, name, geometry, min_lng, min_lat, max_lng, max_lat, valid_from, updated_at) ",
                    );
                    q.push_values(chunk, |mut b, g| {
                        b.push_bind(g.code.as_str())
                            .push_bind(&g.code[..12])
                            .push_bind(g.name.as_str())
                            .push_bind(g.geometry.as_slice())
                            .push_bind(g.bbox[0])
                            .push_bind(g.bbox[1])
                            .push_bind(g.bbox[2])
                            .push_bind(g.bbox[3])
                            .push_bind(now)
                            .push_bind(now);
                    });
                    q.push(
                        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, geometry = excluded.geometry, \
                         min_lng = excluded.min_lng, min_lat = excluded.min_lat, max_lng = excluded.max_lng, \
                         max_lat = excluded.max_lat, updated_at = excluded.updated_at",
                    );
                    q.build().execute(&mut *tx).await.map_err(|e| map_insert_error(e, "grid"))?;
                    done += chunk.len() as u64;
                    progress(done);
                }
                tx.commit().await?;
                let replaced = existing.len() as u64;
                Ok(crate::GridImportSummary {
                    added: grids.len() as u64 - replaced,
                    replaced,
                })
            }

            async fn grids_fingerprint(&self) -> crate::Result<(i64, i64)> {
                use sqlx::Row;
                let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), 0) AS latest FROM grids")
                    .fetch_one(&self.pool)
                    .await?;
                Ok((row.try_get("n")?, row.try_get("latest")?))
            }

            async fn grid_geometries(&self) -> crate::Result<Vec<(String, Vec<u8>)>> {
                use futures_util::TryStreamExt;
                use sqlx::Row;
                let mut out = Vec::new();
                let mut rows = sqlx::query("SELECT code, geometry FROM grids").fetch(&self.pool);
                while let Some(row) = rows.try_next().await? {
                    out.push((row.try_get("code")?, row.try_get("geometry")?));
                }
                Ok(out)
            }

            async fn each_grid_pack(
                &self,
                fingerprint: &str,
                each: &mut (dyn FnMut(Vec<u8>) + Send),
            ) -> crate::Result<bool> {
                use futures_util::TryStreamExt;
                use sqlx::Row;
                let mut rows = sqlx::query("SELECT fingerprint, data FROM grid_packs ORDER BY seq").fetch(&self.pool);
                let mut any = false;
                while let Some(row) = rows.try_next().await? {
                    if row.try_get::<String, _>("fingerprint")? != fingerprint {
                        return Ok(false);
                    }
                    each(row.try_get("data")?);
                    any = true;
                }
                Ok(any)
            }

            async fn save_grid_packs(&self, fingerprint: &str, packs: &[Vec<u8>]) -> crate::Result<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query("DELETE FROM grid_packs").execute(&mut *tx).await?;
                for (seq, data) in packs.iter().enumerate() {
                    sqlx::query("INSERT INTO grid_packs (seq, fingerprint, data) VALUES ($1, $2, $3)")
                        .bind(seq as i64)
                        .bind(fingerprint)
                        .bind(data.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn grids(
                &self,
                scope: &pingan_domain::Scope,
                under: &str,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Grid>> {
                let under = pingan_domain::Scope::parse(under).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
                let Some(reach) = scope.intersect(&under) else {
                    return Ok(Vec::new());
                };
                let (lo, hi) = crate::queries::prefix_range(reach.prefix());
                let rows = sqlx::query(&format!(
                    "SELECT {GRID_COLUMNS} FROM grids WHERE code >= $1 AND code < $2 AND code > $3 ORDER BY code LIMIT $4"
                ))
                .bind(lo)
                .bind(hi)
                .bind(page.after.clone().unwrap_or_default())
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::grid).collect()
            }

            async fn grid(
                &self,
                scope: &pingan_domain::Scope,
                code: &str,
            ) -> crate::Result<Option<crate::GridWithGeometry>> {
                use sqlx::Row;
                if !scope.covers(code) {
                    return Ok(None);
                }
                let row = sqlx::query(&format!("SELECT {GRID_COLUMNS}, geometry FROM grids WHERE code = $1"))
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(crate::GridWithGeometry {
                        grid: shared_rows::grid(&r)?,
                        geometry: r.try_get("geometry")?,
                    })
                })
                .transpose()
            }

            async fn export_grids(&self, scope: &pingan_domain::Scope) -> crate::Result<Vec<crate::GridWithGeometry>> {
                use sqlx::Row;
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let rows = sqlx::query(&format!(
                    "SELECT {GRID_COLUMNS}, geometry FROM grids WHERE code >= $1 AND code < $2 ORDER BY code"
                ))
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::GridWithGeometry {
                            grid: shared_rows::grid(r)?,
                            geometry: r.try_get("geometry")?,
                        })
                    })
                    .collect()
            }

            async fn create_unit(&self, scope: &pingan_domain::Scope, unit: &crate::NewUnit) -> crate::Result<crate::Unit> {
                use sqlx::Row;
                if !scope.covers(unit.region.as_str()) {
                    return Err(crate::StoreError::OutOfScope(unit.region.to_string()));
                }
                let name = unit.name.trim();
                if name.is_empty() {
                    return Err(crate::StoreError::Invalid("a unit needs a name".into()));
                }
                let row = sqlx::query(
                    "INSERT INTO units (name, kind, region_code, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(name)
                .bind(unit.kind.as_str())
                .bind(unit.region.as_str())
                .bind(crate::now_ms())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| map_insert_error(e, "unit"))?;
                Ok(crate::Unit {
                    id: row.try_get("id")?,
                    name: name.to_string(),
                    kind: unit.kind,
                    region_code: unit.region.to_string(),
                })
            }

            async fn units(&self, scope: &pingan_domain::Scope, page: &crate::Page) -> crate::Result<Vec<crate::Unit>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let rows = sqlx::query(
                    "SELECT id, name, kind, region_code FROM units \
                     WHERE region_code >= $1 AND region_code < $2 AND id > $3 ORDER BY id LIMIT $4",
                )
                .bind(lo)
                .bind(hi)
                .bind(after)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::unit).collect()
            }

            async fn unit(&self, scope: &pingan_domain::Scope, id: i64) -> crate::Result<Option<crate::Unit>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let row = sqlx::query(
                    "SELECT id, name, kind, region_code FROM units WHERE id = $1 AND region_code >= $2 AND region_code < $3",
                )
                .bind(id)
                .bind(lo)
                .bind(hi)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(shared_rows::unit).transpose()
            }

            async fn create_account(
                &self,
                scope: &pingan_domain::Scope,
                account: &crate::NewAccount,
            ) -> crate::Result<crate::Account> {
                use sqlx::Row;
                if !scope.contains_scope(&account.scope) {
                    return Err(crate::StoreError::OutOfScope(account.scope.to_string()));
                }
                let username = account.username.trim();
                if username.is_empty() || username.len() > 64 || username.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(crate::StoreError::Invalid(
                        "a username is 1-64 characters without spaces".into(),
                    ));
                }
                if let Some(unit_id) = account.unit_id {
                    if self.unit(scope, unit_id).await?.is_none() {
                        return Err(crate::StoreError::OutOfScope(format!("unit {unit_id}")));
                    }
                }
                let (cipher, hash, masked) = self.encrypt_phone(account.phone.as_deref());
                let row = sqlx::query(
                    "INSERT INTO accounts (username, password_hash, role, scope_prefix, unit_id, display_name, \
                     phone_cipher, phone_hash, phone_masked, disabled, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(username)
                .bind(&account.password_hash)
                .bind(account.role.as_str())
                .bind(account.scope.prefix())
                .bind(account.unit_id)
                .bind(account.display_name.trim())
                .bind(cipher)
                .bind(hash)
                .bind(masked.clone())
                .bind(false)
                .bind(crate::now_ms())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| map_insert_error(e, &format!("account {username}")))?;
                let id: i64 = row.try_get("id")?;
                self.account(scope, id)
                    .await?
                    .ok_or_else(|| crate::StoreError::Invalid("account vanished after insert".into()))
            }

            async fn credentials(&self, username: &str) -> crate::Result<Option<crate::Credentials>> {
                use sqlx::Row;
                let row = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE username = $1"
                ))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(crate::Credentials {
                        account: shared_rows::account(&r)?,
                        password_hash: r.try_get("password_hash")?,
                    })
                })
                .transpose()
            }

            async fn accounts(&self, scope: &pingan_domain::Scope, page: &crate::Page) -> crate::Result<Vec<crate::Account>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let rows = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts \
                     WHERE scope_prefix >= $1 AND scope_prefix < $2 AND id > $3 ORDER BY id LIMIT $4"
                ))
                .bind(lo)
                .bind(hi)
                .bind(after)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::account).collect()
            }

            async fn account(&self, scope: &pingan_domain::Scope, id: i64) -> crate::Result<Option<crate::Account>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let row = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND scope_prefix >= $2 AND scope_prefix < $3"
                ))
                .bind(id)
                .bind(lo)
                .bind(hi)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(shared_rows::account).transpose()
            }

            async fn account_by_username(
                &self,
                scope: &pingan_domain::Scope,
                username: &str,
            ) -> crate::Result<Option<crate::Account>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let row = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1 AND scope_prefix >= $2 AND scope_prefix < $3"
                ))
                .bind(username)
                .bind(lo)
                .bind(hi)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(shared_rows::account).transpose()
            }

            async fn accounts_by_phone(
                &self,
                scope: &pingan_domain::Scope,
                phone: &str,
            ) -> crate::Result<Vec<crate::Account>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let rows = sqlx::query(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE phone_hash = $1 AND scope_prefix >= $2 AND scope_prefix < $3 ORDER BY id"
                ))
                .bind(self.keys.lookup_hash(PHONE_FIELD, phone))
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::account).collect()
            }

            async fn set_account_disabled(&self, scope: &pingan_domain::Scope, id: i64, disabled: bool) -> crate::Result<bool> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query(
                    "UPDATE accounts SET disabled = $1 WHERE id = $2 AND scope_prefix >= $3 AND scope_prefix < $4",
                )
                .bind(disabled)
                .bind(id)
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if done && disabled {
                    sqlx::query("UPDATE sessions SET revoked = $1 WHERE account_id = $2")
                        .bind(true)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn reveal_phone(&self, scope: &pingan_domain::Scope, actor: i64, id: i64) -> crate::Result<Option<String>> {
                use sqlx::Row;
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query(
                    "SELECT phone_cipher FROM accounts WHERE id = $1 AND scope_prefix >= $2 AND scope_prefix < $3",
                )
                .bind(id)
                .bind(lo)
                .bind(hi)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let cipher: Option<Vec<u8>> = row.try_get("phone_cipher")?;
                let Some(cipher) = cipher else { return Ok(None) };
                let phone = self.keys.decrypt(PHONE_FIELD, &cipher)?;
                sqlx::query(
                    "INSERT INTO audit_log (at, account_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(crate::now_ms())
                .bind(actor)
                .bind("reveal_personal_data")
                .bind(format!("account:{id}"))
                .bind("phone")
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(phone))
            }

            async fn reencrypt_personal_data(&self) -> crate::Result<u64> {
                use sqlx::Row;
                let current = self.keys.current_id();
                let mut tx = self.writer.begin().await?;
                let mut count = 0;
                // Every sealed column, with the field name bound into its encryption.
                for (table, column, field) in [
                    ("accounts", "phone_cipher", PHONE_FIELD),
                    ("rental_properties", "contact_cipher", crate::rental::PROPERTY_CONTACT_FIELD),
                    ("tenancies", "name_cipher", crate::rental::TENANT_NAME_FIELD),
                    ("tenancies", "id_cipher", crate::rental::TENANT_ID_FIELD),
                    ("tenancies", "phone_cipher", crate::rental::TENANT_PHONE_FIELD),
                ] {
                    let rows = sqlx::query(&format!("SELECT id, {column} AS sealed FROM {table} WHERE {column} IS NOT NULL"))
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in rows {
                        let id: i64 = row.try_get("id")?;
                        let cipher: Vec<u8> = row.try_get("sealed")?;
                        if crate::PersonalDataKeys::sealed_with(&cipher) == Some(current) {
                            continue;
                        }
                        let plain = self.keys.decrypt(field, &cipher)?;
                        sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
                            .bind(self.keys.encrypt(field, &plain))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        count += 1;
                    }
                }
                // Parties of mediation cases: every sealed column.
                for (column, field) in [
                    ("name_cipher", PARTY_NAME),
                    ("id_number_cipher", PARTY_ID_NUMBER),
                    ("phone_cipher", PARTY_PHONE),
                    ("address_cipher", PARTY_ADDRESS),
                ] {
                    let rows = sqlx::query(&format!(
                        "SELECT id, {column} AS sealed FROM case_parties WHERE {column} IS NOT NULL"
                    ))
                    .fetch_all(&mut *tx)
                    .await?;
                    for row in rows {
                        let id: i64 = row.try_get("id")?;
                        let cipher: Vec<u8> = row.try_get("sealed")?;
                        if crate::PersonalDataKeys::sealed_with(&cipher) == Some(current) {
                            continue;
                        }
                        let plain = self.keys.decrypt(field, &cipher)?;
                        sqlx::query(&format!("UPDATE case_parties SET {column} = $1 WHERE id = $2"))
                            .bind(self.keys.encrypt(field, &plain))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        count += 1;
                    }
                }
                tx.commit().await?;
                Ok(count)
            }

            async fn create_session(&self, token_hash: &[u8], account_id: i64, expires_at: i64) -> crate::Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(account_id)
                .bind(crate::now_ms())
                .bind(expires_at)
                .bind(false)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session_account(&self, token_hash: &[u8], now: i64) -> crate::Result<Option<crate::Account>> {
                let row = sqlx::query(
                    "SELECT a.id, a.username, a.role, a.scope_prefix, a.unit_id, a.display_name, a.phone_masked, \
                     a.disabled, a.created_at FROM sessions s JOIN accounts a ON a.id = s.account_id \
                     WHERE s.token_hash = $1 AND s.revoked = $2 AND s.expires_at > $3 AND a.disabled = $2",
                )
                .bind(token_hash)
                .bind(false)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(shared_rows::account).transpose()
            }

            async fn revoke_session(&self, token_hash: &[u8]) -> crate::Result<()> {
                sqlx::query("UPDATE sessions SET revoked = $1 WHERE token_hash = $2")
                    .bind(true)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_matter(
                &self,
                m: &crate::NewMatter,
                log: &crate::NewLogEntry,
            ) -> crate::Result<(crate::Matter, bool)> {
                // One report is a group of one: the same inserts and chain append.
                match self.create_matters(&[(m.clone(), log.clone())]).await {
                    Ok(mut made) => made
                        .pop()
                        .ok_or_else(|| crate::StoreError::Invalid("the report has no answer".into())),
                    Err(crate::StoreError::Conflict(what)) if m.idempotency_key.is_some() => {
                        // The same report arrived twice at once: the other copy won.
                        let key = m.idempotency_key.clone().unwrap_or_default();
                        matter_by_key(&self.pool, &key)
                            .await?
                            .map(|existing| (existing, false))
                            .ok_or(crate::StoreError::Conflict(what))
                    }
                    Err(e) => Err(e),
                }
            }

            async fn create_matters(
                &self,
                batch: &[(crate::NewMatter, crate::NewLogEntry)],
            ) -> crate::Result<Vec<(crate::Matter, bool)>> {
                use sqlx::Row;
                use std::collections::HashMap;
                let mut tx = self.writer.begin().await?;
                // Reports already filed under their idempotency keys.
                let mut existing: HashMap<String, crate::Matter> = HashMap::new();
                let keys: Vec<&str> = batch.iter().filter_map(|(m, _)| m.idempotency_key.as_deref()).collect();
                for chunk in bulk_chunks(&keys) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {MATTER_COLUMNS}, idempotency_key FROM matters WHERE idempotency_key IN ("
                    ));
                    let mut list = q.separated(", ");
                    for k in chunk {
                        list.push_bind(*k);
                    }
                    q.push(")");
                    for row in q.build().fetch_all(&mut *tx).await? {
                        existing.insert(row.try_get("idempotency_key")?, shared_rows::matter(&row)?);
                    }
                }
                // The reports to insert: new keys once, and reports without a key.
                let mut fresh: Vec<usize> = Vec::with_capacity(batch.len());
                let mut first_with_key: HashMap<&str, usize> = HashMap::new();
                for (i, (m, _)) in batch.iter().enumerate() {
                    if let Some(k) = m.idempotency_key.as_deref() {
                        if existing.contains_key(k) || first_with_key.contains_key(k) {
                            continue;
                        }
                        first_with_key.insert(k, i);
                    }
                    fresh.push(i);
                }
                let contacts: Vec<(Option<Vec<u8>>, Option<String>)> = fresh
                    .iter()
                    .map(|&i| {
                        let contact = batch[i].0.contact.as_deref().map(str::trim).filter(|c| !c.is_empty());
                        (
                            contact.map(|c| self.keys.encrypt(CONTACT_FIELD, c)),
                            contact.map(pingan_domain::mask::mask_phone),
                        )
                    })
                    .collect();
                // One multi-row INSERT per chunk: a round trip per chunk, not per report.
                let mut ids: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
                for (chunk, sealed) in bulk_chunks(&fresh).into_iter().zip(bulk_chunks(&contacts)) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO matters (tracking_code, idempotency_key, state, version, category_code, severity, description, \
                         grid_code, lng, lat, source, reporter_id, contact_cipher, contact_masked, holder, next_due, created_at, updated_at) ",
                    );
                    q.push_values(chunk.iter().zip(sealed), |mut row, (&i, (cipher, masked))| {
                        let (m, log) = &batch[i];
                        row.push_bind(&m.tracking_code)
                            .push_bind(&m.idempotency_key)
                            .push_bind(&m.state)
                            .push_bind(1_i64)
                            .push_bind(&m.category_code)
                            .push_bind(&m.severity)
                            .push_bind(&m.description)
                            .push_bind(&m.grid_code)
                            .push_bind(m.lng)
                            .push_bind(m.lat)
                            .push_bind(&m.source)
                            .push_bind(m.reporter_id)
                            .push_bind(cipher)
                            .push_bind(masked)
                            .push_bind(&m.holder)
                            .push_bind(m.next_due)
                            .push_bind(log.at)
                            .push_bind(log.at);
                    });
                    q.push(" RETURNING id, tracking_code");
                    let rows = q
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| map_insert_error(e, "report"))?;
                    for row in rows {
                        ids.insert(row.try_get("tracking_code")?, row.try_get("id")?);
                    }
                }
                let id_of = |i: usize| -> crate::Result<i64> {
                    ids.get(&batch[i].0.tracking_code).copied().ok_or_else(|| {
                        crate::StoreError::Invalid("a report of the batch was not written".into())
                    })
                };
                let mut entries = Vec::with_capacity(fresh.len());
                for &i in &fresh {
                    let (m, log) = &batch[i];
                    let id = id_of(i)?;
                    insert_photos_tx(&mut tx, id, &m.photos, log.at).await?;
                    let mut entry = log.clone();
                    entry.subject = format!("matter:{id}");
                    entries.push(entry);
                }
                append_logs_tx(&mut tx, &entries).await?;
                // The group's indicator cells, summed in Rust and upserted once per cell.
                let mut cells = std::collections::BTreeMap::new();
                for &i in &fresh {
                    let (m, log) = &batch[i];
                    if let Some(f) = crate::cells::report_facts(m) {
                        pingan_domain::indicators::accumulate(
                            &mut cells,
                            pingan_domain::indicators::deltas(None, &f, &log.action, None, log.at),
                        );
                    }
                }
                add_indicator_cells_tx(&mut tx, &cells).await?;
                tx.commit().await?;

                let mut made: HashMap<usize, crate::Matter> = HashMap::with_capacity(fresh.len());
                for (&i, (_, masked)) in fresh.iter().zip(contacts) {
                    let (m, log) = &batch[i];
                    made.insert(i, new_matter(id_of(i)?, m, masked, log.at));
                }
                batch
                    .iter()
                    .enumerate()
                    .map(|(i, (m, _))| {
                        if let Some(matter) = made.get(&i) {
                            return Ok((matter.clone(), true));
                        }
                        let key = m.idempotency_key.as_deref().unwrap_or_default();
                        existing
                            .get(key)
                            .cloned()
                            .or_else(|| first_with_key.get(key).and_then(|f| made.get(f)).cloned())
                            .map(|matter| (matter, false))
                            .ok_or_else(|| crate::StoreError::Invalid("a report of the batch has no answer".into()))
                    })
                    .collect()
            }

            async fn import_matter_histories(&self, batch: &[crate::MatterHistory]) -> crate::Result<Vec<crate::Matter>> {
                use sqlx::Row;
                use std::collections::HashMap;
                // Every step in memory first, through the same update and deltas as one action.
                let mut cells = std::collections::BTreeMap::new();
                let mut rows: Vec<(crate::Matter, Option<Vec<u8>>)> = Vec::with_capacity(batch.len());
                for h in batch {
                    let contact = h.report.contact.as_deref().map(str::trim).filter(|c| !c.is_empty());
                    let mut m = new_matter(0, &h.report, contact.map(pingan_domain::mask::mask_phone), h.log.at);
                    if let Some(f) = crate::cells::report_facts(&h.report) {
                        pingan_domain::indicators::accumulate(
                            &mut cells,
                            pingan_domain::indicators::deltas(None, &f, &h.log.action, None, h.log.at),
                        );
                    }
                    for (change, log) in &h.actions {
                        let before = m.clone();
                        change.apply(&mut m, log.at);
                        crate::cells::action_deltas(&mut cells, &before, &m, &log.action, change.rating, log.at);
                    }
                    rows.push((m, contact.map(|c| self.keys.encrypt(CONTACT_FIELD, c))));
                }
                let mut tx = self.writer.begin().await?;
                let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
                for (chunk, histories) in bulk_chunks(&rows).into_iter().zip(bulk_chunks(batch)) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO matters (tracking_code, idempotency_key, state, version, category_code, severity, description, \
                         grid_code, lng, lat, source, reporter_id, contact_cipher, contact_masked, holder, assigned_unit_id, deadline, \
                         rework_count, rating, overdue, next_due, created_at, updated_at, supervised, time_limit, closed_at, \
                         merged_into, milestones, milestone_due) ",
                    );
                    q.push_values(chunk.iter().zip(histories), |mut row, ((m, cipher), h)| {
                        row.push_bind(&m.tracking_code)
                            .push_bind(&h.report.idempotency_key)
                            .push_bind(&m.state)
                            .push_bind(m.version)
                            .push_bind(&m.category_code)
                            .push_bind(&m.severity)
                            .push_bind(&m.description)
                            .push_bind(&m.grid_code)
                            .push_bind(m.lng)
                            .push_bind(m.lat)
                            .push_bind(&m.source)
                            .push_bind(m.reporter_id)
                            .push_bind(cipher)
                            .push_bind(&m.contact_masked)
                            .push_bind(&m.holder)
                            .push_bind(m.assigned_unit_id)
                            .push_bind(m.deadline)
                            .push_bind(m.rework_count)
                            .push_bind(m.rating)
                            .push_bind(m.overdue)
                            .push_bind(m.next_due)
                            .push_bind(m.created_at)
                            .push_bind(m.updated_at)
                            .push_bind(m.supervised)
                            .push_bind(&m.time_limit)
                            .push_bind(m.closed_at)
                            .push_bind(m.merged_into)
                            .push_bind(&m.milestones)
                            .push_bind(m.milestone_due);
                    });
                    q.push(" RETURNING id, tracking_code");
                    let made = q.build().fetch_all(&mut *tx).await.map_err(|e| map_insert_error(e, "matter"))?;
                    for row in made {
                        ids.insert(row.try_get("tracking_code")?, row.try_get("id")?);
                    }
                }
                let mut photos: Vec<(i64, &crate::PhotoRef, i64)> = Vec::new();
                let mut entries: Vec<crate::NewLogEntry> = Vec::new();
                for ((m, _), h) in rows.iter_mut().zip(batch) {
                    m.id = ids
                        .get(&m.tracking_code)
                        .copied()
                        .ok_or_else(|| crate::StoreError::Invalid("a matter of the batch was not written".into()))?;
                    let steps = std::iter::once((&h.report.photos, &h.log))
                        .chain(h.actions.iter().map(|(c, l)| (&c.photos, l)));
                    for (refs, log) in steps {
                        photos.extend(refs.iter().map(|p| (m.id, p, log.at)));
                        let mut entry = log.clone();
                        entry.subject = format!("matter:{}", m.id);
                        entries.push(entry);
                    }
                }
                for chunk in bulk_chunks(&photos) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO matter_photos (matter_id, sha256, kind, stage, created_at) ",
                    );
                    q.push_values(chunk, |mut row, (id, p, at)| {
                        row.push_bind(*id).push_bind(&p.sha256).push_bind(&p.kind).push_bind(&p.stage).push_bind(*at);
                    });
                    q.push(" ON CONFLICT (matter_id, sha256) DO NOTHING");
                    q.build().execute(&mut *tx).await?;
                }
                append_logs_tx(&mut tx, &entries).await?;
                add_indicator_cells_tx(&mut tx, &cells).await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(|(m, _)| m).collect())
            }

            async fn matter(&self, scope: &pingan_domain::Scope, id: i64) -> crate::Result<Option<crate::Matter>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let row = sqlx::query(&format!(
                    "SELECT {MATTER_COLUMNS} FROM matters WHERE id = $1 AND grid_code >= $2 AND grid_code < $3"
                ))
                .bind(id)
                .bind(lo)
                .bind(hi)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(shared_rows::matter).transpose()
            }

            async fn matter_by_tracking_code(&self, code: &str) -> crate::Result<Option<crate::Matter>> {
                let row = sqlx::query(&format!("SELECT {MATTER_COLUMNS} FROM matters WHERE tracking_code = $1"))
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(shared_rows::matter).transpose()
            }

            async fn matters(
                &self,
                scope: &pingan_domain::Scope,
                filter: &crate::MatterFilter,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Matter>> {
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {MATTER_COLUMNS} FROM matters WHERE "));
                if !push_matter_filter(&mut q, scope, filter) {
                    return Ok(Vec::new());
                }
                q.push(" AND id < ").push_bind(before);
                q.push(" ORDER BY id DESC LIMIT ").push_bind(page.limit());
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(shared_rows::matter).collect()
            }

            async fn count_matters(&self, scope: &pingan_domain::Scope, filter: &crate::MatterFilter) -> crate::Result<i64> {
                use sqlx::Row;
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) AS n FROM matters WHERE ");
                if !push_matter_filter(&mut q, scope, filter) {
                    return Ok(0);
                }
                Ok(q.build().fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn matters_by_ids(&self, ids: &[i64]) -> crate::Result<Vec<crate::Matter>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in bulk_chunks(ids) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {MATTER_COLUMNS} FROM matters WHERE id IN ("));
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    for row in q.build().fetch_all(&self.pool).await? {
                        out.push(shared_rows::matter(&row)?);
                    }
                }
                Ok(out)
            }

            async fn due_matters(&self, now: i64, limit: u32) -> crate::Result<Vec<crate::Matter>> {
                let rows = sqlx::query(&format!(
                    "SELECT {MATTER_COLUMNS} FROM matters WHERE (next_due IS NOT NULL AND next_due <= $1) \
                     OR (milestone_due IS NOT NULL AND milestone_due <= $1) ORDER BY id LIMIT $2"
                ))
                .bind(now)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::matter).collect()
            }

            async fn clear_matter_schedule(&self, id: i64) -> crate::Result<()> {
                sqlx::query("UPDATE matters SET next_due = NULL, milestone_due = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn reschedule_milestones(&self, id: i64, due: Option<i64>) -> crate::Result<()> {
                sqlx::query("UPDATE matters SET milestone_due = $1 WHERE id = $2")
                    .bind(due)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn apply_matter_action(
                &self,
                scope: &pingan_domain::Scope,
                id: i64,
                version: i64,
                change: &crate::MatterChange,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::Matter> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut tx = self.writer.begin().await?;
                if !apply_matter_change_tx(&mut tx, (&lo, &hi), id, version, change, log).await? {
                    drop(tx);
                    return Err(match self.matter(scope, id).await? {
                        Some(m) => crate::StoreError::Conflict(format!(
                            "matter {id} is at version {}, not {version}",
                            m.version
                        )),
                        None => crate::StoreError::NotFound(format!("matter {id}")),
                    });
                }
                let row = sqlx::query(&format!("SELECT {MATTER_COLUMNS} FROM matters WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let after = shared_rows::matter(&row)?;
                tx.commit().await?;
                Ok(after)
            }

            async fn create_patrol(&self, p: &crate::NewPatrol) -> crate::Result<(crate::Patrol, bool)> {
                use sqlx::Row;
                let inserted = sqlx::query(
                    "INSERT INTO patrols (idempotency_key, account_id, grid_code, started_at, ended_at, notes, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(p.idempotency_key.as_deref())
                .bind(p.account_id)
                .bind(p.grid_code.as_str())
                .bind(p.started_at)
                .bind(p.ended_at)
                .bind(p.notes.as_str())
                .bind(p.created_at)
                .fetch_optional(&self.writer)
                .await?;
                let (id, created) = match inserted {
                    Some(row) => (row.try_get::<i64, _>("id")?, true),
                    None => {
                        let row = sqlx::query("SELECT id FROM patrols WHERE idempotency_key = $1")
                            .bind(p.idempotency_key.as_deref())
                            .fetch_one(&self.pool)
                            .await?;
                        (row.try_get::<i64, _>("id")?, false)
                    }
                };
                let stored = self
                    .patrol(&pingan_domain::Scope::everywhere(), id)
                    .await?
                    .ok_or(crate::StoreError::Invalid(format!("patrol {id} vanished")))?;
                Ok((stored, created))
            }

            async fn patrols(
                &self,
                scope: &pingan_domain::Scope,
                under: &str,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Patrol>> {
                let under = pingan_domain::Scope::parse(under).map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
                let Some(reach) = scope.intersect(&under) else {
                    return Ok(Vec::new());
                };
                let (lo, hi) = crate::queries::prefix_range(reach.prefix());
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let rows = sqlx::query(
                    "SELECT p.id, p.account_id, a.display_name, p.grid_code, p.started_at, p.ended_at, p.notes, p.created_at \
                     FROM patrols p JOIN accounts a ON a.id = p.account_id \
                     WHERE p.grid_code >= $1 AND p.grid_code < $2 AND p.id < $3 ORDER BY p.id DESC LIMIT $4",
                )
                .bind(lo)
                .bind(hi)
                .bind(before)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(shared_rows::patrol).collect()
            }

            async fn patrol(&self, scope: &pingan_domain::Scope, id: i64) -> crate::Result<Option<crate::Patrol>> {
                let row = sqlx::query(
                    "SELECT p.id, p.account_id, a.display_name, p.grid_code, p.started_at, p.ended_at, p.notes, p.created_at \
                     FROM patrols p JOIN accounts a ON a.id = p.account_id WHERE p.id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => {
                        let p = shared_rows::patrol(&r)?;
                        Ok(scope.covers(&p.grid_code).then_some(p))
                    }
                    None => Ok(None),
                }
            }

            async fn tally_matters(
                &self,
                scope: &pingan_domain::Scope,
                filter: &crate::MatterFilter,
                by: crate::TallyBy,
            ) -> crate::Result<Vec<crate::MatterTally>> {
                use sqlx::Row;
                let key = match by {
                    crate::TallyBy::GridPrefix(n) => format!("substr(grid_code, 1, {})", n.clamp(2, 15)),
                    crate::TallyBy::Category => "COALESCE(category_code, '')".to_string(),
                };
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {key} AS k, state, overdue, COUNT(*) AS n FROM matters WHERE "
                ));
                if !push_matter_filter(&mut q, scope, filter) {
                    return Ok(Vec::new());
                }
                q.push(" GROUP BY k, state, overdue ORDER BY k, state");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::MatterTally {
                            key: r.try_get("k")?,
                            state: r.try_get("state")?,
                            overdue: r.try_get("overdue")?,
                            count: r.try_get("n")?,
                        })
                    })
                    .collect()
            }

            async fn deadline_cohort(
                &self,
                scope: &pingan_domain::Scope,
                filter: &crate::MatterFilter,
                from: i64,
                to: i64,
            ) -> crate::Result<crate::DeadlineCohort> {
                use sqlx::Row;
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT COUNT(*) AS due, \
                     COALESCE(SUM(CASE WHEN state = 'suspended' THEN 1 ELSE 0 END), 0) AS suspended, \
                     COALESCE(SUM(CASE WHEN state IN ('closed', 'rated') THEN 1 ELSE 0 END), 0) AS closed, \
                     COALESCE(SUM(CASE WHEN state IN ('closed', 'rated') AND closed_at <= deadline \
                         THEN 1 ELSE 0 END), 0) AS on_time \
                     FROM matters WHERE ",
                );
                if !push_matter_filter(&mut q, scope, filter) {
                    return Ok(crate::DeadlineCohort::default());
                }
                q.push(" AND deadline >= ").push_bind(from).push(" AND deadline < ").push_bind(to);
                let row = q.build().fetch_one(&self.pool).await?;
                Ok(crate::DeadlineCohort {
                    due: row.try_get("due")?,
                    suspended: row.try_get("suspended")?,
                    closed: row.try_get("closed")?,
                    closed_on_time: row.try_get("on_time")?,
                })
            }

            async fn indicator_sums(
                &self,
                scope: &pingan_domain::Scope,
                q: &crate::CellQuery,
            ) -> crate::Result<Vec<(String, pingan_domain::indicators::Counters)>> {
                use pingan_domain::indicators::{Counter, Counters};
                use sqlx::Row;
                if !scope.covers(&q.under) || q.under.len() > 9 {
                    return Ok(Vec::new());
                }
                let by_category = q.category.is_some() || q.group == crate::CellGroup::Category;
                // A county's categories come from the county table unless townships are asked for.
                let fine = q.under.len() >= 9 || q.group == crate::CellGroup::Region(9);
                let one_county = q.under.len() == 6 && q.group != crate::CellGroup::Region(9);
                let (table, region) = match (by_category || one_county, fine) {
                    (false, _) => ("indicator_township_days", "township"),
                    (true, true) => ("indicator_cells", "township"),
                    (true, false) => ("indicator_county_cells", "county"),
                };
                let key = match q.group {
                    crate::CellGroup::Total => "''".to_string(),
                    crate::CellGroup::Region(n) => format!("substr({region}, 1, {})", n.clamp(2, 9)),
                    crate::CellGroup::Category => "category".to_string(),
                    crate::CellGroup::Day => "CAST(day AS TEXT)".to_string(),
                };
                let sums: Vec<String> = Counter::ALL
                    .iter()
                    .map(|c| format!("CAST(SUM({0}) AS BIGINT) AS {0}", c.as_str()))
                    .collect();
                // Whole months of township totals come from their monthly
                // rollup, the days at the edges from the day cells.
                let pieces: Vec<(&str, i64, i64)> = if table == "indicator_township_days" && q.group != crate::CellGroup::Day {
                    let split = pingan_domain::indicators::split_months(q.first_day, q.last_day);
                    split
                        .months
                        .map(|(a, b)| ("indicator_township_months", a, b))
                        .into_iter()
                        .chain(split.days.into_iter().map(|(a, b)| (table, a, b)))
                        .collect()
                } else {
                    vec![(table, q.first_day, q.last_day)]
                };
                let width = if region == "county" { 6 } else { 9 };
                let mut out: Vec<(String, Counters)> = Vec::new();
                for (n, (table, first_day, last_day)) in pieces.iter().enumerate() {
                    let mut b = sqlx::QueryBuilder::<$db>::new(format!("SELECT {key} AS k, {} FROM {table} WHERE day >= ", sums.join(", ")));
                    b.push_bind(*first_day).push(" AND day <= ").push_bind(*last_day);
                    if q.under.len() == width {
                        // One region: its index on (region, day) reads only the period's rows.
                        b.push(format!(" AND {region} = ")).push_bind(q.under.clone());
                    } else {
                        let (lo, hi) = crate::queries::prefix_range(&q.under);
                        b.push(format!(" AND {region} >= "))
                            .push_bind(lo)
                            .push(format!(" AND {region} < "))
                            .push_bind(hi);
                    }
                    match q.category.as_deref() {
                        Some("") => {
                            b.push(" AND category = ''");
                        }
                        Some(c) => {
                            let (lo, hi) = crate::queries::prefix_range(c);
                            b.push(" AND category >= ").push_bind(lo).push(" AND category < ").push_bind(hi);
                        }
                        None => {}
                    }
                    b.push(" GROUP BY k ORDER BY k");
                    let rows = b.build().fetch_all(&self.pool).await?;
                    let rows = rows.iter().map(|r| {
                        let mut c = Counters::default();
                        for &counter in Counter::ALL {
                            c[counter] = r.try_get::<Option<i64>, _>(counter.as_str())?.unwrap_or(0);
                        }
                        Ok((r.try_get("k")?, c))
                    });
                    if n == 0 {
                        out = rows.collect::<crate::Result<_>>()?;
                    } else {
                        let mut merged: std::collections::BTreeMap<String, Counters> = std::mem::take(&mut out).into_iter().collect();
                        for row in rows {
                            let (k, c) = row?;
                            *merged.entry(k).or_default() += &c;
                        }
                        out = merged.into_iter().collect();
                    }
                }
                Ok(out)
            }

            async fn replace_indicator_cells(
                &self,
                cells: &std::collections::BTreeMap<pingan_domain::indicators::CellKey, pingan_domain::indicators::Counters>,
            ) -> crate::Result<()> {
                let mut tx = self.writer.begin().await?;
                for table in ["indicator_cells", "indicator_township_days", "indicator_township_months", "indicator_county_cells"] {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
                add_indicator_cells_tx(&mut tx, cells).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn add_indicator_cells(
                &self,
                cells: &std::collections::BTreeMap<pingan_domain::indicators::CellKey, pingan_domain::indicators::Counters>,
            ) -> crate::Result<()> {
                let mut tx = self.writer.begin().await?;
                add_indicator_cells_tx(&mut tx, cells).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn indicator_cells(
                &self,
            ) -> crate::Result<Vec<(pingan_domain::indicators::CellKey, pingan_domain::indicators::Counters)>> {
                use pingan_domain::indicators::{CellKey, Counter, Counters};
                use sqlx::Row;
                let names: Vec<&str> = Counter::ALL.iter().map(|c| c.as_str()).collect();
                let rows = sqlx::query(&format!(
                    "SELECT day, township, category, {} FROM indicator_cells ORDER BY day, township, category",
                    names.join(", ")
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let mut c = Counters::default();
                        for &counter in Counter::ALL {
                            c[counter] = r.try_get(counter.as_str())?;
                        }
                        Ok((
                            CellKey {
                                day: r.try_get("day")?,
                                township: r.try_get("township")?,
                                category: r.try_get("category")?,
                            },
                            c,
                        ))
                    })
                    .collect()
            }

            async fn indicator_township_months(
                &self,
            ) -> crate::Result<Vec<((i64, String), pingan_domain::indicators::Counters)>> {
                use pingan_domain::indicators::{Counter, Counters};
                use sqlx::Row;
                let names: Vec<&str> = Counter::ALL.iter().map(|c| c.as_str()).collect();
                let rows = sqlx::query(&format!(
                    "SELECT day, township, {} FROM indicator_township_months ORDER BY day, township",
                    names.join(", ")
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let mut c = Counters::default();
                        for &counter in Counter::ALL {
                            c[counter] = r.try_get(counter.as_str())?;
                        }
                        Ok(((r.try_get("day")?, r.try_get("township")?), c))
                    })
                    .collect()
            }

            async fn logs_of_matters(&self, ids: &[i64]) -> crate::Result<Vec<crate::LogEntry>> {
                let mut out = Vec::new();
                for chunk in bulk_chunks(ids) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {LOG_COLUMNS} FROM event_log WHERE subject IN ("));
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(format!("matter:{id}"));
                    }
                    q.push(") ORDER BY seq");
                    for row in q.build().fetch_all(&self.pool).await? {
                        out.push(shared_rows::log_entry(&row)?);
                    }
                }
                out.sort_by_key(|e| e.seq);
                Ok(out)
            }

            async fn alerts(&self, under: &str, page: &crate::Page) -> crate::Result<Vec<crate::Notification>> {
                use sqlx::Row;
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let (lo, hi) = crate::queries::prefix_range(&format!("centre:{under}"));
                let rows = sqlx::query(
                    "SELECT id, at, audience, kind, subject, log_seq, title_zh, title_en FROM notifications \
                     WHERE kind = 'alert' AND id < $1 AND audience >= $2 AND audience < $3 AND length(audience) = 16 \
                     ORDER BY id DESC LIMIT $4",
                )
                .bind(before)
                .bind(lo)
                .bind(hi)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::Notification {
                            id: r.try_get("id")?,
                            at: r.try_get("at")?,
                            audience: r.try_get("audience")?,
                            kind: r.try_get("kind")?,
                            subject: r.try_get("subject")?,
                            log_seq: r.try_get("log_seq")?,
                            title_zh: r.try_get("title_zh")?,
                            title_en: r.try_get("title_en")?,
                            read: false,
                        })
                    })
                    .collect()
            }

            async fn latest_setting(&self, name: &str) -> crate::Result<Option<(i64, String)>> {
                use sqlx::Row;
                let row = sqlx::query("SELECT version, body FROM settings WHERE name = $1 ORDER BY version DESC LIMIT 1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((r.try_get("version")?, r.try_get("body")?))).transpose()
            }

            async fn save_setting(
                &self,
                name: &str,
                expected: Option<i64>,
                body: &str,
                by: Option<i64>,
                at: i64,
            ) -> crate::Result<i64> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                let current: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("v")?;
                if current != expected {
                    return Err(crate::StoreError::Conflict(format!(
                        "{name} is at version {}, not {}",
                        current.unwrap_or(0),
                        expected.unwrap_or(0)
                    )));
                }
                let version = current.unwrap_or(0) + 1;
                sqlx::query("INSERT INTO settings (name, version, body, saved_by, saved_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(name)
                    .bind(version)
                    .bind(body)
                    .bind(by)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_insert_error(e, name))?;
                tx.commit().await?;
                Ok(version)
            }

            async fn region_shapes(&self, codes: &[String]) -> crate::Result<Vec<(String, Vec<u8>)>> {
                use sqlx::Row;
                let mut out = Vec::new();
                for chunk in codes.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT code, geometry FROM region_shapes WHERE code IN (",
                    );
                    let mut list = q.separated(", ");
                    for c in chunk {
                        list.push_bind(c.as_str());
                    }
                    q.push(") ORDER BY code");
                    for r in q.build().fetch_all(&self.pool).await? {
                        out.push((r.try_get("code")?, r.try_get("geometry")?));
                    }
                }
                Ok(out)
            }

            async fn count_matters_by_state(
                &self,
                scope: &pingan_domain::Scope,
                filter: &crate::MatterFilter,
            ) -> crate::Result<Vec<(String, i64)>> {
                use sqlx::Row;
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT state, COUNT(*) AS n FROM matters WHERE ");
                if !push_matter_filter(&mut q, scope, filter) {
                    return Ok(Vec::new());
                }
                q.push(" GROUP BY state ORDER BY state");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
                    .collect()
            }

            async fn dispatch_units(
                &self,
                holder: &str,
                ancestors: &[String],
                kind: Option<pingan_domain::UnitKind>,
            ) -> crate::Result<Vec<crate::Unit>> {
                let (lo, hi) = crate::queries::prefix_range(holder);
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, name, kind, region_code FROM units WHERE ((region_code >= ",
                );
                q.push_bind(lo).push(" AND region_code < ").push_bind(hi).push(")");
                for code in ancestors {
                    q.push(" OR region_code = ").push_bind(code.as_str());
                }
                q.push(")");
                if let Some(kind) = kind {
                    q.push(" AND kind = ").push_bind(kind.as_str());
                }
                q.push(" ORDER BY region_code, id LIMIT 500");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(shared_rows::unit).collect()
            }

            async fn matter_contact_is(&self, id: i64, phone: &str) -> crate::Result<bool> {
                use sqlx::Row;
                let row = sqlx::query("SELECT contact_cipher FROM matters WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let cipher: Option<Vec<u8>> = match row {
                    Some(r) => r.try_get("contact_cipher")?,
                    None => None,
                };
                let Some(cipher) = cipher else { return Ok(false) };
                let contact = self.keys.decrypt(CONTACT_FIELD, &cipher)?;
                Ok(contact.trim() == phone.trim())
            }

            async fn matter_photos(&self, matter_id: i64) -> crate::Result<Vec<crate::PhotoRef>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT sha256, kind, stage FROM matter_photos WHERE matter_id = $1 ORDER BY created_at, sha256",
                )
                .bind(matter_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::PhotoRef {
                            sha256: r.try_get("sha256")?,
                            kind: r.try_get("kind")?,
                            stage: r.try_get("stage")?,
                        })
                    })
                    .collect()
            }

            async fn create_committee(
                &self,
                scope: &pingan_domain::Scope,
                unit: &crate::NewUnit,
                specialty: &str,
            ) -> crate::Result<crate::Committee> {
                use sqlx::Row;
                if !scope.covers(unit.region.as_str()) {
                    return Err(crate::StoreError::OutOfScope(unit.region.to_string()));
                }
                let name = unit.name.trim();
                if name.is_empty() {
                    return Err(crate::StoreError::Invalid("a unit needs a name".into()));
                }
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query(
                    "INSERT INTO units (name, kind, region_code, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(name)
                .bind(pingan_domain::UnitKind::MediationCommittee.as_str())
                .bind(unit.region.as_str())
                .bind(crate::now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "unit"))?;
                let id: i64 = row.try_get("id")?;
                sqlx::query("INSERT INTO mediation_committees (unit_id, specialty) VALUES ($1, $2)")
                    .bind(id)
                    .bind(specialty)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(crate::Committee {
                    id,
                    name: name.to_string(),
                    region_code: unit.region.to_string(),
                    specialty: specialty.to_string(),
                })
            }

            async fn committee(&self, id: i64) -> crate::Result<Option<crate::Committee>> {
                let row = sqlx::query(&format!("{COMMITTEE_SELECT} AND u.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(committee_row).transpose()
            }

            async fn committees(
                &self,
                scope: &pingan_domain::Scope,
                regions: &[String],
            ) -> crate::Result<Vec<crate::Committee>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut q = sqlx::QueryBuilder::<$db>::new(COMMITTEE_SELECT);
                q.push(" AND ((u.region_code >= ").push_bind(lo).push(" AND u.region_code < ").push_bind(hi).push(")");
                if !regions.is_empty() {
                    q.push(" OR u.region_code IN (");
                    let mut list = q.separated(", ");
                    for r in regions {
                        list.push_bind(r.as_str());
                    }
                    q.push(")");
                }
                q.push(") ORDER BY u.id LIMIT 1000");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(committee_row).collect()
            }

            async fn create_case(
                &self,
                case: &crate::NewCase,
                parties: &[crate::NewParty],
                log: &crate::NewLogEntry,
                matter: Option<&crate::LinkedMatterChange>,
            ) -> crate::Result<(crate::Case, bool)> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                if let Some(key) = &case.idempotency_key {
                    let known = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE idempotency_key = $1"))
                        .bind(key)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(row) = known {
                        return Ok((case_row(&row)?, false));
                    }
                }
                let row = sqlx::query(
                    "INSERT INTO mediation_cases (idempotency_key, state, version, case_type, matter_id, committee_id, holder, place_code, \
                     title, facts, claims, risk_level, risk_reasons, mediators, deadline, sessions, follow_ups, opened_by, opened_at, \
                     updated_at, next_due, reminders_sent) \
                     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '[]', '[]', $15, $16, $16, $17, '[]') RETURNING id",
                )
                .bind(case.idempotency_key.as_deref())
                .bind(pingan_domain::mediation::INITIAL.as_str())
                .bind(&case.case_type)
                .bind(case.matter_id)
                .bind(case.committee_id)
                .bind(&case.holder)
                .bind(&case.place_code)
                .bind(&case.title)
                .bind(&case.facts)
                .bind(&case.claims)
                .bind(&case.risk_level)
                .bind(&case.risk_reasons)
                .bind(&case.mediators)
                .bind(case.deadline)
                .bind(case.opened_by)
                .bind(case.opened_at)
                .bind(case.next_due)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "case"))?;
                let id: i64 = row.try_get("id")?;
                // 调解案号: (year) region 调字第 id 号, unique by the id.
                let year = pingan_domain::calendar::LocalDate::from_utc_ms(case.opened_at).year();
                let number = format!("（{year}）{}调字第{id}号", &case.holder);
                sqlx::query("UPDATE mediation_cases SET case_number = $1 WHERE id = $2")
                    .bind(&number)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for (i, p) in parties.iter().enumerate() {
                    self.insert_party_tx(&mut tx, id, i as i64 + 1, p).await?;
                }
                if let Some(link) = matter {
                    // The matter's entry names the case it opened (its body is
                    // a JSON object), so both logs point at each other.
                    let mut log = link.log.clone();
                    log.body = match log.body.strip_prefix('{') {
                        Some(rest) if rest.trim_start().starts_with('}') => format!("{{\"case_id\":{id}}}"),
                        Some(rest) => format!("{{\"case_id\":{id},{rest}"),
                        None => log.body,
                    };
                    let everywhere = crate::queries::prefix_range("");
                    if !apply_matter_change_tx(&mut tx, (&everywhere.0, &everywhere.1), link.matter_id, link.version, &link.change, &log).await? {
                        return Err(crate::StoreError::Conflict(format!(
                            "matter {} is no longer at version {}",
                            link.matter_id, link.version
                        )));
                    }
                }
                let mut entry = log.clone();
                entry.subject = format!("case:{id}");
                append_log_tx(&mut tx, &entry).await?;
                let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((case_row(&row)?, true))
            }

            async fn case(&self, reach: &crate::CaseReach, id: i64) -> crate::Result<Option<crate::Case>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE id = "));
                q.push_bind(id).push(" AND ");
                push_case_reach(&mut q, reach);
                let row = q.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(case_row).transpose()
            }

            async fn cases(
                &self,
                reach: &crate::CaseReach,
                filter: &crate::CaseFilter,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Case>> {
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE id < "));
                q.push_bind(before).push(" AND ");
                push_case_reach(&mut q, reach);
                push_case_filter(&mut q, filter);
                q.push(" ORDER BY id DESC LIMIT ").push_bind(page.limit());
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(case_row).collect()
            }

            async fn all_cases(&self, reach: &crate::CaseReach, filter: &crate::CaseFilter) -> crate::Result<Vec<crate::Case>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE "));
                push_case_reach(&mut q, reach);
                push_case_filter(&mut q, filter);
                q.push(" ORDER BY id");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(case_row).collect()
            }

            async fn case_of_matter(&self, matter_id: i64) -> crate::Result<Option<crate::Case>> {
                let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE matter_id = $1"))
                    .bind(matter_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(case_row).transpose()
            }

            async fn apply_case_action(
                &self,
                reach: &crate::CaseReach,
                id: i64,
                version: i64,
                change: &crate::CaseChange,
                log: &crate::NewLogEntry,
                matter: Option<&crate::LinkedMatterChange>,
            ) -> crate::Result<crate::Case> {
                let Some(current) = self.case(reach, id).await? else {
                    return Err(crate::StoreError::NotFound(format!("case {id}")));
                };
                let mut tx = self.writer.begin().await?;
                let (set_due, next_due) = match change.next_due {
                    Some(d) => (true, d),
                    None => (false, None),
                };
                let updated = sqlx::query(
                    "UPDATE mediation_cases SET state = $1, version = version + 1, updated_at = $2, \
                     committee_id = COALESCE($3, committee_id), holder = COALESCE($4, holder), case_type = COALESCE($5, case_type), \
                     title = COALESCE($6, title), facts = COALESCE($7, facts), claims = COALESCE($8, claims), \
                     risk_level = COALESCE($9, risk_level), risk_reasons = COALESCE($10, risk_reasons), \
                     mediators = COALESCE($11, mediators), deadline = COALESCE($12, deadline), sessions = COALESCE($13, sessions), \
                     follow_ups = COALESCE($14, follow_ups), agreement = COALESCE($15, agreement), \
                     confirmation = COALESCE($16, confirmation), outcome = COALESCE($17, outcome), referral = COALESCE($18, referral), \
                     ended_at = COALESCE($19, ended_at), next_due = CASE WHEN $20 THEN $21 ELSE next_due END, \
                     reminders_sent = COALESCE($22, reminders_sent) \
                     WHERE id = $23 AND version = $24",
                )
                .bind(&change.state)
                .bind(log.at)
                .bind(change.committee_id)
                .bind(&change.holder)
                .bind(&change.case_type)
                .bind(&change.title)
                .bind(&change.facts)
                .bind(&change.claims)
                .bind(&change.risk_level)
                .bind(&change.risk_reasons)
                .bind(&change.mediators)
                .bind(change.deadline)
                .bind(&change.sessions)
                .bind(&change.follow_ups)
                .bind(&change.agreement)
                .bind(&change.confirmation)
                .bind(&change.outcome)
                .bind(&change.referral)
                .bind(change.ended_at)
                .bind(set_due)
                .bind(next_due)
                .bind(&change.reminders_sent)
                .bind(id)
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "case action"))?
                .rows_affected();
                if updated == 0 {
                    return Err(crate::StoreError::Conflict(format!(
                        "case {id} is at version {}, not {version}",
                        current.version
                    )));
                }
                for (seq, phone, address) in &change.party_contacts {
                    let (phone_cipher, phone_hash, phone_masked) = self.encrypt_field(PARTY_PHONE, phone.as_deref(), pingan_domain::mask::mask_phone);
                    let address_cipher = address.as_deref().map(|a| self.keys.encrypt(PARTY_ADDRESS, a));
                    sqlx::query(
                        "UPDATE case_parties SET phone_cipher = COALESCE($1, phone_cipher), phone_hash = COALESCE($2, phone_hash), \
                         phone_masked = COALESCE($3, phone_masked), address_cipher = COALESCE($4, address_cipher) \
                         WHERE case_id = $5 AND seq = $6",
                    )
                    .bind(phone_cipher)
                    .bind(phone_hash)
                    .bind(phone_masked)
                    .bind(address_cipher)
                    .bind(id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                }
                let mut entry = log.clone();
                entry.subject = format!("case:{id}");
                append_log_tx(&mut tx, &entry).await?;
                if let Some(link) = matter {
                    let everywhere = crate::queries::prefix_range("");
                    if !apply_matter_change_tx(&mut tx, (&everywhere.0, &everywhere.1), link.matter_id, link.version, &link.change, &link.log).await? {
                        return Err(crate::StoreError::Conflict(format!(
                            "matter {} is no longer at version {}",
                            link.matter_id, link.version
                        )));
                    }
                }
                let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM mediation_cases WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                case_row(&row)
            }

            async fn case_parties(&self, case_id: i64) -> crate::Result<Vec<crate::Party>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT seq, kind, side, display_name, id_number_masked, phone_masked, address_cipher IS NOT NULL AS has_address \
                     FROM case_parties WHERE case_id = $1 ORDER BY seq",
                )
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::Party {
                            seq: r.try_get("seq")?,
                            kind: r.try_get("kind")?,
                            side: r.try_get("side")?,
                            display_name: r.try_get("display_name")?,
                            id_number_masked: r.try_get("id_number_masked")?,
                            phone_masked: r.try_get("phone_masked")?,
                            has_address: r.try_get("has_address")?,
                        })
                    })
                    .collect()
            }

            async fn reveal_case_parties(&self, case_id: i64, actor: i64, purpose: &str) -> crate::Result<Vec<crate::PartyInClear>> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                let rows = sqlx::query(
                    "SELECT seq, kind, side, name_cipher, id_number_cipher, phone_cipher, address_cipher \
                     FROM case_parties WHERE case_id = $1 ORDER BY seq",
                )
                .bind(case_id)
                .fetch_all(&mut *tx)
                .await?;
                let open = |field: &str, c: Option<Vec<u8>>| -> crate::Result<Option<String>> {
                    c.map(|c| self.keys.decrypt(field, &c)).transpose().map_err(Into::into)
                };
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let name: Vec<u8> = r.try_get("name_cipher")?;
                    out.push(crate::PartyInClear {
                        seq: r.try_get("seq")?,
                        kind: r.try_get("kind")?,
                        side: r.try_get("side")?,
                        name: self.keys.decrypt(PARTY_NAME, &name)?,
                        id_number: open(PARTY_ID_NUMBER, r.try_get("id_number_cipher")?)?,
                        phone: open(PARTY_PHONE, r.try_get("phone_cipher")?)?,
                        address: open(PARTY_ADDRESS, r.try_get("address_cipher")?)?,
                    });
                }
                sqlx::query(
                    "INSERT INTO audit_log (at, account_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(crate::now_ms())
                .bind(actor)
                .bind("reveal_personal_data")
                .bind(format!("case:{case_id}"))
                .bind(format!("parties ({purpose})"))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(out)
            }

            async fn reschedule_case(&self, id: i64, due: Option<i64>) -> crate::Result<()> {
                sqlx::query("UPDATE mediation_cases SET next_due = $1 WHERE id = $2")
                    .bind(due)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn due_cases(&self, now: i64, limit: u32) -> crate::Result<Vec<crate::Case>> {
                let rows = sqlx::query(&format!(
                    "SELECT {CASE_COLUMNS} FROM mediation_cases WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due LIMIT $2"
                ))
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(case_row).collect()
            }

            async fn record_photo_upload(&self, u: &crate::PhotoUpload) -> crate::Result<()> {
                sqlx::query(
                    "INSERT INTO photo_uploads (sha256, account_id, kind, bytes, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (sha256, account_id) DO NOTHING",
                )
                .bind(&u.sha256)
                .bind(u.account_id)
                .bind(&u.kind)
                .bind(u.bytes)
                .bind(u.at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn photo_upload(&self, sha256: &str, account_id: i64) -> crate::Result<Option<String>> {
                use sqlx::Row;
                let row = sqlx::query("SELECT kind FROM photo_uploads WHERE sha256 = $1 AND account_id = $2")
                    .bind(sha256)
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.try_get("kind")).transpose()?)
            }

            async fn latest_catalogue(&self) -> crate::Result<Option<(i64, String)>> {
                use sqlx::Row;
                let row = sqlx::query("SELECT version, body FROM catalogue_versions ORDER BY version DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((r.try_get("version")?, r.try_get("body")?))).transpose()
            }

            async fn save_catalogue(
                &self,
                expected: Option<i64>,
                body: &str,
                by: Option<i64>,
                at: i64,
            ) -> crate::Result<i64> {
                let version = expected.unwrap_or(0) + 1;
                let mut tx = self.writer.begin().await?;
                let current = latest_catalogue_version(&mut tx).await?;
                if current != expected {
                    return Err(crate::StoreError::Conflict(format!(
                        "the catalogue is at version {}, not {}",
                        current.unwrap_or(0),
                        expected.unwrap_or(0)
                    )));
                }
                sqlx::query("INSERT INTO catalogue_versions (version, body, created_at, created_by) VALUES ($1, $2, $3, $4)")
                    .bind(version)
                    .bind(body)
                    .bind(at)
                    .bind(by)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_insert_error(e, "catalogue version"))?;
                tx.commit().await?;
                Ok(version)
            }

            async fn append_log(&self, entry: &crate::NewLogEntry) -> crate::Result<crate::LogEntry> {
                let mut tx = self.writer.begin().await?;
                let appended = append_log_tx(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(appended)
            }

            async fn log_for(&self, subject: &str) -> crate::Result<Vec<crate::LogEntry>> {
                let rows = sqlx::query(&format!("SELECT {LOG_COLUMNS} FROM event_log WHERE subject = $1 ORDER BY seq"))
                    .bind(subject)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(shared_rows::log_entry).collect()
            }

            async fn verify_log(&self) -> crate::Result<std::result::Result<u64, crate::ChainFault>> {
                use futures_util::TryStreamExt;
                use sqlx::Row;
                // One read transaction, so appends during the walk cannot
                // make the head and the entries disagree.
                let mut tx = self.writer.begin().await?;
                let head = sqlx::query("SELECT seq, hash FROM event_log_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                let (head_seq, head_hash): (i64, Vec<u8>) = (head.try_get("seq")?, head.try_get("hash")?);
                let mut check = crate::chain::ChainCheck::default();
                {
                    let sql = format!("SELECT {LOG_COLUMNS} FROM event_log WHERE seq <= $1 ORDER BY seq");
                    let mut rows = sqlx::query(&sql)
                        .bind(head_seq)
                        .fetch(&mut *tx);
                    while let Some(row) = rows.try_next().await? {
                        check.push(&shared_rows::log_entry(&row)?);
                    }
                }
                tx.commit().await?;
                Ok(check.finish(head_seq, &head_hash))
            }

            async fn audit(&self, entry: &crate::AuditEntry) -> crate::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, account_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(entry.at)
                .bind(entry.account_id)
                .bind(&entry.action)
                .bind(&entry.subject)
                .bind(&entry.detail)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn audit_log(&self, subject: &str) -> crate::Result<Vec<crate::AuditEntry>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT at, account_id, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY id",
                )
                .bind(subject)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::AuditEntry {
                            at: r.try_get("at")?,
                            account_id: r.try_get("account_id")?,
                            action: r.try_get("action")?,
                            subject: r.try_get("subject")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect()
            }

            async fn log_after(&self, seq: i64, limit: u32) -> crate::Result<Vec<crate::LogEntry>> {
                let rows = sqlx::query(&format!("SELECT {LOG_COLUMNS} FROM event_log WHERE seq > $1 ORDER BY seq LIMIT $2"))
                    .bind(seq)
                    .bind(i64::from(limit.clamp(1, crate::Page::MAX_LIMIT)))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(shared_rows::log_entry).collect()
            }

            async fn notifier_cursor(&self) -> crate::Result<i64> {
                use sqlx::Row;
                let row = sqlx::query("SELECT last_seq FROM notifier_cursor WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("last_seq")?)
            }

            async fn record_notifications(
                &self,
                cursor_from: i64,
                cursor_to: i64,
                notifications: &[crate::NewNotification],
                deliveries: &[crate::NewDelivery],
            ) -> crate::Result<bool> {
                if cursor_to < cursor_from {
                    return Err(crate::StoreError::Invalid(format!(
                        "the notifier cursor cannot move back from {cursor_from} to {cursor_to}"
                    )));
                }
                let mut tx = self.writer.begin().await?;
                // Moving the cursor first takes its row lock, so a second
                // notifier waits here and then finds the cursor moved.
                let moved = sqlx::query("UPDATE notifier_cursor SET last_seq = $1 WHERE id = 1 AND last_seq = $2")
                    .bind(cursor_to)
                    .bind(cursor_from)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                for chunk in notifications.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO notifications (at, audience, kind, subject, log_seq, title_zh, title_en) ",
                    );
                    q.push_values(chunk, |mut b, n| {
                        b.push_bind(n.at)
                            .push_bind(n.audience.as_str())
                            .push_bind(n.kind.as_str())
                            .push_bind(n.subject.as_str())
                            .push_bind(n.log_seq)
                            .push_bind(n.title_zh.as_str())
                            .push_bind(n.title_en.as_str());
                    });
                    q.build().execute(&mut *tx).await.map_err(|e| map_insert_error(e, "notification"))?;
                }
                for chunk in deliveries.chunks(crate::queries::CHUNK) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO webhook_deliveries (webhook_id, log_seq, event, payload, next_attempt_at) ",
                    );
                    q.push_values(chunk, |mut b, d| {
                        b.push_bind(d.webhook_id)
                            .push_bind(d.log_seq)
                            .push_bind(d.event.as_str())
                            .push_bind(d.payload.as_str())
                            .push_bind(d.next_attempt_at);
                    });
                    q.build().execute(&mut *tx).await.map_err(|e| map_insert_error(e, "webhook delivery"))?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn notifications_for(
                &self,
                account: &crate::Account,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::Notification>> {
                use sqlx::Row;
                let audiences = feed_audiences(account);
                let read_up_to = read_watermark(&self.pool, account.id).await?;
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT n.id, n.at, n.audience, n.kind, n.subject, n.log_seq, n.title_zh, n.title_en, \
                     r.notification_id AS read_id FROM notifications n \
                     LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.account_id = ",
                );
                q.push_bind(account.id).push(" WHERE 1 = 1");
                push_audience_filter(&mut q, &audiences);
                q.push(" AND n.id < ").push_bind(before);
                q.push(" ORDER BY n.id DESC LIMIT ").push_bind(page.limit());
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        let id: i64 = r.try_get("id")?;
                        let read_id: Option<i64> = r.try_get("read_id")?;
                        Ok(crate::Notification {
                            id,
                            at: r.try_get("at")?,
                            audience: r.try_get("audience")?,
                            kind: r.try_get("kind")?,
                            subject: r.try_get("subject")?,
                            log_seq: r.try_get("log_seq")?,
                            title_zh: r.try_get("title_zh")?,
                            title_en: r.try_get("title_en")?,
                            read: id <= read_up_to || read_id.is_some(),
                        })
                    })
                    .collect()
            }

            async fn unread_count(&self, account: &crate::Account) -> crate::Result<i64> {
                use sqlx::Row;
                let audiences = feed_audiences(account);
                let read_up_to = read_watermark(&self.pool, account.id).await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) AS n FROM notifications n WHERE 1 = 1");
                push_audience_filter(&mut q, &audiences);
                q.push(" AND n.id > ").push_bind(read_up_to);
                q.push(" AND NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.account_id = ")
                    .push_bind(account.id)
                    .push(")");
                Ok(q.build().fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn mark_read(&self, account: &crate::Account, which: &crate::MarkRead) -> crate::Result<()> {
                use sqlx::Row;
                let audiences = feed_audiences(account);
                let mut tx = self.writer.begin().await?;
                match which {
                    crate::MarkRead::Ids(ids) => {
                        for chunk in ids.chunks(crate::queries::CHUNK) {
                            // Only ids in the account's own feed are marked.
                            let mut q = sqlx::QueryBuilder::<$db>::new(
                                "INSERT INTO notification_reads (account_id, notification_id) SELECT ",
                            );
                            q.push_bind(account.id).push(", n.id FROM notifications n WHERE n.id IN (");
                            let mut list = q.separated(", ");
                            for id in chunk {
                                list.push_bind(*id);
                            }
                            q.push(")");
                            push_audience_filter(&mut q, &audiences);
                            q.push(" ON CONFLICT DO NOTHING");
                            q.build().execute(&mut *tx).await?;
                        }
                    }
                    crate::MarkRead::All => {
                        let mut q = sqlx::QueryBuilder::<$db>::new("SELECT MAX(n.id) AS top FROM notifications n WHERE 1 = 1");
                        push_audience_filter(&mut q, &audiences);
                        let top: Option<i64> = q.build().fetch_one(&mut *tx).await?.try_get("top")?;
                        if let Some(top) = top {
                            // Never lowered, should two "mark all" race.
                            sqlx::query(
                                "INSERT INTO notification_watermarks (account_id, read_up_to) VALUES ($1, $2) \
                                 ON CONFLICT (account_id) DO UPDATE SET read_up_to = excluded.read_up_to \
                                 WHERE notification_watermarks.read_up_to < excluded.read_up_to",
                            )
                            .bind(account.id)
                            .bind(top)
                            .execute(&mut *tx)
                            .await?;
                            sqlx::query("DELETE FROM notification_reads WHERE account_id = $1 AND notification_id <= $2")
                                .bind(account.id)
                                .bind(top)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn create_webhook(
                &self,
                scope: &pingan_domain::Scope,
                webhook: &crate::NewWebhook,
            ) -> crate::Result<crate::Webhook> {
                use sqlx::Row;
                if !scope.covers(&webhook.scope_prefix) {
                    return Err(crate::StoreError::OutOfScope(format!("webhook scope {}", webhook.scope_prefix)));
                }
                let created_at = crate::now_ms();
                let row = sqlx::query(
                    "INSERT INTO webhooks (url, secret, events, scope_prefix, active, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(&webhook.url)
                .bind(&webhook.secret)
                .bind(&webhook.events)
                .bind(&webhook.scope_prefix)
                .bind(true)
                .bind(webhook.created_by)
                .bind(created_at)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| map_insert_error(e, "webhook"))?;
                Ok(crate::Webhook {
                    id: row.try_get("id")?,
                    url: webhook.url.clone(),
                    secret: webhook.secret.clone(),
                    events: webhook.events.clone(),
                    scope_prefix: webhook.scope_prefix.clone(),
                    active: true,
                    created_by: webhook.created_by,
                    created_at,
                })
            }

            async fn webhooks(&self, scope: &pingan_domain::Scope, page: &crate::Page) -> crate::Result<Vec<crate::Webhook>> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let rows = sqlx::query(&format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks \
                     WHERE scope_prefix >= $1 AND scope_prefix < $2 AND id > $3 ORDER BY id LIMIT $4"
                ))
                .bind(lo)
                .bind(hi)
                .bind(after)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(webhook_row).collect()
            }

            async fn active_webhooks(&self) -> crate::Result<Vec<crate::Webhook>> {
                let rows = sqlx::query(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE active = $1 ORDER BY id"))
                    .bind(true)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(webhook_row).collect()
            }

            async fn deactivate_webhook(&self, scope: &pingan_domain::Scope, id: i64) -> crate::Result<bool> {
                let (lo, hi) = crate::queries::prefix_range(scope.prefix());
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query(
                    "UPDATE webhooks SET active = $1 WHERE id = $2 AND scope_prefix >= $3 AND scope_prefix < $4",
                )
                .bind(false)
                .bind(id)
                .bind(lo)
                .bind(hi)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if done {
                    // Given up rather than left pending, so they leave the due index.
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = NULL, failed_permanently = $1, \
                         last_error = $2 WHERE webhook_id = $3 AND next_attempt_at IS NOT NULL",
                    )
                    .bind(true)
                    .bind("webhook stopped")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn due_deliveries(&self, now: i64, hold_until: i64, limit: u32) -> crate::Result<Vec<crate::DueDelivery>> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                let rows = sqlx::query(
                    "SELECT d.id, d.webhook_id, w.url, w.secret, d.event, d.payload, d.attempts, d.next_attempt_at \
                     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= $1 AND w.active = $2 \
                     ORDER BY d.next_attempt_at, d.id LIMIT $3",
                )
                .bind(now)
                .bind(true)
                .bind(i64::from(limit.clamp(1, crate::Page::MAX_LIMIT)))
                .fetch_all(&mut *tx)
                .await?;
                let mut claimed = Vec::with_capacity(rows.len());
                for r in rows {
                    let id: i64 = r.try_get("id")?;
                    let due: i64 = r.try_get("next_attempt_at")?;
                    // Only the notifier whose update finds the old time holds it.
                    let held = sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3",
                    )
                    .bind(hold_until)
                    .bind(id)
                    .bind(due)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if held == 1 {
                        claimed.push(crate::DueDelivery {
                            id,
                            webhook_id: r.try_get("webhook_id")?,
                            url: r.try_get("url")?,
                            secret: r.try_get("secret")?,
                            event: r.try_get("event")?,
                            payload: r.try_get("payload")?,
                            attempts: r.try_get("attempts")?,
                        });
                    }
                }
                tx.commit().await?;
                Ok(claimed)
            }

            async fn record_delivery_attempt(
                &self,
                id: i64,
                outcome: &crate::DeliveryOutcome,
                next_attempt_at: Option<i64>,
            ) -> crate::Result<()> {
                let query = match outcome {
                    crate::DeliveryOutcome::Delivered { at, status } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, last_error = NULL, \
                         delivered_at = $2, next_attempt_at = NULL WHERE id = $3",
                    )
                    .bind(i64::from(*status))
                    .bind(*at)
                    .bind(id),
                    crate::DeliveryOutcome::Failed { at: _, status, error } => sqlx::query(
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2, \
                         next_attempt_at = $3, failed_permanently = $4 WHERE id = $5",
                    )
                    .bind(status.map(i64::from))
                    .bind(error.clone())
                    .bind(next_attempt_at)
                    .bind(next_attempt_at.is_none())
                    .bind(id),
                };
                query.execute(&self.pool).await?;
                Ok(())
            }

            async fn webhook_deliveries(&self, webhook_id: i64, page: &crate::Page) -> crate::Result<Vec<crate::WebhookDelivery>> {
                use sqlx::Row;
                let before: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(i64::MAX);
                let rows = sqlx::query(
                    "SELECT id, webhook_id, log_seq, event, payload, attempts, next_attempt_at, last_status, last_error, \
                     delivered_at, failed_permanently FROM webhook_deliveries \
                     WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(webhook_id)
                .bind(before)
                .bind(page.limit())
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::WebhookDelivery {
                            id: r.try_get("id")?,
                            webhook_id: r.try_get("webhook_id")?,
                            log_seq: r.try_get("log_seq")?,
                            event: r.try_get("event")?,
                            payload: r.try_get("payload")?,
                            attempts: r.try_get("attempts")?,
                            next_attempt_at: r.try_get("next_attempt_at")?,
                            last_status: r.try_get("last_status")?,
                            last_error: r.try_get("last_error")?,
                            delivered_at: r.try_get("delivered_at")?,
                            failed_permanently: r.try_get("failed_permanently")?,
                        })
                    })
                    .collect()
            }
        }

        const WEBHOOK_COLUMNS: &str = "id, url, secret, events, scope_prefix, active, created_by, created_at";

        fn webhook_row(row: &shared_rows::DbRow) -> crate::Result<crate::Webhook> {
            use sqlx::Row;
            Ok(crate::Webhook {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
                events: row.try_get("events")?,
                scope_prefix: row.try_get("scope_prefix")?,
                active: row.try_get("active")?,
                created_by: row.try_get("created_by")?,
                created_at: row.try_get("created_at")?,
            })
        }

        /// The audiences of an account's feed, as stored.
        fn feed_audiences(account: &crate::Account) -> Vec<String> {
            pingan_domain::notice::audiences_of(account.id, account.role, account.unit_id, account.scope.prefix())
                .iter()
                .map(pingan_domain::notice::Audience::as_text)
                .collect()
        }

        /// Appends ` AND n.audience IN (…)` for a feed (never empty: an
        /// account always hears what is addressed to it).
        fn push_audience_filter<'a>(q: &mut sqlx::QueryBuilder<'a, $db>, audiences: &'a [String]) {
            q.push(" AND n.audience IN (");
            let mut list = q.separated(", ");
            for a in audiences {
                list.push_bind(a.as_str());
            }
            q.push(")");
        }

        /// The id up to which the account has marked everything read (0: none).
        async fn read_watermark(pool: &sqlx::Pool<$db>, account_id: i64) -> crate::Result<i64> {
            use sqlx::Row;
            let row = sqlx::query("SELECT read_up_to FROM notification_watermarks WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(pool)
                .await?;
            Ok(match row {
                Some(r) => r.try_get("read_up_to")?,
                None => 0,
            })
        }
    };
}

pub(crate) use store_impl;

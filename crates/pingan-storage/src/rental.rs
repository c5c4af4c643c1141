//! Storage of rental housing (出租房屋): properties, units, safety checks and
//! tenancies. Tenants' names, document numbers and phones are sealed with the
//! personal-data keys; only the masked forms and a keyed hash of the
//! document number (for exact-match lookup) sit beside them, and a purge
//! clears all three, leaving the anonymous row for the counts.
use async_trait::async_trait;
use pingan_domain::rental::CheckResult;
use pingan_domain::Scope;
use serde::Serialize;

use crate::{NewLogEntry, Page, Result};

/// The field names bound into encryption and lookup hashes.
pub const TENANT_NAME_FIELD: &str = "tenancies.name";
pub const TENANT_ID_FIELD: &str = "tenancies.id_number";
pub const TENANT_PHONE_FIELD: &str = "tenancies.phone";
pub const PROPERTY_CONTACT_FIELD: &str = "rental_properties.contact";

/// What rental data a caller reaches: rows whose grid lies in `scope`, and,
/// for a landlord, only their own.
#[derive(Debug, Clone)]
pub struct RentalReach {
    pub scope: Scope,
    pub landlord_id: Option<i64>,
}

impl RentalReach {
    /// Everything: for the scheduler and the public listing.
    pub fn everywhere() -> Self {
        RentalReach {
            scope: Scope::everywhere(),
            landlord_id: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewProperty {
    pub grid_code: String,
    pub landlord_id: i64,
    pub name: String,
    pub address: String,
    /// WGS-84.
    pub lng: f64,
    pub lat: f64,
    /// The landlord's contact phone for this property (sealed).
    pub contact: Option<String>,
    pub created_by: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub id: i64,
    pub grid_code: String,
    pub landlord_id: i64,
    pub name: String,
    pub address: String,
    pub lng: f64,
    pub lat: f64,
    pub contact_masked: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewRentalUnit {
    pub property_id: i64,
    pub label: String,
    pub area_m2: f64,
    pub rent_yuan: i64,
    pub street_facing: bool,
    pub floor: i64,
    pub facilities: Vec<String>,
    pub occupancy_limit: i64,
    pub state: String,
    pub at: i64,
}

/// A rentable unit (出租房间) as stored, with its current occupancy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RentalUnit {
    pub id: i64,
    pub property_id: i64,
    pub grid_code: String,
    pub landlord_id: i64,
    pub label: String,
    pub area_m2: f64,
    pub rent_yuan: i64,
    pub street_facing: bool,
    pub floor: i64,
    pub facilities: Vec<String>,
    pub occupancy_limit: i64,
    pub lng: f64,
    pub lat: f64,
    pub state: String,
    pub version: i64,
    pub rectification_matter_id: Option<i64>,
    pub last_inspected_at: Option<i64>,
    pub next_inspection_due: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Active tenancies now.
    pub tenants_now: i64,
}

/// New details of a unit (the listing), all replaced at once.
#[derive(Debug, Clone)]
pub struct UnitDetails {
    pub label: String,
    pub area_m2: f64,
    pub rent_yuan: i64,
    pub street_facing: bool,
    pub floor: i64,
    pub facilities: Vec<String>,
    pub occupancy_limit: i64,
}

/// A change to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UnitChange {
    pub state: String,
    pub rectification_matter_id: Option<Option<i64>>,
    pub last_inspected_at: Option<i64>,
    pub next_inspection_due: Option<Option<i64>>,
}

/// Which units a list shows.
#[derive(Debug, Clone, Default)]
pub struct RentalUnitFilter {
    /// A region or grid prefix within the reach.
    pub under: Option<String>,
    pub property_id: Option<i64>,
    pub states: Vec<String>,
    pub rent_min: Option<i64>,
    pub rent_max: Option<i64>,
    pub area_min: Option<f64>,
    pub area_max: Option<f64>,
    pub street_facing: Option<bool>,
    /// west, south, east, north (WGS-84).
    pub bbox: Option<[f64; 4]>,
    /// Only units due for a check by then: awaiting one, or past their
    /// next-check date (a grid worker's round).
    pub inspection_due_by: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewInspection {
    pub inspector_id: i64,
    pub at: i64,
    pub passed: bool,
    pub night: bool,
    pub note: String,
    pub photos: Vec<String>,
    pub matter_id: Option<i64>,
    pub items: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    pub id: i64,
    pub unit_id: i64,
    pub inspector_id: i64,
    pub at: i64,
    pub passed: bool,
    pub night: bool,
    pub note: String,
    pub photos: Vec<String>,
    pub matter_id: Option<i64>,
    pub items: Vec<CheckResult>,
}

/// A tenant to register, already checked and normalised.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub doc_type: String,
    pub id_number: String,
    pub phone: String,
}

/// A registration (入住登记) as stored: personal fields only masked, and
/// none at all once purged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenancy {
    pub id: i64,
    pub unit_id: i64,
    pub grid_code: String,
    pub landlord_id: i64,
    pub doc_type: String,
    pub name_masked: Option<String>,
    pub id_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub lease_start: i64,
    pub lease_end: i64,
    /// active or ended.
    pub state: String,
    pub ended_at: Option<i64>,
    /// lease_end or early.
    pub end_reason: Option<String>,
    pub registered_by: i64,
    pub registered_at: i64,
    pub purged_at: Option<i64>,
}

/// A check-in: tenants moving into a unit at `unit_version`, with the
/// unit's change (first tenant in: vacant → let) when there is one.
#[derive(Debug, Clone)]
pub struct CheckIn {
    pub unit_id: i64,
    pub unit_version: i64,
    pub tenants: Vec<NewTenant>,
    pub lease_start: i64,
    pub lease_end: i64,
    pub registered_by: i64,
    /// The log entry for each tenancy (subject and body are filled in).
    pub log: NewLogEntry,
    pub unit_change: Option<(UnitChange, NewLogEntry)>,
}

/// Counts of one region or grid for the overview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RentalCounts {
    pub code: String,
    /// Units not withdrawn.
    pub units: i64,
    pub let_units: i64,
    pub vacant_units: i64,
    /// Units whose last check failed (awaiting rectification).
    pub failed_checks: i64,
    /// Units awaiting a check or past their next-check date.
    pub inspections_due: i64,
    /// Tenants registered now.
    pub tenants_now: i64,
    /// Registrations ever made, purged ones included (anonymous).
    pub registrations_total: i64,
}

/// Rental housing in the store. Reads take a [`RentalReach`]; writes are
/// checked by the service layer and commit with their log entries.
#[async_trait]
pub trait RentalStore: Send + Sync {
    /// A key for signing public links, derived from the personal-data keys
    /// for `purpose` (never the keys themselves).
    fn derived_key(&self, purpose: &str) -> [u8; 32];

    async fn create_property(&self, p: &NewProperty, log: &NewLogEntry) -> Result<Property>;
    async fn property(&self, reach: &RentalReach, id: i64) -> Result<Option<Property>>;
    /// Properties in reach by id; `page.after` is an id.
    async fn properties(&self, reach: &RentalReach, page: &Page) -> Result<Vec<Property>>;

    /// Adds a unit to a property (its grid, landlord and point copied).
    async fn create_rental_unit(&self, u: &NewRentalUnit, log: &NewLogEntry) -> Result<RentalUnit>;
    async fn rental_unit(&self, reach: &RentalReach, id: i64) -> Result<Option<RentalUnit>>;
    /// Units in reach passing the filter, by id; `page.after` is an id.
    async fn rental_units(
        &self,
        reach: &RentalReach,
        filter: &RentalUnitFilter,
        page: &Page,
    ) -> Result<Vec<RentalUnit>>;
    /// Changes a unit still at `version` (else `Conflict`), with its log entry.
    async fn apply_unit_change(
        &self,
        id: i64,
        version: i64,
        change: &UnitChange,
        log: &NewLogEntry,
    ) -> Result<RentalUnit>;
    /// Replaces a unit's details if it is still at `version` (else
    /// `Conflict`) and its limit still holds its tenants, with the log entry.
    async fn update_unit_details(
        &self,
        id: i64,
        version: i64,
        details: &UnitDetails,
        log: &NewLogEntry,
    ) -> Result<RentalUnit>;
    /// Records a safety check and the unit's change, in one transaction.
    async fn record_inspection(
        &self,
        unit_id: i64,
        version: i64,
        inspection: &NewInspection,
        change: &UnitChange,
        log: &NewLogEntry,
    ) -> Result<(Inspection, RentalUnit)>;
    /// A unit's checks, newest first.
    async fn inspections(&self, unit_id: i64) -> Result<Vec<Inspection>>;

    /// Registers tenants: refused with `Conflict` when the unit moved on
    /// from `unit_version`, or when they would exceed its occupancy limit.
    async fn check_in(&self, c: &CheckIn) -> Result<Vec<Tenancy>>;
    async fn tenancy(&self, reach: &RentalReach, id: i64) -> Result<Option<Tenancy>>;
    /// A unit's tenancies, newest first (active only if asked).
    async fn tenancies(
        &self,
        reach: &RentalReach,
        unit_id: i64,
        active_only: bool,
    ) -> Result<Vec<Tenancy>>;
    /// Tenancies in reach whose document number is exactly this one (by
    /// keyed hash); the search is written to the audit log in the same
    /// transaction, without the number.
    async fn tenancies_by_document(
        &self,
        reach: &RentalReach,
        actor: i64,
        id_number: &str,
        at: i64,
    ) -> Result<Vec<Tenancy>>;
    /// Ends an active tenancy (else `Conflict`); when it was the unit's last
    /// and the unit is let, the unit becomes vacant. `log` is the template of
    /// both entries (actor, time).
    async fn end_tenancy(&self, id: i64, reason: &str, log: &NewLogEntry) -> Result<Tenancy>;
    /// Active tenancies whose lease ended by `now`, soonest first.
    async fn due_check_outs(&self, now: i64, limit: u32) -> Result<Vec<Tenancy>>;
    /// Deletes the personal fields of tenancies that ended before
    /// `ended_before`, at most `limit`, each with a log entry made from
    /// `log`; answers how many. The rows stay, anonymous, for the counts.
    async fn purge_tenancies(
        &self,
        ended_before: i64,
        limit: u32,
        log: &NewLogEntry,
    ) -> Result<u64>;

    /// Counts per prefix of `digits` characters (9 township, 12 village, 15
    /// grid) of the grid codes under `under`.
    async fn rental_overview(
        &self,
        under: &Scope,
        digits: usize,
        now: i64,
    ) -> Result<Vec<RentalCounts>>;
}

macro_rules! rental_impl {
    ($store:ty, $db:ty, $backend:literal) => {
        mod rental_rows {
            use sqlx::Row;

            use crate::rental::{Inspection, Property, RentalUnit, Tenancy};
            use crate::Result;

            pub type DbRow = <$db as sqlx::Database>::Row;

            pub fn property(row: &DbRow) -> Result<Property> {
                Ok(Property {
                    id: row.try_get("id")?,
                    grid_code: row.try_get("grid_code")?,
                    landlord_id: row.try_get("landlord_id")?,
                    name: row.try_get("name")?,
                    address: row.try_get("address")?,
                    lng: row.try_get("lng")?,
                    lat: row.try_get("lat")?,
                    contact_masked: row.try_get("contact_masked")?,
                    created_at: row.try_get("created_at")?,
                })
            }

            pub fn unit(row: &DbRow) -> Result<RentalUnit> {
                let facilities: String = row.try_get("facilities")?;
                Ok(RentalUnit {
                    id: row.try_get("id")?,
                    property_id: row.try_get("property_id")?,
                    grid_code: row.try_get("grid_code")?,
                    landlord_id: row.try_get("landlord_id")?,
                    label: row.try_get("label")?,
                    area_m2: row.try_get("area_m2")?,
                    rent_yuan: row.try_get("rent_yuan")?,
                    street_facing: row.try_get("street_facing")?,
                    floor: row.try_get("floor")?,
                    facilities: serde_json::from_str(&facilities).unwrap_or_default(),
                    occupancy_limit: row.try_get("occupancy_limit")?,
                    lng: row.try_get("lng")?,
                    lat: row.try_get("lat")?,
                    state: row.try_get("state")?,
                    version: row.try_get("version")?,
                    rectification_matter_id: row.try_get("rectification_matter_id")?,
                    last_inspected_at: row.try_get("last_inspected_at")?,
                    next_inspection_due: row.try_get("next_inspection_due")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    tenants_now: row.try_get("tenants_now")?,
                })
            }

            pub fn inspection(row: &DbRow) -> Result<Inspection> {
                let photos: String = row.try_get("photos")?;
                Ok(Inspection {
                    id: row.try_get("id")?,
                    unit_id: row.try_get("unit_id")?,
                    inspector_id: row.try_get("inspector_id")?,
                    at: row.try_get("at")?,
                    passed: row.try_get("passed")?,
                    night: row.try_get("night")?,
                    note: row.try_get("note")?,
                    photos: serde_json::from_str(&photos).unwrap_or_default(),
                    matter_id: row.try_get("matter_id")?,
                    items: Vec::new(),
                })
            }

            pub fn tenancy(row: &DbRow) -> Result<Tenancy> {
                Ok(Tenancy {
                    id: row.try_get("id")?,
                    unit_id: row.try_get("unit_id")?,
                    grid_code: row.try_get("grid_code")?,
                    landlord_id: row.try_get("landlord_id")?,
                    doc_type: row.try_get("doc_type")?,
                    name_masked: row.try_get("name_masked")?,
                    id_masked: row.try_get("id_masked")?,
                    phone_masked: row.try_get("phone_masked")?,
                    lease_start: row.try_get("lease_start")?,
                    lease_end: row.try_get("lease_end")?,
                    state: row.try_get("state")?,
                    ended_at: row.try_get("ended_at")?,
                    end_reason: row.try_get("end_reason")?,
                    registered_by: row.try_get("registered_by")?,
                    registered_at: row.try_get("registered_at")?,
                    purged_at: row.try_get("purged_at")?,
                })
            }
        }

        const PROPERTY_COLUMNS: &str =
            "id, grid_code, landlord_id, name, address, lng, lat, contact_masked, created_at";
        const UNIT_COLUMNS: &str = "u.id, u.property_id, u.grid_code, u.landlord_id, u.label, u.area_m2, u.rent_yuan, \
            u.street_facing, u.floor, u.facilities, u.occupancy_limit, u.lng, u.lat, u.state, u.version, \
            u.rectification_matter_id, u.last_inspected_at, u.next_inspection_due, u.created_at, u.updated_at, \
            (SELECT COUNT(*) FROM tenancies t WHERE t.unit_id = u.id AND t.state = 'active') AS tenants_now";
        const INSPECTION_COLUMNS: &str =
            "id, unit_id, inspector_id, at, passed, night, note, photos, matter_id";
        const TENANCY_COLUMNS: &str = "id, unit_id, grid_code, landlord_id, doc_type, name_masked, id_masked, phone_masked, \
            lease_start, lease_end, state, ended_at, end_reason, registered_by, registered_at, purged_at";

        /// Appends the reach's conditions on `grid_code` and `landlord_id`
        /// (of the table aliased `alias`).
        fn push_reach(
            q: &mut sqlx::QueryBuilder<'_, $db>,
            reach: &crate::rental::RentalReach,
            alias: &str,
        ) {
            let (lo, hi) = crate::queries::prefix_range(reach.scope.prefix());
            q.push(format!(" {alias}grid_code >= ")).push_bind(lo);
            q.push(format!(" AND {alias}grid_code < ")).push_bind(hi);
            if let Some(l) = reach.landlord_id {
                q.push(format!(" AND {alias}landlord_id = ")).push_bind(l);
            }
        }

        async fn unit_in_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            id: i64,
        ) -> crate::Result<crate::rental::RentalUnit> {
            let row = sqlx::query(&format!("SELECT {UNIT_COLUMNS} FROM rental_units u WHERE u.id = $1"))
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
            rental_rows::unit(&row)
        }

        /// Moves a unit from `version` inside the caller's transaction and
        /// logs it; `Conflict` when the version moved on.
        async fn change_unit_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            id: i64,
            version: i64,
            change: &crate::rental::UnitChange,
            log: &crate::NewLogEntry,
        ) -> crate::Result<()> {
            let (set_matter, matter) = match change.rectification_matter_id {
                Some(m) => (true, m),
                None => (false, None),
            };
            let (set_due, due) = match change.next_inspection_due {
                Some(d) => (true, d),
                None => (false, None),
            };
            let updated = sqlx::query(
                "UPDATE rental_units SET state = $1, version = version + 1, updated_at = $2, \
                 rectification_matter_id = CASE WHEN $3 THEN $4 ELSE rectification_matter_id END, \
                 last_inspected_at = COALESCE($5, last_inspected_at), \
                 next_inspection_due = CASE WHEN $6 THEN $7 ELSE next_inspection_due END \
                 WHERE id = $8 AND version = $9",
            )
            .bind(&change.state)
            .bind(log.at)
            .bind(set_matter)
            .bind(matter)
            .bind(change.last_inspected_at)
            .bind(set_due)
            .bind(due)
            .bind(id)
            .bind(version)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if updated == 0 {
                return Err(crate::StoreError::Conflict(format!(
                    "rental unit {id} is no longer at version {version}"
                )));
            }
            let mut entry = log.clone();
            entry.subject = format!("rental_unit:{id}");
            append_log_tx(tx, &entry).await?;
            Ok(())
        }

        impl $store {
            fn seal(&self, field: &str, value: &str) -> Vec<u8> {
                self.keys.encrypt(field, value)
            }
        }

        #[async_trait::async_trait]
        impl crate::rental::RentalStore for $store {
            fn derived_key(&self, purpose: &str) -> [u8; 32] {
                self.keys.derive_key(purpose)
            }

            async fn create_property(
                &self,
                p: &crate::rental::NewProperty,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::rental::Property> {
                use crate::rental::PROPERTY_CONTACT_FIELD as F;
                use sqlx::Row;
                let contact = p.contact.as_deref().map(str::trim).filter(|c| !c.is_empty());
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query(
                    "INSERT INTO rental_properties (grid_code, landlord_id, name, address, lng, lat, contact_cipher, \
                     contact_hash, contact_masked, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     RETURNING id",
                )
                .bind(&p.grid_code)
                .bind(p.landlord_id)
                .bind(&p.name)
                .bind(&p.address)
                .bind(p.lng)
                .bind(p.lat)
                .bind(contact.map(|c| self.seal(F, c)))
                .bind(contact.map(|c| self.keys.lookup_hash(F, c)))
                .bind(contact.map(pingan_domain::mask::mask_phone))
                .bind(p.created_by)
                .bind(log.at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "property"))?;
                let id: i64 = row.try_get("id")?;
                let mut entry = log.clone();
                entry.subject = format!("rental_property:{id}");
                append_log_tx(&mut tx, &entry).await?;
                let row = sqlx::query(&format!("SELECT {PROPERTY_COLUMNS} FROM rental_properties WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                rental_rows::property(&row)
            }

            async fn property(
                &self,
                reach: &crate::rental::RentalReach,
                id: i64,
            ) -> crate::Result<Option<crate::rental::Property>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {PROPERTY_COLUMNS} FROM rental_properties WHERE id = "
                ));
                q.push_bind(id).push(" AND");
                push_reach(&mut q, reach, "");
                let row = q.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(rental_rows::property).transpose()
            }

            async fn properties(
                &self,
                reach: &crate::rental::RentalReach,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::rental::Property>> {
                let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {PROPERTY_COLUMNS} FROM rental_properties WHERE id > "
                ));
                q.push_bind(after).push(" AND");
                push_reach(&mut q, reach, "");
                q.push(" ORDER BY id LIMIT ").push_bind(page.limit());
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(rental_rows::property).collect()
            }

            async fn create_rental_unit(
                &self,
                u: &crate::rental::NewRentalUnit,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::rental::RentalUnit> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query(
                    "INSERT INTO rental_units (property_id, grid_code, landlord_id, label, area_m2, rent_yuan, street_facing, \
                     floor, facilities, occupancy_limit, lng, lat, state, version, created_at, updated_at) \
                     SELECT id, grid_code, landlord_id, $2, $3, $4, $5, $6, $7, $8, lng, lat, $9, 1, $10, $10 \
                     FROM rental_properties WHERE id = $1 RETURNING id",
                )
                .bind(u.property_id)
                .bind(&u.label)
                .bind(u.area_m2)
                .bind(u.rent_yuan)
                .bind(u.street_facing)
                .bind(u.floor)
                .bind(serde_json::to_string(&u.facilities).unwrap_or_else(|_| "[]".into()))
                .bind(u.occupancy_limit)
                .bind(&u.state)
                .bind(u.at)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "rental unit"))?
                .ok_or_else(|| crate::StoreError::NotFound(format!("property {}", u.property_id)))?;
                let id: i64 = row.try_get("id")?;
                let mut entry = log.clone();
                entry.subject = format!("rental_unit:{id}");
                append_log_tx(&mut tx, &entry).await?;
                let unit = unit_in_tx(&mut tx, id).await?;
                tx.commit().await?;
                Ok(unit)
            }

            async fn rental_unit(
                &self,
                reach: &crate::rental::RentalReach,
                id: i64,
            ) -> crate::Result<Option<crate::rental::RentalUnit>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {UNIT_COLUMNS} FROM rental_units u WHERE u.id = "
                ));
                q.push_bind(id).push(" AND");
                push_reach(&mut q, reach, "u.");
                let row = q.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(rental_rows::unit).transpose()
            }

            async fn rental_units(
                &self,
                reach: &crate::rental::RentalReach,
                f: &crate::rental::RentalUnitFilter,
                page: &crate::Page,
            ) -> crate::Result<Vec<crate::rental::RentalUnit>> {
                let after: i64 = page.after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {UNIT_COLUMNS} FROM rental_units u WHERE u.id > "
                ));
                q.push_bind(after).push(" AND");
                push_reach(&mut q, reach, "u.");
                if let Some(under) = &f.under {
                    let (lo, hi) = crate::queries::prefix_range(under);
                    q.push(" AND u.grid_code >= ").push_bind(lo).push(" AND u.grid_code < ").push_bind(hi);
                }
                if let Some(p) = f.property_id {
                    q.push(" AND u.property_id = ").push_bind(p);
                }
                if !f.states.is_empty() {
                    q.push(" AND u.state IN (");
                    let mut list = q.separated(", ");
                    for s in &f.states {
                        list.push_bind(s.clone());
                    }
                    q.push(")");
                }
                if let Some(v) = f.rent_min {
                    q.push(" AND u.rent_yuan >= ").push_bind(v);
                }
                if let Some(v) = f.rent_max {
                    q.push(" AND u.rent_yuan <= ").push_bind(v);
                }
                if let Some(v) = f.area_min {
                    q.push(" AND u.area_m2 >= ").push_bind(v);
                }
                if let Some(v) = f.area_max {
                    q.push(" AND u.area_m2 <= ").push_bind(v);
                }
                if let Some(v) = f.street_facing {
                    q.push(" AND u.street_facing = ").push_bind(v);
                }
                if let Some([west, south, east, north]) = f.bbox {
                    q.push(" AND u.lng >= ").push_bind(west).push(" AND u.lng <= ").push_bind(east);
                    q.push(" AND u.lat >= ").push_bind(south).push(" AND u.lat <= ").push_bind(north);
                }
                if let Some(by) = f.inspection_due_by {
                    q.push(" AND (u.state = 'awaiting_inspection' OR (u.state <> 'withdrawn' AND u.next_inspection_due <= ")
                        .push_bind(by)
                        .push("))");
                }
                q.push(" ORDER BY u.id LIMIT ").push_bind(page.limit());
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(rental_rows::unit).collect()
            }

            async fn apply_unit_change(
                &self,
                id: i64,
                version: i64,
                change: &crate::rental::UnitChange,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::rental::RentalUnit> {
                let mut tx = self.writer.begin().await?;
                change_unit_tx(&mut tx, id, version, change, log).await?;
                let unit = unit_in_tx(&mut tx, id).await?;
                tx.commit().await?;
                Ok(unit)
            }

            async fn update_unit_details(
                &self,
                id: i64,
                version: i64,
                d: &crate::rental::UnitDetails,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::rental::RentalUnit> {
                let mut tx = self.writer.begin().await?;
                // The tenants must still fit: counted in the same statement.
                let updated = sqlx::query(
                    "UPDATE rental_units SET label = $1, area_m2 = $2, rent_yuan = $3, street_facing = $4, floor = $5, \
                     facilities = $6, occupancy_limit = $7, version = version + 1, updated_at = $8 \
                     WHERE id = $9 AND version = $10 \
                     AND (SELECT COUNT(*) FROM tenancies t WHERE t.unit_id = $9 AND t.state = 'active') <= $7",
                )
                .bind(&d.label)
                .bind(d.area_m2)
                .bind(d.rent_yuan)
                .bind(d.street_facing)
                .bind(d.floor)
                .bind(serde_json::to_string(&d.facilities).unwrap_or_else(|_| "[]".into()))
                .bind(d.occupancy_limit)
                .bind(log.at)
                .bind(id)
                .bind(version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    let unit = unit_in_tx(&mut tx, id).await?;
                    return Err(crate::StoreError::Conflict(if unit.version != version {
                        format!("rental unit {id} is no longer at version {version}")
                    } else {
                        format!("occupancy limit {} is below the {} tenants of rental unit {id}", d.occupancy_limit, unit.tenants_now)
                    }));
                }
                let mut entry = log.clone();
                entry.subject = format!("rental_unit:{id}");
                append_log_tx(&mut tx, &entry).await?;
                let unit = unit_in_tx(&mut tx, id).await?;
                tx.commit().await?;
                Ok(unit)
            }

            async fn record_inspection(
                &self,
                unit_id: i64,
                version: i64,
                i: &crate::rental::NewInspection,
                change: &crate::rental::UnitChange,
                log: &crate::NewLogEntry,
            ) -> crate::Result<(crate::rental::Inspection, crate::rental::RentalUnit)> {
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                let mut entry = log.clone();
                let row = sqlx::query(
                    "INSERT INTO rental_inspections (unit_id, grid_code, inspector_id, at, passed, night, note, photos, matter_id) \
                     SELECT id, grid_code, $2, $3, $4, $5, $6, $7, $8 FROM rental_units WHERE id = $1 RETURNING id",
                )
                .bind(unit_id)
                .bind(i.inspector_id)
                .bind(i.at)
                .bind(i.passed)
                .bind(i.night)
                .bind(&i.note)
                .bind(serde_json::to_string(&i.photos).unwrap_or_else(|_| "[]".into()))
                .bind(i.matter_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_insert_error(e, "inspection"))?;
                let inspection_id: i64 = row.try_get("id")?;
                for r in &i.items {
                    sqlx::query(
                        "INSERT INTO rental_inspection_items (inspection_id, item, passed, note) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(inspection_id)
                    .bind(r.item.as_str())
                    .bind(r.passed)
                    .bind(&r.note)
                    .execute(&mut *tx)
                    .await?;
                }
                // The entry names the inspection, so the log alone tells the check.
                if let Ok(serde_json::Value::Object(mut body)) = serde_json::from_str::<serde_json::Value>(&entry.body) {
                    body.insert("inspection_id".into(), inspection_id.into());
                    entry.body = serde_json::Value::Object(body).to_string();
                }
                change_unit_tx(&mut tx, unit_id, version, change, &entry).await?;
                let unit = unit_in_tx(&mut tx, unit_id).await?;
                tx.commit().await?;
                let inspection = crate::rental::Inspection {
                    id: inspection_id,
                    unit_id,
                    inspector_id: i.inspector_id,
                    at: i.at,
                    passed: i.passed,
                    night: i.night,
                    note: i.note.clone(),
                    photos: i.photos.clone(),
                    matter_id: i.matter_id,
                    items: i.items.clone(),
                };
                Ok((inspection, unit))
            }

            async fn inspections(&self, unit_id: i64) -> crate::Result<Vec<crate::rental::Inspection>> {
                use sqlx::Row;
                let rows = sqlx::query(&format!(
                    "SELECT {INSPECTION_COLUMNS} FROM rental_inspections WHERE unit_id = $1 ORDER BY id DESC"
                ))
                .bind(unit_id)
                .fetch_all(&self.pool)
                .await?;
                let mut out: Vec<crate::rental::Inspection> =
                    rows.iter().map(rental_rows::inspection).collect::<crate::Result<_>>()?;
                let items = sqlx::query(
                    "SELECT it.inspection_id, it.item, it.passed, it.note FROM rental_inspection_items it \
                     JOIN rental_inspections i ON i.id = it.inspection_id WHERE i.unit_id = $1",
                )
                .bind(unit_id)
                .fetch_all(&self.pool)
                .await?;
                for row in items {
                    let id: i64 = row.try_get("inspection_id")?;
                    let item: String = row.try_get("item")?;
                    let Ok(item) = item.parse() else { continue };
                    if let Some(i) = out.iter_mut().find(|i| i.id == id) {
                        i.items.push(pingan_domain::rental::CheckResult {
                            item,
                            passed: row.try_get("passed")?,
                            note: row.try_get("note")?,
                        });
                    }
                }
                for i in &mut out {
                    i.items.sort_by_key(|r| r.item);
                }
                Ok(out)
            }

            async fn check_in(&self, c: &crate::rental::CheckIn) -> crate::Result<Vec<crate::rental::Tenancy>> {
                use crate::rental::{TENANT_ID_FIELD, TENANT_NAME_FIELD, TENANT_PHONE_FIELD};
                use pingan_domain::mask;
                use sqlx::Row;
                let mut tx = self.writer.begin().await?;
                // Moving the unit's version first takes its row lock
                // (PostgreSQL) or the write lock (SQLite), so two desks
                // cannot both fill the last place.
                let bumped = sqlx::query(
                    "UPDATE rental_units SET version = version + 1, updated_at = $3 WHERE id = $1 AND version = $2",
                )
                .bind(c.unit_id)
                .bind(c.unit_version)
                .bind(c.log.at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if bumped == 0 {
                    return Err(crate::StoreError::Conflict(format!(
                        "rental unit {} is no longer at version {}",
                        c.unit_id, c.unit_version
                    )));
                }
                let unit = unit_in_tx(&mut tx, c.unit_id).await?;
                if unit.tenants_now + c.tenants.len() as i64 > unit.occupancy_limit {
                    return Err(crate::StoreError::Conflict(format!(
                        "occupancy limit {} of rental unit {} would be exceeded",
                        unit.occupancy_limit, c.unit_id
                    )));
                }
                let mut ids = Vec::with_capacity(c.tenants.len());
                for t in &c.tenants {
                    let id_hash = self.keys.lookup_hash(TENANT_ID_FIELD, &t.id_number);
                    let dup = sqlx::query(
                        "SELECT id FROM tenancies WHERE unit_id = $1 AND state = 'active' AND id_hash = $2",
                    )
                    .bind(c.unit_id)
                    .bind(&id_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if dup.is_some() {
                        return Err(crate::StoreError::Conflict(
                            "the tenant is already registered in this unit".into(),
                        ));
                    }
                    let row = sqlx::query(
                        "INSERT INTO tenancies (unit_id, grid_code, landlord_id, doc_type, name_cipher, name_masked, \
                         id_cipher, id_hash, id_masked, phone_cipher, phone_masked, lease_start, lease_end, state, \
                         registered_by, registered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'active', $14, $15) RETURNING id",
                    )
                    .bind(c.unit_id)
                    .bind(&unit.grid_code)
                    .bind(unit.landlord_id)
                    .bind(&t.doc_type)
                    .bind(self.seal(TENANT_NAME_FIELD, &t.name))
                    .bind(mask::mask_name(&t.name))
                    .bind(self.seal(TENANT_ID_FIELD, &t.id_number))
                    .bind(id_hash)
                    .bind(mask::mask_id_number(&t.id_number))
                    .bind(self.seal(TENANT_PHONE_FIELD, &t.phone))
                    .bind(mask::mask_phone(&t.phone))
                    .bind(c.lease_start)
                    .bind(c.lease_end)
                    .bind(c.registered_by)
                    .bind(c.log.at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| map_insert_error(e, "tenancy"))?;
                    ids.push(row.try_get::<i64, _>("id")?);
                }
                let entries: Vec<crate::NewLogEntry> = ids
                    .iter()
                    .map(|id| {
                        let mut e = c.log.clone();
                        e.subject = format!("tenancy:{id}");
                        e
                    })
                    .collect();
                append_logs_tx(&mut tx, &entries).await?;
                if let Some((change, log)) = &c.unit_change {
                    change_unit_tx(&mut tx, c.unit_id, unit.version, change, log).await?;
                }
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let row = sqlx::query(&format!("SELECT {TENANCY_COLUMNS} FROM tenancies WHERE id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    out.push(rental_rows::tenancy(&row)?);
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn tenancy(
                &self,
                reach: &crate::rental::RentalReach,
                id: i64,
            ) -> crate::Result<Option<crate::rental::Tenancy>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {TENANCY_COLUMNS} FROM tenancies WHERE id = "
                ));
                q.push_bind(id).push(" AND");
                push_reach(&mut q, reach, "");
                let row = q.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(rental_rows::tenancy).transpose()
            }

            async fn tenancies(
                &self,
                reach: &crate::rental::RentalReach,
                unit_id: i64,
                active_only: bool,
            ) -> crate::Result<Vec<crate::rental::Tenancy>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {TENANCY_COLUMNS} FROM tenancies WHERE unit_id = "
                ));
                q.push_bind(unit_id).push(" AND");
                push_reach(&mut q, reach, "");
                if active_only {
                    q.push(" AND state = 'active'");
                }
                q.push(" ORDER BY id DESC LIMIT 1000");
                let rows = q.build().fetch_all(&self.pool).await?;
                rows.iter().map(rental_rows::tenancy).collect()
            }

            async fn tenancies_by_document(
                &self,
                reach: &crate::rental::RentalReach,
                actor: i64,
                id_number: &str,
                at: i64,
            ) -> crate::Result<Vec<crate::rental::Tenancy>> {
                let hash = self.keys.lookup_hash(crate::rental::TENANT_ID_FIELD, id_number);
                let mut tx = self.writer.begin().await?;
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {TENANCY_COLUMNS} FROM tenancies WHERE id_hash = "
                ));
                q.push_bind(hash).push(" AND");
                push_reach(&mut q, reach, "");
                q.push(" ORDER BY id DESC LIMIT 100");
                let rows = q.build().fetch_all(&mut *tx).await?;
                let found: Vec<crate::rental::Tenancy> =
                    rows.iter().map(rental_rows::tenancy).collect::<crate::Result<_>>()?;
                let ids: Vec<String> = found.iter().map(|t| t.id.to_string()).collect();
                sqlx::query(
                    "INSERT INTO audit_log (at, account_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(at)
                .bind(actor)
                .bind("tenant_lookup")
                .bind("tenancies")
                // Which rows answered, never the number searched for.
                .bind(format!("scope={} found={}", reach.scope.as_text(), ids.join(",")))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn end_tenancy(
                &self,
                id: i64,
                reason: &str,
                log: &crate::NewLogEntry,
            ) -> crate::Result<crate::rental::Tenancy> {
                let mut tx = self.writer.begin().await?;
                let updated = sqlx::query(
                    "UPDATE tenancies SET state = 'ended', ended_at = $1, end_reason = $2 WHERE id = $3 AND state = 'active'",
                )
                .bind(log.at)
                .bind(reason)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err(crate::StoreError::Conflict(format!("tenancy {id} is not active")));
                }
                let mut entry = log.clone();
                entry.subject = format!("tenancy:{id}");
                entry.action = "check_out".into();
                entry.from_state = Some("active".into());
                entry.to_state = Some("ended".into());
                entry.body = serde_json::json!({ "reason": reason }).to_string();
                append_log_tx(&mut tx, &entry).await?;
                let row = sqlx::query(&format!("SELECT {TENANCY_COLUMNS} FROM tenancies WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let tenancy = rental_rows::tenancy(&row)?;
                let unit = unit_in_tx(&mut tx, tenancy.unit_id).await?;
                if unit.tenants_now == 0 {
                    use pingan_domain::rental::{next, UnitAction, UnitActor, UnitState};
                    let from: Option<UnitState> = unit.state.parse().ok();
                    // Only a let unit empties to vacant; one under
                    // rectification keeps its state.
                    if let Some(Ok(to)) = from.map(|s| next(s, UnitAction::CheckOut, &[UnitActor::System])) {
                        let change = crate::rental::UnitChange {
                            state: to.as_str().to_string(),
                            ..Default::default()
                        };
                        let mut unit_entry = entry.clone();
                        unit_entry.from_state = Some(unit.state.clone());
                        unit_entry.to_state = Some(to.as_str().to_string());
                        unit_entry.body = serde_json::json!({ "reason": reason, "tenancy_id": id }).to_string();
                        change_unit_tx(&mut tx, unit.id, unit.version, &change, &unit_entry).await?;
                    }
                }
                tx.commit().await?;
                Ok(tenancy)
            }

            async fn due_check_outs(&self, now: i64, limit: u32) -> crate::Result<Vec<crate::rental::Tenancy>> {
                let rows = sqlx::query(&format!(
                    "SELECT {TENANCY_COLUMNS} FROM tenancies WHERE state = 'active' AND lease_end <= $1 ORDER BY lease_end, id LIMIT $2"
                ))
                .bind(now)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rental_rows::tenancy).collect()
            }

            async fn purge_tenancies(
                &self,
                ended_before: i64,
                limit: u32,
                log: &crate::NewLogEntry,
            ) -> crate::Result<u64> {
                use sqlx::Row;
                // Read first, outside any write transaction: most sweeps find
                // nothing and should not queue for the writer.
                let rows = sqlx::query(
                    "SELECT id FROM tenancies WHERE state = 'ended' AND purged_at IS NULL AND ended_at < $1 ORDER BY ended_at, id LIMIT $2",
                )
                .bind(ended_before)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let candidates: Vec<i64> = rows
                    .iter()
                    .map(|r| r.try_get("id"))
                    .collect::<std::result::Result<_, sqlx::Error>>()?;
                let mut tx = self.writer.begin().await?;
                let mut ids = Vec::with_capacity(candidates.len());
                for id in candidates {
                    let done = sqlx::query(
                        "UPDATE tenancies SET name_cipher = NULL, name_masked = NULL, id_cipher = NULL, id_hash = NULL, \
                         id_masked = NULL, phone_cipher = NULL, phone_masked = NULL, purged_at = $1 \
                         WHERE id = $2 AND purged_at IS NULL",
                    )
                    .bind(log.at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    // Another sweep purged it meanwhile: log it once only.
                    if done > 0 {
                        ids.push(id);
                    }
                }
                let entries: Vec<crate::NewLogEntry> = ids
                    .iter()
                    .map(|id| {
                        let mut e = log.clone();
                        e.subject = format!("tenancy:{id}");
                        e
                    })
                    .collect();
                append_logs_tx(&mut tx, &entries).await?;
                tx.commit().await?;
                if !ids.is_empty() && crate::Store::backend(self) == "sqlite" {
                    // Old page images in the write-ahead log still hold the
                    // sealed values: copy the log into the file (where
                    // secure_delete has zeroed the freed bytes) and empty it.
                    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.writer).await?;
                    // A reader that held an old snapshot throughout keeps the
                    // log from being emptied; the next checkpoint overwrites it.
                    if row.try_get::<i64, _>(0).unwrap_or(0) != 0 {
                        tracing::warn!(purged = ids.len(), "could not empty the write-ahead log after a purge (busy readers)");
                    }
                }
                Ok(ids.len() as u64)
            }

            async fn rental_overview(
                &self,
                under: &pingan_domain::Scope,
                digits: usize,
                now: i64,
            ) -> crate::Result<Vec<crate::rental::RentalCounts>> {
                use sqlx::Row;
                use std::collections::BTreeMap;
                let digits = digits.clamp(2, 15);
                let (lo, hi) = crate::queries::prefix_range(under.prefix());
                let mut out: BTreeMap<String, crate::rental::RentalCounts> = BTreeMap::new();
                let rows = sqlx::query(&format!(
                    "SELECT substr(grid_code, 1, {digits}) AS code, COUNT(*) AS units, \
                     SUM(CASE WHEN state = 'let' THEN 1 ELSE 0 END) AS let_units, \
                     SUM(CASE WHEN state = 'vacant' THEN 1 ELSE 0 END) AS vacant_units, \
                     SUM(CASE WHEN state = 'rectification_required' THEN 1 ELSE 0 END) AS failed_checks, \
                     SUM(CASE WHEN state = 'awaiting_inspection' OR next_inspection_due <= $3 THEN 1 ELSE 0 END) AS inspections_due \
                     FROM rental_units WHERE grid_code >= $1 AND grid_code < $2 AND state <> 'withdrawn' \
                     GROUP BY substr(grid_code, 1, {digits})"
                ))
                .bind(&lo)
                .bind(&hi)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    let code: String = r.try_get("code")?;
                    let c = out.entry(code.clone()).or_default();
                    c.code = code;
                    c.units = r.try_get("units")?;
                    c.let_units = r.try_get("let_units")?;
                    c.vacant_units = r.try_get("vacant_units")?;
                    c.failed_checks = r.try_get("failed_checks")?;
                    c.inspections_due = r.try_get("inspections_due")?;
                }
                let rows = sqlx::query(&format!(
                    "SELECT substr(grid_code, 1, {digits}) AS code, COUNT(*) AS total, \
                     SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active \
                     FROM tenancies WHERE grid_code >= $1 AND grid_code < $2 GROUP BY substr(grid_code, 1, {digits})"
                ))
                .bind(&lo)
                .bind(&hi)
                .fetch_all(&self.pool)
                .await?;
                for r in rows {
                    let code: String = r.try_get("code")?;
                    let c = out.entry(code.clone()).or_default();
                    c.code = code;
                    c.registrations_total = r.try_get("total")?;
                    c.tenants_now = r.try_get("active")?;
                }
                Ok(out.into_values().collect())
            }
        }
    };
}

pub(crate) use rental_impl;

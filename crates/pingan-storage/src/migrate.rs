//! Embedded migrations, one list per backend. An applied migration is never
//! edited: its checksum is kept and checked at every start.
use sha2::{Digest, Sha256};

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        Sha256::digest(self.sql.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "grid_packs",
        sql: include_str!("../migrations/sqlite/0002_grid_packs.sql"),
    },
    Migration {
        version: 3,
        name: "event_log",
        sql: include_str!("../migrations/sqlite/0003_event_log.sql"),
    },
    Migration {
        version: 4,
        name: "matters",
        sql: include_str!("../migrations/sqlite/0004_matters.sql"),
    },
    Migration {
        version: 5,
        name: "catalogue_photos",
        sql: include_str!("../migrations/sqlite/0005_catalogue_photos.sql"),
    },
    Migration {
        version: 6,
        name: "notifications",
        sql: include_str!("../migrations/sqlite/0006_notifications.sql"),
    },
    Migration {
        version: 7,
        name: "milestones",
        sql: include_str!("../migrations/sqlite/0007_milestones.sql"),
    },
    Migration {
        version: 8,
        name: "rentals",
        sql: include_str!("../migrations/sqlite/0008_rentals.sql"),
    },
    Migration {
        version: 9,
        name: "patrols",
        sql: include_str!("../migrations/sqlite/0009_patrols.sql"),
    },
    Migration {
        version: 10,
        name: "mediation",
        sql: include_str!("../migrations/sqlite/0010_mediation.sql"),
    },
    Migration {
        version: 11,
        name: "indicators",
        sql: include_str!("../migrations/sqlite/0011_indicators.sql"),
    },
    Migration {
        version: 12,
        name: "indicator_months",
        sql: include_str!("../migrations/sqlite/0012_indicator_months.sql"),
    },
    Migration {
        version: 13,
        name: "monthly_reports",
        sql: include_str!("../migrations/sqlite/0013_monthly_reports.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "grid_packs",
        sql: include_str!("../migrations/postgres/0002_grid_packs.sql"),
    },
    Migration {
        version: 3,
        name: "event_log",
        sql: include_str!("../migrations/postgres/0003_event_log.sql"),
    },
    Migration {
        version: 4,
        name: "matters",
        sql: include_str!("../migrations/postgres/0004_matters.sql"),
    },
    Migration {
        version: 5,
        name: "catalogue_photos",
        sql: include_str!("../migrations/postgres/0005_catalogue_photos.sql"),
    },
    Migration {
        version: 6,
        name: "notifications",
        sql: include_str!("../migrations/postgres/0006_notifications.sql"),
    },
    Migration {
        version: 7,
        name: "milestones",
        sql: include_str!("../migrations/postgres/0007_milestones.sql"),
    },
    Migration {
        version: 8,
        name: "rentals",
        sql: include_str!("../migrations/postgres/0008_rentals.sql"),
    },
    Migration {
        version: 9,
        name: "patrols",
        sql: include_str!("../migrations/postgres/0009_patrols.sql"),
    },
    Migration {
        version: 10,
        name: "mediation",
        sql: include_str!("../migrations/postgres/0010_mediation.sql"),
    },
    Migration {
        version: 11,
        name: "indicators",
        sql: include_str!("../migrations/postgres/0011_indicators.sql"),
    },
    Migration {
        version: 12,
        name: "indicator_months",
        sql: include_str!("../migrations/postgres/0012_indicator_months.sql"),
    },
    Migration {
        version: 13,
        name: "monthly_reports",
        sql: include_str!("../migrations/postgres/0013_monthly_reports.sql"),
    },
];

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

//! Units: the organisations accounts work for.
use serde::{Deserialize, Serialize};

/// The kind of a unit (单位): every unit belongs to one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 综治中心 / 指挥中心
    CommandCentre,
    /// 职能部门
    Department,
    /// 乡镇四平台
    FourPlatformOffice,
    /// 人民调解委员会
    MediationCommittee,
    /// 村(居)委会
    VillageCommittee,
}

impl UnitKind {
    pub const ALL: [UnitKind; 5] = [
        UnitKind::CommandCentre,
        UnitKind::Department,
        UnitKind::FourPlatformOffice,
        UnitKind::MediationCommittee,
        UnitKind::VillageCommittee,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            UnitKind::CommandCentre => "command_centre",
            UnitKind::Department => "department",
            UnitKind::FourPlatformOffice => "four_platform_office",
            UnitKind::MediationCommittee => "mediation_committee",
            UnitKind::VillageCommittee => "village_committee",
        }
    }
}

impl std::str::FromStr for UnitKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown unit kind {s:?}"))
    }
}

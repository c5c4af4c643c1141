//! Account roles.
use std::fmt;

use serde::{Deserialize, Serialize};

/// What an account does (角色). Every account has exactly one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员
    GridWorker,
    /// 网格长
    GridChief,
    /// 综治中心坐席
    CentreOperator,
    /// 部门办理人
    DepartmentHandler,
    /// 领导
    Leader,
    /// 调解员
    Mediator,
    /// 房东
    Landlord,
    /// 群众
    Citizen,
    /// 管理员
    Admin,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::GridWorker,
        Role::GridChief,
        Role::CentreOperator,
        Role::DepartmentHandler,
        Role::Leader,
        Role::Mediator,
        Role::Landlord,
        Role::Citizen,
        Role::Admin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::GridChief => "grid_chief",
            Role::CentreOperator => "centre_operator",
            Role::DepartmentHandler => "department_handler",
            Role::Leader => "leader",
            Role::Mediator => "mediator",
            Role::Landlord => "landlord",
            Role::Citizen => "citizen",
            Role::Admin => "admin",
        }
    }

    pub const fn name_zh(self) -> &'static str {
        match self {
            Role::GridWorker => "网格员",
            Role::GridChief => "网格长",
            Role::CentreOperator => "综治中心坐席",
            Role::DepartmentHandler => "部门办理人",
            Role::Leader => "领导",
            Role::Mediator => "调解员",
            Role::Landlord => "房东",
            Role::Citizen => "群众",
            Role::Admin => "管理员",
        }
    }

    /// Whether this role may create, change and disable accounts and units within its scope.
    pub const fn manages_accounts(self) -> bool {
        matches!(self, Role::Admin)
    }

    /// Whether this role may read personal fields unmasked (always audited).
    pub const fn may_unmask_personal_data(self) -> bool {
        matches!(self, Role::Admin | Role::CentreOperator)
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected one of grid_worker, grid_chief, centre_operator, department_handler, leader, mediator, landlord, citizen, admin")]
pub struct UnknownRole(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}

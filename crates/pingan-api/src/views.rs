//! What the API returns: the store's rows as the outside world sees them.
use pingan_domain::Level;
use pingan_storage::{Account, Grid, Region, Unit};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    /// One of grid_worker, grid_chief, centre_operator, department_handler,
    /// leader, mediator, landlord, citizen, admin.
    pub role: String,
    /// The role's Chinese name.
    pub role_name: String,
    /// A region prefix, a grid code, or `*` for everywhere.
    pub scope: String,
    pub unit_id: Option<i64>,
    pub display_name: String,
    /// Masked, e.g. 138****1234.
    pub phone_masked: Option<String>,
    pub disabled: bool,
    /// Milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.id,
            username: a.username,
            role: a.role.as_str().to_string(),
            role_name: a.role.name_zh().to_string(),
            scope: a.scope.as_text().to_string(),
            unit_id: a.unit_id,
            display_name: a.display_name,
            phone_masked: a.phone_masked,
            disabled: a.disabled,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    /// 12-digit statistical code.
    pub code: String,
    pub name: String,
    /// province, city, county, township or village.
    #[schema(value_type = String)]
    pub level: Level,
    pub parent_code: Option<String>,
    pub active: bool,
}

impl From<Region> for RegionView {
    fn from(r: Region) -> Self {
        RegionView {
            code: r.code,
            name: r.name,
            level: r.level,
            parent_code: r.parent_code,
            active: r.active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridView {
    /// 15-digit grid code.
    pub code: String,
    pub name: String,
    pub village_code: String,
    /// [min lng, min lat, max lng, max lat], WGS-84.
    pub bbox: [f64; 4],
}

impl From<Grid> for GridView {
    fn from(g: Grid) -> Self {
        GridView {
            code: g.code,
            name: g.name,
            village_code: g.village_code,
            bbox: g.bbox,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    pub id: i64,
    pub name: String,
    /// command_centre, department, four_platform_office, mediation_committee or village_committee.
    pub kind: String,
    pub region_code: String,
}

impl From<Unit> for UnitView {
    fn from(u: Unit) -> Self {
        UnitView {
            id: u.id,
            name: u.name,
            kind: u.kind.as_str().to_string(),
            region_code: u.region_code,
        }
    }
}

/// One page of a list. Pass `next` back as `after` for the following page;
/// it is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    pub fn new<R>(rows: Vec<R>, limit: u32, key: impl Fn(&R) -> String) -> Self
    where
        T: From<R>,
    {
        let next = (rows.len() as u32 >= limit.max(1))
            .then(|| rows.last().map(&key))
            .flatten();
        Page {
            items: rows.into_iter().map(T::from).collect(),
            next,
        }
    }
}

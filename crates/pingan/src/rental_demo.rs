//! Rental housing in the demo: a landlord of 枫桥镇 with three buildings and
//! units in every state (vacant, let, failed check, awaiting a check, draft),
//! entered through the same service layer as the API, and a grid worker who
//! did the checks. Tenants are fictitious: their document numbers use the
//! unassigned region code 990000 and their phones the unassigned 19999 range.
use std::fmt::Write as _;

use anyhow::Context;
use pingan_api::rentals::{
    self, CheckInRequest, CheckItemRequest, InspectionRequest, NewPropertyRequest, NewUnitRequest,
    TenantRequest, UnitActionRequest,
};
use pingan_api::AppState;
use pingan_domain::rental::{resident_id_check_char, CheckItem};
use pingan_domain::{GridCode, Role, Scope};
use pingan_storage::rental::RentalUnit;
use pingan_storage::{Account, NewAccount};

/// The demo's rental township: 枫桥镇 of 诸暨市.
const TOWNSHIP: &str = "330681109";
const DAY: i64 = 24 * 3600 * 1000;

/// Creates the landlord, the grid worker and their rentals; answers the
/// accounts' lines for the accounts file.
pub async fn seed(state: &AppState, now: i64) -> anyhow::Result<String> {
    let index = state.index();
    let mut grids: Vec<GridCode> = index
        .iter()
        .map(|(code, _)| code.clone())
        .filter(|c| c.as_str().starts_with(TOWNSHIP))
        .collect();
    grids.sort();
    let village = grids
        .first()
        .map(|g| g.as_str()[..12].to_string())
        .context("the demo has no grids in 枫桥镇")?;
    grids.retain(|g| g.as_str().starts_with(&village));
    let mut lines = String::new();
    let landlord = account(
        state,
        "fengqiao-landlord",
        Role::Landlord,
        &village,
        "枫桥镇房东",
        &mut lines,
    )
    .await?;
    let worker = account(
        state,
        "fengqiao-gridworker",
        Role::GridWorker,
        &village,
        "枫桥镇网格员",
        &mut lines,
    )
    .await?;

    let buildings = [
        ("枫桥老街 18 号", 3),
        ("枫桥新村 5 幢", 2),
        ("枫溪路 66 号", 1),
    ];
    let mut units = Vec::new();
    for (i, (name, rooms)) in buildings.iter().enumerate() {
        let grid = &grids[i % grids.len()];
        let (lng, lat) = point_in(state, grid).context("no point in the grid")?;
        let p = rentals::add_property(
            state,
            &landlord,
            NewPropertyRequest {
                name: name.to_string(),
                address: format!("诸暨市枫桥镇{name}"),
                lng,
                lat,
                crs: None,
                landlord_id: None,
                contact: Some(format!("1999920{:04}", i + 1)),
            },
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo property: {e}"))?;
        for r in 0..*rooms {
            let area = [18.0, 25.0, 12.0][r % 3] + i as f64 * 5.0;
            let u = rentals::add_unit(
                state,
                &landlord,
                p.id,
                NewUnitRequest {
                    label: format!("{}0{}", r + 1, i + 1),
                    area_m2: area,
                    rent_yuan: 600 + (area as i64) * 35,
                    street_facing: r == 0,
                    floor: r as i64 + 1,
                    facilities: vec!["空调".into(), "热水器".into(), "宽带".into()],
                    occupancy_limit: (area / 5.0).floor() as i64 - 1,
                },
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo unit: {e}"))?;
            units.push(u);
        }
    }
    // units: 0-2 in the first building, 3-4 in the second, 5 in the third.
    let photo = pingan_storage::photos::solid_png(64, 48, [150, 150, 160]);
    let act = |u: RentalUnit, who: Account, action: &'static str| async move {
        rentals::perform(
            state,
            &who,
            u.id,
            UnitActionRequest {
                action: action.into(),
                version: u.version,
                note: None,
            },
            now,
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo {action}: {e}"))
    };
    let check = |u: RentalUnit, failing: Option<CheckItem>| {
        let worker = worker.clone();
        let photo = photo.clone();
        async move {
            let stored = pingan_api::matters::store_photo(state, &worker, &photo, now)
                .await
                .map_err(|e| anyhow::anyhow!("demo photo: {e}"))?;
            let out = rentals::record_inspection(
                state,
                &worker,
                u.id,
                InspectionRequest {
                    version: u.version,
                    items: CheckItem::ALL
                        .iter()
                        .map(|&item| CheckItemRequest {
                            item: item.as_str().into(),
                            passed: Some(item) != failing,
                            note: (Some(item) == failing).then(|| "楼道内给电动车充电".into()),
                        })
                        .collect(),
                    photos: vec![stored.sha256],
                    note: None,
                    night: true,
                },
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo inspection: {e}"))?;
            state
                .store
                .rental_unit(
                    &pingan_storage::rental::RentalReach::everywhere(),
                    out.unit.id,
                )
                .await?
                .context("unit vanished")
        }
    };
    let mut tenant_no = 0;
    let mut let_unit = |u: RentalUnit, count: usize, days: i64| {
        let landlord = landlord.clone();
        let tenants: Vec<TenantRequest> = (0..count)
            .map(|_| {
                tenant_no += 1;
                fictitious_tenant(tenant_no)
            })
            .collect();
        async move {
            rentals::register(
                state,
                &landlord,
                u.id,
                CheckInRequest {
                    version: u.version,
                    lease_start: now - 30 * DAY,
                    lease_end: now + days * DAY,
                    tenants,
                },
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo check-in: {e}"))
        }
    };
    let mut ready = Vec::new();
    for (i, u) in units.into_iter().enumerate() {
        let u = if i == 5 {
            u
        } else {
            act(u, landlord.clone(), "submit").await?
        };
        let u = match i {
            2 => check(u, Some(CheckItem::NoIndoorEbikeCharging)).await?,
            4 | 5 => u,
            _ => {
                let u = check(u, None).await?;
                act(u, landlord.clone(), "publish").await?
            }
        };
        ready.push(u);
    }
    // Two let units: a family for half a year, one tenant whose lease ends
    // in three days (the scheduler checks them out).
    let_unit(ready[1].clone(), 2, 180).await?;
    let_unit(ready[3].clone(), 1, 3).await?;
    Ok(lines)
}

async fn account(
    state: &AppState,
    username: &str,
    role: Role,
    scope: &str,
    display: &str,
    lines: &mut String,
) -> anyhow::Result<Account> {
    let password = crate::tools::random_password();
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || pingan_api::auth::hash_password(&p)).await?
    };
    let scope = Scope::parse(scope)?;
    let account = state
        .store
        .create_account(
            &Scope::everywhere(),
            &NewAccount {
                username: username.into(),
                password_hash: hash,
                role,
                scope: scope.clone(),
                unit_id: None,
                display_name: display.into(),
                phone: None,
            },
        )
        .await?;
    writeln!(lines, "{username}\t{password}\t{role}\t{scope}")?;
    Ok(account)
}

fn fictitious_tenant(n: usize) -> TenantRequest {
    const NAMES: [&str; 6] = ["王小明", "李春花", "张建国", "陈美玲", "刘志强", "赵雅婷"];
    let body = format!("9900001990{:02}{:02}{:03}", 1 + n % 12, 1 + n % 28, n);
    let check = resident_id_check_char(&body).unwrap_or('0');
    TenantRequest {
        name: NAMES[n % NAMES.len()].into(),
        doc_type: "resident_id".into(),
        id_number: format!("{body}{check}"),
        phone: format!("1999930{:04}", n),
    }
}

/// A point inside a grid, sampled over its bounding box.
fn point_in(state: &AppState, grid: &GridCode) -> Option<(f64, f64)> {
    use geo::BoundingRect;
    let index = state.index();
    let rect = index.get(grid)?.bounding_rect()?;
    let steps = 16;
    for i in 1..steps {
        for j in 1..steps {
            let lng =
                rect.min().x + (rect.max().x - rect.min().x) * f64::from(i) / f64::from(steps);
            let lat =
                rect.min().y + (rect.max().y - rect.min().y) * f64::from(j) / f64::from(steps);
            if index.locate(lng, lat) == Some(grid) {
                return Some((lng, lat));
            }
        }
    }
    None
}

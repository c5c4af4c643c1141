//! `pingan demo`: a living Zhejiang for newcomers. On first run it imports the
//! bundled real divisions, generates township, village and grid polygons inside
//! the real county borders, creates units and one account of every role, and
//! writes the accounts to DATA/demo-accounts.txt; later runs reuse it all.
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use pingan_domain::{Level, RegionCode, Role, Scope, UnitKind};
use pingan_geo::Divisions;
use pingan_storage::{NewAccount, NewGrid, NewUnit, Store};

use crate::cli::DemoArgs;
use crate::config::Settings;
use crate::progress::bar;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

pub const ACCOUNTS_FILE: &str = "demo-accounts.txt";

pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let accounts_file = settings.data.join(ACCOUNTS_FILE);
    if accounts_file.exists() {
        tracing::info!(dir = %settings.data.display(), "reusing the demo data");
    } else {
        build(settings, &*store, args.seed).await?;
        let index = pingan_api::imports::load_index(&*store).await?;
        let state = crate::serve::app_state(settings, store.clone(), index, true).await?;
        if args.days > 0 {
            crate::simulate::run(&state, args.days, args.seed, pingan_storage::now_ms()).await?;
        }
        let mut lines = front_door_accounts(&*store).await?;
        lines += &crate::rental_demo::seed(&state, pingan_storage::now_ms()).await?;
        let path = settings.data.join(ACCOUNTS_FILE);
        let before = std::fs::read_to_string(&path)?;
        crate::config::write_secret(&path, &(before + &lines))?;
        println!(
            "demo ready in {}; accounts and passwords are in {}",
            settings.data.display(),
            accounts_file.display()
        );
    }
    if args.no_serve {
        return Ok(());
    }
    crate::serve::run_server(
        settings,
        store,
        args.listen.unwrap_or(settings.listen),
        true,
    )
    .await
}

/// Writes the bundled data files under `dir`.
fn extract_bundled(dir: &Path) -> anyhow::Result<()> {
    for (rel, bytes) in bundled::BUNDLED {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

async fn build(settings: &Settings, store: &dyn Store, seed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let bundled_dir = settings.data.join("bundled");
    extract_bundled(&bundled_dir)?;
    let divisions = crate::tools::read_divisions(&bundled_dir.join("divisions"))?;
    crate::tools::write_divisions(store, &divisions).await?;
    println!(
        "regions: {} cities, {} counties, {} townships, {} villages",
        divisions.count(Level::City),
        divisions.count(Level::County),
        divisions.count(Level::Township),
        divisions.count(Level::Village)
    );

    let boundaries = bundled_dir.join("boundaries");
    let pb = bar(0, "generating geography", false);
    let pb_worker = pb.clone();
    let divisions = std::sync::Arc::new(divisions);
    let for_worker = divisions.clone();
    let geography = tokio::task::spawn_blocking(move || {
        pingan_geo::demo::generate(&boundaries, &for_worker, seed, &|done, total| {
            pb_worker.set_length(total);
            pb_worker.set_position(done);
        })
    })
    .await??;
    pb.finish_and_clear();

    let shapes: Vec<(String, Vec<u8>)> = geography
        .regions
        .iter()
        .map(|(code, shape)| {
            (
                code.as_str().to_string(),
                pingan_geo::geometry::encode(shape),
            )
        })
        .collect();
    store.save_region_shapes(&shapes).await?;
    // The generator guarantees valid, non-overlapping grids, so they go in
    // directly rather than through the (slower) import checks.
    let grids: Vec<NewGrid> = geography
        .grids
        .iter()
        .map(|g| pingan_api::imports::grid_row(&g.code, g.name.clone(), &g.geometry))
        .collect();
    let pb = bar(grids.len() as u64, "writing grids", false);
    store.import_grids(&grids, &|n| pb.set_position(n)).await?;
    pb.finish_and_clear();
    pingan_api::imports::refresh_grid_packs(store).await?;
    println!(
        "geography: {} region polygons, {} grids (seed {seed})",
        shapes.len(),
        grids.len()
    );

    let lines = create_people(store, &divisions).await?;
    crate::config::write_secret(&settings.data.join(ACCOUNTS_FILE), &lines)?;
    println!("built in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Accounts to sign in to the simulated counties with, one line each as in
/// the accounts file.
async fn front_door_accounts(store: &dyn Store) -> anyhow::Result<String> {
    let mut lines = String::new();
    for (username, role, scope, display) in crate::simulate::FRONT_DOOR {
        let password = crate::tools::random_password();
        let hash = {
            let p = password.clone();
            tokio::task::spawn_blocking(move || pingan_api::auth::hash_password(&p)).await?
        };
        let scope = Scope::parse(scope)?;
        store
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
    }
    // Mediators of 枫桥镇's committees and 诸暨市's labour committee.
    if let Some(c) = crate::simulate::ensure_committees(store).await? {
        let committees = [c.village, c.township, c.labour];
        for (username, which, display) in crate::simulate::FRONT_DOOR_MEDIATORS {
            let committee = &committees[which];
            let password = crate::tools::random_password();
            let hash = {
                let p = password.clone();
                tokio::task::spawn_blocking(move || pingan_api::auth::hash_password(&p)).await?
            };
            let scope = Scope::region(&RegionCode::infer(&committee.region_code)?);
            store
                .create_account(
                    &Scope::everywhere(),
                    &NewAccount {
                        username: username.into(),
                        password_hash: hash,
                        role: Role::Mediator,
                        scope: scope.clone(),
                        unit_id: Some(committee.id),
                        display_name: display.into(),
                        phone: None,
                    },
                )
                .await?;
            writeln!(lines, "{username}\t{password}\t{}\t{scope}", Role::Mediator)?;
        }
    }
    Ok(lines)
}

/// The demo's county: 杭州市上城区.
const DEMO_COUNTY: &str = "330102";

fn children_of<'a>(divisions: &'a Divisions, parent: &RegionCode) -> Vec<&'a RegionCode> {
    divisions
        .regions
        .iter()
        .filter(|r| r.parent.as_ref() == Some(parent))
        .map(|r| &r.code)
        .collect()
}

fn name_of<'a>(divisions: &'a Divisions, code: &RegionCode) -> &'a str {
    divisions
        .regions
        .iter()
        .find(|r| &r.code == code)
        .map(|r| r.name.as_str())
        .unwrap_or("")
}

/// Units and one account of every role, around two townships of one county.
/// Returns the lines of demo-accounts.txt.
async fn create_people(store: &dyn Store, divisions: &Divisions) -> anyhow::Result<String> {
    let everywhere = Scope::everywhere();
    let county = RegionCode::from_short(DEMO_COUNTY)?;
    let townships = children_of(divisions, &county);
    anyhow::ensure!(townships.len() >= 2, "the demo county needs two townships");
    let (t1, t2) = (townships[0].clone(), townships[1].clone());
    let village = children_of(divisions, &t1)
        .first()
        .map(|v| (*v).clone())
        .context("the demo township has no village")?;
    let grid = format!("{}001", village.as_str());
    let county_name = name_of(divisions, &county).to_string();
    let t1_name = name_of(divisions, &t1).to_string();
    let t2_name = name_of(divisions, &t2).to_string();
    let village_name = name_of(divisions, &village).to_string();

    let unit = |name: String, kind: UnitKind, region: &RegionCode| {
        let region = region.clone();
        async move {
            store
                .create_unit(&Scope::everywhere(), &NewUnit { name, kind, region })
                .await
        }
    };
    let county_centre = unit(
        format!("{county_name}社会治理中心"),
        UnitKind::CommandCentre,
        &county,
    )
    .await?;
    let t1_centre = unit(format!("{t1_name}综治中心"), UnitKind::CommandCentre, &t1).await?;
    let t2_centre = unit(format!("{t2_name}综治中心"), UnitKind::CommandCentre, &t2).await?;
    unit(
        format!("{t1_name}四平台办公室"),
        UnitKind::FourPlatformOffice,
        &t1,
    )
    .await?;
    let housing = unit(
        format!("{county_name}住房和城乡建设局"),
        UnitKind::Department,
        &county,
    )
    .await?;
    let mediation = unit(
        format!("{t1_name}人民调解委员会"),
        UnitKind::MediationCommittee,
        &t1,
    )
    .await?;
    let committee = unit(
        format!("{village_name}委员会"),
        UnitKind::VillageCommittee,
        &village,
    )
    .await?;

    let people: Vec<(&str, Role, String, Option<i64>, &str)> = vec![
        ("admin", Role::Admin, "33".into(), None, "省级管理员"),
        (
            "county-admin",
            Role::Admin,
            county.prefix().into(),
            Some(county_centre.id),
            "区管理员",
        ),
        (
            "leader",
            Role::Leader,
            county.prefix().into(),
            Some(county_centre.id),
            "区领导",
        ),
        (
            "county-operator",
            Role::CentreOperator,
            county.prefix().into(),
            Some(county_centre.id),
            "区中心坐席",
        ),
        (
            "operator1",
            Role::CentreOperator,
            t1.prefix().into(),
            Some(t1_centre.id),
            "街道坐席甲",
        ),
        (
            "operator2",
            Role::CentreOperator,
            t2.prefix().into(),
            Some(t2_centre.id),
            "街道坐席乙",
        ),
        (
            "handler",
            Role::DepartmentHandler,
            county.prefix().into(),
            Some(housing.id),
            "住建局办理人",
        ),
        (
            "mediator",
            Role::Mediator,
            t1.prefix().into(),
            Some(mediation.id),
            "调解员",
        ),
        (
            "gridchief",
            Role::GridChief,
            village.prefix().into(),
            Some(committee.id),
            "网格长",
        ),
        (
            "gridworker",
            Role::GridWorker,
            grid.clone(),
            Some(committee.id),
            "网格员",
        ),
        (
            "landlord",
            Role::Landlord,
            village.prefix().into(),
            None,
            "房东",
        ),
        (
            "citizen",
            Role::Citizen,
            village.prefix().into(),
            None,
            "群众",
        ),
    ];
    let mut lines = String::new();
    for (i, (username, role, scope, unit_id, display)) in people.into_iter().enumerate() {
        let password = crate::tools::random_password();
        let hash = {
            let p = password.clone();
            tokio::task::spawn_blocking(move || pingan_api::auth::hash_password(&p)).await?
        };
        let scope = Scope::parse(&scope)?;
        store
            .create_account(
                &everywhere,
                &NewAccount {
                    username: username.into(),
                    password_hash: hash,
                    role,
                    scope: scope.clone(),
                    unit_id,
                    display_name: display.into(),
                    // Obviously fictitious numbers (the 19999 range is unassigned).
                    phone: Some(format!("199990{:05}", i + 1)),
                },
            )
            .await?;
        writeln!(lines, "{username}\t{password}\t{role}\t{scope}")?;
    }
    Ok(lines)
}

//! Import, export, locate, user and key commands.
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use pingan_domain::{Role, Scope};
use pingan_geo::gridfile::GridFileError;
use pingan_geo::{Crs, Divisions};
use pingan_storage::{NewAccount, NewGrid, NewRegion, Page, PersonalDataKeys};
use rand::Rng;

use crate::cli::{LocateArgs, UserCommand};
use crate::config::Settings;
use crate::progress::bar;

/// Reads and checks the five division files, then writes them in one transaction.
pub async fn import_divisions(settings: &Settings, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let divisions = read_divisions(dir)?;
    let store = settings.open_store().await?;
    let summary = write_divisions(&*store, &divisions).await?;
    println!(
        "imported {} regions in {:.1} s: {} added, {} renamed or moved, {} re-activated, {} marked inactive, {} unchanged",
        divisions.regions.len(),
        started.elapsed().as_secs_f64(),
        summary.added,
        summary.renamed,
        summary.reactivated,
        summary.deactivated,
        summary.unchanged
    );
    Ok(())
}

pub fn read_divisions(dir: &Path) -> anyhow::Result<Divisions> {
    let pb = bar(Divisions::input_size(dir), "reading divisions", true);
    let read = Divisions::read_dir(dir, &|bytes| pb.set_position(bytes));
    pb.finish_and_clear();
    Ok(read?)
}

pub async fn write_divisions(
    store: &dyn pingan_storage::Store,
    divisions: &Divisions,
) -> anyhow::Result<pingan_storage::DivisionImportSummary> {
    let rows: Vec<NewRegion> = divisions
        .regions
        .iter()
        .map(|r| NewRegion {
            code: r.code.clone(),
            name: r.name.clone(),
            parent: r.parent.clone(),
        })
        .collect();
    let pb = bar(rows.len() as u64, "writing regions", false);
    let summary = store
        .import_divisions(&rows, &|n| pb.set_position(n))
        .await?;
    pb.finish_and_clear();
    Ok(summary)
}

fn parse_crs(text: &str) -> anyhow::Result<Crs> {
    text.parse()
        .map_err(|e: pingan_geo::crs::UnknownCrs| anyhow::anyhow!("{e}"))
}

/// Validates every feature of a GeoJSON grid file, then writes all of them or none.
pub async fn import_grids(settings: &Settings, file: &Path, crs: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let crs = parse_crs(crs)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = settings.open_store().await?;
    let index = pingan_api::imports::load_index(&*store).await?;
    let pb = bar(0, "writing grids", false);
    let result = pingan_api::imports::import_grids(
        &*store,
        &index,
        &text,
        crs,
        &Scope::everywhere(),
        &|n| {
            pb.set_length(pb.length().unwrap_or(0).max(n));
            pb.set_position(n);
        },
    )
    .await;
    pb.finish_and_clear();
    if result.is_ok() {
        pingan_api::imports::refresh_grid_packs(&*store).await?;
    }
    let report = result.map_err(|e| match e {
        pingan_api::imports::GridImportError::File(GridFileError::Json {
            line,
            column,
            message,
        }) => anyhow::anyhow!("{}:{line}:{column}: {message}", file.display()),
        other => anyhow::anyhow!("{}: nothing imported:\n{other}", file.display()),
    })?;
    println!(
        "imported {} grids from {} in {:.1} s: {} added, {} replaced",
        report.features,
        file.display(),
        started.elapsed().as_secs_f64(),
        report.added,
        report.replaced
    );
    Ok(())
}

pub async fn export_grids(
    settings: &Settings,
    out: Option<&Path>,
    under: Option<&str>,
) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let scope = Scope::parse(under.unwrap_or("*")).map_err(|e| anyhow::anyhow!("--under: {e}"))?;
    let rows = store.export_grids(&scope).await?;
    let mut decoded = Vec::with_capacity(rows.len());
    for row in &rows {
        let geometry = pingan_geo::geometry::decode(&row.geometry)
            .with_context(|| format!("grid {} has a damaged geometry", row.grid.code))?;
        decoded.push(geometry);
    }
    let items = rows
        .iter()
        .zip(&decoded)
        .map(|(r, g)| (r.grid.code.as_str(), r.grid.name.as_str(), g));
    match out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            pingan_geo::gridfile::write_grid_collection(BufWriter::new(f), items)?;
            eprintln!("wrote {} grids to {}", rows.len(), path.display());
        }
        None => {
            let stdout = std::io::stdout().lock();
            pingan_geo::gridfile::write_grid_collection(BufWriter::new(stdout), items)?;
        }
    }
    Ok(())
}

pub async fn locate(settings: &Settings, args: LocateArgs) -> anyhow::Result<()> {
    let crs = parse_crs(&args.crs)?;
    let store = settings.open_store().await?;
    let index = pingan_api::imports::load_index(&*store).await?;
    let (lng, lat) = pingan_geo::crs::to_wgs84(crs, args.lng, args.lat);
    let Some(code) = index.locate(lng, lat) else {
        bail!("({}, {}) lies in no grid", args.lng, args.lat);
    };
    let (regions, name) = pingan_api::imports::place_of(&*store, code).await?;
    for r in regions {
        println!("{:9} {} {}", r.level.as_str(), r.code, r.name);
    }
    println!("{:9} {} {}", "grid", code, name.unwrap_or_default());
    Ok(())
}

pub fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

pub async fn user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let everywhere = Scope::everywhere();
    match cmd {
        UserCommand::Add {
            username,
            role,
            scope,
            unit,
            display_name,
            phone,
            password_stdin,
        } => {
            let role: Role = role.parse()?;
            let scope = Scope::parse(&scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let (password, show) = if password_stdin {
                let mut p = String::new();
                std::io::stdin().read_to_string(&mut p)?;
                (p.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_password(), true)
            };
            anyhow::ensure!(
                password.chars().count() >= pingan_api::routes::MIN_PASSWORD_LEN,
                "a password needs at least {} characters",
                pingan_api::routes::MIN_PASSWORD_LEN
            );
            let account = store
                .create_account(
                    &everywhere,
                    &NewAccount {
                        username: username.clone(),
                        password_hash: pingan_api::auth::hash_password(&password),
                        role,
                        scope,
                        unit_id: unit,
                        display_name,
                        phone,
                    },
                )
                .await?;
            println!("added account {} (id {})", account.username, account.id);
            if show {
                println!("password: {password}");
            }
        }
        UserCommand::List { scope } => {
            let scope = Scope::parse(&scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let mut page = Page::first(Page::MAX_LIMIT);
            let mut out = std::io::stdout().lock();
            writeln!(out, "id\tusername\trole\tscope\tdisabled\tphone")?;
            loop {
                let rows = store.accounts(&scope, &page).await?;
                for a in &rows {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        a.id,
                        a.username,
                        a.role,
                        a.scope,
                        a.disabled,
                        a.phone_masked.as_deref().unwrap_or("-")
                    )?;
                }
                match rows.last() {
                    Some(last) if rows.len() as u32 == page.limit => {
                        page.after = Some(last.id.to_string())
                    }
                    _ => break,
                }
            }
        }
        UserCommand::Disable { username } => set_disabled(&*store, &username, true).await?,
        UserCommand::Enable { username } => set_disabled(&*store, &username, false).await?,
    }
    Ok(())
}

async fn set_disabled(
    store: &dyn pingan_storage::Store,
    username: &str,
    disable: bool,
) -> anyhow::Result<()> {
    let everywhere = Scope::everywhere();
    let account = store
        .account_by_username(&everywhere, username)
        .await?
        .with_context(|| format!("no account named {username}"))?;
    store
        .set_account_disabled(&everywhere, account.id, disable)
        .await?;
    println!(
        "{} {username}",
        if disable { "disabled" } else { "enabled" }
    );
    Ok(())
}

/// Adds a key, then re-encrypts every personal field under it.
pub async fn rotate_keys(settings: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::env::var(crate::config::KEYS_ENV).is_err(),
        "keys come from {}: rotate them there",
        crate::config::KEYS_ENV
    );
    let path = &settings.keys_file;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rotated = PersonalDataKeys::rotated_text(&text)?;
    crate::config::write_secret(path, &rotated)?;
    let store = settings.open_store().await?;
    let n = store.reencrypt_personal_data().await?;
    println!(
        "added key {} to {}; re-encrypted {n} values",
        PersonalDataKeys::parse(&rotated)?.current_id(),
        path.display()
    );
    Ok(())
}

/// Loads a national-scale synthetic grid set for benchmarks.
pub async fn synthetic_grids(
    settings: &Settings,
    dir: &Path,
    per_village: u32,
    seed: u64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let divisions = read_divisions(dir)?;
    let store = settings.open_store().await?;
    write_divisions(&*store, &divisions).await?;
    let villages: Vec<_> = divisions
        .regions
        .iter()
        .filter(|r| r.code.level() == pingan_domain::Level::Village)
        .map(|r| r.code.clone())
        .collect();
    let grids = pingan_geo::synthetic::national_grids(&villages, per_village, seed);
    let rows: Vec<NewGrid> = grids
        .iter()
        .map(|(code, g)| {
            pingan_api::imports::grid_row(code, format!("合成网格{}", &code.as_str()[12..]), g)
        })
        .collect();
    drop(grids);
    let pb = bar(rows.len() as u64, "writing grids", false);
    store.import_grids(&rows, &|n| pb.set_position(n)).await?;
    pb.finish_and_clear();
    let written = rows.len();
    drop(rows);
    pingan_api::imports::refresh_grid_packs(&*store).await?;
    println!(
        "{} villages, {written} synthetic grids in {:.1} s",
        villages.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Checks the event log's hash chain from the first entry to the recorded head.
pub async fn verify_log(settings: &Settings) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    match store.verify_log().await? {
        Ok(n) => {
            println!("event log intact: {n} entries");
            Ok(())
        }
        Err(fault) => bail!("event log broken: {fault}"),
    }
}

/// Runs one scheduler sweep as of `at` (see [`parse_moment`]) and prints what it did.
pub async fn sweep(settings: &Settings, at: Option<&str>) -> anyhow::Result<()> {
    let at = match at {
        Some(text) => parse_moment(text)?,
        None => pingan_storage::now_ms(),
    };
    let store = settings.open_store().await?;
    let index = pingan_api::imports::load_index(&*store).await?;
    let state = crate::serve::app_state(settings, store, index, false).await?;
    let report = pingan_api::scheduler::sweep(&state, at).await?;
    println!("{report:?}");
    let made = pingan_api::reports::catch_up(&state, at).await?;
    if made > 0 {
        println!("monthly reports made: {made}");
    }
    Ok(())
}

/// `pingan report`: makes one monthly report, keeps it and writes its files.
pub async fn report(settings: &Settings, args: crate::cli::ReportArgs) -> anyhow::Result<()> {
    let month: pingan_domain::report::Month = args
        .month
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--month: {e}"))?;
    let store = settings.open_store().await?;
    let index = pingan_api::imports::load_index(&*store).await?;
    let state = crate::serve::app_state(settings, store, index, false).await?;
    let region = pingan_api::reports::report_region(&state, &args.region)
        .await
        .with_context(|| format!("--region {}", args.region))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("making the report of {} for {month}", region.name));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let made = pingan_api::reports::make(
        &state,
        &region,
        month,
        "cli",
        None,
        pingan_storage::now_ms(),
    )
    .await?;
    spinner.finish_and_clear();
    let everywhere = pingan_domain::Scope::everywhere();
    for (kind, ext) in [
        (pingan_storage::ReportFile::Pdf, "pdf"),
        (pingan_storage::ReportFile::Xlsx, "xlsx"),
    ] {
        let body = state
            .store
            .monthly_report_file(&everywhere, made.id, kind)
            .await?
            .context("the report just made is missing")?;
        let path = args
            .out
            .join(format!("{}-{}.{ext}", made.region_code, made.month));
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    println!(
        "{} {}: {} pages, overall {} (report {})",
        made.region_name, made.month, made.pdf_pages, made.overall, made.id
    );
    Ok(())
}

/// Milliseconds since the Unix epoch, or an RFC 3339 time with its offset.
fn parse_moment(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        anyhow::anyhow!("--at {text:?}: give milliseconds or a time like 2027-01-31T09:00:00+08:00")
    };
    // YYYY-MM-DDTHH:MM:SS(.fff)?(Z|±HH:MM)
    let (date, rest) = text.split_once('T').ok_or_else(bad)?;
    let date: pingan_domain::calendar::LocalDate = date.parse().map_err(|_| bad())?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0)
    } else {
        let split = rest.rfind(['+', '-']).ok_or_else(bad)?;
        let (c, off) = rest.split_at(split);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':').ok_or_else(bad)?;
        let minutes =
            h.parse::<i64>().map_err(|_| bad())? * 60 + m.parse::<i64>().map_err(|_| bad())?;
        (c, sign * minutes * 60_000)
    };
    let mut parts = clock.split(':');
    let mut next = || -> anyhow::Result<f64> {
        parts
            .next()
            .ok_or_else(bad)?
            .parse::<f64>()
            .map_err(|_| bad())
    };
    let (h, m, s) = (next()?, next()?, next()?);
    let local_midnight_utc = date.days_since_epoch() * 86_400_000;
    let ms_of_day = ((h * 3600.0 + m * 60.0 + s) * 1000.0).round() as i64;
    Ok(local_midnight_utc + ms_of_day - offset_ms)
}

pub async fn rebuild_stats(settings: &Settings) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let started = std::time::Instant::now();
    let cells = pingan_api::indicators::rebuild(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "indicator aggregates rebuilt from the event log: {cells} cells in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn check_stats(settings: &Settings) -> anyhow::Result<()> {
    let store = settings.open_store().await?;
    let (cells, differ) = pingan_api::indicators::check(store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if differ.is_empty() {
        println!("indicator aggregates match the event log: {cells} cells");
        Ok(())
    } else {
        let shown: Vec<String> = differ
            .iter()
            .take(10)
            .map(|k| {
                format!(
                    "day {} township {} category {:?}",
                    k.day, k.township, k.category
                )
            })
            .collect();
        bail!(
            "{} indicator cells differ from the event log, e.g. {}; run `pingan stats rebuild`",
            differ.len(),
            shown.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::parse_moment;

    #[test]
    fn moments_parse_with_their_offset() {
        assert_eq!(parse_moment("0").unwrap(), 0);
        assert_eq!(parse_moment("1970-01-01T08:00:00+08:00").unwrap(), 0);
        assert_eq!(parse_moment("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(
            parse_moment("2026-11-23T21:00:00.5-01:30").unwrap(),
            parse_moment("2026-11-23T22:30:00.5Z").unwrap()
        );
        assert!(parse_moment("tomorrow").is_err());
        assert!(parse_moment("2026-13-01T00:00:00Z").is_err());
    }
}

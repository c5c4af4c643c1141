//! Command-line interface.
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "pingan",
    version,
    about = "平安 Pingan: grassroots social-governance platform (grids, matters, mediation, rentals)",
    long_about = "平安 Pingan: grassroots social-governance platform.\n\nSettings come from command-line options, then PINGAN_* environment variables, then the TOML file given by --config (or DATA/pingan.toml)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML configuration file [default: DATA/pingan.toml if it exists].
    #[arg(long, global = true, env = "PINGAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: the SQLite file, the key file. [default: ./pingan-data]
    #[arg(long, global = true, env = "PINGAN_DATA")]
    pub data: Option<PathBuf>,
    /// Database URL: postgres://… for PostgreSQL; default: DATA/pingan.sqlite.
    #[arg(long, global = true, env = "PINGAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// File holding the personal-data keys [default: DATA/keys.txt].
    #[arg(long, global = true, env = "PINGAN_KEYS_FILE")]
    pub keys_file: Option<PathBuf>,
    /// More logging.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and API.
    Serve(ServeArgs),
    /// Build a demo Zhejiang (regions, grids, units, accounts) on first run, then serve it.
    Demo(DemoArgs),
    /// Import reference data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Find the grid and regions of a point.
    Locate(LocateArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal-data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the tamper-evident record.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the scheduler once (reminders, escalation, rental check-out and
    /// purge) as of a moment: to catch up by hand, or to try what a date
    /// will bring on a copy of the data. The server runs it every 30 s.
    Sweep(SweepArgs),
    /// Make the monthly safety report of a county or city: keep it (the
    /// leader view lists it) and write its PDF and XLSX into a folder.
    Report(ReportArgs),
    /// Maintain the indicator aggregates.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// Benchmark: add MATTERS lifecycles over DAYS days to the indicator
    /// aggregates (on top of the demo's geography), then time the report,
    /// ranking and data-screen requests RUNS times per county.
    #[command(hide = true)]
    BenchIndicators {
        #[arg(long, default_value_t = 1_000_000)]
        matters: u64,
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Benchmark set-up: import divisions from DIR and a synthetic national
    /// grid set (GRIDS per village) straight into the store.
    #[command(hide = true)]
    SyntheticGrids {
        dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        per_village: u32,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PINGAN_LISTEN")]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The moment, as milliseconds since the Unix epoch or an RFC 3339 time
    /// such as 2027-01-31T09:00:00+08:00 [default: now].
    #[arg(long)]
    pub at: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The county or city, a 12-digit code such as 330681000000.
    #[arg(long)]
    pub region: String,
    /// The month, YYYY-MM.
    #[arg(long)]
    pub month: String,
    /// Where to write the PDF and XLSX.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PINGAN_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Seed of the generated geography: the same seed gives the same polygons.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Build the demo data, then exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Days of activity to simulate in 诸暨市 and 路桥区 when the demo is
    /// first built (0: none).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the statistics bureau's division files (provinces.csv, cities.csv,
    /// areas.csv, streets.csv, villages.csv[.gz]) from DIR. All or nothing.
    Divisions { dir: PathBuf },
    /// Import grid polygons from a GeoJSON FeatureCollection. All or nothing.
    Grids {
        file: PathBuf,
        /// Coordinate system of the file: wgs84, gcj02 or bd09.
        #[arg(long, default_value = "wgs84")]
        crs: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write grids as a GeoJSON FeatureCollection (WGS-84).
    Grids {
        /// Output file [default: standard output].
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Only grids under this region or grid code prefix.
        #[arg(long)]
        under: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct LocateArgs {
    #[arg(allow_negative_numbers = true)]
    pub lng: f64,
    #[arg(allow_negative_numbers = true)]
    pub lat: f64,
    /// Coordinate system of the point: wgs84, gcj02 or bd09.
    #[arg(long, default_value = "wgs84")]
    pub crs: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account. Prints a generated password unless --password-stdin is given.
    Add {
        username: String,
        /// grid_worker, grid_chief, centre_operator, department_handler, leader, mediator, landlord, citizen or admin.
        #[arg(long)]
        role: String,
        /// A region code (2-12 digits), a 15-digit grid code, or `*` for everywhere.
        #[arg(long)]
        scope: String,
        /// The unit the account works for.
        #[arg(long)]
        unit: Option<i64>,
        #[arg(long, default_value = "")]
        display_name: String,
        #[arg(long)]
        phone: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List {
        /// Only accounts within this scope.
        #[arg(long, default_value = "*")]
        scope: String,
    },
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// Re-enable a disabled account.
    Enable { username: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the event log's hash chain; exits non-zero naming the first
    /// changed, removed or reordered entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Recompute every indicator cell from the event log and replace the
    /// aggregates (after a restore, or to check them).
    Rebuild,
    /// Recompute every indicator cell from the event log and compare it with
    /// the stored aggregates; exits non-zero naming the cells that differ.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new encryption key to the key file and re-encrypt every personal field with it.
    Rotate,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&cli.global)?;
    match cli.command {
        Command::Serve(args) => crate::serve::serve(&settings, args.listen).await,
        Command::Demo(args) => crate::demo::run(&settings, args).await,
        Command::Import(ImportCommand::Divisions { dir }) => {
            crate::tools::import_divisions(&settings, &dir).await
        }
        Command::Import(ImportCommand::Grids { file, crs }) => {
            crate::tools::import_grids(&settings, &file, &crs).await
        }
        Command::Export(ExportCommand::Grids { out, under }) => {
            crate::tools::export_grids(&settings, out.as_deref(), under.as_deref()).await
        }
        Command::Locate(args) => crate::tools::locate(&settings, args).await,
        Command::User(cmd) => crate::tools::user(&settings, cmd).await,
        Command::Keys(KeysCommand::Rotate) => crate::tools::rotate_keys(&settings).await,
        Command::Audit(AuditCommand::Verify) => crate::tools::verify_log(&settings).await,
        Command::Sweep(args) => crate::tools::sweep(&settings, args.at.as_deref()).await,
        Command::Report(args) => crate::tools::report(&settings, args).await,
        Command::Stats(StatsCommand::Rebuild) => crate::tools::rebuild_stats(&settings).await,
        Command::Stats(StatsCommand::Check) => crate::tools::check_stats(&settings).await,
        Command::BenchIndicators {
            matters,
            days,
            seed,
            runs,
        } => crate::bench_history::run(&settings, matters, days, seed, runs).await,
        Command::SyntheticGrids {
            dir,
            per_village,
            seed,
        } => crate::tools::synthetic_grids(&settings, &dir, per_village, seed).await,
    }
}

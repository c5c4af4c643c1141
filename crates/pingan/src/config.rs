//! Settings: command line, then PINGAN_* environment (both via clap), then a TOML file.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use pingan_storage::{PersonalDataKeys, Store};
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// The TOML file's keys; every one is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data: Option<PathBuf>,
    database_url: Option<String>,
    keys_file: Option<PathBuf>,
    listen: Option<SocketAddr>,
    secure_cookies: Option<bool>,
    /// Days a tenant's personal data is kept after check-out.
    tenant_retention_days: Option<i64>,
    /// The address the public reaches the server at, for rental QR codes.
    public_url: Option<String>,
    /// Day of the month (1-28) and hour (0-23, Asia/Shanghai) the monthly
    /// reports are made, for the month before.
    report_day: Option<u8>,
    report_hour: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data: PathBuf,
    pub database_url: Option<String>,
    pub keys_file: PathBuf,
    pub listen: SocketAddr,
    pub secure_cookies: bool,
    pub tenant_retention_days: i64,
    pub public_url: Option<String>,
    pub report_schedule: pingan_domain::report::ReportSchedule,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Environment variable that may hold the keys themselves (takes precedence over the file).
pub const KEYS_ENV: &str = "PINGAN_PERSONAL_DATA_KEYS";

impl Settings {
    pub fn load(args: &GlobalArgs) -> anyhow::Result<Self> {
        let default_data = args
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from("pingan-data"));
        let file_path = args
            .config
            .clone()
            .or_else(|| Some(default_data.join("pingan.toml")).filter(|p| p.exists()));
        let file: FileSettings = match &file_path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map(|s| text[..s.start].lines().count().max(1))
                        .unwrap_or(0);
                    anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
                })?
            }
            None => FileSettings::default(),
        };
        let data = args.data.clone().or(file.data).unwrap_or(default_data);
        let keys_file = args
            .keys_file
            .clone()
            .or(file.keys_file)
            .unwrap_or_else(|| data.join("keys.txt"));
        let retention = file.tenant_retention_days.unwrap_or(180);
        anyhow::ensure!(
            (1..=3650).contains(&retention),
            "tenant_retention_days must be 1-3650, not {retention}"
        );
        let (day, hour) = (file.report_day.unwrap_or(15), file.report_hour.unwrap_or(8));
        let report_schedule =
            pingan_domain::report::ReportSchedule::new(day, hour).with_context(|| {
                format!("report_day must be 1-28 and report_hour 0-23, not {day} and {hour}")
            })?;
        let listen = file
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default address"));
        Ok(Settings {
            database_url: args.database_url.clone().or(file.database_url),
            keys_file,
            listen,
            secure_cookies: file.secure_cookies.unwrap_or(false),
            tenant_retention_days: retention,
            public_url: file.public_url,
            report_schedule,
            data,
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.data.join("pingan.sqlite").display().to_string())
    }

    /// Reads the personal-data keys from the environment or the key file.
    /// With `create`, a missing key file is generated (readable by the owner only).
    pub fn keys(&self, create: bool) -> anyhow::Result<PersonalDataKeys> {
        if let Ok(text) = std::env::var(KEYS_ENV) {
            return PersonalDataKeys::parse(&text).with_context(|| format!("in {KEYS_ENV}"));
        }
        if !self.keys_file.exists() {
            anyhow::ensure!(
                create,
                "no personal-data key file at {} (set {KEYS_ENV} or --keys-file)",
                self.keys_file.display()
            );
            write_secret(&self.keys_file, &PersonalDataKeys::generate_text())?;
            tracing::warn!(file = %self.keys_file.display(), "generated a new personal-data key file; back it up");
        }
        let text = std::fs::read_to_string(&self.keys_file)
            .with_context(|| format!("cannot read {}", self.keys_file.display()))?;
        PersonalDataKeys::parse(&text).with_context(|| format!("in {}", self.keys_file.display()))
    }

    /// Opens the store, creating the data directory and keys on first use.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("cannot create data directory {}", self.data.display()))?;
        let keys = self.keys(true)?;
        let url = self.database_url();
        pingan_storage::open(&url, keys)
            .await
            .with_context(|| format!("cannot open database {}", redact(&url)))
    }
}

/// Writes a file readable by its owner only.
pub fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

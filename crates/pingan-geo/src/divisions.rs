//! The statistics bureau's five division files (`provinces.csv`, `cities.csv`,
//! `areas.csv`, `streets.csv`, `villages.csv[.gz]`).
use pingan_domain::RegionCode;

/// One region read from the division files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DivisionRecord {
    pub code: RegionCode,
    pub name: String,
    pub parent: Option<RegionCode>,
}

/// All regions of a set of division files, parents before children
/// (provinces, then cities, counties, townships, villages).
#[derive(Debug, Clone, Default)]
pub struct Divisions {
    pub regions: Vec<DivisionRecord>,
}

/// A refused division file: which file and line, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DivisionError {
    pub file: String,
    pub line: u64,
    pub message: String,
}

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pingan_domain::Level;

/// The files in the order they are read, with the column naming each row's parent.
const FILES: [(&str, Level, Option<&str>); 5] = [
    ("provinces.csv", Level::Province, None),
    ("cities.csv", Level::City, Some("provinceCode")),
    ("areas.csv", Level::County, Some("cityCode")),
    ("streets.csv", Level::Township, Some("areaCode")),
    ("villages.csv", Level::Village, Some("streetCode")),
];

impl Divisions {
    /// Reads the five files of `dir` (`villages.csv` may be `villages.csv.gz`).
    /// Every row is checked: codes well formed for their level, names present,
    /// parents known and matching the code's prefix, no duplicates. The first
    /// fault stops the read and names its file and line.
    ///
    /// `progress` is told the bytes read so far out of [`Divisions::input_size`].
    pub fn read_dir(dir: &Path, progress: &dyn Fn(u64)) -> Result<Divisions, DivisionError> {
        let mut regions = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut bytes_before = 0u64;
        for (file, level, parent_column) in FILES {
            let counter = Arc::new(AtomicU64::new(0));
            let (path, reader) = open_maybe_gz(dir, file, counter.clone())?;
            let label = path.display().to_string();
            let mut csv = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(reader);
            let fail = |line: u64, message: String| DivisionError {
                file: label.clone(),
                line,
                message,
            };
            let headers = csv.headers().map_err(|e| fail(1, e.to_string()))?.clone();
            let column = |name: &str| {
                headers
                    .iter()
                    .position(|h| h.trim_start_matches('\u{feff}') == name)
                    .ok_or_else(|| fail(1, format!("missing column {name:?}")))
            };
            let code_at = column("code")?;
            let name_at = column("name")?;
            let parent_at = parent_column.map(column).transpose()?;
            let mut record = csv::StringRecord::new();
            loop {
                let line = csv.position().line();
                match csv.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => return Err(fail(line, e.to_string())),
                }
                let line = record.position().map(|p| p.line()).unwrap_or(line);
                let raw = record.get(code_at).unwrap_or("").trim();
                if raw.len() != level.significant_digits() {
                    return Err(fail(
                        line,
                        format!(
                            "code {raw:?} has {} digits; a {level} code has {}",
                            raw.len(),
                            level.significant_digits()
                        ),
                    ));
                }
                let code = RegionCode::from_short(raw).map_err(|e| fail(line, e.to_string()))?;
                let name = record.get(name_at).unwrap_or("").trim();
                if name.is_empty() {
                    return Err(fail(line, format!("code {raw} has no name")));
                }
                let parent = match parent_at {
                    None => None,
                    Some(at) => {
                        let p = record.get(at).unwrap_or("").trim();
                        let parent =
                            code.parent().filter(|c| c.prefix() == p).ok_or_else(|| {
                                fail(
                                    line,
                                    format!("code {raw} does not start with its parent code {p:?}"),
                                )
                            })?;
                        if !seen.contains(parent.as_str()) {
                            return Err(fail(
                                line,
                                format!("parent {p} of code {raw} is not in the files"),
                            ));
                        }
                        Some(parent)
                    }
                };
                if !seen.insert(code.as_str().to_string()) {
                    // A region without children of the next level lists itself
                    // again one level down with a zero segment: a city without
                    // counties (东莞 441900), a county without townships (金门
                    // 350527000). Its 12-digit code is its parent's: the parent
                    // plays both roles.
                    let stands_in_for_parent =
                        parent.as_ref().map(|p| p.as_str()) == Some(code.as_str());
                    if stands_in_for_parent {
                        continue;
                    }
                    return Err(fail(line, format!("duplicate code {raw}")));
                }
                regions.push(DivisionRecord {
                    code,
                    name: name.to_string(),
                    parent,
                });
                if regions.len() % 4096 == 0 {
                    progress(bytes_before + counter.load(Ordering::Relaxed));
                }
            }
            bytes_before += counter.load(Ordering::Relaxed);
            progress(bytes_before);
        }
        Ok(Divisions { regions })
    }

    /// Bytes `read_dir` will read from disk (compressed size for a gzip file).
    pub fn input_size(dir: &Path) -> u64 {
        FILES
            .iter()
            .filter_map(|(f, _, _)| {
                std::fs::metadata(dir.join(f))
                    .or_else(|_| std::fs::metadata(dir.join(format!("{f}.gz"))))
                    .ok()
            })
            .map(|m| m.len())
            .sum()
    }

    pub fn count(&self, level: Level) -> usize {
        self.regions
            .iter()
            .filter(|r| r.code.level() == level)
            .count()
    }
}

fn open_maybe_gz(
    dir: &Path,
    file: &str,
    counter: Arc<AtomicU64>,
) -> Result<(std::path::PathBuf, Box<dyn Read>), DivisionError> {
    let plain = dir.join(file);
    let open = |path: &Path| {
        File::open(path).map_err(|e| DivisionError {
            file: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })
    };
    if plain.exists() {
        let f = CountingReader {
            inner: open(&plain)?,
            counter,
        };
        return Ok((plain, Box::new(BufReader::with_capacity(1 << 16, f))));
    }
    let gz = dir.join(format!("{file}.gz"));
    if gz.exists() {
        let f = CountingReader {
            inner: open(&gz)?,
            counter,
        };
        let counted = BufReader::with_capacity(1 << 16, f);
        return Ok((gz, Box::new(flate2::bufread::GzDecoder::new(counted))));
    }
    Err(DivisionError {
        file: plain.display().to_string(),
        line: 0,
        message: format!("file not found (nor {file}.gz)"),
    })
}

/// Counts bytes read from disk, for progress.
struct CountingReader<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_set(dir: &Path, villages: &str) {
        std::fs::write(dir.join("provinces.csv"), "code,name\n33,\"浙江省\"\n").unwrap();
        std::fs::write(
            dir.join("cities.csv"),
            "code,name,provinceCode\n3301,\"杭州市\",33\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("areas.csv"),
            "code,name,cityCode,provinceCode\n330102,\"上城区\",3301,33\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("streets.csv"),
            "code,name,areaCode,provinceCode,cityCode\n330102001,\"清波街道\",330102,33,3301\n",
        )
        .unwrap();
        std::fs::write(dir.join("villages.csv"), villages).unwrap();
    }

    const HEAD: &str = "code,name,streetCode,provinceCode,cityCode,areaCode\n";

    fn read(villages_body: &str) -> Result<Divisions, DivisionError> {
        let dir = std::env::temp_dir().join(format!(
            "pingan-div-{}-{}",
            std::process::id(),
            villages_body.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        write_set(&dir, &format!("{HEAD}{villages_body}"));
        let r = Divisions::read_dir(&dir, &|_| {});
        std::fs::remove_dir_all(&dir).ok();
        r
    }

    #[test]
    fn reads_a_good_set() {
        let d = read("330102001001,\"清波门社区\",330102001,33,3301,330102\n").unwrap();
        assert_eq!(d.regions.len(), 5);
        assert_eq!(d.count(Level::Village), 1);
        assert_eq!(
            d.regions[4].parent.as_ref().unwrap().as_str(),
            "330102001000"
        );
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let e = read("330102001001,\"a\",330102001,33,3301,330102\n33010200100X,\"b\",330102001,33,3301,330102\n").unwrap_err();
        assert!(e.file.ends_with("villages.csv"), "{e}");
        assert_eq!(e.line, 3, "{e}");
        let e = read("330102001001,\"a\",330102001,33,3301,330102\n330102001001,\"b\",330102001,33,3301,330102\n").unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        assert_eq!(e.line, 3);
        let e = read("330102009001,\"a\",330102009,33,3301,330102\n").unwrap_err();
        assert!(e.message.contains("not in the files"), "{e}");
        let e = read("330102001001,\"a\",330102002,33,3301,330102\n").unwrap_err();
        assert!(e.message.contains("does not start with"), "{e}");
        let e = read("330102001001,\"\",330102001,33,3301,330102\n").unwrap_err();
        assert!(e.message.contains("no name"), "{e}");
    }

    #[test]
    fn a_city_without_counties_plays_the_county_role() {
        let dir = std::env::temp_dir().join(format!("pingan-div-dg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("provinces.csv"), "code,name\n44,广东省\n").unwrap();
        std::fs::write(
            dir.join("cities.csv"),
            "code,name,provinceCode\n4419,东莞市,44\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("areas.csv"),
            "code,name,cityCode,provinceCode\n441900,东莞市,4419,44\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("streets.csv"),
            "code,name,areaCode,provinceCode,cityCode\n441900003,东城街道,441900,44,4419\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("villages.csv"),
            format!("{HEAD}441900003001,温塘社区,441900003,44,4419,441900\n"),
        )
        .unwrap();
        let d = Divisions::read_dir(&dir, &|_| {}).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(d.regions.len(), 4);
        assert_eq!(d.count(Level::County), 0);
        assert_eq!(
            d.regions[2].parent.as_ref().unwrap().as_str(),
            "441900000000"
        );
    }

    #[test]
    fn missing_column_is_refused() {
        let dir = std::env::temp_dir().join(format!("pingan-div-col-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_set(&dir, "code,name,provinceCode\n330102001001,a,33\n");
        let e = Divisions::read_dir(&dir, &|_| {}).unwrap_err();
        std::fs::remove_dir_all(&dir).ok();
        assert!(e.message.contains("streetCode"), "{e}");
        assert_eq!(e.line, 1);
    }
}

//! Locate benchmark: lookups per second on one core, index build time and
//! memory, over the demo's Zhejiang grids or a national synthetic set; can also
//! write the same polygons and points as CSV for the PostGIS comparison
//! (bench/locate-vs-postgis.sh).
//!
//! ```text
//! cargo run --release -p pingan-geo --example locate_bench -- demo [POINTS] [CSV_DIR]
//! cargo run --release -p pingan-geo --example locate_bench -- national DIVISIONS_DIR [POINTS] [CSV_DIR]
//! ```
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use geo::MultiPolygon;
use pingan_domain::{GridCode, Level};
use pingan_geo::{Divisions, LocateIndex};

type Error = Box<dyn std::error::Error>;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn repo_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/zhejiang")
}

fn grids(
    mode: &str,
    args: &mut impl Iterator<Item = String>,
) -> Result<Vec<(GridCode, MultiPolygon<f64>)>, Error> {
    let started = Instant::now();
    let out = match mode {
        "demo" => {
            let dir = repo_data();
            let divisions = Divisions::read_dir(&dir.join("divisions"), &|_| {})?;
            pingan_geo::demo::generate(&dir.join("boundaries"), &divisions, 2026, &|_, _| {})?
                .grids
                .into_iter()
                .map(|g| (g.code, g.geometry))
                .collect()
        }
        "national" => {
            let dir = PathBuf::from(
                args.next()
                    .ok_or("national needs the divisions directory")?,
            );
            let divisions = Divisions::read_dir(&dir, &|_| {})?;
            let villages: Vec<_> = divisions
                .regions
                .iter()
                .filter(|r| r.code.level() == Level::Village)
                .map(|r| r.code.clone())
                .collect();
            pingan_geo::synthetic::national_grids(&villages, 3, 2026)
        }
        other => return Err(format!("unknown mode {other:?}; use demo or national").into()),
    };
    eprintln!("generated {} grids in {:.1?}", out.len(), started.elapsed());
    Ok(out)
}

fn write_csv(
    dir: &Path,
    grids: &[(GridCode, MultiPolygon<f64>)],
    points: &[(f64, f64)],
) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let mut g = BufWriter::new(std::fs::File::create(dir.join("grids.csv"))?);
    for (code, mp) in grids {
        write!(g, "{code}\tMULTIPOLYGON(")?;
        for (pi, p) in mp.0.iter().enumerate() {
            write!(g, "{}(", if pi > 0 { "," } else { "" })?;
            for (ri, ring) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                write!(g, "{}(", if ri > 0 { "," } else { "" })?;
                for (ci, c) in ring.0.iter().enumerate() {
                    write!(g, "{}{} {}", if ci > 0 { "," } else { "" }, c.x, c.y)?;
                }
                write!(g, ")")?;
            }
            write!(g, ")")?;
        }
        writeln!(g, ")")?;
    }
    let mut p = BufWriter::new(std::fs::File::create(dir.join("points.csv"))?);
    for (i, (x, y)) in points.iter().enumerate() {
        writeln!(p, "{i}\t{x}\t{y}")?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "demo".into());
    let grids = grids(&mode, &mut args)?;
    let n_points: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5_000_000);
    let csv_dir = args.next().map(PathBuf::from);
    let points = pingan_geo::synthetic::random_points_in(&grids, n_points, 7);
    if let Some(dir) = &csv_dir {
        write_csv(dir, &grids, &points)?;
        eprintln!("wrote {}/grids.csv and points.csv", dir.display());
    }
    let before = rss_mb();
    let started = Instant::now();
    let count = grids.len();
    let index = LocateIndex::new(grids);
    let build = started.elapsed();
    let after = rss_mb();

    // One thread: the figure is lookups per second per core.
    let started = Instant::now();
    let mut hits = 0usize;
    let mut checksum = 0u64;
    for &(x, y) in &points {
        if let Some(code) = index.locate(x, y) {
            hits += 1;
            checksum = checksum.wrapping_add(code.as_str().as_bytes()[14] as u64);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{mode}: {count} grids; build {:.2} s; RSS {:.0} MB before build, {:.0} MB after; \
         {} lookups ({hits} hits, checksum {checksum}) in {:.2} s = {:.0} lookups/s on one core",
        build.as_secs_f64(),
        before,
        after,
        points.len(),
        secs,
        points.len() as f64 / secs
    );
    Ok(())
}

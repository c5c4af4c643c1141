//! Builds the whole-Zhejiang demo geography from the bundled data and checks it:
//! `cargo run -p pingan-geo --release --example demo_generate [seed] [points]`.
//!
//! Prints the time taken, the counts, vertex statistics, and how many random
//! points inside the province's land polygon land in exactly one grid (and in
//! that grid's village, township and county).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use geo::{Area, BoundingRect, CoordsIter, Intersects, MultiPolygon, Point};
use pingan_domain::random::SplitMix64;
use pingan_domain::RegionCode;
use pingan_geo::crs::{multipolygon_to_wgs84, Crs};
use pingan_geo::demo::generate;
use pingan_geo::Divisions;
use rstar::{RTree, RTreeObject, AABB};

type Error = Box<dyn std::error::Error>;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/zhejiang")
}

/// The province outline, converted like the demo converts its counties.
fn read_outline(path: &Path) -> Result<MultiPolygon<f64>, Error> {
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let ring = |r: &serde_json::Value| -> geo::LineString<f64> {
        r.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
            .collect::<Vec<_>>()
            .into()
    };
    let polygons = value["coordinates"]
        .as_array()
        .ok_or("province file is not a MultiPolygon")?
        .iter()
        .filter_map(|p| {
            let rings = p.as_array()?;
            let exterior = ring(rings.first()?);
            Some(geo::Polygon::new(
                exterior,
                rings[1..].iter().map(ring).collect(),
            ))
        })
        .collect();
    let mut mp = MultiPolygon(polygons);
    multipolygon_to_wgs84(Crs::Gcj02, &mut mp);
    Ok(mp)
}

struct Indexed {
    envelope: AABB<[f64; 2]>,
    grid: usize,
}

impl RTreeObject for Indexed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2024);
    let samples: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = data_dir();

    let divisions = Divisions::read_dir(&dir.join("divisions"), &|_| {})?;
    let start = Instant::now();
    let last = std::sync::atomic::AtomicU64::new(0);
    let progress = |done: u64, total: u64| {
        let decile = done * 10 / total.max(1);
        if last.fetch_max(decile, std::sync::atomic::Ordering::Relaxed) < decile {
            eprintln!("  {done}/{total} after {:.1?}", start.elapsed());
        }
    };
    let geo = generate(&dir.join("boundaries"), &divisions, seed, &progress)?;
    let elapsed = start.elapsed();

    let mut by_level: HashMap<pingan_domain::Level, usize> = HashMap::new();
    for (code, _) in &geo.regions {
        *by_level.entry(code.level()).or_default() += 1;
    }
    let vertices: Vec<usize> = geo
        .grids
        .iter()
        .map(|g| g.geometry.coords_count())
        .collect();
    let region_vertices: usize = geo.regions.iter().map(|(_, mp)| mp.coords_count()).sum();
    // A fingerprint of every coordinate, to compare runs for determinism.
    let fingerprint = geo
        .regions
        .iter()
        .map(|(_, mp)| mp)
        .chain(geo.grids.iter().map(|g| &g.geometry))
        .flat_map(|mp| mp.coords_iter())
        .fold(0xCBF2_9CE4_8422_2325u64, |h, c| {
            (h ^ c.x.to_bits() ^ c.y.to_bits().rotate_left(32)).wrapping_mul(0x0100_0000_01B3)
        });
    println!("generated in {elapsed:.2?} (seed {seed}, fingerprint {fingerprint:016x})");
    println!(
        "counties {}, townships {}, villages {}, grids {}",
        by_level.get(&pingan_domain::Level::County).unwrap_or(&0),
        by_level.get(&pingan_domain::Level::Township).unwrap_or(&0),
        by_level.get(&pingan_domain::Level::Village).unwrap_or(&0),
        geo.grids.len()
    );
    println!(
        "grid vertices: mean {:.1}, max {}; region vertices total {region_vertices}",
        vertices.iter().sum::<usize>() as f64 / vertices.len().max(1) as f64,
        vertices.iter().max().unwrap_or(&0)
    );

    // Check: random points in the province's land polygon.
    let outline = read_outline(&dir.join("boundaries/330000.geojson"))?;
    let polygons: HashMap<&RegionCode, &MultiPolygon<f64>> =
        geo.regions.iter().map(|(c, mp)| (c, mp)).collect();
    let tree = RTree::bulk_load(
        geo.grids
            .iter()
            .enumerate()
            .filter_map(|(grid, g)| {
                let r = g.geometry.bounding_rect()?;
                Some(Indexed {
                    envelope: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    grid,
                })
            })
            .collect(),
    );
    let bbox = outline.bounding_rect().ok_or("empty province outline")?;
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    let (mut tested, mut none, mut many, mut unnested) = (0usize, 0usize, 0usize, 0usize);
    let check_start = Instant::now();
    while tested < samples {
        let p = Point::new(
            bbox.min().x + rng.next_f64() * bbox.width(),
            bbox.min().y + rng.next_f64() * bbox.height(),
        );
        if !outline.intersects(&p) {
            continue;
        }
        tested += 1;
        let hits: Vec<usize> = tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.x(), p.y()]))
            .filter(|i| geo.grids[i.grid].geometry.intersects(&p))
            .map(|i| i.grid)
            .collect();
        match hits.as_slice() {
            [] => {
                none += 1;
                if none <= 5 {
                    println!("  no grid at {:.7},{:.7}", p.x(), p.y());
                }
            }
            [one] => {
                let chain = geo.grids[*one].code.village().chain();
                if !chain[2..].iter().all(|c| polygons[c].intersects(&p)) {
                    unnested += 1;
                }
            }
            _ => {
                many += 1;
                if many <= 5 {
                    println!("  {} grids at {:.7},{:.7}", hits.len(), p.x(), p.y());
                }
            }
        }
    }
    let covered: f64 = geo
        .regions
        .iter()
        .filter(|(c, _)| c.level() == pingan_domain::Level::County)
        .map(|(_, mp)| mp.unsigned_area())
        .sum();
    println!(
        "{tested} random points in the province outline ({:.1?}): {} in exactly one grid, {none} in none, {many} in several, {unnested} outside their grid's village/township/county",
        check_start.elapsed(),
        tested - none - many,
    );
    println!(
        "county area / province outline area: {:.6}",
        covered / outline.unsigned_area()
    );
    Ok(())
}

//! Times a grid-file round trip at the size of a large city's import.
//!
//! ```text
//! cargo run --release -p pingan-geo --example core_gridfile_bench [GRIDS]
//! ```
//!
//! Writes GRIDS (default 100,000) tiling 12-vertex grids with
//! `write_grid_collection`, parses and validates them back (including the
//! overlap check between all of them), then checks them for overlaps against
//! an index holding the same area under other codes (every grid overlaps).
use std::time::Instant;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use pingan_domain::random::SplitMix64;
use pingan_domain::GridCode;
use pingan_geo::gridfile::{find_overlaps_with, parse_grid_collection, write_grid_collection};
use pingan_geo::{Crs, LocateIndex};

/// In [-0.5, 0.5): a pure function of `key` (the first draw of the stream
/// seeded with it), so the grids on both sides of a corner or edge agree.
fn jitter(key: u64) -> f64 {
    SplitMix64::new(key).next_f64() - 0.5
}

/// A tiling of `cols` × `rows` grids of about 300 m near Hangzhou: shared,
/// jittered corners and bent shared edges, so neighbours meet exactly.
fn lattice(cols: usize, rows: usize) -> Vec<MultiPolygon<f64>> {
    let step = 0.003;
    let node = |c: usize, r: usize| {
        let key = (r as u64) << 32 | c as u64;
        Coord {
            x: 119.5 + (c as f64 + 0.5 * jitter(key * 2)) * step,
            y: 29.5 + (r as f64 + 0.5 * jitter(key * 2 + 1)) * step,
        }
    };
    let bend = |a: Coord<f64>, b: Coord<f64>, key: u64| {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let at = |t: f64, k: u64| {
            let off = 0.15 * jitter(key * 2 + k);
            Coord {
                x: a.x + dx * t - dy * off,
                y: a.y + dy * t + dx * off,
            }
        };
        [at(1.0 / 3.0, 0), at(2.0 / 3.0, 1)]
    };
    let h = |c: usize, r: usize| ((r as u64) << 32 | c as u64) * 2;
    let v = |c: usize, r: usize| ((r as u64) << 32 | c as u64) * 2 + 1;
    let mut out = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        for c in 0..cols {
            let (n00, n10) = (node(c, r), node(c + 1, r));
            let (n11, n01) = (node(c + 1, r + 1), node(c, r + 1));
            let bottom = bend(n00, n10, h(c, r));
            let right = bend(n10, n11, v(c + 1, r));
            let top = bend(n01, n11, h(c, r + 1));
            let left = bend(n00, n01, v(c, r));
            let ring = vec![
                n00, bottom[0], bottom[1], n10, right[0], right[1], n11, top[1], top[0], n01,
                left[1], left[0], n00,
            ];
            out.push(MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]));
        }
    }
    out
}

fn code(prefix: u64, k: usize) -> String {
    format!("{:012}{:03}", prefix + k as u64 / 999, k % 999 + 1)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let shapes = lattice(cols, rows);
    let codes: Vec<String> = (0..shapes.len())
        .map(|k| code(330_102_000_000, k))
        .collect();
    let names: Vec<String> = (0..shapes.len()).map(|k| format!("第{k}网格")).collect();

    let started = Instant::now();
    let mut file = Vec::new();
    write_grid_collection(
        &mut file,
        (0..shapes.len()).map(|k| (codes[k].as_str(), names[k].as_str(), &shapes[k])),
    )
    .expect("writing to memory");
    println!(
        "wrote {} grids ({:.1} MB) in {:.2?}",
        shapes.len(),
        file.len() as f64 / 1e6,
        started.elapsed()
    );

    let text = String::from_utf8(file).expect("the writer emits UTF-8");
    let started = Instant::now();
    let features = match parse_grid_collection(&text, Crs::Wgs84) {
        Ok(f) => f,
        Err(e) => {
            let message = e.to_string();
            let head: Vec<&str> = message.lines().take(10).collect();
            panic!("generated file refused:\n{}", head.join("\n"));
        }
    };
    println!(
        "parsed and validated {} grids (incl. overlap check) in {:.2?}",
        features.len(),
        started.elapsed()
    );

    // The same shapes under other codes: every new grid overlaps its twin.
    let existing = LocateIndex::new(
        shapes
            .iter()
            .enumerate()
            .map(|(k, mp)| {
                let code = GridCode::parse(&code(330_103_000_000, k)).expect("well-formed");
                (code, mp.clone())
            })
            .collect(),
    );
    let started = Instant::now();
    let problems = find_overlaps_with(&features, &existing);
    println!(
        "checked against {} existing grids in {:.2?}: {} overlaps",
        existing.len(),
        started.elapsed(),
        problems.len()
    );
}

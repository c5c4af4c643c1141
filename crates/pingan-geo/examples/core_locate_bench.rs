//! Benchmark of the locate index at national scale.
//!
//! ```text
//! cargo run --release -p pingan-geo --example core_locate_bench [GRIDS] [LOOKUPS]
//! ```
//!
//! Builds GRIDS (default 2,000,000) non-overlapping 12-vertex polygons as a
//! jittered lattice over lng 73..135, lat 18..53, times the index build, then
//! times LOOKUPS (default 5,000,000) lookups of uniformly random points on one
//! thread, and prints lookups per second and the process's memory use.
use std::time::Instant;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use pingan_domain::GridCode;
use pingan_geo::LocateIndex;

const LNG: (f64, f64) = (73.0, 135.0);
const LAT: (f64, f64) = (18.0, 53.0);

/// SplitMix64: a fast deterministic hash / generator, so no crate is needed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform value in [-0.5, 0.5) derived from `key`.
fn jitter(key: u64) -> f64 {
    (mix(key) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

struct Lattice {
    cols: usize,
    rows: usize,
    step_x: f64,
    step_y: f64,
}

impl Lattice {
    fn new(n: usize) -> Self {
        let (w, h) = (LNG.1 - LNG.0, LAT.1 - LAT.0);
        let rows = ((n as f64 * h / w).sqrt().round() as usize).max(1);
        let cols = n.div_ceil(rows);
        Lattice {
            cols,
            rows,
            step_x: w / cols as f64,
            step_y: h / rows as f64,
        }
    }

    /// Lattice node (c, r), jittered by up to a quarter step on each axis.
    fn node(&self, c: usize, r: usize) -> Coord<f64> {
        let key = (r as u64) << 32 | c as u64;
        Coord {
            x: LNG.0 + (c as f64 + 0.5 * jitter(key * 2)) * self.step_x,
            y: LAT.0 + (r as f64 + 0.5 * jitter(key * 2 + 1)) * self.step_y,
        }
    }

    /// The two inner vertices of the edge from `a` to `b`, bent sideways by a
    /// per-edge amount; neighbours sharing the edge compute the same points.
    fn bend(&self, a: Coord<f64>, b: Coord<f64>, edge_key: u64) -> [Coord<f64>; 2] {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let at = |t: f64, k: u64| {
            let off = 0.15 * jitter(edge_key * 2 + k);
            Coord {
                x: a.x + dx * t - dy * off,
                y: a.y + dy * t + dx * off,
            }
        };
        [at(1.0 / 3.0, 0), at(2.0 / 3.0, 1)]
    }

    fn polygon(&self, c: usize, r: usize) -> MultiPolygon<f64> {
        let (n00, n10) = (self.node(c, r), self.node(c + 1, r));
        let (n11, n01) = (self.node(c + 1, r + 1), self.node(c, r + 1));
        // Edge keys: horizontal edges even, vertical edges odd.
        let h = |c: usize, r: usize| ((r as u64) << 32 | c as u64) * 2;
        let v = |c: usize, r: usize| ((r as u64) << 32 | c as u64) * 2 + 1;
        let bottom = self.bend(n00, n10, h(c, r));
        let right = self.bend(n10, n11, v(c + 1, r));
        let top = self.bend(n01, n11, h(c, r + 1));
        let left = self.bend(n00, n01, v(c, r));
        let mut ring = Vec::with_capacity(13);
        ring.extend([n00, bottom[0], bottom[1], n10, right[0], right[1], n11]);
        ring.extend([top[1], top[0], n01, left[1], left[0], n00]);
        MultiPolygon(vec![Polygon::new(LineString(ring), vec![])])
    }
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or_else(|| "?".to_string(), |kb| format!("{} MB", kb / 1024))
    };
    format!("VmRSS {}, VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(2_000_000);
    let lookups: usize = args
        .next()
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(5_000_000);

    let lattice = Lattice::new(n);
    let started = Instant::now();
    let mut grids = Vec::with_capacity(n);
    'rows: for r in 0..lattice.rows {
        for c in 0..lattice.cols {
            let k = grids.len();
            if k == n {
                break 'rows;
            }
            let code = format!(
                "{:012}{:03}",
                110_000_000_000u64 + k as u64 / 999,
                k % 999 + 1
            );
            let code = GridCode::parse(&code).expect("generated codes are well-formed");
            grids.push((code, lattice.polygon(c, r)));
        }
    }
    println!(
        "generated {} grids ({}x{} lattice, ~{:.0} m cells) in {:.2?}; {}",
        grids.len(),
        lattice.cols,
        lattice.rows,
        lattice.step_y * 111_000.0,
        started.elapsed(),
        rss()
    );

    let started = Instant::now();
    let index = LocateIndex::new(grids);
    println!("built index in {:.2?}; {}", started.elapsed(), rss());
    println!("{index:?}");

    // Two passes over the same points: `locate` alone, then `locate` plus
    // reading the code's text as any caller does (two more dependent memory
    // accesses: the code's slot and its heap bytes).
    for read_code in [false, true] {
        let mut state = 0x5eed_u64;
        let mut next = || {
            state = mix(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let started = Instant::now();
        let mut hits = 0usize;
        let mut checksum = 0u64;
        for _ in 0..lookups {
            let lng = LNG.0 + (LNG.1 - LNG.0) * next();
            let lat = LAT.0 + (LAT.1 - LAT.0) * next();
            if let Some(code) = index.locate(lng, lat) {
                hits += 1;
                checksum = checksum.wrapping_add(if read_code {
                    u64::from(code.as_str().as_bytes()[14])
                } else {
                    std::ptr::from_ref(code) as u64
                });
            }
        }
        let elapsed = started.elapsed();
        println!(
            "{lookups} lookups{} in {elapsed:.2?}: {:.0} lookups/s on one thread, {hits} hits (checksum {checksum})",
            if read_code { " + code read" } else { "" },
            lookups as f64 / elapsed.as_secs_f64()
        );
    }
    println!("final: {}", rss());
}

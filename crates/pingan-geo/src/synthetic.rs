//! National-scale synthetic grids for benchmarks.
//!
//! Real grid polygons exist only for the bundled Zhejiang demo; benchmarking the
//! locate index and the storage layer at the size of a whole country (about two
//! million grids) needs something of that size that still behaves like real data:
//! irregular polygons of a dozen vertices that share borders with their
//! neighbours, never overlap, and cluster by province and village the way
//! statistical codes do.
//!
//! The construction is a jittered lattice laid over China's extent
//! (lng 73..135, lat 18..53). Every lattice corner is moved by a small random
//! offset and every lattice edge gets one to three extra vertices pushed a little
//! sideways; because each corner and each edge is a pure function of its lattice
//! position and the seed, the two cells on either side of an edge compute
//! bit-identical vertices, so neighbours share their border exactly. The offsets
//! are bounded so that edges leaving a corner stay inside disjoint 90° cones and
//! edges of different lattice lines stay inside disjoint bands: no two edges can
//! cross, hence no two cells overlap.
//!
//! Cells are handed out along a generalised Hilbert ("gilbert") curve, so
//! consecutive grids are adjacent cells: a village's grids form one blob and a
//! province's grids form a compact region whose size is proportional to its
//! village count.
use geo::{Coord, LineString, MultiPolygon, Polygon};
use pingan_domain::random::{mix64, SplitMix64};
use pingan_domain::{GridCode, RegionCode};

/// China's rough extent: the synthetic lattice covers this rectangle.
const MIN_LNG: f64 = 73.0;
const MAX_LNG: f64 = 135.0;
const MIN_LAT: f64 = 18.0;
const MAX_LAT: f64 = 53.0;

/// Largest corner displacement, in cell units, per axis.
const CORNER_JITTER: f64 = 0.15;
/// Largest sideways displacement of an extra edge vertex, in cell units.
const EDGE_BULGE: f64 = 0.05;

/// A random stream that depends only on the seed and one lattice feature, so
/// both cells touching that feature draw the same numbers.
fn feature_rng(seed: u64, kind: u64, i: u32, j: u32) -> SplitMix64 {
    let key = (kind << 62) ^ ((i as u64) << 31) ^ j as u64;
    SplitMix64::new(mix64(seed ^ mix64(key.wrapping_add(0x5851_F42D_4C95_7F2D))))
}

/// The lattice laid over China's extent.
struct Lattice {
    cols: u32,
    rows: u32,
    cell_w: f64,
    cell_h: f64,
    seed: u64,
}

impl Lattice {
    /// A lattice of at least `cells` cells whose cells are roughly as wide as
    /// high in degrees (the extent's aspect ratio decides columns vs rows).
    fn for_cells(cells: usize, seed: u64) -> Self {
        let aspect = (MAX_LNG - MIN_LNG) / (MAX_LAT - MIN_LAT);
        let cells = cells.max(1) as f64;
        let cols = ((cells * aspect).sqrt().ceil() as u32).max(1);
        let rows = ((cells / cols as f64).ceil() as u32).max(1);
        Lattice {
            cols,
            rows,
            cell_w: (MAX_LNG - MIN_LNG) / cols as f64,
            cell_h: (MAX_LAT - MIN_LAT) / rows as f64,
            seed,
        }
    }

    /// Corner (i, j) in cell units; corners on the outer rim stay on the rim
    /// so the covered area is exactly the extent rectangle.
    fn corner(&self, i: u32, j: u32) -> (f64, f64) {
        let mut rng = feature_rng(self.seed, 0, i, j);
        let dx = rng.range_f64(-CORNER_JITTER, CORNER_JITTER);
        let dy = rng.range_f64(-CORNER_JITTER, CORNER_JITTER);
        let dx = if i == 0 || i == self.cols { 0.0 } else { dx };
        let dy = if j == 0 || j == self.rows { 0.0 } else { dy };
        (i as f64 + dx, j as f64 + dy)
    }

    /// Vertices of the lattice edge from `a` to `b` (its canonical direction:
    /// left to right or bottom to top), without the end corners, in cell units.
    /// `kind` 1 is horizontal, 2 vertical; rim edges stay straight.
    fn edge_points(
        &self,
        kind: u64,
        i: u32,
        j: u32,
        a: (f64, f64),
        b: (f64, f64),
    ) -> Vec<(f64, f64)> {
        let mut rng = feature_rng(self.seed, kind, i, j);
        let count = 1 + rng.below(3) as usize;
        let on_rim = match kind {
            1 => j == 0 || j == self.rows,
            _ => i == 0 || i == self.cols,
        };
        let (vx, vy) = (b.0 - a.0, b.1 - a.1);
        let len = (vx * vx + vy * vy).sqrt();
        let (nx, ny) = if len > 0.0 {
            (-vy / len, vx / len)
        } else {
            (0.0, 0.0)
        };
        (0..count)
            .map(|k| {
                // Evenly spaced slots inside [0.25, 0.75] keep the extra vertices
                // in order along the edge and away from the corners' cones.
                let slot = 0.5 / count as f64;
                let t = 0.25 + slot * (k as f64 + rng.range_f64(0.2, 0.8));
                let bulge = if on_rim {
                    0.0
                } else {
                    rng.range_f64(-EDGE_BULGE, EDGE_BULGE)
                };
                (a.0 + t * vx + bulge * nx, a.1 + t * vy + bulge * ny)
            })
            .collect()
    }

    /// The polygon of cell (i, j), counter-clockwise, in degrees.
    fn cell_polygon(&self, i: u32, j: u32) -> Polygon<f64> {
        let c00 = self.corner(i, j);
        let c10 = self.corner(i + 1, j);
        let c11 = self.corner(i + 1, j + 1);
        let c01 = self.corner(i, j + 1);
        let bottom = self.edge_points(1, i, j, c00, c10);
        let right = self.edge_points(2, i + 1, j, c10, c11);
        let top = self.edge_points(1, i, j + 1, c01, c11);
        let left = self.edge_points(2, i, j, c00, c01);
        let mut ring: Vec<(f64, f64)> =
            Vec::with_capacity(5 + bottom.len() + right.len() + top.len() + left.len());
        ring.push(c00);
        ring.extend(bottom);
        ring.push(c10);
        ring.extend(right);
        ring.push(c11);
        ring.extend(top.into_iter().rev());
        ring.push(c01);
        ring.extend(left.into_iter().rev());
        ring.push(c00);
        let coords = ring
            .into_iter()
            .map(|(x, y)| Coord {
                x: MIN_LNG + x * self.cell_w,
                y: MIN_LAT + y * self.cell_h,
            })
            .collect();
        Polygon::new(LineString(coords), vec![])
    }
}

/// Cells of a `width` × `height` rectangle in generalised-Hilbert order
/// (Jakub Červený's "gilbert2d"): consecutive cells are neighbours (rarely
/// diagonal ones), so any run of the sequence is a compact blob.
fn gilbert_order(width: u32, height: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(width as usize * height as usize);
    let (w, h) = (width as i64, height as i64);
    if w == 0 || h == 0 {
        return out;
    }
    if w >= h {
        gilbert(&mut out, 0, 0, w, 0, 0, h);
    } else {
        gilbert(&mut out, 0, 0, 0, h, w, 0);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn gilbert(out: &mut Vec<(u32, u32)>, x: i64, y: i64, ax: i64, ay: i64, bx: i64, by: i64) {
    let w = (ax + ay).abs();
    let h = (bx + by).abs();
    let (dax, day) = (ax.signum(), ay.signum());
    let (dbx, dby) = (bx.signum(), by.signum());
    let push = |out: &mut Vec<(u32, u32)>, x: i64, y: i64| out.push((x as u32, y as u32));
    if h == 1 {
        let (mut x, mut y) = (x, y);
        for _ in 0..w {
            push(out, x, y);
            x += dax;
            y += day;
        }
        return;
    }
    if w == 1 {
        let (mut x, mut y) = (x, y);
        for _ in 0..h {
            push(out, x, y);
            x += dbx;
            y += dby;
        }
        return;
    }
    let (mut ax2, mut ay2) = (ax.div_euclid(2), ay.div_euclid(2));
    let (mut bx2, mut by2) = (bx.div_euclid(2), by.div_euclid(2));
    let w2 = (ax2 + ay2).abs();
    let h2 = (bx2 + by2).abs();
    if 2 * w > 3 * h {
        if w2 % 2 == 1 && w > 2 {
            ax2 += dax;
            ay2 += day;
        }
        gilbert(out, x, y, ax2, ay2, bx, by);
        gilbert(out, x + ax2, y + ay2, ax - ax2, ay - ay2, bx, by);
    } else {
        if h2 % 2 == 1 && h > 2 {
            bx2 += dbx;
            by2 += dby;
        }
        gilbert(out, x, y, bx2, by2, ax2, ay2);
        gilbert(out, x + bx2, y + by2, ax, ay, bx - bx2, by - by2);
        gilbert(
            out,
            x + (ax - dax) + (bx2 - dbx),
            y + (ay - day) + (by2 - dby),
            -bx2,
            -by2,
            -(ax - ax2),
            -(ay - ay2),
        );
    }
}

/// `grids_per_village` synthetic grids for every village, covering China's
/// extent without overlaps.
///
/// Villages are sorted by code first so that a province's (and a county's,
/// a township's) grids sit together; each grid's code is its village's code
/// plus a 3-digit sequence starting at `001`. The same inputs and seed always
/// give bit-identical polygons. `grids_per_village` is capped at 999, the most
/// a 3-digit sequence can number. Work is spread over the available cores.
pub fn national_grids(
    village_codes: &[RegionCode],
    grids_per_village: u32,
    seed: u64,
) -> Vec<(GridCode, MultiPolygon<f64>)> {
    let per_village = grids_per_village.min(999) as usize;
    let mut villages: Vec<&RegionCode> = village_codes.iter().collect();
    villages.sort();
    let total = villages.len() * per_village;
    if total == 0 {
        return Vec::new();
    }
    let lattice = Lattice::for_cells(total, seed);
    let mut order = gilbert_order(lattice.cols, lattice.rows);
    order.truncate(total);

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = total.div_ceil(threads).max(1);
    let mut out: Vec<(GridCode, MultiPolygon<f64>)> = Vec::with_capacity(total);
    std::thread::scope(|scope| {
        let handles: Vec<_> = order
            .chunks(chunk)
            .enumerate()
            .map(|(part, cells)| {
                let lattice = &lattice;
                let villages = &villages;
                scope.spawn(move || {
                    cells
                        .iter()
                        .enumerate()
                        .filter_map(|(k, &(i, j))| {
                            let n = part * chunk + k;
                            let village = villages[n / per_village];
                            let code = format!("{}{:03}", village.as_str(), n % per_village + 1);
                            // Village codes are 12 digits, so this only fails for
                            // a caller passing non-village codes; skip those.
                            let code = GridCode::parse(&code).ok()?;
                            Some((code, MultiPolygon(vec![lattice.cell_polygon(i, j)])))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    out
}

/// `n` query points spread over the area the grids cover, for locate
/// benchmarks: about 95% fall inside a grid chosen uniformly at random (so
/// every region is queried, not just the large ones) and the rest anywhere in
/// the grids' overall bounding box, to exercise misses as well as hits.
pub fn random_points_in(
    grids: &[(GridCode, MultiPolygon<f64>)],
    n: usize,
    seed: u64,
) -> Vec<(f64, f64)> {
    use geo::{BoundingRect, Contains};

    let rects: Vec<Option<geo::Rect<f64>>> =
        grids.iter().map(|(_, mp)| mp.bounding_rect()).collect();
    let overall = rects
        .iter()
        .flatten()
        .fold(None::<geo::Rect<f64>>, |acc, r| {
            Some(match acc {
                None => *r,
                Some(a) => geo::Rect::new(
                    Coord {
                        x: a.min().x.min(r.min().x),
                        y: a.min().y.min(r.min().y),
                    },
                    Coord {
                        x: a.max().x.max(r.max().x),
                        y: a.max().y.max(r.max().y),
                    },
                ),
            })
        });
    let Some(overall) = overall else {
        return Vec::new();
    };
    let mut rng = SplitMix64::new(mix64(seed ^ 0x0BAD_5EED));
    let mut points = Vec::with_capacity(n);
    while points.len() < n {
        let pick = rng.below(grids.len() as u64) as usize;
        let rect = match rects[pick] {
            Some(r) if rng.next_f64() < 0.95 => r,
            _ => overall,
        };
        let inside = &grids[pick].1;
        // Rejection sampling in the grid's box; a few tries suffice for the
        // compact cells we expect, and a box point is still a fine query.
        let mut p = (0.0, 0.0);
        for _ in 0..8 {
            p = (
                rng.range_f64(rect.min().x, rect.max().x),
                rng.range_f64(rect.min().y, rect.max().y),
            );
            if rect == overall || inside.contains(&geo::Point::new(p.0, p.1)) {
                break;
            }
        }
        points.push(p);
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps, BoundingRect, Intersects};

    fn villages(n: usize) -> Vec<RegionCode> {
        (0..n)
            .map(|k| {
                let province = if k % 2 == 0 { "33" } else { "44" };
                RegionCode::from_short(&format!("{province}0102001{:03}", k + 1)).unwrap()
            })
            .collect()
    }

    #[test]
    fn gilbert_visits_every_cell_once_with_neighbouring_steps() {
        for (w, h) in [(1, 1), (5, 3), (7, 7), (10, 4), (3, 11), (64, 36)] {
            let order = gilbert_order(w, h);
            assert_eq!(order.len(), (w * h) as usize);
            let mut seen = std::collections::HashSet::new();
            for &(x, y) in &order {
                assert!(x < w && y < h);
                assert!(seen.insert((x, y)));
            }
            for pair in order.windows(2) {
                let dx = (pair[0].0 as i64 - pair[1].0 as i64).abs();
                let dy = (pair[0].1 as i64 - pair[1].1 as i64).abs();
                assert!(dx <= 1 && dy <= 1, "{w}x{h}: jump {pair:?}");
            }
        }
    }

    #[test]
    fn grids_tile_without_overlap_and_carry_village_codes() {
        let codes = villages(60);
        let grids = national_grids(&codes, 3, 7);
        assert_eq!(grids.len(), 180);
        for (code, mp) in &grids {
            let village = code.village();
            assert!(codes.contains(&village), "{code}");
            assert!(matches!(&code.as_str()[12..], "001" | "002" | "003"));
            let vertices = mp.0[0].exterior().0.len() - 1;
            assert!((8..=16).contains(&vertices), "{vertices} vertices");
            assert!(mp.unsigned_area() > 0.0);
        }
        let mut total = 0.0;
        for (a, (_, pa)) in grids.iter().enumerate() {
            total += pa.unsigned_area();
            let ra = pa.bounding_rect().unwrap();
            for (_, pb) in &grids[a + 1..] {
                if ra.intersects(&pb.bounding_rect().unwrap()) {
                    let overlap = pa.intersection(pb).unsigned_area();
                    assert!(overlap < 1e-9 * pa.unsigned_area(), "overlap {overlap}");
                }
            }
        }
        // The lattice has a few spare cells, so the grids cover most of the extent.
        let extent = (MAX_LNG - MIN_LNG) * (MAX_LAT - MIN_LAT);
        assert!(
            total <= extent * (1.0 + 1e-9) && total > extent * 0.9,
            "{total}"
        );
    }

    #[test]
    fn same_seed_same_grids_and_points_mostly_hit() {
        let codes = villages(40);
        let a = national_grids(&codes, 2, 11);
        let b = national_grids(&codes, 2, 11);
        assert_eq!(a, b);
        assert_ne!(a, national_grids(&codes, 2, 12));
        let points = random_points_in(&a, 500, 3);
        assert_eq!(points, random_points_in(&a, 500, 3));
        let hits = points
            .iter()
            .filter(|(x, y)| {
                a.iter()
                    .any(|(_, mp)| mp.intersects(&geo::Point::new(*x, *y)))
            })
            .count();
        assert!(hits > 450, "{hits} of 500 hit a grid");
    }

    /// Run by hand: `cargo test -p pingan-geo --release -- --ignored national_scale`.
    #[test]
    #[ignore = "national scale; run by hand in release mode"]
    fn national_scale_timing() {
        let codes: Vec<RegionCode> = (0..680_000u64)
            .map(|k| {
                let province = 11 + (k % 31) * 2;
                let rest = k / 31;
                RegionCode::from_short(&format!("{province:02}{:010}", rest + 1)).unwrap()
            })
            .collect();
        let start = std::time::Instant::now();
        let grids = national_grids(&codes, 3, 1);
        let built = start.elapsed();
        let points = random_points_in(&grids, 1_000_000, 2);
        eprintln!(
            "{} grids in {built:?}, {} points in {:?}",
            grids.len(),
            points.len(),
            start.elapsed() - built
        );
        assert_eq!(grids.len(), 2_040_000);
    }
}

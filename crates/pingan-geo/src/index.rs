//! The in-memory locate index: which grid contains a WGS-84 position.
//!
//! Every event report, patrol check-in and resident address is placed in a grid
//! by this index, so it is built for a national deployment: about two million
//! grid polygons, more than a million lookups per second on one core, a
//! start-up build of a second or two and well under a gigabyte on top of the
//! polygons themselves.
//!
//! At that size a lookup's cost is almost entirely cache and TLB misses, so
//! the design minimises the number of dependent memory accesses of a lookup:
//! typically two, a cell holding its candidate list inline, then the
//! candidates' records, which sit next to each other.
//!
//! * an [`rstar::RTree`] of grid envelopes is the index of record, answering
//!   envelope queries such as the overlap check of a grid import;
//! * an adaptive uniform cell table sits in front of it for point lookups: one
//!   array read finds the cell and its short list of candidates (grids whose
//!   boundary or interior may reach the cell, not merely their envelope).
//!   Cells in dense areas (city centres) are split into sub-tables, so
//!   clustered real data keeps short lists while sparse areas cost one cell
//!   each;
//! * each grid has a compact *record* (a few header words, then every vertex
//!   quantised to 16 bits per axis relative to the grid's envelope), stored in
//!   Hilbert-curve order so the candidates of one cell sit next to each other.
//!   The crossing-number test runs on the quantised vertices with an error
//!   bound; only when the point is within quantisation error (a few
//!   centimetres) of an edge or vertex does it fall back to the exact test on
//!   the stored `f64` polygon, so results are identical to the exact test.
//!
//! The exact test evaluates each edge in a canonical direction, so two grids
//! sharing an edge compute bit-identical results and a point exactly on a
//! shared border belongs to exactly one of them. Rings are combined with the
//! even–odd rule over all rings of a grid, which for valid polygons is the
//! usual "inside an exterior and outside its holes".
use std::fmt;

use geo::{Coord, LineString, MultiPolygon};
use pingan_domain::GridCode;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::geometry;

/// A grid envelope in the R-tree, carrying the grid's number.
type Envelope = GeomWithData<Rectangle<[f32; 2]>, u32>;

/// Wider nodes than rstar's default (6): about 15 % less memory for two
/// million grids and a faster bulk load, at no cost to the envelope queries
/// (the import overlap check) that use the tree.
#[derive(Clone, Copy, Debug)]
struct EnvelopeParams;

impl rstar::RTreeParams for EnvelopeParams {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = rstar::RStarInsertionStrategy;
}

/// An envelope that contains no point; used for grids without coordinates.
const NO_BOX: [f32; 4] = [
    f32::INFINITY,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NEG_INFINITY,
];
/// Sub-tables nest at most this deep below the root table.
const MAX_DEPTH: u32 = 6;
/// Total cell-list entries may not exceed this many per grid (plus a constant),
/// which bounds memory even for pathological inputs such as thousands of huge
/// overlapping grids; splitting simply stops when the budget is spent.
const ENTRY_BUDGET_PER_GRID: usize = 8;

/// Spatial index of grid polygons for point lookups and envelope queries.
///
/// Cheap to share (`Sync`, no interior mutability); rebuild with
/// [`LocateIndex::upsert_many`] or [`LocateIndex::new`] when grids change.
#[derive(Clone, Default)]
pub struct LocateIndex {
    /// All grids, sorted by code; a grid's position here is its number.
    grids: Vec<(GridCode, MultiPolygon<f64>)>,
    rtree: RTree<Envelope, EnvelopeParams>,
    /// Point-lookup accelerator; its lists hold offsets into `records`.
    cells: CellTable,
    /// Quantised grid records, see [`records`](self::records).
    records: Vec<u32>,
}

impl fmt::Debug for LocateIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocateIndex")
            .field("grids", &self.grids.len())
            .field("cells", &self.cells.cells.len())
            .field("subtables", &self.cells.subtables)
            .field("long_list_entries", &self.cells.entries.len())
            .field("record_words", &self.records.len())
            .finish()
    }
}

impl LocateIndex {
    /// Bulk-loads an index. If a code occurs more than once, the last
    /// occurrence wins, as with [`LocateIndex::upsert_many`]. Grids without
    /// coordinates, or with non-finite ones, are kept (for [`LocateIndex::get`])
    /// but never located.
    ///
    /// # Panics
    ///
    /// With more than `u32::MAX` grids or vertices, which no deployment approaches.
    pub fn new(mut grids: Vec<(GridCode, MultiPolygon<f64>)>) -> Self {
        // Stable, so later duplicates stay after earlier ones; already-sorted
        // input (rows read from the database by code) is detected in O(n).
        grids.sort_by(|a, b| a.0.cmp(&b.0));
        grids.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        assert!(
            u32::try_from(grids.len()).is_ok(),
            "LocateIndex holds at most u32::MAX grids"
        );
        let boxes: Vec<[f32; 4]> = grids
            .iter()
            .map(|(_, mp)| match geometry::bbox(mp) {
                Some(b) if b.iter().all(|v| v.is_finite()) => {
                    [f32_down(b[0]), f32_down(b[1]), f32_up(b[2]), f32_up(b[3])]
                }
                _ => NO_BOX,
            })
            .collect();
        // The R-tree is independent of the rest; build it on a second thread
        // to shorten start-up where a second core is available.
        let (rtree, cells, records) = std::thread::scope(|s| {
            let rtree = s.spawn(|| build_rtree(&boxes));
            let (records, offsets) = records::build(&grids, &boxes);
            let cells = CellTable::build(&grids, &boxes, &offsets);
            // A panic in the R-tree thread is a bug in rstar or here; re-raise it.
            let rtree = rtree
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (rtree, cells, records)
        });
        LocateIndex {
            grids,
            rtree,
            cells,
            records,
        }
    }

    /// The grid containing the WGS-84 position, if any.
    ///
    /// A point on the border shared by two grids belongs to exactly one of
    /// them, the same one every time. Should grids overlap (invalid data the
    /// import refuses), the one with the smallest code wins.
    #[inline]
    pub fn locate(&self, lng: f64, lat: f64) -> Option<&GridCode> {
        let entries = self.cells.candidates(lng, lat)?;
        for &offset in entries {
            let hit = match records::test(&self.records, offset as usize, lng, lat) {
                records::Test::Outside => None,
                records::Test::Inside(id) => Some(id),
                records::Test::Unsure(id) => {
                    multipolygon_contains(&self.grids[id].1, lng, lat).then_some(id)
                }
            };
            if let Some(id) = hit {
                return Some(&self.grids[id].0);
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.grids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    /// The polygon of a grid.
    pub fn get(&self, code: &GridCode) -> Option<&MultiPolygon<f64>> {
        self.grids
            .binary_search_by(|(c, _)| c.cmp(code))
            .ok()
            .map(|i| &self.grids[i].1)
    }

    /// All grids in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&GridCode, &MultiPolygon<f64>)> + '_ {
        self.grids.iter().map(|(c, mp)| (c, mp))
    }

    /// The grids whose code starts with `prefix` (a region's subtree), in code order.
    pub fn under(&self, prefix: &str) -> &[(GridCode, MultiPolygon<f64>)] {
        let start = self.grids.partition_point(|(c, _)| c.as_str() < prefix);
        let len = self.grids[start..].partition_point(|(c, _)| c.as_str().starts_with(prefix));
        &self.grids[start..start + len]
    }

    /// Adds grids, replacing any with the same code, and rebuilds the index.
    ///
    /// A full rebuild keeps the structures compact and the code simple; at a
    /// second or two for two million grids it is cheap next to how rarely
    /// grid boundaries change.
    pub fn upsert_many(&mut self, grids: Vec<(GridCode, MultiPolygon<f64>)>) {
        if grids.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.grids);
        all.extend(grids);
        *self = LocateIndex::new(all);
    }

    /// Grids whose envelope intersects `bbox` (`[min_lng, min_lat, max_lng,
    /// max_lat]`): candidates for an exact geometric test such as the overlap
    /// check of an import. May include a few grids whose envelope only comes
    /// within `f32` rounding (about a metre) of `bbox`.
    pub fn intersecting_candidates(
        &self,
        bbox: [f64; 4],
    ) -> impl Iterator<Item = (&GridCode, &MultiPolygon<f64>)> + '_ {
        let query = AABB::from_corners(
            [f32_down(bbox[0]), f32_down(bbox[1])],
            [f32_up(bbox[2]), f32_up(bbox[3])],
        );
        self.rtree
            .locate_in_envelope_intersecting(&query)
            .map(move |e| {
                let (code, mp) = &self.grids[e.data as usize];
                (code, mp)
            })
    }
}

fn build_rtree(boxes: &[[f32; 4]]) -> RTree<Envelope, EnvelopeParams> {
    let items = boxes
        .iter()
        .enumerate()
        .filter(|(_, b)| has_area_or_point(b))
        .map(|(i, b)| {
            // `new` guarantees fewer than u32::MAX grids.
            let id = i as u32;
            GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), id)
        })
        .collect();
    RTree::bulk_load_with_params(items)
}

/// Whether an envelope is a real one rather than [`NO_BOX`].
fn has_area_or_point(b: &[f32; 4]) -> bool {
    b[0] <= b[2] && b[1] <= b[3]
}

/// The largest `f32` not above `v`, so envelopes only ever grow when narrowed.
fn f32_down(v: f64) -> f32 {
    let f = v as f32;
    if f64::from(f) > v {
        next_toward_neg_inf(f)
    } else {
        f
    }
}

/// The smallest `f32` not below `v`.
fn f32_up(v: f64) -> f32 {
    -f32_down(-v)
}

fn next_toward_neg_inf(f: f32) -> f32 {
    if f.is_nan() || f == f32::NEG_INFINITY {
        f
    } else if f == 0.0 {
        -f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(f.to_bits() - 1)
    } else {
        f32::from_bits(f.to_bits() + 1)
    }
}

/// The rings of a grid, each closed (unclosed rings get their closing edge).
fn closed_rings(mp: &MultiPolygon<f64>) -> impl Iterator<Item = (&[Coord<f64>], bool)> {
    mp.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r: &LineString<f64>| {
            let c = r.0.as_slice();
            (c, c.first() != c.last())
        })
}

/// Exact point-in-grid test: even–odd rule over all rings (crossing number).
fn multipolygon_contains(mp: &MultiPolygon<f64>, x: f64, y: f64) -> bool {
    let mut inside = false;
    for (ring, needs_closing) in closed_rings(mp) {
        for w in ring.windows(2) {
            inside ^= crosses(w[0], w[1], x, y);
        }
        if let (true, Some(&first), Some(&last)) = (needs_closing, ring.first(), ring.last()) {
            inside ^= crosses(last, first, x, y);
        }
    }
    inside
}

/// Whether the edge `a`–`b` crosses the ray from `(x, y)` towards +x.
///
/// The edge counts when `lo.y <= y < hi.y` and the point is strictly left of
/// it, where `lo`/`hi` are the endpoints ordered by latitude. Because the order
/// is canonical, the same edge traversed in opposite directions by two
/// neighbouring rings gives bit-identical answers, so the half-open rules
/// assign every boundary point to exactly one side. The comparison is done by
/// cross-multiplication (no division), valid since `hi.y - lo.y > 0`.
#[inline]
fn crosses(a: Coord<f64>, b: Coord<f64>, x: f64, y: f64) -> bool {
    if (a.y > y) == (b.y > y) {
        return false;
    }
    let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
    (x - lo.x) * (hi.y - lo.y) < (y - lo.y) * (hi.x - lo.x)
}

/// Compact per-grid records for the fast point-in-polygon test.
///
/// A record is a run of `u32` words:
///
/// ```text
/// 0  origin x (f32 bits; the envelope's minimum rounded down)
/// 1  origin y (f32 bits)
/// 2  exponent x (i8) | exponent y (i8) << 8 | vertex count (u16) << 16
/// 3  quantised envelope maximum: x (u16) | y (u16) << 16
/// 4  grid number
/// 5… vertices: x (u16) | y (u16) << 16, the last (equal to the first) omitted
/// ```
///
/// A coordinate `v` is stored as `round((v - origin) * 2^exponent)`, with the
/// exponent chosen so the envelope spans at most 65 535 units; each stored
/// value is therefore within half a unit of the true scaled value. Scaling by
/// a power of two is exact, so query points are transformed the same way and
/// all the error is in the stored half unit, which [`test`] bounds.
///
/// All rings of a grid form one vertex sequence: after the first ring, each
/// further ring is followed by the first ring's first vertex again, so the
/// connecting edges are walked once each way and cancel under the even–odd
/// rule.
mod records {
    use super::{closed_rings, GridCode, MultiPolygon};
    use geo::Coord;

    const HEADER_WORDS: usize = 5;
    /// Vertex count marking a grid too large to quantise; always tested exactly.
    const EXACT_ONLY: usize = 0xFFFF;
    const MAX_UNITS: f64 = 65_535.0;
    /// Bound on |stored − true| in units: half a unit of rounding plus
    /// generous room for the f64 rounding of `(v - origin) * 2^k`.
    const E: f64 = 0.5 + 1e-6;
    /// Second-order and rounding terms of the cross-product error bound (see
    /// [`parity`]): 6E² plus room for f64 rounding of products of values up
    /// to 65 535, and for the exact test's own rounding.
    const SLACK: f64 = 6.0 * E * E + 1e-3;

    /// What the quantised test concluded for one grid.
    pub(super) enum Test {
        Outside,
        Inside(usize),
        /// Too close to call: run the exact test on grid `.0`.
        Unsure(usize),
    }

    /// 2^k as f64, for the small exponents used here.
    #[inline]
    fn pow2(k: i8) -> f64 {
        f64::from_bits(((i64::from(k) + 1023) as u64) << 52)
    }

    /// The exponent making `range` span at most [`MAX_UNITS`], if any does.
    fn exponent(range: f64) -> Option<i8> {
        if !(range >= 0.0 && range.is_finite()) {
            return None;
        }
        let mut k: i8 = if range > 0.0 {
            (MAX_UNITS / range).log2().floor().clamp(-60.0, 60.0) as i8
        } else {
            60
        };
        while range * pow2(k) > MAX_UNITS {
            if k == -60 {
                return None;
            }
            k -= 1;
        }
        Some(k)
    }

    #[inline]
    fn quantise(v: f64, origin: f64, scale: f64) -> u32 {
        // The cast truncates, which is `floor` for the non-negative values
        // here (and avoids a libm call); it saturates at both ends.
        (((v - origin) * scale + 0.5) as u32).min(MAX_UNITS as u32)
    }

    /// Hilbert-curve index of a point on a 2^16 × 2^16 lattice.
    fn hilbert(mut x: u32, mut y: u32) -> u64 {
        const N: u32 = 1 << 16;
        let mut d = 0u64;
        let mut s = N / 2;
        while s > 0 {
            let rx = u32::from(x & s != 0);
            let ry = u32::from(y & s != 0);
            d += u64::from(s) * u64::from(s) * u64::from((3 * rx) ^ ry);
            if ry == 0 {
                if rx == 1 {
                    x = N - 1 - x;
                    y = N - 1 - y;
                }
                std::mem::swap(&mut x, &mut y);
            }
            s /= 2;
        }
        d
    }

    /// Writes the records of all locatable grids in Hilbert order of their
    /// envelope centres; returns them and each grid's record offset.
    pub(super) fn build(
        grids: &[(GridCode, MultiPolygon<f64>)],
        boxes: &[[f32; 4]],
    ) -> (Vec<u32>, Vec<u32>) {
        let live = |i: &usize| super::has_area_or_point(&boxes[*i]);
        let mut extent = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for i in (0..boxes.len()).filter(live) {
            let b = boxes[i].map(f64::from);
            extent = [
                extent[0].min(b[0]),
                extent[1].min(b[1]),
                extent[2].max(b[2]),
                extent[3].max(b[3]),
            ];
        }
        let cell = |v: f64, lo: f64, hi: f64| {
            if hi > lo {
                ((v - lo) / (hi - lo) * 65_535.0) as u32
            } else {
                0
            }
        };
        // Hilbert index (< 2^32) in the high half, grid number in the low half.
        let mut order: Vec<u64> = (0..boxes.len())
            .filter(live)
            .map(|i| {
                let b = boxes[i].map(f64::from);
                let x = cell((b[0] + b[2]) / 2.0, extent[0], extent[2]);
                let y = cell((b[1] + b[3]) / 2.0, extent[1], extent[3]);
                hilbert(x, y) << 32 | i as u64
            })
            .collect();
        order.sort_unstable();

        // Record lengths, then offsets in Hilbert order. Lengths are computed
        // and records written in grid order so that the polygons, which
        // usually sit in memory in that order, are read sequentially.
        let mut offsets: Vec<u32> = grids
            .iter()
            .zip(boxes)
            .map(|((_, mp), b)| {
                if super::has_area_or_point(b) {
                    (HEADER_WORDS + layout(mp, b).map_or(0, |l| l.2)) as u32
                } else {
                    u32::MAX
                }
            })
            .collect();
        let mut total = 0usize;
        for &key in &order {
            let slot = &mut offsets[key as u32 as usize];
            let len = *slot as usize;
            *slot = u32::try_from(total).expect("LocateIndex holds at most u32::MAX vertices");
            total += len;
        }
        assert!(
            u32::try_from(total).is_ok(),
            "LocateIndex holds at most u32::MAX vertices"
        );
        drop(order);
        let mut records = vec![0u32; total];
        let mut scratch = Vec::new();
        for (id, &offset) in offsets.iter().enumerate() {
            if offset == u32::MAX {
                continue;
            }
            scratch.clear();
            write(&mut scratch, id as u32, &grids[id].1, &boxes[id]);
            let start = offset as usize;
            records[start..start + scratch.len()].copy_from_slice(&scratch);
        }
        (records, offsets)
    }

    /// Vertices in a grid's sequence (rings plus connecting vertices).
    fn sequence_len(mp: &MultiPolygon<f64>) -> usize {
        let mut n = 0;
        for (k, (ring, needs_closing)) in
            closed_rings(mp).filter(|(r, _)| !r.is_empty()).enumerate()
        {
            n += ring.len() + usize::from(needs_closing) + usize::from(k > 0);
        }
        // The sequence ends where it starts (first ring's closing vertex or
        // the final return to the anchor), so its last vertex is implied.
        let n = n.saturating_sub(1);
        if n >= EXACT_ONLY {
            0
        } else {
            n
        }
    }

    /// Exponents and vertex count of a grid's record, or `None` if it must
    /// always be tested exactly (huge, degenerate or very many vertices).
    fn layout(mp: &MultiPolygon<f64>, b: &[f32; 4]) -> Option<(i8, i8, usize)> {
        let kx = exponent(f64::from(b[2]) - f64::from(b[0]))?;
        let ky = exponent(f64::from(b[3]) - f64::from(b[1]))?;
        let n = sequence_len(mp);
        (n > 0).then_some((kx, ky, n))
    }

    fn write(out: &mut Vec<u32>, id: u32, mp: &MultiPolygon<f64>, b: &[f32; 4]) {
        let (ox, oy) = (f64::from(b[0]), f64::from(b[1]));
        let Some((kx, ky, n)) = layout(mp, b) else {
            out.extend_from_slice(&[
                b[0].to_bits(),
                b[1].to_bits(),
                (EXACT_ONLY as u32) << 16,
                0,
                id,
            ]);
            return;
        };
        let (sx, sy) = (pow2(kx), pow2(ky));
        let q = |c: Coord<f64>| quantise(c.x, ox, sx) | quantise(c.y, oy, sy) << 16;
        let qmax = quantise(f64::from(b[2]), ox, sx) | quantise(f64::from(b[3]), oy, sy) << 16;
        out.extend_from_slice(&[
            b[0].to_bits(),
            b[1].to_bits(),
            u32::from(kx as u8) | u32::from(ky as u8) << 8 | (n as u32) << 16,
            qmax,
            id,
        ]);
        let mut anchor = None;
        for (ring, needs_closing) in closed_rings(mp).filter(|(r, _)| !r.is_empty()) {
            out.extend(ring.iter().map(|&c| q(c)));
            if needs_closing {
                out.push(q(ring[0]));
            }
            match anchor {
                None => anchor = Some(q(ring[0])),
                Some(a) => out.push(a),
            }
        }
        // Equal to the sequence's first vertex; `parity` closes the loop.
        out.pop();
    }

    /// (offset, grid number) of every record, in storage order.
    #[cfg(test)]
    pub(super) fn walk(records: &[u32]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < records.len() {
            let n = (records[offset + 2] >> 16) as usize;
            out.push((offset, records[offset + 4] as usize));
            offset += HEADER_WORDS + if n == EXACT_ONLY { 0 } else { n };
        }
        out
    }

    /// Tests the point against the record at `offset`.
    #[inline]
    pub(super) fn test(records: &[u32], offset: usize, lng: f64, lat: f64) -> Test {
        let h = &records[offset..offset + HEADER_WORDS];
        let meta = h[2];
        let id = h[4] as usize;
        let n = (meta >> 16) as usize;
        let ox = f64::from(f32::from_bits(h[0]));
        let oy = f64::from(f32::from_bits(h[1]));
        if n == EXACT_ONLY {
            return if lng >= ox && lat >= oy {
                Test::Unsure(id)
            } else {
                Test::Outside
            };
        }
        let px = (lng - ox) * pow2(meta as u8 as i8);
        let py = (lat - oy) * pow2((meta >> 8) as u8 as i8);
        let (mx, my) = (f64::from(h[3] & 0xFFFF), f64::from(h[3] >> 16));
        if !(px >= -E && py >= -E && px <= mx + E && py <= my + E) {
            return Test::Outside;
        }
        let start = offset + HEADER_WORDS;
        match parity(&records[start..start + n], px, py) {
            Some(true) => Test::Inside(id),
            Some(false) => Test::Outside,
            None => Test::Unsure(id),
        }
    }

    #[inline]
    fn unpack(w: u32) -> (f64, f64) {
        (f64::from(w & 0xFFFF), f64::from(w >> 16))
    }

    /// Even–odd crossing test on quantised vertices, or `None` when some
    /// decision is within the quantisation error.
    ///
    /// Each true vertex lies within `E` of its stored one on each axis. A
    /// vertex farther than `E` from the ray's latitude is on the same side of
    /// it as the true vertex, so the same edges are counted in the same
    /// orientation. For a counted edge, moving its endpoints by up to `E`
    /// changes the cross product `(p - lo) × (hi - lo)` by at most
    /// `E·(Δy + |hi.x - px| + |px - lo.x|) + 6E²`; beyond that the sign, and so
    /// the exact test's answer, is certain.
    #[inline]
    fn parity(seq: &[u32], px: f64, py: f64) -> Option<bool> {
        // Starting from the last vertex walks the implied closing edge first.
        let mut prev = unpack(*seq.last()?);
        let mut inside = false;
        for &w in seq {
            let cur = unpack(w);
            if (cur.1 - py).abs() <= E {
                return None;
            }
            if (prev.1 > py) != (cur.1 > py) {
                let (lo, hi) = if prev.1 < cur.1 {
                    (prev, cur)
                } else {
                    (cur, prev)
                };
                let (dx, dy) = (hi.0 - lo.0, hi.1 - lo.1);
                let cross = (px - lo.0) * dy - (py - lo.1) * dx;
                let bound = E * (dy + (hi.0 - px).abs() + (px - lo.0).abs()) + SLACK;
                if cross.abs() <= bound {
                    return None;
                }
                inside ^= cross < 0.0;
            }
            prev = cur;
        }
        Some(inside)
    }
}

/// Which cell of an `nx` × `ny` table over a rectangle a coordinate falls in.
///
/// Indices are clamped rather than rejected and the mapping is monotone, so
/// each cell's region is a (possibly unbounded) rectangle and any point of a
/// segment lands in a cell of that segment's envelope's cell range; this is
/// all correctness needs. Points outside the root rectangle are rejected
/// before a table is consulted.
#[derive(Clone, Copy, Debug, Default)]
struct TableGeom {
    min_x: f64,
    min_y: f64,
    inv_w: f64,
    inv_h: f64,
    nx: u32,
    ny: u32,
}

impl TableGeom {
    fn new(rect: [f64; 4], nx: u32, ny: u32) -> Self {
        let (w, h) = (rect[2] - rect[0], rect[3] - rect[1]);
        // A degenerate side maps everything to cell 0 of that axis.
        let inv = |len: f64, n: u32| {
            if len > 0.0 && len.is_finite() {
                f64::from(n) / len
            } else {
                0.0
            }
        };
        TableGeom {
            min_x: rect[0],
            min_y: rect[1],
            inv_w: inv(w, nx),
            inv_h: inv(h, ny),
            nx,
            ny,
        }
    }

    /// Column of `x`; the float-to-int cast saturates (negative and NaN give 0).
    #[inline]
    fn col(&self, x: f64) -> usize {
        (((x - self.min_x) * self.inv_w) as usize).min(self.nx as usize - 1)
    }

    #[inline]
    fn row(&self, y: f64) -> usize {
        (((y - self.min_y) * self.inv_h) as usize).min(self.ny as usize - 1)
    }

    /// Column and row ranges (inclusive) covered by an envelope.
    fn range(&self, b: [f64; 4]) -> (usize, usize, usize, usize) {
        (
            self.col(b[0]),
            self.row(b[1]),
            self.col(b[2]),
            self.row(b[3]),
        )
    }

    fn cells(&self) -> usize {
        self.nx as usize * self.ny as usize
    }

    /// The nominal rectangle of a cell; sub-tables are laid over it.
    #[inline]
    fn cell_rect(&self, col: usize, row: usize) -> [f64; 4] {
        let w = if self.inv_w > 0.0 {
            1.0 / self.inv_w
        } else {
            0.0
        };
        let h = if self.inv_h > 0.0 {
            1.0 / self.inv_h
        } else {
            0.0
        };
        let x0 = self.min_x + col as f64 * w;
        let y0 = self.min_y + row as f64 * h;
        [x0, y0, x0 + w, y0 + h]
    }

    /// The `k` × `k` sub-table over a cell. Lookups recompute it with this
    /// same function, so it need not be stored.
    #[inline]
    fn child(&self, col: usize, row: usize, k: u32) -> TableGeom {
        TableGeom::new(self.cell_rect(col, row), k, k)
    }
}

/// One cell, half a cache line so that the cell and its candidate list are
/// a single memory access. Word 0 holds the kind in its top byte:
///
/// * inline list: count (≤ [`INLINE`]) in the low byte, record offsets in
///   words 1..;
/// * long list: words 1 and 2 are start and length in `CellTable::entries`;
/// * sub-table: `k` in the low 16 bits, word 1 the index of its first cell.
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(32))]
struct Cell([u32; 8]);

const INLINE: usize = 7;
const KIND_INLINE: u32 = 0;
const KIND_LIST: u32 = 1;
const KIND_TABLE: u32 = 2;

/// Tables of cells listing the grids (by record offset) whose polygon may
/// touch each cell; the root table covers the envelope of all grids and
/// occupies the first cells.
#[derive(Clone, Debug)]
struct CellTable {
    /// `[min_x, min_y, max_x, max_y]` of the root table; points outside miss.
    extent: [f64; 4],
    root: TableGeom,
    cells: Vec<Cell>,
    /// Lists too long to fit in their cell.
    entries: Vec<u32>,
    /// Number of sub-tables, for diagnostics.
    subtables: usize,
}

impl Default for CellTable {
    /// A table that contains nothing: its extent holds no point.
    fn default() -> Self {
        CellTable {
            extent: [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            root: TableGeom::default(),
            cells: Vec::new(),
            entries: Vec::new(),
            subtables: 0,
        }
    }
}

impl CellTable {
    #[inline]
    fn candidates(&self, x: f64, y: f64) -> Option<&[u32]> {
        let e = &self.extent;
        // Also rejects NaN, and everything when the table is empty.
        if !(x >= e[0] && x <= e[2] && y >= e[1] && y <= e[3]) {
            return None;
        }
        let mut geom = self.root;
        let mut base = 0usize;
        loop {
            let (col, row) = (geom.col(x), geom.row(y));
            let cell = &self.cells[base + row * geom.nx as usize + col].0;
            match cell[0] >> 24 {
                KIND_INLINE => return Some(&cell[1..1 + (cell[0] & 0xFF) as usize]),
                KIND_LIST => {
                    let start = cell[1] as usize;
                    return Some(&self.entries[start..start + cell[2] as usize]);
                }
                _ => {
                    geom = geom.child(col, row, cell[0] & 0xFFFF);
                    base = cell[1] as usize;
                }
            }
        }
    }

    /// Builds the table for the grids with an envelope; `offsets` maps grid
    /// numbers to record offsets, which is what the cells store.
    fn build(grids: &[(GridCode, MultiPolygon<f64>)], boxes: &[[f32; 4]], offsets: &[u32]) -> Self {
        let ids: Vec<u32> = (0..boxes.len())
            .filter(|&i| has_area_or_point(&boxes[i]))
            .map(|i| i as u32)
            .collect();
        if ids.is_empty() {
            return CellTable::default();
        }
        let mut extent = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for &id in &ids {
            let b = &boxes[id as usize];
            extent[0] = extent[0].min(f64::from(b[0]));
            extent[1] = extent[1].min(f64::from(b[1]));
            extent[2] = extent[2].max(f64::from(b[2]));
            extent[3] = extent[3].max(f64::from(b[3]));
        }
        let mut builder = Builder {
            grids,
            boxes,
            offsets,
            cells: Vec::new(),
            entries: Vec::new(),
            budget: ids.len() * ENTRY_BUDGET_PER_GRID + 4096,
            subtables: 0,
            cover: Vec::new(),
            marks: Vec::new(),
        };
        let root = builder.build_root(&ids, extent);
        builder.cells.shrink_to_fit();
        builder.entries.shrink_to_fit();
        CellTable {
            extent,
            root,
            cells: builder.cells,
            entries: builder.entries,
            subtables: builder.subtables,
        }
    }
}

struct Builder<'a> {
    grids: &'a [(GridCode, MultiPolygon<f64>)],
    boxes: &'a [[f32; 4]],
    offsets: &'a [u32],
    cells: Vec<Cell>,
    entries: Vec<u32>,
    /// Entries that splitting cells may still add beyond what the root
    /// table's lists hold; see [`ENTRY_BUDGET_PER_GRID`].
    budget: usize,
    subtables: usize,
    /// Scratch buffers of [`Builder::cover`].
    cover: Vec<u32>,
    marks: Vec<bool>,
}

/// Grid numbers bucketed by cell (compressed rows: cell `i` owns
/// `ids[offsets[i]..offsets[i + 1]]`).
struct Buckets {
    offsets: Vec<u32>,
    ids: Vec<u32>,
}

impl Buckets {
    fn get(&self, cell: usize) -> &[u32] {
        &self.ids[self.offsets[cell] as usize..self.offsets[cell + 1] as usize]
    }
}

/// Grids spanning more cells than this are listed in every cell of their
/// envelope rather than filtered edge by edge; only huge rural grids do.
const MAX_FILTERED_SPAN: usize = 1024;

impl Builder<'_> {
    /// The root table has about one cell per grid over the envelope of all
    /// grids, shaped to its aspect ratio; dense cells are split below it.
    fn build_root(&mut self, ids: &[u32], extent: [f64; 4]) -> TableGeom {
        let (w, h) = (extent[2] - extent[0], extent[3] - extent[1]);
        let mut target = ids.len() as f64;
        loop {
            let (nx, ny) = if w > 0.0 && h > 0.0 {
                let nx = (target * w / h).sqrt().clamp(1.0, 65_536.0);
                let ny = (target / nx).clamp(1.0, 65_536.0);
                (nx.ceil() as u32, ny.ceil() as u32)
            } else if w > 0.0 {
                (target.clamp(1.0, 65_536.0).ceil() as u32, 1)
            } else if h > 0.0 {
                (1, target.clamp(1.0, 65_536.0).ceil() as u32)
            } else {
                (1, 1)
            };
            let geom = TableGeom::new(extent, nx, ny);
            let buckets = self.bucket(&geom, ids);
            // Huge overlapping grids can make even a coarse table expensive;
            // coarsen until it fits (a 1×1 table always does: one entry per grid).
            if buckets.ids.len() <= self.budget || (nx == 1 && ny == 1) {
                self.budget = self.budget.saturating_sub(buckets.ids.len());
                self.build_table(&geom, &buckets, 0);
                return geom;
            }
            target /= 4.0;
        }
    }

    /// Cells of `geom` (as indices) that grid `id` may touch, into `self.cover`.
    ///
    /// Conservative: a cell is kept if the envelope of one of the grid's edges
    /// reaches it, or if its centre lies inside the grid. A cell whose region
    /// holds a point of the grid either contains a point of the boundary, and
    /// so is reached by that edge's envelope (the cell mapping is monotone),
    /// or lies wholly inside the grid, and so has its centre inside.
    fn cover(&mut self, id: u32, geom: &TableGeom) {
        self.cover.clear();
        let b = self.boxes[id as usize].map(f64::from);
        let (c0, r0, c1, r1) = geom.range(b);
        let (w, h) = (c1 - c0 + 1, r1 - r0 + 1);
        let nx = geom.nx as usize;
        if w * h <= 2 || w * h > MAX_FILTERED_SPAN {
            for r in r0..=r1 {
                self.cover.extend((c0..=c1).map(|c| (r * nx + c) as u32));
            }
            return;
        }
        self.marks.clear();
        self.marks.resize(w * h, false);
        let mp = &self.grids[id as usize].1;
        for (ring, needs_closing) in closed_rings(mp) {
            let closing = match (needs_closing, ring.first(), ring.last()) {
                (true, Some(&first), Some(&last)) => Some([last, first]),
                _ => None,
            };
            for e in ring.windows(2).chain(closing.as_ref().map(|c| &c[..])) {
                let (a, z) = (e[0], e[1]);
                let (ec0, er0, ec1, er1) =
                    geom.range([a.x.min(z.x), a.y.min(z.y), a.x.max(z.x), a.y.max(z.y)]);
                for r in er0.max(r0)..=er1.min(r1) {
                    for c in ec0.max(c0)..=ec1.min(c1) {
                        self.marks[(r - r0) * w + (c - c0)] = true;
                    }
                }
            }
        }
        for r in r0..=r1 {
            for c in c0..=c1 {
                let marked = self.marks[(r - r0) * w + (c - c0)] || {
                    let rect = geom.cell_rect(c, r);
                    let (x, y) = ((rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0);
                    geom.col(x) != c || geom.row(y) != r || multipolygon_contains(mp, x, y)
                };
                if marked {
                    self.cover.push((r * nx + c) as u32);
                }
            }
        }
    }

    /// Buckets `ids` by the cells of `geom` they cover.
    fn bucket(&mut self, geom: &TableGeom, ids: &[u32]) -> Buckets {
        let n = geom.cells();
        let mut offsets = vec![0u32; n + 1];
        // Each grid's cover once, as (how many, which cells), rather than
        // (cell, grid) pairs: a third less temporary memory for the root.
        let mut counts = Vec::with_capacity(ids.len());
        let mut covered = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            self.cover(id, geom);
            counts.push(self.cover.len() as u32);
            covered.extend_from_slice(&self.cover);
            for &cell in &self.cover {
                offsets[cell as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        let mut out = vec![0u32; offsets[n] as usize];
        // Ascending ids in, ascending ids in every cell out.
        let mut cells = covered.iter();
        for (&id, &count) in ids.iter().zip(&counts) {
            for &cell in cells.by_ref().take(count as usize) {
                let slot = &mut fill[cell as usize];
                out[*slot as usize] = id;
                *slot += 1;
            }
        }
        Buckets { offsets, ids: out }
    }

    /// Appends a table's cells; returns the index of its first cell.
    fn build_table(&mut self, geom: &TableGeom, buckets: &Buckets, depth: u32) -> u32 {
        let base = self.cells.len();
        self.cells.resize(base + geom.cells(), Cell::default());
        for row in 0..geom.ny as usize {
            for col in 0..geom.nx as usize {
                let i = row * geom.nx as usize + col;
                let cell = self.build_cell(buckets.get(i), geom, col, row, depth + 1);
                self.cells[base + i] = cell;
            }
        }
        u32::try_from(base).expect("cell count fits u32")
    }

    /// A leaf listing `ids`, or a sub-table when splitting at least halves
    /// the list a random point in the cell has to scan.
    fn build_cell(
        &mut self,
        ids: &[u32],
        parent: &TableGeom,
        col: usize,
        row: usize,
        depth: u32,
    ) -> Cell {
        if ids.len() > INLINE && depth <= MAX_DEPTH {
            let k = ((ids.len() as f64 / 2.0).sqrt().ceil() as u32).clamp(2, 16);
            let geom = parent.child(col, row, k);
            let buckets = self.bucket(&geom, ids);
            let total = buckets.ids.len();
            let extra = total.saturating_sub(ids.len());
            let mean_after = total as f64 / geom.cells() as f64;
            if extra <= self.budget && mean_after <= ids.len() as f64 / 2.0 {
                self.budget -= extra;
                self.subtables += 1;
                let base = self.build_table(&geom, &buckets, depth);
                let mut cell = Cell::default();
                cell.0[0] = KIND_TABLE << 24 | k;
                cell.0[1] = base;
                return cell;
            }
        }
        self.leaf(ids)
    }

    fn leaf(&mut self, ids: &[u32]) -> Cell {
        let mut cell = Cell::default();
        if ids.len() <= INLINE {
            cell.0[0] = KIND_INLINE << 24 | ids.len() as u32;
            for (slot, &id) in cell.0[1..].iter_mut().zip(ids) {
                *slot = self.offsets[id as usize];
            }
        } else {
            cell.0[0] = KIND_LIST << 24;
            cell.0[1] = u32::try_from(self.entries.len()).expect("entry count fits u32");
            cell.0[2] = ids.len() as u32;
            self.entries
                .extend(ids.iter().map(|&id| self.offsets[id as usize]));
        }
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coordinate_position::{CoordPos, CoordinatePosition};
    use geo::{Contains, Polygon};
    use pingan_domain::random::SplitMix64;

    fn code(n: usize) -> GridCode {
        GridCode::parse(&format!("330102{:06}{:03}", n / 999, n % 999 + 1)).unwrap()
    }

    fn poly(points: &[(f64, f64)]) -> Polygon<f64> {
        Polygon::new(LineString::from(points.to_vec()), vec![])
    }

    /// A `cols` × `rows` lattice of quads whose shared corners are jittered
    /// identically for all four neighbours, so the quads tile without gaps.
    fn jittered_lattice(
        cols: usize,
        rows: usize,
        origin: (f64, f64),
        step: f64,
        seed: u64,
    ) -> Vec<(GridCode, MultiPolygon<f64>)> {
        let mut rng = SplitMix64::new(seed);
        let nodes: Vec<Vec<(f64, f64)>> = (0..=rows)
            .map(|r| {
                (0..=cols)
                    .map(|c| {
                        let jitter = |rng: &mut SplitMix64| (rng.next_f64() - 0.5) * 0.6 * step;
                        (
                            origin.0 + c as f64 * step + jitter(&mut rng),
                            origin.1 + r as f64 * step + jitter(&mut rng),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let ring = [
                    nodes[r][c],
                    nodes[r][c + 1],
                    nodes[r + 1][c + 1],
                    nodes[r + 1][c],
                    nodes[r][c],
                ];
                out.push((code(r * cols + c), MultiPolygon(vec![poly(&ring)])));
            }
        }
        out
    }

    /// Checks `locate` against a brute-force `geo::Contains` over all grids.
    fn check_point(grids: &[(GridCode, MultiPolygon<f64>)], index: &LocateIndex, x: f64, y: f64) {
        let pt = geo::Point::new(x, y);
        let containing: Vec<&GridCode> = grids
            .iter()
            .filter(|(_, mp)| mp.contains(&pt))
            .map(|(c, _)| c)
            .collect();
        let found = index.locate(x, y);
        match containing.as_slice() {
            [one] => assert_eq!(found, Some(*one), "({x}, {y})"),
            [] => {
                // Only a point exactly on a border may still be located.
                if let Some(c) = found {
                    let mp = index.get(c).unwrap();
                    assert_eq!(mp.coordinate_position(&pt.0), CoordPos::OnBoundary);
                }
            }
            many => panic!("test grids overlap at ({x}, {y}): {many:?}"),
        }
    }

    #[test]
    fn under_a_prefix_gives_exactly_that_subtree() {
        let grids = jittered_lattice(40, 40, (120.0, 30.0), 0.01, 7);
        let index = LocateIndex::new(grids.clone());
        for prefix in [
            "330102000001",
            "330102000002",
            "330102",
            "3301020000",
            "330103",
            "1",
        ] {
            let want: Vec<&str> = grids
                .iter()
                .map(|(c, _)| c.as_str())
                .filter(|c| c.starts_with(prefix))
                .collect();
            let got: Vec<&str> = index
                .under(prefix)
                .iter()
                .map(|(c, _)| c.as_str())
                .collect();
            assert_eq!(got, want, "prefix {prefix}");
        }
        assert_eq!(index.under("").len(), grids.len());
    }

    #[test]
    fn matches_geo_contains_on_random_points() {
        let grids = jittered_lattice(30, 20, (120.0, 30.0), 0.01, 1);
        let index = LocateIndex::new(grids.clone());
        assert_eq!(index.len(), 600);
        let mut rng = SplitMix64::new(2);
        for _ in 0..20_000 {
            // Some points fall outside the lattice on purpose.
            let x = 119.99 + 0.32 * rng.next_f64();
            let y = 29.99 + 0.22 * rng.next_f64();
            check_point(&grids, &index, x, y);
        }
    }

    #[test]
    fn shared_borders_belong_to_exactly_one_grid() {
        let grids = jittered_lattice(10, 10, (100.0, 40.0), 0.5, 3);
        let index = LocateIndex::new(grids.clone());
        // Every interior corner and a point on every interior edge.
        for (_, mp) in &grids {
            let ring = &mp.0[0].exterior().0;
            for w in ring.windows(2) {
                for t in [0.0, 0.5, 0.25] {
                    let x = w[0].x + (w[1].x - w[0].x) * t;
                    let y = w[0].y + (w[1].y - w[0].y) * t;
                    let inner = x > 100.2 && x < 104.8 && y > 40.2 && y < 44.8;
                    let found = index.locate(x, y);
                    if inner {
                        let c = found.unwrap_or_else(|| panic!("gap at ({x}, {y})"));
                        let pos = index.get(c).unwrap().coordinate_position(&Coord { x, y });
                        assert_ne!(pos, CoordPos::Outside);
                    }
                    assert_eq!(found, index.locate(x, y));
                }
            }
        }
    }

    #[test]
    fn holes_are_respected() {
        let outer = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]),
            vec![LineString::from(vec![
                (3.0, 3.0),
                (7.0, 3.0),
                (7.0, 7.0),
                (3.0, 7.0),
            ])],
        );
        let inner = poly(&[(3.0, 3.0), (3.0, 7.0), (7.0, 7.0), (7.0, 3.0)]);
        let index = LocateIndex::new(vec![
            (code(1), MultiPolygon(vec![outer.clone()])),
            (code(2), MultiPolygon(vec![inner])),
        ]);
        assert_eq!(index.locate(1.0, 1.0), Some(&code(1)));
        assert_eq!(index.locate(5.0, 5.0), Some(&code(2)));
        assert_eq!(index.locate(9.9, 5.0), Some(&code(1)));
        assert_eq!(index.locate(11.0, 5.0), None);
        // On the hole's border: one of the two, never none.
        for (x, y) in [(3.0, 5.0), (7.0, 5.0), (5.0, 3.0), (5.0, 7.0), (3.0, 3.0)] {
            assert!(index.locate(x, y).is_some(), "({x}, {y})");
        }

        // Without the inner grid the hole is empty.
        let index = LocateIndex::new(vec![(code(1), MultiPolygon(vec![outer]))]);
        assert_eq!(index.locate(5.0, 5.0), None);
        assert_eq!(index.locate(2.0, 5.0), Some(&code(1)));
    }

    #[test]
    fn multipolygon_parts_are_all_searched() {
        let mp = MultiPolygon(vec![
            poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]),
            poly(&[(5.0, 5.0), (6.0, 5.0), (6.0, 6.0), (5.0, 6.0)]),
        ]);
        let index = LocateIndex::new(vec![(code(7), mp)]);
        assert_eq!(index.locate(0.5, 0.5), Some(&code(7)));
        assert_eq!(index.locate(5.5, 5.5), Some(&code(7)));
        assert_eq!(index.locate(3.0, 3.0), None);
    }

    #[test]
    fn empty_and_degenerate_inputs() {
        let index = LocateIndex::default();
        assert!(index.is_empty());
        assert_eq!(index.locate(120.0, 30.0), None);
        assert_eq!(index.locate(0.0, 0.0), None);
        assert_eq!(LocateIndex::new(vec![]).locate(0.0, 0.0), None);
        assert_eq!(
            index
                .intersecting_candidates([0.0, 0.0, 180.0, 90.0])
                .count(),
            0
        );

        let index = LocateIndex::new(vec![
            (code(1), MultiPolygon(vec![])),
            (code(2), poly(&[(1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]).into()),
        ]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.locate(1.0, 1.0), None);
        assert_eq!(index.locate(f64::NAN, 1.0), None);
        assert!(index.get(&code(1)).is_some());

        // Too many vertices to quantise: always tested exactly.
        let circle: Vec<(f64, f64)> = (0..70_000)
            .map(|i| {
                let a = i as f64 / 70_000.0 * std::f64::consts::TAU;
                (120.0 + 0.01 * a.cos(), 30.0 + 0.01 * a.sin())
            })
            .collect();
        let index = LocateIndex::new(vec![(code(3), poly(&circle).into())]);
        assert_eq!(index.locate(120.0, 30.0), Some(&code(3)));
        assert_eq!(index.locate(120.009, 30.009), None);
        assert_eq!(records::walk(&index.records).len(), 1);
    }

    #[test]
    fn upsert_replaces_by_code_and_last_duplicate_wins() {
        let a = poly(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        let b = poly(&[(2.0, 0.0), (3.0, 0.0), (3.0, 1.0), (2.0, 1.0)]);
        let mut index = LocateIndex::new(vec![
            (code(5), a.clone().into()),
            (code(5), b.clone().into()),
            (code(1), a.clone().into()),
        ]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.get(&code(5)), Some(&b.clone().into()));
        assert_eq!(index.locate(2.5, 0.5), Some(&code(5)));
        assert_eq!(index.locate(0.5, 0.5), Some(&code(1)));

        index.upsert_many(vec![
            (code(1), b.clone().into()),
            (code(9), a.clone().into()),
        ]);
        assert_eq!(index.len(), 3);
        let codes: Vec<_> = index.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(codes, [code(1), code(5), code(9)]);
        assert_eq!(index.get(&code(1)), Some(&b.into()));
        // Overlapping grids: the smallest code wins, deterministically.
        assert_eq!(index.locate(2.5, 0.5), Some(&code(1)));
        assert_eq!(index.locate(0.5, 0.5), Some(&code(9)));

        let near: Vec<_> = index
            .intersecting_candidates([0.9, 0.9, 1.5, 2.0])
            .map(|(c, _)| c.clone())
            .collect();
        assert_eq!(near, [code(9)]);
    }

    #[test]
    fn clustered_data_splits_cells_and_stays_exact() {
        // A dense city lattice, a sparse rural lattice and one huge grid far
        // away: the root table is coarse for the city, which must be split.
        let mut grids = jittered_lattice(60, 60, (120.0, 30.0), 0.001, 4);
        let rural = jittered_lattice(5, 5, (90.0, 40.0), 1.0, 5);
        for (i, (_, mp)) in rural.into_iter().enumerate() {
            grids.push((code(10_000 + i), mp));
        }
        grids.push((
            code(20_000),
            poly(&[(100.0, 20.0), (110.0, 20.0), (110.0, 25.0), (100.0, 25.0)]).into(),
        ));
        let index = LocateIndex::new(grids.clone());
        assert!(index.cells.subtables > 0, "{index:?}");
        let mut rng = SplitMix64::new(6);
        for i in 0..30_000 {
            let (x, y) = match i % 3 {
                0 => (120.0 + 0.06 * rng.next_f64(), 30.0 + 0.06 * rng.next_f64()),
                1 => (90.0 + 5.0 * rng.next_f64(), 40.0 + 5.0 * rng.next_f64()),
                _ => (85.0 + 40.0 * rng.next_f64(), 15.0 + 35.0 * rng.next_f64()),
            };
            check_point(&grids, &index, x, y);
        }
    }

    #[test]
    fn many_overlapping_huge_grids_stay_within_budget() {
        let square = poly(&[(70.0, 15.0), (140.0, 15.0), (140.0, 55.0), (70.0, 55.0)]);
        let mut grids: Vec<_> = (0..3000)
            .map(|i| (code(5000 + i), square.clone().into()))
            .collect();
        grids.extend(jittered_lattice(20, 20, (100.0, 30.0), 0.01, 7));
        let n = grids.len();
        let index = LocateIndex::new(grids);
        let listed: usize = index
            .cells
            .cells
            .iter()
            .map(|c| match c.0[0] >> 24 {
                KIND_INLINE => (c.0[0] & 0xFF) as usize,
                KIND_LIST => c.0[2] as usize,
                _ => 0,
            })
            .sum();
        assert!(listed <= n * ENTRY_BUDGET_PER_GRID + 4096, "{listed}");
        assert_eq!(index.locate(120.0, 30.0), Some(&code(5000)));
        let in_lattice = index.locate(100.1, 30.1).unwrap();
        assert!(in_lattice < &code(400));
    }

    /// The quantised test must agree with the exact one whenever it decides,
    /// including for points a hair's breadth from edges and vertices.
    #[test]
    fn quantised_test_agrees_with_exact_test() {
        let mut grids = jittered_lattice(8, 8, (120.0, 30.0), 0.01, 9);
        // A grid with a hole and a second part, and a tiny and a huge grid.
        grids.push((
            code(900),
            MultiPolygon(vec![
                Polygon::new(
                    LineString::from(vec![
                        (121.0, 31.0),
                        (121.3, 31.0),
                        (121.3, 31.2),
                        (121.0, 31.2),
                    ]),
                    vec![LineString::from(vec![
                        (121.1, 31.05),
                        (121.2, 31.05),
                        (121.15, 31.15),
                    ])],
                ),
                poly(&[(121.4, 31.0), (121.5, 31.1), (121.4, 31.2)]),
            ]),
        ));
        grids.push((
            code(901),
            poly(&[
                (122.0, 32.0),
                (122.000_001, 32.0),
                (122.000_001, 32.000_001),
            ])
            .into(),
        ));
        grids.push((
            code(902),
            poly(&[(70.0, 10.0), (140.0, 10.0), (140.0, 9.0), (70.0, 9.5)]).into(),
        ));
        let index = LocateIndex::new(grids.clone());
        let offsets = records::walk(&index.records);
        assert_eq!(offsets.len(), grids.len());
        let mut rng = SplitMix64::new(10);
        let mut decided = 0usize;
        let mut unsure = 0usize;
        for (_, mp) in &grids {
            let Some(offset) = offsets.iter().find(|(_, id)| &index.grids[*id].1 == mp) else {
                continue;
            };
            let offset = offset.0;
            for (ring, _) in closed_rings(mp) {
                for w in ring.windows(2) {
                    for _ in 0..50 {
                        let t = rng.next_f64();
                        // Distance from the edge: exactly on it, then ever further.
                        let scale = [0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-3][(rng.below(6)) as usize];
                        let x = w[0].x + (w[1].x - w[0].x) * t + (rng.next_f64() - 0.5) * scale;
                        let y = w[0].y + (w[1].y - w[0].y) * t + (rng.next_f64() - 0.5) * scale;
                        let exact = multipolygon_contains(mp, x, y);
                        match records::test(&index.records, offset, x, y) {
                            records::Test::Inside(_) => {
                                assert!(exact, "({x}, {y})");
                                decided += 1;
                            }
                            records::Test::Outside => {
                                assert!(!exact, "({x}, {y})");
                                decided += 1;
                            }
                            records::Test::Unsure(_) => unsure += 1,
                        }
                    }
                }
                // Vertices themselves.
                for c in ring {
                    let exact = multipolygon_contains(mp, c.x, c.y);
                    if let records::Test::Inside(_) | records::Test::Outside =
                        records::test(&index.records, offset, c.x, c.y)
                    {
                        let inside = matches!(
                            records::test(&index.records, offset, c.x, c.y),
                            records::Test::Inside(_)
                        );
                        assert_eq!(inside, exact);
                    }
                }
            }
        }
        // Both the quantised decision and the fallback were exercised.
        assert!(
            decided > 1000 && unsure > 1000,
            "{decided} decided, {unsure} unsure"
        );
    }

    #[test]
    fn f32_rounding_is_outwards() {
        for v in [120.123_456_789_f64, -33.3, 0.0, 1e-50, -1e-50, 73.0] {
            assert!(f64::from(f32_down(v)) <= v);
            assert!(f64::from(f32_up(v)) >= v);
        }
    }
}

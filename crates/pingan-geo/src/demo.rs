//! The demo geography: a living Zhejiang for `pingan demo`.
//!
//! The province's 90 county-level units have real, public boundary polygons
//! (bundled under `data/zhejiang/boundaries`, in GCJ-02). Townships, villages and
//! grids have none, so they are generated: each parent polygon is split into as
//! many children as the statistics bureau lists for it by a Voronoi partition of
//! seeds placed inside it, clipped to the parent. Because the Voronoi cells of a
//! seed set partition the whole frame around the parent, the clipped children
//! cover the parent exactly — islands and all — and never overlap. Recursing
//! county → township → village → three grids per village gives a tiling of the
//! province in which every point lies in exactly one grid, and that grid's
//! village, township and county all contain it, which is what locating a
//! reporter's position needs.
//!
//! The real county data are not a perfect tiling: neighbours overlap slightly and
//! leave slivers between them. Counties are therefore made disjoint first (each
//! loses what earlier counties already cover) and the province polygon's
//! leftovers are given to the nearest county, before any subdivision.
//!
//! All geometry is converted to WGS-84 as soon as it is read, so every polygon
//! this module produces — and every check done on them — is in WGS-84.
//! Generation is deterministic: each parent draws its seeds from a random
//! stream keyed by the caller's seed and the parent's code, so the output does
//! not depend on thread scheduling.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Coord, InteriorPoint, LineString, MultiPolygon,
    Polygon, Rect,
};
use pingan_domain::random::{mix64, SplitMix64};
use pingan_domain::{CodeError, GridCode, Level, RegionCode};

use crate::crs::{multipolygon_to_wgs84, Crs};
use crate::{DivisionRecord, Divisions};

/// How many grids each generated village is split into.
pub const GRIDS_PER_VILLAGE: usize = 3;

/// Candidates drawn per seed in best-candidate sampling: more gives more even
/// spacing (rounder cells) at linear cost.
const SEED_CANDIDATES: usize = 8;

/// Rounds of Lloyd relaxation (moving each seed to its clipped cell's
/// centroid); one round visibly evens out cell sizes for twice the clipping.
const LLOYD_ROUNDS: usize = 1;

/// A piece of the province outline that no county covers is given to the
/// nearest county only if it lies within this many degrees (~100 m) of it
/// and is at most `GAP_SHARE` of its area. The bundled data's slivers are
/// rounding artefacts (about 9,000 pieces, 1e-9° from a county, 450 m² in
/// all); the limits keep a partial set of divisions (a test, or a single
/// city) from swallowing the rest of the province.
const GAP_REACH: f64 = 1e-3;
const GAP_SHARE: f64 = 0.01;

/// The generated geography, all in WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoGeography {
    /// county, township and village polygons (WGS-84), keyed by the region's 12-digit code
    pub regions: Vec<(RegionCode, MultiPolygon<f64>)>,
    pub grids: Vec<DemoGrid>,
}

/// One generated grid (网格).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoGrid {
    pub code: GridCode,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

/// Why the demo geography could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("boundary file {path} for region {code} is missing")]
    MissingBoundary { code: String, path: PathBuf },
    #[error("cannot read boundary file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("boundary file {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("boundary file {path} is not a usable GeoJSON polygon: {message}")]
    GeoJson { path: PathBuf, message: String },
    #[error("the divisions contain no county-level regions to build a demo from")]
    NoCounties,
    #[error("county {code}'s boundary ({path}) has no area left once overlaps with its neighbours are removed")]
    EmptyCounty { code: String, path: PathBuf },
    #[error("could not give region {0} a polygon with any area")]
    Degenerate(String),
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// Builds the demo geography for every county-level region of `divisions`
/// whose boundary file `<6-digit code>.geojson` is in `boundaries_dir`
/// (GCJ-02, as bundled); a county without one is an error, since its whole
/// subtree would have nowhere to live. Province files (`<2 digits>0000.geojson`)
/// are optional and only used to fill the slivers the counties leave.
///
/// `progress` is called (from worker threads, in no particular order) with the
/// number of regions and grids finished so far and the total.
pub fn generate(
    boundaries_dir: &Path,
    divisions: &Divisions,
    seed: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<DemoGeography, DemoError> {
    let tree = Tree::new(divisions);
    if tree.counties.is_empty() {
        return Err(DemoError::NoCounties);
    }
    let total = tree.total_units();
    progress(0, total);

    // Read, convert and clean every county; the files are small, so the only
    // reason to parallelise is the cleaning overlay.
    let paths: Vec<PathBuf> = tree
        .counties
        .iter()
        .map(|c| boundaries_dir.join(format!("{}.geojson", c.code.prefix())))
        .collect();
    let raw: Vec<Result<MultiPolygon<f64>, DemoError>> = parallel_map(paths.len(), None, |i| {
        let code = tree.counties[i].code.prefix();
        read_boundary(&paths[i], code).map(|mp| clean(&mp))
    });
    let raw: Vec<MultiPolygon<f64>> = raw.into_iter().collect::<Result<_, _>>()?;
    let rects: Vec<Option<Rect<f64>>> = raw.iter().map(|mp| mp.bounding_rect()).collect();

    // Make counties disjoint: each county loses whatever earlier counties (in
    // division order) already cover, so no point can end up in two grids.
    let mut counties: Vec<MultiPolygon<f64>> = parallel_map(raw.len(), None, |i| {
        let mut own = raw[i].clone();
        for j in 0..i {
            if rects_overlap(rects[i], rects[j]) {
                own = own.difference(&raw[j]);
            }
        }
        own
    });
    for (i, county) in counties.iter().enumerate() {
        if county.unsigned_area() <= 0.0 {
            return Err(DemoError::EmptyCounty {
                code: tree.counties[i].code.prefix().to_string(),
                path: paths[i].clone(),
            });
        }
    }
    fill_province_gaps(boundaries_dir, &tree, &mut counties)?;

    // Subdivide, heaviest counties first so two workers finish together.
    let mut schedule: Vec<usize> = (0..counties.len()).collect();
    schedule.sort_by_key(|&i| std::cmp::Reverse(tree.villages_under(tree.counties[i])));
    let done = AtomicU64::new(0);
    let report = |n: u64| progress(done.fetch_add(n, Ordering::Relaxed) + n, total);
    let outputs: Vec<Result<CountyOutput, DemoError>> =
        parallel_map(counties.len(), Some(&schedule), |i| {
            subdivide_county(&tree, tree.counties[i], &counties[i], seed, &report)
        });

    let mut polygons: HashMap<RegionCode, MultiPolygon<f64>> = HashMap::new();
    let mut grids = Vec::with_capacity(tree.village_count() * GRIDS_PER_VILLAGE);
    for (county, (record, output)) in counties.into_iter().zip(tree.counties.iter().zip(outputs)) {
        let output = output?;
        polygons.insert(record.code.clone(), county);
        polygons.extend(output.regions);
        grids.extend(output.grids);
    }
    let regions: Vec<(RegionCode, MultiPolygon<f64>)> = divisions
        .regions
        .iter()
        .filter_map(|r| polygons.remove(&r.code).map(|mp| (r.code.clone(), mp)))
        .collect();
    for (code, mp) in &regions {
        if mp.unsigned_area() <= 0.0 {
            return Err(DemoError::Degenerate(code.to_string()));
        }
    }
    for grid in &grids {
        if grid.geometry.unsigned_area() <= 0.0 {
            return Err(DemoError::Degenerate(grid.code.to_string()));
        }
    }
    progress(total, total);
    Ok(DemoGeography { regions, grids })
}

/// The county → township → village hierarchy, found by code prefix so that it
/// works whether or not the reader filled in `parent`.
struct Tree<'a> {
    counties: Vec<&'a DivisionRecord>,
    children: HashMap<&'a str, Vec<&'a DivisionRecord>>,
}

impl<'a> Tree<'a> {
    fn new(divisions: &'a Divisions) -> Self {
        let mut counties = Vec::new();
        let mut children: HashMap<&str, Vec<&DivisionRecord>> = HashMap::new();
        // A code listed twice would otherwise get two polygons and duplicate
        // grid codes; the first listing wins.
        let mut seen = std::collections::HashSet::new();
        for r in &divisions.regions {
            if !seen.insert(&r.code) {
                continue;
            }
            match r.code.level() {
                Level::County => counties.push(r),
                Level::Township => children.entry(&r.code.as_str()[..6]).or_default().push(r),
                Level::Village => children.entry(&r.code.as_str()[..9]).or_default().push(r),
                Level::Province | Level::City => {}
            }
        }
        Tree { counties, children }
    }

    fn children(&self, region: &DivisionRecord) -> &[&'a DivisionRecord] {
        self.children
            .get(region.code.prefix())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn villages_under(&self, county: &DivisionRecord) -> usize {
        self.children(county)
            .iter()
            .map(|t| self.children(t).len())
            .sum()
    }

    fn village_count(&self) -> usize {
        self.counties.iter().map(|c| self.villages_under(c)).sum()
    }

    /// Counties, townships, villages and grids that will be produced.
    fn total_units(&self) -> u64 {
        let townships: usize = self.counties.iter().map(|c| self.children(c).len()).sum();
        let villages = self.village_count();
        (self.counties.len() + townships + villages * (1 + GRIDS_PER_VILLAGE)) as u64
    }
}

struct CountyOutput {
    /// Township and village polygons.
    regions: Vec<(RegionCode, MultiPolygon<f64>)>,
    grids: Vec<DemoGrid>,
}

fn subdivide_county(
    tree: &Tree<'_>,
    county: &DivisionRecord,
    polygon: &MultiPolygon<f64>,
    seed: u64,
    report: &(dyn Fn(u64) + Sync),
) -> Result<CountyOutput, DemoError> {
    let mut out = CountyOutput {
        regions: Vec::new(),
        grids: Vec::new(),
    };
    let townships = tree.children(county);
    let township_polys = subdivide(
        polygon,
        townships.len(),
        &mut region_rng(seed, &county.code),
    );
    for (township, township_poly) in townships.iter().zip(township_polys) {
        let villages = tree.children(township);
        let village_polys = subdivide(
            &township_poly,
            villages.len(),
            &mut region_rng(seed, &township.code),
        );
        for (village, village_poly) in villages.iter().zip(village_polys) {
            let grid_polys = subdivide(
                &village_poly,
                GRIDS_PER_VILLAGE,
                &mut region_rng(seed, &village.code),
            );
            for (k, geometry) in grid_polys.into_iter().enumerate() {
                out.grids.push(DemoGrid {
                    code: GridCode::parse(&format!("{}{:03}", village.code, k + 1))?,
                    name: format!("{}第{}网格", village.name, k + 1),
                    geometry,
                });
            }
            out.regions.push((village.code.clone(), village_poly));
        }
        out.regions.push((township.code.clone(), township_poly));
        report((1 + villages.len() * (1 + GRIDS_PER_VILLAGE)) as u64);
    }
    report(1);
    Ok(out)
}

/// The random stream for subdividing one region: a function of the caller's
/// seed and the region's code only, hence independent of processing order.
fn region_rng(seed: u64, code: &RegionCode) -> SplitMix64 {
    // FNV-1a over the code, then SplitMix's finaliser to spread the bits.
    let hash = code
        .as_str()
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01B3)
        });
    SplitMix64::new(mix64(seed ^ mix64(hash)))
}

// ---------------------------------------------------------------------------
// Reading boundaries

/// Reads one boundary file and converts it to WGS-84.
fn read_boundary(path: &Path, code: &str) -> Result<MultiPolygon<f64>, DemoError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DemoError::MissingBoundary {
                code: code.to_string(),
                path: path.to_path_buf(),
            }
        } else {
            DemoError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| DemoError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    let mut polygons = Vec::new();
    collect_polygons(&value, &mut polygons).map_err(|message| DemoError::GeoJson {
        path: path.to_path_buf(),
        message,
    })?;
    if polygons.is_empty() {
        return Err(DemoError::GeoJson {
            path: path.to_path_buf(),
            message: "no polygon with at least three distinct corners".into(),
        });
    }
    let mut mp = MultiPolygon(polygons);
    multipolygon_to_wgs84(Crs::Gcj02, &mut mp);
    Ok(mp)
}

/// Accepts a bare (Multi)Polygon geometry, a Feature or a FeatureCollection,
/// since boundary files from different sources wrap their geometry differently.
fn collect_polygons(value: &serde_json::Value, out: &mut Vec<Polygon<f64>>) -> Result<(), String> {
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("object without a \"type\"")?;
    let coords = || {
        value
            .get("coordinates")
            .ok_or(format!("{kind} without coordinates"))
    };
    match kind {
        "FeatureCollection" => {
            let features = value
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or("FeatureCollection without features")?;
            for feature in features {
                collect_polygons(feature, out)?;
            }
        }
        "Feature" => match value.get("geometry") {
            Some(g) if !g.is_null() => collect_polygons(g, out)?,
            _ => {}
        },
        "GeometryCollection" => {
            let geometries = value
                .get("geometries")
                .and_then(|g| g.as_array())
                .ok_or("GeometryCollection without geometries")?;
            for g in geometries {
                collect_polygons(g, out)?;
            }
        }
        "Polygon" => out.extend(parse_polygon(coords()?)?),
        "MultiPolygon" => {
            let polys = coords()?
                .as_array()
                .ok_or("MultiPolygon coordinates are not an array")?;
            for p in polys {
                out.extend(parse_polygon(p)?);
            }
        }
        other => return Err(format!("unsupported geometry type {other:?}")),
    }
    Ok(())
}

/// A polygon from its GeoJSON rings; `None` if the exterior is degenerate.
/// Degenerate holes are dropped rather than refused: they enclose nothing.
fn parse_polygon(value: &serde_json::Value) -> Result<Option<Polygon<f64>>, String> {
    let rings = value.as_array().ok_or("polygon is not an array of rings")?;
    let mut rings = rings.iter().map(parse_ring);
    let Some(exterior) = rings.next().transpose()?.flatten() else {
        return Ok(None);
    };
    let mut holes = Vec::new();
    for ring in rings {
        if let Some(ring) = ring? {
            holes.push(ring);
        }
    }
    Ok(Some(Polygon::new(exterior, holes)))
}

fn parse_ring(value: &serde_json::Value) -> Result<Option<LineString<f64>>, String> {
    let positions = value
        .as_array()
        .ok_or("ring is not an array of positions")?;
    let mut coords: Vec<Coord<f64>> = Vec::with_capacity(positions.len() + 1);
    for p in positions {
        let xy = p.as_array().ok_or("position is not an array")?;
        let (Some(x), Some(y)) = (
            xy.first().and_then(|v| v.as_f64()),
            xy.get(1).and_then(|v| v.as_f64()),
        ) else {
            return Err(format!("position {p} lacks numeric coordinates"));
        };
        if !x.is_finite() || !y.is_finite() {
            return Err(format!("position {p} is not finite"));
        }
        if coords.last() != Some(&Coord { x, y }) {
            coords.push(Coord { x, y });
        }
    }
    if coords.len() > 1 && coords.first() == coords.last() {
        coords.pop();
    }
    if coords.len() < 3 {
        return Ok(None);
    }
    coords.push(coords[0]);
    Ok(Some(LineString(coords)))
}

/// Resolves self-intersections and zero-area spikes, which the overlay engine
/// does when asked for a union with nothing.
fn clean(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    mp.union(&MultiPolygon::<f64>(vec![]))
}

// ---------------------------------------------------------------------------
// Filling the slivers between counties

/// Gives each small piece of a province polygon that no county covers to the
/// nearest county (see [`GAP_REACH`]), so that points in those slivers still
/// find a grid. Provinces without a boundary file are left as their
/// counties' union.
fn fill_province_gaps(
    boundaries_dir: &Path,
    tree: &Tree<'_>,
    counties: &mut [MultiPolygon<f64>],
) -> Result<(), DemoError> {
    let mut provinces: Vec<&str> = tree
        .counties
        .iter()
        .map(|c| &c.code.as_str()[..2])
        .collect();
    provinces.dedup();
    provinces.sort_unstable();
    provinces.dedup();
    for province in provinces {
        let path = boundaries_dir.join(format!("{province}0000.geojson"));
        if !path.exists() {
            continue;
        }
        let outline = clean(&read_boundary(&path, province)?);
        let members: Vec<usize> = (0..counties.len())
            .filter(|&i| tree.counties[i].code.as_str().starts_with(province))
            .collect();
        let covered = geo::unary_union(members.iter().map(|&i| &counties[i]));
        let gaps = outline.difference(&covered);
        let rects: Vec<Option<Rect<f64>>> = counties.iter().map(|c| c.bounding_rect()).collect();
        let mut gifts: HashMap<usize, Vec<Polygon<f64>>> = HashMap::new();
        for piece in gaps.0 {
            let Some(at) = piece.interior_point().or_else(|| piece.centroid()) else {
                continue;
            };
            let at = at.0;
            let nearest = members
                .iter()
                .copied()
                .map(|i| (rect_distance(rects[i], at), i))
                .fold(None::<(f64, usize)>, |best, (lower_bound, i)| match best {
                    Some((d, _)) if lower_bound >= d => best,
                    _ => {
                        let d = boundary_distance(&counties[i], at);
                        match best {
                            Some((bd, _)) if bd <= d => best,
                            _ => Some((d, i)),
                        }
                    }
                });
            match nearest {
                Some((d, i))
                    if d <= GAP_REACH
                        && piece.unsigned_area() <= GAP_SHARE * counties[i].unsigned_area() =>
                {
                    gifts.entry(i).or_default().push(piece)
                }
                _ => {}
            }
        }
        let mut gifts: Vec<(usize, Vec<Polygon<f64>>)> = gifts.into_iter().collect();
        gifts.sort_by_key(|(i, _)| *i);
        let grown: Vec<MultiPolygon<f64>> = parallel_map(gifts.len(), None, |k| {
            let (i, pieces) = &gifts[k];
            counties[*i].union(&MultiPolygon(pieces.clone()))
        });
        for ((i, _), county) in gifts.iter().zip(grown) {
            counties[*i] = county;
        }
    }
    Ok(())
}

/// Distance from `p` to a rectangle (0 inside): a cheap lower bound for the
/// distance to anything inside it.
fn rect_distance(rect: Option<Rect<f64>>, p: Coord<f64>) -> f64 {
    let Some(r) = rect else {
        return f64::INFINITY;
    };
    let dx = (r.min().x - p.x).max(p.x - r.max().x).max(0.0);
    let dy = (r.min().y - p.y).max(p.y - r.max().y).max(0.0);
    dx.hypot(dy)
}

/// Distance from `p` to the nearest edge of `mp`.
fn boundary_distance(mp: &MultiPolygon<f64>, p: Coord<f64>) -> f64 {
    let mut best = f64::INFINITY;
    for ring in
        mp.0.iter()
            .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
    {
        for seg in ring.0.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let (vx, vy) = (b.x - a.x, b.y - a.y);
            let len2 = vx * vx + vy * vy;
            let t = if len2 > 0.0 {
                (((p.x - a.x) * vx + (p.y - a.y) * vy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            best = best.min((a.x + t * vx - p.x).hypot(a.y + t * vy - p.y));
        }
    }
    best
}

fn rects_overlap(a: Option<Rect<f64>>, b: Option<Rect<f64>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.min().x <= b.max().x
                && b.min().x <= a.max().x
                && a.min().y <= b.max().y
                && b.min().y <= a.max().y
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Subdivision

/// Splits `parent` into `n` non-empty pieces that cover it exactly and do not
/// overlap: clipped Voronoi cells of `n` well-spaced seeds inside it.
fn subdivide(parent: &MultiPolygon<f64>, n: usize, rng: &mut SplitMix64) -> Vec<MultiPolygon<f64>> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![parent.clone()];
    }
    let Some(bbox) = parent.bounding_rect() else {
        return vec![MultiPolygon(vec![]); n];
    };
    let shape = Shape::new(parent, bbox);
    let mut seeds = shape.place_seeds(n, rng);
    let mut children = shape.clip_cells(&seeds);
    for _ in 0..LLOYD_ROUNDS {
        // Lloyd relaxation: a seed moves to its cell's centroid when that lies
        // inside the parent (a seed outside could leave its cell empty).
        for (seed, child) in seeds.iter_mut().zip(&children) {
            if let Some(c) = child.centroid() {
                if shape.contains(c.0) {
                    *seed = c.0;
                }
            }
        }
        children = shape.clip_cells(&seeds);
    }
    fill_empty_children(&mut children);
    children
}

/// A parent polygon prepared for sampling and clipping.
struct Shape<'a> {
    parent: &'a MultiPolygon<f64>,
    parts: Vec<Rect<f64>>,
    bbox: Rect<f64>,
    /// Squared length of a degree of longitude relative to one of latitude, so
    /// that cells are round on the ground rather than in degrees.
    kx2: f64,
}

impl<'a> Shape<'a> {
    fn new(parent: &'a MultiPolygon<f64>, bbox: Rect<f64>) -> Self {
        let parts = parent
            .0
            .iter()
            .map(|p| p.bounding_rect().unwrap_or(bbox))
            .collect();
        let mid_lat = ((bbox.min().y + bbox.max().y) / 2.0).to_radians();
        let kx = mid_lat.cos().clamp(0.1, 1.0);
        Shape {
            parent,
            parts,
            bbox,
            kx2: kx * kx,
        }
    }

    /// Sorted x coordinates where the horizontal line at `y` crosses the
    /// parent's rings (half-open rule, so vertices count once); consecutive
    /// pairs bound the inside.
    fn crossings(&self, y: f64, xs: &mut Vec<f64>) {
        xs.clear();
        for (poly, rect) in self.parent.0.iter().zip(&self.parts) {
            if y < rect.min().y || y > rect.max().y {
                continue;
            }
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for seg in ring.0.windows(2) {
                    let (a, b) = (seg[0], seg[1]);
                    if (a.y > y) != (b.y > y) {
                        xs.push(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y));
                    }
                }
            }
        }
        xs.sort_by(f64::total_cmp);
    }

    fn contains(&self, p: Coord<f64>) -> bool {
        let mut xs = Vec::new();
        self.crossings(p.y, &mut xs);
        xs.iter().filter(|&&x| x < p.x).count() % 2 == 1
    }

    /// A random point inside the parent: rejection sampling in the bounding
    /// box, falling back to a uniform point on the inside part of a random
    /// scanline, which cannot miss however thin or scattered the parent is.
    fn sample(&self, rng: &mut SplitMix64, xs: &mut Vec<f64>) -> Option<Coord<f64>> {
        let (min, max) = (self.bbox.min(), self.bbox.max());
        for attempt in 0..64 {
            let y = rng.range_f64(min.y, max.y);
            self.crossings(y, xs);
            if xs.len() < 2 {
                continue;
            }
            let x = rng.range_f64(min.x, max.x);
            if xs.iter().filter(|&&c| c < x).count() % 2 == 1 {
                return Some(Coord { x, y });
            }
            if attempt >= 8 {
                let inside: f64 = xs.chunks_exact(2).map(|w| w[1] - w[0]).sum();
                if inside > 0.0 {
                    let mut t = rng.range_f64(0.0, inside);
                    for w in xs.chunks_exact(2) {
                        let len = w[1] - w[0];
                        if t < len {
                            return Some(Coord { x: w[0] + t, y });
                        }
                        t -= len;
                    }
                }
            }
        }
        None
    }

    fn dist2(&self, a: Coord<f64>, b: Coord<f64>) -> f64 {
        let (dx, dy) = (a.x - b.x, a.y - b.y);
        self.kx2 * dx * dx + dy * dy
    }

    /// `n` seeds inside the parent by Mitchell's best-candidate sampling: each
    /// seed is the candidate farthest from the seeds so far, which spaces them
    /// evenly without any global optimisation.
    fn place_seeds(&self, n: usize, rng: &mut SplitMix64) -> Vec<Coord<f64>> {
        let fallback = self
            .parent
            .interior_point()
            .map(|p| p.0)
            .unwrap_or_else(|| self.bbox.center());
        let mut xs = Vec::new();
        let mut seeds: Vec<Coord<f64>> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut best: Option<(f64, Coord<f64>)> = None;
            for _ in 0..SEED_CANDIDATES {
                let Some(c) = self.sample(rng, &mut xs) else {
                    continue;
                };
                let d = seeds
                    .iter()
                    .map(|s| self.dist2(*s, c))
                    .fold(f64::INFINITY, f64::min);
                if best.is_none_or(|(bd, _)| d > bd) {
                    best = Some((d, c));
                }
            }
            // Only a parent with no area fails every sample; duplicate seeds
            // are tolerated (see `voronoi_cell`) and repaired afterwards.
            seeds.push(best.map(|(_, c)| c).unwrap_or(fallback));
        }
        seeds
    }

    /// Every seed's Voronoi cell intersected with the parent.
    fn clip_cells(&self, seeds: &[Coord<f64>]) -> Vec<MultiPolygon<f64>> {
        // The frame must strictly contain the parent so the cells cover all of it.
        let margin_x = (self.bbox.width() * 0.01).max(1e-9);
        let margin_y = (self.bbox.height() * 0.01).max(1e-9);
        let frame = [
            Coord {
                x: self.bbox.min().x - margin_x,
                y: self.bbox.min().y - margin_y,
            },
            Coord {
                x: self.bbox.max().x + margin_x,
                y: self.bbox.min().y - margin_y,
            },
            Coord {
                x: self.bbox.max().x + margin_x,
                y: self.bbox.max().y + margin_y,
            },
            Coord {
                x: self.bbox.min().x - margin_x,
                y: self.bbox.max().y + margin_y,
            },
        ];
        (0..seeds.len())
            .map(|i| {
                let cell = self.voronoi_cell(i, seeds, &frame);
                if cell.len() < 3 {
                    return MultiPolygon(vec![]);
                }
                self.clip_to_parent(cell)
            })
            .collect()
    }

    /// Seed `i`'s Voronoi cell within `frame`, by clipping the frame with the
    /// perpendicular bisector of every other seed, nearest first. Of two
    /// identical seeds the later one gets nothing, so cells never overlap.
    fn voronoi_cell(
        &self,
        i: usize,
        seeds: &[Coord<f64>],
        frame: &[Coord<f64>; 4],
    ) -> Vec<Coord<f64>> {
        let s = seeds[i];
        let mut others: Vec<(f64, usize)> = seeds
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, t)| (self.dist2(s, *t), j))
            .collect();
        others.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut cell: Vec<Coord<f64>> = frame.to_vec();
        let mut next = Vec::with_capacity(16);
        for (d2, j) in others {
            let t = seeds[j];
            if t == s {
                if j < i {
                    return Vec::new();
                }
                continue;
            }
            // A bisector can only cut the cell if the other seed is closer than
            // twice the cell's radius; seeds are sorted, so stop at the first
            // that is not.
            let radius2 = cell.iter().map(|c| self.dist2(s, *c)).fold(0.0, f64::max);
            if d2 >= 4.0 * radius2 {
                break;
            }
            // Keep the side nearer to s: n·p <= n·m with n = W(t - s).
            let (nx, ny) = (self.kx2 * (t.x - s.x), t.y - s.y);
            let (mx, my) = ((s.x + t.x) / 2.0, (s.y + t.y) / 2.0);
            let limit = nx * mx + ny * my;
            next.clear();
            for k in 0..cell.len() {
                let a = cell[k];
                let b = cell[(k + 1) % cell.len()];
                let da = nx * a.x + ny * a.y - limit;
                let db = nx * b.x + ny * b.y - limit;
                if da <= 0.0 {
                    next.push(a);
                }
                if (da <= 0.0) != (db <= 0.0) {
                    let f = da / (da - db);
                    next.push(Coord {
                        x: a.x + f * (b.x - a.x),
                        y: a.y + f * (b.y - a.y),
                    });
                }
            }
            std::mem::swap(&mut cell, &mut next);
            if cell.len() < 3 {
                return Vec::new();
            }
        }
        cell
    }

    /// The part of the parent inside a convex cell. Parts of the parent whose
    /// boxes miss the cell are left out of the overlay: far-off islands cost
    /// nothing.
    fn clip_to_parent(&self, mut cell: Vec<Coord<f64>>) -> MultiPolygon<f64> {
        let (mut lo, mut hi) = (cell[0], cell[0]);
        for c in &cell {
            lo = Coord {
                x: lo.x.min(c.x),
                y: lo.y.min(c.y),
            };
            hi = Coord {
                x: hi.x.max(c.x),
                y: hi.y.max(c.y),
            };
        }
        let near: Vec<Polygon<f64>> = self
            .parent
            .0
            .iter()
            .zip(&self.parts)
            .filter(|(_, r)| {
                r.min().x <= hi.x && lo.x <= r.max().x && r.min().y <= hi.y && lo.y <= r.max().y
            })
            .map(|(p, _)| p.clone())
            .collect();
        if near.is_empty() {
            return MultiPolygon(vec![]);
        }
        cell.push(cell[0]);
        let cell = Polygon::new(LineString(cell), vec![]);
        MultiPolygon(near).intersection(&cell)
    }
}

/// Gives every child left without area (its seed's cell missed the parent
/// after rounding, or two seeds coincided) half of the largest sibling, cut
/// through that sibling's centroid; the halves still tile the sibling, so the
/// children still tile the parent.
fn fill_empty_children(children: &mut [MultiPolygon<f64>]) {
    let areas: Vec<f64> = children.iter().map(|c| c.unsigned_area()).collect();
    let mut areas = areas;
    for i in 0..children.len() {
        if areas[i] > 0.0 {
            continue;
        }
        let Some(big) = (0..children.len())
            .filter(|&k| areas[k] > 0.0)
            .max_by(|&a, &b| areas[a].total_cmp(&areas[b]).then(b.cmp(&a)))
        else {
            return;
        };
        if let Some((keep, give)) = halve(&children[big]) {
            areas[big] = keep.unsigned_area();
            areas[i] = give.unsigned_area();
            children[big] = keep;
            children[i] = give;
        }
    }
}

/// Cuts a polygon in two through its centroid, across its longer side first.
fn halve(mp: &MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, MultiPolygon<f64>)> {
    let bbox = mp.bounding_rect()?;
    let c = mp.centroid()?.0;
    let (min, max) = (bbox.min(), bbox.max());
    let pad = (bbox.width() + bbox.height()).max(1e-9);
    let rect = |x0: f64, y0: f64, x1: f64, y1: f64| {
        Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }).to_polygon()
    };
    let cuts = if bbox.width() >= bbox.height() {
        [true, false]
    } else {
        [false, true]
    };
    for vertical in cuts {
        let (a, b) = if vertical {
            (
                rect(min.x - pad, min.y - pad, c.x, max.y + pad),
                rect(c.x, min.y - pad, max.x + pad, max.y + pad),
            )
        } else {
            (
                rect(min.x - pad, min.y - pad, max.x + pad, c.y),
                rect(min.x - pad, c.y, max.x + pad, max.y + pad),
            )
        };
        let (a, b) = (mp.intersection(&a), mp.intersection(&b));
        if a.unsigned_area() > 0.0 && b.unsigned_area() > 0.0 {
            return Some(if a.unsigned_area() >= b.unsigned_area() {
                (a, b)
            } else {
                (b, a)
            });
        }
    }
    None
}

// ---------------------------------------------------------------------------

/// Runs `f(i)` for `i in 0..n` on all cores and returns the results in index
/// order. `schedule` is the order work is handed out in (heaviest first helps
/// the last worker not to finish alone); results never depend on it.
fn parallel_map<R: Send>(
    n: usize,
    schedule: Option<&[usize]>,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(n)
        .max(1);
    let next = AtomicUsize::new(0);
    let pick = |k: usize| schedule.and_then(|s| s.get(k).copied()).unwrap_or(k);
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= n {
                            break done;
                        }
                        let i = pick(k);
                        done.push((i, f(i)));
                    }
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, r) in done {
                        slots[i] = Some(r);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Intersects;

    fn square(x0: f64, y0: f64, size: f64) -> Polygon<f64> {
        Rect::new(
            Coord { x: x0, y: y0 },
            Coord {
                x: x0 + size,
                y: y0 + size,
            },
        )
        .to_polygon()
    }

    #[test]
    fn subdivision_tiles_parent_with_islands() {
        // A main square, a far island and a tiny island: all must be covered.
        let parent = MultiPolygon(vec![
            square(120.0, 30.0, 0.2),
            square(120.5, 30.5, 0.01),
            square(120.3, 29.9, 0.0005),
        ]);
        let mut rng = SplitMix64::new(5);
        let children = subdivide(&parent, 12, &mut rng);
        assert_eq!(children.len(), 12);
        let total: f64 = children.iter().map(|c| c.unsigned_area()).sum();
        assert!((total - parent.unsigned_area()).abs() < 1e-9 * parent.unsigned_area());
        for (a, ca) in children.iter().enumerate() {
            assert!(ca.unsigned_area() > 0.0);
            for cb in &children[a + 1..] {
                // Each clip snaps to its own integer grid (~1e-9 of the
                // parent's size), so shared borders may disagree by that much.
                let overlap = ca.intersection(cb).unsigned_area();
                assert!(overlap < 1e-7 * ca.unsigned_area().min(cb.unsigned_area()));
            }
        }
        for p in [(120.505, 30.505), (120.30025, 29.90025), (120.1, 30.1)] {
            let hits = children
                .iter()
                .filter(|c| c.intersects(&geo::Point::new(p.0, p.1)))
                .count();
            assert_eq!(hits, 1, "{p:?}");
        }
    }

    #[test]
    fn duplicate_seeds_and_empty_cells_are_repaired() {
        let parent = MultiPolygon(vec![square(0.0, 0.0, 1.0)]);
        let shape = Shape::new(&parent, parent.bounding_rect().unwrap());
        let s = Coord { x: 0.5, y: 0.5 };
        let mut children = shape.clip_cells(&[s, s, Coord { x: 0.2, y: 0.2 }]);
        assert_eq!(children[1].unsigned_area(), 0.0);
        fill_empty_children(&mut children);
        let total: f64 = children.iter().map(|c| c.unsigned_area()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(children.iter().all(|c| c.unsigned_area() > 0.0));
    }

    #[test]
    fn geojson_wrappers_and_bad_files() {
        let feature = serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
        });
        let mut out = Vec::new();
        collect_polygons(&feature, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].exterior().0.len(), 4);
        let bad = serde_json::json!({"type": "Point", "coordinates": [0, 0]});
        assert!(collect_polygons(&bad, &mut out).is_err());
        let bad = serde_json::json!({"type": "Polygon", "coordinates": [[[0, "x"]]]});
        assert!(collect_polygons(&bad, &mut out).is_err());
    }
}

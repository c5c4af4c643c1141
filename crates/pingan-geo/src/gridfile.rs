//! Grid GeoJSON import and export.
//!
//! Grid boundaries (网格边界) are drawn by county or township staff in whatever
//! GIS tool they have and arrive as a GeoJSON `FeatureCollection` of Polygon or
//! MultiPolygon features with `properties.code` (the 15-digit grid code) and
//! `properties.name`. A bad boundary silently misroutes every event reported
//! near it, so an import is all-or-nothing and the file is checked as a whole:
//! every problem of every feature is reported at once, so that the person fixing
//! the file does not have to re-upload it once per mistake.
//!
//! The file is parsed with `serde_json::Value` (no GeoJSON crate: the subset
//! used here is small, and precise error messages matter more than generality).
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon, Validation};
use pingan_domain::GridCode;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde_json::Value;

use crate::crs::{to_wgs84, Crs};
use crate::geometry::bbox;
use crate::index::LocateIndex;

/// Two grids may share area up to this many square metres before the import
/// calls it an overlap (see also [`OVERLAP_MIN_WIDTH_M`]).
///
/// Neighbouring grids are meant to share borders exactly; one square metre is
/// far below anything in which a reported position could meaningfully fall
/// (phone positions are good to a few metres), yet catches any real mistake.
pub const OVERLAP_TOLERANCE_M2: f64 = 1.0;

/// An overlap whose mean width (twice its area over its perimeter) is below
/// this is a sliver and is ignored whatever its area.
///
/// Boundaries digitised separately, converted between coordinate systems or
/// rounded to the 7 decimals of an export differ by millimetres to centimetres
/// along a shared border; along a 5 km rural border that is several square
/// metres, so an area threshold alone would refuse re-imports of unchanged
/// data. A real overlap is metres wide.
pub const OVERLAP_MIN_WIDTH_M: f64 = 0.1;

/// Most vertices one grid may have.
///
/// Hand-drawn grid boundaries have tens to a few thousand vertices; the cap
/// keeps the validity check (quadratic in the vertex count) from letting one
/// malformed or hostile feature stall an import.
pub const MAX_VERTICES_PER_GRID: usize = 10_000;

/// Mean Earth radius (m), for converting small areas in degrees² to m².
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A grid read from a file, with its geometry converted to WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFeature {
    pub code: GridCode,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

/// Something wrong with one feature of a grid file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureProblem {
    /// Position of the feature in the file's `features` array, from 0.
    pub index: usize,
    /// The feature's code as written, if it had one, to help find it.
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for FeatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(
                f,
                "feature {} (code {}): {}",
                self.index, code, self.message
            ),
            None => write!(f, "feature {}: {}", self.index, self.message),
        }
    }
}

/// Why a grid file was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridFileError {
    #[error("the grid file is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "the grid file is not a GeoJSON FeatureCollection \
         (expected {{\"type\": \"FeatureCollection\", \"features\": [...]}})"
    )]
    NotFeatureCollection,
    #[error("{}", problem_lines(.0))]
    Features(Vec<FeatureProblem>),
}

fn problem_lines(problems: &[FeatureProblem]) -> String {
    let mut out = format!(
        "the grid file has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push('\n');
        out.push_str(&p.to_string());
    }
    out
}

/// Reads a grid FeatureCollection whose coordinates are in `crs`, checking it
/// completely (see the module documentation). Returns the features in file
/// order, geometries converted to WGS-84.
pub fn parse_grid_collection(text: &str, crs: Crs) -> Result<Vec<GridFeature>, GridFileError> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let mut message = e.to_string();
        // serde_json appends the position, which is reported separately.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        GridFileError::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    })?;
    let features = match (
        root.get("type").and_then(Value::as_str),
        root.get("features"),
    ) {
        (Some("FeatureCollection"), Some(Value::Array(features))) => features,
        _ => return Err(GridFileError::NotFeatureCollection),
    };

    let mut problems = Vec::new();
    // Features whose geometry is usable, for the overlap check, even if the
    // feature has other problems: reporting overlaps now saves a round trip.
    let mut shapes: Vec<(usize, Option<String>, MultiPolygon<f64>)> = Vec::new();
    let mut parsed: Vec<Option<GridFeature>> = Vec::with_capacity(features.len());
    let mut first_use: HashMap<GridCode, usize> = HashMap::new();

    for (index, feature) in features.iter().enumerate() {
        let raw_code = raw_code(feature);
        let mut report = |message: String| {
            problems.push(FeatureProblem {
                index,
                code: raw_code.clone(),
                message,
            });
        };
        if feature.get("type").and_then(Value::as_str) != Some("Feature") {
            report("is not a GeoJSON Feature object".to_string());
            parsed.push(None);
            continue;
        }
        let properties = feature.get("properties").filter(|p| !p.is_null());
        if properties.is_some_and(|p| !p.is_object()) {
            report("properties must be an object".to_string());
        }

        let code = match (&raw_code, properties.and_then(|p| p.get("code"))) {
            (Some(raw), _) => match GridCode::parse(raw) {
                Ok(code) => {
                    if let Some(&first) = first_use.get(&code) {
                        report(format!("code is already used by feature {first}"));
                        None
                    } else {
                        first_use.insert(code.clone(), index);
                        Some(code)
                    }
                }
                Err(e) => {
                    report(format!("bad code: {e}"));
                    None
                }
            },
            (None, None | Some(Value::Null)) => {
                report("properties.code is missing".to_string());
                None
            }
            (None, Some(_)) => {
                report("properties.code must be a string of 15 digits".to_string());
                None
            }
        };

        let name = match properties.and_then(|p| p.get("name")) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::String(_)) => {
                report("properties.name is empty".to_string());
                None
            }
            None | Some(Value::Null) => {
                report("properties.name is missing".to_string());
                None
            }
            Some(_) => {
                report("properties.name must be a string".to_string());
                None
            }
        };

        let geometry = match read_geometry(feature.get("geometry"), crs) {
            Ok(mp) if vertex_count(&mp) > MAX_VERTICES_PER_GRID => {
                report(format!(
                    "geometry has {} vertices; at most {MAX_VERTICES_PER_GRID} are supported",
                    vertex_count(&mp)
                ));
                None
            }
            Ok(mp) => {
                let errors = mp.validation_errors();
                if errors.is_empty() {
                    Some(mp)
                } else {
                    for e in errors {
                        report(format!("invalid geometry: {e}"));
                    }
                    None
                }
            }
            Err(messages) => {
                for m in messages {
                    report(m);
                }
                None
            }
        };

        if let Some(mp) = &geometry {
            shapes.push((index, raw_code.clone(), mp.clone()));
        }
        parsed.push(match (code, name, geometry) {
            (Some(code), Some(name), Some(geometry)) => Some(GridFeature {
                code,
                name,
                geometry,
            }),
            _ => None,
        });
    }

    problems.extend(overlaps_within(&shapes));
    if problems.is_empty() {
        Ok(parsed.into_iter().flatten().collect())
    } else {
        problems.sort_by_key(|p| p.index);
        Err(GridFileError::Features(problems))
    }
}

fn vertex_count(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.len())
        .sum()
}

/// The code as written, for messages: a string, or an integer (spreadsheets
/// and some GIS tools turn 15-digit codes into numbers, which is harmless as
/// grid codes never start with 0 and fit exactly in a double).
fn raw_code(feature: &Value) -> Option<String> {
    match feature.get("properties")?.get("code")? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// Reads a Polygon or MultiPolygon geometry, converting it to WGS-84, or
/// returns every structural problem found.
fn read_geometry(geometry: Option<&Value>, crs: Crs) -> Result<MultiPolygon<f64>, Vec<String>> {
    let geometry = match geometry {
        None | Some(Value::Null) => return Err(vec!["has no geometry".to_string()]),
        Some(g) => g,
    };
    let coordinates = geometry.get("coordinates");
    let polygons: Vec<&Value> = match (geometry.get("type").and_then(Value::as_str), coordinates) {
        (Some("Polygon"), Some(c)) => vec![c],
        (Some("MultiPolygon"), Some(Value::Array(ps))) => ps.iter().collect(),
        (Some("Polygon" | "MultiPolygon"), _) => {
            return Err(vec![
                "geometry coordinates are missing or not an array".to_string()
            ])
        }
        (Some(other), _) => {
            return Err(vec![format!(
                "geometry type {other:?} is not Polygon or MultiPolygon"
            )])
        }
        (None, _) => return Err(vec!["geometry has no type".to_string()]),
    };
    if polygons.is_empty() {
        return Err(vec!["geometry has no polygons".to_string()]);
    }
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(polygons.len());
    for (p, polygon) in polygons.into_iter().enumerate() {
        let Some(rings) = polygon.as_array() else {
            problems.push(format!("polygon {p} is not an array of rings"));
            continue;
        };
        if rings.is_empty() {
            problems.push(format!("polygon {p} has no rings"));
            continue;
        }
        let mut read = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            match read_ring(ring, crs) {
                Ok(ls) => read.push(ls),
                Err(message) => problems.push(format!("ring {r} of polygon {p} {message}")),
            }
        }
        if read.len() == rings.len() {
            let mut read = read.into_iter();
            if let Some(exterior) = read.next() {
                out.push(Polygon::new(exterior, read.collect()));
            }
        }
    }
    if problems.is_empty() {
        Ok(MultiPolygon(out))
    } else {
        Err(problems)
    }
}

/// Reads one ring; the error completes "ring R of polygon P …".
fn read_ring(ring: &Value, crs: Crs) -> Result<LineString<f64>, String> {
    let positions = ring
        .as_array()
        .ok_or_else(|| "is not an array of positions".to_string())?;
    let mut coords = Vec::with_capacity(positions.len());
    for (i, position) in positions.iter().enumerate() {
        let pair = position.as_array().and_then(|a| match a.as_slice() {
            [x, y, ..] => Some((x.as_f64()?, y.as_f64()?)),
            _ => None,
        });
        let Some((lng, lat)) = pair else {
            return Err(format!(
                "has a position {i} that is not [longitude, latitude]"
            ));
        };
        if !(lng.is_finite() && lat.is_finite()) {
            return Err(format!("has a non-finite coordinate at position {i}"));
        }
        if !(-180.0..=180.0).contains(&lng) || !(-90.0..=90.0).contains(&lat) {
            return Err(format!(
                "has an out-of-range coordinate at position {i} ({lng}, {lat}); \
                 expected longitude, latitude in degrees"
            ));
        }
        coords.push((lng, lat));
    }
    if coords.len() < 4 {
        return Err(format!(
            "has {} positions; a closed ring needs at least 4",
            coords.len()
        ));
    }
    if coords.first() != coords.last() {
        return Err("is not closed".to_string());
    }
    Ok(LineString(
        coords
            .into_iter()
            .map(|(lng, lat)| {
                let (x, y) = to_wgs84(crs, lng, lat);
                Coord { x, y }
            })
            .collect(),
    ))
}

/// Metres per degree of latitude (and of longitude at the equator).
fn m_per_deg() -> f64 {
    EARTH_RADIUS_M.to_radians()
}

/// Approximate area (m²) and perimeter (m) of a small geometry given in
/// degrees: an equirectangular projection at its mean latitude, accurate to a
/// fraction of a percent at grid scale, which is all a tolerance test needs.
fn area_and_perimeter_m(mp: &MultiPolygon<f64>) -> (f64, f64) {
    let Some(b) = bbox(mp) else { return (0.0, 0.0) };
    let k = m_per_deg();
    let cos = ((b[1] + b[3]) / 2.0).to_radians().cos();
    let perimeter: f64 =
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.windows(2))
            .map(|w| ((w[1].x - w[0].x) * k * cos).hypot((w[1].y - w[0].y) * k))
            .sum();
    (mp.unsigned_area() * k * k * cos, perimeter)
}

/// The area two grids share, in m², if it counts as an overlap: more than
/// [`OVERLAP_TOLERANCE_M2`] and wider on average than [`OVERLAP_MIN_WIDTH_M`].
fn overlap_m2(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Option<f64> {
    let (ba, bb) = (bbox(a)?, bbox(b)?);
    let common = [
        ba[0].max(bb[0]),
        ba[1].max(bb[1]),
        ba[2].min(bb[2]),
        ba[3].min(bb[3]),
    ];
    // Envelopes that merely touch, or share less than the tolerance, cannot
    // hold a counted overlap.
    if common[0] >= common[2] || common[1] >= common[3] {
        return None;
    }
    let k = m_per_deg();
    let cos = ((common[1] + common[3]) / 2.0).to_radians().cos();
    if (common[2] - common[0]) * k * cos * (common[3] - common[1]) * k <= OVERLAP_TOLERANCE_M2 {
        return None;
    }
    let (area, perimeter) = area_and_perimeter_m(&a.intersection(b));
    (area > OVERLAP_TOLERANCE_M2 && 2.0 * area > OVERLAP_MIN_WIDTH_M * perimeter).then_some(area)
}

/// Overlaps between features of the same file, reported on the later one.
///
/// An R-tree of envelopes limits exact intersections to pairs of neighbours,
/// so a file of 100 000 grids costs a few hundred thousand polygon
/// intersections rather than five billion.
fn overlaps_within(shapes: &[(usize, Option<String>, MultiPolygon<f64>)]) -> Vec<FeatureProblem> {
    let tree = RTree::bulk_load(
        shapes
            .iter()
            .enumerate()
            .filter_map(|(k, (_, _, mp))| {
                let b = bbox(mp)?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                    k,
                ))
            })
            .collect(),
    );
    in_parallel(shapes.len(), |range| {
        let mut problems = Vec::new();
        for k in range {
            let (index, code, mp) = &shapes[k];
            let Some(b) = bbox(mp) else { continue };
            let envelope = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
            let mut earlier: Vec<usize> = tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|e| e.data)
                .filter(|&j| j < k)
                .collect();
            earlier.sort_unstable();
            for j in earlier {
                let (other_index, other_code, other) = &shapes[j];
                if let Some(area) = overlap_m2(mp, other) {
                    let other = match other_code {
                        Some(c) => format!("feature {other_index} (code {c})"),
                        None => format!("feature {other_index}"),
                    };
                    problems.push(FeatureProblem {
                        index: *index,
                        code: code.clone(),
                        message: format!("overlaps {other} by about {area:.1} m²"),
                    });
                }
            }
        }
        problems
    })
}

/// Runs `work` over `0..n` split into contiguous chunks on the available
/// cores and concatenates the results in order.
///
/// Polygon intersection dominates an import's validation (about half a
/// million of them for 100 000 grids) and parallelises perfectly.
fn in_parallel<T: Send>(
    n: usize,
    work: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n / 512 + 1);
    if threads <= 1 {
        return work(0..n);
    }
    let chunk = n.div_ceil(threads);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || work(t * chunk..((t + 1) * chunk).min(n))))
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug (geo or here); re-raise it.
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Overlaps of new features (as returned by [`parse_grid_collection`]; `index`
/// is the position in `features`) with grids already in `existing`.
///
/// Existing grids whose code appears anywhere in `features` are ignored: the
/// import replaces them, so their old boundaries no longer matter.
pub fn find_overlaps_with(features: &[GridFeature], existing: &LocateIndex) -> Vec<FeatureProblem> {
    let replaced: HashSet<&GridCode> = features.iter().map(|f| &f.code).collect();
    in_parallel(features.len(), |range| {
        let mut problems = Vec::new();
        for index in range {
            let feature = &features[index];
            let Some(b) = bbox(&feature.geometry) else {
                continue;
            };
            let mut hits: Vec<(&GridCode, f64)> = existing
                .intersecting_candidates(b)
                .filter(|(code, _)| !replaced.contains(code))
                .filter_map(|(code, mp)| Some((code, overlap_m2(&feature.geometry, mp)?)))
                .collect();
            hits.sort_by(|a, b| a.0.cmp(b.0));
            for (code, area) in hits {
                problems.push(FeatureProblem {
                    index,
                    code: Some(feature.code.to_string()),
                    message: format!("overlaps existing grid {code} by about {area:.1} m²"),
                });
            }
        }
        problems
    })
}

/// Writes grids as a GeoJSON FeatureCollection of MultiPolygons in WGS-84,
/// one feature per line, coordinates with 7 decimals (about 1 cm).
///
/// Streams as it goes, so exporting a whole province does not build the
/// document in memory. Refuses non-finite coordinates rather than writing
/// invalid JSON.
pub fn write_grid_collection<'a, W: Write>(
    out: W,
    grids: impl Iterator<Item = (&'a str, &'a str, &'a MultiPolygon<f64>)>,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
    for (i, (code, name, mp)) in grids.enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n{\"type\":\"Feature\",\"properties\":{\"code\":")?;
        serde_json::to_writer(&mut w, code)?;
        w.write_all(b",\"name\":")?;
        serde_json::to_writer(&mut w, name)?;
        w.write_all(b"},\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[")?;
        for (p, polygon) in mp.0.iter().enumerate() {
            if p > 0 {
                w.write_all(b",")?;
            }
            w.write_all(b"[")?;
            for (r, ring) in std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .enumerate()
            {
                if r > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(b"[")?;
                for (k, c) in ring.0.iter().enumerate() {
                    if !(c.x.is_finite() && c.y.is_finite()) {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("grid {code} has a non-finite coordinate"),
                        ));
                    }
                    if k > 0 {
                        w.write_all(b",")?;
                    }
                    write!(w, "[{:.7},{:.7}]", c.x, c.y)?;
                }
                w.write_all(b"]")?;
            }
            w.write_all(b"]")?;
        }
        w.write_all(b"]}}")?;
    }
    w.write_all(b"\n]}\n")?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crs::from_wgs84;

    const A: &str = "330102001001001";
    const B: &str = "330102001001002";
    const C: &str = "330102001001003";

    /// A square grid feature at (x, y) of side `s` degrees.
    fn square(code: &str, name: &str, x: f64, y: f64, s: f64) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"code":"{code}","name":{name}}},
               "geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{x1},{y}],[{x1},{y1}],[{x},{y1}],[{x},{y}]]]}}}}"#,
            name = serde_json::to_string(name).unwrap(),
            x1 = x + s,
            y1 = y + s
        )
    }

    fn collection(features: &[String]) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        )
    }

    fn problems(text: &str) -> Vec<FeatureProblem> {
        match parse_grid_collection(text, Crs::Wgs84) {
            Err(GridFileError::Features(p)) => p,
            other => panic!("expected feature problems, got {other:?}"),
        }
    }

    fn feature_with_geometry(code: &str, geometry: &str) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{"code":"{code}","name":"x"}},"geometry":{geometry}}}"#
        )
    }

    #[test]
    fn reads_a_good_file() {
        let text = collection(&[
            square(A, "一网格", 120.10, 30.20, 0.01),
            square(B, "二网格", 120.11, 30.20, 0.01),
            format!(
                r#"{{"type":"Feature","properties":{{"code":{C},"name":" 三网格 ","extra":1}},
                   "geometry":{{"type":"MultiPolygon","coordinates":[
                     [[[120.12,30.20],[120.13,30.20],[120.13,30.21],[120.12,30.21],[120.12,30.20]],
                      [[120.122,30.202],[120.122,30.204],[120.124,30.204],[120.122,30.202]]],
                     [[[120.14,30.20],[120.15,30.20],[120.15,30.21],[120.14,30.20]]]]}}}}"#
            ),
        ]);
        let features = parse_grid_collection(&text, Crs::Wgs84).unwrap();
        assert_eq!(features.len(), 3);
        assert_eq!(features[0].code.as_str(), A);
        assert_eq!(features[0].name, "一网格");
        assert_eq!(features[2].code.as_str(), C);
        assert_eq!(features[2].name, "三网格");
        assert_eq!(features[2].geometry.0.len(), 2);
        assert_eq!(features[2].geometry.0[0].interiors().len(), 1);
    }

    #[test]
    fn converts_gcj02_to_wgs84() {
        let (x, y) = from_wgs84(Crs::Gcj02, 120.10, 30.20);
        let text = collection(&[square(A, "a", x, y, 0.01)]);
        let features = parse_grid_collection(&text, Crs::Gcj02).unwrap();
        let c = features[0].geometry.0[0].exterior().0[0];
        assert!(
            (c.x - 120.10).abs() < 1e-7 && (c.y - 30.20).abs() < 1e-7,
            "{c:?}"
        );
    }

    #[test]
    fn json_errors_have_a_position() {
        let err = parse_grid_collection(
            "{\"type\": \"FeatureCollection\",\n \"features\": [}",
            Crs::Wgs84,
        )
        .unwrap_err();
        match &err {
            GridFileError::Json {
                line,
                column,
                message,
            } => {
                assert_eq!(*line, 2);
                assert!(*column > 0);
                assert!(!message.contains("at line"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("line 2"));
    }

    #[test]
    fn refuses_other_documents() {
        for text in [
            r#"[]"#,
            r#"{"type":"Feature","features":[]}"#,
            r#"{"type":"FeatureCollection"}"#,
            r#"{"type":"FeatureCollection","features":{}}"#,
        ] {
            assert_eq!(
                parse_grid_collection(text, Crs::Wgs84),
                Err(GridFileError::NotFeatureCollection),
                "{text}"
            );
        }
        assert_eq!(
            parse_grid_collection(r#"{"type":"FeatureCollection","features":[]}"#, Crs::Wgs84),
            Ok(vec![])
        );
    }

    #[test]
    fn reports_every_problem_of_every_feature() {
        let text = collection(&[
            // 0: fine
            square(A, "ok", 120.0, 30.0, 0.01),
            // 1: bad code and empty name
            square("3301020010010", " ", 121.0, 30.0, 0.01),
            // 2: missing code and name
            r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[122,30],[122.01,30],[122.01,30.01],[122,30]]]}}"#.to_string(),
            // 3: duplicate of feature 0
            square(A, "dup", 123.0, 30.0, 0.01),
            // 4: wrong geometry type
            feature_with_geometry(B, r#"{"type":"Point","coordinates":[120,30]}"#),
            // 5: too few positions
            feature_with_geometry(C, r#"{"type":"Polygon","coordinates":[[[120,31],[120.1,31],[120,31]]]}"#),
            // 6: ring not closed
            feature_with_geometry(
                "330102001001004",
                r#"{"type":"Polygon","coordinates":[[[120,32],[120.1,32],[120.1,32.1],[120,32.1]]]}"#,
            ),
            // 7: out of range coordinate
            feature_with_geometry(
                "330102001001005",
                r#"{"type":"Polygon","coordinates":[[[200,32],[200.1,32],[200.1,32.1],[200,32]]]}"#,
            ),
            // 8: self-intersecting bow tie
            feature_with_geometry(
                "330102001001006",
                r#"{"type":"Polygon","coordinates":[[[120,33],[120.1,33.1],[120.1,33],[120,33.1],[120,33]]]}"#,
            ),
            // 9: not a feature at all
            r#"{"type":"Polygon"}"#.to_string(),
            // 10: no geometry, name not a string
            r#"{"type":"Feature","properties":{"code":"330102001001007","name":5},"geometry":null}"#.to_string(),
            // 11: a position that is not a pair
            feature_with_geometry(
                "330102001001008",
                r#"{"type":"Polygon","coordinates":[[[120,34],["a",34],[120.1,34.1],[120,34]]]}"#,
            ),
        ]);
        let found = problems(&text);
        let text_of = |i: usize| -> Vec<String> {
            found
                .iter()
                .filter(|p| p.index == i)
                .map(|p| p.to_string())
                .collect()
        };
        assert!(text_of(0).is_empty(), "{:?}", text_of(0));
        let one = text_of(1);
        assert_eq!(one.len(), 2, "{one:?}");
        assert!(one[0].starts_with("feature 1 (code 3301020010010): bad code"));
        assert!(one[1].contains("properties.name is empty"));
        let two = text_of(2);
        assert!(two
            .iter()
            .any(|m| m == "feature 2: properties.code is missing"));
        assert!(two.iter().any(|m| m.contains("properties.name is missing")));
        assert_eq!(
            text_of(3),
            [format!(
                "feature 3 (code {A}): code is already used by feature 0"
            )]
        );
        assert!(text_of(4)[0].contains(r#"geometry type "Point" is not Polygon or MultiPolygon"#));
        assert!(text_of(5)[0].contains("ring 0 of polygon 0 has 3 positions"));
        assert_eq!(
            text_of(6),
            ["feature 6 (code 330102001001004): ring 0 of polygon 0 is not closed"]
        );
        assert!(text_of(7)[0].contains("out-of-range coordinate at position 0"));
        assert!(
            text_of(8)[0].contains("self-intersection"),
            "{:?}",
            text_of(8)
        );
        assert!(text_of(9)[0].contains("is not a GeoJSON Feature"));
        let ten = text_of(10);
        assert!(ten.iter().any(|m| m.contains("name must be a string")));
        assert!(ten.iter().any(|m| m.contains("has no geometry")));
        assert!(text_of(11)[0].contains("position 1 that is not [longitude, latitude]"));

        let ring: Vec<String> = (0..=MAX_VERTICES_PER_GRID)
            .map(|i| {
                let a = i as f64 / MAX_VERTICES_PER_GRID as f64 * std::f64::consts::TAU;
                if i == MAX_VERTICES_PER_GRID {
                    "[120.01,30]".to_string()
                } else {
                    format!("[{},{}]", 120.0 + 0.01 * a.cos(), 30.0 + 0.01 * a.sin())
                }
            })
            .collect();
        let huge = feature_with_geometry(
            A,
            &format!(
                r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
                ring.join(",")
            ),
        );
        let too_many = problems(&collection(&[huge]));
        assert!(
            too_many[0].message.contains("vertices; at most 10000"),
            "{too_many:?}"
        );

        // Every problem is on its own line of the error's message.
        let message = parse_grid_collection(&text, Crs::Wgs84)
            .unwrap_err()
            .to_string();
        assert_eq!(message.lines().count(), found.len() + 1);
        assert!(message.starts_with(&format!("the grid file has {} problems:", found.len())));
    }

    #[test]
    fn reports_overlaps_beyond_the_tolerance() {
        // B overlaps A by 0.001° × 0.01° ≈ 100 m × 1.1 km; C only touches B.
        let text = collection(&[
            square(A, "a", 120.00, 30.0, 0.01),
            square(B, "b", 120.009, 30.0, 0.01),
            square(C, "c", 120.019, 30.0, 0.01),
        ]);
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 1);
        assert!(
            found[0]
                .message
                .starts_with(&format!("overlaps feature 0 (code {A}) by about ")),
            "{}",
            found[0].message
        );
        let area: f64 = found[0]
            .message
            .split_whitespace()
            .nth(7)
            .unwrap()
            .parse()
            .unwrap();
        assert!((100_000.0..115_000.0).contains(&area), "{area}");

        // A sliver well under a square metre (1e-9° ≈ 0.1 mm wide) is tolerated.
        let text = collection(&[
            square(A, "a", 120.00, 30.0, 0.01),
            square(B, "b", 120.009_999_999, 30.0, 0.01),
        ]);
        assert_eq!(
            parse_grid_collection(&text, Crs::Wgs84).map(|f| f.len()),
            Ok(2)
        );

        // So is a long sliver of hundreds of square metres but a centimetre
        // wide (1e-7° ≈ 1 cm along a 0.5° ≈ 55 km border).
        let text = collection(&[
            square(A, "a", 120.00, 30.0, 0.5),
            square(B, "b", 120.499_999_9, 30.0, 0.5),
        ]);
        assert_eq!(
            parse_grid_collection(&text, Crs::Wgs84).map(|f| f.len()),
            Ok(2)
        );

        // But a compact 2 m × 2 m overlap is not (2e-5° ≈ 2 m).
        let text = collection(&[
            square(A, "a", 120.00, 30.0, 0.01),
            square(B, "b", 120.009_98, 30.009_98, 0.01),
        ]);
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("by about 4."),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn overlaps_with_existing_grids_ignore_replaced_codes() {
        let existing = LocateIndex::new(
            parse_grid_collection(
                &collection(&[
                    square(A, "a", 120.00, 30.0, 0.01),
                    square(B, "b", 120.01, 30.0, 0.01),
                ]),
                Crs::Wgs84,
            )
            .unwrap()
            .into_iter()
            .map(|f| (f.code, f.geometry))
            .collect(),
        );
        // New C overlaps B; new A moved onto old B's place but A is replaced.
        let new = parse_grid_collection(
            &collection(&[
                square(C, "c", 120.015, 30.0, 0.01),
                square(A, "a", 120.05, 30.0, 0.01),
            ]),
            Crs::Wgs84,
        )
        .unwrap();
        let found = find_overlaps_with(&new, &existing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 0);
        assert!(found[0].to_string().starts_with(&format!(
            "feature 0 (code {C}): overlaps existing grid {B} by about"
        )));

        // Re-importing B with a changed boundary over old B only is fine.
        let new = parse_grid_collection(
            &collection(&[square(B, "b", 120.012, 30.0, 0.008)]),
            Crs::Wgs84,
        )
        .unwrap();
        assert!(find_overlaps_with(&new, &existing).is_empty());
    }

    #[test]
    fn export_then_import_round_trips() {
        let original = parse_grid_collection(
            &collection(&[
                square(A, "引号\"和\\反斜杠", 120.123_456_78, 30.0, 0.01),
                square(B, "b", 120.2, 30.0, 0.01),
            ]),
            Crs::Wgs84,
        )
        .unwrap();
        let mut out = Vec::new();
        write_grid_collection(
            &mut out,
            original
                .iter()
                .map(|f| (f.code.as_str(), f.name.as_str(), &f.geometry)),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("120.1234568"), "{text}");
        let again = parse_grid_collection(&text, Crs::Wgs84).unwrap();
        assert_eq!(again.len(), original.len());
        for (a, b) in again.iter().zip(&original) {
            assert_eq!(a.code, b.code);
            assert_eq!(a.name, b.name);
            for (ca, cb) in a.geometry.0[0]
                .exterior()
                .0
                .iter()
                .zip(&b.geometry.0[0].exterior().0)
            {
                assert!((ca.x - cb.x).abs() <= 5e-8 && (ca.y - cb.y).abs() <= 5e-8);
            }
        }
        // Exporting the re-imported grids is byte-for-byte stable.
        let mut second = Vec::new();
        write_grid_collection(
            &mut second,
            again
                .iter()
                .map(|f| (f.code.as_str(), f.name.as_str(), &f.geometry)),
        )
        .unwrap();
        assert_eq!(String::from_utf8(second).unwrap(), text);

        let bad = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(f64::NAN, 0.0), (1.0, 0.0), (1.0, 1.0)]),
            vec![],
        )]);
        let err = write_grid_collection(Vec::new(), std::iter::once((A, "x", &bad))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

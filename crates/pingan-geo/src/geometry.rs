//! Compact binary encoding of grid polygons for the database.
//!
//! The format is deliberately trivial so that both SQLite and PostgreSQL can
//! hold it in a plain BLOB/BYTEA column without PostGIS, and so that loading
//! two million grids at start-up is a straight memory copy per ring:
//!
//! ```text
//! u8        version (= 1)
//! u32 LE    polygon count
//! per polygon:
//!   u32 LE  ring count (exterior first, then holes; at least 1)
//!   per ring:
//!     u32 LE  point count
//!     per point: f64 LE longitude, f64 LE latitude   (WGS-84 degrees)
//! ```
//!
//! [`decode`] treats its input as untrusted: every count is checked against the
//! bytes actually remaining before anything is allocated, so a corrupt row can
//! neither panic nor make the server allocate gigabytes.
use geo::{Coord, LineString, MultiPolygon, Polygon};

/// The only format version written so far.
pub const FORMAT_VERSION: u8 = 1;

const COUNT_BYTES: usize = 4;
const POINT_BYTES: usize = 16;

/// Why a stored geometry could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryDecodeError {
    #[error("geometry is empty (no version byte)")]
    Empty,
    #[error("unsupported geometry format version {0}")]
    UnsupportedVersion(u8),
    #[error(
        "geometry is truncated at byte {offset}: {what} needs {needed} bytes, {remaining} remain"
    )]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: usize,
        remaining: usize,
    },
    #[error("polygon {polygon} has no rings")]
    NoRings { polygon: usize },
    #[error("ring {ring} of polygon {polygon} has a non-finite coordinate")]
    NonFinite { polygon: usize, ring: usize },
    #[error("{0} unexpected bytes after the geometry")]
    TrailingBytes(usize),
}

/// Encodes `mp` in the format described in the module documentation.
///
/// # Panics
///
/// If a count exceeds `u32::MAX` (a geometry of over 64 GB).
pub fn encode(mp: &MultiPolygon<f64>) -> Vec<u8> {
    let points: usize =
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| r.0.len())
            .sum();
    let rings: usize = mp.0.iter().map(|p| 1 + p.interiors().len()).sum();
    let mut out = Vec::with_capacity(
        1 + COUNT_BYTES + mp.0.len() * COUNT_BYTES + rings * COUNT_BYTES + points * POINT_BYTES,
    );
    out.push(FORMAT_VERSION);
    push_count(&mut out, mp.0.len());
    for polygon in &mp.0 {
        push_count(&mut out, 1 + polygon.interiors().len());
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            push_count(&mut out, ring.0.len());
            for c in &ring.0 {
                out.extend_from_slice(&c.x.to_le_bytes());
                out.extend_from_slice(&c.y.to_le_bytes());
            }
        }
    }
    out
}

/// Counts are u32 on disk; a grid with four billion vertices is not a grid.
fn push_count(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("geometry element count exceeds u32::MAX");
    out.extend_from_slice(&n.to_le_bytes());
}

/// A cursor over untrusted bytes that reports where it ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], GeometryDecodeError> {
        if self.remaining() < n {
            return Err(GeometryDecodeError::Truncated {
                offset: self.pos,
                what,
                needed: n,
                remaining: self.remaining(),
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a count and checks that at least `count * min_item_bytes` bytes
    /// follow, so the caller may allocate `count` items safely.
    fn count(
        &mut self,
        what: &'static str,
        min_item_bytes: usize,
    ) -> Result<usize, GeometryDecodeError> {
        let offset = self.pos;
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(COUNT_BYTES, what)?);
        let n = u32::from_le_bytes(b) as usize;
        let needed = n.saturating_mul(min_item_bytes);
        if needed > self.remaining() {
            return Err(GeometryDecodeError::Truncated {
                offset,
                what,
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(n)
    }

    fn f64(&mut self) -> Result<f64, GeometryDecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, "coordinate")?);
        Ok(f64::from_le_bytes(b))
    }
}

/// Decodes bytes written by [`encode`], refusing anything malformed.
pub fn decode(bytes: &[u8]) -> Result<MultiPolygon<f64>, GeometryDecodeError> {
    let (&version, _) = bytes.split_first().ok_or(GeometryDecodeError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(GeometryDecodeError::UnsupportedVersion(version));
    }
    let mut r = Reader { bytes, pos: 1 };
    // Each polygon needs at least its ring count and one ring's point count.
    let n_polygons = r.count("polygon list", 2 * COUNT_BYTES)?;
    let mut polygons = Vec::with_capacity(n_polygons);
    for p in 0..n_polygons {
        let n_rings = r.count("ring list", COUNT_BYTES)?;
        if n_rings == 0 {
            return Err(GeometryDecodeError::NoRings { polygon: p });
        }
        let mut rings = Vec::with_capacity(n_rings);
        for ring_index in 0..n_rings {
            let n_points = r.count("point list", POINT_BYTES)?;
            let mut coords = Vec::with_capacity(n_points);
            for _ in 0..n_points {
                let x = r.f64()?;
                let y = r.f64()?;
                if !(x.is_finite() && y.is_finite()) {
                    return Err(GeometryDecodeError::NonFinite {
                        polygon: p,
                        ring: ring_index,
                    });
                }
                coords.push(Coord { x, y });
            }
            rings.push(LineString(coords));
        }
        let mut rings = rings.into_iter();
        let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
        polygons.push(Polygon::new(exterior, rings.collect()));
    }
    if r.remaining() != 0 {
        return Err(GeometryDecodeError::TrailingBytes(r.remaining()));
    }
    Ok(MultiPolygon(polygons))
}

/// The bounding box `[min_lng, min_lat, max_lng, max_lat]` of all vertices, or
/// `None` for a geometry without any.
pub fn bbox(mp: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    let mut out: Option<[f64; 4]> = None;
    for polygon in &mp.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for c in &ring.0 {
                let b = out.get_or_insert([c.x, c.y, c.x, c.y]);
                b[0] = b[0].min(c.x);
                b[1] = b[1].min(c.y);
                b[2] = b[2].max(c.x);
                b[3] = b[3].max(c.y);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingan_domain::random::SplitMix64;

    fn random_multipolygon(rng: &mut SplitMix64) -> MultiPolygon<f64> {
        let n_polygons = rng.below(4) as usize;
        MultiPolygon(
            (0..n_polygons)
                .map(|_| {
                    let ring = |rng: &mut SplitMix64| {
                        let n = 3 + rng.below(40) as usize;
                        LineString(
                            (0..n)
                                .map(|_| Coord {
                                    x: 73.0 + 62.0 * rng.next_f64(),
                                    y: 18.0 + 35.0 * rng.next_f64(),
                                })
                                .collect(),
                        )
                    };
                    let exterior = ring(rng);
                    let n_holes = rng.below(3);
                    let holes = (0..n_holes).map(|_| ring(rng)).collect();
                    Polygon::new(exterior, holes)
                })
                .collect(),
        )
    }

    #[test]
    fn round_trips_random_geometries() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..500 {
            let mp = random_multipolygon(&mut rng);
            let bytes = encode(&mp);
            assert_eq!(bytes[0], FORMAT_VERSION);
            assert_eq!(decode(&bytes).unwrap(), mp);
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..50 {
            let mp = random_multipolygon(&mut rng);
            let bytes = encode(&mp);
            for len in 0..bytes.len() {
                assert!(decode(&bytes[..len]).is_err(), "prefix of {len} decoded");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(decode(&longer), Err(GeometryDecodeError::TrailingBytes(1)));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = SplitMix64::new(13);
        for _ in 0..20_000 {
            let len = rng.below(200) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if !bytes.is_empty() && rng.below(2) == 0 {
                bytes[0] = FORMAT_VERSION;
            }
            let _ = decode(&bytes);
        }
        // Flipping bytes of valid encodings exercises deeper paths.
        for _ in 0..2_000 {
            let mut bytes = encode(&random_multipolygon(&mut rng));
            if bytes.len() > 1 {
                let i = 1 + rng.below(bytes.len() as u64 - 1) as usize;
                bytes[i] = rng.next_u64() as u8;
            }
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(GeometryDecodeError::Truncated { .. })
        ));
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(GeometryDecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn structural_errors_are_named() {
        assert_eq!(decode(&[]), Err(GeometryDecodeError::Empty));
        assert_eq!(
            decode(&[9, 0, 0, 0, 0]),
            Err(GeometryDecodeError::UnsupportedVersion(9))
        );
        let mut no_rings = vec![FORMAT_VERSION];
        no_rings.extend_from_slice(&1u32.to_le_bytes());
        no_rings.extend_from_slice(&0u32.to_le_bytes());
        no_rings.extend_from_slice(&0u32.to_le_bytes());
        assert!(decode(&no_rings).is_err());
        let mp = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0), (0.0, 0.0)]),
            vec![],
        )]);
        assert!(matches!(
            decode(&encode(&mp)),
            Err(GeometryDecodeError::NonFinite {
                polygon: 0,
                ring: 0
            })
        ));
        assert_eq!(
            decode(&encode(&MultiPolygon(vec![]))),
            Ok(MultiPolygon(vec![]))
        );
    }

    #[test]
    fn bbox_covers_all_rings() {
        assert_eq!(bbox(&MultiPolygon(vec![])), None);
        let mp = MultiPolygon(vec![
            Polygon::new(
                LineString::from(vec![(1.0, 2.0), (3.0, 2.0), (3.0, 5.0), (1.0, 2.0)]),
                vec![],
            ),
            Polygon::new(
                LineString::from(vec![(-1.0, 0.5), (0.0, 0.5), (0.0, 1.0), (-1.0, 0.5)]),
                vec![],
            ),
        ]);
        assert_eq!(bbox(&mp), Some([-1.0, 0.5, 3.0, 5.0]));
    }
}

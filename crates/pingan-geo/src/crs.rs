//! Coordinate reference systems met in Chinese grid data and conversion to WGS-84.
//!
//! Maps published in mainland China must use GCJ-02 (国测局坐标, "Mars
//! coordinates"), an obfuscated offset of WGS-84 of a few hundred metres, and
//! Baidu adds its own BD-09 layer on top. Grid polygons drawn on such maps arrive
//! in those systems, while phones report GPS positions in WGS-84; Pingan stores
//! and indexes everything in WGS-84 so that a reported position lands in the
//! grid it is really in.
//!
//! The GCJ-02 forward transform is the widely published reconstruction of the
//! official algorithm; it is accurate to well under a metre. There is no closed
//! form inverse, so [`to_wgs84`] inverts it numerically.
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use geo::{MapCoordsInPlace, MultiPolygon};

/// A coordinate reference system of longitude/latitude pairs in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Crs {
    /// GPS / international standard; what Pingan stores.
    #[default]
    Wgs84,
    /// The Chinese national obfuscated system used by AMap (高德), Tencent and most
    /// government map services.
    Gcj02,
    /// Baidu's system, a further transform of GCJ-02.
    Bd09,
}

impl Crs {
    pub const ALL: [Crs; 3] = [Crs::Wgs84, Crs::Gcj02, Crs::Bd09];

    pub const fn as_str(self) -> &'static str {
        match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        }
    }
}

/// A CRS name that is not one of `wgs84`, `gcj02` or `bd09`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown coordinate system {0:?}; expected one of wgs84, gcj02, bd09")]
pub struct UnknownCrs(pub String);

impl FromStr for Crs {
    type Err = UnknownCrs;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Crs::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownCrs(s.to_string()))
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid the GCJ-02 formula uses.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Its first eccentricity squared, published as 0.00669342162296594323;
/// written here to f64 precision (the same value).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's constant; the name `x_pi` is kept from the published formula.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Iterative inverses stop once the forward image is this close (degrees, ~1 mm),
/// comfortably inside the 1e-7° the storage format keeps.
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// The inverses converge in 3–5 steps; the cap only guards against the
/// discontinuity at the edge of China's bounding box, where the forward
/// transform switches to the identity.
const INVERSE_MAX_STEPS: usize = 30;

/// The GCJ-02 formula only applies inside this rough box around China; outside
/// it the official implementation returns coordinates unchanged.
fn out_of_china(lng: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lng(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

fn wgs84_to_gcj02(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    let dlat = transform_lat(lng - 105.0, lat - 35.0);
    let dlng = transform_lng(lng - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let sin_lat = rad_lat.sin();
    let magic = 1.0 - KRASOVSKY_EE * sin_lat * sin_lat;
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (lng + dlng, lat + dlat)
}

fn gcj02_to_bd09(lng: f64, lat: f64) -> (f64, f64) {
    let z = (lng * lng + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lng) + 0.000003 * (lng * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Baidu's published inverse, good to about 1e-6°; used as the starting guess.
fn bd09_to_gcj02_approx(lng: f64, lat: f64) -> (f64, f64) {
    let x = lng - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// Solves `forward(p) = target` by fixed-point refinement, `p ← p − (forward(p) − target)`.
///
/// Both transforms are small smooth offsets (their Jacobian is the identity
/// plus terms of order 1e-5), so each step shrinks the error by several orders
/// of magnitude; the one-step inverse often quoted online is off by up to a
/// couple of metres, which matters for points near a grid border.
fn invert(
    forward: impl Fn(f64, f64) -> (f64, f64),
    target: (f64, f64),
    start: (f64, f64),
) -> (f64, f64) {
    if !(target.0.is_finite() && target.1.is_finite()) {
        return target;
    }
    let (mut lng, mut lat) = start;
    for _ in 0..INVERSE_MAX_STEPS {
        let (f_lng, f_lat) = forward(lng, lat);
        let (d_lng, d_lat) = (f_lng - target.0, f_lat - target.1);
        if d_lng.abs() < INVERSE_TOLERANCE_DEG && d_lat.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
        lng -= d_lng;
        lat -= d_lat;
    }
    (lng, lat)
}

fn gcj02_to_wgs84(lng: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lng, lat) {
        return (lng, lat);
    }
    invert(wgs84_to_gcj02, (lng, lat), (lng, lat))
}

fn bd09_to_gcj02(lng: f64, lat: f64) -> (f64, f64) {
    invert(gcj02_to_bd09, (lng, lat), bd09_to_gcj02_approx(lng, lat))
}

/// Converts a position given in `crs` to WGS-84.
pub fn to_wgs84(crs: Crs, lng: f64, lat: f64) -> (f64, f64) {
    match crs {
        Crs::Wgs84 => (lng, lat),
        Crs::Gcj02 => gcj02_to_wgs84(lng, lat),
        Crs::Bd09 => {
            let (g_lng, g_lat) = bd09_to_gcj02(lng, lat);
            gcj02_to_wgs84(g_lng, g_lat)
        }
    }
}

/// Converts a WGS-84 position to `crs`, e.g. to export grids for a GCJ-02 map.
pub fn from_wgs84(crs: Crs, lng: f64, lat: f64) -> (f64, f64) {
    match crs {
        Crs::Wgs84 => (lng, lat),
        Crs::Gcj02 => wgs84_to_gcj02(lng, lat),
        Crs::Bd09 => {
            let (g_lng, g_lat) = wgs84_to_gcj02(lng, lat);
            gcj02_to_bd09(g_lng, g_lat)
        }
    }
}

/// Converts every vertex of `mp` from `crs` to WGS-84 in place.
///
/// Shared vertices of neighbouring grids map to identical outputs (the
/// conversion is a pure function), so converted grids still tile without gaps.
pub fn multipolygon_to_wgs84(crs: Crs, mp: &mut MultiPolygon<f64>) {
    if crs == Crs::Wgs84 {
        return;
    }
    mp.map_coords_in_place(|c| {
        let (x, y) = to_wgs84(crs, c.x, c.y);
        geo::Coord { x, y }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rough ground distance in metres between two nearby positions.
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let m_per_deg = 6_371_008.8 * PI / 180.0;
        let dx = (a.0 - b.0) * m_per_deg * ((a.1 + b.1) / 2.0).to_radians().cos();
        let dy = (a.1 - b.1) * m_per_deg;
        (dx * dx + dy * dy).sqrt()
    }

    #[test]
    fn parses_and_displays_names() {
        assert_eq!("wgs84".parse::<Crs>().unwrap(), Crs::Wgs84);
        assert_eq!("GCJ02".parse::<Crs>().unwrap(), Crs::Gcj02);
        assert_eq!(" Bd09 ".parse::<Crs>().unwrap(), Crs::Bd09);
        let err = "epsg:4326".parse::<Crs>().unwrap_err();
        assert!(err.to_string().contains("epsg:4326"));
        assert!(err.to_string().contains("wgs84, gcj02, bd09"));
        for c in Crs::ALL {
            assert_eq!(c.to_string().parse::<Crs>().unwrap(), c);
        }
    }

    #[test]
    fn hangzhou_shift_has_expected_size_and_direction() {
        let wgs = (120.15, 30.28);
        let gcj = from_wgs84(Crs::Gcj02, wgs.0, wgs.1);
        // The published offset near Hangzhou: east by ~0.0046°, south by ~0.0024°.
        assert!((gcj.0 - wgs.0 - 0.0046).abs() < 0.0005, "{gcj:?}");
        assert!((gcj.1 - wgs.1 + 0.0024).abs() < 0.0005, "{gcj:?}");
        let shift = metres(wgs, gcj);
        assert!((100.0..1000.0).contains(&shift), "shift {shift} m");
        let back = to_wgs84(Crs::Gcj02, gcj.0, gcj.1);
        assert!((back.0 - wgs.0).abs() < 1e-7 && (back.1 - wgs.1).abs() < 1e-7);

        let bd = from_wgs84(Crs::Bd09, wgs.0, wgs.1);
        let shift = metres(wgs, bd);
        assert!((100.0..2000.0).contains(&shift), "bd09 shift {shift} m");
    }

    #[test]
    fn round_trips_across_china() {
        for crs in Crs::ALL {
            let mut lng = 73.5;
            while lng < 135.0 {
                let mut lat = 18.2;
                while lat < 53.5 {
                    let there = from_wgs84(crs, lng, lat);
                    let back = to_wgs84(crs, there.0, there.1);
                    assert!(
                        (back.0 - lng).abs() < 1e-6 && (back.1 - lat).abs() < 1e-6,
                        "{crs} ({lng}, {lat}) -> {there:?} -> {back:?}"
                    );
                    let wgs = to_wgs84(crs, lng, lat);
                    let again = from_wgs84(crs, wgs.0, wgs.1);
                    assert!(
                        (again.0 - lng).abs() < 1e-6 && (again.1 - lat).abs() < 1e-6,
                        "{crs} inverse first ({lng}, {lat})"
                    );
                    lat += 0.731;
                }
                lng += 0.917;
            }
        }
    }

    #[test]
    fn outside_china_gcj_is_identity() {
        assert_eq!(from_wgs84(Crs::Gcj02, 2.35, 48.85), (2.35, 48.85));
        assert_eq!(to_wgs84(Crs::Gcj02, -74.0, 40.7), (-74.0, 40.7));
        assert_eq!(to_wgs84(Crs::Wgs84, 120.0, 30.0), (120.0, 30.0));
        let nan = to_wgs84(Crs::Bd09, f64::NAN, 30.0);
        assert!(nan.0.is_nan());
    }

    #[test]
    fn converts_multipolygons_in_place() {
        let poly = geo::Polygon::new(
            geo::LineString::from(vec![
                (120.0, 30.0),
                (120.01, 30.0),
                (120.01, 30.01),
                (120.0, 30.0),
            ]),
            vec![],
        );
        let mut mp = MultiPolygon(vec![poly.clone()]);
        mp.map_coords_in_place(|c| {
            let (x, y) = from_wgs84(Crs::Gcj02, c.x, c.y);
            geo::Coord { x, y }
        });
        multipolygon_to_wgs84(Crs::Gcj02, &mut mp);
        for (a, b) in mp.0[0].exterior().0.iter().zip(&poly.exterior().0) {
            assert!((a.x - b.x).abs() < 1e-7 && (a.y - b.y).abs() < 1e-7);
        }
    }
}

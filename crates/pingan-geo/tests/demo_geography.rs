//! The demo geography on two real counties (上城区 330102 and 滨江区 330108),
//! whose boundary files are small: every region and grid gets a valid polygon,
//! grids tile each county without overlapping, and points land in exactly one
//! grid whose village and township contain them too.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use geo::{Area, BooleanOps, BoundingRect, Intersects, MultiPolygon, Point, Rect, Validation};
use pingan_domain::random::SplitMix64;
use pingan_domain::RegionCode;
use pingan_geo::demo::{generate, DemoError, DemoGeography};
use pingan_geo::{DivisionRecord, Divisions};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/zhejiang")
}

/// The bundled divisions, limited to `counties` (and their townships and villages).
fn divisions_for(counties: &[&str]) -> Divisions {
    let all = Divisions::read_dir(&data_dir().join("divisions"), &|_| {}).unwrap();
    let regions = all
        .regions
        .into_iter()
        .filter(|r| r.code.prefix().len() >= 6 && counties.contains(&&r.code.prefix()[..6]))
        .collect();
    Divisions { regions }
}

fn build(divisions: &Divisions, seed: u64) -> DemoGeography {
    let reported = std::sync::Mutex::new((0u64, 0u64));
    let progress = |done: u64, total: u64| {
        let mut r = reported.lock().unwrap();
        *r = (r.0.max(done), total);
    };
    let geo = generate(&data_dir().join("boundaries"), divisions, seed, &progress).unwrap();
    let (done, total) = *reported.lock().unwrap();
    assert_eq!(done, total);
    assert_eq!(total as usize, geo.regions.len() + geo.grids.len());
    geo
}

#[test]
fn two_counties_are_tiled_by_nested_valid_polygons() {
    let divisions = divisions_for(&["330102", "330108"]);
    let geo = build(&divisions, 42);

    let expected_villages = divisions
        .regions
        .iter()
        .filter(|r| r.code.level() == pingan_domain::Level::Village)
        .count();
    assert_eq!(geo.regions.len(), divisions.regions.len());
    assert_eq!(geo.grids.len(), expected_villages * 3);
    for (code, mp) in &geo.regions {
        assert!(mp.unsigned_area() > 0.0, "{code} is empty");
        assert!(mp.is_valid(), "{code}: {:?}", mp.validation_errors());
    }
    let names: HashMap<&RegionCode, &str> = divisions
        .regions
        .iter()
        .map(|r| (&r.code, r.name.as_str()))
        .collect();
    for grid in &geo.grids {
        assert!(
            grid.geometry.unsigned_area() > 0.0,
            "{} is empty",
            grid.code
        );
        assert!(grid.geometry.is_valid(), "{}", grid.code);
        let village = grid.code.village();
        let seq = &grid.code.as_str()[12..];
        assert!(matches!(seq, "001" | "002" | "003"));
        let n = seq.trim_start_matches('0');
        assert_eq!(grid.name, format!("{}第{n}网格", names[&village]));
    }

    let polygons: HashMap<&RegionCode, &MultiPolygon<f64>> =
        geo.regions.iter().map(|(c, mp)| (c, mp)).collect();
    let rects: Vec<Rect<f64>> = geo
        .grids
        .iter()
        .map(|g| g.geometry.bounding_rect().unwrap())
        .collect();

    // No two grids overlap beyond the overlay engine's snapping (~1e-9 of a
    // region's size, i.e. micrometres on the ground).
    for (a, ga) in geo.grids.iter().enumerate() {
        for (b, gb) in geo.grids.iter().enumerate().skip(a + 1) {
            if rects[a].intersects(&rects[b]) {
                let overlap = ga.geometry.intersection(&gb.geometry).unsigned_area();
                let smaller = ga.geometry.unsigned_area().min(gb.geometry.unsigned_area());
                assert!(
                    overlap < 1e-6 * smaller,
                    "{} and {} overlap",
                    ga.code,
                    gb.code
                );
            }
        }
    }

    for county in ["330102", "330108"] {
        let code = RegionCode::from_short(county).unwrap();
        let county_poly = polygons[&code];
        let area = county_poly.unsigned_area();
        let grids: Vec<usize> = (0..geo.grids.len())
            .filter(|&i| geo.grids[i].code.as_str().starts_with(county))
            .collect();
        let sum: f64 = grids
            .iter()
            .map(|&i| geo.grids[i].geometry.unsigned_area())
            .sum();
        let union = geo::unary_union(grids.iter().map(|&i| &geo.grids[i].geometry));
        assert!(
            (union.unsigned_area() - area).abs() < 1e-3 * area,
            "{county} union"
        );
        assert!((sum - area).abs() < 1e-3 * area, "{county} sum");

        // Random points in the county: exactly one grid, and its village,
        // township and county contain the point too.
        let bbox = county_poly.bounding_rect().unwrap();
        let mut rng = SplitMix64::new(county.parse().unwrap());
        let mut tested = 0;
        while tested < 1500 {
            let p = Point::new(
                bbox.min().x + rng.next_f64() * bbox.width(),
                bbox.min().y + rng.next_f64() * bbox.height(),
            );
            if !county_poly.intersects(&p) {
                continue;
            }
            tested += 1;
            let hits: Vec<usize> = grids
                .iter()
                .copied()
                .filter(|&i| rects[i].intersects(&p) && geo.grids[i].geometry.intersects(&p))
                .collect();
            assert_eq!(hits.len(), 1, "{p:?} is in {} grids", hits.len());
            let village = geo.grids[hits[0]].code.village();
            let township = village.parent().unwrap();
            assert!(polygons[&village].intersects(&p), "{p:?} outside {village}");
            assert!(
                polygons[&township].intersects(&p),
                "{p:?} outside {township}"
            );
        }
    }
}

#[test]
fn same_seed_gives_identical_geography() {
    let divisions = divisions_for(&["330108"]);
    let a = build(&divisions, 7);
    let b = build(&divisions, 7);
    assert_eq!(a, b);
    let c = build(&divisions, 8);
    assert_ne!(a.grids, c.grids);
    // The county keeps its real boundary whatever the seed.
    assert_eq!(a.regions[0], c.regions[0]);
}

#[test]
fn missing_boundary_names_the_file() {
    let mut divisions = divisions_for(&["330108"]);
    divisions.regions.push(DivisionRecord {
        code: RegionCode::from_short("339999").unwrap(),
        name: "无此县".into(),
        parent: RegionCode::from_short("3399").ok(),
    });
    let err = generate(&data_dir().join("boundaries"), &divisions, 1, &|_, _| {}).unwrap_err();
    assert!(matches!(err, DemoError::MissingBoundary { .. }), "{err}");
    assert!(err.to_string().contains("339999.geojson"), "{err}");
}

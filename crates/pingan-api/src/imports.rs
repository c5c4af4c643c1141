//! Grid imports and the locate index, shared by the CLI and the HTTP API so
//! both apply the same checks.
use pingan_domain::{GridCode, Scope};
use pingan_geo::gridfile::{self, FeatureProblem, GridFileError};
use pingan_geo::{Crs, LocateIndex};
use pingan_storage::{GridImportSummary, NewGrid, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum GridImportError {
    #[error("{0}")]
    File(#[from] GridFileError),
    #[error("grids name villages that are not known active villages: {}", .0.join(", "))]
    UnknownVillages(Vec<String>),
    #[error("grids outside the importer's scope: {}", .0.join(", "))]
    OutOfScope(Vec<String>),
    #[error("grids overlap grids already stored:\n{}", problems(.0))]
    Overlaps(Vec<FeatureProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn problems(list: &[FeatureProblem]) -> String {
    list.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridImportReport {
    pub features: u64,
    pub added: u64,
    pub replaced: u64,
}

/// Validates a GeoJSON grid file completely and then writes it in one
/// transaction, or writes nothing.
pub async fn import_grids(
    store: &dyn Store,
    index: &LocateIndex,
    text: &str,
    crs: Crs,
    scope: &Scope,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GridImportReport, GridImportError> {
    let features = gridfile::parse_grid_collection(text, crs)?;
    let outside: Vec<String> = features
        .iter()
        .filter(|f| !scope.covers(f.code.as_str()))
        .map(|f| f.code.to_string())
        .collect();
    if !outside.is_empty() {
        return Err(GridImportError::OutOfScope(outside));
    }
    let villages: Vec<String> = features
        .iter()
        .map(|f| f.code.village().as_str().to_string())
        .collect();
    let unknown = store.unknown_villages(&villages).await?;
    if !unknown.is_empty() {
        return Err(GridImportError::UnknownVillages(unknown));
    }
    let overlaps = gridfile::find_overlaps_with(&features, index);
    if !overlaps.is_empty() {
        return Err(GridImportError::Overlaps(overlaps));
    }
    let rows: Vec<NewGrid> = features
        .iter()
        .map(|f| grid_row(&f.code, f.name.clone(), &f.geometry))
        .collect();
    let GridImportSummary { added, replaced } = store.import_grids(&rows, progress).await?;
    Ok(GridImportReport {
        features: rows.len() as u64,
        added,
        replaced,
    })
}

/// A grid as the store keeps it: the encoded geometry and its bounding box.
pub fn grid_row(code: &GridCode, name: String, geometry: &geo::MultiPolygon<f64>) -> NewGrid {
    NewGrid {
        code: code.to_string(),
        name,
        geometry: pingan_geo::geometry::encode(geometry),
        bbox: pingan_geo::geometry::bbox(geometry).unwrap_or_default(),
    }
}

/// Where a grid lies: its regions from province down to village, and its name.
pub async fn place_of(
    store: &dyn Store,
    code: &GridCode,
) -> Result<(Vec<pingan_storage::Region>, Option<String>), StoreError> {
    let chain: Vec<String> = code
        .village()
        .chain()
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let mut regions = store.region_names(&chain).await?;
    regions.sort_by_key(|r| r.level);
    let name = store
        .grid(&Scope::everywhere(), code.as_str())
        .await?
        .map(|g| g.grid.name);
    Ok((regions, name))
}

/// Grids per packed row: large enough that loading is a few hundred reads,
/// small enough that one row stays a few megabytes.
const GRIDS_PER_PACK: usize = 10_000;

/// Builds the locate index from every stored grid. Reads the packed copy of
/// the geometries when it is current (fast), else reads the grid rows and
/// saves a fresh packed copy for the next start.
pub async fn load_index(store: &dyn Store) -> Result<LocateIndex, StoreError> {
    let started = std::time::Instant::now();
    let fingerprint = fingerprint_text(store.grids_fingerprint().await?);
    // Packs are decoded on every core while later ones are still being read.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let decoders: Vec<_> = (0..threads)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || -> Result<Vec<(usize, Vec<Grid>)>, StoreError> {
                let mut done = Vec::new();
                loop {
                    let next = rx.lock().map_err(|_| decoder_failed())?.recv();
                    let Ok((seq, pack)) = next else { break };
                    let mut grids = Vec::with_capacity(GRIDS_PER_PACK);
                    unpack(&pack, &mut grids)?;
                    done.push((seq, grids));
                }
                Ok(done)
            })
        })
        .collect();
    let mut seq = 0;
    let current = store
        .each_grid_pack(&fingerprint, &mut |pack| {
            // The receivers live until this sender is dropped.
            let _ = tx.send((seq, pack));
            seq += 1;
        })
        .await?;
    if !current {
        let packs = repack(store, &fingerprint).await?;
        // Whatever was sent before the mismatch is superseded by these.
        for (i, p) in packs.into_iter().enumerate() {
            let _ = tx.send((seq + i, p));
        }
    }
    drop(tx);
    let fetched = started.elapsed();
    let index = tokio::task::spawn_blocking(move || -> Result<LocateIndex, StoreError> {
        let mut parts = Vec::new();
        for d in decoders {
            parts.extend(d.join().map_err(|_| decoder_failed())??);
        }
        parts.sort_unstable_by_key(|(seq, _)| *seq);
        let from = if current { 0 } else { seq };
        let grids: Vec<Grid> = parts
            .into_iter()
            .filter(|(s, _)| *s >= from)
            .flat_map(|(_, g)| g)
            .collect();
        Ok(LocateIndex::new(grids))
    })
    .await
    .map_err(|_| decoder_failed())??;
    tracing::debug!(?fetched, built = ?started.elapsed(), grids = index.len(), "grid index loaded");
    Ok(index)
}

type Grid = (GridCode, geo::MultiPolygon<f64>);

fn fingerprint_text((count, latest): (i64, i64)) -> String {
    format!("{count}:{latest}:{}", pingan_geo::geometry::FORMAT_VERSION)
}

/// Reads every grid row and saves the packed copy for `fingerprint`. A failure
/// to save only costs the next start its speed, so it is logged, not raised.
async fn repack(store: &dyn Store, fingerprint: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = store.grid_geometries().await?;
    let packs: Vec<Vec<u8>> = rows.chunks(GRIDS_PER_PACK).map(pack).collect();
    drop(rows);
    if let Err(e) = store.save_grid_packs(fingerprint, &packs).await {
        tracing::warn!(error = %e, "could not save packed grids; the next start reads rows again");
    }
    Ok(packs)
}

/// Brings the packed copy of the grids up to date after an import by another
/// route than the running server, so the next start is fast.
pub async fn refresh_grid_packs(store: &dyn Store) -> Result<(), StoreError> {
    let fingerprint = fingerprint_text(store.grids_fingerprint().await?);
    repack(store, &fingerprint).await.map(drop)
}

fn decoder_failed() -> StoreError {
    StoreError::Invalid("grid decoding failed".into())
}

/// One pack: for each grid its 15-byte code, the geometry's length (u32 LE)
/// and the geometry in pingan-geo's encoding.
fn pack(rows: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|(_, g)| 19 + g.len()).sum());
    for (code, geometry) in rows {
        out.extend_from_slice(code.as_bytes());
        out.extend_from_slice(&(geometry.len() as u32).to_le_bytes());
        out.extend_from_slice(geometry);
    }
    out
}

fn unpack(pack: &[u8], out: &mut Vec<Grid>) -> Result<(), StoreError> {
    let damaged = || StoreError::Invalid("packed grids are damaged".into());
    let mut rest = pack;
    while !rest.is_empty() {
        if rest.len() < 19 {
            return Err(damaged());
        }
        let code = std::str::from_utf8(&rest[..15]).map_err(|_| damaged())?;
        let code = GridCode::parse(code).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let len = u32::from_le_bytes([rest[15], rest[16], rest[17], rest[18]]) as usize;
        let blob = rest.get(19..19 + len).ok_or_else(damaged)?;
        let geometry = pingan_geo::geometry::decode(blob)
            .map_err(|e| StoreError::Invalid(format!("grid {code}: {e}")))?;
        out.push((code, geometry));
        rest = &rest[19 + len..];
    }
    Ok(())
}

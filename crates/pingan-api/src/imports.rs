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
        .map(|f| NewGrid {
            code: f.code.to_string(),
            name: f.name.clone(),
            geometry: pingan_geo::geometry::encode(&f.geometry),
            bbox: pingan_geo::geometry::bbox(&f.geometry).unwrap_or_default(),
        })
        .collect();
    let GridImportSummary { added, replaced } = store.import_grids(&rows, progress).await?;
    Ok(GridImportReport {
        features: rows.len() as u64,
        added,
        replaced,
    })
}

/// Builds the locate index from every stored grid.
pub async fn load_index(store: &dyn Store) -> Result<LocateIndex, StoreError> {
    let rows = store.grid_geometries().await?;
    let mut grids = Vec::with_capacity(rows.len());
    for (code, blob) in rows {
        let code = GridCode::parse(&code).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let geometry = pingan_geo::geometry::decode(&blob)
            .map_err(|e| StoreError::Invalid(format!("grid {code}: {e}")))?;
        grids.push((code, geometry));
    }
    Ok(LocateIndex::new(grids))
}

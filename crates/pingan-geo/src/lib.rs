//! Geography of Pingan: reading the statistics bureau's divisions, importing and
//! exporting grid polygons, converting between Chinese coordinate systems, the
//! in-memory locate index and the generated demo geography.
#![forbid(unsafe_code)]

pub mod crs;
pub mod demo;
pub mod divisions;
pub mod geometry;
pub mod gridfile;
pub mod index;
pub mod synthetic;

pub use crs::Crs;
pub use divisions::{DivisionError, DivisionRecord, Divisions};
pub use index::LocateIndex;

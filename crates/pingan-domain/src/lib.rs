//! Pure domain rules of Pingan: administrative and grid codes, roles, scopes and
//! the masking of personal data. This crate does no I/O and knows nothing of
//! databases or HTTP, so every rule here can be tested in isolation.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod category;
pub mod codes;
pub mod indicators;
pub mod mask;
pub mod matter;
pub mod mediation;
pub mod notice;
pub mod random;
pub mod rental;
pub mod report;
pub mod role;
pub mod scope;
pub mod unit;
pub mod workflow;

pub use codes::{CodeError, GridCode, Level, RegionCode};
pub use role::Role;
pub use scope::Scope;
pub use unit::UnitKind;

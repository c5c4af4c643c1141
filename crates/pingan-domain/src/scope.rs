//! Data scope: the subtree of codes an account may see and change.
use serde::{Deserialize, Serialize};

use crate::codes::{CodeError, GridCode, RegionCode};

/// The reach of an account (数据权限范围): a code prefix. Region-bound data
/// (regions, grids, units, accounts and everything filed under them) is visible
/// only when its code starts with the prefix. The empty prefix is the whole country.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    prefix: String,
}

impl Scope {
    /// The whole country, for national administrators.
    pub fn everywhere() -> Self {
        Scope {
            prefix: String::new(),
        }
    }

    pub fn region(code: &RegionCode) -> Self {
        Scope {
            prefix: code.prefix().to_string(),
        }
    }

    pub fn grid(code: &GridCode) -> Self {
        Scope {
            prefix: code.as_str().to_string(),
        }
    }

    /// Reads a scope written as a region code (2-12 digits as in the
    /// statistics files, or 12 digits with trailing zeros), a 15-digit grid
    /// code, or `*` for everywhere.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        match text.len() {
            1 if text == "*" => Ok(Scope::everywhere()),
            0 => Ok(Scope::everywhere()),
            15 => GridCode::parse(text).map(|g| Scope::grid(&g)),
            12 => RegionCode::infer(text).map(|r| Scope::region(&r)),
            _ => RegionCode::from_short(text).map(|r| Scope::region(&r)),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether a region or grid code lies within this scope.
    pub fn covers(&self, code: &str) -> bool {
        code.starts_with(&self.prefix)
    }

    /// Whether a region lies within the scope or the scope lies within it —
    /// e.g. a grid worker may read the village its grid belongs to.
    pub fn overlaps_region(&self, region: &RegionCode) -> bool {
        self.covers(region.as_str()) || self.prefix.starts_with(region.prefix())
    }

    /// Whether every code in `inner` is also in this scope.
    pub fn contains_scope(&self, inner: &Scope) -> bool {
        inner.prefix.starts_with(&self.prefix)
    }

    /// The scope as it is written back: `*`, a grid code or a short region code.
    pub fn as_text(&self) -> &str {
        if self.prefix.is_empty() {
            "*"
        } else {
            &self.prefix
        }
    }

    /// The narrower of two scopes, or `None` when they are disjoint.
    pub fn intersect(&self, other: &Scope) -> Option<Scope> {
        if self.contains_scope(other) {
            Some(other.clone())
        } else if other.contains_scope(self) {
            Some(self.clone())
        } else {
            None
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn township_scope_covers_its_subtree_only() {
        let s = Scope::parse("330102001").unwrap();
        assert!(s.covers("330102001001"));
        assert!(s.covers("330102001001003"));
        assert!(!s.covers("330102002001"));
        assert!(!s.covers("330102"));
        let county = RegionCode::from_short("330102").unwrap();
        assert!(s.overlaps_region(&county));
        assert!(!s.overlaps_region(&RegionCode::from_short("330105").unwrap()));
        assert!(Scope::parse("3301").unwrap().contains_scope(&s));
        assert!(!s.contains_scope(&Scope::parse("3301").unwrap()));
        assert_eq!(Scope::parse("330102001000").unwrap(), s);
        assert!(Scope::everywhere().covers("11"));
        assert!(Scope::parse("3301x").is_err());
        assert_eq!(
            s.intersect(&Scope::parse("33").unwrap()).unwrap().prefix(),
            "330102001"
        );
        assert!(s.intersect(&Scope::parse("3302").unwrap()).is_none());
    }
}

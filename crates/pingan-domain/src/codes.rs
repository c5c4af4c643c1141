//! Region codes (12-digit statistical codes) and grid codes (15 digits).
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("code {0:?} must contain only ASCII digits")]
    NotDigits(String),
    #[error("code {code:?} has {len} digits; expected {expected}")]
    WrongLength {
        code: String,
        len: usize,
        expected: &'static str,
    },
    #[error("code {0:?} is not a well-formed region code (non-zero digits after its level)")]
    Malformed(String),
    #[error("unknown level {0:?}")]
    UnknownLevel(String),
}

/// Administrative level (行政层级). Grids (网格) sit below villages but are not regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 省
    Province,
    /// 市
    City,
    /// 县/区
    County,
    /// 乡/镇/街道
    Township,
    /// 村/社区
    Village,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ];

    /// How many leading digits of a 12-digit code identify a region of this level.
    pub const fn significant_digits(self) -> usize {
        match self {
            Level::Province => 2,
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    pub fn parent(self) -> Option<Level> {
        match self {
            Level::Province => None,
            Level::City => Some(Level::Province),
            Level::County => Some(Level::City),
            Level::Township => Some(Level::County),
            Level::Village => Some(Level::Township),
        }
    }

    /// The level whose codes have exactly `digits` significant digits.
    pub fn from_significant_digits(digits: usize) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.significant_digits() == digits)
    }
}

impl std::str::FromStr for Level {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| CodeError::UnknownLevel(s.to_string()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn check_digits(code: &str) -> Result<(), CodeError> {
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits(code.to_string()));
    }
    Ok(())
}

/// A region's 12-digit statistical code (统计用区划代码), e.g. `330102001001`.
///
/// Shorter forms used by the statistics bureau's files (2, 4, 6, 9 digits) are
/// padded with zeros; the level is kept because `330100000000` (a city) and the
/// same digits read as a county prefix must not be confused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RegionCode {
    code: String,
    level: Level,
}

impl RegionCode {
    /// Reads a code of 2, 4, 6, 9 or 12 digits as the level that length denotes.
    pub fn from_short(code: &str) -> Result<Self, CodeError> {
        check_digits(code)?;
        let level =
            Level::from_significant_digits(code.len()).ok_or_else(|| CodeError::WrongLength {
                code: code.to_string(),
                len: code.len(),
                expected: "2, 4, 6, 9 or 12",
            })?;
        let mut full = code.to_string();
        full.extend(std::iter::repeat_n('0', 12 - code.len()));
        Ok(RegionCode { code: full, level })
    }

    /// Reads a full 12-digit code of a known level, checking that the digits
    /// beyond the level are zero.
    pub fn new(code: &str, level: Level) -> Result<Self, CodeError> {
        check_digits(code)?;
        if code.len() != 12 {
            return Err(CodeError::WrongLength {
                code: code.to_string(),
                len: code.len(),
                expected: "12",
            });
        }
        if code[level.significant_digits()..]
            .bytes()
            .any(|b| b != b'0')
        {
            return Err(CodeError::Malformed(code.to_string()));
        }
        Ok(RegionCode {
            code: code.to_string(),
            level,
        })
    }

    /// Reads a 12-digit code and infers its level from its trailing zeros.
    /// Ambiguous only for codes whose own segment is zero, which the statistical
    /// scheme does not issue.
    pub fn infer(code: &str) -> Result<Self, CodeError> {
        check_digits(code)?;
        if code.len() != 12 {
            return Err(CodeError::WrongLength {
                code: code.to_string(),
                len: code.len(),
                expected: "12",
            });
        }
        let level = Level::ALL
            .into_iter()
            .find(|l| code[l.significant_digits()..].bytes().all(|b| b == b'0'))
            .unwrap_or(Level::Village);
        Ok(RegionCode {
            code: code.to_string(),
            level,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }

    pub fn level(&self) -> Level {
        self.level
    }

    /// The prefix every code in this region's subtree starts with.
    pub fn prefix(&self) -> &str {
        &self.code[..self.level.significant_digits()]
    }

    /// The code of the region one level up, if any.
    pub fn parent(&self) -> Option<RegionCode> {
        let parent = self.level.parent()?;
        RegionCode::from_short(&self.code[..parent.significant_digits()]).ok()
    }

    /// Codes of all ancestors from the province down, then this one.
    pub fn chain(&self) -> Vec<RegionCode> {
        Level::ALL
            .into_iter()
            .filter(|l| *l <= self.level)
            .filter_map(|l| RegionCode::from_short(&self.code[..l.significant_digits()]).ok())
            .collect()
    }

    /// Whether `other` (a region or grid code) lies within this region.
    pub fn contains_code(&self, other: &str) -> bool {
        other.starts_with(self.prefix())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// A grid's 15-digit code (网格编码): its village's 12-digit code plus a 3-digit sequence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridCode(String);

impl GridCode {
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        check_digits(code)?;
        if code.len() != 15 {
            return Err(CodeError::WrongLength {
                code: code.to_string(),
                len: code.len(),
                expected: "15",
            });
        }
        if &code[12..] == "000" {
            return Err(CodeError::Malformed(code.to_string()));
        }
        Ok(GridCode(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The village this grid belongs to.
    pub fn village(&self) -> RegionCode {
        RegionCode {
            code: self.0[..12].to_string(),
            level: Level::Village,
        }
    }
}

impl TryFrom<String> for GridCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        GridCode::parse(&s)
    }
}

impl From<GridCode> for String {
    fn from(g: GridCode) -> String {
        g.0
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_pad_and_keep_level() {
        let c = RegionCode::from_short("330102").unwrap();
        assert_eq!(c.as_str(), "330102000000");
        assert_eq!(c.level(), Level::County);
        assert_eq!(c.prefix(), "330102");
        assert_eq!(c.parent().unwrap().as_str(), "330100000000");
        let chain: Vec<_> = RegionCode::from_short("330102001001")
            .unwrap()
            .chain()
            .into_iter()
            .map(|c| c.prefix().to_string())
            .collect();
        assert_eq!(chain, ["33", "3301", "330102", "330102001", "330102001001"]);
    }

    #[test]
    fn malformed_codes_are_refused() {
        assert!(matches!(
            RegionCode::from_short("33a1"),
            Err(CodeError::NotDigits(_))
        ));
        assert!(matches!(
            RegionCode::from_short("33010"),
            Err(CodeError::WrongLength { .. })
        ));
        assert!(matches!(
            RegionCode::new("330102001000", Level::County),
            Err(CodeError::Malformed(_))
        ));
        assert!(GridCode::parse("330102001001000").is_err());
        assert!(GridCode::parse("33010200100100").is_err());
        let g = GridCode::parse("330102001001002").unwrap();
        assert_eq!(g.village().as_str(), "330102001001");
    }

    #[test]
    fn infer_reads_level_from_trailing_zeros() {
        assert_eq!(
            RegionCode::infer("330000000000").unwrap().level(),
            Level::Province
        );
        assert_eq!(
            RegionCode::infer("330102001000").unwrap().level(),
            Level::Township
        );
        assert!(RegionCode::from_short("3301")
            .unwrap()
            .contains_code("330102001001002"));
        assert!(!RegionCode::from_short("3302")
            .unwrap()
            .contains_code("330102001001002"));
    }
}

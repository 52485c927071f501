//! Odoo series: `16.0`, `saas~17.2`; read from base's `latest_version` (`16.0.1.3`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Majors Odoo has released; a target outside is refused as unknown.
pub const KNOWN_MAJORS: std::ops::RangeInclusive<u32> = 8..=19;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Series {
    pub major: u32,
    /// 0 for a major release, 1–5 for `saas~M.m`.
    pub minor: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SeriesError {
    #[error("{0:?} is not an Odoo version: write it as 17.0 (or saas~17.2)")]
    Syntax(String),
    #[error("{0} is not a released Odoo version (known: {first}.0 to {last}.0)", first = KNOWN_MAJORS.start(), last = KNOWN_MAJORS.end())]
    Unknown(String),
}

impl Series {
    pub const fn new(major: u32, minor: u32) -> Self {
        Series { major, minor }
    }

    /// The series of a module version such as `16.0.1.3` or `saas~17.2.1.0`.
    pub fn from_module_version(v: &str) -> Option<Series> {
        let (saas, rest) = match v.strip_prefix("saas~") {
            Some(r) => (true, r),
            None => (false, v),
        };
        let mut parts = rest.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        if !saas && minor != 0 {
            return None;
        }
        Some(Series { major, minor })
    }

    /// Parses a target the user typed, refusing versions Odoo never released.
    pub fn parse_target(s: &str) -> Result<Series, SeriesError> {
        let series = s.parse::<Series>()?;
        let minor_ok = series.minor == 0 || (1..=5).contains(&series.minor);
        if !KNOWN_MAJORS.contains(&series.major) || !minor_ok {
            return Err(SeriesError::Unknown(s.to_string()));
        }
        Ok(series)
    }

    pub fn is_saas(&self) -> bool {
        self.minor != 0
    }
}

impl FromStr for Series {
    type Err = SeriesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (saas, rest) = match t.strip_prefix("saas~") {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (maj, min) = rest
            .split_once('.')
            .ok_or_else(|| SeriesError::Syntax(s.to_string()))?;
        let major: u32 = maj
            .parse()
            .map_err(|_| SeriesError::Syntax(s.to_string()))?;
        let minor: u32 = min
            .parse()
            .map_err(|_| SeriesError::Syntax(s.to_string()))?;
        if saas == (minor == 0) {
            return Err(SeriesError::Syntax(s.to_string()));
        }
        Ok(Series { major, minor })
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor == 0 {
            write!(f, "{}.0", self.major)
        } else {
            write!(f, "saas~{}.{}", self.major, self.minor)
        }
    }
}

impl TryFrom<String> for Series {
    type Error = SeriesError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Series> for String {
    fn from(s: Series) -> String {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_versions() {
        assert_eq!(
            Series::from_module_version("16.0.1.3"),
            Some(Series::new(16, 0))
        );
        assert_eq!(
            Series::from_module_version("saas~17.2.1.0"),
            Some(Series::new(17, 2))
        );
        assert_eq!(Series::from_module_version("1.3"), None);
    }

    #[test]
    fn targets_and_order() {
        assert_eq!(Series::parse_target("17.0"), Ok(Series::new(17, 0)));
        assert!(matches!(
            Series::parse_target("17.5"),
            Err(SeriesError::Syntax(_))
        ));
        assert!(matches!(
            Series::parse_target("99.0"),
            Err(SeriesError::Unknown(_))
        ));
        assert!(matches!(
            Series::parse_target("banana"),
            Err(SeriesError::Syntax(_))
        ));
        assert!(Series::new(16, 0) < Series::new(17, 0));
        assert!(Series::new(17, 0) < Series::new(17, 2));
        assert_eq!(Series::new(17, 2).to_string(), "saas~17.2");
    }
}

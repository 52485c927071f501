//! Odoo series: `16.0`, `saas~17.2`; read from base's `latest_version` (`16.0.1.3`).
//! Known majors are a table with their release month; the default support window
//! is the table's last three majors (Odoo supports the last three).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Majors Odoo has released and the month each came out. Odoo releases one major
/// each autumn (17.0 came late, in November 2023); add a row when one comes out.
pub const MAJORS: &[(u32, &str)] = &[
    (8, "2014-09"),
    (9, "2015-10"),
    (10, "2016-10"),
    (11, "2017-10"),
    (12, "2018-10"),
    (13, "2019-10"),
    (14, "2020-10"),
    (15, "2021-10"),
    (16, "2022-10"),
    (17, "2023-11"),
    (18, "2024-10"),
    (19, "2025-09"),
    (20, "2026-09"),
];

/// The majors of [`MAJORS`] as a range (the last is the newest known).
pub const KNOWN_MAJORS: std::ops::RangeInclusive<u32> = 8..=20;

/// How many majors Odoo supports at a time.
pub const SUPPORTED_MAJORS: usize = 3;

pub fn newest_major() -> u32 {
    MAJORS
        .last()
        .map(|(m, _)| *m)
        .unwrap_or(*KNOWN_MAJORS.end())
}

/// The release month (`YYYY-MM`) of a major in the table.
pub fn release_month(major: u32) -> Option<&'static str> {
    MAJORS.iter().find(|(m, _)| *m == major).map(|(_, d)| *d)
}

/// Until when Odoo supports a major: until the third major after it comes out,
/// three years after its own release (`YYYY-MM`, approximate for unreleased ones).
pub fn supported_until(major: u32) -> Option<String> {
    let d = release_month(major)?;
    let (y, m) = d.split_once('-')?;
    Some(format!("{}-{m}", y.parse::<u32>().ok()? + 3))
}

/// The default support window: the table's last three majors.
pub fn default_window() -> Vec<String> {
    MAJORS
        .iter()
        .rev()
        .take(SUPPORTED_MAJORS)
        .rev()
        .map(|(m, _)| format!("{m}.0"))
        .collect()
}

/// Where a database's series stands against the support window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Support {
    pub series: String,
    pub supported: bool,
    /// `YYYY-MM` Odoo supports the major until, when it is in the table.
    pub until: Option<String>,
    pub window: Vec<String>,
    /// One line a user reads.
    pub summary: String,
}

pub fn support(series: Series, window: &[String]) -> Support {
    let major = Series::new(series.major, 0).to_string();
    let supported = window.contains(&major);
    let until = supported_until(series.major);
    let list = window.join(", ");
    let summary = if supported {
        match &until {
            Some(u) => format!("{series} is supported by Odoo (until about {u}; window {list})"),
            None => format!("{series} is in the support window ({list})"),
        }
    } else if series.major > newest_major() {
        format!(
            "{series} is newer than the versions this upgrade-pilot knows (up to {}.0)",
            newest_major()
        )
    } else {
        format!("{series} is out of Odoo's support window ({list}): plan an upgrade to one of them")
    };
    Support {
        series: series.to_string(),
        supported,
        until,
        window: window.to_vec(),
        summary,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Series {
    pub major: u32,
    /// 0 for a major release, 1–5 for `saas~M.m`.
    pub minor: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SeriesError {
    #[error("{0:?} is not an Odoo version: write it as {hint}", hint = hint(.0))]
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
    /// A major newer than the table is accepted ([`Series::is_beyond_table`]
    /// says so, for a warning): Odoo will have released it after this build.
    pub fn parse_target(s: &str) -> Result<Series, SeriesError> {
        let series = s.parse::<Series>()?;
        let minor_ok = series.minor == 0 || (1..=5).contains(&series.minor);
        if series.major < *KNOWN_MAJORS.start() || !minor_ok {
            return Err(SeriesError::Unknown(s.to_string()));
        }
        Ok(series)
    }

    /// A major newer than the last one this build knows.
    pub fn is_beyond_table(&self) -> bool {
        self.major > newest_major()
    }

    pub fn is_saas(&self) -> bool {
        self.minor != 0
    }
}

/// A valid form of what was typed: `18` → `18.0`, `saas~18` → `saas~18.1`,
/// `18.1` → `18.0 (or saas~18.1)`; the newest known major otherwise.
fn hint(typed: &str) -> String {
    let t = typed.trim();
    let (saas, rest) = match t.strip_prefix("saas~") {
        Some(r) => (true, r),
        None => (false, t.trim_start_matches(['v', 'V'])),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let after = rest[digits.len()..].strip_prefix('.').unwrap_or("");
    let minor: Option<u32> = after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=5).contains(m));
    match digits.parse::<u32>() {
        Ok(major) if saas => format!("saas~{major}.{}", minor.unwrap_or(1)),
        Ok(major) => match minor {
            Some(m) => format!("{major}.0 (or saas~{major}.{m})"),
            None => format!("{major}.0"),
        },
        Err(_) => format!("{}.0 (or saas~{}.1)", newest_major(), newest_major()),
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
        // Newer than the table: accepted, flagged for a warning.
        let newer = Series::parse_target("21.0").unwrap();
        assert!(newer.is_beyond_table());
        assert!(!Series::parse_target("20.0").unwrap().is_beyond_table());
        assert!(matches!(
            Series::parse_target("7.0"),
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

    #[test]
    fn the_hint_echoes_what_was_typed() {
        let msg = |s: &str| Series::parse_target(s).unwrap_err().to_string();
        assert!(msg("18").ends_with("write it as 18.0"), "{}", msg("18"));
        assert!(msg("18.1").ends_with("write it as 18.0 (or saas~18.1)"));
        assert!(msg("saas~18").ends_with("write it as saas~18.1"));
        assert!(msg("v19").ends_with("write it as 19.0"));
        assert!(msg("banana").ends_with("write it as 20.0 (or saas~20.1)"));
    }

    #[test]
    fn the_table_and_the_window() {
        assert_eq!(newest_major(), *KNOWN_MAJORS.end());
        assert_eq!(MAJORS.first().map(|m| m.0), Some(*KNOWN_MAJORS.start()));
        assert_eq!(default_window(), ["18.0", "19.0", "20.0"]);
        assert_eq!(supported_until(18).as_deref(), Some("2027-10"));
        let w = default_window();
        let s = support(Series::new(19, 0), &w);
        assert!(
            s.supported && s.summary.contains("until about 2028-09"),
            "{s:?}"
        );
        assert!(!support(Series::new(17, 0), &w).supported);
        assert!(support(Series::new(21, 0), &w).summary.contains("newer"));
    }
}

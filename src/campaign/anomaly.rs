//! Anomalies found while testing: what Odoo's support (or the integrator) needs
//! to reproduce them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Blocking,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Blocking,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Blocking => "blocking",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    /// Fixed in a new test database.
    Fixed,
    WontFix,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Fixed => "fixed in a new test",
            Status::WontFix => "won't fix",
        }
    }
    pub fn next(self) -> Status {
        match self {
            Status::Open => Status::Fixed,
            Status::Fixed => Status::WontFix,
            Status::WontFix => Status::Open,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub id: u32,
    pub title: String,
    pub area: String,
    pub severity: Severity,
    pub steps: String,
    pub expected: String,
    pub actual: String,
    /// Paths of screenshots or files, copied into the report bundle.
    #[serde(default)]
    pub files: Vec<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub test_db: Option<String>,
    #[serde(default)]
    pub checklist_item: Option<String>,
}

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

/// An anomaly the tool found itself (an OpenUpgrade hop's errors for one
/// module), waiting for the user to keep it (it becomes an [`Anomaly`]) or drop it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub id: u32,
    /// The job whose hop logged it.
    pub job: String,
    /// `16.0 → 17.0`.
    pub hop: String,
    /// The module being loaded when it went wrong (none: before any module).
    pub module: Option<String>,
    /// The worst level seen: ERROR or CRITICAL.
    pub level: String,
    /// The first lines of what the log said (tracebacks included).
    pub excerpt: String,
    /// How many error entries were grouped here.
    pub count: usize,
    /// The hop failed (not only logged errors it recovered from).
    pub failed_hop: bool,
    pub test_db: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Draft {
    pub fn title(&self) -> String {
        let first = self
            .excerpt
            .lines()
            .next()
            .map(|l| match crate::odoo::oulog::parse_line(l) {
                // Past the `DATE TIME PID LEVEL DB logger` prefix, and the
                // module's name OpenUpgrade repeats.
                Some(e) => {
                    let m = e.message;
                    self.module
                        .as_deref()
                        .and_then(|n| m.strip_prefix(n))
                        .and_then(|r| r.strip_prefix(": "))
                        .unwrap_or(m)
                }
                None => l,
            })
            .unwrap_or_default();
        let first: String = first.chars().take(100).collect();
        format!(
            "OpenUpgrade {}: {}: {first}",
            self.hop,
            self.module.as_deref().unwrap_or("(outside any module)")
        )
    }

    /// The anomaly the user keeps.
    pub fn into_anomaly(self, id: u32) -> Anomaly {
        Anomaly {
            id,
            title: self.title(),
            area: format!(
                "upgrade: {}",
                self.module.as_deref().unwrap_or("(outside any module)")
            ),
            severity: if self.failed_hop || self.level == "CRITICAL" {
                Severity::Blocking
            } else {
                Severity::High
            },
            steps: format!(
                "Run the OpenUpgrade hop {} (upgrade-pilot test --engine openupgrade, job {}).",
                self.hop, self.job
            ),
            expected: "The module migrates without errors.".into(),
            actual: self.excerpt,
            files: Vec::new(),
            status: Status::Open,
            created_at: Utc::now(),
            test_db: self.test_db,
            checklist_item: None,
        }
    }
}

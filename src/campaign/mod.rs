//! What a campaign remembers: one source (production) database on one server,
//! its test jobs and, later, checklist, anomalies, freeze and production records.

pub mod store;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use store::StoreError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Campaign {
    pub server: String,
    pub db: String,
    pub created_at: DateTime<Utc>,
    /// Test job ids, oldest first.
    #[serde(default)]
    pub test_jobs: Vec<String>,
}

/// File name for a campaign: readable prefix plus a hash, so any db name works.
fn file_name(server: &str, db: &str) -> String {
    let safe: String = db
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = hex::encode(&Sha256::digest(format!("{server}\0{db}").as_bytes())[..6]);
    format!("{safe}-{hash}.json")
}

pub fn campaigns_dir(state: &Path) -> PathBuf {
    state.join("campaigns")
}

pub fn path(state: &Path, server: &str, db: &str) -> PathBuf {
    campaigns_dir(state).join(file_name(server, db))
}

pub fn load(state: &Path, server: &str, db: &str) -> Result<Option<Campaign>, StoreError> {
    store::read_json(&path(state, server, db))
}

pub fn load_or_new(state: &Path, server: &str, db: &str) -> Result<Campaign, StoreError> {
    Ok(load(state, server, db)?.unwrap_or_else(|| Campaign {
        server: server.to_string(),
        db: db.to_string(),
        created_at: Utc::now(),
        test_jobs: Vec::new(),
    }))
}

pub fn save(state: &Path, c: &Campaign) -> Result<(), StoreError> {
    store::write_json(&path(state, &c.server, &c.db), c)
}

/// Every campaign in the state dir (damaged files are reported, not skipped).
pub fn all(state: &Path) -> Result<Vec<Campaign>, StoreError> {
    let dir = campaigns_dir(state);
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        if let Some(c) = store::read_json(&p)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether some campaign on this server treats `db` as its production database.
pub fn is_production(state: &Path, server: &str, db: &str) -> Result<bool, StoreError> {
    Ok(load(state, server, db)?.is_some())
}

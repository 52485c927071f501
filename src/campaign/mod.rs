//! What a campaign remembers: one source (production) database on one server,
//! its test jobs and, later, checklist, anomalies, freeze and production records.

pub mod anomaly;
pub mod checklist;
pub mod job;
pub mod report;
pub mod step;
pub mod store;
pub mod who;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use store::StoreError;

use crate::pg::activity::DbActivity;
use crate::pg::conn::IDENTITY_PREFIX;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Campaign {
    /// The server's identity ([`crate::pg::conn::ConnInfo::server_key`]).
    pub server: String,
    pub db: String,
    /// The address last used to reach the server, for messages.
    #[serde(default)]
    pub address: Option<String>,
    /// Production's `database.uuid`, once read: a copy carrying it is production's data.
    #[serde(default)]
    pub uuid: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Test job ids, oldest first.
    #[serde(default)]
    pub test_jobs: Vec<String>,
    /// Set while production is frozen.
    #[serde(default)]
    pub freeze: Option<Freeze>,
    /// Production job ids, oldest first.
    #[serde(default)]
    pub production_jobs: Vec<String>,
    /// A swap in progress or done (restore or rollback), journaled sub-step by sub-step.
    #[serde(default)]
    pub swap: Option<Swap>,
    /// Swaps completed, oldest first.
    #[serde(default)]
    pub history: Vec<Swap>,
    /// Checklist marks by item id.
    #[serde(default)]
    pub checklist: checklist::States,
    #[serde(default)]
    pub anomalies: Vec<anomaly::Anomaly>,
    /// Anomalies found by the tool (OpenUpgrade hop errors), to keep or drop.
    #[serde(default)]
    pub anomaly_drafts: Vec<anomaly::Draft>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Freeze {
    pub at: DateTime<Utc>,
    pub by: String,
    /// Odoo version of production when it was frozen (it cannot be read while frozen).
    pub series: String,
    pub base_version: String,
    pub sessions_ended: usize,
    #[serde(default)]
    pub uuid: Option<String>,
    /// The server's statistics of production once frozen: compared before a
    /// swap, they tell whether it was reopened since (a freeze lifted by hand).
    #[serde(default)]
    pub activity: Option<DbActivity>,
    /// Found frozen on the server and taken over by `freeze`.
    #[serde(default)]
    pub adopted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapKind {
    Restore,
    Rollback,
}

/// Sub-steps of a swap, in order. The database renames are one transaction:
/// once they are committed the swap is completed forward, never half-left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapState {
    Planned,
    DbRenamed,
    FilestoreAside,
    FilestoreIn,
    Reopened,
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Swap {
    pub kind: SwapKind,
    pub state: SwapState,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// When production accepted connections again (the end of its downtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<DateTime<Utc>>,
    /// The production name.
    pub prod: String,
    /// Where the database now under the production name goes.
    pub aside: String,
    /// The database that takes the production name.
    pub incoming: String,
    pub target: String,
    /// Leave production frozen after the swap (rollback --stay-frozen).
    #[serde(default)]
    pub stay_frozen: bool,
    #[serde(default)]
    pub production_job: Option<String>,
    /// A half-done restore being put back by `rollback`.
    #[serde(default)]
    pub reverting: bool,
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
        address: None,
        uuid: None,
        created_at: Utc::now(),
        test_jobs: Vec::new(),
        freeze: None,
        production_jobs: Vec::new(),
        swap: None,
        history: Vec::new(),
        checklist: Default::default(),
        anomalies: Vec::new(),
        anomaly_drafts: Vec::new(),
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

/// Every readable campaign, and the damaged files apart (for `status`, which
/// shows the others). Guards use [`all`], which stops at a damaged file: it
/// may be the one that marks a database as production.
pub fn all_readable(state: &Path) -> (Vec<Campaign>, Vec<StoreError>) {
    let mut out = Vec::new();
    let mut damaged = Vec::new();
    let Ok(entries) = std::fs::read_dir(campaigns_dir(state)) else {
        return (out, damaged);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    for p in paths {
        match store::read_json(&p) {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {}
            Err(e) => damaged.push(e),
        }
    }
    (out, damaged)
}

/// Whether a campaign's key may name `server`: the same identity, or an
/// address key from an older version (not migrated because it was made over
/// another address), which could be any server: guards count it.
fn may_be(campaign_server: &str, server: &str) -> bool {
    campaign_server == server || !campaign_server.starts_with(IDENTITY_PREFIX)
}

/// Moves campaigns keyed by `legacy` (the address this run uses, as older
/// versions keyed them) to the server's identity `key`. A file already
/// present under the new key is kept and the old one left alone.
pub fn migrate(state: &Path, legacy: &str, key: &str) -> Result<usize, StoreError> {
    if legacy == key {
        return Ok(0);
    }
    let (camps, _) = all_readable(state);
    let mut moved = 0;
    for c in camps.into_iter().filter(|c| c.server == legacy) {
        let old = path(state, legacy, &c.db);
        if path(state, key, &c.db).exists() {
            tracing::warn!(db = %c.db, old = %old.display(), "campaign under the old address key left alone: one exists under the server's identity");
            continue;
        }
        update(state, key, &c.db, |n| {
            *n = Campaign {
                server: key.to_string(),
                address: Some(legacy.to_string()),
                ..c.clone()
            }
        })?;
        std::fs::remove_file(&old).map_err(|source| StoreError::Io {
            path: old.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(old.with_extension("lock"));
        tracing::info!(db = %c.db, legacy, key, "campaign keyed by the server's identity now");
        moved += 1;
    }
    Ok(moved)
}

/// Every `database.uuid` known to be a production's, with its database name:
/// freeze records, campaigns and the sources of their jobs, on any server.
pub fn production_uuids(state: &Path) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for c in all(state)? {
        let mut push = |u: &Option<String>| {
            if let Some(u) = u.as_ref().filter(|u| !u.is_empty()) {
                out.push((u.clone(), c.db.clone()));
            }
        };
        push(&c.uuid);
        push(&c.freeze.as_ref().and_then(|f| f.uuid.clone()));
        for id in c.test_jobs.iter().chain(&c.production_jobs) {
            if let Some(j) = job::load(state, id)? {
                push(&j.source_uuid);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether `db` is some campaign's production database, or a database a swap
/// moved in or set aside (`_before_`, `_failed_`, the upgraded copy).
pub fn holds_production(state: &Path, server: &str, db: &str) -> Result<bool, StoreError> {
    if load(state, server, db)?.is_some() {
        return Ok(true);
    }
    for c in all(state)?.iter().filter(|c| may_be(&c.server, server)) {
        if c.db == db {
            return Ok(true);
        }
        if c.swap
            .iter()
            .chain(c.history.iter())
            .flat_map(|s| [&s.aside, &s.incoming])
            .any(|n| n == db)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// [`holds_production`], or a production working copy (`_upgrade_`): never
/// neutralized, never dropped by a test job.
pub fn is_production(state: &Path, server: &str, db: &str) -> Result<bool, StoreError> {
    if holds_production(state, server, db)? {
        return Ok(true);
    }
    for c in all(state)?.iter().filter(|c| may_be(&c.server, server)) {
        for id in &c.production_jobs {
            if job::load(state, id)?.is_some_and(|j| j.work_db == db) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Load, change, save under an exclusive lock on `<file>.lock`: the way every
/// writer changes a campaign, so that the TUI (checklist, anomalies) and a job
/// (jobs, freeze, swap) never undo each other's writes.
pub fn update(
    state: &Path,
    server: &str,
    db: &str,
    f: impl FnOnce(&mut Campaign),
) -> Result<Campaign, StoreError> {
    let file = path(state, server, db);
    store::ensure_dir(file.parent().unwrap_or(state))?;
    let lock_path = file.with_extension("lock");
    let lock_file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| StoreError::Io {
                path: lock_path.clone(),
                source,
            })?
    };
    let _guard = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive).map_err(
        |(_, e)| StoreError::Io {
            path: lock_path.clone(),
            source: std::io::Error::from(e),
        },
    )?;
    let mut c = load_or_new(state, server, db)?;
    f(&mut c);
    save(state, &c)?;
    Ok(c)
}

/// Adds drafts found by a job, numbered after the campaign's existing ones.
pub fn add_drafts(
    state: &Path,
    server: &str,
    db: &str,
    drafts: Vec<anomaly::Draft>,
) -> Result<Vec<anomaly::Draft>, StoreError> {
    let mut added = Vec::new();
    update(state, server, db, |c| {
        let first = c.anomaly_drafts.iter().map(|d| d.id).max().unwrap_or(0) + 1;
        for (id, mut d) in (first..).zip(drafts) {
            d.id = id;
            added.push(d.clone());
            c.anomaly_drafts.push(d);
        }
    })?;
    Ok(added)
}

/// Keeps a draft: it becomes an anomaly (returns its id), or drops it (`keep` false).
pub fn settle_draft(
    state: &Path,
    server: &str,
    db: &str,
    draft: u32,
    keep: bool,
) -> Result<Option<u32>, StoreError> {
    let mut kept = None;
    update(state, server, db, |c| {
        if let Some(i) = c.anomaly_drafts.iter().position(|d| d.id == draft) {
            let d = c.anomaly_drafts.remove(i);
            if keep {
                let id = c.anomalies.iter().map(|a| a.id).max().unwrap_or(0) + 1;
                c.anomalies.push(d.into_anomaly(id));
                kept = Some(id);
            }
        }
    })?;
    Ok(kept)
}

/// Writes the fields a job owns (jobs, freeze, swap, history) from `camp`,
/// keeping what the TUI wrote meanwhile (checklist, anomalies).
pub fn save_engine(state: &Path, camp: &Campaign) -> Result<(), StoreError> {
    update(state, &camp.server, &camp.db, |c| {
        c.test_jobs = camp.test_jobs.clone();
        c.production_jobs = camp.production_jobs.clone();
        c.freeze = camp.freeze.clone();
        c.swap = camp.swap.clone();
        c.uuid = camp.uuid.clone().or(c.uuid.take());
        c.address = camp.address.clone().or(c.address.take());
        c.history = camp.history.clone();
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let state = state.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        update(&state, "srv:5432", "prod", |c| {
                            c.test_jobs.push(format!("{t}-{i}"))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let c = load(&state, "srv:5432", "prod").unwrap().unwrap();
        assert_eq!(c.test_jobs.len(), 160, "every write kept");
    }

    #[test]
    fn an_engine_save_keeps_what_the_tui_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let engine_view = load_or_new(dir.path(), "srv:5432", "prod").unwrap();
        update(dir.path(), "srv:5432", "prod", |c| {
            c.checklist.insert(
                "views".into(),
                checklist::ItemState {
                    mark: Some(checklist::Mark::Pass),
                    note: String::new(),
                    at: Utc::now(),
                    test_db: None,
                },
            );
        })
        .unwrap();
        let mut later = engine_view;
        later.test_jobs.push("job-1".into());
        save_engine(dir.path(), &later).unwrap();
        let c = load(dir.path(), "srv:5432", "prod").unwrap().unwrap();
        assert_eq!(c.test_jobs, ["job-1"]);
        assert!(
            c.checklist.contains_key("views"),
            "the TUI's mark survived the job's save"
        );
    }
}

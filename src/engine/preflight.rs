//! Preflight: the checks and choices made before a job creates anything, and
//! the notes they leave for the user (shown before the job, logged with it).

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tokio_postgres::Client;

use super::job::{self, JobKind, JobRecord, JobStatus};
use super::lock::JobLock;
use super::plan::ReadyPlan;
use super::{Engine, EngineError};
use crate::campaign;
use crate::odoo::filestore;
use crate::odoo::inspect::{Inspection, human_size};
use crate::odoo::version::Series;
use crate::pg::ident::name_with_suffix;
use crate::pg::server;

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub level: Level,
    pub text: String,
}

/// How much a note matters: `warn` asks the user to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
}

/// A target newer than the version table is accepted, with this warning.
pub fn beyond_table_note(target: Series) -> Option<Note> {
    target.is_beyond_table().then(|| Note {
        level: Level::Warn,
        text: format!(
            "{target} is newer than the versions this upgrade-pilot knows (up to {}.0): its neutralization applies the newest rules where the schema matches",
            crate::odoo::version::newest_major()
        ),
    })
}

pub(super) fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

/// Modules left "to install/upgrade/remove" by an unfinished operation: refused.
pub(super) fn pending_refusal(i: &Inspection) -> Option<EngineError> {
    if i.pending.is_empty() {
        return None;
    }
    let list: Vec<String> = i
        .pending
        .iter()
        .map(|m| format!("{} ({})", m.name, m.state))
        .collect();
    Some(fail(format!(
        "modules left in a pending state by an unfinished operation: {}; finish or cancel it in Odoo first",
        list.join(", ")
    )))
}

/// What preflight opens and a job keeps until it ends.
pub(super) struct Held {
    pub maint: Client,
    pub major: u32,
    lock: JobLock,
    t0: Instant,
}

impl Held {
    pub fn into_job(
        self,
        record: JobRecord,
        plan: ReadyPlan,
        notes: Vec<Note>,
        resumed: bool,
        target: Series,
    ) -> PreparedJob {
        PreparedJob {
            record,
            plan,
            notes,
            resumed,
            target,
            major: self.major,
            maint: self.maint,
            lock: self.lock,
            preflight_seconds: self.t0.elapsed().as_secs_f64(),
        }
    }
}

/// What preflight hands a job: its record, its plan, and what it holds for
/// the run (the maintenance connection, the job lock).
pub struct PreparedJob {
    pub record: JobRecord,
    pub plan: ReadyPlan,
    pub notes: Vec<Note>,
    /// An unfinished earlier job is taken up again.
    pub resumed: bool,
    pub target: Series,
    pub(super) major: u32,
    pub(super) maint: Client,
    pub(super) lock: JobLock,
    pub(super) preflight_seconds: f64,
}

/// The campaign's earlier jobs of one kind, and what this run asks of them.
pub(super) struct Earlier<'a> {
    pub jobs: &'a [String],
    pub source: &'a str,
    pub target: Series,
    /// The copy's name given (`--test-db`): resumed only under that name.
    pub name: Option<&'a str>,
    /// Drop an unfinished earlier job instead of resuming it.
    pub discard: bool,
}

impl Engine {
    /// The start of every job's preflight: the server reached, the database
    /// there, and the job lock on it taken.
    pub(super) async fn hold(&self, db: &str) -> Result<Held, EngineError> {
        let t0 = Instant::now();
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}: check --db",
                self.conn.server()
            )));
        }
        let major = server::server_major(&maint).await?;
        let lock = super::lock::acquire(&self.conn, db).await?;
        Ok(Held {
            maint,
            major,
            lock,
            t0,
        })
    }

    /// A command that uses `{data_dir}` would fail only after the copy: refuse now.
    pub(super) fn check_data_dir_for(&self, plan: &ReadyPlan) -> Result<(), EngineError> {
        match (plan.needs_data_dir(), &self.data_dir) {
            (Some(step), None) => Err(fail(format!(
                "plan step {step:?} needs Odoo's data dir ({{data_dir}}) and none is known: give --data-dir, data_dir in the config, or --odoo-config"
            ))),
            _ => Ok(()),
        }
    }

    /// The plan file: given, or from `[plans]` in the config.
    pub(super) fn plan_for(
        &self,
        given: Option<&std::path::Path>,
        target: Series,
    ) -> Result<PathBuf, EngineError> {
        match given {
            Some(p) => Ok(p.to_path_buf()),
            None => self.config.plans.get(&target.to_string()).cloned().ok_or_else(|| {
                fail(format!("no upgrade plan for {target}: give --plan FILE, or set [plans] \"{target}\" in the config"))
            }),
        }
    }

    /// The last unfinished job among `jobs`: resumed when it goes to the same
    /// target (and name), dropped with `discard`, else refused if interrupted.
    pub(super) async fn resume_or_discard(
        &self,
        maint: &Client,
        major: u32,
        earlier: Earlier<'_>,
        notes: &mut Vec<Note>,
    ) -> Result<Option<JobRecord>, EngineError> {
        let Earlier {
            jobs,
            source,
            target,
            name,
            discard,
        } = earlier;
        let mut previous: Option<JobRecord> = None;
        for id in jobs.iter().rev() {
            if let Some(j) = job::load(&self.state_dir, id)? {
                if matches!(j.status, JobStatus::Running | JobStatus::Failed) {
                    previous = Some(j);
                }
                break;
            }
        }
        let Some(prev) = previous else {
            return Ok(None);
        };
        let kind = if prev.kind == JobKind::Test {
            "test"
        } else {
            "production"
        };
        let interrupted = prev.status == JobStatus::Running;
        let what = if interrupted { "interrupted" } else { "failed" };
        let same = prev.target == target.to_string() && name.is_none_or(|t| t == prev.work_db);
        if discard {
            self.discard(maint, major, prev.clone(), source).await?;
            notes.push(Note {
                level: Level::Info,
                text: format!(
                    "discarded the {what} {kind} job {} and dropped {:?}",
                    prev.id, prev.work_db
                ),
            });
            Ok(None)
        } else if same {
            notes.push(Note {
                level: Level::Info,
                text: format!(
                    "resuming the {what} {kind} job {} on {:?}",
                    prev.id, prev.work_db
                ),
            });
            Ok(Some(prev))
        } else if interrupted {
            Err(fail(format!(
                "an interrupted {kind} job to {} ({:?}) exists for {source:?}: run it again with --target {} to resume it, or add --discard",
                prev.target, prev.work_db, prev.target
            )))
        } else {
            Ok(None)
        }
    }

    /// `<db>_<kind>_<target>_<YYYY_MM_DD_HH_MM>`, or the name given, which must be free.
    pub(super) async fn pick_name(
        &self,
        maint: &Client,
        db: &str,
        kind: &str,
        target: Series,
        given: Option<&str>,
        notes: &mut Vec<Note>,
    ) -> Result<String, EngineError> {
        if let Some(name) = given {
            if server::db_exists(maint, name).await? {
                return Err(fail(format!(
                    "database {name:?} already exists: choose another --test-db or drop it"
                )));
            }
            return Ok(name.to_string());
        }
        // A name an earlier job of this campaign used is never taken again,
        // even when its database was renamed away (a rollback's `_failed_`):
        // its job record, log and backup keep naming it.
        let used: Vec<String> =
            match campaign::load(&self.state_dir, &self.server_key().await?, db)? {
                Some(c) => c
                    .test_jobs
                    .iter()
                    .chain(c.production_jobs.iter())
                    .filter_map(|id| job::load(&self.state_dir, id).ok().flatten())
                    .map(|j| j.work_db)
                    .collect(),
                None => Vec::new(),
            };
        let stamp = Utc::now().format("%Y_%m_%d_%H_%M");
        for n in 1..100 {
            let suffix = if n == 1 {
                format!("_{kind}_{target}_{stamp}")
            } else {
                format!("_{kind}_{target}_{stamp}_{n}")
            };
            let (name, shortened) = name_with_suffix(db, &suffix);
            if !used.contains(&name) && !server::db_exists(maint, &name).await? {
                if shortened {
                    notes.push(Note {
                        level: Level::Info,
                        text: format!(
                            "the source name was shortened to fit PostgreSQL's 63 bytes: {name:?}"
                        ),
                    });
                }
                return Ok(name);
            }
        }
        Err(fail(format!(
            "no free {kind} database name: drop old copies"
        )))
    }

    /// The role may create the copy and own it as `db`'s owner does (a superuser
    /// always may); `keeps` says what owning it keeps.
    pub(super) async fn check_rights(
        &self,
        maint: &Client,
        db: &str,
        keeps: &str,
    ) -> Result<server::RoleRights, EngineError> {
        let rights = server::role_rights(maint).await?;
        let name = &rights.name;
        if !rights.superuser && !rights.createdb {
            return Err(fail(format!(
                "role {name:?} cannot create databases: as a superuser run ALTER ROLE \"{name}\" CREATEDB, or connect as a role that can"
            )));
        }
        if !rights.superuser && !server::can_own(maint, db).await? {
            return Err(fail(format!(
                "role {name:?} does not own {db:?}: connect as its owner (db_user in odoo.conf) or a superuser, so {keeps}"
            )));
        }
        Ok(rights)
    }

    /// The source's filestore not found, or no data dir known: what `copy` will miss.
    pub(super) fn filestore_note(&self, db: &str, copy: &str) -> Option<Note> {
        let text = match &self.data_dir {
            Some(dd) if !filestore::path(dd, db).is_dir() => format!(
                "no filestore at {}: {copy} will have no attachments (images, PDFs)",
                filestore::path(dd, db).display()
            ),
            None => format!(
                "Odoo data dir unknown (--data-dir or odoo.conf data_dir): the filestore is not copied, {copy} will have no attachments"
            ),
            _ => return None,
        };
        Some(Note {
            level: Level::Warn,
            text,
        })
    }

    pub(super) async fn check_disk(
        &self,
        maint: &Client,
        rights: &server::RoleRights,
        need: i64,
        notes: &mut Vec<Note>,
    ) -> Result<(), EngineError> {
        // Only a local server with a readable data directory can be measured.
        if !(rights.superuser && self.conn.is_socket()) {
            notes.push(Note {
                level: Level::Info,
                text: format!(
                    "disk room on the server not checked: make sure {} are free",
                    human_size(need)
                ),
            });
            return Ok(());
        }
        let dir: String = maint.query_one("SHOW data_directory", &[]).await?.get(0);
        match nix::sys::statvfs::statvfs(dir.as_str()) {
            Ok(st) => {
                let free = st.blocks_available().saturating_mul(st.fragment_size()) as i64;
                if free < need + need / 10 {
                    return Err(fail(format!(
                        "not enough disk room for the copy: {} free in {dir}, {} needed; free some space first",
                        human_size(free),
                        human_size(need + need / 10)
                    )));
                }
                notes.push(Note {
                    level: Level::Ok,
                    text: format!(
                        "disk room: {} free, copy needs {}",
                        human_size(free),
                        human_size(need)
                    ),
                });
            }
            Err(_) => notes.push(Note {
                level: Level::Info,
                text: format!("disk room not checked ({dir} not readable here)"),
            }),
        }
        Ok(())
    }
}

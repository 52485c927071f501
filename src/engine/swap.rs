//! The swap into place (DESIGN.md §4, step 9) and its reverse. Both database
//! renames run in one transaction; the filestore renames and the reopening
//! follow, each sub-step journaled in the campaign file. A run killed anywhere
//! is completed forward on the next start: the renamed databases are the
//! commit point, and every later sub-step is idempotent.

use chrono::Utc;
use serde::Serialize;
use tokio_postgres::Client;

use super::emit::crash_point;
use super::freeze::{allow, block_and_end_sessions};
use super::job::{self, JobKind, JobStatus};
use super::{Engine, EngineError, hook, lock};
use crate::campaign::{self, Campaign, Freeze, Swap, SwapKind, SwapState};
use crate::odoo::filestore;
use crate::odoo::inspect;
use crate::odoo::verify::Check;
use crate::pg::ident::{check_db_name, name_with_suffix, quote_ident};
use crate::pg::server;

#[derive(Debug, Clone, Serialize)]
pub struct SwapOutcome {
    pub swap: Swap,
    pub checks: Vec<Check>,
    /// True when this run only finished a swap an earlier run had started.
    pub recovered: bool,
}

fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

/// What `restore` would do now, for `status` and confirmations.
pub fn describe(s: &Swap) -> String {
    match s.kind {
        SwapKind::Restore => format!(
            "{:?} → {:?}, upgraded {:?} → {:?}",
            s.prod, s.aside, s.incoming, s.prod
        ),
        SwapKind::Rollback => format!(
            "{:?} (upgraded) → {:?}, {:?} → {:?}",
            s.prod, s.aside, s.incoming, s.prod
        ),
    }
}

impl Engine {
    fn save_swap(&self, camp: &mut Campaign, swap: &Swap) -> Result<(), EngineError> {
        camp.swap = Some(swap.clone());
        campaign::save_engine(&self.state_dir, camp)?;
        Ok(())
    }

    /// Finishes a swap left half-done by a killed run (no-op when none).
    pub async fn recover_swap(&self, db: &str) -> Result<Option<SwapOutcome>, EngineError> {
        let key = self.conn.server_key();
        let Some(camp) = campaign::load(&self.state_dir, &key, db)? else {
            return Ok(None);
        };
        let Some(swap) = camp.swap.clone() else {
            return Ok(None);
        };
        let maint = self.conn.connect_maintenance().await?;
        let renamed = server::db_exists(&maint, &swap.aside).await?
            && !server::db_exists(&maint, &swap.incoming).await?;
        if swap.state == SwapState::Planned && !renamed {
            // Killed before the renames: nothing moved. Revert (forget it)
            // rather than swap on behalf of whatever command runs next.
            tracing::warn!(db, "forgetting a swap that never started");
            let mut camp = camp;
            camp.swap = None;
            campaign::save_engine(&self.state_dir, &camp)?;
            return Ok(None);
        }
        tracing::warn!(db, state = ?swap.state, "completing an interrupted swap");
        let out = self.advance(&maint, camp, swap).await?;
        Ok(Some(SwapOutcome {
            recovered: true,
            ..out
        }))
    }

    async fn advance(
        &self,
        maint: &Client,
        mut camp: Campaign,
        mut swap: Swap,
    ) -> Result<SwapOutcome, EngineError> {
        if swap.state < SwapState::DbRenamed {
            let renamed = server::db_exists(maint, &swap.aside).await?
                && !server::db_exists(maint, &swap.incoming).await?;
            if !renamed {
                if !server::db_exists(maint, &swap.incoming).await?
                    || !server::db_exists(maint, &swap.prod).await?
                {
                    // Nothing was renamed and a side is missing: revert (forget the swap).
                    camp.swap = None;
                    campaign::save_engine(&self.state_dir, &camp)?;
                    return Err(fail(format!(
                        "cannot swap: {:?} or {:?} is missing; nothing was changed",
                        swap.prod, swap.incoming
                    )));
                }
                // Nobody may use the incoming copy until it is reopened under the production name.
                block_and_end_sessions(maint, &swap.incoming).await?;
                block_and_end_sessions(maint, &swap.prod).await?;
                maint
                    .batch_execute(&format!(
                        "BEGIN; ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} RENAME TO {}; COMMIT;",
                        quote_ident(&swap.prod),
                        quote_ident(&swap.aside),
                        quote_ident(&swap.incoming),
                        quote_ident(&swap.prod)
                    ))
                    .await
                    .map_err(|e| {
                        fail(format!("renaming the databases failed, nothing was changed: {}", crate::pg::db_message(&e)))
                    })?;
                crash_point("swap:db-renamed");
            }
            swap.state = SwapState::DbRenamed;
            self.save_swap(&mut camp, &swap)?;
        }
        if let Some(dd) = &self.data_dir {
            let rename = |from: &str, to: &str| -> Result<(), EngineError> {
                let (f, t) = (filestore::path(dd, from), filestore::path(dd, to));
                if f.is_dir() && !t.exists() {
                    std::fs::rename(&f, &t).map_err(|e| {
                        EngineError::Io(format!("filestore {} → {}: {e}", f.display(), t.display()))
                    })?;
                }
                Ok(())
            };
            if swap.state < SwapState::FilestoreAside {
                // Only when the incoming filestore is still where it was: else this already ran.
                if filestore::path(dd, &swap.incoming).is_dir()
                    || !filestore::path(dd, &swap.aside).exists()
                {
                    rename(&swap.prod, &swap.aside)?;
                }
                crash_point("swap:filestore-aside");
                swap.state = SwapState::FilestoreAside;
                self.save_swap(&mut camp, &swap)?;
            }
            if swap.state < SwapState::FilestoreIn {
                rename(&swap.incoming, &swap.prod)?;
                crash_point("swap:filestore-in");
                swap.state = SwapState::FilestoreIn;
                self.save_swap(&mut camp, &swap)?;
            }
        } else if swap.state < SwapState::FilestoreIn {
            swap.state = SwapState::FilestoreIn;
            self.save_swap(&mut camp, &swap)?;
        }
        if swap.state < SwapState::Reopened {
            if !swap.stay_frozen {
                allow(maint, &swap.prod).await?;
                hook::run("start", &self.config.freeze.start).await?;
                camp.freeze = None;
            }
            swap.state = SwapState::Reopened;
            self.save_swap(&mut camp, &swap)?;
        }
        let mut checks = Vec::new();
        if !swap.stay_frozen {
            let c = self.conn.connect(&swap.prod).await?;
            let (series, version, _) = inspect::base_version(&c, &swap.prod).await?;
            checks.push(Check {
                name: "connections".into(),
                ok: true,
                detail: format!("{:?} accepts connections", swap.prod),
            });
            checks.push(Check {
                name: "version".into(),
                ok: series.to_string() == swap.target,
                detail: format!("{:?} is at {version} (expected {})", swap.prod, swap.target),
            });
        }
        swap.state = SwapState::Done;
        swap.finished_at = Some(Utc::now());
        camp.swap = None;
        camp.history.push(swap.clone());
        campaign::save_engine(&self.state_dir, &camp)?;
        Ok(SwapOutcome {
            swap,
            checks,
            recovered: false,
        })
    }

    /// Puts the ready upgraded copy in place of production.
    pub async fn restore(&self, db: &str) -> Result<SwapOutcome, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}",
                self.conn.server()
            )));
        }
        let _lock = lock::acquire(&self.conn, db).await?;
        if let Some(done) = self.recover_swap(db).await? {
            return Ok(done);
        }
        let plan = self.plan_restore(&maint, db).await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &self.conn.server_key(), db)?;
        // Journaled before anything moves, so a crash at any point is completed on the next start.
        self.save_swap(&mut camp, &plan)?;
        crash_point("swap:planned");
        self.advance(&maint, camp, plan).await
    }

    /// The swap `restore` would do, or why it cannot.
    pub async fn plan_restore(&self, maint: &Client, db: &str) -> Result<Swap, EngineError> {
        let camp = campaign::load(&self.state_dir, &self.conn.server_key(), db)?
            .ok_or_else(|| fail(format!("no upgraded copy of {db:?} is ready: freeze it and run upgrade-pilot production first")))?;
        let job = match camp.production_jobs.last() {
            Some(id) => job::load(&self.state_dir, id)?,
            None => None,
        };
        let job = job
            .filter(|j| j.kind == JobKind::Production && j.status == JobStatus::Ready)
            .ok_or_else(|| fail(format!("no upgraded copy of {db:?} is ready: run upgrade-pilot production --db {db:?} first")))?;
        if camp
            .history
            .iter()
            .any(|s| s.kind == SwapKind::Restore && s.incoming == job.work_db)
        {
            return Err(fail(format!(
                "{:?} was already restored into {db:?}; run production again for a new upgrade",
                job.work_db
            )));
        }
        if !server::db_exists(maint, &job.work_db).await? {
            return Err(fail(format!(
                "the upgraded copy {:?} is gone: run production again",
                job.work_db
            )));
        }
        // Never a neutralized or foreign database into production (issue 10, case 2).
        self.golive_before_restore(&job).await?;
        if camp.freeze.is_none() || server::allows_connections(maint, db).await? {
            return Err(fail(format!(
                "production {db:?} is not frozen: freeze it before the swap (upgrade-pilot freeze --db {db:?})"
            )));
        }
        let stamp = Utc::now().format("%Y_%m_%d_%H_%M");
        let (aside, _) = name_with_suffix(db, &format!("_before_{}_{stamp}", job.target));
        if server::db_exists(maint, &aside).await? {
            return Err(fail(format!(
                "{aside:?} already exists: wait a minute or drop it"
            )));
        }
        Ok(Swap {
            kind: SwapKind::Restore,
            state: SwapState::Planned,
            started_at: Utc::now(),
            finished_at: None,
            prod: db.to_string(),
            aside,
            incoming: job.work_db.clone(),
            target: job.target.clone(),
            stay_frozen: false,
            production_job: Some(job.id.clone()),
        })
    }

    /// Puts the pre-upgrade database back; the upgraded one is kept as `_failed_`.
    pub async fn rollback(&self, db: &str, stay_frozen: bool) -> Result<SwapOutcome, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        let _lock = lock::acquire(&self.conn, db).await?;
        if let Some(done) = self.recover_swap(db).await? {
            return Ok(done);
        }
        let swap = self.plan_rollback(&maint, db, stay_frozen).await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &self.conn.server_key(), db)?;
        // The upgraded production may be in use again: stop Odoo, block, end sessions.
        if server::allows_connections(&maint, db).await? {
            let (series, base_version) = {
                let c = self.conn.connect(db).await?;
                let (s, b, _) = inspect::base_version(&c, db).await?;
                (s.to_string(), b)
            };
            hook::run("stop", &self.config.freeze.stop).await?;
            let ended = block_and_end_sessions(&maint, db).await?;
            camp.freeze = Some(Freeze {
                at: Utc::now(),
                by: super::freeze::os_user(),
                series,
                base_version,
                sessions_ended: ended,
                uuid: None,
            });
        }
        self.save_swap(&mut camp, &swap)?;
        self.advance(&maint, camp, swap).await
    }

    pub async fn plan_rollback(
        &self,
        maint: &Client,
        db: &str,
        stay_frozen: bool,
    ) -> Result<Swap, EngineError> {
        let camp = campaign::load(&self.state_dir, &self.conn.server_key(), db)?
            .ok_or_else(|| fail(format!("no campaign for {db:?}: nothing to roll back")))?;
        let last = camp
            .history
            .iter()
            .rev()
            .find(|s| s.kind == SwapKind::Restore)
            .filter(|s| {
                !camp
                    .history
                    .iter()
                    .any(|r| r.kind == SwapKind::Rollback && r.started_at > s.started_at)
            })
            .ok_or_else(|| fail(format!("{db:?} has no restore to roll back")))?;
        if !server::db_exists(maint, &last.aside).await? {
            return Err(fail(format!(
                "the pre-upgrade database {:?} is gone: cannot roll back",
                last.aside
            )));
        }
        let before = camp.freeze.as_ref().map(|f| f.series.clone());
        let expected = match camp
            .production_jobs
            .iter()
            .rev()
            .find_map(|id| job::load(&self.state_dir, id).ok().flatten())
        {
            Some(j) => crate::odoo::version::Series::from_module_version(&j.source_version)
                .map(|s| s.to_string()),
            None => before,
        };
        let stamp = Utc::now().format("%Y_%m_%d_%H_%M");
        let (aside, _) = name_with_suffix(db, &format!("_failed_{stamp}"));
        if server::db_exists(maint, &aside).await? {
            return Err(fail(format!(
                "{aside:?} already exists: wait a minute or drop it"
            )));
        }
        Ok(Swap {
            kind: SwapKind::Rollback,
            state: SwapState::Planned,
            started_at: Utc::now(),
            finished_at: None,
            prod: db.to_string(),
            aside,
            incoming: last.aside.clone(),
            target: expected.unwrap_or_default(),
            stay_frozen,
            production_job: last.production_job.clone(),
        })
    }
}

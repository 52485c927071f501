//! The swap into place (docs/DESIGN.md, step 9) and its reverse. Both database
//! renames run in one transaction; the filestore renames and the reopening
//! follow, each sub-step journaled in the campaign file. A swap killed after
//! its renames is half done: `restore` finishes a half-done restore, `rollback`
//! reverts it (or finishes a half-done rollback), and every other command
//! refuses, naming the command that finishes or reverts it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::emit::crash_point;
use super::freeze::{activity_of, allow, block_and_end_sessions};
use super::job::{self, JobKind, JobRecord, JobStatus};
use super::step::Step;
use super::{Engine, EngineError, hook, lock};
use crate::campaign::{self, Campaign, Freeze, Swap, SwapKind, SwapState};
use crate::odoo::filestore;
use crate::odoo::inspect;
use crate::odoo::verify::Check;
use crate::pg::activity::Change;
use crate::pg::ident::{check_db_name, name_with_suffix, quote_ident};
use crate::pg::server;

#[derive(Debug, Clone, Serialize)]
pub struct SwapOutcome {
    pub swap: Swap,
    pub checks: Vec<Check>,
    /// True when this run only finished a swap an earlier run had started.
    pub recovered: bool,
    /// This restore was done already: nothing was changed.
    pub already_done: bool,
    /// A half-done restore was put back (by rollback): production is the original.
    pub reverted: bool,
    /// The start hook's failure, reported apart: the swap itself is done.
    pub hook_error: Option<String>,
}

impl SwapOutcome {
    fn new(swap: Swap) -> Self {
        SwapOutcome {
            swap,
            checks: Vec::new(),
            recovered: false,
            already_done: false,
            reverted: false,
            hook_error: None,
        }
    }
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

/// What a rollback leaves behind, said before it is confirmed.
pub fn rollback_warning(s: &Swap) -> String {
    format!(
        "writes made on the upgraded production since the swap stay in {:?}, not in the database rolled back into {:?}",
        s.aside, s.prod
    )
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn state_words(s: SwapState) -> &'static str {
    match s {
        SwapState::Planned => "planned, nothing moved",
        SwapState::DbRenamed => "databases renamed, filestores not moved",
        SwapState::FilestoreAside => "databases renamed, filestore half moved",
        SwapState::FilestoreIn => "databases and filestores moved, not reopened",
        SwapState::Reopened | SwapState::Done => "moved and reopened, not checked",
    }
}

/// One line: what is half done, and the command that finishes or reverts it.
pub fn half_done_message(s: &Swap) -> String {
    let db = &s.prod;
    match (s.kind, s.reverting) {
        (SwapKind::Restore, false) => format!(
            "a restore of {db:?} is half done ({}): finish it with upgrade-pilot restore --db {db:?}, or revert it with upgrade-pilot rollback --db {db:?}",
            state_words(s.state)
        ),
        (SwapKind::Restore, true) => format!(
            "the revert of a half-done restore of {db:?} is itself half done: finish it with upgrade-pilot rollback --db {db:?}"
        ),
        (SwapKind::Rollback, _) => format!(
            "a rollback of {db:?} is half done ({}): finish it with upgrade-pilot rollback --db {db:?}",
            state_words(s.state)
        ),
    }
}

/// Whether the renames of `swap` are committed (the incoming name is gone).
async fn renamed(maint: &Client, swap: &Swap) -> Result<bool, EngineError> {
    Ok(server::db_exists(maint, &swap.aside).await?
        && !server::db_exists(maint, &swap.incoming).await?)
}

impl Engine {
    fn save_swap(&self, camp: &mut Campaign, swap: &Swap) -> Result<(), EngineError> {
        camp.swap = Some(swap.clone());
        campaign::save_engine(&self.state_dir, camp)?;
        Ok(())
    }

    /// The swap left half done by a killed run, if any. One killed before its
    /// renames moved nothing: it is forgotten, never done on behalf of
    /// whatever command runs next. Forgotten only by a caller holding the job
    /// lock (`locked`): without it, the swap may be a running restore's,
    /// between its journal and its renames.
    async fn half_done(
        &self,
        maint: &Client,
        db: &str,
        locked: bool,
    ) -> Result<Option<(Campaign, Swap)>, EngineError> {
        let key = self.server_key().await?;
        let Some(mut camp) = campaign::load(&self.state_dir, &key, db)? else {
            return Ok(None);
        };
        let Some(swap) = camp.swap.clone() else {
            return Ok(None);
        };
        if let Some(why) = self.foreign_name(&camp, &swap)? {
            return Err(fail(format!(
                "{}: its swap journal names {why}, which this campaign did not make: the file was edited; put it back as it was (nothing was moved)",
                campaign::path(&self.state_dir, &key, db).display()
            )));
        }
        if swap.state == SwapState::Planned && !swap.reverting && !renamed(maint, &swap).await? {
            if locked {
                tracing::warn!(db, "forgetting a swap that never started");
                camp.swap = None;
                campaign::save_engine(&self.state_dir, &camp)?;
            }
            return Ok(None);
        }
        Ok(Some((camp, swap)))
    }

    /// A name in the journal of `swap` that the campaign did not make, if
    /// any: the journal says which databases to rename, so one edited by hand
    /// would rename others. Production is the campaign's; the database coming
    /// in is one of its production copies (a restore) or the one a restore
    /// set aside (a rollback); the one going aside has the name the swap gives.
    fn foreign_name(&self, camp: &Campaign, swap: &Swap) -> Result<Option<String>, EngineError> {
        if swap.prod != camp.db {
            return Ok(Some(format!("{:?} as production", swap.prod)));
        }
        let (incoming_ok, mark) = match swap.kind {
            SwapKind::Restore => {
                let mut copies = Vec::new();
                for id in &camp.production_jobs {
                    if let Some(j) = job::load(&self.state_dir, id)? {
                        copies.push(j.work_db);
                    }
                }
                (copies.contains(&swap.incoming), "_before_")
            }
            SwapKind::Rollback => (
                camp.history
                    .iter()
                    .any(|h| h.kind == SwapKind::Restore && h.aside == swap.incoming),
                "_failed_",
            ),
        };
        if !incoming_ok {
            return Ok(Some(format!(
                "{:?} as the database coming in",
                swap.incoming
            )));
        }
        let shaped = swap
            .aside
            .rfind(mark)
            .is_some_and(|i| name_with_suffix(&camp.db, &swap.aside[i..]).0 == swap.aside);
        if !shaped {
            return Ok(Some(format!(
                "{:?} as the name production goes aside to",
                swap.aside
            )));
        }
        Ok(None)
    }

    /// The swap a killed run left half done, if any (for confirmations and
    /// `status`, before the job lock is taken: nothing is changed).
    pub async fn half_done_swap(
        &self,
        maint: &Client,
        db: &str,
    ) -> Result<Option<Swap>, EngineError> {
        Ok(self.half_done(maint, db, false).await?.map(|(_, s)| s))
    }

    /// For every command but restore and rollback, under the job lock: a
    /// half-done swap is refused, naming the command that finishes or reverts it.
    pub async fn refuse_half_done_swap(&self, maint: &Client, db: &str) -> Result<(), EngineError> {
        match self.half_done(maint, db, true).await? {
            Some((_, swap)) => Err(fail(half_done_message(&swap))),
            None => Ok(()),
        }
    }

    async fn advance(
        &self,
        maint: &Client,
        mut camp: Campaign,
        mut swap: Swap,
    ) -> Result<SwapOutcome, EngineError> {
        if swap.state < SwapState::DbRenamed {
            if !renamed(maint, &swap).await? {
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
                let incoming_open = server::allows_connections(maint, &swap.incoming).await?;
                // Nobody may use the incoming copy until it is reopened under the production name.
                block_and_end_sessions(maint, &swap.incoming).await?;
                block_and_end_sessions(maint, &swap.prod).await?;
                // Checked again now that nobody can connect: the last moment
                // production could have been reopened behind the plan's back.
                if swap.kind == SwapKind::Restore {
                    if let Some(why) = self.stale_copy(maint, &camp, &swap).await? {
                        camp.swap = None;
                        campaign::save_engine(&self.state_dir, &camp)?;
                        if incoming_open {
                            allow(maint, &swap.incoming).await?;
                        }
                        return Err(fail(why));
                    }
                }
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
        let mut hook_error = None;
        if swap.state < SwapState::Reopened {
            if swap.stay_frozen {
                // Another database now carries the name: its freeze is recorded afresh.
                camp.freeze = Some(self.freeze_after_swap(maint, &camp, &swap).await?);
            } else {
                allow(maint, &swap.prod).await?;
                camp.freeze = None;
                swap.reopened_at = Some(Utc::now());
            }
            swap.state = SwapState::Reopened;
            self.save_swap(&mut camp, &swap)?;
            // The swap is done whatever the hook does: its failure is reported
            // apart, and never stands in the way of a rollback.
            if !swap.stay_frozen {
                hook_error = hook::run("start", &self.config.freeze.start)
                    .await
                    .err()
                    .map(|e| e.to_string());
            }
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
            checks,
            hook_error,
            ..SwapOutcome::new(swap)
        })
    }

    /// The freeze record of the database a swap left frozen under the
    /// production name: its version is the one the swap expects, and the
    /// server's statistics are taken now, for that database.
    async fn freeze_after_swap(
        &self,
        maint: &Client,
        camp: &Campaign,
        swap: &Swap,
    ) -> Result<Freeze, EngineError> {
        let job = match &swap.production_job {
            Some(id) => job::load(&self.state_dir, id)?,
            None => None,
        };
        let (base_version, uuid) = match (swap.kind, &job) {
            (SwapKind::Rollback, Some(j)) => (j.source_version.clone(), j.source_uuid.clone()),
            _ => (
                camp.freeze
                    .as_ref()
                    .map(|f| f.base_version.clone())
                    .unwrap_or_default(),
                camp.uuid.clone(),
            ),
        };
        Ok(Freeze {
            at: Utc::now(),
            by: crate::campaign::who::os_user(),
            series: swap.target.clone(),
            base_version,
            sessions_ended: 0,
            uuid,
            activity: activity_of(maint, &swap.prod).await?,
            adopted: false,
        })
    }

    /// Puts the ready upgraded copy in place of production; finishes a
    /// half-done restore; says so when it was done already.
    pub async fn restore(&self, db: &str) -> Result<SwapOutcome, EngineError> {
        let out = self.restore_inner(db).await;
        out.map_err(|e| self.lost(e, "restore", db))
    }

    /// A lost server said as what it means for the swap, not as a raw
    /// "connection closed": the journal knows how far it got.
    fn lost(&self, e: EngineError, what: &str, db: &str) -> EngineError {
        if !e.is_connection_loss() {
            return e;
        }
        fail(format!(
            "lost PostgreSQL at {} during the {what} of {db:?} ({e}); its journal says how far it got: once the server is back, run upgrade-pilot {what} --db {db:?} again to go on",
            self.conn.server()
        ))
    }

    async fn restore_inner(&self, db: &str) -> Result<SwapOutcome, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}",
                self.conn.server()
            )));
        }
        let _lock = lock::acquire(&self.conn, db).await?;
        if let Some((camp, swap)) = self.half_done(&maint, db, true).await? {
            if swap.kind != SwapKind::Restore || swap.reverting {
                return Err(fail(half_done_message(&swap)));
            }
            tracing::warn!(db, state = ?swap.state, "completing an interrupted restore");
            let out = self.advance(&maint, camp, swap).await?;
            return Ok(SwapOutcome {
                recovered: true,
                ..out
            });
        }
        if let Some(done) = self.restore_done(db).await? {
            return Ok(SwapOutcome {
                already_done: true,
                ..SwapOutcome::new(done)
            });
        }
        let plan = self.plan_restore(&maint, db).await?;
        self.comparison_accepted(&plan, db)?;
        let mut camp = campaign::load_or_new(&self.state_dir, &self.server_key().await?, db)?;
        // Journaled before anything moves, so a crash at any point is completed on the next start.
        self.save_swap(&mut camp, &plan)?;
        crash_point("swap:planned");
        super::emit::pause_point("swap:planned").await;
        self.advance(&maint, camp, plan).await
    }

    /// The restore of the last ready upgraded copy, when it is done and not rolled back.
    /// The production comparison's differences must have been seen and
    /// accepted (the CLI and the TUI ask): never swapped in unseen.
    fn comparison_accepted(&self, plan: &Swap, db: &str) -> Result<(), EngineError> {
        let Some(id) = plan.production_job.as_deref() else {
            return Ok(());
        };
        let Some(job) = job::load(&self.state_dir, id)? else {
            return Ok(());
        };
        match job.comparison.as_ref().filter(|c| !c.ok()) {
            Some(c) if job.comparison_acknowledged.is_none() => Err(fail(format!(
                "refusing to restore {:?}: it differs from production in {} row(s) nobody acknowledged; run upgrade-pilot restore --db {db:?} (it shows them and asks) or acknowledge them on the Restore screen",
                job.work_db,
                c.difference_count()
            ))),
            _ => Ok(()),
        }
    }

    pub async fn restore_done(&self, db: &str) -> Result<Option<Swap>, EngineError> {
        let Some(camp) = campaign::load(&self.state_dir, &self.server_key().await?, db)? else {
            return Ok(None);
        };
        let Some(last) = camp.history.last() else {
            return Ok(None);
        };
        let latest = camp.production_jobs.last();
        Ok((last.kind == SwapKind::Restore
            && camp.swap.is_none()
            && latest.is_some()
            && last.production_job.as_ref() == latest)
            .then(|| last.clone()))
    }

    /// Why the upgraded copy cannot replace production now: production was
    /// reopened after the copy was taken, so what was written since is not in
    /// it. Told from the freeze record (the copy must be taken under the
    /// freeze in force) and from the server itself (client sessions opened
    /// since that freeze, sessions connected now), since a freeze can be
    /// lifted by hand without the tool knowing.
    async fn stale_copy(
        &self,
        maint: &Client,
        camp: &Campaign,
        swap: &Swap,
    ) -> Result<Option<String>, EngineError> {
        let db = &swap.prod;
        let job = match &swap.production_job {
            Some(id) => job::load(&self.state_dir, id)?,
            None => None,
        };
        let Some(job) = job else {
            return Ok(None);
        };
        let Some(freeze) = &camp.freeze else {
            return Ok(None);
        };
        stale_reason(maint, db, freeze, &job, &restore_advice(db)).await
    }

    /// The name a swap sets a database aside to is free, for the database and
    /// for its filestore: the filestore moves skip a taken name (they are
    /// rerun after a crash), so a folder already there would silently stay in
    /// place of the one set aside.
    async fn check_aside_free(&self, maint: &Client, aside: &str) -> Result<(), EngineError> {
        if server::db_exists(maint, aside).await? {
            return Err(fail(format!(
                "{aside:?} already exists on the server: wait a minute (the name carries the minute) or rename it"
            )));
        }
        if let Some(dd) = &self.data_dir {
            let p = filestore::path(dd, aside);
            if p.symlink_metadata().is_ok() {
                return Err(fail(format!(
                    "the filestore folder {} already exists: wait a minute (the name carries the minute) or move it away",
                    p.display()
                )));
            }
        }
        Ok(())
    }

    /// The swap `restore` would do, or why it cannot.
    pub async fn plan_restore(&self, maint: &Client, db: &str) -> Result<Swap, EngineError> {
        let camp = campaign::load(&self.state_dir, &self.server_key().await?, db)?
            .ok_or_else(|| fail(format!("no upgraded copy of {db:?} is ready: freeze it and run upgrade-pilot production first")))?;
        if let Some(s) = self.half_done_swap(maint, db).await? {
            return Err(fail(half_done_message(&s)));
        }
        let job = match camp.production_jobs.last() {
            Some(id) => job::load(&self.state_dir, id)?,
            None => None,
        };
        // Never without a way back: the backup taken alongside the plan must
        // be finished and readable (issue 15).
        if let Some(j) = job
            .as_ref()
            .filter(|j| j.kind == JobKind::Production && j.is_done(Step::Verify))
        {
            let major = server::server_major(maint).await?;
            super::backup::restorable(j, major).await.map_err(fail)?;
        }
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
        let Some(freeze) = camp.freeze.as_ref() else {
            return Err(fail(format!(
                "production {db:?} is not frozen: freeze it before the swap (upgrade-pilot freeze --db {db:?})"
            )));
        };
        if server::allows_connections(maint, db).await? {
            return Err(fail(format!(
                "production {db:?} accepts connections: its freeze of {} was lifted, so the upgraded copy {:?} may miss what was written since: freeze it (upgrade-pilot freeze --db {db:?}) and run upgrade-pilot production --db {db:?} again",
                at(freeze.at),
                job.work_db
            )));
        }
        if let Some(why) = stale_reason(maint, db, freeze, &job, &restore_advice(db)).await? {
            return Err(fail(why));
        }
        let stamp = Utc::now().format("%Y_%m_%d_%H_%M");
        let (aside, _) = name_with_suffix(db, &format!("_before_{}_{stamp}", job.target));
        self.check_aside_free(maint, &aside).await?;
        Ok(Swap {
            kind: SwapKind::Restore,
            state: SwapState::Planned,
            started_at: Utc::now(),
            finished_at: None,
            reopened_at: None,
            prod: db.to_string(),
            aside,
            incoming: job.work_db.clone(),
            target: job.target.clone(),
            stay_frozen: false,
            production_job: Some(job.id.clone()),
            reverting: false,
        })
    }

    /// Puts the pre-upgrade database back; the upgraded one is kept as
    /// `_failed_`. A half-done restore is reverted instead; a half-done
    /// rollback is finished.
    pub async fn rollback(&self, db: &str, stay_frozen: bool) -> Result<SwapOutcome, EngineError> {
        let out = self.rollback_inner(db, stay_frozen).await;
        out.map_err(|e| self.lost(e, "rollback", db))
    }

    async fn rollback_inner(
        &self,
        db: &str,
        stay_frozen: bool,
    ) -> Result<SwapOutcome, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        let _lock = lock::acquire(&self.conn, db).await?;
        if let Some((camp, mut swap)) = self.half_done(&maint, db, true).await? {
            if swap.kind == SwapKind::Restore {
                return self.revert_restore(&maint, camp, swap, stay_frozen).await;
            }
            tracing::warn!(db, state = ?swap.state, "completing an interrupted rollback");
            swap.stay_frozen |= stay_frozen;
            let out = self.advance(&maint, camp, swap).await?;
            return Ok(SwapOutcome {
                recovered: true,
                ..out
            });
        }
        let swap = self.plan_rollback(&maint, db, stay_frozen).await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &self.server_key().await?, db)?;
        // The upgraded production may be in use again: stop Odoo, block, end sessions.
        if server::allows_connections(&maint, db).await? {
            hook::run("stop", &self.config.freeze.stop).await?;
            block_and_end_sessions(&maint, db).await?;
        }
        self.save_swap(&mut camp, &swap)?;
        self.advance(&maint, camp, swap).await
    }

    /// Puts back what a killed restore had moved: the original under the
    /// production name, the upgraded copy (and its filestore) under its own
    /// name again. Journaled, and idempotent step by step.
    async fn revert_restore(
        &self,
        maint: &Client,
        mut camp: Campaign,
        mut swap: Swap,
        stay_frozen: bool,
    ) -> Result<SwapOutcome, EngineError> {
        let db = swap.prod.clone();
        if !swap.reverting {
            swap.reverting = true;
            self.save_swap(&mut camp, &swap)?;
        }
        let mut hook_error = None;
        if renamed(maint, &swap).await? {
            // The upgraded database may have been reopened (a restore killed after reopening).
            if server::allows_connections(maint, &db).await? {
                hook_error = hook::run("stop", &self.config.freeze.stop)
                    .await
                    .err()
                    .map(|e| e.to_string());
            }
            block_and_end_sessions(maint, &db).await?;
            maint
                .batch_execute(&format!(
                    "BEGIN; ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} RENAME TO {}; COMMIT;",
                    quote_ident(&db),
                    quote_ident(&swap.incoming),
                    quote_ident(&swap.aside),
                    quote_ident(&db)
                ))
                .await
                .map_err(|e| {
                    fail(format!(
                        "renaming the databases back failed, nothing was changed: {}",
                        crate::pg::db_message(&e)
                    ))
                })?;
            crash_point("revert:db-renamed");
        }
        if let Some(dd) = &self.data_dir {
            let (prod, aside, incoming) = (
                filestore::path(dd, &db),
                filestore::path(dd, &swap.aside),
                filestore::path(dd, &swap.incoming),
            );
            let mv = |f: &std::path::Path, t: &std::path::Path| {
                std::fs::rename(f, t).map_err(|e| {
                    EngineError::Io(format!("filestore {} → {}: {e}", f.display(), t.display()))
                })
            };
            // The original filestore set aside means whatever is under the
            // production name is the upgraded one: it goes back first.
            if aside.is_dir() {
                if prod.is_dir() && !incoming.exists() {
                    mv(&prod, &incoming)?;
                    crash_point("revert:filestore-out");
                }
                if !prod.exists() {
                    mv(&aside, &prod)?;
                }
            }
        }
        // The upgraded copy is as it was before the restore: ready, and open.
        allow(maint, &swap.incoming).await?;
        let reverted = Swap {
            kind: SwapKind::Rollback,
            state: SwapState::Done,
            started_at: Utc::now(),
            finished_at: Some(Utc::now()),
            reopened_at: None,
            prod: db.clone(),
            aside: swap.incoming.clone(),
            incoming: swap.aside.clone(),
            target: String::new(),
            stay_frozen,
            production_job: swap.production_job.clone(),
            reverting: true,
        };
        let mut checks = Vec::new();
        if stay_frozen {
            if camp.freeze.is_none() {
                let mut as_rolled = reverted.clone();
                as_rolled.target = match &swap.production_job {
                    Some(id) => job::load(&self.state_dir, id)?
                        .and_then(|j| {
                            crate::odoo::version::Series::from_module_version(&j.source_version)
                        })
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    None => String::new(),
                };
                camp.freeze = Some(self.freeze_after_swap(maint, &camp, &as_rolled).await?);
            }
        } else {
            allow(maint, &db).await?;
            camp.freeze = None;
        }
        camp.swap = None;
        camp.history.push(reverted.clone());
        campaign::save_engine(&self.state_dir, &camp)?;
        tracing::info!(db, "reverted a half-done restore");
        if !stay_frozen {
            if let Err(e) = hook::run("start", &self.config.freeze.start).await {
                hook_error = Some(e.to_string());
            }
            checks.push(Check {
                name: "connections".into(),
                ok: self.conn.connect(&db).await.is_ok(),
                detail: format!("{db:?} accepts connections"),
            });
        }
        Ok(SwapOutcome {
            checks,
            reverted: true,
            hook_error,
            ..SwapOutcome::new(reverted)
        })
    }

    pub async fn plan_rollback(
        &self,
        maint: &Client,
        db: &str,
        stay_frozen: bool,
    ) -> Result<Swap, EngineError> {
        let camp = campaign::load(&self.state_dir, &self.server_key().await?, db)?
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
        let expected = match last
            .production_job
            .as_ref()
            .and_then(|id| job::load(&self.state_dir, id).ok().flatten())
        {
            Some(j) => crate::odoo::version::Series::from_module_version(&j.source_version)
                .map(|s| s.to_string()),
            None => None,
        };
        let stamp = Utc::now().format("%Y_%m_%d_%H_%M");
        let (aside, _) = name_with_suffix(db, &format!("_failed_{stamp}"));
        self.check_aside_free(maint, &aside).await?;
        Ok(Swap {
            kind: SwapKind::Rollback,
            state: SwapState::Planned,
            started_at: Utc::now(),
            finished_at: None,
            reopened_at: None,
            prod: db.to_string(),
            aside,
            incoming: last.aside.clone(),
            target: expected.unwrap_or_default(),
            stay_frozen,
            production_job: last.production_job.clone(),
            reverting: false,
        })
    }
}

fn restore_advice(db: &str) -> String {
    format!("run upgrade-pilot production --db {db:?} again for a copy with everything in it")
}

/// Why the copy of `job` may miss what was written in production `db` since
/// it was taken ([`Engine::stale_copy`]); each reason ends with `again`.
pub(super) enum Stale {
    /// Production was reopened or written since the copy: it misses something.
    Seen(String),
    /// Whether it was cannot be told (statistics reset, or none kept).
    Untold(String),
}

impl Stale {
    pub(super) fn into_reason(self) -> String {
        match self {
            Stale::Seen(s) | Stale::Untold(s) => s,
        }
    }
}

/// [`stale`], any reason as one message (restore refuses on either).
async fn stale_reason(
    maint: &Client,
    db: &str,
    freeze: &Freeze,
    job: &JobRecord,
    again: &str,
) -> Result<Option<String>, EngineError> {
    Ok(stale(maint, db, freeze, job, again)
        .await?
        .map(Stale::into_reason))
}

pub(super) async fn stale(
    maint: &Client,
    db: &str,
    freeze: &Freeze,
    job: &JobRecord,
    again: &str,
) -> Result<Option<Stale>, EngineError> {
    let taken = job
        .step(super::step::Step::Clone)
        .and_then(|s| s.started_at)
        .unwrap_or(job.created_at);
    let copy = &job.work_db;
    if taken < freeze.at {
        return Ok(Some(Stale::Seen(format!(
            "{db:?} was reopened after the upgraded copy {copy:?} was taken ({}): it was frozen again at {}, and what was written in between would be lost: {again}",
            at(taken),
            at(freeze.at)
        ))));
    }
    let connected = server::sessions(maint, db).await?;
    if !connected.is_empty() {
        return Ok(Some(Stale::Seen(format!(
            "{} session(s) are connected to frozen {db:?} (first: {}): it was reopened after the upgraded copy {copy:?} was taken at {}, and what they write would be lost: {again}",
            connected.len(),
            connected[0],
            at(taken)
        ))));
    }
    // The copy's own reading when it has one (a copy made again under the same
    // freeze is compared from its own moment), else the freeze's.
    let Some(base) = job.source_activity.as_deref().or(freeze.activity.as_ref()) else {
        return Ok(Some(Stale::Untold(format!(
            "the freeze of {db:?} at {} kept no record of the server's statistics (an older upgrade-pilot made it), so whether writes made after the copy {copy:?} would be lost cannot be told: unfreeze and freeze it again, then {again}",
            at(freeze.at)
        ))));
    };
    let Some(now) = activity_of(maint, db).await? else {
        return Ok(None);
    };
    Ok(match base.change_to(&now) {
        Change::None => None,
        Change::Reopened { sessions } => Some(Stale::Seen(format!(
            "{db:?} was reopened after the upgraded copy {copy:?} was taken at {}: {sessions} session(s) connected to it since (its freeze of {} was lifted outside upgrade-pilot), and what they wrote would be lost: {again}",
            at(taken),
            at(freeze.at)
        ))),
        Change::Written { rows } => Some(Stale::Seen(format!(
            "{rows} row(s) were written in {db:?} after the upgraded copy {copy:?} was taken at {}: they would be lost: {again}",
            at(taken)
        ))),
        Change::Unknown(why) => Some(Stale::Untold(format!(
            "{why}, so whether {db:?} was written after the upgraded copy {copy:?} was taken at {} cannot be told, and such writes would be lost: {again}",
            at(taken)
        ))),
    })
}

//! The production job (docs/DESIGN.md, step 8): on a frozen production database,
//! preflight → clone → plan → verify → compare, the backup of the frozen
//! original taken alongside the plan. No neutralization: this copy is the
//! future production. Production itself is only read (it is frozen).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::CloneMethod;
use super::emit::Emitter;
use super::job::{self, Backup, JobKind, JobRecord};
use super::plan::{Plan, ReadyPlan};
use super::preflight::{Earlier, Level, Note, PreparedJob, beyond_table_note, fail};
use super::runner::{JobCtx, Runner, keep_checks};
use super::step::Step;
use super::{Engine, EngineError, JobHandle, backup};
use crate::campaign;
use crate::odoo::inspect::human_size;
use crate::odoo::version::Series;
use crate::odoo::{filestore, golive, verify};
use crate::pg::ident::check_db_name;
use crate::pg::server;

pub const STEPS: [Step; 6] = [
    Step::Preflight,
    Step::Clone,
    Step::Backup,
    Step::Plan,
    Step::Verify,
    Step::Compare,
];

#[derive(Debug, Clone)]
pub struct ProductionRequest {
    pub db: String,
    pub target: String,
    pub plan: Option<PathBuf>,
    /// An upgraded dump made elsewhere, instead of a plan.
    pub import: Option<PathBuf>,
    pub discard: bool,
    /// Accept a result whose identity is not production's (`--allow-other-database`).
    pub allow_other_database: bool,
    pub engine: super::openupgrade::EngineChoice,
}

/// What preflight found; the job starts from it.
pub struct PreparedProduction {
    pub job: PreparedJob,
}

impl Engine {
    pub async fn prepare_production(
        &self,
        req: &ProductionRequest,
    ) -> Result<PreparedProduction, EngineError> {
        check_db_name(&req.db).map_err(|e| fail(e.to_string()))?;
        let target = Series::parse_target(&req.target).map_err(|e| fail(e.to_string()))?;
        let held = self.hold(&req.db).await?;
        let (maint, major) = (&held.maint, held.major);
        self.refuse_half_done_swap(maint, &req.db).await?;
        let key = self.server_key().await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &key, &req.db)?;
        let frozen = !server::allows_connections(maint, &req.db).await?;
        let freeze = match (&camp.freeze, frozen) {
            (Some(f), true) => f.clone(),
            _ => {
                return Err(fail(format!(
                    "production {:?} is not frozen: run upgrade-pilot freeze --db {:?} first (Odoo must not write during the upgrade)",
                    req.db, req.db
                )));
            }
        };
        let source: Series = freeze
            .series
            .parse()
            .map_err(|e: crate::odoo::version::SeriesError| fail(e.to_string()))?;
        if target <= source {
            return Err(fail(format!(
                "target {target} is not above {:?}'s version {source}",
                req.db
            )));
        }
        let rights = self
            .check_rights(maint, &req.db, "the upgraded copy keeps production's owner")
            .await?;
        let mut notes = Vec::new();
        notes.extend(beyond_table_note(target));
        let noted = notes.len();
        let earlier = Earlier {
            jobs: &camp.production_jobs,
            source: &req.db,
            target,
            name: None,
            discard: req.discard,
        };
        let resume = self
            .resume_or_discard(maint, major, earlier, &mut notes)
            .await?;
        // A copy taken under an earlier freeze, or before production was
        // reopened by hand, misses what was written since: restore would
        // refuse it after the whole downtime. (When it cannot be told, after a
        // crash reset the statistics, it is resumed: restore decides.)
        let resume = match resume {
            Some(j) => match super::swap::stale(
                maint,
                &req.db,
                &freeze,
                &j,
                "the job starts over on a fresh copy",
            )
            .await?
            {
                Some(super::swap::Stale::Seen(why)) => {
                    notes.truncate(noted);
                    notes.push(Note {
                        level: Level::Info,
                        text: format!("{why} (job {} discarded, its copy dropped)", j.id),
                    });
                    self.discard(maint, major, j, &req.db).await?;
                    None
                }
                _ => Some(j),
            },
            None => None,
        };
        let written = match (&req.import, req.engine) {
            (Some(path), _) => Some(ReadyPlan::import(path, source, target)?),
            (None, super::openupgrade::EngineChoice::OpenUpgrade) => None,
            (None, super::openupgrade::EngineChoice::OdooPlatform) => {
                Some(ReadyPlan::platform(target))
            }
            (None, _) => Some(
                Plan::load(&self.plan_for(req.plan.as_deref(), target)?)?.check(source, target)?,
            ),
        };
        if let Some(p) = &written {
            self.check_data_dir_for(p)?;
        }
        let work_db = match &resume {
            Some(j) => j.work_db.clone(),
            None => {
                self.pick_name(maint, &req.db, "upgrade", target, None, &mut notes)
                    .await?
            }
        };
        let (plan, hops) = match written {
            Some(p) => (p, Vec::new()),
            None => {
                // Production is frozen (no connections): the modules come
                // from the last inspection of a test job's source, i.e. none here.
                self.derive_openupgrade(
                    &req.db,
                    &work_db,
                    source,
                    target,
                    Default::default(),
                    &mut notes,
                )?
            }
        };
        // A truncated or foreign archive is refused now, before anything is made.
        let pg_restore = crate::pg::tools::client_tool("pg_restore", major).map_err(fail)?;
        for path in plan.imports() {
            super::import::check(path, &pg_restore).map_err(|e| fail(e.to_string()))?;
        }
        let size = server::db_size(maint, &req.db).await?;
        // The copy, the backup's scratch copy (dropped once dumped) and the
        // compressed dump (about a fifth of the database, docs/PERFORMANCE.md).
        self.check_disk(maint, &rights, size * 2 + size / 4, &mut notes)
            .await?;
        notes.extend(self.filestore_note(&req.db, "the upgraded copy"));
        // Production is frozen: its contract is read on its copy, unless given.
        let platform = match (&req.import, req.engine) {
            (None, super::openupgrade::EngineChoice::OdooPlatform) => {
                let aim = crate::odoo::platform::Aim::Production;
                Some(self.platform_preflight(aim, &req.db, None, false, &mut notes)?)
            }
            _ => None,
        };
        super::platform::same_engine(resume.as_ref(), platform.is_some())?;
        let resumed = resume.is_some();
        let mut record = match resume {
            Some(j) => j.restart(&plan.path),
            None => JobRecord::start(job::NewJob {
                kind: JobKind::Production,
                server: &key,
                source_db: &req.db,
                source_version: &freeze.base_version,
                target: &target.to_string(),
                work_db,
                plan: &plan.path,
                clone_method: "template",
                steps: if platform.is_some() {
                    &super::platform::PRODUCTION_STEPS
                } else {
                    &STEPS
                },
                source_uuid: freeze.uuid.clone(),
            }),
        };
        // The choice of this run counts, also for a resumed job.
        record.golive.allow_other_database = req.allow_other_database;
        record.openupgrade = hops;
        if record.platform.is_none() {
            record.platform = platform.map(Box::new);
        }
        // The freeze in force: the downtime runs from it (restore refuses a
        // copy taken under an earlier one).
        record.frozen_at = Some(freeze.at);
        record.source_bytes = Some(size);
        self.register(&mut camp, &record)?;
        Ok(PreparedProduction {
            job: held.into_job(record, plan, notes, resumed, target),
        })
    }

    pub fn start_production(&self, prepared: PreparedProduction) -> JobHandle {
        let id = prepared.job.record.id.clone();
        let steps = prepared.job.record.steps.len();
        self.spawn_job(id, steps, move |engine, emit, token| async move {
            engine.run_production(prepared, emit, token).await
        })
    }

    async fn run_production(
        &self,
        p: PreparedProduction,
        emit: Arc<Emitter>,
        cancel: CancellationToken,
    ) -> Result<JobRecord, EngineError> {
        self.run_job(p.job, &emit, &cancel, async |record, run| {
            self.production_steps(record, run).await
        })
        .await
    }

    async fn production_steps(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
    ) -> Result<(), EngineError> {
        let JobCtx {
            maint,
            major,
            target,
            emit,
            cancel,
            ..
        } = run.cx;
        let work = record.work_db.clone();

        run.preflight(record).await?;
        // What the server says of production as the copy is taken: restore
        // compares it, to refuse the copy if production was reopened since.
        if !record.is_done(Step::Clone) {
            record.source_activity = super::freeze::activity_of(maint, &record.source_db)
                .await?
                .map(Box::new);
        }
        // Frozen: nobody is connected, so the template copy is safe and fastest.
        let why = "production is frozen: template copy";
        let cloned = self
            .clone_step(record, run, CloneMethod::Template, why)
            .await?;
        self.production_facts(record, maint, major).await?;

        // The backup is taken from the frozen original while the plan runs
        // on the working copy (issue 15): nothing writes the original, so it
        // is production as frozen, and it is off the production window.
        let taken =
            record.is_done(Step::Backup) && record.backup.as_ref().is_some_and(|b| b.dump.is_dir());
        // Production's side of the comparison: the frozen production, read
        // from the backup's scratch copy while the plan runs; from the fresh
        // working copy, before the plan, when the backup was taken before.
        let untouched = !(record.is_done(Step::Plan) || record.is_done(Step::Import));
        if taken && (untouched || !cloned) {
            let job = super::compare::Reading::of(record);
            self.compare_baseline(job, &work, !cloned, emit).await;
        }
        // The compare step waits for that reading.
        let (read_tx, read_rx) = tokio::sync::oneshot::channel::<()>();
        let (id, production) = (record.id.clone(), record.source_db.clone());
        let read_beside = async move |scratch: &str| {
            let job = super::compare::Reading {
                id: &id,
                production: &production,
            };
            self.compare_baseline(job, scratch, true, emit).await;
            let _ = read_tx.send(());
        };
        // One folder per job: a later job never overwrites this one's backup.
        let dir = backup::default_dir(&self.state_dir).join(&record.id);
        let original = record.source_db.clone();
        let scratch = backup::scratch_name(&work);
        let fs_root = self.data_dir.as_ref().map(|d| d.join("filestore"));
        let jobs = self.config.clone.jobs;
        let side = async {
            // Its own session: the template copy takes seconds, and the
            // job's maintenance session must stay free for the other steps.
            let own = self.conn.connect_maintenance().await?;
            let from = backup::Frozen {
                original: &original,
                scratch: &scratch,
                filestore_root: fs_root.as_deref(),
                dir: &dir,
                jobs,
            };
            let (b, notes) =
                backup::backup_frozen(&self.conn, &own, major, from, emit, cancel, read_beside)
                    .await?;
            for n in notes {
                emit.warn(format!("backup: {n}")).await;
            }
            emit.log(format!(
                "backup {} ({}), taken alongside the plan",
                b.dump.display(),
                human_size(b.bytes as i64)
            ));
            Ok(b)
        };
        let keep = |record: &mut JobRecord, b: Backup| {
            record.backup = Some(b);
            format!(
                "pg_dump -Fd -Z1 -j {jobs} of the frozen original, alongside the plan; checked with pg_restore --list"
            )
        };
        let mut started = run
            .open(record, Step::Backup, taken.then_some("backup taken before"))
            .await?;
        let platform = record.platform.is_some();
        let mut side = Some(side);
        if platform {
            // Odoo's platform is sent the backup itself: it is taken first.
            if let (Some(t0), Some(side)) = (started.take(), side.take()) {
                let side = side.await.map(|b| keep(record, b));
                let ended = std::time::Instant::now();
                run.end_alongside(record, Step::Backup, (t0, ended), side, Ok(()))
                    .await?;
            }
        }
        let rest = async {
            if platform {
                self.platform_steps(record, run).await?;
            } else {
                self.plan_step(record, run, None).await?;
            }
            run.step(record, Step::Verify, None, async |record| {
                let c = self.conn.connect(&work).await?;
                let mut checks = verify::upgraded(&c, &work, target).await?;
                let golive = golive_checks(&c, record).await?;
                let verdict = match refusal(&golive) {
                    Some(why) => format!("{work:?} must not become production: {why}"),
                    None => format!(
                        "{work:?} is not ready to restore (fix the plan and run production again)"
                    ),
                };
                checks.extend(golive);
                keep_checks(record, checks, &verdict)?;
                Ok("ready to restore".into())
            })
            .await?;
            // Not read (the backup failed first): the compare step says so.
            if !taken {
                let _ = read_rx.await;
            }
            self.compare_step(record, run).await
        };
        let (Some(t0), Some(side)) = (started, side) else {
            return rest.await;
        };
        // The backup's own end, for its time: the job waits for the later one.
        let side = async { (side.await, std::time::Instant::now()) };
        let ((side, ended), rest) = tokio::join!(side, rest);
        let side = side.map(|b| keep(record, b));
        run.end_alongside(record, Step::Backup, (t0, ended), side, rest)
            .await
    }
}

/// The checks that keep a neutralized or foreign database out of production.
pub(super) async fn golive_checks(
    c: &Client,
    record: &JobRecord,
) -> Result<Vec<verify::Check>, EngineError> {
    let mut checks = golive::not_neutralized(c).await?;
    let result = golive::identity(c).await?;
    // Jobs recorded before the identity was kept: the uuid seen at freeze time.
    let production = record
        .golive
        .production
        .clone()
        .unwrap_or_else(|| golive::Identity {
            uuid: record.source_uuid.clone(),
            enterprise_code: None,
        });
    checks.extend(golive::same_database(
        &production,
        &result,
        record.golive.allow_other_database,
    ));
    Ok(checks)
}

/// What to tell the user when a go-live check failed, or None.
fn refusal(checks: &[verify::Check]) -> Option<&'static str> {
    let failed = |names: &[&str]| {
        checks
            .iter()
            .any(|c| !c.ok && names.contains(&c.name.as_str()))
    };
    if failed(&[
        "neutralization flag",
        "dummy mail server",
        "neutralization banner",
    ]) {
        Some(
            "it is a neutralized copy (a test database); import or upgrade production's own database",
        )
    } else if failed(&["database uuid", "enterprise code"]) {
        Some(
            "it is another database; import the upgraded dump of this production, or add --allow-other-database if it really replaces it",
        )
    } else {
        None
    }
}

impl Engine {
    /// `restore` checks again: the copy may have been changed since its job
    /// verified it (neutralized by hand, replaced under the same name).
    pub(super) async fn golive_before_restore(&self, job: &JobRecord) -> Result<(), EngineError> {
        let c = self.conn.connect(&job.work_db).await?;
        let checks = golive_checks(&c, job).await?;
        if let Some(why) = refusal(&checks) {
            let found = verify::failures(&checks);
            return Err(fail(format!(
                "refusing to restore {:?}: {}; it must not become production: {why}",
                job.work_db,
                found.join("; ")
            )));
        }
        Ok(())
    }

    /// On the fresh copy, before anything changes it: production's identity
    /// (what the result must still be) and no module left half-done. Frozen
    /// production accepts no connection, so its copy is read instead.
    async fn production_facts(
        &self,
        record: &mut JobRecord,
        maint: &Client,
        major: u32,
    ) -> Result<(), EngineError> {
        // Before the upgrade (a plan, or the platform's import) changed the copy.
        let untouched = [Step::Plan, Step::Import].iter().all(|&n| {
            record
                .step(n)
                .is_none_or(|s| s.status == job::StepStatus::Pending)
        });
        if !untouched {
            return Ok(());
        }
        let work = record.work_db.clone();
        let c = self.conn.connect(&work).await?;
        let pending = golive::pending_modules(&c).await?;
        if record.golive.production.is_none() {
            record.golive.production = Some(golive::identity(&c).await?);
            job::save(&self.state_dir, record)?;
        }
        drop(c);
        if !pending.is_empty() {
            // A copy of a half-done state is of no use: dropped, so that the
            // next run copies production again once it is fixed.
            server::drop_db(maint, &work, major).await?;
            if let Some(dd) = &self.data_dir {
                filestore::remove(dd, &work).map_err(|e| EngineError::Io(e.to_string()))?;
            }
            return Err(fail(format!(
                "modules of {:?} are left in a pending state by an unfinished operation: {}; unfreeze, finish or cancel it in Odoo, freeze and run production again",
                record.source_db,
                pending.join(", ")
            )));
        }
        Ok(())
    }
}

//! The test job (docs/DESIGN.md, step 2): preflight → clone → neutralize → plan →
//! neutralize again → verify → ready. The source is only ever read.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::{self, CloneChoice, CloneMethod};
use super::emit::Emitter;
use super::job::{self, JobKind, JobRecord, JobStatus};
use super::lock;
use super::openupgrade::EngineChoice;
use super::plan::Plan;
use super::preflight::{
    Earlier, Level, Note, PreparedJob, beyond_table_note, fail, pending_refusal,
};
use super::runner::{JobCtx, Runner, keep_checks};
use super::step::Step;
use super::{Engine, EngineError, JobHandle};
use crate::campaign;
use crate::odoo::inspect::{self, Inspection};
use crate::odoo::neutralize::{self, Options};
use crate::odoo::version::Series;
use crate::odoo::{filestore, verify};
use crate::pg::ident::check_db_name;
use crate::pg::server;

pub const STEPS: [Step; 7] = [
    Step::Preflight,
    Step::Clone,
    Step::Neutralize,
    Step::Plan,
    Step::NeutralizeAgain,
    Step::Verify,
    Step::Compare,
];

#[derive(Debug, Clone)]
pub struct TestRequest {
    pub db: String,
    pub target: String,
    pub plan: Option<PathBuf>,
    pub test_db: Option<String>,
    pub clone: CloneChoice,
    /// Drop an interrupted or failed earlier test job instead of resuming it.
    pub discard: bool,
    /// A written plan, or the OpenUpgrade plan derived from the config.
    pub engine: super::openupgrade::EngineChoice,
    /// Check and derive only: no job is registered, nothing is made.
    pub dry_run: bool,
}

/// How the test copy is made (preflight's choice).
#[derive(Clone, Copy)]
struct HowCopied<'a> {
    method: CloneMethod,
    why: &'a str,
    /// The source refuses connections: its modules are checked on the copy.
    source_frozen: bool,
}

/// What preflight found; the job starts from it.
pub struct PreparedTest {
    pub job: PreparedJob,
    pub method: CloneMethod,
    pub why: String,
    pub inspection: Inspection,
    /// The source refuses connections: its modules are checked on the copy.
    source_frozen: bool,
}

impl Engine {
    fn neutralize_options(&self) -> Options {
        Options {
            skip: self.config.neutralize.skip.clone(),
            extra_sql: self.config.neutralize.extra_sql.clone(),
            extra_rules: self.config.neutralize.extra_rules.clone(),
        }
    }

    /// Every check that can fail before anything is created. Holds the job lock on success.
    pub async fn prepare_test(&self, req: &TestRequest) -> Result<PreparedTest, EngineError> {
        check_db_name(&req.db).map_err(|e| fail(e.to_string()))?;
        let target = Series::parse_target(&req.target).map_err(|e| fail(e.to_string()))?;
        if let Some(name) = &req.test_db {
            check_db_name(name).map_err(|e| fail(format!("--test-db: {e}")))?;
        }
        neutralize::check_skips(&self.neutralize_options())?;
        let held = self.hold(&req.db).await?;
        let (maint, major) = (&held.maint, held.major);
        // A frozen source cannot be read, but it can be a template: its facts
        // come from the freeze record, its modules are checked on the copy.
        let source_frozen = !server::allows_connections(maint, &req.db).await?;
        let inspection = if source_frozen {
            self.frozen_source(maint, req).await?
        } else {
            let src = self.conn.connect(&req.db).await?;
            inspect::inspect(&src, &req.db, &self.config.odoo.custom_modules).await?
        };
        let source = inspection.series;
        if target <= source {
            return Err(fail(format!(
                "target {target} is not above {:?}'s version {source}: choose a later version (e.g. {})",
                req.db,
                Series::new(source.major + 1, 0)
            )));
        }
        if let Some(e) = pending_refusal(&inspection) {
            return Err(e);
        }
        let rights = self
            .check_rights(maint, &req.db, "the copy keeps the same rights")
            .await?;

        let server_key = self.server_key().await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &server_key, &req.db)?;
        let mut notes = Vec::new();
        let earlier = Earlier {
            jobs: &camp.test_jobs,
            source: &req.db,
            target,
            name: req.test_db.as_deref(),
            discard: req.discard,
        };
        let resume = self
            .resume_or_discard(maint, major, earlier, &mut notes)
            .await?;

        let written = match req.engine {
            EngineChoice::Plan => {
                let plan_path = self.plan_for(req.plan.as_deref(), target)?;
                let plan = Plan::load(&plan_path)?.check(source, target)?;
                if plan.imports().next().is_some() {
                    let pg_restore =
                        crate::pg::tools::client_tool("pg_restore", major).map_err(fail)?;
                    for path in plan.imports() {
                        super::import::check(path, &pg_restore).map_err(|e| fail(e.to_string()))?;
                    }
                }
                self.check_data_dir_for(&plan)?;
                Some(plan)
            }
            EngineChoice::OpenUpgrade => None,
            EngineChoice::OdooPlatform => Some(super::plan::ReadyPlan::platform(target)),
        };

        let work_db = match &resume {
            Some(j) => j.work_db.clone(),
            None => {
                self.pick_name(
                    maint,
                    &req.db,
                    "test",
                    target,
                    req.test_db.as_deref(),
                    &mut notes,
                )
                .await?
            }
        };
        if work_db == req.db {
            return Err(fail(
                "the test database cannot be the source database: choose another --test-db",
            ));
        }
        let (plan, hops) = match written {
            Some(p) => (p, Vec::new()),
            None => {
                let installed: Vec<String> = inspection
                    .installed
                    .iter()
                    .map(|m| m.name.clone())
                    .collect();
                self.derive_openupgrade(
                    &req.db,
                    &work_db,
                    source,
                    target,
                    super::openupgrade::Modules {
                        installed: &installed,
                        custom: &inspection.custom_modules,
                    },
                    &mut notes,
                )?
            }
        };
        let (method, why) = match &resume {
            Some(j) if j.is_done(Step::Clone) => (
                if j.clone_method.as_deref() == Some("snapshot") {
                    CloneMethod::Snapshot
                } else {
                    CloneMethod::Template
                },
                "already cloned".to_string(),
            ),
            _ if source_frozen => (
                CloneMethod::Template,
                "the source is frozen (nobody can be connected): template copy".to_string(),
            ),
            _ => clone::choose(maint, &req.db, req.clone).await?,
        };
        if method == CloneMethod::Snapshot {
            for tool in ["pg_dump", "pg_restore"] {
                crate::pg::tools::client_tool(tool, major).map_err(fail)?;
            }
        }
        self.check_disk(maint, &rights, inspection.size_bytes, &mut notes)
            .await?;

        notes.extend(beyond_table_note(target));
        if !self
            .config
            .odoo
            .supported_targets
            .iter()
            .any(|t| *t == target.to_string())
        {
            notes.push(Note {
                level: Level::Warn,
                text: format!(
                    "{target} is outside the versions Odoo's upgrade service supports ({})",
                    self.config.odoo.supported_targets.join(", ")
                ),
            });
        }
        if !inspection.custom_modules.is_empty() {
            notes.push(Note { level: Level::Warn, text: format!(
                "{} custom module(s) not covered by Odoo's upgrade service, test them yourself: {}",
                inspection.custom_modules.len(),
                inspection.custom_modules.join(", ")
            ) });
        }
        if inspection.studio {
            notes.push(Note {
                level: Level::Warn,
                text:
                    "Studio customizations installed: not covered by Odoo's upgrade SLA, test them"
                        .into(),
            });
        }
        if !inspection.code_actions.is_empty() {
            notes.push(Note {
                level: Level::Warn,
                text: format!(
                    "{} server/automated action(s) with Python code: check them on the test copy",
                    inspection.code_actions.len()
                ),
            });
        }
        if !inspection.custom_views.is_empty() {
            notes.push(Note {
                level: Level::Warn,
                text: format!(
                    "{} view(s) customized in the database: check they still apply",
                    inspection.custom_views.len()
                ),
            });
        }
        notes.extend(self.filestore_note(&req.db, "the test copy"));

        let platform = match req.engine {
            EngineChoice::OdooPlatform => {
                let contract = if source_frozen {
                    None
                } else {
                    let src = self.conn.connect(&req.db).await?;
                    inspect::config_param(&src, crate::odoo::platform::CONTRACT_PARAM).await?
                };
                let aim = crate::odoo::platform::Aim::Test;
                Some(self.platform_preflight(aim, &req.db, contract, true, &mut notes)?)
            }
            _ => None,
        };
        super::platform::same_engine(resume.as_ref(), platform.is_some())?;
        let resumed = resume.is_some();
        let mut record = match resume {
            Some(j) => j.restart(&plan.path),
            None => JobRecord::start(job::NewJob {
                kind: JobKind::Test,
                server: &server_key,
                source_db: &req.db,
                source_version: &inspection.base_version,
                target: &target.to_string(),
                work_db,
                plan: &plan.path,
                clone_method: method.as_str(),
                steps: if platform.is_some() {
                    &super::platform::TEST_STEPS
                } else {
                    &STEPS
                },
                source_uuid: inspection.uuid.clone(),
            }),
        };
        if record.platform.is_none() {
            record.platform = platform.map(Box::new);
        }
        record.openupgrade = hops;
        record.source_bytes = Some(inspection.size_bytes);
        if !req.dry_run {
            self.register(&mut camp, &record)?;
        }
        Ok(PreparedTest {
            job: held.into_job(record, plan, notes, resumed, target),
            method,
            why,
            inspection,
            source_frozen,
        })
    }

    /// What can be known of a frozen source without connecting to it: the
    /// version and uuid its freeze recorded, its size. A template copy is the
    /// only copy that can read it.
    async fn frozen_source(
        &self,
        maint: &Client,
        req: &TestRequest,
    ) -> Result<Inspection, EngineError> {
        let db = &req.db;
        if req.clone == CloneChoice::Snapshot {
            return Err(fail(format!(
                "{db:?} is frozen (it refuses connections), so a snapshot copy cannot read it: use --clone template or auto (a frozen database is copied as a template)"
            )));
        }
        if req.engine == EngineChoice::OpenUpgrade {
            return Err(fail(format!(
                "{db:?} is frozen (it refuses connections) and the OpenUpgrade engine needs its module list: give a --plan, or unfreeze it first"
            )));
        }
        let freeze = campaign::load(&self.state_dir, &self.server_key().await?, db)?
            .and_then(|c| c.freeze)
            .ok_or_else(|| {
                fail(format!(
                    "{db:?} refuses connections and no freeze by upgrade-pilot is recorded for it, so its version cannot be read: allow connections again (ALTER DATABASE … ALLOW_CONNECTIONS true) to test it"
                ))
            })?;
        let series: Series = freeze
            .series
            .parse()
            .map_err(|e: crate::odoo::version::SeriesError| fail(e.to_string()))?;
        Ok(Inspection {
            db: db.clone(),
            series,
            base_version: freeze.base_version,
            installed_count: 0,
            installed: Vec::new(),
            pending: Vec::new(),
            custom_modules: Vec::new(),
            size_bytes: server::db_size(maint, db).await?,
            sessions: Vec::new(),
            neutralized: false,
            uuid: freeze.uuid,
            studio: false,
            code_actions: Vec::new(),
            custom_views: Vec::new(),
            enterprise: false,
        })
    }

    /// Saves a job's first record and lists it in its campaign.
    pub(super) fn register(
        &self,
        camp: &mut campaign::Campaign,
        record: &JobRecord,
    ) -> Result<(), EngineError> {
        job::save(&self.state_dir, record)?;
        let list = match record.kind {
            JobKind::Test => &mut camp.test_jobs,
            JobKind::Production => &mut camp.production_jobs,
        };
        if !list.contains(&record.id) {
            list.push(record.id.clone());
            campaign::save_engine(&self.state_dir, camp)?;
        }
        Ok(())
    }

    /// Drops what a job created. Never the source, nor a database that holds
    /// production data (for a test job: nor a production working copy).
    pub(super) async fn discard(
        &self,
        maint: &Client,
        major: u32,
        mut job: JobRecord,
        source: &str,
    ) -> Result<(), EngineError> {
        let key = self.server_key().await?;
        let protected = job.work_db == source
            || campaign::holds_production(&self.state_dir, &key, &job.work_db)?
            || (job.kind == JobKind::Test
                && campaign::is_production(&self.state_dir, &key, &job.work_db)?);
        if protected {
            return Err(fail(format!(
                "refusing to drop {:?}: it holds production data",
                job.work_db
            )));
        }
        server::drop_db(maint, &job.work_db, major).await?;
        if job.kind == JobKind::Production {
            // The scratch copy a killed backup left (never production: checked above).
            let scratch = super::backup::scratch_name(&job.work_db);
            if scratch != source && !campaign::holds_production(&self.state_dir, &key, &scratch)? {
                server::drop_db(maint, &scratch, major).await?;
            }
        }
        // A parallel dump left by a copy killed midway.
        let _ = std::fs::remove_dir_all(super::clone::scratch_dir(
            &super::clone::scratch_root(&self.state_dir),
            &job.work_db,
        ));
        if let Some(dd) = &self.data_dir {
            filestore::remove(dd, &job.work_db).map_err(|e| EngineError::Io(e.to_string()))?;
        }
        job.status = JobStatus::Discarded;
        job.finished_at = Some(Utc::now());
        job::save(&self.state_dir, &job)?;
        Ok(())
    }

    /// Starts the prepared job in the background.
    pub fn start_test(&self, prepared: PreparedTest) -> JobHandle {
        let id = prepared.job.record.id.clone();
        let steps = prepared.job.record.steps.len();
        self.spawn_job(id, steps, move |engine, emit, token| async move {
            engine.run_test(prepared, emit, token).await
        })
    }

    async fn run_test(
        &self,
        p: PreparedTest,
        emit: Arc<Emitter>,
        cancel: CancellationToken,
    ) -> Result<JobRecord, EngineError> {
        let copy = HowCopied {
            method: p.method,
            why: &p.why,
            source_frozen: p.source_frozen,
        };
        self.run_job(p.job, &emit, &cancel, async |record, run| {
            self.test_steps(record, run, copy).await
        })
        .await
    }

    async fn test_steps(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
        copy: HowCopied<'_>,
    ) -> Result<(), EngineError> {
        let JobCtx {
            target,
            emit,
            cancel,
            ..
        } = run.cx;
        let work = record.work_db.clone();

        run.preflight(record).await?;
        let cloned_and_present = self.clone_step(record, run, copy.method, copy.why).await?;
        if copy.source_frozen && !record.is_done(Step::Neutralize) {
            // What preflight could not read on the frozen source, read on its copy.
            let c = self.conn.connect(&work).await?;
            let found = inspect::inspect(&c, &work, &self.config.odoo.custom_modules).await?;
            if let Some(e) = pending_refusal(&found) {
                return Err(e);
            }
            if !found.custom_modules.is_empty() {
                emit.warn(format!(
                    "{} custom module(s) not covered by Odoo's upgrade service, test them yourself: {}",
                    found.custom_modules.len(),
                    found.custom_modules.join(", ")
                ))
                .await;
            }
        }
        // Production's side of the comparison, while the copy still equals it.
        if !record.is_done(Step::Neutralize) || !cloned_and_present {
            let work = record.work_db.clone();
            let job = super::compare::Reading::of(record);
            self.compare_baseline(job, &work, !cloned_and_present, emit)
                .await;
        }

        if record.platform.is_some() {
            self.platform_dump_step(record, run, !cloned_and_present)
                .await?;
        }
        let opts = self.neutralize_options();
        let skip =
            (record.is_done(Step::Neutralize) && cloned_and_present).then_some("done before");
        run.step(record, Step::Neutralize, skip, async |record| {
            let mut c = self.conn.connect(&work).await?;
            let outcome = neutralize::neutralize(&mut c, &opts).await?;
            for n in &outcome.notes {
                emit.log(format!("neutralize: {n}"));
            }
            record.neutralized = outcome.report;
            record.by_module.neutralized_by_module = outcome.modules;
            record.by_module.neutralize_notes = outcome.notes;
            Ok(format!("{} rows", record.neutralized.total()))
        })
        .await?;

        if record.platform.is_some() {
            self.platform_steps(record, run).await?;
        } else {
            self.plan_step(record, run, Some(&work)).await?;
        }

        // What the rules promise after neutralizing: checked by verify.
        let mut postconditions = Vec::new();
        run.step(record, Step::NeutralizeAgain, None, async |record| {
            let mut c = self.conn.connect(&work).await?;
            let again = neutralize::neutralize(&mut c, &opts).await?;
            drop(c);
            record.neutralized_again = again.report;
            record.by_module.neutralized_again_by_module = again.modules;
            for n in again.notes {
                if !record.by_module.neutralize_notes.contains(&n) {
                    emit.log(format!("neutralize: {n}"));
                    record.by_module.neutralize_notes.push(n);
                }
            }
            postconditions = again.postconditions;
            let total = record.neutralized_again.total();
            Ok(
                match self.odoo_neutralize(record, target, emit, cancel).await {
                    Some(o) => format!("{total} rows; {o}"),
                    None => format!("{total} rows"),
                },
            )
        })
        .await?;

        run.step(record, Step::Verify, None, async |record| {
            let c = self.conn.connect(&work).await?;
            let mut checks = verify::neutralized(&c, record.source_uuid.as_deref()).await?;
            checks.extend(verify::rules_hold(&c, &postconditions).await?);
            checks.extend(verify::upgraded(&c, &work, target).await?);
            let verdict =
                format!("the copy {work:?} is not ready (fix the plan and run test again)");
            keep_checks(record, checks, &verdict)?;
            Ok("all checks passed".into())
        })
        .await?;
        self.compare_step(record, run).await
    }

    /// The campaign's last job if it did not finish: running (maybe in another
    /// process), interrupted, or failed.
    pub fn unfinished_job(&self, c: &campaign::Campaign) -> Result<Option<JobRecord>, EngineError> {
        let mut last: Option<JobRecord> = None;
        for id in c.test_jobs.iter().chain(c.production_jobs.iter()) {
            if let Some(j) = job::load(&self.state_dir, id)? {
                if last.as_ref().is_none_or(|l| j.created_at > l.created_at) {
                    last = Some(j);
                }
            }
        }
        Ok(last.filter(|j| matches!(j.status, JobStatus::Running | JobStatus::Failed)))
    }

    /// Drops what the campaign's unfinished job made (never production) and
    /// marks it discarded. Refused while its process still runs.
    pub async fn discard_unfinished(&self, source: &str) -> Result<Option<String>, EngineError> {
        let key = self.server_key().await?;
        let Some(c) = campaign::load(&self.state_dir, &key, source)? else {
            return Ok(None);
        };
        let _lock = lock::acquire(&self.conn, source).await?;
        let Some(j) = self.unfinished_job(&c)? else {
            return Ok(None);
        };
        if j.status == JobStatus::Running && j.process_alive() && j.pid != std::process::id() {
            return Err(fail(format!(
                "job {} is still running (pid {}): cancel it there first",
                j.id, j.pid
            )));
        }
        let maint = self.conn.connect_maintenance().await?;
        let major = server::server_major(&maint).await?;
        let name = j.work_db.clone();
        self.discard(&maint, major, j, source).await?;
        Ok(Some(name))
    }

    /// Drops a test copy of `source` made by one of its test jobs (the TUI's
    /// "new test, drop the previous copy"). Never production data.
    pub async fn drop_test_copy(&self, source: &str, test_db: &str) -> Result<(), EngineError> {
        let key = self.server_key().await?;
        let camp = campaign::load(&self.state_dir, &key, source)?
            .ok_or_else(|| fail(format!("no campaign for {source:?}")))?;
        let ours = camp.test_jobs.iter().any(|id| {
            job::load(&self.state_dir, id)
                .ok()
                .flatten()
                .is_some_and(|j| j.work_db == test_db)
        });
        if !ours || test_db == source || campaign::is_production(&self.state_dir, &key, test_db)? {
            return Err(fail(format!(
                "refusing to drop {test_db:?}: it is not a test copy of {source:?}"
            )));
        }
        let maint = self.conn.connect_maintenance().await?;
        let major = server::server_major(&maint).await?;
        server::drop_db(&maint, test_db, major).await?;
        if let Some(dd) = &self.data_dir {
            filestore::remove(dd, test_db).map_err(|e| EngineError::Io(e.to_string()))?;
        }
        Ok(())
    }

    /// Neutralizes `db` in place (the `neutralize` command). Refuses production.
    pub async fn neutralize_db(
        &self,
        db: &str,
    ) -> Result<(neutralize::Outcome, Vec<verify::Check>), EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        if campaign::is_production(&self.state_dir, &self.server_key().await?, db)? {
            return Err(fail(format!(
                "{db:?} is the production database of a campaign: neutralize only test copies (upgrade-pilot test makes one)"
            )));
        }
        let mut c = self.conn.connect(db).await?;
        inspect::base_version(&c, db).await?;
        // Production's data under another name (a copy made by hand, a dump
        // restored elsewhere) carries production's uuid: never neutralized.
        if let Some(uuid) = inspect::config_param(&c, "database.uuid").await? {
            if let Some((_, prod)) = campaign::production_uuids(&self.state_dir)?
                .into_iter()
                .find(|(u, _)| *u == uuid)
            {
                return Err(fail(format!(
                    "{db:?} carries the database.uuid of production {prod:?}: it holds production's data, so it is not neutralized here (upgrade-pilot test makes a neutralized copy)"
                )));
            }
        }
        let _lock = lock::acquire(&self.conn, db).await?;
        let outcome = neutralize::neutralize(&mut c, &self.neutralize_options()).await?;
        let mut checks = verify::neutralized(&c, None).await?;
        checks.extend(verify::rules_hold(&c, &outcome.postconditions).await?);
        Ok((outcome, checks))
    }
}

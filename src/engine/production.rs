//! The production job (DESIGN.md §4): on a frozen production database,
//! preflight → clone → backup → plan → verify. No neutralization: this copy is
//! the future production. Production itself is only read (it is frozen).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::CloneMethod;
use super::emit::Emitter;
use super::events::Event;
use super::job::{self, JobKind, JobRecord};
use super::lock::{self, JobLock};
use super::plan::{self, Plan, ReadyPlan};
use super::test_job::Note;
use super::{Engine, EngineError, JobHandle, backup};
use crate::campaign;
use crate::odoo::inspect::human_size;
use crate::odoo::version::Series;
use crate::odoo::{filestore, verify};
use crate::pg::ident::check_db_name;
use crate::pg::server;

pub const STEPS: [&str; 6] = [
    "preflight",
    "clone",
    "backup",
    "plan",
    "verify",
    super::compare::STEP,
];

#[derive(Debug, Clone)]
pub struct ProductionRequest {
    pub db: String,
    pub target: String,
    pub plan: Option<PathBuf>,
    /// An upgraded dump made elsewhere, instead of a plan.
    pub import: Option<PathBuf>,
    pub discard: bool,
    pub engine: super::openupgrade::EngineChoice,
}

pub struct PreparedProduction {
    pub record: JobRecord,
    pub plan: ReadyPlan,
    pub notes: Vec<Note>,
    pub resumed: bool,
    pub target: Series,
    major: u32,
    maint: Client,
    lock: JobLock,
    preflight_seconds: f64,
}

fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

impl Engine {
    pub async fn prepare_production(
        &self,
        req: &ProductionRequest,
    ) -> Result<PreparedProduction, EngineError> {
        let t0 = Instant::now();
        check_db_name(&req.db).map_err(|e| fail(e.to_string()))?;
        let target = Series::parse_target(&req.target).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, &req.db).await? {
            return Err(fail(format!(
                "database {:?} does not exist on {}: check --db",
                req.db,
                self.conn.server()
            )));
        }
        let major = server::server_major(&maint).await?;
        let lock = lock::acquire(&self.conn, &req.db).await?;
        self.recover_swap(&req.db).await?;
        let key = self.conn.server_key();
        let mut camp = campaign::load_or_new(&self.state_dir, &key, &req.db)?;
        let frozen = !server::allows_connections(&maint, &req.db).await?;
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
        let rights = server::role_rights(&maint).await?;
        if !rights.superuser && !rights.createdb {
            return Err(fail(format!(
                "role {:?} cannot create databases: as a superuser run ALTER ROLE \"{}\" CREATEDB",
                rights.name, rights.name
            )));
        }
        let mut notes = Vec::new();
        if let Some(n) = super::test_job::beyond_table_note(target) {
            notes.push(n);
        }
        let resume = self
            .resume_or_discard(
                &maint,
                major,
                &camp.production_jobs,
                &req.db,
                target,
                None,
                req.discard,
                &mut notes,
            )
            .await?;
        let written = match (&req.import, req.engine) {
            (Some(path), _) => Some(ReadyPlan::import(path, source, target)?),
            (None, super::openupgrade::EngineChoice::OpenUpgrade) => None,
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
                self.pick_name(&maint, &req.db, "upgrade", target, None, &mut notes)
                    .await?
            }
        };
        let (plan, hops) = match written {
            Some(p) => (p, Vec::new()),
            None => {
                // Production is frozen (no connections): the modules come
                // from the last inspection of a test job's source, i.e. none here.
                self.derive_openupgrade(&req.db, &work_db, source, target, &[], &[], &mut notes)?
            }
        };
        // A truncated or foreign archive is refused now, before anything is made.
        let pg_restore = crate::pg::tools::client_tool("pg_restore", major).map_err(fail)?;
        for path in plan.imports() {
            super::import::check(path, &pg_restore).map_err(|e| fail(e.to_string()))?;
        }
        let size = server::db_size(&maint, &req.db).await?;
        // The copy and its backup.
        self.check_disk(&maint, &rights, size * 2, &mut notes)
            .await?;
        match &self.data_dir {
            Some(dd) if !filestore::path(dd, &req.db).is_dir() => notes.push(Note {
                level: "warn",
                text: format!("no filestore at {}: the upgraded copy will have no attachments", filestore::path(dd, &req.db).display()),
            }),
            None => notes.push(Note { level: "warn", text: "Odoo data dir unknown (--data-dir or odoo.conf data_dir): the filestore is not carried along".into() }),
            _ => {}
        }
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
                steps: &STEPS,
                source_uuid: freeze.uuid.clone(),
            }),
        };
        record.openupgrade = hops;
        self.register(&mut camp, &record)?;
        Ok(PreparedProduction {
            record,
            plan,
            notes,
            resumed,
            target,
            major,
            maint,
            lock,
            preflight_seconds: t0.elapsed().as_secs_f64(),
        })
    }

    pub fn start_production(&self, prepared: PreparedProduction) -> JobHandle {
        let id = prepared.record.id.clone();
        self.spawn_job(id, STEPS.len(), move |engine, emit, token| async move {
            engine.run_production(prepared, emit, token).await
        })
    }

    async fn run_production(
        &self,
        p: PreparedProduction,
        emit: Arc<Emitter>,
        cancel: CancellationToken,
    ) -> Result<JobRecord, EngineError> {
        let PreparedProduction {
            mut record,
            plan,
            notes,
            major,
            maint,
            lock,
            preflight_seconds,
            target,
            ..
        } = p;
        let _lock = lock;
        Self::log_notes(&notes, &emit);
        let mut current = String::new();
        let result = self
            .production_steps(
                &mut record,
                &plan,
                major,
                &maint,
                target,
                preflight_seconds,
                &emit,
                &cancel,
                &mut current,
            )
            .await;
        self.settle(record, result, &maint, major, &cancel, current, &emit)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn production_steps(
        &self,
        record: &mut JobRecord,
        plan: &ReadyPlan,
        major: u32,
        maint: &Client,
        target: Series,
        preflight_seconds: f64,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<(), EngineError> {
        let work = record.work_db.clone();

        self.preflight_step(record, preflight_seconds, emit, current)
            .await?;
        // Frozen: nobody is connected, so the template copy is safe and fastest.
        let why = "production is frozen: template copy";
        let cloned = self
            .clone_step(
                record,
                CloneMethod::Template,
                why,
                maint,
                major,
                emit,
                cancel,
                current,
            )
            .await?;
        // Production's side of the comparison: the frozen production, read from its copy.
        if !record.is_done("plan") || !cloned {
            self.compare_baseline(record, !cloned, emit).await;
        }

        *current = "backup".into();
        if record.is_done("backup")
            && cloned
            && record.backup.as_ref().is_some_and(|b| b.dump.is_dir())
        {
            emit.event(Event::StepSkipped {
                step: current.clone(),
                why: "backup taken before".into(),
            })
            .await;
        } else {
            let t0 = self.begin(record, "backup", emit)?;
            emit.event(Event::StepStarted {
                step: current.clone(),
            })
            .await;
            let dir = backup::default_dir(&self.state_dir);
            let fs_root = self.data_dir.as_ref().map(|d| d.join("filestore"));
            let fs = fs_root
                .as_deref()
                .filter(|r| r.join(&work).is_dir())
                .map(|r| (r, std::path::Path::new(work.as_str())));
            super::emit::pause_point("during:backup").await;
            let jobs = self.config.clone.jobs;
            let b = backup::backup(&self.conn, major, &work, &dir, fs, jobs, cancel).await?;
            emit.log(format!(
                "backup {} ({})",
                b.dump.display(),
                human_size(b.bytes as i64)
            ));
            record.backup = Some(b);
            self.finish(
                record,
                "backup",
                t0,
                format!("pg_dump -Fd -Z1 -j {jobs}, checked with pg_restore --list"),
                emit,
            )
            .await?;
        }

        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        *current = "plan".into();
        let t0 = self.begin(record, "plan", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        let outcomes = std::sync::Mutex::new(Vec::new());
        let hop_log = job::log_path(&self.state_dir, &format!("{}-hop", record.id));
        let ctx = plan::RunCtx {
            conn: &self.conn,
            db: &work,
            data_dir: self.data_dir.as_deref(),
            emit,
            cancel,
            outcomes: Some(&outcomes),
            hop_log: Some(&hop_log),
        };
        let ran = plan::run(plan, &ctx).await;
        let outcomes = outcomes.into_inner().unwrap_or_default();
        self.record_hops(record, outcomes, None, emit)?;
        ran?;
        self.finish(record, "plan", t0, String::new(), emit).await?;

        *current = "verify".into();
        let t0 = self.begin(record, "verify", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        let c = self.conn.connect(&work).await?;
        let checks = verify::upgraded(&c, &work, target).await?;
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        record.checks = checks;
        if !failed.is_empty() {
            return Err(EngineError::Verify(format!(
                "{}; {work:?} is not ready to restore (fix the plan and run production again)",
                failed.join("; ")
            )));
        }
        self.finish(record, "verify", t0, "ready to restore".into(), emit)
            .await?;
        self.compare_step(record, emit, current).await?;
        Ok(())
    }
}

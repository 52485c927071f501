//! The test job (DESIGN.md §4): preflight → clone → neutralize → plan →
//! neutralize again → verify → ready. The source is only ever read.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::{self, CloneChoice, CloneMethod};
use super::emit::Emitter;
use super::events::Event;
use super::job::{self, JobKind, JobRecord, JobStatus};
use super::lock::{self, JobLock};
use super::openupgrade::EngineChoice;
use super::plan::{self, Plan, ReadyPlan};
use super::{Engine, EngineError, JobHandle};
use crate::campaign;
use crate::odoo::inspect::{self, Inspection, human_size};
use crate::odoo::neutralize::{self, Options};
use crate::odoo::version::Series;
use crate::odoo::{filestore, verify};
use crate::pg::ident::{check_db_name, name_with_suffix};
use crate::pg::server;

pub const STEPS: [&str; 7] = [
    "preflight",
    "clone",
    "neutralize",
    "plan",
    "neutralize_again",
    "verify",
    super::compare::STEP,
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

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub level: &'static str,
    pub text: String,
}

/// What preflight found; the job starts from it.
pub struct PreparedTest {
    pub record: JobRecord,
    pub plan: ReadyPlan,
    pub method: CloneMethod,
    pub why: String,
    pub notes: Vec<Note>,
    pub resumed: bool,
    pub inspection: Inspection,
    pub target: Series,
    major: u32,
    maint: Client,
    lock: JobLock,
    preflight_seconds: f64,
    /// The source refuses connections: its modules are checked on the copy.
    source_frozen: bool,
}

/// A target newer than the version table is accepted, with this warning.
pub fn beyond_table_note(target: Series) -> Option<Note> {
    target.is_beyond_table().then(|| Note {
        level: "warn",
        text: format!(
            "{target} is newer than the versions this upgrade-pilot knows (up to {}.0): its neutralization applies the newest rules where the schema matches",
            crate::odoo::version::newest_major()
        ),
    })
}

fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

/// Modules left "to install/upgrade/remove" by an unfinished operation: refused.
fn pending_refusal(i: &Inspection) -> Option<EngineError> {
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
        let t0 = Instant::now();
        check_db_name(&req.db).map_err(|e| fail(e.to_string()))?;
        let target = Series::parse_target(&req.target).map_err(|e| fail(e.to_string()))?;
        if let Some(name) = &req.test_db {
            check_db_name(name).map_err(|e| fail(format!("--test-db: {e}")))?;
        }
        neutralize::check_skips(&self.neutralize_options())?;
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
        // A frozen source cannot be read, but it can be a template: its facts
        // come from the freeze record, its modules are checked on the copy.
        let source_frozen = !server::allows_connections(&maint, &req.db).await?;
        let inspection = if source_frozen {
            self.frozen_source(&maint, req).await?
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
        let rights = server::role_rights(&maint).await?;
        if !rights.superuser && !rights.createdb {
            return Err(fail(format!(
                "role {:?} cannot create databases: as a superuser run ALTER ROLE \"{}\" CREATEDB, or connect as a role that can",
                rights.name, rights.name
            )));
        }
        if !rights.superuser && !server::can_own(&maint, &req.db).await? {
            return Err(fail(format!(
                "role {:?} does not own {:?}: connect as its owner (db_user in odoo.conf) so the copy keeps the same rights",
                rights.name, req.db
            )));
        }

        let server_key = self.server_key().await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &server_key, &req.db)?;
        let mut notes = Vec::new();
        let resume = self
            .resume_or_discard(
                &maint,
                major,
                &camp.test_jobs,
                &req.db,
                target,
                req.test_db.as_deref(),
                req.discard,
                &mut notes,
            )
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
            EngineChoice::OdooPlatform => Some(ReadyPlan::platform(target)),
        };

        let work_db = match &resume {
            Some(j) => j.work_db.clone(),
            None => {
                self.pick_name(
                    &maint,
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
                    &installed,
                    &inspection.custom_modules,
                    &mut notes,
                )?
            }
        };
        let (method, why) = match &resume {
            Some(j) if j.is_done("clone") => (
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
            _ => clone::choose(&maint, &req.db, req.clone).await?,
        };
        if method == CloneMethod::Snapshot {
            for tool in ["pg_dump", "pg_restore"] {
                crate::pg::tools::client_tool(tool, major).map_err(fail)?;
            }
        }
        self.check_disk(&maint, &rights, inspection.size_bytes, &mut notes)
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
                level: "warn",
                text: format!(
                    "{target} is outside the versions Odoo's upgrade service supports ({})",
                    self.config.odoo.supported_targets.join(", ")
                ),
            });
        }
        if !inspection.custom_modules.is_empty() {
            notes.push(Note { level: "warn", text: format!(
                "{} custom module(s) not covered by Odoo's upgrade service, test them yourself: {}",
                inspection.custom_modules.len(),
                inspection.custom_modules.join(", ")
            ) });
        }
        if inspection.studio {
            notes.push(Note {
                level: "warn",
                text:
                    "Studio customizations installed: not covered by Odoo's upgrade SLA, test them"
                        .into(),
            });
        }
        if !inspection.code_actions.is_empty() {
            notes.push(Note {
                level: "warn",
                text: format!(
                    "{} server/automated action(s) with Python code: check them on the test copy",
                    inspection.code_actions.len()
                ),
            });
        }
        if !inspection.custom_views.is_empty() {
            notes.push(Note {
                level: "warn",
                text: format!(
                    "{} view(s) customized in the database: check they still apply",
                    inspection.custom_views.len()
                ),
            });
        }
        match &self.data_dir {
            Some(dd) if !filestore::path(dd, &req.db).is_dir() => notes.push(Note { level: "warn", text: format!(
                "no filestore at {}: the test copy will have no attachments (images, PDFs)", filestore::path(dd, &req.db).display()
            ) }),
            None => notes.push(Note { level: "warn", text: "Odoo data dir unknown (--data-dir or odoo.conf data_dir): the filestore is not copied, attachments will be missing".into() }),
            _ => {}
        }

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
            record,
            plan,
            method,
            why,
            notes,
            resumed,
            inspection,
            target,
            major,
            maint,
            lock,
            preflight_seconds: t0.elapsed().as_secs_f64(),
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
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn resume_or_discard(
        &self,
        maint: &Client,
        major: u32,
        jobs: &[String],
        source: &str,
        target: Series,
        name: Option<&str>,
        discard: bool,
        notes: &mut Vec<Note>,
    ) -> Result<Option<JobRecord>, EngineError> {
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
                level: "info",
                text: format!(
                    "discarded the {what} {kind} job {} and dropped {:?}",
                    prev.id, prev.work_db
                ),
            });
            Ok(None)
        } else if same {
            notes.push(Note {
                level: "info",
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
                        level: "info",
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
                level: "info",
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
                    level: "ok",
                    text: format!(
                        "disk room: {} free, copy needs {}",
                        human_size(free),
                        human_size(need)
                    ),
                });
            }
            Err(_) => notes.push(Note {
                level: "info",
                text: format!("disk room not checked ({dir} not readable here)"),
            }),
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
        let id = prepared.record.id.clone();
        self.spawn_job(id, STEPS.len(), move |engine, emit, token| async move {
            engine.run_test(prepared, emit, token).await
        })
    }

    async fn run_test(
        &self,
        p: PreparedTest,
        emit: Arc<Emitter>,
        cancel: CancellationToken,
    ) -> Result<JobRecord, EngineError> {
        let PreparedTest {
            mut record,
            plan,
            method,
            why,
            notes,
            major,
            maint,
            lock,
            preflight_seconds,
            target,
            source_frozen,
            ..
        } = p;
        let _lock = lock;
        Self::log_notes(&notes, &emit);
        let mut current = String::new();
        let result = self
            .test_steps(
                &mut record,
                &plan,
                method,
                &why,
                major,
                &maint,
                target,
                preflight_seconds,
                source_frozen,
                &emit,
                &cancel,
                &mut current,
            )
            .await;
        self.settle(record, result, &maint, major, &cancel, current, &emit)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn test_steps(
        &self,
        record: &mut JobRecord,
        plan: &ReadyPlan,
        method: CloneMethod,
        why: &str,
        major: u32,
        maint: &Client,
        target: Series,
        preflight_seconds: f64,
        source_frozen: bool,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<(), EngineError> {
        let work = record.work_db.clone();

        self.preflight_step(record, preflight_seconds, emit, current)
            .await?;
        let cloned_and_present = self
            .clone_step(record, method, why, maint, major, emit, cancel, current)
            .await?;
        if source_frozen && !record.is_done("neutralize") {
            // What preflight could not read on the frozen source, read on its copy.
            let c = self.conn.connect(&work).await?;
            let copy = inspect::inspect(&c, &work, &self.config.odoo.custom_modules).await?;
            if let Some(e) = pending_refusal(&copy) {
                return Err(e);
            }
            if !copy.custom_modules.is_empty() {
                emit.warn(format!(
                    "{} custom module(s) not covered by Odoo's upgrade service, test them yourself: {}",
                    copy.custom_modules.len(),
                    copy.custom_modules.join(", ")
                ))
                .await;
            }
        }
        // Production's side of the comparison, while the copy still equals it.
        if !record.is_done("neutralize") || !cloned_and_present {
            self.compare_baseline(record, !cloned_and_present, emit)
                .await;
        }

        if record.platform.is_some() {
            self.platform_dump_step(record, major, !cloned_and_present, emit, cancel, current)
                .await?;
        }
        let opts = self.neutralize_options();
        *current = "neutralize".into();
        if record.is_done("neutralize") && cloned_and_present {
            emit.event(Event::StepSkipped {
                step: current.clone(),
                why: "done before".into(),
            })
            .await;
        } else {
            let t0 = self.begin(record, "neutralize", emit)?;
            emit.event(Event::StepStarted {
                step: current.clone(),
            })
            .await;
            let mut c = self.conn.connect(&work).await?;
            let outcome = neutralize::neutralize(&mut c, &opts).await?;
            for n in &outcome.notes {
                emit.log(format!("neutralize: {n}"));
            }
            record.neutralized = outcome.report;
            record.by_module.neutralized_by_module = outcome.modules;
            record.by_module.neutralize_notes = outcome.notes;
            let total = record.neutralized.total();
            self.finish(record, "neutralize", t0, format!("{total} rows"), emit)
                .await?;
        }

        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        if record.platform.is_some() {
            self.platform_steps(record, maint, major, emit, cancel, current)
                .await?;
        } else {
            self.plan_step(record, plan, true, emit, cancel, current)
                .await?;
        }

        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        *current = "neutralize_again".into();
        let t0 = self.begin(record, "neutralize_again", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        let mut c = self.conn.connect(&work).await?;
        let again = neutralize::neutralize(&mut c, &opts).await?;
        record.neutralized_again = again.report;
        record.by_module.neutralized_again_by_module = again.modules;
        for n in again.notes {
            if !record.by_module.neutralize_notes.contains(&n) {
                emit.log(format!("neutralize: {n}"));
                record.by_module.neutralize_notes.push(n);
            }
        }
        let total = record.neutralized_again.total();
        drop(c);
        let odoo = self.odoo_neutralize(record, target, emit, cancel).await;
        let c = self.conn.connect(&work).await?;
        self.finish(
            record,
            "neutralize_again",
            t0,
            match odoo {
                Some(o) => format!("{total} rows; {o}"),
                None => format!("{total} rows"),
            },
            emit,
        )
        .await?;

        *current = "verify".into();
        let t0 = self.begin(record, "verify", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        let mut checks = verify::neutralized(&c, record.source_uuid.as_deref()).await?;
        checks.extend(verify::rules_hold(&c, &again.postconditions).await?);
        checks.extend(verify::upgraded(&c, &work, target).await?);
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        record.checks = checks;
        if !failed.is_empty() {
            return Err(EngineError::Verify(format!(
                "{}; the copy {work:?} is not ready (fix the plan and run test again)",
                failed.join("; ")
            )));
        }
        self.finish(record, "verify", t0, "all checks passed".into(), emit)
            .await?;
        self.compare_step(record, emit, current).await?;
        Ok(())
    }

    /// The plan step of both jobs: the plan's hops on the working copy (a
    /// test job's failed hops become anomaly drafts of the copy).
    pub(super) async fn plan_step(
        &self,
        record: &mut JobRecord,
        plan: &ReadyPlan,
        drafts: bool,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<(), EngineError> {
        let work = record.work_db.clone();
        *current = "plan".into();
        let t0 = self.begin(record, "plan", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        emit.log(format!("plan {:?} ({})", plan.name, plan.path.display()));
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
        self.record_hops(record, outcomes, drafts.then_some(work.as_str()), emit)?;
        ran?;
        self.finish(record, "plan", t0, String::new(), emit).await?;
        Ok(())
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

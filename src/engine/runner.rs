//! What every job does around its own steps, written once: the [`Runner`]
//! skips a step done before, honours a cancel between steps, marks a step
//! begun and finished in the job file (with the test hooks: pause and crash
//! points `before:<step>`, crash point `after:<step>`), and settles the
//! outcome: ready, failed (resumable), or cancelled (the half-made copy
//! dropped). The steps both jobs share (preflight, clone, plan) live here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::CloneMethod;
use super::emit::{Emitter, crash_point, pause_point};
use super::events::{Event, Progress};
use super::job::{self, JobRecord, JobStatus, StepStatus};
use super::plan::ReadyPlan;
use super::preflight::{Note, PreparedJob};
use super::step::Step;
use super::{Engine, EngineError, JobHandle, clone, plan};
use crate::odoo::filestore;
use crate::odoo::inspect::human_size;
use crate::odoo::verify::{self, Check};
use crate::odoo::version::Series;
use crate::pg::server;

/// What the steps of a running job read: where it runs and how it reports.
#[derive(Clone, Copy)]
pub(super) struct JobCtx<'a> {
    pub maint: &'a Client,
    pub major: u32,
    pub plan: &'a ReadyPlan,
    pub target: Series,
    pub emit: &'a Emitter,
    pub cancel: &'a CancellationToken,
}

/// Runs a job's steps one after the other, the same way for every job.
pub(super) struct Runner<'a> {
    engine: &'a Engine,
    pub cx: JobCtx<'a>,
    /// The step under way: a failure is recorded against it.
    current: Step,
    /// Preflight ran before the job started; its step is recorded with this time.
    preflight: Duration,
}

impl<'a> Runner<'a> {
    /// What preflight noted goes to the job's log first.
    pub fn new(engine: &'a Engine, cx: JobCtx<'a>, preflight_seconds: f64, notes: &[Note]) -> Self {
        for n in notes {
            cx.emit.log(format!("preflight [{}] {}", n.level, n.text));
        }
        Runner {
            engine,
            cx,
            current: Step::Preflight,
            preflight: Duration::from_secs_f64(preflight_seconds),
        }
    }

    /// One step: skipped when `skip` gives a reason (done before), else begun,
    /// run, and finished with the detail `body` returns. Returns whether it ran.
    pub async fn step(
        &mut self,
        record: &mut JobRecord,
        step: Step,
        skip: Option<&str>,
        body: impl AsyncFnOnce(&mut JobRecord) -> Result<String, EngineError>,
    ) -> Result<bool, EngineError> {
        self.run(record, step, skip, Duration::ZERO, body).await
    }

    async fn run(
        &mut self,
        record: &mut JobRecord,
        step: Step,
        skip: Option<&str>,
        before: Duration,
        body: impl AsyncFnOnce(&mut JobRecord) -> Result<String, EngineError>,
    ) -> Result<bool, EngineError> {
        self.current = step;
        let Some(t0) = self.open(record, step, skip).await? else {
            return Ok(false);
        };
        let detail = body(record).await?;
        let t0 = t0.checked_sub(before).unwrap_or(t0);
        self.finish(record, step, t0, detail).await?;
        Ok(true)
    }

    fn begin(&self, record: &mut JobRecord, step: Step) -> Result<Instant, EngineError> {
        crash_point(&format!("before:{step}"));
        let idx = record
            .steps
            .iter()
            .position(|s| s.name == step)
            .unwrap_or(0);
        self.cx.emit.progress(|p| {
            p.step = Some(step);
            p.index = idx;
            p.fraction = None;
            p.detail.clear();
        });
        if let Some(s) = record.step_mut(step) {
            s.status = StepStatus::Running;
            s.started_at = Some(Utc::now());
            s.finished_at = None;
            s.detail.clear();
        }
        job::save(&self.engine.state_dir, record)?;
        Ok(Instant::now())
    }

    async fn finish(
        &self,
        record: &mut JobRecord,
        step: Step,
        t0: Instant,
        detail: String,
    ) -> Result<(), EngineError> {
        self.finish_at(record, step, t0, Instant::now(), detail)
            .await
    }

    /// `finish` for a step that ended at `ended` (before now, when it ran alongside).
    async fn finish_at(
        &self,
        record: &mut JobRecord,
        step: Step,
        t0: Instant,
        ended: Instant,
        detail: String,
    ) -> Result<(), EngineError> {
        let seconds = ended.saturating_duration_since(t0).as_secs_f64();
        let ago = chrono::Duration::from_std(ended.elapsed()).unwrap_or_default();
        if let Some(s) = record.step_mut(step) {
            s.status = StepStatus::Done;
            s.finished_at = Some(Utc::now() - ago);
            s.seconds = Some(seconds);
            s.detail = detail;
        }
        job::save(&self.engine.state_dir, record)?;
        self.cx
            .emit
            .event(Event::StepFinished { step, seconds })
            .await;
        crash_point(&format!("after:{step}"));
        Ok(())
    }

    /// A step begun: skipped when `skip` gives a reason (then None), else
    /// marked begun. A step run alongside the ones after it (the backup while
    /// the plan runs, issue 15) is opened so, run by the caller concurrently
    /// with the next steps, and both outcomes go to [`Runner::end_alongside`].
    pub async fn open(
        &mut self,
        record: &mut JobRecord,
        step: Step,
        skip: Option<&str>,
    ) -> Result<Option<Instant>, EngineError> {
        if let Some(why) = skip {
            self.cx
                .emit
                .event(Event::StepSkipped {
                    step,
                    why: why.into(),
                })
                .await;
            return Ok(None);
        }
        // A cancel asked for during the last step ends the job here.
        if self.cx.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        pause_point(&format!("before:{step}")).await;
        let t0 = self.begin(record, step)?;
        self.cx.emit.event(Event::StepStarted { step }).await;
        Ok(Some(t0))
    }

    /// The end of a step run alongside: finished with `side`'s detail, at
    /// `ended` (its own time, not the others'). The job ends only now; the
    /// other steps' failure comes first, else a failure of `side` fails the
    /// job against this step.
    pub async fn end_alongside(
        &mut self,
        record: &mut JobRecord,
        step: Step,
        (t0, ended): (Instant, Instant),
        side: Result<String, EngineError>,
        rest: Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        match side {
            Ok(detail) => {
                self.finish_at(record, step, t0, ended, detail).await?;
                rest
            }
            Err(e) => {
                rest?;
                self.current = step;
                Err(e)
            }
        }
    }

    /// The preflight step: its checks ran before the job started; recorded with their time.
    pub async fn preflight(&mut self, record: &mut JobRecord) -> Result<(), EngineError> {
        let skip = record.is_done(Step::Preflight).then_some("done before");
        let before = self.preflight;
        self.run(record, Step::Preflight, skip, before, async |_| {
            Ok(String::new())
        })
        .await?;
        Ok(())
    }

    /// The job's end: ready, or failed (resumable), or cancelled (the
    /// half-made copy dropped). The failure is recorded against the current step.
    pub async fn settle(
        self,
        mut record: JobRecord,
        result: Result<(), EngineError>,
    ) -> Result<JobRecord, EngineError> {
        let Runner {
            engine,
            cx,
            current,
            ..
        } = self;
        let emit = cx.emit;
        match result {
            Ok(()) => {
                record.status = JobStatus::Ready;
                record.finished_at = Some(Utc::now());
                job::save(&engine.state_dir, &record)?;
                emit.log(format!("{:?} is ready", record.work_db));
                Ok(record)
            }
            Err(e) => {
                let e = if e.is_connection_loss() {
                    EngineError::Interrupted(e.to_string())
                } else {
                    e
                };
                let cancelled = cx.cancel.is_cancelled()
                    || matches!(
                        e,
                        EngineError::Cancelled
                            | EngineError::Plan(plan::PlanError::Cancelled)
                            | EngineError::Clone(clone::CloneError::Cancelled)
                    );
                if cancelled {
                    // Half-made copy: drop it; it never reached "ready".
                    let _ = server::drop_db(cx.maint, &record.work_db, cx.major).await;
                    if let Some(dd) = &engine.data_dir {
                        let _ = filestore::remove(dd, &record.work_db);
                    }
                    record.status = JobStatus::Cancelled;
                } else {
                    record.status = JobStatus::Failed;
                }
                let msg = match (cancelled, &record.platform) {
                    // What becomes of the request at Odoo is said with the cancel.
                    (true, Some(p)) => format!("{}; {}", EngineError::Cancelled, p.on_cancel()),
                    (true, None) => EngineError::Cancelled.to_string(),
                    (false, _) => e.to_string(),
                };
                if let Some(s) = record.step_mut(current) {
                    s.status = StepStatus::Failed;
                    s.finished_at = Some(Utc::now());
                    s.detail = msg.clone();
                }
                record.error = Some(msg.clone());
                record.finished_at = Some(Utc::now());
                job::save(&engine.state_dir, &record)?;
                emit.event(Event::StepFailed {
                    step: current,
                    error: msg,
                })
                .await;
                Err(if cancelled { EngineError::Cancelled } else { e })
            }
        }
    }
}

/// The verify step's end: the checks kept in the job; a failed one fails the
/// step, its message followed by `verdict` (what it means, what to do).
pub(super) fn keep_checks(
    record: &mut JobRecord,
    checks: Vec<Check>,
    verdict: &str,
) -> Result<(), EngineError> {
    let failed = verify::failures(&checks);
    record.checks = checks;
    if failed.is_empty() {
        return Ok(());
    }
    Err(EngineError::Verify(format!(
        "{}; {verdict}",
        failed.join("; ")
    )))
}

impl Engine {
    /// A job from start to end: its steps (`steps`), then its outcome settled.
    pub(super) async fn run_job(
        &self,
        job: PreparedJob,
        emit: &Emitter,
        cancel: &CancellationToken,
        steps: impl AsyncFnOnce(&mut JobRecord, &mut Runner<'_>) -> Result<(), EngineError>,
    ) -> Result<JobRecord, EngineError> {
        let PreparedJob {
            mut record,
            plan,
            notes,
            major,
            maint,
            lock,
            preflight_seconds,
            target,
            ..
        } = job;
        // Held until the job ends.
        let _lock = lock;
        let cx = JobCtx {
            maint: &maint,
            major,
            plan: &plan,
            target,
            emit,
            cancel,
        };
        let mut run = Runner::new(self, cx, preflight_seconds, &notes);
        let result = steps(&mut record, &mut run).await;
        run.settle(record, result).await
    }

    /// The clone step of both jobs: the database copy, then the filestore as
    /// hard links. A copy left by a killed run is half-made: dropped and redone.
    /// Returns whether an earlier run had made the copy already.
    pub(super) async fn clone_step(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
        method: CloneMethod,
        why: &str,
    ) -> Result<bool, EngineError> {
        let JobCtx {
            maint,
            major,
            emit,
            cancel,
            ..
        } = run.cx;
        let (src, work) = (record.source_db.clone(), record.work_db.clone());
        let made_before = record.is_done(Step::Clone) && server::db_exists(maint, &work).await?;
        let skip = made_before.then_some("copy made before");
        run.step(record, Step::Clone, skip, async |record| {
            // A killed run's CREATE DATABASE or pg_dump/pg_restore may still run:
            // ended first, or they would race this run (issue 10, case 9).
            super::leftovers::end(maint, &self.conn, &work, emit).await?;
            if server::db_exists(maint, &work).await? {
                emit.log(format!(
                    "dropping the half-made copy {work:?} left by an interrupted run"
                ));
                server::drop_db(maint, &work, major).await?;
            }
            emit.log(why.to_string());
            match method {
                CloneMethod::Template => {
                    clone::template_copy(maint, &src, &work, major, cancel).await?
                }
                CloneMethod::Snapshot => {
                    clone::snapshot_copy(
                        &self.conn,
                        maint,
                        clone::Snapshot {
                            src: &src,
                            dst: &work,
                            major,
                            jobs: self.config.clone.jobs,
                            scratch: Some(&clone::scratch_root(&self.state_dir)),
                        },
                        emit,
                        cancel,
                    )
                    .await?
                }
            }
            crash_point("during:clone");
            pause_point("during:clone").await;
            record.clone_method = Some(method.as_str().into());
            self.copy_filestore(record, &src, &work, emit).await?;
            Ok(format!("{} copy", method.as_str()))
        })
        .await?;
        Ok(made_before)
    }

    /// The source's filestore beside the copy, as hard links.
    async fn copy_filestore(
        &self,
        record: &mut JobRecord,
        src: &str,
        work: &str,
        emit: &Emitter,
    ) -> Result<(), EngineError> {
        let Some(dd) = &self.data_dir else {
            return Ok(());
        };
        let from = filestore::path(dd, src);
        if !from.is_dir() {
            return Ok(());
        }
        filestore::remove(dd, work).map_err(|e| EngineError::Io(e.to_string()))?;
        let to = filestore::path(dd, work);
        let stats = filestore::link_tree(&from, &to)
            .map_err(|e| EngineError::Io(format!("filestore copy to {}: {e}", to.display())))?;
        let how = if stats.copied == 0 {
            "hard links"
        } else {
            "copies"
        };
        record.filestore = Some(to.display().to_string());
        emit.log(format!(
            "filestore: {} files, {} ({how})",
            stats.files,
            human_size(stats.bytes as i64)
        ));
        // Never a file dropped silently: links and odd entries are said.
        for n in stats.link_notes() {
            emit.warn(format!("filestore: {n}")).await;
        }
        Ok(())
    }

    /// The plan step of both jobs: the plan (or the OpenUpgrade hops) on the
    /// copy, each hop's outcome kept in the job. `test_db`: anomaly drafts of
    /// a test job name its copy.
    pub(super) async fn plan_step(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
        test_db: Option<&str>,
    ) -> Result<(), EngineError> {
        let JobCtx {
            plan, emit, cancel, ..
        } = run.cx;
        let work = record.work_db.clone();
        run.step(record, Step::Plan, None, async |record| {
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
            let ran = super::execute::run(plan, &ctx).await;
            let outcomes = outcomes.into_inner().unwrap_or_default();
            self.record_hops(record, outcomes, test_db, emit)?;
            ran?;
            Ok(String::new())
        })
        .await?;
        Ok(())
    }

    /// Starts a job's body in the background with its channels, its log file
    /// and its cancellation token: the handle both front ends consume.
    pub(super) fn spawn_job<F, Fut>(&self, id: String, steps: usize, body: F) -> JobHandle
    where
        F: FnOnce(Engine, Arc<Emitter>, CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<JobRecord, EngineError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(4096);
        let (ptx, prx) = watch::channel(Progress {
            count: steps,
            ..Default::default()
        });
        let cancel = CancellationToken::new();
        let emit = Arc::new(Emitter::new(
            tx,
            ptx,
            Some(&job::log_path(&self.state_dir, &id)),
        ));
        let engine = self.clone();
        let job_cancel = cancel.clone();
        let join = tokio::spawn(async move {
            // Beside the job: says who holds a lock one of its statements waits for.
            let stop = CancellationToken::new();
            let watch = tokio::spawn(super::lock::watch_lock_waits(
                engine.conn.clone(),
                emit.clone(),
                stop.clone(),
            ));
            let result = body(engine, emit, job_cancel).await;
            stop.cancel();
            let _ = watch.await;
            result
        });
        JobHandle {
            id,
            events: rx,
            progress: prx,
            cancel,
            join,
        }
    }
}

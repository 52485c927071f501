//! What every job does around its own steps: marking a step begun and finished
//! in the job file (with the crash points tests use), and settling the outcome:
//! ready, failed (resumable), or cancelled (the half-made copy dropped).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::clone::CloneMethod;
use super::emit::{Emitter, crash_point, pause_point};
use super::events::{Event, Progress};
use super::job::{self, JobRecord, JobStatus, StepStatus};
use super::test_job::Note;
use super::{Engine, EngineError, JobHandle, clone, plan};
use crate::odoo::filestore;
use crate::odoo::inspect::human_size;
use crate::pg::server;

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn settle(
        &self,
        mut record: JobRecord,
        result: Result<(), EngineError>,
        maint: &Client,
        major: u32,
        cancel: &CancellationToken,
        current: String,
        emit: &Emitter,
    ) -> Result<JobRecord, EngineError> {
        match result {
            Ok(()) => {
                record.status = JobStatus::Ready;
                record.finished_at = Some(Utc::now());
                job::save(&self.state_dir, &record)?;
                emit.log(format!("{:?} is ready", record.work_db));
                Ok(record)
            }
            Err(e) => {
                let e = if e.is_connection_loss() {
                    EngineError::Interrupted(e.to_string())
                } else {
                    e
                };
                let cancelled = cancel.is_cancelled()
                    || matches!(
                        e,
                        EngineError::Cancelled
                            | EngineError::Plan(plan::PlanError::Cancelled)
                            | EngineError::Clone(clone::CloneError::Cancelled)
                    );
                if cancelled {
                    // Half-made copy: drop it; it never reached "ready".
                    let _ = server::drop_db(maint, &record.work_db, major).await;
                    if let Some(dd) = &self.data_dir {
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
                if let Some(s) = record.step_mut(&current) {
                    s.status = StepStatus::Failed;
                    s.finished_at = Some(Utc::now());
                    s.detail = msg.clone();
                }
                record.error = Some(msg.clone());
                record.finished_at = Some(Utc::now());
                job::save(&self.state_dir, &record)?;
                emit.event(Event::StepFailed {
                    step: current,
                    error: msg,
                })
                .await;
                Err(if cancelled { EngineError::Cancelled } else { e })
            }
        }
    }

    pub(super) fn begin(
        &self,
        record: &mut JobRecord,
        step: &str,
        emit: &Emitter,
    ) -> Result<Instant, EngineError> {
        crash_point(&format!("before:{step}"));
        let idx = record
            .steps
            .iter()
            .position(|s| s.name == step)
            .unwrap_or(0);
        emit.progress(|p| {
            p.step = step.to_string();
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
        job::save(&self.state_dir, record)?;
        Ok(Instant::now())
    }

    pub(super) async fn finish(
        &self,
        record: &mut JobRecord,
        step: &str,
        t0: Instant,
        detail: String,
        emit: &Emitter,
    ) -> Result<(), EngineError> {
        let seconds = t0.elapsed().as_secs_f64();
        if let Some(s) = record.step_mut(step) {
            s.status = StepStatus::Done;
            s.finished_at = Some(Utc::now());
            s.seconds = Some(seconds);
            s.detail = detail;
        }
        job::save(&self.state_dir, record)?;
        emit.event(Event::StepFinished {
            step: step.to_string(),
            seconds,
        })
        .await;
        crash_point(&format!("after:{step}"));
        Ok(())
    }

    /// The preflight step: already done before the job started; recorded with its time.
    pub(super) async fn preflight_step(
        &self,
        record: &mut JobRecord,
        preflight_seconds: f64,
        emit: &Emitter,
        current: &mut String,
    ) -> Result<(), EngineError> {
        *current = "preflight".into();
        if record.is_done("preflight") {
            emit.event(Event::StepSkipped {
                step: current.clone(),
                why: "done before".into(),
            })
            .await;
            return Ok(());
        }
        let t0 = self.begin(record, "preflight", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
        let since = t0
            .checked_sub(std::time::Duration::from_secs_f64(preflight_seconds))
            .unwrap_or(t0);
        self.finish(record, "preflight", since, String::new(), emit)
            .await
    }

    /// The clone step of both jobs: the database copy, then the filestore as
    /// hard links. A copy left by a killed run is half-made: dropped and redone.
    /// Returns whether an earlier run had made the copy already.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn clone_step(
        &self,
        record: &mut JobRecord,
        method: CloneMethod,
        why: &str,
        maint: &Client,
        major: u32,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<bool, EngineError> {
        *current = "clone".into();
        let (src, work) = (record.source_db.clone(), record.work_db.clone());
        if record.is_done("clone") && server::db_exists(maint, &work).await? {
            emit.event(Event::StepSkipped {
                step: current.clone(),
                why: "copy made before".into(),
            })
            .await;
            return Ok(true);
        }
        let t0 = self.begin(record, "clone", emit)?;
        emit.event(Event::StepStarted {
            step: current.clone(),
        })
        .await;
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
        if let Some(dd) = &self.data_dir {
            let from = filestore::path(dd, &src);
            if from.is_dir() {
                filestore::remove(dd, &work).map_err(|e| EngineError::Io(e.to_string()))?;
                let to = filestore::path(dd, &work);
                let stats = filestore::link_tree(&from, &to).map_err(|e| {
                    EngineError::Io(format!("filestore copy to {}: {e}", to.display()))
                })?;
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
            }
        }
        self.finish(
            record,
            "clone",
            t0,
            format!("{} copy", method.as_str()),
            emit,
        )
        .await?;
        Ok(false)
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

    /// What preflight noted goes to the job's log first.
    pub(super) fn log_notes(notes: &[Note], emit: &Emitter) {
        for n in notes {
            emit.log(format!("preflight [{}] {}", n.level, n.text));
        }
    }
}

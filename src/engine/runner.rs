//! What every job does around its own steps: marking a step begun and finished
//! in the job file (with the crash points tests use), and settling the outcome:
//! ready, failed (resumable), or cancelled (the half-made copy dropped).

use std::time::Instant;

use chrono::Utc;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::emit::{Emitter, crash_point};
use super::events::Event;
use super::job::{self, JobRecord, JobStatus, StepStatus};
use super::{Engine, EngineError, clone, plan};
use crate::odoo::filestore;
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
                let msg = if cancelled {
                    EngineError::Cancelled.to_string()
                } else {
                    e.to_string()
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
}

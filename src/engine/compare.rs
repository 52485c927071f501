//! The comparison with production: the `compare` command, and the job's
//! `compare` step (docs/DESIGN.md, steps 2 and 8). Production's side of a job is read from a
//! copy nothing changed yet (the test job's fresh copy; the production
//! backup's scratch copy, while the plan runs), readable even when production
//! is frozen, and kept beside the job.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;

use super::emit::Emitter;
use super::job::{self, JobRecord};
use super::runner::Runner;
use super::step::Step;
use super::{Engine, EngineError};
use crate::campaign::store;
use crate::odoo::compare::{self, Comparison, Snapshot};
use crate::odoo::filestore;
use crate::pg::ident::{check_db_name, file_name_for};

/// Whose reading of production is taken: the job's id and production's name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading<'a> {
    pub id: &'a str,
    pub production: &'a str,
}

impl<'a> Reading<'a> {
    pub fn of(record: &'a JobRecord) -> Self {
        Reading {
            id: &record.id,
            production: &record.source_db,
        }
    }
}

fn baseline_path(state: &Path, job_id: &str) -> PathBuf {
    state
        .join("compare")
        .join(format!("{}.production.json", file_name_for(job_id)))
}

impl Engine {
    fn filestore_of(&self, db: &str) -> Option<PathBuf> {
        self.data_dir.as_deref().map(|d| filestore::path(d, db))
    }

    /// `upgrade-pilot compare`: both databases read at once and compared. Reads only.
    pub async fn compare_dbs(&self, prod: &str, copy: &str) -> Result<Comparison, EngineError> {
        for (flag, db) in [("--db", prod), ("--test-db", copy)] {
            check_db_name(db).map_err(|e| EngineError::Preflight(format!("{flag}: {e}")))?;
        }
        if prod == copy {
            return Err(EngineError::Preflight(
                "--db and --test-db name the same database: give production and its upgraded copy"
                    .into(),
            ));
        }
        let (a, b) = tokio::join!(self.conn.connect(prod), self.conn.connect(copy));
        let b = b?;
        let a = match a {
            Ok(a) => a,
            // A frozen database (the `_before_` kept by a restore) takes no connection:
            // its state was read from its copy when the production job began.
            Err(e @ crate::pg::conn::ConnError::NotAccepting { .. }) => {
                let Some(mut before) = self.kept_reading(prod).await? else {
                    return Err(e.into());
                };
                before.db = prod.to_string();
                before.filestore = self.filestore_of(prod);
                let t0 = Instant::now();
                let after = compare::snapshot(&b, copy, self.filestore_of(copy)).await?;
                return Ok(compare::compare(&before, &after, t0).await);
            }
            Err(e) => return Err(e.into()),
        };
        Ok(compare::compare_clients(
            (&a, prod, self.filestore_of(prod)),
            (&b, copy, self.filestore_of(copy)),
        )
        .await?)
    }

    /// Production's state read by the production job whose restore set `db` aside.
    async fn kept_reading(&self, db: &str) -> Result<Option<Snapshot>, EngineError> {
        let key = self.server_key().await?;
        for c in crate::campaign::all(&self.state_dir)? {
            if c.server != key {
                continue;
            }
            for s in c.history.iter().rev().filter(|s| s.aside == db) {
                if let Some(id) = &s.production_job {
                    if let Some(snap) = store::read_json(&baseline_path(&self.state_dir, id))? {
                        return Ok(Some(snap));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Production's side, read from `from` (a copy of it that nothing changed
    /// yet: the job's fresh copy, or the production backup's scratch copy).
    /// Taken once per copy (`fresh`: the copy was just made, an older reading is stale).
    pub(super) async fn compare_baseline(
        &self,
        job: Reading<'_>,
        from: &str,
        fresh: bool,
        emit: &Emitter,
    ) {
        let path = baseline_path(&self.state_dir, job.id);
        if path.is_file() && !fresh {
            return;
        }
        let t0 = Instant::now();
        let result = async {
            let c = self.conn.connect(from).await?;
            let mut snap = compare::snapshot(&c, from, self.filestore_of(job.production)).await?;
            snap.db = job.production.to_string();
            store::write_json(&path, &snap)?;
            Ok::<_, EngineError>(())
        }
        .await;
        match result {
            Ok(()) => emit.log(format!(
                "read production's state for the comparison from its copy {from:?} ({:.1}s)",
                t0.elapsed().as_secs_f64()
            )),
            // The compare step falls back to reading production itself.
            Err(e) => emit.log(format!(
                "warning: production's state not read from its copy {from:?}: {e}"
            )),
        }
    }

    /// The job's last step: the copy against production. Differences are
    /// findings for the tester, never a failure of the job.
    pub(super) async fn compare_step(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
    ) -> Result<(), EngineError> {
        let emit = run.cx.emit;
        run.step(record, Step::Compare, None, async |record| {
            Ok(match self.compare_job(record).await {
                Ok(c) => {
                    let line = c.summary();
                    for check in c.failed() {
                        emit.log(format!(
                            "compare: {} ({}): {}",
                            check.name, check.area, check.summary
                        ));
                    }
                    record.comparison = Some(Box::new(c));
                    line
                }
                Err(e) => {
                    emit.log(format!("warning: comparison with production not made: {e}"));
                    record.comparison = None;
                    format!("not compared: {e}")
                }
            })
        })
        .await?;
        Ok(())
    }

    async fn compare_job(&self, record: &JobRecord) -> Result<Comparison, EngineError> {
        let t0 = Instant::now();
        let copy = self.conn.connect(&record.work_db).await?;
        let baseline: Option<Snapshot> =
            store::read_json(&baseline_path(&self.state_dir, &record.id))?;
        let before = match baseline {
            Some(b) => b,
            None => {
                // No state read at clone time (an older job): production as it is now.
                let prod = self.conn.connect(&record.source_db).await?;
                compare::snapshot(
                    &prod,
                    &record.source_db,
                    self.filestore_of(&record.source_db),
                )
                .await?
            }
        };
        // The job's own copy, nobody else on it: two sessions share its
        // checks (for a production job, the step is in the production window).
        let second = self.conn.connect(&record.work_db).await.ok();
        let sessions: Vec<&tokio_postgres::Client> =
            std::iter::once(&copy).chain(second.as_ref()).collect();
        let mut after = compare::snapshot_on(
            &sessions,
            &record.work_db,
            self.filestore_of(&record.work_db),
        )
        .await?;
        // What the upgrade's log says it renamed or merged (a DEBUG log of openupgradelib).
        if let Ok(f) = std::fs::File::open(job::log_path(&self.state_dir, &record.id)) {
            after.module_moves_logged = compare::modules::moves_in_log(std::io::BufReader::new(f));
        }
        Ok(compare::compare(&before, &after, t0).await)
    }

    /// The checklist's `r`: the test copy against production as it is now, kept
    /// in the copy's job (its report and checklist show this one from then on).
    pub async fn recompare_test(&self, db: &str, test_db: &str) -> Result<Comparison, EngineError> {
        let cmp = self.compare_dbs(db, test_db).await?;
        if let Some(c) = crate::campaign::load(&self.state_dir, &self.server_key().await?, db)? {
            for id in c.test_jobs.iter().rev() {
                if let Some(mut j) = job::load(&self.state_dir, id)? {
                    if j.work_db == test_db {
                        j.comparison = Some(Box::new(cmp.clone()));
                        job::save(&self.state_dir, &j)?;
                        break;
                    }
                }
            }
        }
        Ok(cmp)
    }

    /// The production job a restore would swap in, with its comparison.
    pub async fn production_comparison(&self, db: &str) -> Result<Option<JobRecord>, EngineError> {
        let Some(c) = crate::campaign::load(&self.state_dir, &self.server_key().await?, db)? else {
            return Ok(None);
        };
        for id in c.production_jobs.iter().rev() {
            if let Some(j) = job::load(&self.state_dir, id)? {
                if j.status == job::JobStatus::Ready {
                    return Ok(Some(j));
                }
            }
        }
        Ok(None)
    }

    /// Records that the production comparison's differences were accepted.
    pub fn acknowledge_comparison(&self, mut record: JobRecord) -> Result<JobRecord, EngineError> {
        let n = record
            .comparison
            .as_ref()
            .map_or(0, |c| c.difference_count());
        record.comparison_acknowledged = Some(Box::new(job::Acknowledged {
            by: crate::campaign::who::os_user(),
            at: Utc::now(),
            differences: n,
        }));
        job::save(&self.state_dir, &record)?;
        Ok(record)
    }
}

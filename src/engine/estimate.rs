//! How long production will be frozen, said before the freeze: the production
//! job's steps timed from the campaign's last finished test job, which ran
//! the same plan on a copy of the same database. What grows with the data
//! (the copy, the comparison) is scaled to production's size now; the plan is
//! taken as the test measured it (an Odoo upgrade is mostly module loading,
//! not rows).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::downtime::span;
use super::job::{JobRecord, JobStatus, StepStatus};
use super::step::Step;

/// One step of the production window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepEstimate {
    pub step: String,
    /// None: not timed by a test (said in `basis`).
    pub seconds: Option<f64>,
    /// Where the figure comes from.
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The test job the figures come from, and when it finished.
    pub test_job: String,
    pub tested_at: DateTime<Utc>,
    pub steps: Vec<StepEstimate>,
    /// The steps' sum: how long production stays frozen.
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// Why there is no estimate.
pub const NO_TEST: &str = "no estimate: no finished test job";

impl Estimate {
    /// "production frozen about 2h 10m (estimate from the test run of …)".
    pub fn headline(&self) -> String {
        format!(
            "production frozen about {} (estimate from the test run of {})",
            span(self.seconds),
            self.tested_at.format("%Y-%m-%d %H:%M UTC")
        )
    }

    /// Each step on one line: "plan 1h 02m (as the test ran it)".
    pub fn step_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| match s.seconds {
                Some(t) => format!("{} {} ({})", s.step, span(t), s.basis),
                None => format!("{}: {}", s.step, s.basis),
            })
            .collect()
    }

    /// All steps on one line: "clone 4.0s · plan 1h 02m …; not timed: backup, restore".
    pub fn compact(&self) -> String {
        let timed: Vec<String> = self
            .steps
            .iter()
            .filter_map(|s| s.seconds.map(|t| format!("{} {}", s.step, span(t))))
            .collect();
        let untimed: Vec<&str> = self
            .steps
            .iter()
            .filter(|s| s.seconds.is_none())
            .map(|s| s.step.as_str())
            .collect();
        let mut out = timed.join(" · ");
        if !untimed.is_empty() {
            out.push_str(&format!("; not timed: {}", untimed.join(", ")));
        }
        out
    }

    /// When production is open again after a freeze at `freeze_at`.
    pub fn back_at(&self, freeze_at: DateTime<Utc>) -> DateTime<Utc> {
        freeze_at + chrono::Duration::milliseconds((self.seconds * 1000.0) as i64)
    }
}

/// The estimate from `test` (the campaign's last test job that reached
/// ready), for a production of `size_now` bytes (None: unknown, not scaled).
pub fn estimate(test: Option<&JobRecord>, size_now: Option<i64>) -> Result<Estimate, String> {
    let test = test
        .filter(|t| t.status == JobStatus::Ready)
        .ok_or_else(|| NO_TEST.to_string())?;
    let timed = |name: Step| {
        test.step(name)
            .filter(|s| s.status == StepStatus::Done)
            .and_then(|s| s.seconds)
    };
    let mut notes = Vec::new();
    // How much bigger production is now than the copy the test made.
    let scale = match (test.source_bytes, size_now) {
        (Some(then), Some(now)) if then > 0 && now > 0 => {
            let r = now as f64 / then as f64;
            if (r - 1.0).abs() >= 0.1 {
                notes.push(format!(
                    "production is {:+.0} % the size it had at the test: the copy and the comparison are scaled, the plan may take longer too",
                    (r - 1.0) * 100.0
                ));
            }
            Some(r)
        }
        _ => None,
    };
    let scaled = |t: f64| scale.map_or(t, |r| t * r);
    let by_size = if scale.is_some() {
        "the test's, scaled to the size now"
    } else {
        "as the test took it"
    };
    let mut steps = Vec::new();
    let mut step = |name: &str, seconds: Option<f64>, basis: String| {
        steps.push(StepEstimate {
            step: name.into(),
            seconds,
            basis,
        })
    };
    step(
        Step::Preflight.as_str(),
        timed(Step::Preflight),
        "as the test took it".into(),
    );
    let snapshot = test.clone_method.as_deref() == Some("snapshot");
    step(
        Step::Clone.as_str(),
        timed(Step::Clone).map(scaled),
        if snapshot {
            // Frozen production is copied as a template: the live test's
            // snapshot copy is what it cannot be slower than.
            format!("at most: {by_size}, a snapshot copy; production's template copy is faster")
        } else {
            by_size.into()
        },
    );
    step(
        Step::Backup.as_str(),
        None,
        "alongside the plan, from the frozen original: not in the window unless it outlasts the plan (a test takes none to time it)".into(),
    );
    let hops: Vec<String> = test
        .hops
        .iter()
        .map(|h| format!("{} → {} {}", h.from, h.to, span(h.seconds)))
        .collect();
    step(
        Step::Plan.as_str(),
        timed(Step::Plan),
        if hops.is_empty() {
            "as the test ran it".into()
        } else {
            format!("as the test ran it: {}", hops.join(", "))
        },
    );
    step(
        Step::Verify.as_str(),
        timed(Step::Verify),
        "as the test took it".into(),
    );
    step(
        Step::Compare.as_str(),
        timed(Step::Compare).map(scaled),
        by_size.into(),
    );
    step(
        "restore",
        None,
        "not timed by a test: two renames in one transaction, the filestore renamed, production reopened".into(),
    );
    let seconds = steps.iter().filter_map(|s| s.seconds).sum();
    Ok(Estimate {
        test_job: test.id.clone(),
        tested_at: test.finished_at.unwrap_or(test.created_at),
        steps,
        seconds,
        notes,
    })
}

impl super::Engine {
    /// The estimate for `db`'s production window now: its campaign's last
    /// finished test job, scaled to production's size on the server.
    pub async fn freeze_estimate(
        &self,
        db: &str,
    ) -> Result<Result<Estimate, String>, super::EngineError> {
        let key = self.server_key().await?;
        let Some(camp) = crate::campaign::load(&self.state_dir, &key, db)? else {
            return Ok(Err(NO_TEST.into()));
        };
        let test = self.last_ready_test(&camp)?;
        let maint = self.conn.connect_maintenance().await?;
        // A frozen database is measured all the same (its files, not a session).
        let size = crate::pg::server::db_size(&maint, db).await.ok();
        Ok(estimate(test.as_ref(), size))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::job::{JobKind, NewJob};
    use crate::engine::test_job::STEPS;

    /// A finished test job: its plan took an hour, its clone 30 s.
    pub(crate) fn test_job(method: &str, bytes: Option<i64>) -> JobRecord {
        let mut j = JobRecord::start(NewJob {
            kind: JobKind::Test,
            server: "srv",
            source_db: "prod",
            source_version: "16.0.1.3",
            target: "17.0",
            work_db: "prod_test_17.0".into(),
            plan: std::path::Path::new("plan.toml"),
            clone_method: method,
            steps: &STEPS,
            source_uuid: None,
        });
        for (name, t) in [
            (Step::Preflight, 0.2),
            (Step::Clone, 30.0),
            (Step::Neutralize, 1.0),
            (Step::Plan, 3600.0),
            (Step::NeutralizeAgain, 1.0),
            (Step::Verify, 0.5),
            (Step::Compare, 4.0),
        ] {
            let s = j.step_mut(name).unwrap();
            s.status = StepStatus::Done;
            s.seconds = Some(t);
        }
        j.status = JobStatus::Ready;
        j.finished_at = DateTime::from_timestamp(1_800_000_000, 0);
        j.source_bytes = bytes;
        j
    }

    fn step(e: &Estimate, name: &str) -> Option<f64> {
        e.steps.iter().find(|s| s.step == name).unwrap().seconds
    }

    #[test]
    fn no_finished_test_no_estimate() {
        assert_eq!(estimate(None, Some(1)), Err(NO_TEST.to_string()));
        let mut failed = test_job("template", None);
        failed.status = JobStatus::Failed;
        assert_eq!(estimate(Some(&failed), None), Err(NO_TEST.to_string()));
    }

    #[test]
    fn the_window_is_the_production_steps_of_the_test_run() {
        let e = estimate(Some(&test_job("template", Some(1000))), Some(1000)).unwrap();
        // Neutralization is the test's only: not in production's window.
        assert_eq!(e.seconds, 0.2 + 30.0 + 3600.0 + 0.5 + 4.0);
        assert_eq!(step(&e, "plan"), Some(3600.0));
        assert_eq!(step(&e, "backup"), None);
        assert!(e.steps.iter().all(|s| !s.step.starts_with("neutralize")));
        assert!(e.notes.is_empty(), "{:?}", e.notes);
        assert_eq!(
            e.headline(),
            "production frozen about 1h 00m (estimate from the test run of 2027-01-15 08:00 UTC)"
        );
        let back = e.back_at(DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!((back.timestamp() - 1_800_000_000), 3634);
    }

    #[test]
    fn what_grows_with_the_data_is_scaled_to_the_size_now() {
        let e = estimate(Some(&test_job("template", Some(1000))), Some(1500)).unwrap();
        assert_eq!(step(&e, "clone"), Some(45.0));
        assert_eq!(step(&e, "compare"), Some(6.0));
        assert_eq!(step(&e, "plan"), Some(3600.0), "the plan as measured");
        assert!(e.notes[0].contains("+50 %"), "{:?}", e.notes);
        // A test of a live database copied it as a snapshot: an upper bound.
        let e = estimate(Some(&test_job("snapshot", None)), Some(1500)).unwrap();
        assert_eq!(
            step(&e, "clone"),
            Some(30.0),
            "size at the test unknown: not scaled"
        );
        assert!(
            e.steps[1].basis.starts_with("at most"),
            "{}",
            e.steps[1].basis
        );
    }
}

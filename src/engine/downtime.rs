//! The downtime a production upgrade cost: from the freeze to the moment
//! production was reopened (by the restore, or a rollback), and what that time
//! was spent on: the job's steps, the waits before and after it, the swap.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::job::{JobRecord, StepStatus};
use super::step::Step;
use crate::campaign::Swap;

/// Steps of the production job that run alongside the others: their time is
/// not production's window, except what they outlast the rest by.
pub const ALONGSIDE: &[Step] = &[Step::Backup];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub what: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Downtime {
    pub frozen_at: DateTime<Utc>,
    /// None: production is still frozen (the figures run to `now`).
    pub reopened_at: Option<DateTime<Utc>>,
    pub seconds: f64,
    /// In time order; what is left over (between steps, between runs of a
    /// resumed job) is its own part, so the parts add up to `seconds`.
    pub parts: Vec<Part>,
    /// Steps run alongside (not counted in the parts): name and time.
    pub alongside: Vec<Part>,
}

/// `0.4s`, `12s`, `3m 05s`, `2h 10m`.
pub fn span(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.1}s")
    } else {
        crate::odoo::oulog::human_duration(std::time::Duration::from_secs_f64(seconds))
    }
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds() as f64 / 1000.0).max(0.0)
}

impl Downtime {
    /// "frozen 1h 02m (10:00 → 11:02 UTC)" or "frozen for 12m so far (since 10:00 UTC)".
    pub fn headline(&self) -> String {
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match self.reopened_at {
            Some(r) => format!(
                "downtime {}: frozen {} → reopened {}",
                span(self.seconds),
                at(self.frozen_at),
                at(r)
            ),
            None => format!(
                "frozen for {} so far (since {})",
                span(self.seconds),
                at(self.frozen_at)
            ),
        }
    }

    /// "clone 4.0s, plan 58m 10s, …": what the time went to.
    pub fn spent_on(&self) -> String {
        let list = |parts: &[Part]| {
            parts
                .iter()
                .map(|p| format!("{} {}", p.what, span(p.seconds)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = list(&self.parts);
        if !self.alongside.is_empty() {
            out.push_str(&format!("; alongside: {}", list(&self.alongside)));
        }
        out
    }
}

/// The downtime of production job `job`: `reopen` is the swap that reopened
/// production after it (restore, or a rollback), if one did.
pub fn of(job: &JobRecord, reopen: Option<&Swap>, now: DateTime<Utc>) -> Option<Downtime> {
    let frozen_at = job.frozen_at?;
    let reopened_at = reopen.and_then(|s| s.reopened_at.or(s.finished_at));
    let end = reopened_at.unwrap_or(now);
    let mut parts = Vec::new();
    let mut push = |what: &str, seconds: f64| {
        if seconds > 0.0 {
            parts.push(Part {
                what: what.into(),
                seconds,
            })
        }
    };
    let started = job
        .steps
        .iter()
        .filter_map(|s| s.started_at)
        .min()
        .unwrap_or(job.created_at);
    push(
        "waiting for the production job",
        secs(frozen_at, started.min(end)),
    );
    let mut alongside = Vec::new();
    let mut last_end = started;
    for s in &job.steps {
        let Some(from) = s.started_at else { continue };
        let to = match (s.finished_at, s.status) {
            (Some(t), _) => t,
            (None, StepStatus::Running) => end,
            (None, _) => from,
        };
        let t = s.seconds.unwrap_or_else(|| secs(from, to));
        if ALONGSIDE.contains(&s.name) {
            alongside.push(Part {
                what: s.name.to_string(),
                seconds: t,
            });
            continue;
        }
        push(s.name.as_str(), t);
        last_end = last_end.max(to);
    }
    // A step run alongside that ended after the others held the job open.
    let job_end = job.finished_at.unwrap_or(last_end).min(end);
    if !alongside.is_empty() {
        push("waiting for the backup", secs(last_end, job_end));
    }
    match reopen {
        Some(s) => {
            push("waiting for the restore", secs(job_end, s.started_at));
            push(
                if s.kind == crate::campaign::SwapKind::Restore {
                    "restore"
                } else {
                    "rollback"
                },
                secs(s.started_at, end),
            );
        }
        None if job.finished_at.is_some() => push("waiting for the restore", secs(job_end, end)),
        None => {}
    }
    let seconds = secs(frozen_at, end);
    let counted: f64 = parts.iter().map(|p| p.seconds).sum();
    if seconds - counted >= 0.5 {
        parts.push(Part {
            what: "between steps and runs".into(),
            seconds: seconds - counted,
        });
    }
    Some(Downtime {
        frozen_at,
        reopened_at,
        seconds,
        parts,
        alongside,
    })
}

impl super::Engine {
    /// The downtime of the campaign's last production job (None: no job, or
    /// one recorded before the freeze time was kept).
    pub fn last_downtime(
        &self,
        camp: &crate::campaign::Campaign,
    ) -> Result<Option<Downtime>, super::EngineError> {
        let Some(id) = camp.production_jobs.last() else {
            return Ok(None);
        };
        let Some(job) = super::job::load(&self.state_dir, id)? else {
            return Ok(None);
        };
        Ok(of(&job, reopening(camp, &job), Utc::now()))
    }
}

/// The first swap after `job` that reopened production: its restore, or a
/// rollback that did not stay frozen.
pub fn reopening<'a>(camp: &'a crate::campaign::Campaign, job: &JobRecord) -> Option<&'a Swap> {
    camp.history.iter().find(|s| {
        s.production_job.as_deref() == Some(job.id.as_str())
            && !s.stay_frozen
            && (s.reopened_at.is_some() || s.kind == crate::campaign::SwapKind::Restore)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{SwapKind, SwapState};
    use crate::engine::job::{JobKind, NewJob};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn job() -> JobRecord {
        let mut j = JobRecord::start(NewJob {
            kind: JobKind::Production,
            server: "srv",
            source_db: "prod",
            source_version: "16.0.1.3",
            target: "17.0",
            work_db: "prod_upgrade_17.0".into(),
            plan: std::path::Path::new("plan.toml"),
            clone_method: "template",
            steps: &[Step::Preflight, Step::Clone, Step::Plan, Step::Verify],
            source_uuid: None,
        });
        j.frozen_at = Some(t(0));
        j.created_at = t(60);
        for (i, (from, to)) in [(60, 61), (61, 71), (71, 3671), (3671, 3672)]
            .into_iter()
            .enumerate()
        {
            let s = &mut j.steps[i];
            s.status = StepStatus::Done;
            s.started_at = Some(t(from));
            s.finished_at = Some(t(to));
            s.seconds = Some((to - from) as f64);
        }
        j.finished_at = Some(t(3672));
        j
    }

    fn restore(start: i64, reopened: i64) -> Swap {
        Swap {
            kind: SwapKind::Restore,
            state: SwapState::Done,
            started_at: t(start),
            finished_at: Some(t(reopened + 1)),
            reopened_at: Some(t(reopened)),
            prod: "prod".into(),
            aside: "prod_before".into(),
            incoming: "prod_upgrade_17.0".into(),
            target: "17.0".into(),
            stay_frozen: false,
            production_job: None,
            reverting: false,
        }
    }

    #[test]
    fn the_parts_add_up_to_the_time_production_was_frozen() {
        let d = of(&job(), Some(&restore(3900, 3902)), t(99_999)).unwrap();
        assert_eq!(d.seconds, 3902.0);
        assert_eq!(d.reopened_at, Some(t(3902)));
        let parts: Vec<(&str, f64)> = d
            .parts
            .iter()
            .map(|p| (p.what.as_str(), p.seconds))
            .collect();
        assert_eq!(
            parts,
            [
                ("waiting for the production job", 60.0),
                ("preflight", 1.0),
                ("clone", 10.0),
                ("plan", 3600.0),
                ("verify", 1.0),
                ("waiting for the restore", 228.0),
                ("restore", 2.0),
            ]
        );
        assert!(
            d.headline().starts_with("downtime 1h 05m"),
            "{}",
            d.headline()
        );
        assert!(d.spent_on().contains("plan 1h 00m"), "{}", d.spent_on());
    }

    #[test]
    fn still_frozen_counts_to_now_and_a_resumed_job_shows_its_gap() {
        let mut j = job();
        // A run killed after the clone and resumed 5 minutes later.
        j.steps[2].started_at = Some(t(371));
        j.steps[2].finished_at = Some(t(3971));
        j.steps[3].started_at = Some(t(3971));
        j.steps[3].finished_at = Some(t(3972));
        j.finished_at = Some(t(3972));
        let d = of(&j, None, t(4000)).unwrap();
        assert_eq!(d.reopened_at, None);
        assert_eq!(d.seconds, 4000.0);
        let rest = d
            .parts
            .iter()
            .find(|p| p.what == "between steps and runs")
            .unwrap();
        assert_eq!(rest.seconds, 300.0);
        assert_eq!(d.parts.iter().map(|p| p.seconds).sum::<f64>(), 4000.0);
        assert!(
            d.headline().starts_with("frozen for 1h 06m so far"),
            "{}",
            d.headline()
        );
    }

    #[test]
    fn a_job_of_an_older_version_without_the_freeze_time_has_none() {
        let mut j = job();
        j.frozen_at = None;
        assert_eq!(of(&j, None, t(10)), None);
    }
}

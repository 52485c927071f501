use color_eyre::Result;
use serde_json::json;

use super::output::{json as print_json, out};
use crate::campaign;
use crate::engine::Engine;
use crate::engine::job::{self, JobRecord, JobStatus};

/// A "running" job whose process is gone was interrupted (kill -9, reboot).
pub fn effective_status(j: &JobRecord) -> &'static str {
    match j.status {
        JobStatus::Running => {
            let alive =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(j.pid as i32), None).is_ok();
            if alive { "running" } else { "interrupted" }
        }
        JobStatus::Ready => "ready",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
        JobStatus::Discarded => "discarded",
    }
}

pub async fn run(engine: &Engine, db: Option<&str>, as_json: bool) -> Result<i32> {
    let mut camps = campaign::all(&engine.state_dir)?;
    if let Some(db) = db {
        camps.retain(|c| c.db == db);
    }
    let mut report = Vec::new();
    for c in &camps {
        let mut jobs = Vec::new();
        for id in &c.test_jobs {
            if let Some(j) = job::load(&engine.state_dir, id)? {
                jobs.push(j);
            }
        }
        report.push((c, jobs));
    }
    if as_json {
        let v: Vec<_> = report
            .iter()
            .map(|(c, jobs)| {
                json!({
                    "server": c.server, "db": c.db,
                    "tests": jobs.iter().map(|j| json!({
                        "job": j.id, "status": effective_status(j), "test_db": j.work_db, "target": j.target,
                        "error": j.error,
                        "steps": j.steps.iter().map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds})).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "campaigns": v }));
        return Ok(0);
    }
    if report.is_empty() {
        out("no campaign yet: start one with upgrade-pilot test --db DB --target VERSION");
    }
    for (c, jobs) in report {
        out(&format!("{} on {}", c.db, c.server));
        for j in jobs {
            let done = j
                .steps
                .iter()
                .filter(|s| s.status == job::StepStatus::Done)
                .count();
            out(&format!(
                "  test {} → {}  {:<11} {}/{} steps  {}",
                j.id,
                j.target,
                effective_status(&j),
                done,
                j.steps.len(),
                j.work_db
            ));
            if let Some(e) = &j.error {
                out(&format!("    error: {e}"));
            }
        }
    }
    Ok(0)
}

use color_eyre::Result;
use serde_json::json;

use super::output::{json as print_json, out};
use crate::campaign;
use crate::engine::Engine;
use crate::engine::job::{self, JobRecord};
use crate::engine::swap::describe;

pub fn effective_status(j: &JobRecord) -> &'static str {
    j.effective_status()
}

fn production_jobs(engine: &Engine, c: &campaign::Campaign) -> Result<Vec<JobRecord>> {
    let mut out = Vec::new();
    for id in &c.production_jobs {
        if let Some(j) = job::load(&engine.state_dir, id)? {
            out.push(j);
        }
    }
    Ok(out)
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
    let job_json = |j: &JobRecord| {
        json!({
            "job": j.id, "kind": j.kind, "status": effective_status(j), "db": j.work_db, "test_db": j.work_db,
            "target": j.target, "error": j.error, "backup": j.backup,
            "comparison": j.comparison, "comparison_acknowledged": j.comparison_acknowledged,
            "steps": j.steps.iter().map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds})).collect::<Vec<_>>(),
        })
    };
    if as_json {
        let mut v = Vec::new();
        for (c, jobs) in &report {
            let prods = production_jobs(engine, c)?;
            let (restore_would, rollback_would) = match engine.conn.connect_maintenance().await {
                Ok(maint) => (
                    engine
                        .plan_restore(&maint, &c.db)
                        .await
                        .ok()
                        .map(|s| describe(&s)),
                    engine
                        .plan_rollback(&maint, &c.db, false)
                        .await
                        .ok()
                        .map(|s| describe(&s)),
                ),
                Err(_) => (None, None),
            };
            v.push(json!({
                "server": c.server, "db": c.db,
                "frozen_since": c.freeze.as_ref().map(|f| f.at),
                "frozen_by": c.freeze.as_ref().map(|f| f.by.clone()),
                "tests": jobs.iter().map(job_json).collect::<Vec<_>>(),
                "production": prods.iter().map(job_json).collect::<Vec<_>>(),
                "swap_in_progress": c.swap,
                "restore_would": restore_would,
                "rollback_would": rollback_would,
                "swaps": c.history,
            }));
        }
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
            if let Some(cmp) = &j.comparison {
                out(&format!("    compared with production: {}", cmp.summary()));
            }
        }
        if let Some(f) = &c.freeze {
            out(&format!(
                "  frozen since {} by {} ({} session(s) ended)",
                f.at.format("%Y-%m-%d %H:%M:%S UTC"),
                f.by,
                f.sessions_ended
            ));
        }
        for j in production_jobs(engine, c)? {
            out(&format!(
                "  production {} → {}  {:<11} {}",
                j.id,
                j.target,
                effective_status(&j),
                j.work_db
            ));
            if let Some(e) = &j.error {
                out(&format!("    error: {e}"));
            }
            if let Some(cmp) = &j.comparison {
                out(&format!("    compared with production: {}", cmp.summary()));
            }
        }
        if let Some(s) = &c.swap {
            out(&format!(
                "  swap in progress ({:?}, at {:?}): the next restore/rollback completes it",
                s.kind, s.state
            ));
        }
        // What the next step would do, said before anyone runs it.
        if let Ok(maint) = engine.conn.connect_maintenance().await {
            if let Ok(s) = engine.plan_restore(&maint, &c.db).await {
                out(&format!("  restore would swap: {}", describe(&s)));
            }
            if let Ok(s) = engine.plan_rollback(&maint, &c.db, false).await {
                out(&format!("  rollback would swap: {}", describe(&s)));
            }
        }
        for s in &c.history {
            out(&format!(
                "  {:?} done {}: {}",
                s.kind,
                s.finished_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                describe(s)
            ));
        }
    }
    Ok(0)
}

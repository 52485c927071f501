use color_eyre::Result;
use serde_json::json;

use super::output::{json as print_json, out};
use crate::campaign;
use crate::engine::job::{self, JobRecord};
use crate::engine::swap::{describe, half_done_message, rollback_warning};
use crate::engine::{Engine, downtime};

fn production_jobs(engine: &Engine, c: &campaign::Campaign) -> Result<Vec<JobRecord>> {
    let mut out = Vec::new();
    for id in &c.production_jobs {
        if let Some(j) = job::load(&engine.state_dir, id)? {
            out.push(j);
        }
    }
    Ok(out)
}

/// What the server says of a campaign's database now (None: unreachable).
struct OnServer {
    accepts_connections: Option<bool>,
    restore: Result<String, String>,
    rollback: Option<String>,
    half_done: Option<String>,
}

async fn on_server(
    engine: &Engine,
    maint: Option<&tokio_postgres::Client>,
    c: &campaign::Campaign,
) -> OnServer {
    let Some(maint) = maint else {
        return OnServer {
            accepts_connections: None,
            restore: Err("the server cannot be reached".into()),
            rollback: None,
            half_done: None,
        };
    };
    let accepts_connections = match crate::pg::server::db_exists(maint, &c.db).await {
        Ok(true) => crate::pg::server::allows_connections(maint, &c.db)
            .await
            .ok(),
        _ => None,
    };
    OnServer {
        accepts_connections,
        restore: engine
            .plan_restore(maint, &c.db)
            .await
            .map(|s| describe(&s))
            .map_err(|e| e.to_string()),
        rollback: engine
            .plan_rollback(maint, &c.db, false)
            .await
            .ok()
            .map(|s| format!("{} ({})", describe(&s), rollback_warning(&s))),
        half_done: engine
            .half_done_swap(maint, &c.db)
            .await
            .ok()
            .flatten()
            .map(|s| half_done_message(&s)),
    }
}

pub async fn run(engine: &Engine, db: Option<&str>, as_json: bool) -> Result<i32> {
    // A damaged file is named, and the others still shown.
    let (mut camps, damaged) = campaign::all_readable(&engine.state_dir);
    if let Some(db) = db {
        camps.retain(|c| c.db == db);
    }
    // Only this server's campaigns can be asked about (the others are shown from their files).
    let key = engine.server_key().await.ok();
    let maint = match &key {
        Some(_) => engine.conn.connect_maintenance().await.ok(),
        None => None,
    };
    let here = |c: &campaign::Campaign| key.as_deref() == Some(c.server.as_str());
    let code = if damaged.is_empty() { 0 } else { 1 };
    let damaged: Vec<String> = damaged.iter().map(|e| e.to_string()).collect();
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
    let mut platform = std::collections::HashMap::new();
    for (c, jobs) in &report {
        for j in jobs.iter().chain(production_jobs(engine, c)?.iter()) {
            if let Some(v) = engine.platform_view(j).await {
                platform.insert(j.id.clone(), v);
            }
        }
    }
    let job_json = |j: &JobRecord| {
        json!({
            "platform": platform.get(&j.id),
            "job": j.id, "kind": j.kind, "status": j.effective_status(), "db": j.work_db, "test_db": j.work_db,
            "target": j.target, "error": j.error, "backup": j.backup,
            "comparison": j.comparison, "comparison_acknowledged": j.comparison_acknowledged,
            "steps": j.steps.iter().map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds})).collect::<Vec<_>>(),
        })
    };
    if as_json {
        let mut v = Vec::new();
        for (c, jobs) in &report {
            let prods = production_jobs(engine, c)?;
            let srv = on_server(engine, maint.as_ref().filter(|_| here(c)), c).await;
            // The server's word beats the record: a freeze lifted by hand is not "frozen".
            let frozen = c
                .freeze
                .as_ref()
                .filter(|_| srv.accepts_connections != Some(true));
            v.push(json!({
                "server": c.server, "address": c.address, "db": c.db,
                "accepts_connections": srv.accepts_connections,
                "frozen_since": frozen.map(|f| f.at),
                "frozen_by": frozen.map(|f| f.by.clone()),
                "freeze_lifted_outside": c.freeze.is_some() && srv.accepts_connections == Some(true),
                "frozen_unknown_here": c.freeze.is_none() && srv.accepts_connections == Some(false),
                "half_done": srv.half_done,
                "restore_refused": prods.last().filter(|j| j.status == job::JobStatus::Ready).and(srv.restore.clone().err()),
                "tests": jobs.iter().map(job_json).collect::<Vec<_>>(),
                "production": prods.iter().map(|j| {
                    let mut v = job_json(j);
                    v["downtime"] = json!(downtime::of(j, downtime::reopening(c, j), chrono::Utc::now()));
                    v
                }).collect::<Vec<_>>(),
                "swap_in_progress": c.swap,
                "restore_would": srv.restore.ok(),
                "rollback_would": srv.rollback,
                "swaps": c.history,
            }));
        }
        print_json(&json!({ "campaigns": v, "damaged": damaged }));
        return Ok(code);
    }
    for d in &damaged {
        super::output::err(d);
    }
    if report.is_empty() && damaged.is_empty() {
        out("no campaign yet: start one with upgrade-pilot test --db DB --target VERSION");
    }
    for (c, jobs) in report {
        let srv = on_server(engine, maint.as_ref().filter(|_| here(c)), c).await;
        out(&format!(
            "{} on {}",
            c.db,
            c.address.as_deref().unwrap_or(&c.server)
        ));
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
                j.effective_status(),
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
            if let Some(p) = platform.get(&j.id) {
                out(&format!("    {}", p.line()));
            }
        }
        match (&c.freeze, srv.accepts_connections) {
            (Some(f), Some(true)) => out(&format!(
                "  not frozen: the freeze of {} was lifted outside upgrade-pilot ({} accepts connections)",
                f.at.format("%Y-%m-%d %H:%M:%S UTC"),
                c.db
            )),
            (Some(f), _) => out(&format!(
                "  frozen since {} by {} ({} session(s) ended{})",
                f.at.format("%Y-%m-%d %H:%M:%S UTC"),
                f.by,
                f.sessions_ended,
                if f.adopted { ", adopted" } else { "" }
            )),
            (None, Some(false)) => out(&format!(
                "  frozen on the server, not by this state dir: upgrade-pilot freeze --db {:?} adopts it",
                c.db
            )),
            _ => {}
        }
        for j in production_jobs(engine, c)? {
            out(&format!(
                "  production {} → {}  {:<11} {}",
                j.id,
                j.target,
                j.effective_status(),
                j.work_db
            ));
            if let Some(d) = downtime::of(&j, downtime::reopening(c, &j), chrono::Utc::now()) {
                out(&format!("    {}", d.headline()));
                out(&format!("    spent on: {}", d.spent_on()));
            }
            if let Some(e) = &j.error {
                out(&format!("    error: {e}"));
            }
            if let Some(cmp) = &j.comparison {
                out(&format!("    compared with production: {}", cmp.summary()));
            }
            if let Some(p) = platform.get(&j.id) {
                out(&format!("    {}", p.line()));
            }
        }
        if let Some(h) = &srv.half_done {
            out(&format!("  {h}"));
        }
        // What the next step would do, or why it cannot, said before anyone runs it.
        let ready = production_jobs(engine, c)?
            .last()
            .is_some_and(|j| j.status == job::JobStatus::Ready)
            && !(here(c) && engine.restore_done(&c.db).await.ok().flatten().is_some());
        match &srv.restore {
            Ok(s) => out(&format!("  restore would swap: {s}")),
            Err(e) if ready && srv.half_done.is_none() => out(&format!("  restore refused: {e}")),
            Err(_) => {}
        }
        if let Some(s) = &srv.rollback {
            out(&format!("  rollback would swap: {s}"));
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
    Ok(code)
}

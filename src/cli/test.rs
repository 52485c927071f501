use color_eyre::Result;
use serde_json::json;

use super::confirm::confirm;
use super::output::{err, json as print_json, out};
use super::progress::follow;
use crate::engine::Engine;
use crate::engine::test_job::{PreparedTest, TestRequest};

pub async fn run(engine: &Engine, req: TestRequest, yes: bool, as_json: bool) -> Result<i32> {
    if req.discard {
        confirm(
            &format!(
                "Discard the earlier unfinished test job of {:?} and drop its copy?",
                req.db
            ),
            yes,
        )?;
    }
    let prepared = engine.prepare_test(&req).await?;
    if req.dry_run {
        return dry_run(&req, &prepared, as_json);
    }
    if !as_json {
        let verb = if prepared.job.resumed {
            "resuming"
        } else {
            "creating"
        };
        err(&format!(
            "{verb} test copy {:?} of {:?} ({} → {}), {}",
            prepared.job.record.work_db,
            req.db,
            prepared.inspection.series,
            prepared.job.target,
            prepared.why
        ));
        for n in &prepared.job.notes {
            err(&format!("  [{}] {}", n.level, n.text));
        }
    }
    let handle = engine.start_test(prepared);
    let record = follow(handle, as_json).await?;
    if as_json {
        let steps: Vec<_> = record
            .steps
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds}))
            .collect();
        print_json(&json!({
            "job": record.id,
            "test_db": record.work_db,
            "source_db": record.source_db,
            "source_version": record.source_version,
            "target_version": record.target,
            "clone_method": record.clone_method,
            "neutralized": record.neutralized.0,
            "neutralized_again": record.neutralized_again.0,
            "neutralized_by_module": record.by_module.neutralized_by_module,
            "neutralized_again_by_module": record.by_module.neutralized_again_by_module,
            "neutralize_notes": record.by_module.neutralize_notes,
            "checks": record.checks,
            "steps": steps,
            "filestore": record.filestore,
            "openupgrade": record.openupgrade,
            "hops": record.hops,
            "anomaly_drafts": record.anomaly_drafts,
            "odoo_neutralize": record.odoo_neutralize,
            "comparison": record.comparison,
            "platform": super::output::platform_json(&record),
        }));
    } else {
        out(&format!(
            "test database {:?} is ready: neutralized, upgraded to {}, verified",
            record.work_db, record.target
        ));
        out(&format!(
            "  connect: {}",
            engine.conn.psql_line(&record.work_db)
        ));
        out("  nothing done in the test copy reaches production: it has no link to it");
        if let Some(line) = super::output::platform_line(&record) {
            out(&format!("  {line}"));
        }
        for h in &record.hops {
            out(&format!(
                "  hop {} → {}: {:.1}s, {} modules, {} migration scripts, {} error(s) (log {})",
                h.from,
                h.to,
                h.seconds,
                h.modules,
                h.migrations,
                h.errors,
                h.log
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        if let Some(n) = &record.odoo_neutralize {
            out(&format!("  {n}"));
        }
        if !record.anomaly_drafts.is_empty() {
            out(&format!(
                "  {} anomaly draft(s) from the hop's errors: keep or drop them on the Anomalies screen or with upgrade-pilot anomalies --db {} --keep N / --drop N",
                record.anomaly_drafts.len(),
                record.source_db
            ));
            for d in &record.anomaly_drafts {
                out(&format!("    #{} {}", d.id, d.title()));
            }
        }
        if let Some(c) = &record.comparison {
            out(&format!(
                "  compared with production: {} (upgrade-pilot status --json lists them)",
                c.summary()
            ));
        }
    }
    Ok(0)
}

/// `--dry-run`: what would be made and run; nothing registered, nothing made.
fn dry_run(req: &TestRequest, p: &PreparedTest, as_json: bool) -> Result<i32> {
    if as_json {
        print_json(&json!({
            "dry_run": true,
            "source_db": req.db,
            "source_version": p.inspection.base_version,
            "target_version": p.job.target.to_string(),
            "test_db": p.job.record.work_db,
            "plan": p.job.plan.name,
            "openupgrade": p.job.record.openupgrade,
            "notes": p.job.notes,
        }));
        return Ok(0);
    }
    out(&format!(
        "dry run: would copy {:?} ({}) to {:?}, neutralize it, then run {}:",
        req.db, p.inspection.series, p.job.record.work_db, p.job.plan.name
    ));
    if p.job.record.openupgrade.is_empty() {
        for h in &p.job.plan.hops {
            for s in &h.steps {
                out(&format!("  hop → {}: step {}", h.to, s.name));
            }
        }
    } else {
        for l in crate::engine::openupgrade::describe(&p.job.record.openupgrade) {
            out(&format!("  {l}"));
        }
        out("  (the password reaches Odoo only through PGPASSWORD or ~/.pgpass)");
    }
    for n in &p.job.notes {
        out(&format!("  [{}] {}", n.level, n.text));
    }
    out("nothing was made");
    Ok(0)
}

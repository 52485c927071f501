//! freeze, unfreeze, production, restore, rollback: the production path.

use color_eyre::Result;
use serde_json::json;

use super::confirm::confirm;
use super::output::{err, json as print_json, out};
use super::progress::follow;
use crate::engine::Engine;
use crate::engine::production::ProductionRequest;
use crate::engine::swap::{SwapOutcome, describe, rollback_warning};

pub async fn freeze(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    let sessions = engine.sessions_on(db).await?;
    for s in &sessions {
        err(&format!("  connected: {s}"));
    }
    // How long production will be frozen: in the question, and in full once
    // frozen (a refusal stays one line).
    let estimate = engine.freeze_estimate(db).await?;
    let hook = if engine.config.freeze.stop.is_empty() {
        String::new()
    } else {
        format!(", run `{}`", engine.config.freeze.stop.join(" "))
    };
    confirm(
        &format!(
            "Freeze {db:?}: refuse new connections{hook} and end {} session(s)? ({})",
            sessions.len(),
            match &estimate {
                Ok(e) => e.headline(),
                Err(none) => none.clone(),
            }
        ),
        yes,
    )?;
    let r = engine.freeze(db).await?;
    if r.adopted {
        out(&format!(
            "{db} was frozen on the server but unknown to this state dir: adopted (its version read, {} session(s) ended)",
            r.ended
        ));
    }
    out(&format!(
        "{db} is frozen: {} session(s) ended, new connections refused ({:.2}s)",
        r.ended, r.seconds
    ));
    match estimate {
        Ok(e) => {
            out(&format!(
                "{}; back about {}",
                e.headline(),
                e.back_at(chrono::Utc::now())
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M %Z")
            ));
            for l in e.step_lines().iter().chain(&e.notes) {
                out(&format!("  {l}"));
            }
        }
        Err(none) => out(&none),
    }
    Ok(0)
}

pub async fn unfreeze(engine: &Engine, db: &str) -> Result<i32> {
    let r = engine.unfreeze(db).await?;
    out(&format!(
        "{db} accepts connections again{}",
        r.hook.map(|h| format!(" (ran `{h}`)")).unwrap_or_default()
    ));
    if let Some(e) = r.hook_error {
        err(&format!("but the {e}"));
        return Ok(1);
    }
    Ok(0)
}

pub async fn production(
    engine: &Engine,
    req: ProductionRequest,
    yes: bool,
    as_json: bool,
) -> Result<i32> {
    if req.discard {
        confirm(
            &format!(
                "Discard the earlier unfinished production job of {:?} and drop its working copy?",
                req.db
            ),
            yes,
        )?;
    }
    let prepared = engine.prepare_production(&req).await?;
    if !as_json {
        let verb = if prepared.job.resumed {
            "resuming"
        } else {
            "creating"
        };
        err(&format!(
            "{verb} the upgraded copy {:?} of frozen {:?} (to {})",
            prepared.job.record.work_db, req.db, prepared.job.target
        ));
        for n in &prepared.job.notes {
            err(&format!("  [{}] {}", n.level, n.text));
        }
    }
    let handle = engine.start_production(prepared);
    let record = follow(handle, as_json).await?;
    if as_json {
        let steps: Vec<_> = record
            .steps
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds}))
            .collect();
        print_json(&json!({
            "job": record.id,
            "upgraded_db": record.work_db,
            "source_db": record.source_db,
            "source_version": record.source_version,
            "target_version": record.target,
            "backup": record.backup,
            "checks": record.checks,
            "steps": steps,
            "openupgrade": record.openupgrade,
            "hops": record.hops,
            "anomaly_drafts": record.anomaly_drafts,
            "comparison": record.comparison,
            "platform": super::output::platform_json(&record),
        }));
    } else {
        out(&format!(
            "{:?} is upgraded to {} and verified; production is still frozen",
            record.work_db, record.target
        ));
        if let Some(line) = super::output::platform_line(&record) {
            out(&format!("  {line}"));
        }
        if let Some(b) = &record.backup {
            out(&format!(
                "  backup taken before the upgrade: {}",
                b.dump.display()
            ));
        }
        for h in &record.hops {
            out(&format!(
                "  hop {} → {}: {:.1}s, {} modules, {} error(s) (log {})",
                h.from,
                h.to,
                h.seconds,
                h.modules,
                h.errors,
                h.log
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        if let Some(c) = &record.comparison {
            out(&format!("  compared with production: {}", c.summary()));
        }
        out(&format!(
            "  next: upgrade-pilot restore --db {:?}",
            record.source_db
        ));
    }
    Ok(0)
}

fn report(o: &SwapOutcome, what: &str) -> i32 {
    if o.already_done {
        out(&format!(
            "{:?} was already restored{}: nothing to do ({})",
            o.swap.prod,
            o.swap
                .finished_at
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            describe(&o.swap)
        ));
        return 0;
    }
    if o.reverted {
        out(&format!(
            "reverted the half-done restore: {} is the original again, {:?} holds the upgraded copy",
            o.swap.prod, o.swap.aside
        ));
    } else if o.recovered {
        out(&format!(
            "completed an interrupted {:?} swap: {}",
            o.swap.kind,
            describe(&o.swap)
        ));
    } else {
        out(&format!("{what}: {}", describe(&o.swap)));
    }
    let mut code = 0;
    for c in &o.checks {
        out(&format!(
            "  {} {}: {}",
            if c.ok { "✓" } else { "✗" },
            c.name,
            c.detail
        ));
        if !c.ok {
            code = 1;
        }
    }
    if o.swap.stay_frozen {
        out(&format!(
            "  {:?} stays frozen (unfreeze it with upgrade-pilot unfreeze --db {:?})",
            o.swap.prod, o.swap.prod
        ));
    }
    // Said apart: the swap above is done whatever the hook did.
    if let Some(e) = &o.hook_error {
        err(&format!(
            "the swap is done, but the {e}: start Odoo by hand, or go back with upgrade-pilot rollback --db {:?}",
            o.swap.prod
        ));
        code = 1;
    }
    code
}

pub async fn restore(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    let maint = engine.conn.connect_maintenance().await?;
    // Say exactly what will happen before asking (a pending restore is completed without asking).
    let pending = engine.half_done_swap(&maint, db).await?.is_some();
    if !pending && engine.restore_done(db).await?.is_none() {
        acknowledge_differences(engine, db, yes).await?;
        let plan = engine.plan_restore(&maint, db).await?;
        confirm(
            &format!("Swap into place: {}; then reopen {db:?}?", describe(&plan)),
            yes,
        )?;
    }
    let o = engine.restore(db).await?;
    Ok(report(&o, "restored"))
}

/// The production comparison's open differences, shown and accepted before the swap.
async fn acknowledge_differences(engine: &Engine, db: &str, yes: bool) -> Result<()> {
    let Some(job) = engine.production_comparison(db).await? else {
        return Ok(());
    };
    let Some(cmp) = job.comparison.as_ref().filter(|c| !c.ok()) else {
        return Ok(());
    };
    if job.comparison_acknowledged.is_some() {
        return Ok(());
    }
    err(&format!(
        "the upgraded copy {:?} differs from production: {}",
        cmp.copy,
        cmp.summary()
    ));
    for check in cmp.failed() {
        err(&format!(
            "  ✗ {} · {}: {}",
            check.area, check.name, check.summary
        ));
        for d in check.differences.iter().take(10) {
            err(&format!("      {d}"));
        }
        let hidden = check.differences.len().saturating_sub(10) + check.more;
        if hidden > 0 {
            err(&format!(
                "      … and {hidden} more (upgrade-pilot status --json)"
            ));
        }
    }
    confirm(
        &format!(
            "Acknowledge these {} difference(s) as expected for the upgrade?",
            cmp.difference_count()
        ),
        yes,
    )?;
    engine.acknowledge_comparison(job)?;
    Ok(())
}

pub async fn rollback(engine: &Engine, db: &str, stay_frozen: bool, yes: bool) -> Result<i32> {
    let maint = engine.conn.connect_maintenance().await?;
    match engine.half_done_swap(&maint, db).await? {
        Some(s) if s.kind == crate::campaign::SwapKind::Restore => confirm(
            &format!(
                "Revert the half-done restore of {db:?}: the original back under its name, the upgraded copy back as {:?}?",
                s.incoming
            ),
            yes,
        )?,
        Some(_) => {}
        None => {
            let plan = engine.plan_rollback(&maint, db, stay_frozen).await?;
            confirm(
                &format!(
                    "Roll back: {}? ({})",
                    describe(&plan),
                    rollback_warning(&plan)
                ),
                yes,
            )?;
        }
    }
    let o = engine.rollback(db, stay_frozen).await?;
    Ok(report(&o, "rolled back"))
}

//! freeze, unfreeze, production, restore, rollback: the production path.

use color_eyre::Result;
use serde_json::json;

use super::confirm::confirm;
use super::output::{err, json as print_json, out};
use super::progress::follow;
use crate::engine::Engine;
use crate::engine::production::ProductionRequest;
use crate::engine::swap::{SwapOutcome, describe};

pub async fn freeze(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    let sessions = engine.sessions_on(db).await?;
    for s in &sessions {
        err(&format!("  connected: {s}"));
    }
    let hook = if engine.config.freeze.stop.is_empty() {
        String::new()
    } else {
        format!(", run `{}`", engine.config.freeze.stop.join(" "))
    };
    confirm(
        &format!(
            "Freeze {db:?}: refuse new connections{hook} and end {} session(s)?",
            sessions.len()
        ),
        yes,
    )?;
    let r = engine.freeze(db).await?;
    out(&format!(
        "{db} is frozen: {} session(s) ended, new connections refused ({:.2}s)",
        r.ended, r.seconds
    ));
    Ok(0)
}

pub async fn unfreeze(engine: &Engine, db: &str) -> Result<i32> {
    let hook = engine.unfreeze(db).await?;
    out(&format!(
        "{db} accepts connections again{}",
        hook.map(|h| format!(" (ran `{h}`)")).unwrap_or_default()
    ));
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
        let verb = if prepared.resumed {
            "resuming"
        } else {
            "creating"
        };
        err(&format!(
            "{verb} the upgraded copy {:?} of frozen {:?} (to {})",
            prepared.record.work_db, req.db, prepared.target
        ));
        for n in &prepared.notes {
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
        }));
    } else {
        out(&format!(
            "{:?} is upgraded to {} and verified; production is still frozen",
            record.work_db, record.target
        ));
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
    if o.recovered {
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
    code
}

pub async fn restore(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    let maint = engine.conn.connect_maintenance().await?;
    // Say exactly what will happen before asking (a pending swap is completed without asking).
    let pending = crate::campaign::load(&engine.state_dir, &engine.conn.server_key(), db)?
        .and_then(|c| c.swap)
        .is_some();
    if !pending {
        acknowledge_differences(engine, db, yes)?;
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
fn acknowledge_differences(engine: &Engine, db: &str, yes: bool) -> Result<()> {
    let Some(job) = engine.production_comparison(db)? else {
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
    let pending = crate::campaign::load(&engine.state_dir, &engine.conn.server_key(), db)?
        .and_then(|c| c.swap)
        .is_some();
    if !pending {
        let plan = engine.plan_rollback(&maint, db, stay_frozen).await?;
        confirm(&format!("Roll back: {}?", describe(&plan)), yes)?;
    }
    let o = engine.rollback(db, stay_frozen).await?;
    Ok(report(&o, "rolled back"))
}

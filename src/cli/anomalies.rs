//! `upgrade-pilot anomalies --db PROD [--keep N | --drop N] [--json]`: the
//! campaign's anomalies and the drafts a hop's errors made, kept or dropped
//! without the TUI (the Anomalies screen's Enter and x).

use color_eyre::Result;
use color_eyre::eyre::eyre;

use super::output::{json, out};
use crate::campaign;
use crate::engine::Engine;

/// What to do with a draft.
pub enum Settle {
    Keep(u32),
    Drop(u32),
}

pub async fn run(engine: &Engine, db: &str, settle: Option<Settle>, as_json: bool) -> Result<i32> {
    let key = engine.server_key().await?;
    let Some(c) = campaign::load(&engine.state_dir, &key, db)? else {
        return Err(eyre!(
            "no campaign for {db:?}: run a test upgrade first (upgrade-pilot test --db {db:?})"
        ));
    };
    if let Some(s) = settle {
        let (id, keep) = match s {
            Settle::Keep(id) => (id, true),
            Settle::Drop(id) => (id, false),
        };
        if !c.anomaly_drafts.iter().any(|d| d.id == id) {
            let ids: Vec<String> = c.anomaly_drafts.iter().map(|d| d.id.to_string()).collect();
            return Err(eyre!(
                "no draft {id} for {db:?} ({}): list them with upgrade-pilot anomalies --db {db:?}",
                if ids.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("drafts: {}", ids.join(", "))
                }
            ));
        }
        let kept = campaign::settle_draft(&engine.state_dir, &key, db, id, keep)?;
        let line = match kept {
            Some(a) => format!("draft {id} kept as anomaly #{a}"),
            None => format!("draft {id} dropped"),
        };
        if as_json {
            json(&serde_json::json!({ "draft": id, "kept_as": kept }));
        } else {
            out(&line);
        }
        return Ok(0);
    }
    if as_json {
        json(&serde_json::json!({
            "db": db,
            "anomalies": c.anomalies,
            "drafts": c.anomaly_drafts,
        }));
        return Ok(0);
    }
    out(&format!(
        "{} anomalie(s), {} draft(s) for {db:?}",
        c.anomalies.len(),
        c.anomaly_drafts.len()
    ));
    for a in &c.anomalies {
        out(&format!(
            "  #{:<3} {:<9} {:<18} {}",
            a.id,
            a.severity.label(),
            a.status.label(),
            a.title
        ));
    }
    for d in &c.anomaly_drafts {
        out(&format!(
            "  draft {:<3} {} ({} entr{}{})",
            d.id,
            d.title(),
            d.count,
            if d.count == 1 { "y" } else { "ies" },
            if d.failed_hop { ", the hop failed" } else { "" }
        ));
    }
    if !c.anomaly_drafts.is_empty() {
        out(&format!(
            "keep one as an anomaly: upgrade-pilot anomalies --db {db} --keep N; drop it: --drop N"
        ));
    }
    Ok(0)
}

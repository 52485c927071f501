//! `compare`: production against an upgraded copy (or a restored production
//! against `<db>_before_…`). Exit 0 when every check holds, 1 when something
//! differs, 2 when the comparison could not be made.

use color_eyre::Result;

use super::output::{err, json as print_json, out};
use crate::engine::Engine;
use crate::odoo::compare::Comparison;

pub async fn run(engine: &Engine, prod: &str, copy: &str, as_json: bool) -> Result<i32> {
    let c = match engine.compare_dbs(prod, copy).await {
        Ok(c) => c,
        Err(e) => {
            err(&format!(
                "upgrade-pilot: {}",
                super::one_line_error(&color_eyre::Report::new(e))
            ));
            return Ok(2);
        }
    };
    if as_json {
        print_json(&serde_json::to_value(&c).unwrap_or_default());
    } else {
        for line in lines(&c) {
            out(&line);
        }
    }
    Ok(if c.ok() { 0 } else { 1 })
}

/// The comparison as text: a line per check, then one per difference under it.
pub fn lines(c: &Comparison) -> Vec<String> {
    let mut v = Vec::new();
    for check in &c.checks {
        let mark = match (check.ok, check.skipped) {
            (_, true) => "–",
            (true, false) => "✓",
            (false, false) => "✗",
        };
        v.push(format!(
            "{mark} {} · {}: {}",
            check.area, check.name, check.summary
        ));
        for d in &check.differences {
            v.push(format!("    {d}"));
        }
        if check.more > 0 {
            v.push(format!("    … and {} more", check.more));
        }
        for n in &check.notes {
            v.push(format!("    note: {n}"));
        }
    }
    if (c.at - c.production_read_at).num_seconds() > 60 {
        v.push(format!(
            "{:?} as read at {} (it takes no connection now: read from its copy when the production job began)",
            c.production,
            c.production_read_at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    v.push(format!(
        "{:?} against {:?}: {} ({:.1}s)",
        c.copy,
        c.production,
        c.summary(),
        c.seconds
    ));
    v
}

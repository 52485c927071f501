//! The anomaly export (docs/DESIGN.md, "Campaigns"): a folder with report.md and report.json —
//! anomalies, checklist summary, versions, modules (custom ones marked), the
//! neutralization report, the upgrade log's tail — and the attachments.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::checklist::{Item, Mark, Summary};
use super::job::JobRecord;
use super::{Campaign, SwapKind};
use crate::odoo::inspect::Inspection;

pub struct Input<'a> {
    pub campaign: &'a Campaign,
    pub items: &'a [Item],
    pub last_test: Option<&'a JobRecord>,
    pub inspection: Option<&'a Inspection>,
    pub log_tail: &'a [String],
    /// The jobs' comparisons with production: (which job, comparison).
    pub comparisons: &'a [(String, crate::odoo::compare::Comparison)],
    /// Odoo's upgrade platform made the last test: its request and the
    /// report and log it returned.
    pub platform: Option<&'a PlatformFiles>,
    /// The production upgrade's downtime, as the engine measured it.
    pub downtime: Option<DowntimeText>,
}

/// What Odoo's upgrade platform left with a job, for the bundle.
#[derive(Debug, Clone, Default)]
pub struct PlatformFiles {
    pub request_id: Option<String>,
    /// `upgrade-report.html`, `upgrade.log`, those that were downloaded.
    pub files: Vec<PathBuf>,
}

/// The downtime said in words and as data (the engine computes it).
pub struct DowntimeText {
    pub headline: String,
    pub spent_on: String,
    pub json: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub dir: PathBuf,
    pub anomalies: usize,
    /// Anomaly drafts listed (found by the tool, not yet kept or dropped).
    pub drafts: usize,
    pub attachments: usize,
    pub ticket: String,
    pub missing_files: Vec<String>,
}

/// Which support channel fits the campaign's phase; before production, with
/// the request of Odoo's upgrade platform when it made the test.
pub fn ticket_hint(c: &Campaign, request: Option<&str>) -> String {
    let restored = c
        .history
        .iter()
        .rev()
        .find(|s| s.kind == SwapKind::Restore || s.kind == SwapKind::Rollback)
        .is_some_and(|s| s.kind == SwapKind::Restore);
    if restored {
        "Production is upgraded: report these through Odoo's normal support (a regular ticket), attaching report.md and the files.".into()
    } else {
        let request = request
            .map(|r| format!(" for Odoo's upgrade request {r}"))
            .unwrap_or_default();
        format!(
            "Before production: open an Odoo support ticket of type \"An issue related to my upgrade\"{request}, attaching report.md and the files."
        )
    }
}

pub fn write(out: &Path, input: &Input<'_>) -> Result<Written, String> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!(
            "{} exists and is not empty: choose another --out",
            out.display()
        ));
    }
    let att_dir = out.join("attachments");
    std::fs::create_dir_all(&att_dir).map_err(|e| format!("{}: {e}", att_dir.display()))?;
    let c = input.campaign;
    let current = input.last_test.map(|j| j.work_db.as_str());
    let summary = Summary::of(input.items, &c.checklist, current);
    let mut attachments = 0;
    let mut missing = Vec::new();
    let mut copied: Vec<Vec<String>> = Vec::new();
    for a in &c.anomalies {
        let mut names = Vec::new();
        for (n, f) in a.files.iter().enumerate() {
            let src = Path::new(f);
            let name = format!(
                "{}-{}-{}",
                a.id,
                n + 1,
                src.file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".into())
            );
            match std::fs::copy(src, att_dir.join(&name)) {
                Ok(_) => {
                    attachments += 1;
                    names.push(name);
                }
                Err(_) => missing.push(f.clone()),
            }
        }
        copied.push(names);
    }
    // Odoo's own report and log of the upgrade: support asks for them.
    let mut platform_files = Vec::new();
    for f in input
        .platform
        .map(|p| p.files.as_slice())
        .unwrap_or_default()
    {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::copy(f, att_dir.join(&name)) {
            Ok(_) => {
                attachments += 1;
                platform_files.push(format!("attachments/{name}"));
            }
            Err(_) => missing.push(f.display().to_string()),
        }
    }
    let request = input.platform.and_then(|p| p.request_id.as_deref());
    let ticket = ticket_hint(c, request);
    let mut md = String::new();
    md.push_str(&format!("# Upgrade test report: {}\n\n", c.db));
    md.push_str(&format!("{ticket}\n\n"));
    md.push_str("## Versions\n\n");
    if let Some(j) = input.last_test {
        md.push_str(&format!(
            "- source: {} (base {})\n- target: {}\n- test database: {} ({:?})\n",
            c.db, j.source_version, j.target, j.work_db, j.status
        ));
    } else {
        md.push_str(&format!("- source: {}\n- no test database yet\n", c.db));
    }
    md.push_str(&format!("- server: {}\n", c.server));
    if let Some(r) = request {
        md.push_str(&format!(
            "- upgraded by Odoo's upgrade platform: request {r}\n"
        ));
    }
    if !platform_files.is_empty() {
        md.push_str(&format!(
            "- Odoo's upgrade report and log: {}\n",
            platform_files.join(", ")
        ));
    }
    md.push('\n');
    md.push_str(&format!("## Anomalies ({})\n\n", c.anomalies.len()));
    for (a, files) in c.anomalies.iter().zip(&copied) {
        md.push_str(&format!(
            "### #{} {} — {} ({}, {})\n\n",
            a.id,
            a.title,
            a.area,
            a.severity.label(),
            a.status.label()
        ));
        md.push_str(&format!(
            "**Steps to reproduce**\n\n{}\n\n**Expected**\n\n{}\n\n**Actual**\n\n{}\n\n",
            a.steps.trim(),
            a.expected.trim(),
            a.actual.trim()
        ));
        if !files.is_empty() {
            md.push_str(&format!(
                "Files: {}\n\n",
                files
                    .iter()
                    .map(|f| format!("attachments/{f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !c.anomaly_drafts.is_empty() {
        md.push_str(&format!(
            "## Anomaly drafts ({}, found in the upgrade log, not yet kept or dropped)\n\n",
            c.anomaly_drafts.len()
        ));
        for d in &c.anomaly_drafts {
            md.push_str(&format!(
                "### draft {} {} ({}, {} error(s){})\n\n```\n{}\n```\n\n",
                d.id,
                d.title(),
                d.level,
                d.count,
                if d.failed_hop { ", the hop failed" } else { "" },
                d.excerpt.trim()
            ));
        }
    }
    md.push_str(&format!(
        "## Checklist\n\n{} passed, {} failed, {} skipped, {} to do, {} to check again on the new copy\n\n",
        summary.passed, summary.failed, summary.skipped, summary.todo, summary.stale
    ));
    for i in input.items {
        let mark = match c.checklist.get(&i.id).and_then(|s| s.mark) {
            Some(Mark::Pass) => "pass",
            Some(Mark::Fail) => "FAIL",
            Some(Mark::Skip) => "skip",
            None => "to do",
        };
        let note = c
            .checklist
            .get(&i.id)
            .map(|s| s.note.as_str())
            .filter(|n| !n.is_empty())
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        let covered = if i.fully_automatic {
            format!(
                " (fully covered by the automatic check(s) {})",
                i.automatic.join(", ")
            )
        } else {
            String::new()
        };
        md.push_str(&format!(
            "- [{mark}] {} / {}{covered}{note}\n",
            i.area, i.title
        ));
    }
    md.push_str("\n## Modules\n\n");
    match input.inspection {
        Some(ins) => {
            md.push_str(&format!(
                "{} installed; custom (not covered by Odoo's upgrade service) marked *\n\n",
                ins.installed_count
            ));
            for m in &ins.installed {
                md.push_str(&format!(
                    "- {}{} {} ({})\n",
                    m.name,
                    if m.custom { " *" } else { "" },
                    m.version,
                    m.author
                ));
            }
        }
        None => md.push_str("(production could not be read now: frozen or unreachable)\n"),
    }
    if let Some(j) = input.last_test {
        md.push_str("\n## Neutralization of the test copy\n\n");
        if j.by_module.neutralized_by_module.is_empty() {
            // A job recorded before the report was grouped by module.
            for (k, v) in &j.neutralized.0 {
                md.push_str(&format!(
                    "- {k}: {}\n",
                    v.map(|n| n.to_string())
                        .unwrap_or_else(|| "custom SQL".into())
                ));
            }
        }
        for m in &j.by_module.neutralized_by_module {
            md.push_str(&format!("- **{}**: {} row(s)\n", m.module, m.rows));
            for r in &m.rules {
                let rows = r
                    .rows
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "custom SQL".into());
                md.push_str(&format!("  - {} ({rows}): {}\n", r.rule, r.reason));
            }
        }
        if let Some(o) = &j.odoo_neutralize {
            md.push_str(&format!("- {o}\n"));
        }
        for n in &j.by_module.neutralize_notes {
            md.push_str(&format!("\nNote: {n}\n"));
        }
        for h in &j.hops {
            md.push_str(&format!(
                "\nOpenUpgrade hop {} → {}: {} in {:.1}s, {} modules, {} migration scripts, {} warning(s), {} error(s)\n",
                h.from,
                h.to,
                if h.ok { "done" } else { "FAILED" },
                h.seconds,
                h.modules,
                h.migrations,
                h.warnings,
                h.errors
            ));
        }
    }
    for (what, cmp) in input.comparisons {
        md.push_str(&format!(
            "\n## Comparison with production: {what}\n\n{:?} against {:?}, {}\n\n",
            cmp.copy,
            cmp.production,
            cmp.summary()
        ));
        for check in &cmp.checks {
            md.push_str(&format!(
                "- [{}] {} / {}: {}\n",
                if check.ok { "ok" } else { "DIFFERS" },
                check.area,
                check.name,
                check.summary
            ));
            for d in &check.differences {
                md.push_str(&format!("  - {d}\n"));
            }
            if check.more > 0 {
                md.push_str(&format!("  - … and {} more\n", check.more));
            }
        }
    }
    if let Some(d) = &input.downtime {
        md.push_str(&format!(
            "\n## Production downtime\n\n{}\n\nSpent on: {}\n",
            d.headline, d.spent_on
        ));
    }
    md.push_str("\n## Upgrade log (tail)\n\n```\n");
    for l in input.log_tail {
        md.push_str(l);
        md.push('\n');
    }
    md.push_str("```\n");
    let report_json = json!({
        "db": c.db,
        "server": c.server,
        "ticket": ticket,
        "anomalies": c.anomalies,
        "anomaly_drafts": c.anomaly_drafts,
        "checklist": { "summary": summary, "items": input.items.iter().map(|i| json!({"id": i.id, "area": i.area, "title": i.title, "state": c.checklist.get(&i.id)})).collect::<Vec<_>>() },
        "test": input.last_test.map(|j| json!({"db": j.work_db, "source_version": j.source_version, "target": j.target, "neutralized": j.neutralized.0, "neutralized_by_module": j.by_module.neutralized_by_module, "neutralize_notes": j.by_module.neutralize_notes, "odoo_neutralize": j.odoo_neutralize, "hops": j.hops, "status": j.status})),
        "modules": input.inspection.map(|i| i.installed.iter().map(|m| json!({"name": m.name, "version": m.version, "custom": m.custom})).collect::<Vec<_>>()),
        "log_tail": input.log_tail,
        "platform": input.platform.map(|_| json!({"request_id": request, "files": platform_files})),
        "downtime": input.downtime.as_ref().map(|d| &d.json),
        "comparisons": input.comparisons.iter().map(|(what, c)| json!({"job": what, "comparison": c})).collect::<Vec<_>>(),
    });
    write_file(&out.join("report.md"), md.as_bytes())?;
    write_file(
        &out.join("report.json"),
        serde_json::to_string_pretty(&report_json)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    Ok(Written {
        dir: out.to_path_buf(),
        anomalies: c.anomalies.len(),
        drafts: c.anomaly_drafts.len(),
        attachments,
        ticket,
        missing_files: missing,
    })
}

fn write_file(p: &Path, bytes: &[u8]) -> Result<(), String> {
    super::store::write_atomic(p, bytes).map_err(|e| e.to_string())
}

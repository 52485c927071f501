//! Writing to stdout/stderr without ever panicking on a closed terminal (an SSH
//! drop must not kill a running job).

use std::io::Write;

pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

pub fn err(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

pub fn json(value: &serde_json::Value) {
    out(&serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into()));
}

/// Odoo's upgrade platform's request of a finished job, without its token.
pub fn platform_json(record: &crate::engine::JobRecord) -> serde_json::Value {
    match &record.platform {
        Some(p) => serde_json::json!({
            "request_id": p.request_id(),
            "upgrade_report": p.report,
        }),
        None => serde_json::Value::Null,
    }
}

/// `Odoo's upgrade request 1001; its report: …/upgrade-report.html`.
pub fn platform_line(record: &crate::engine::JobRecord) -> Option<String> {
    let p = record.platform.as_ref()?;
    let id = p.request_id().unwrap_or("?");
    Some(match &p.report {
        Some(r) => format!("Odoo's upgrade request {id}; its report: {}", r.display()),
        None => format!("Odoo's upgrade request {id}"),
    })
}

use color_eyre::Result;

use super::confirm::confirm;
use super::output::out;
use crate::engine::Engine;

pub async fn run(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    confirm(
        &format!("Neutralize {db:?} in place (mail, crons, payments, integrations switched off)?"),
        yes,
    )?;
    let (report, checks) = engine.neutralize_db(db).await?;
    for (action, rows) in &report.0 {
        match rows {
            Some(n) => out(&format!("{action:<16} {n} row(s)")),
            None => out(&format!("{action:<16} custom SQL run")),
        }
    }
    let bad: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    if bad.is_empty() {
        out(&format!(
            "{db} is neutralized ({} checks passed)",
            checks.len()
        ));
        Ok(0)
    } else {
        for c in bad {
            out(&format!("check failed: {}: {}", c.name, c.detail));
        }
        Ok(1)
    }
}

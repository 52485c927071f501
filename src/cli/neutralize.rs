use color_eyre::Result;

use super::confirm::confirm;
use super::output::out;
use crate::engine::Engine;

pub async fn run(engine: &Engine, db: &str, yes: bool) -> Result<i32> {
    confirm(
        &format!("Neutralize {db:?} in place (mail, crons, payments, integrations switched off)?"),
        yes,
    )?;
    let (outcome, checks) = engine.neutralize_db(db).await?;
    // By module; rules that found nothing to change are left out.
    for m in &outcome.modules {
        let changed: Vec<_> = m.rules.iter().filter(|r| r.rows != Some(0)).collect();
        if changed.is_empty() {
            continue;
        }
        out(&format!("{}  {} row(s)", m.module, m.rows));
        for r in changed {
            match r.rows {
                Some(n) => out(&format!("  {:<16} {n:>5}  {}", r.rule, r.reason)),
                None => out(&format!("  {:<16}   sql  {}", r.rule, r.reason)),
            }
        }
    }
    for n in &outcome.notes {
        out(&format!("note: {n}"));
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

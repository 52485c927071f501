use color_eyre::Result;

use super::output::{json, out};
use crate::engine::Engine;
use crate::odoo::inspect::{self, human_size};
use crate::odoo::version;

pub async fn run(engine: &Engine, db: &str, as_json: bool) -> Result<i32> {
    crate::pg::ident::check_db_name(db)?;
    let client = engine.conn.connect(db).await?;
    let i = inspect::inspect(&client, db, &engine.config.odoo.custom_modules).await?;
    let support = version::support(i.series, &engine.config.odoo.supported_targets);
    if as_json {
        let mut v = serde_json::to_value(&i)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("support".into(), serde_json::to_value(&support)?);
        }
        json(&v);
        return Ok(0);
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    out(&format!(
        "database     {}  on {}",
        i.db,
        engine.conn.server()
    ));
    out(&format!(
        "version      {} (base {})",
        i.series, i.base_version
    ));
    out(&format!("support      {}", support.summary));
    out(&format!("size         {}", human_size(i.size_bytes)));
    out(&format!(
        "modules      {} installed, {} pending",
        i.installed_count,
        i.pending.len()
    ));
    for m in &i.pending {
        out(&format!("  pending    {} ({})", m.name, m.state));
    }
    if i.custom_modules.is_empty() {
        out("custom       none");
    } else {
        out(&format!(
            "custom       {} not covered by Odoo's upgrade service: {}",
            i.custom_modules.len(),
            i.custom_modules.join(", ")
        ));
    }
    out(&format!("studio       {}", yes_no(i.studio)));
    out(&format!(
        "python code  {} server/automated action(s)",
        i.code_actions.len()
    ));
    for a in i.code_actions.iter().take(10) {
        out(&format!(
            "  action     #{} {}{}",
            a.id,
            a.name,
            if a.automated { " (automated)" } else { "" }
        ));
    }
    out(&format!(
        "views        {} customized in the database",
        i.custom_views.len()
    ));
    for v in i.custom_views.iter().take(10) {
        out(&format!(
            "  view       #{} {} ({}) inherits {}",
            v.id, v.name, v.model, v.inherits
        ));
    }
    out(&format!("sessions     {} other", i.sessions.len()));
    for s in &i.sessions {
        out(&format!("  session    {s}"));
    }
    out(&format!("neutralized  {}", yes_no(i.neutralized)));
    Ok(0)
}

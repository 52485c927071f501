//! What an Odoo database is: version, modules, customizations that Odoo's upgrade
//! service does not cover, sessions, size, neutralization.

use serde::Serialize;
use thiserror::Error;
use tokio_postgres::Client;

use super::schema::Schema;
use super::version::Series;
use crate::pg::server::{self, Session};

#[derive(Debug, Error)]
pub enum InspectError {
    #[error("database {0:?} is not an Odoo database (no ir_module_module table): check --db")]
    NotOdoo(String),
    #[error("database {0:?} has no installed base module: it is not a usable Odoo database")]
    NoBase(String),
    #[error("database {db:?}: base version {version:?} is not an Odoo version")]
    BadVersion { db: String, version: String },
    #[error("cannot read Odoo's tables: {} (connect as the database's owner)", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct Module {
    pub name: String,
    pub version: String,
    pub state: String,
    pub author: String,
    /// Not covered by Odoo's upgrade service.
    pub custom: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomView {
    pub id: i32,
    pub name: String,
    pub model: String,
    pub inherits: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeAction {
    pub id: i32,
    pub name: String,
    pub automated: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub db: String,
    pub series: Series,
    pub base_version: String,
    pub installed_count: usize,
    pub installed: Vec<Module>,
    pub pending: Vec<Module>,
    pub custom_modules: Vec<String>,
    pub size_bytes: i64,
    pub sessions: Vec<Session>,
    pub neutralized: bool,
    pub uuid: Option<String>,
    pub studio: bool,
    pub code_actions: Vec<CodeAction>,
    pub custom_views: Vec<CustomView>,
    /// It has an Enterprise subscription code (Odoo's upgrade platform takes it).
    pub enterprise: bool,
}

pub const PENDING_STATES: [&str; 3] = ["to install", "to upgrade", "to remove"];

/// Base series and state, the cheap check used before and after each step.
pub async fn base_version(
    client: &Client,
    db: &str,
) -> Result<(Series, String, String), InspectError> {
    let has = client
        .query_opt("SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'ir_module_module'", &[])
        .await?
        .is_some();
    if !has {
        return Err(InspectError::NotOdoo(db.to_string()));
    }
    let row = client
        .query_opt(
            "SELECT coalesce(latest_version, ''), state FROM ir_module_module WHERE name = 'base'",
            &[],
        )
        .await?
        .ok_or_else(|| InspectError::NoBase(db.to_string()))?;
    let version: String = row.get(0);
    let state: String = row.get(1);
    let series = Series::from_module_version(&version).ok_or_else(|| InspectError::BadVersion {
        db: db.to_string(),
        version: version.clone(),
    })?;
    Ok((series, version, state))
}

pub async fn config_param(
    client: &Client,
    key: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT value FROM ir_config_parameter WHERE key = $1",
            &[&key],
        )
        .await?
        .map(|r| r.get(0)))
}

pub async fn inspect(
    client: &Client,
    db: &str,
    extra_custom: &[String],
) -> Result<Inspection, InspectError> {
    let (series, base_version, _) = base_version(client, db).await?;
    let schema = Schema::load(client).await?;
    let author = if schema.has_column("ir_module_module", "author") {
        "coalesce(author, '')"
    } else {
        "''"
    };
    let rows = client
        .query(
            &format!(
                "SELECT name::text, coalesce(latest_version, ''), state::text, {author} FROM ir_module_module \
                 WHERE state IN ('installed', 'to upgrade', 'to remove', 'to install') ORDER BY name"
            ),
            &[],
        )
        .await?;
    let mut installed = Vec::new();
    let mut pending = Vec::new();
    for r in rows {
        let name: String = r.get(0);
        let author: String = r.get(3);
        // Odoo's own modules say "Odoo S.A."; anything else is outside its SLA.
        let custom = !author.contains("Odoo S.A.") || extra_custom.iter().any(|c| c == &name);
        let m = Module {
            name,
            version: r.get(1),
            state: r.get(2),
            author,
            custom,
        };
        if PENDING_STATES.contains(&m.state.as_str()) {
            pending.push(m.clone());
        }
        if m.state != "to install" {
            installed.push(m);
        }
    }
    let custom_modules = installed
        .iter()
        .filter(|m| m.custom)
        .map(|m| m.name.clone())
        .collect();
    let studio = installed
        .iter()
        .any(|m| m.name == "studio_customization" || m.name == "web_studio");

    let code_actions = if schema.has_column("ir_act_server", "state")
        && schema.has_column("ir_cron", "ir_actions_server_id")
        && schema.has_table("ir_model_data")
    {
        let name = schema.text_expr("ir_act_server", "name", "s");
        let automated = if schema.has_column("base_automation", "action_server_id") {
            "EXISTS (SELECT 1 FROM base_automation b WHERE b.action_server_id = s.id)"
        } else {
            "false"
        };
        client
            .query(
                // Made in the database: no XML id of its own, and not the action of a module's cron.
                &format!(
                    "SELECT s.id, {name}, {automated} FROM ir_act_server s WHERE s.state = 'code' \
                     AND NOT EXISTS (SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.actions.server' AND d.res_id = s.id) \
                     AND NOT EXISTS (SELECT 1 FROM ir_cron c JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id \
                                     WHERE c.ir_actions_server_id = s.id) \
                     ORDER BY s.id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(|r| CodeAction { id: r.get(0), name: r.get(1), automated: r.get(2) })
            .collect()
    } else {
        Vec::new()
    };

    // Views made in the database (no XML id) that inherit a standard view (one with an XML id).
    let custom_views = if schema.has_column("ir_ui_view", "inherit_id")
        && schema.has_table("ir_model_data")
    {
        let name = schema.text_expr("ir_ui_view", "name", "v");
        let pname = schema.text_expr("ir_ui_view", "name", "p");
        client
            .query(
                &format!(
                    "SELECT v.id, {name}, coalesce(v.model, ''), {pname} FROM ir_ui_view v \
                     JOIN ir_ui_view p ON p.id = v.inherit_id \
                     WHERE NOT EXISTS (SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.ui.view' AND d.res_id = v.id) \
                     AND EXISTS (SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.ui.view' AND d.res_id = p.id) \
                     ORDER BY v.id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(|r| CustomView { id: r.get(0), name: r.get(1), model: r.get(2), inherits: r.get(3) })
            .collect()
    } else {
        Vec::new()
    };

    let size_bytes = server::db_size(client, db).await?;
    let sessions = server::sessions(client, db).await?;
    let neutralized = config_param(client, "database.is_neutralized")
        .await?
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let uuid = config_param(client, "database.uuid").await?;
    let enterprise = config_param(client, crate::odoo::platform::CONTRACT_PARAM)
        .await?
        .is_some_and(|c| !c.trim().is_empty());
    Ok(Inspection {
        db: db.to_string(),
        series,
        base_version,
        installed_count: installed.len(),
        installed,
        pending,
        custom_modules,
        size_bytes,
        sessions,
        neutralized,
        uuid,
        studio,
        code_actions,
        custom_views,
        enterprise,
    })
}

pub fn human_size(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

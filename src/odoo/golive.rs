//! What a database must be to become production (docs/DESIGN.md, "The rules"): not a
//! neutralized copy (a test database cannot email, charge or sync), and the
//! same Odoo database as the production it replaces (its `database.uuid`, and
//! its Enterprise subscription code when production has one). Checked on the
//! result of every production job and again at `restore`.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::inspect;
use super::neutralize::DUMMY_MAIL_SERVER;
use super::schema::Schema;
use super::verify::Check;

/// Who a database is, as Odoo knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub uuid: Option<String>,
    #[serde(default)]
    pub enterprise_code: Option<String>,
}

/// The views Odoo's neutralization turns on: a red banner, a website ribbon.
const BANNER_VIEWS: [&str; 2] = ["web.neutralize_banner", "website.neutralize_ribbon"];

pub async fn identity(client: &Client) -> Result<Identity, tokio_postgres::Error> {
    let s = Schema::load(client).await?;
    if !s.has_column("ir_config_parameter", "key") {
        return Ok(Identity::default());
    }
    Ok(Identity {
        uuid: inspect::config_param(client, "database.uuid").await?,
        enterprise_code: inspect::config_param(client, "database.enterprise_code").await?,
    })
}

/// Modules an unfinished operation left half-done, as "name (state)".
pub async fn pending_modules(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let states: Vec<&str> = inspect::PENDING_STATES.to_vec();
    Ok(client
        .query(
            "SELECT name::text || ' (' || state::text || ')' FROM ir_module_module WHERE state::text = ANY($1) ORDER BY name",
            &[&states],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One check per trace of a neutralization; each fails naming what it found.
pub async fn not_neutralized(client: &Client) -> Result<Vec<Check>, tokio_postgres::Error> {
    let s = Schema::load(client).await?;
    let mut out = Vec::new();
    if s.has_column("ir_config_parameter", "key") {
        // Odoo reads the parameter as a Python string: any value means neutralized.
        let flag = inspect::config_param(client, "database.is_neutralized").await?;
        out.push(Check {
            name: "neutralization flag".into(),
            ok: flag.is_none(),
            detail: match &flag {
                None => "database.is_neutralized absent".into(),
                Some(v) => format!("database.is_neutralized = {v:?} (a neutralized copy)"),
            },
        });
    }
    if s.has_column("ir_mail_server", "smtp_host") && s.has_column("ir_mail_server", "active") {
        let name = if s.column_type("ir_mail_server", "name") == Some("jsonb") {
            "name->>'en_US'"
        } else {
            "name::text"
        };
        let rows = client
            .query(
                &format!(
                    "SELECT coalesce({name}, '') || ' (host ' || coalesce(smtp_host, '') || ')' FROM ir_mail_server \
                     WHERE active AND ({name} = $1 OR smtp_host = 'invalid') ORDER BY id"
                ),
                &[&DUMMY_MAIL_SERVER],
            )
            .await?;
        let found: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        out.push(Check {
            name: "dummy mail server".into(),
            ok: found.is_empty(),
            detail: if found.is_empty() {
                "none".into()
            } else {
                format!(
                    "active mail server {} cannot send: outgoing mail is off",
                    found.join(", ")
                )
            },
        });
    }
    if s.has_column("ir_ui_view", "key") && s.has_column("ir_ui_view", "active") {
        let keys: Vec<&str> = BANNER_VIEWS.to_vec();
        let rows = client
            .query(
                "SELECT DISTINCT key::text FROM ir_ui_view WHERE active AND key = ANY($1) ORDER BY 1",
                &[&keys],
            )
            .await?;
        let found: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        out.push(Check {
            name: "neutralization banner".into(),
            ok: found.is_empty(),
            detail: if found.is_empty() {
                "off".into()
            } else {
                format!("active view {}", found.join(", "))
            },
        });
    }
    Ok(out)
}

/// The result is production's own database, unless the user said otherwise.
pub fn same_database(production: &Identity, result: &Identity, allow_other: bool) -> Vec<Check> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    let mut out = Vec::new();
    let same_uuid = production.uuid == result.uuid;
    out.push(Check {
        name: "database uuid".into(),
        ok: same_uuid || allow_other,
        detail: if same_uuid {
            "same as production's".into()
        } else {
            format!(
                "database.uuid {} is not production's {}: another database{}",
                show(&result.uuid),
                show(&production.uuid),
                if allow_other {
                    " (accepted: --allow-other-database)"
                } else {
                    ""
                }
            )
        },
    });
    if production.enterprise_code.is_some() {
        let same = production.enterprise_code == result.enterprise_code;
        out.push(Check {
            name: "enterprise code".into(),
            ok: same || allow_other,
            detail: if same {
                "same as production's".into()
            } else {
                format!(
                    "database.enterprise_code {} is not production's {}{}",
                    show(&result.enterprise_code),
                    show(&production.enterprise_code),
                    if allow_other {
                        " (accepted: --allow-other-database)"
                    } else {
                        ""
                    }
                )
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(u: &str, e: Option<&str>) -> Identity {
        Identity {
            uuid: Some(u.into()),
            enterprise_code: e.map(String::from),
        }
    }

    #[test]
    fn another_database_is_named_and_refused_unless_allowed() {
        let prod = id("p-uuid", Some("M123"));
        assert!(same_database(&prod, &prod, false).iter().all(|c| c.ok));
        let other = id("o-uuid", Some("M999"));
        let checks = same_database(&prod, &other, false);
        assert!(checks.iter().all(|c| !c.ok));
        assert!(checks[0].detail.contains("o-uuid") && checks[0].detail.contains("p-uuid"));
        assert!(checks[1].detail.contains("M999") && checks[1].detail.contains("M123"));
        assert!(same_database(&prod, &other, true).iter().all(|c| c.ok));
        // The code is compared only when production has one.
        let community = id("p-uuid", None);
        assert!(
            same_database(&community, &id("p-uuid", Some("M1")), false)
                .iter()
                .all(|c| c.ok)
        );
    }
}

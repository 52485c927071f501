//! Post-conditions of a test copy (docs/DESIGN.md, "What a neutralized test copy has") and of an upgrade: each check is
//! a query whose answer must be zero offending rows.

use serde::Serialize;
use tokio_postgres::Client;

use super::inspect::{self, InspectError};
use super::neutralize::{AUTOVACUUM_SQL, BASE_URL, DUMMY_MAIL_SERVER, MAIL_DOMAIN, WEBHOOK_URL};
use super::neutralize_rules::Postcondition;
use super::schema::Schema;
use super::version::Series;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The failed checks, as "name: detail" lines for an error message.
pub fn failures(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect()
}

fn zero(out: &mut Vec<Check>, name: &str, n: i64, what: &str) {
    out.push(Check {
        name: name.into(),
        ok: n == 0,
        detail: if n == 0 {
            "none".into()
        } else {
            format!("{n} {what}")
        },
    });
}

async fn count(client: &Client, sql: &str) -> Result<i64, tokio_postgres::Error> {
    Ok(client.query_one(sql, &[]).await?.get(0))
}

/// What Odoo's own neutralize writes there (it may run after ours): no URL either.
const ODOO_WEBHOOK: &str = "neutralization - disable webhook";

/// Checks that the neutralization holds. `production_uuid` is the source's uuid.
pub async fn neutralized(
    client: &Client,
    production_uuid: Option<&str>,
) -> Result<Vec<Check>, tokio_postgres::Error> {
    let s = Schema::load(client).await?;
    let mut out = Vec::new();
    if s.has_column("ir_mail_server", "active") {
        let name = if s.column_type("ir_mail_server", "name") == Some("jsonb") {
            "(name->>'en_US')"
        } else {
            "name"
        };
        let n = count(client, &format!(
            "SELECT count(*) FROM ir_mail_server WHERE active AND NOT ({name} = '{DUMMY_MAIL_SERVER}' AND smtp_host = 'invalid')"
        )).await?;
        zero(
            &mut out,
            "mail servers",
            n,
            "active mail server(s) besides the dummy",
        );
    }
    if s.has_column("fetchmail_server", "active") {
        zero(
            &mut out,
            "fetchmail",
            count(client, "SELECT count(*) FROM fetchmail_server WHERE active").await?,
            "active incoming mail server(s)",
        );
    }
    if s.has_column("ir_cron", "active") {
        let n = if s.has_table("ir_model_data") {
            count(
                client,
                &format!(
                    "SELECT count(*) FROM ir_cron WHERE active AND id NOT IN ({AUTOVACUUM_SQL})"
                ),
            )
            .await?
        } else {
            count(client, "SELECT count(*) FROM ir_cron WHERE active").await?
        };
        zero(
            &mut out,
            "crons",
            n,
            "active scheduled action(s) besides autovacuum",
        );
    }
    if let Some(t) = ["payment_provider", "payment_acquirer"]
        .into_iter()
        .find(|t| s.has_column(t, "state"))
    {
        let n = count(
            client,
            &format!("SELECT count(*) FROM {t} WHERE state NOT IN ('test', 'disabled')"),
        )
        .await?;
        zero(&mut out, "payment", n, "payment provider(s) enabled");
    }
    if s.has_column("delivery_carrier", "prod_environment") {
        zero(
            &mut out,
            "carriers",
            count(
                client,
                "SELECT count(*) FROM delivery_carrier WHERE prod_environment",
            )
            .await?,
            "carrier(s) in production mode",
        );
    }
    if s.has_column("ir_act_server", "webhook_url") {
        let n = count(client, &format!("SELECT count(*) FROM ir_act_server WHERE state = 'webhook' AND webhook_url NOT IN ('{WEBHOOK_URL}', '{ODOO_WEBHOOK}')")).await?;
        zero(&mut out, "webhooks", n, "webhook(s) still pointing out");
    }
    if s.has_column("iap_account", "account_token") {
        let n = count(client, "SELECT count(*) FROM iap_account WHERE account_token IS NOT NULL AND account_token NOT LIKE '%+disabled'").await?;
        zero(&mut out, "iap", n, "live IAP token(s)");
    }
    if s.has_column("auth_oauth_provider", "enabled") {
        zero(
            &mut out,
            "oauth",
            count(
                client,
                "SELECT count(*) FROM auth_oauth_provider WHERE enabled",
            )
            .await?,
            "OAuth provider(s) enabled",
        );
    }
    if s.has_column("ir_config_parameter", "key") {
        let param = |k: &'static str| async move { inspect::config_param(client, k).await };
        let flag = param("database.is_neutralized").await?;
        out.push(Check {
            name: "flag".into(),
            ok: flag.as_deref() == Some("true"),
            detail: format!(
                "database.is_neutralized = {}",
                flag.as_deref().unwrap_or("(missing)")
            ),
        });
        let url = param("web.base.url").await?;
        out.push(Check {
            name: "base url".into(),
            ok: url.as_deref() == Some(BASE_URL),
            detail: format!("web.base.url = {}", url.as_deref().unwrap_or("(missing)")),
        });
        if let Some(d) = param("mail.catchall.domain").await? {
            out.push(Check {
                name: "mail domain".into(),
                ok: d == MAIL_DOMAIN,
                detail: format!("mail.catchall.domain = {d}"),
            });
        }
        let uuid = param("database.uuid").await?;
        let differs = uuid.is_some() && uuid.as_deref() != production_uuid;
        out.push(Check {
            name: "uuid".into(),
            ok: differs,
            detail: if differs {
                "differs from production".into()
            } else {
                "same as production's".into()
            },
        });
    }
    if s.has_column("mail_alias_domain", "name") {
        let n = count(client, &format!("SELECT count(*) FROM mail_alias_domain WHERE name <> '{MAIL_DOMAIN}' AND name NOT LIKE '%.{MAIL_DOMAIN}'")).await?;
        zero(
            &mut out,
            "alias domains",
            n,
            "alias domain(s) not on localhost",
        );
    }
    Ok(out)
}

/// The post-condition of every rule that ran holds: no terminal left in live
/// mode, no EDI in production mode, no live key left in a rule's columns…
pub async fn rules_hold(
    client: &Client,
    conds: &[Postcondition],
) -> Result<Vec<Check>, tokio_postgres::Error> {
    let mut out = Vec::new();
    for p in conds {
        let n: i64 = client.query_one(p.sql.as_str(), &[]).await?.get(0);
        zero(&mut out, &format!("{}: {}", p.module, p.rule), n, &p.what);
    }
    Ok(out)
}

/// Version reached and no module left half-done.
pub async fn upgraded(
    client: &Client,
    db: &str,
    target: Series,
) -> Result<Vec<Check>, InspectError> {
    let (series, version, _) = inspect::base_version(client, db).await?;
    let pending: Vec<String> = client
        .query("SELECT name::text || ' (' || state || ')' FROM ir_module_module WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(vec![
        Check {
            name: "version".into(),
            ok: series == target,
            detail: format!("base {version} (target {target})"),
        },
        Check {
            name: "modules".into(),
            ok: pending.is_empty(),
            detail: if pending.is_empty() {
                "none pending".into()
            } else {
                format!("pending: {}", pending.join(", "))
            },
        },
    ])
}

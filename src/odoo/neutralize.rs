//! Neutralization of a test copy (DESIGN.md §5): one transaction, every action
//! guarded by the existence of the tables and columns it touches, each returning
//! how many rows it changed. Idempotent, so it runs before and after the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;
use tokio_postgres::Client;

use super::schema::Schema;
use crate::pg::ident::quote_literal;

pub const DUMMY_MAIL_SERVER: &str = "neutralization - disable emails";
pub const BASE_URL: &str = "http://localhost:8069";
pub const MAIL_DOMAIN: &str = "localhost";
pub const ROBOTS: &str = "User-agent: *\nDisallow: /";
/// `.invalid` never resolves (RFC 2606): a webhook there cannot reach anyone.
pub const WEBHOOK_URL: &str = "http://neutralized.invalid/";

/// Every built-in action, in the order they run; names are what `[neutralize] skip` takes.
pub const ACTIONS: &[(&str, &str)] = &[
    (
        "outgoing_mail",
        "archive mail servers, add a dummy that cannot send, detach templates",
    ),
    ("incoming_mail", "archive fetchmail servers"),
    (
        "crons",
        "deactivate every scheduled action but base.autovacuum_job",
    ),
    ("flag", "database.is_neutralized = true"),
    (
        "identity",
        "new database.uuid and secret, web.base.url and mail domains on localhost",
    ),
    ("banner", "red neutralization banner on"),
    (
        "website",
        "website domains cleared, CDN off, robots.txt disallow, ribbon on",
    ),
    ("webhooks", "webhook server actions point nowhere"),
    (
        "payment",
        "payment providers disabled, live credentials cleared",
    ),
    (
        "carriers",
        "carriers out of production mode, API carriers archived",
    ),
    ("edi", "EDI proxy and Peppol in test/demo mode"),
    (
        "calendar_sync",
        "Google/Microsoft calendar tokens removed, sync stopped",
    ),
    ("iap", "IAP tokens suffixed +disabled"),
    ("oauth", "OAuth providers disabled"),
    ("web_push", "web push devices and keys removed"),
    ("bank_sync", "online bank synchronisation disconnected"),
];

#[derive(Debug, Error)]
pub enum NeutralizeError {
    #[error("neutralize action {action}: {}", crate::pg::db_message(.source))]
    Sql {
        action: String,
        source: tokio_postgres::Error,
    },
    #[error("custom neutralization SQL {path}: {detail}")]
    Custom { path: PathBuf, detail: String },
    #[error(
        "unknown neutralize action {0:?} in [neutralize] skip (known: see upgrade-pilot neutralize --help)"
    )]
    UnknownSkip(String),
    #[error("neutralize: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub skip: Vec<String>,
    pub extra_sql: Vec<PathBuf>,
}

/// Rows changed per action; `None` for custom SQL whose count is unknown.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Report(pub BTreeMap<String, Option<u64>>);

impl Report {
    pub fn total(&self) -> u64 {
        self.0.values().flatten().sum()
    }
}

/// A text value for a column that may be plain or translated JSON.
fn text_value(s: &Schema, table: &str, col: &str, value: &str) -> String {
    if s.column_type(table, col) == Some("jsonb") {
        format!("jsonb_build_object('en_US', {})", quote_literal(value))
    } else {
        quote_literal(value)
    }
}

fn text_of(s: &Schema, table: &str, col: &str) -> String {
    if s.column_type(table, col) == Some("jsonb") {
        format!("({col}->>'en_US')")
    } else {
        col.to_string()
    }
}

/// INSERT with Odoo's audit columns filled when the table has them.
fn insert_row(s: &Schema, table: &str, cols: &[(&str, String)], unless: &str) -> String {
    let mut names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    let mut values: Vec<String> = cols.iter().map(|(_, v)| v.clone()).collect();
    for (c, v) in [
        ("create_date", "now() at time zone 'UTC'"),
        ("write_date", "now() at time zone 'UTC'"),
        ("create_uid", "1"),
        ("write_uid", "1"),
    ] {
        if s.has_column(table, c) && !names.contains(&c) {
            names.push(c);
            values.push(v.to_string());
        }
    }
    format!(
        "INSERT INTO {table} ({}) SELECT {} WHERE NOT EXISTS ({unless})",
        names.join(", "),
        values.join(", ")
    )
}

/// Upsert of an `ir_config_parameter`, without relying on the unique constraint.
fn set_param(s: &Schema, key: &str, value_sql: &str) -> Vec<String> {
    if !s.has_column("ir_config_parameter", "key") {
        return vec![];
    }
    let k = quote_literal(key);
    vec![
        format!(
            "UPDATE ir_config_parameter SET value = {value_sql} WHERE key = {k} AND value IS DISTINCT FROM {value_sql}"
        ),
        insert_row(
            s,
            "ir_config_parameter",
            &[("key", k.clone()), ("value", value_sql.to_string())],
            &format!("SELECT 1 FROM ir_config_parameter WHERE key = {k}"),
        ),
    ]
}

fn update_param(s: &Schema, key: &str, value_sql: &str) -> Vec<String> {
    if !s.has_column("ir_config_parameter", "key") {
        return vec![];
    }
    vec![format!(
        "UPDATE ir_config_parameter SET value = {value_sql} WHERE key = {} AND value IS DISTINCT FROM {value_sql}",
        quote_literal(key)
    )]
}

fn outgoing_mail(s: &Schema) -> Vec<String> {
    let mut v = Vec::new();
    let t = "ir_mail_server";
    if s.has_column(t, "active") {
        let name = text_of(s, t, "name");
        let dummy = quote_literal(DUMMY_MAIL_SERVER);
        v.push(format!(
            "UPDATE {t} SET active = false WHERE active AND {name} IS DISTINCT FROM {dummy}"
        ));
        let mut cols = vec![
            ("name", text_value(s, t, "name", DUMMY_MAIL_SERVER)),
            ("smtp_host", "'invalid'".to_string()),
            ("smtp_port", "1025".to_string()),
            ("smtp_encryption", "'none'".to_string()),
            ("active", "true".to_string()),
        ];
        if s.has_column(t, "smtp_authentication") {
            cols.push(("smtp_authentication", "'login'".into()));
        }
        if s.has_column(t, "sequence") {
            cols.push(("sequence", "10".into()));
        }
        v.push(insert_row(
            s,
            t,
            &cols,
            &format!(
                "SELECT 1 FROM {t} WHERE active AND {name} = {dummy} AND smtp_host = 'invalid'"
            ),
        ));
    }
    if s.has_column("mail_template", "mail_server_id") {
        v.push(
            "UPDATE mail_template SET mail_server_id = NULL WHERE mail_server_id IS NOT NULL"
                .into(),
        );
    }
    v
}

fn incoming_mail(s: &Schema) -> Vec<String> {
    if s.has_column("fetchmail_server", "active") {
        vec!["UPDATE fetchmail_server SET active = false WHERE active".into()]
    } else {
        vec![]
    }
}

pub const AUTOVACUUM_SQL: &str = "SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job'";

fn crons(s: &Schema) -> Vec<String> {
    if !s.has_column("ir_cron", "active") {
        return vec![];
    }
    if s.has_table("ir_model_data") {
        vec![format!(
            "UPDATE ir_cron SET active = false WHERE active AND id NOT IN ({AUTOVACUUM_SQL})"
        )]
    } else {
        vec!["UPDATE ir_cron SET active = false WHERE active".into()]
    }
}

fn flag(s: &Schema) -> Vec<String> {
    set_param(s, "database.is_neutralized", "'true'")
}

fn identity(s: &Schema) -> Vec<String> {
    let mut v = Vec::new();
    v.extend(set_param(
        s,
        "database.uuid",
        &quote_literal(&uuid::Uuid::new_v4().to_string()),
    ));
    v.extend(set_param(
        s,
        "database.secret",
        &quote_literal(&uuid::Uuid::new_v4().to_string()),
    ));
    v.extend(set_param(s, "web.base.url", &quote_literal(BASE_URL)));
    v.extend(update_param(
        s,
        "mail.catchall.domain",
        &quote_literal(MAIL_DOMAIN),
    ));
    if s.has_column("mail_alias_domain", "name") {
        // Names are unique: the first becomes localhost, others a subdomain of it.
        v.push(format!(
            "UPDATE mail_alias_domain SET name = CASE WHEN id = (SELECT min(id) FROM mail_alias_domain) \
             THEN '{MAIL_DOMAIN}' ELSE 'alias' || id || '.{MAIL_DOMAIN}' END \
             WHERE name <> '{MAIL_DOMAIN}' AND name NOT LIKE 'alias%.{MAIL_DOMAIN}'"
        ));
    }
    v
}

fn view_on(s: &Schema, key: &str) -> Vec<String> {
    if s.has_column("ir_ui_view", "key") && s.has_column("ir_ui_view", "active") {
        vec![format!(
            "UPDATE ir_ui_view SET active = true WHERE key = {} AND active IS NOT true",
            quote_literal(key)
        )]
    } else {
        vec![]
    }
}

fn banner(s: &Schema) -> Vec<String> {
    view_on(s, "web.neutralize_banner")
}

fn website(s: &Schema) -> Vec<String> {
    let mut v = Vec::new();
    if s.has_column("website", "domain") {
        v.push("UPDATE website SET domain = NULL WHERE domain IS NOT NULL".into());
    }
    if s.has_column("website", "cdn_activated") {
        v.push("UPDATE website SET cdn_activated = false WHERE cdn_activated IS NOT false".into());
    }
    if s.has_column("website", "robots_txt") {
        let r = quote_literal(ROBOTS);
        v.push(format!(
            "UPDATE website SET robots_txt = {r} WHERE robots_txt IS DISTINCT FROM {r}"
        ));
    }
    if s.has_table("website") {
        v.extend(view_on(s, "website.neutralize_ribbon"));
    }
    v
}

fn webhooks(s: &Schema) -> Vec<String> {
    if s.has_column("ir_act_server", "webhook_url") {
        let u = quote_literal(WEBHOOK_URL);
        vec![format!(
            "UPDATE ir_act_server SET webhook_url = {u} WHERE state = 'webhook' AND webhook_url IS DISTINCT FROM {u}"
        )]
    } else {
        vec![]
    }
}

/// Credential-looking text columns of a payment table.
fn secret_columns<'a>(s: &'a Schema, t: &str) -> Vec<&'a str> {
    const MARKS: [&str; 9] = [
        "secret",
        "password",
        "token",
        "_key",
        "hmac",
        "signature",
        "salt",
        "shakey",
        "api_key",
    ];
    let mut cols: Vec<&str> = s
        .columns(t)
        .filter(|(c, ty)| {
            (ty.starts_with("character varying") || *ty == "text")
                && MARKS.iter().any(|m| c.contains(m))
                && !c.contains("publishable")
        })
        .map(|(c, _)| c)
        .collect();
    cols.sort();
    cols
}

fn payment(s: &Schema) -> Vec<String> {
    // payment_acquirer up to 15.0, payment_provider from 16.0.
    let Some(t) = ["payment_provider", "payment_acquirer"]
        .into_iter()
        .find(|t| s.has_column(t, "state"))
    else {
        return vec![];
    };
    let mut v = Vec::new();
    let secrets = secret_columns(s, t);
    if !secrets.is_empty() {
        // Live credentials go; a provider already in test mode keeps its test keys.
        let set = secrets
            .iter()
            .map(|c| format!("{c} = NULL"))
            .collect::<Vec<_>>()
            .join(", ");
        let any = secrets
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" OR ");
        v.push(format!(
            "UPDATE {t} SET {set} WHERE state <> 'test' AND ({any})"
        ));
    }
    v.push(format!(
        "UPDATE {t} SET state = 'disabled' WHERE state NOT IN ('test', 'disabled')"
    ));
    v
}

fn carriers(s: &Schema) -> Vec<String> {
    let mut v = Vec::new();
    if s.has_column("delivery_carrier", "prod_environment") {
        v.push(
            "UPDATE delivery_carrier SET prod_environment = false WHERE prod_environment".into(),
        );
    }
    if s.has_column("delivery_carrier", "active")
        && s.has_column("delivery_carrier", "delivery_type")
    {
        v.push(
            "UPDATE delivery_carrier SET active = false WHERE active AND delivery_type NOT IN ('fixed', 'base_on_rule')"
                .into(),
        );
    }
    v
}

fn edi(s: &Schema) -> Vec<String> {
    let t = "account_edi_proxy_client_user";
    let mut v = Vec::new();
    if s.has_column(t, "edi_mode") {
        let it = if s.has_column(t, "proxy_type") {
            "proxy_type = 'l10n_it_edi'"
        } else {
            "false"
        };
        v.push(format!(
            "UPDATE {t} SET edi_mode = CASE WHEN {it} THEN 'demo' ELSE 'test' END \
             WHERE edi_mode IS DISTINCT FROM (CASE WHEN {it} THEN 'demo' ELSE 'test' END)"
        ));
    } else if s.has_table(t) {
        v.extend(set_param(s, "account_edi_proxy_client.demo", "'True'"));
    }
    if s.has_column("ir_module_module", "state") {
        v.push("UPDATE ir_config_parameter SET value = 'demo' WHERE key = 'account_peppol.edi.mode' AND value <> 'demo'".into());
        let mut ins = set_param(s, "account_peppol.edi.mode", "'demo'");
        if let Some(insert) = ins.pop() {
            v.push(format!(
                "{insert} AND EXISTS (SELECT 1 FROM ir_module_module WHERE name = 'account_peppol' AND state = 'installed')"
            ));
        }
    }
    v
}

fn calendar_sync(s: &Schema) -> Vec<String> {
    const TOKENS: [&str; 16] = [
        "calendar_rtoken",
        "calendar_token",
        "calendar_token_validity",
        "calendar_sync_token",
        "google_calendar_rtoken",
        "google_calendar_token",
        "google_calendar_token_validity",
        "google_calendar_sync_token",
        "microsoft_calendar_rtoken",
        "microsoft_calendar_token",
        "microsoft_calendar_token_validity",
        "microsoft_calendar_sync_token",
        "google_calendar_cal_id",
        "microsoft_last_sync_date",
        "google_calendar_last_sync_date",
        "microsoft_calendar_sync_token_validity",
    ];
    const STOPPED: [&str; 3] = [
        "synchronization_stopped",
        "google_synchronization_stopped",
        "microsoft_synchronization_stopped",
    ];
    let mut v = Vec::new();
    for t in [
        "google_calendar_credentials",
        "microsoft_calendar_credentials",
        "res_users_settings",
        "res_users",
    ] {
        let nulls: Vec<&str> = TOKENS
            .iter()
            .copied()
            .filter(|c| s.has_column(t, c))
            .collect();
        let stops: Vec<&str> = STOPPED
            .iter()
            .copied()
            .filter(|c| s.has_column(t, c))
            .collect();
        if nulls.is_empty() && stops.is_empty() {
            continue;
        }
        let mut set: Vec<String> = nulls.iter().map(|c| format!("{c} = NULL")).collect();
        set.extend(stops.iter().map(|c| format!("{c} = true")));
        let mut any: Vec<String> = nulls.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        any.extend(stops.iter().map(|c| format!("{c} IS NOT true")));
        // Users' rows only matter where they hold a token.
        if t == "res_users" || t == "res_users_settings" {
            if nulls.is_empty() {
                continue;
            }
            let any_token = nulls
                .iter()
                .map(|c| format!("{c} IS NOT NULL"))
                .collect::<Vec<_>>()
                .join(" OR ");
            v.push(format!(
                "UPDATE {t} SET {} WHERE {any_token}",
                set.join(", ")
            ));
        } else {
            v.push(format!(
                "UPDATE {t} SET {} WHERE {}",
                set.join(", "),
                any.join(" OR ")
            ));
        }
    }
    v
}

fn iap(s: &Schema) -> Vec<String> {
    if s.has_column("iap_account", "account_token") {
        vec![
            "UPDATE iap_account SET account_token = account_token || '+disabled' \
              WHERE account_token IS NOT NULL AND account_token NOT LIKE '%+disabled'"
                .into(),
        ]
    } else {
        vec![]
    }
}

fn oauth(s: &Schema) -> Vec<String> {
    if s.has_column("auth_oauth_provider", "enabled") {
        vec!["UPDATE auth_oauth_provider SET enabled = false WHERE enabled IS NOT false".into()]
    } else {
        vec![]
    }
}

fn web_push(s: &Schema) -> Vec<String> {
    let mut v: Vec<String> = [
        "mail_notification_web_push",
        "mail_partner_device",
        "mail_push",
        "mail_push_device",
    ]
    .into_iter()
    .filter(|t| s.has_table(t))
    .map(|t| format!("DELETE FROM {t}"))
    .collect();
    if s.has_column("ir_config_parameter", "key") {
        v.push(
            "DELETE FROM ir_config_parameter WHERE key IN \
             ('mail.web_push_vapid_private_key', 'mail.web_push_vapid_public_key', 'mail.sfu_server_key')"
                .into(),
        );
    }
    v
}

fn bank_sync(s: &Schema) -> Vec<String> {
    let t = "account_online_link";
    let mut set = Vec::new();
    let mut any = Vec::new();
    if s.has_column(t, "auto_sync") {
        set.push("auto_sync = false".to_string());
        any.push("auto_sync IS NOT false".to_string());
    }
    for c in ["access_token", "refresh_token", "provider_data"] {
        if s.has_column(t, c) {
            set.push(format!("{c} = NULL"));
            any.push(format!("{c} IS NOT NULL"));
        }
    }
    if s.has_column(t, "state") {
        set.push("state = 'disconnected'".into());
        any.push("state IS DISTINCT FROM 'disconnected'".into());
    }
    if set.is_empty() {
        return vec![];
    }
    vec![format!(
        "UPDATE {t} SET {} WHERE {}",
        set.join(", "),
        any.join(" OR ")
    )]
}

fn statements(name: &str, s: &Schema) -> Vec<String> {
    match name {
        "outgoing_mail" => outgoing_mail(s),
        "incoming_mail" => incoming_mail(s),
        "crons" => crons(s),
        "flag" => flag(s),
        "identity" => identity(s),
        "banner" => banner(s),
        "website" => website(s),
        "webhooks" => webhooks(s),
        "payment" => payment(s),
        "carriers" => carriers(s),
        "edi" => edi(s),
        "calendar_sync" => calendar_sync(s),
        "iap" => iap(s),
        "oauth" => oauth(s),
        "web_push" => web_push(s),
        "bank_sync" => bank_sync(s),
        _ => vec![],
    }
}

pub fn check_skips(opts: &Options) -> Result<(), NeutralizeError> {
    match opts
        .skip
        .iter()
        .find(|s| !ACTIONS.iter().any(|(a, _)| a == s))
    {
        Some(bad) => Err(NeutralizeError::UnknownSkip(bad.clone())),
        None => Ok(()),
    }
}

/// Runs every action in one transaction and commits only if all succeed.
pub async fn neutralize(client: &mut Client, opts: &Options) -> Result<Report, NeutralizeError> {
    check_skips(opts)?;
    let custom: Vec<(String, String)> = opts
        .extra_sql
        .iter()
        .map(|p| {
            let text = std::fs::read(p).map_err(|e| NeutralizeError::Custom {
                path: p.clone(),
                detail: e.to_string(),
            })?;
            let text = String::from_utf8(text).map_err(|_| NeutralizeError::Custom {
                path: p.clone(),
                detail: "not UTF-8 text".into(),
            })?;
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((format!("custom:{name}"), text))
        })
        .collect::<Result<_, NeutralizeError>>()?;
    let tx = client.transaction().await?;
    let schema = Schema::load(&tx).await?;
    let mut report = Report::default();
    for (name, _) in ACTIONS {
        if opts.skip.iter().any(|s| s == name) {
            continue;
        }
        let stmts = statements(name, &schema);
        if stmts.is_empty() {
            continue;
        }
        let mut rows = 0;
        for sql in stmts {
            rows += tx
                .execute(sql.as_str(), &[])
                .await
                .map_err(|source| NeutralizeError::Sql {
                    action: name.to_string(),
                    source,
                })?;
        }
        report.0.insert(name.to_string(), Some(rows));
    }
    for (name, sql) in custom {
        tx.batch_execute(&sql)
            .await
            .map_err(|source| NeutralizeError::Sql {
                action: name.clone(),
                source,
            })?;
        report.0.insert(name, None);
    }
    tx.commit().await?;
    Ok(report)
}

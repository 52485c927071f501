//! Neutralization of a test copy (docs/DESIGN.md, "What a neutralized test copy
//! has"): one transaction running the rules of the installed modules (data:
//! `neutralize_rules`, `assets/neutralize/`),
//! each guarded by the existence of the tables and columns it touches and
//! counting the rows it changed, then the users' own SQL. Idempotent, so it
//! runs before and after the plan.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;
use tokio_postgres::{Client, GenericClient};

use super::neutralize_rules::{self as rules, LoadedRule, Postcondition};
use super::schema::Schema;
use super::version::Series;

pub const DUMMY_MAIL_SERVER: &str = "neutralization - disable emails";
pub const BASE_URL: &str = "http://localhost:8069";
pub const MAIL_DOMAIN: &str = "localhost";
pub const ROBOTS: &str = "User-agent: *\nDisallow: /";
/// `.invalid` never resolves (RFC 2606): a webhook there cannot reach anyone.
pub const WEBHOOK_URL: &str = "http://neutralized.invalid/";

#[derive(Debug, Error)]
pub enum NeutralizeError {
    #[error("neutralize action {action}: {}", crate::pg::db_message(.source))]
    Sql {
        action: String,
        source: tokio_postgres::Error,
    },
    #[error("custom neutralization SQL {path}: {detail}")]
    Custom { path: PathBuf, detail: String },
    #[error("neutralization rules {0}")]
    Rules(String),
    #[error(
        "unknown neutralize rule or module {0:?} in [neutralize] skip (known: the names in assets/neutralize/*.toml, README \"Neutralization rules\")"
    )]
    UnknownSkip(String),
    #[error("neutralize: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rule names (e.g. `crons`, `payment`) or module names to leave out.
    pub skip: Vec<String>,
    pub extra_sql: Vec<PathBuf>,
    /// Users' rules files, in the built-in format.
    pub extra_rules: Vec<PathBuf>,
}

/// Rows changed per rule name (all modules' rules of that name together);
/// `None` for custom SQL whose count is unknown.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Report(pub BTreeMap<String, Option<u64>>);

impl Report {
    pub fn total(&self) -> u64 {
        self.0.values().flatten().sum()
    }
}

/// One rule that ran, with the rows it changed.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RuleRows {
    pub rule: String,
    pub reason: String,
    /// `None` for custom SQL.
    pub rows: Option<u64>,
}

/// What one module's rules changed.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ModuleChanges {
    pub module: String,
    pub rows: u64,
    pub rules: Vec<RuleRows>,
}

/// What a job records beside the flat report: the changes of both passes by
/// module, and notes such as modules without rules for the series yet.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct ByModule {
    #[serde(default)]
    pub neutralized_by_module: Vec<ModuleChanges>,
    #[serde(default)]
    pub neutralized_again_by_module: Vec<ModuleChanges>,
    #[serde(default)]
    pub neutralize_notes: Vec<String>,
}

/// The whole result: the flat report (kept for its readers), the same grouped by
/// module, notes (modules whose rules predate the database's series), and the
/// post-conditions verify checks.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub report: Report,
    pub modules: Vec<ModuleChanges>,
    pub notes: Vec<String>,
    pub postconditions: Vec<Postcondition>,
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

/// Stays code, not data: it finds its columns by their names in the schema, so
/// that providers no rules file knows (third-party modules) lose their live keys too.
fn payment_secrets(s: &Schema) -> Vec<String> {
    let Some(t) = ["payment_provider", "payment_acquirer"]
        .into_iter()
        .find(|t| s.has_column(t, "state"))
    else {
        return vec![];
    };
    let secrets = secret_columns(s, t);
    if secrets.is_empty() {
        return vec![];
    }
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
    vec![format!(
        "UPDATE {t} SET {set} WHERE state <> 'test' AND ({any})"
    )]
}

pub const AUTOVACUUM_SQL: &str = "SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job'";

/// Built-in rules then the users' files.
pub fn load_rules(opts: &Options) -> Result<Vec<LoadedRule>, NeutralizeError> {
    let mut all = rules::builtin();
    for p in &opts.extra_rules {
        let text = std::fs::read_to_string(p)
            .map_err(|e| NeutralizeError::Rules(format!("{}: {e}", p.display())))?;
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.extend(
            rules::parse_file(&p.display().to_string(), &stem, &text)
                .map_err(NeutralizeError::Rules)?,
        );
    }
    Ok(all)
}

/// Names `[neutralize] skip` accepts: rule names and module names.
pub fn known_names(all: &[LoadedRule]) -> BTreeSet<String> {
    all.iter()
        .flat_map(|r| [r.rule.name.clone(), r.module.clone()])
        .chain(["payment".to_string()])
        .collect()
}

pub fn check_skips(opts: &Options) -> Result<(), NeutralizeError> {
    let known = known_names(&load_rules(opts)?);
    match opts.skip.iter().find(|s| !known.contains(*s)) {
        Some(bad) => Err(NeutralizeError::UnknownSkip(bad.clone())),
        None => Ok(()),
    }
}

/// Modules Odoo counts as present (its own neutralize takes the same states).
async fn installed_modules<C: GenericClient>(
    c: &C,
) -> Result<BTreeSet<String>, tokio_postgres::Error> {
    Ok(c
        .query(
            "SELECT name::text FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

async fn db_series<C: GenericClient>(c: &C) -> Result<Option<Series>, tokio_postgres::Error> {
    let v: Option<String> = c
        .query_opt(
            "SELECT latest_version::text FROM ir_module_module WHERE name = 'base'",
            &[],
        )
        .await?
        .and_then(|r| r.get(0));
    Ok(v.as_deref().and_then(Series::from_module_version))
}

/// The rules that run on this database, in order, with their statements.
pub struct Selected<'a> {
    pub rule: &'a LoadedRule,
    pub statements: Vec<String>,
}

pub fn select<'a>(
    all: &'a [LoadedRule],
    installed: &BTreeSet<String>,
    series: Option<Series>,
    schema: &Schema,
    skip: &[String],
) -> Vec<Selected<'a>> {
    all.iter()
        .filter(|r| installed.contains(&r.module))
        .filter(|r| !skip.iter().any(|s| *s == r.rule.name || *s == r.module))
        .filter(|r| series.is_none_or(|s| r.applies_to(s)))
        .filter(|r| r.guard(schema))
        .map(|r| Selected {
            rule: r,
            statements: r.statements(schema),
        })
        .collect()
}

/// Installed modules with rules whose newest checked series is older than the database's.
fn unchecked_modules(sel: &[Selected<'_>], series: Option<Series>) -> Vec<String> {
    let Some(s) = series else { return vec![] };
    let mut out: BTreeSet<String> = BTreeSet::new();
    for x in sel {
        if x.rule.checked.is_some_and(|c| Series::new(s.major, 0) > c) {
            out.insert(x.rule.module.clone());
        }
    }
    out.into_iter().collect()
}

/// Runs every rule of the installed modules in one transaction and commits only if all succeed.
pub async fn neutralize(client: &mut Client, opts: &Options) -> Result<Outcome, NeutralizeError> {
    let all = load_rules(opts)?;
    let known = known_names(&all);
    if let Some(bad) = opts.skip.iter().find(|s| !known.contains(*s)) {
        return Err(NeutralizeError::UnknownSkip(bad.clone()));
    }
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
    let (installed, series) = if schema.has_column("ir_module_module", "state") {
        (installed_modules(&tx).await?, db_series(&tx).await?)
    } else {
        (BTreeSet::from(["base".to_string()]), None)
    };
    let selected = select(&all, &installed, series, &schema, &opts.skip);
    let mut out = Outcome::default();
    let mut by_module: BTreeMap<String, ModuleChanges> = BTreeMap::new();
    let mut record =
        |out: &mut Outcome, module: &str, rule: &str, reason: &str, rows: Option<u64>| {
            let flat = out.report.0.entry(rule.to_string()).or_insert(Some(0));
            *flat = match (*flat, rows) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            let m = by_module
                .entry(module.to_string())
                .or_insert_with(|| ModuleChanges {
                    module: module.to_string(),
                    rows: 0,
                    rules: Vec::new(),
                });
            m.rows += rows.unwrap_or(0);
            m.rules.push(RuleRows {
                rule: rule.to_string(),
                reason: reason.to_string(),
                rows,
            });
        };
    for sel in &selected {
        let mut rows = 0;
        for sql in &sel.statements {
            rows += tx
                .execute(sql.as_str(), &[])
                .await
                .map_err(|source| NeutralizeError::Sql {
                    action: format!("{}/{}", sel.rule.module, sel.rule.rule.name),
                    source,
                })?;
        }
        let r = &sel.rule.rule;
        record(&mut out, &sel.rule.module, &r.name, &r.reason, Some(rows));
        if let Some(p) = sel.rule.postcondition(&schema) {
            out.postconditions.push(p);
        }
    }
    if installed.contains("payment") && !opts.skip.iter().any(|s| s == "payment") {
        let mut rows = 0;
        for sql in payment_secrets(&schema) {
            rows += tx
                .execute(sql.as_str(), &[])
                .await
                .map_err(|source| NeutralizeError::Sql {
                    action: "payment/payment".into(),
                    source,
                })?;
        }
        record(
            &mut out,
            "payment",
            "payment",
            "credential-looking columns of live providers cleared (providers no rules file knows too)",
            Some(rows),
        );
    }
    for (name, sql) in custom {
        tx.batch_execute(&sql)
            .await
            .map_err(|source| NeutralizeError::Sql {
                action: name.clone(),
                source,
            })?;
        record(&mut out, "custom", &name, "your extra_sql file", None);
    }
    tx.commit().await?;
    if let Some(s) = series {
        let unchecked = unchecked_modules(&selected, series);
        if !unchecked.is_empty() {
            out.notes.push(format!(
                "no {} rules yet for {} installed module(s), their newest rules applied where the schema matches: {}",
                Series::new(s.major, 0),
                unchecked.len(),
                unchecked.join(", ")
            ));
        }
    }
    out.modules = by_module.into_values().collect();
    Ok(out)
}

/// The report's cells grouped by module (`module  rows +after`), for screens:
/// only modules whose rules changed something.
pub fn module_cells(
    first: &[ModuleChanges],
    again: &[ModuleChanges],
) -> Vec<(String, u64, u64, bool)> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    names.extend(first.iter().map(|m| m.module.as_str()));
    names.extend(again.iter().map(|m| m.module.as_str()));
    let find = |v: &[ModuleChanges], n: &str| {
        v.iter()
            .find(|m| m.module == n)
            .map(|m| m.rows)
            .unwrap_or(0)
    };
    names
        .into_iter()
        .filter_map(|n| {
            let custom = first
                .iter()
                .chain(again)
                .any(|m| m.module == n && m.rules.iter().any(|r| r.rows.is_none()));
            let (a, b) = (find(first, n), find(again, n));
            (a > 0 || b > 0 || custom).then(|| (n.to_string(), a, b, custom))
        })
        .collect()
}

//! Compares an upgraded copy with production (docs/DESIGN.md, steps 2 and 8): records
//! per business model, accounting sums to the cent, stock, sequences, views,
//! modules, custom fields, files, languages and currencies.
//!
//! Each database is read once, in one read-only snapshot, into a [`Snapshot`]
//! of server-side aggregates; two snapshots are then compared row by row. A
//! job takes production's snapshot from its fresh copy, before anything
//! changes it, so a frozen (unreachable) production needs no connection.

mod diff;
mod fields;
pub mod files;
pub mod modules;
pub mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio_postgres::Client;

use super::schema::Schema;
pub use diff::compare;

/// Ids listed per group at most; beyond, only counts are compared.
const ISLANDS_CAP: usize = 20_000;
/// Differing rows kept per check (the rest only counted).
pub const MAX_ROWS: usize = 50;

#[derive(Debug, Error)]
pub enum CompareError {
    #[error("PostgreSQL on {db:?}: {}", crate::pg::db_message(.source))]
    Pg {
        db: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// One database's side of every check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub db: String,
    pub taken_at: DateTime<Utc>,
    /// Base version (e.g. 17.0.1.3), when readable.
    #[serde(default)]
    pub version: Option<String>,
    /// Row checks, by check name.
    pub rows: BTreeMap<String, Side>,
    /// The basis of a row check's values, where its query names one.
    #[serde(default)]
    pub bases: BTreeMap<String, String>,
    /// Records per business model: by "model group" key.
    pub records: BTreeMap<String, Group>,
    /// Every module and its state.
    #[serde(default)]
    pub modules: BTreeMap<String, String>,
    /// Renames and merges of modules the upgrade's log records (set on the copy's side).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub module_moves_logged: BTreeMap<String, modules::Moved>,
    /// Custom fields: "model.field" → non-empty values.
    pub fields: BTreeMap<String, i64>,
    /// Stored attachments: id → file name in the filestore and checksum.
    pub attachments: BTreeMap<i64, Attachment>,
    /// The filestore this database's files are read from, when known.
    #[serde(default)]
    pub filestore: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Side {
    /// No query of the check applies to this series.
    Absent,
    Rows(BTreeMap<String, Row>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub label: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub count: i64,
    /// Runs of consecutive ids (first, last); None when too scattered to keep.
    pub ranges: Option<Vec<(i64, i64)>>,
    /// Sum of ids, as text (no overflow), to tell the same count with other ids.
    #[serde(default)]
    pub id_sum: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub store_fname: String,
    pub checksum: Option<String>,
    pub name: String,
    /// A binary field of a record a module's data owns (menu and payment
    /// icons, flags): the new version's data may rewrite its file.
    #[serde(default)]
    pub module_data: bool,
}

/// A check's result from its difference lines (none: it holds).
fn result(
    name: &str,
    area: &str,
    lines: Vec<String>,
    summary_bad: String,
    summary_ok: String,
) -> CheckResult {
    let ok = lines.is_empty();
    let more = lines.len().saturating_sub(MAX_ROWS);
    CheckResult {
        name: name.to_string(),
        area: area.to_string(),
        ok,
        summary: if ok { summary_ok } else { summary_bad },
        differences: lines.into_iter().take(MAX_ROWS).collect(),
        more,
        notes: Vec::new(),
        skipped: false,
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub area: String,
    pub ok: bool,
    pub summary: String,
    /// One line per differing row, at most [`MAX_ROWS`].
    pub differences: Vec<String>,
    /// Differing rows beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// What changed without being a loss (modules the upgrade installed…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Not run here: no such data, or not comparable between the two series.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub production: String,
    pub copy: String,
    pub at: DateTime<Utc>,
    pub seconds: f64,
    /// When production's side was read (a job reads it from the fresh copy).
    pub production_read_at: DateTime<Utc>,
    pub checks: Vec<CheckResult>,
}

impl Comparison {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// Differing rows in all checks (listed or not).
    pub fn difference_count(&self) -> usize {
        self.failed().map(|c| c.differences.len() + c.more).sum()
    }

    /// One line: "all 14 checks hold" or "3 of 14 checks differ (42 rows)".
    pub fn summary(&self) -> String {
        let n = self.checks.len();
        let bad = self.failed().count();
        if bad == 0 {
            format!("all {n} checks hold")
        } else {
            format!(
                "{bad} of {n} checks differ ({} row(s))",
                self.difference_count()
            )
        }
    }
}

fn pg(db: &str) -> impl Fn(tokio_postgres::Error) -> CompareError + '_ {
    move |source| CompareError::Pg {
        db: db.to_string(),
        source,
    }
}

/// Reads one database's side of every check, in one read-only snapshot.
/// `filestore` is the folder holding its files (`<data_dir>/filestore/<db>`).
pub async fn snapshot(
    client: &Client,
    db: &str,
    filestore: Option<PathBuf>,
) -> Result<Snapshot, CompareError> {
    snapshot_on(&[client], db, filestore).await
}

/// [`snapshot`] read on several sessions of the same database at once, all
/// in the first one's snapshot (exported): the checks are shared out among
/// them. A server that cannot export one is read on the first session alone.
pub async fn snapshot_on(
    clients: &[&Client],
    db: &str,
    filestore: Option<PathBuf>,
) -> Result<Snapshot, CompareError> {
    let e = pg(db);
    let Some(first) = clients.first() else {
        return Err(CompareError::Other(format!("no session to read {db:?} on")));
    };
    use crate::pg::server::{export_snapshot, join_snapshot};
    let exported = match clients.len() {
        1 => None,
        _ => export_snapshot(first).await,
    };
    if exported.is_none() {
        // One session (or a server that cannot export one): it reads alone.
        first
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(&e)?;
    }
    let mut joined = vec![*first];
    if let Some(id) = exported {
        for c in &clients[1..] {
            match join_snapshot(c, &id).await {
                Ok(()) => joined.push(*c),
                Err(_) => {
                    let _ = c.batch_execute("ROLLBACK").await;
                }
            }
        }
    }
    let result = read(&joined, db, filestore).await;
    // Read only: nothing to keep; a failed transaction is rolled back alike.
    for c in &joined {
        let _ = c.batch_execute("ROLLBACK").await;
    }
    result
}

/// One piece of a snapshot, read on whichever session is free.
enum Task<'r> {
    Records(&'r rules::Records),
    Check(&'r rules::RowCheck),
    Attachments,
    Modules,
    Fields,
}

enum Part {
    Records(Vec<(String, Group)>),
    Check {
        name: String,
        basis: Option<String>,
        side: Side,
    },
    Attachments(BTreeMap<i64, Attachment>),
    Modules(BTreeMap<String, String>),
    Fields(BTreeMap<String, i64>),
}

async fn read(
    clients: &[&Client],
    db: &str,
    filestore: Option<PathBuf>,
) -> Result<Snapshot, CompareError> {
    let e = pg(db);
    let client = clients[0];
    let schema = Schema::load(client).await.map_err(&e)?;
    let rules = rules::rules();
    let version = if schema.has_column("ir_module_module", "latest_version") {
        client
            .query_opt(
                "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
                &[],
            )
            .await
            .map_err(&e)?
            .and_then(|r| r.get::<_, Option<String>>(0))
    } else {
        None
    };
    // The records' islands and the row checks are most of the time: first,
    // so that no session is left with a long one at the end.
    let mut queue = std::collections::VecDeque::new();
    let mut seen_models = std::collections::HashSet::new();
    for rec in rules.records.iter().filter(|r| r.applies(&schema)) {
        if seen_models.insert(rec.model.clone()) {
            queue.push_back(Task::Records(rec));
        }
    }
    queue.extend(rules.check.iter().map(Task::Check));
    queue.extend([Task::Attachments, Task::Modules, Task::Fields]);
    let queue = std::sync::Mutex::new(queue);
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    };
    let schema = &schema;
    let workers = clients.iter().map(|c| async {
        let mut parts = Vec::new();
        while let Some(task) = next() {
            parts.push(run(c, schema, task).await.map_err(&e)?);
        }
        Ok::<_, CompareError>(parts)
    });
    let mut snap = Snapshot {
        db: db.to_string(),
        taken_at: Utc::now(),
        version,
        rows: BTreeMap::new(),
        bases: BTreeMap::new(),
        records: BTreeMap::new(),
        modules: BTreeMap::new(),
        module_moves_logged: BTreeMap::new(),
        fields: BTreeMap::new(),
        attachments: BTreeMap::new(),
        filestore,
    };
    for parts in futures_util::future::join_all(workers).await {
        for part in parts? {
            match part {
                Part::Records(groups) => snap.records.extend(groups),
                Part::Check { name, basis, side } => {
                    if let Some(b) = basis {
                        snap.bases.insert(name.clone(), b);
                    }
                    snap.rows.insert(name, side);
                }
                Part::Attachments(a) => snap.attachments = a,
                Part::Modules(m) => snap.modules = m,
                Part::Fields(f) => snap.fields = f,
            }
        }
    }
    Ok(snap)
}

async fn run(
    client: &Client,
    schema: &Schema,
    task: Task<'_>,
) -> Result<Part, tokio_postgres::Error> {
    Ok(match task {
        Task::Records(rec) => Part::Records(records(client, rec).await?),
        Task::Check(check) => {
            let mut basis = None;
            let mut found = false;
            let mut out = BTreeMap::new();
            for q in check.query.iter().filter(|q| q.applies(schema)) {
                found = true;
                if let Some(b) = &q.basis {
                    basis = Some(b.clone());
                }
                let sql = q.sql_for(schema);
                for r in client.query(sql.as_str(), &[]).await? {
                    let key: Option<String> = r.get(0);
                    let label: Option<String> = r.get(1);
                    let values = (2..r.len())
                        .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                        .collect();
                    let key = key.unwrap_or_default();
                    out.insert(
                        key.clone(),
                        Row {
                            label: label.unwrap_or(key),
                            values,
                        },
                    );
                }
            }
            Part::Check {
                name: check.name.clone(),
                basis,
                side: if found { Side::Rows(out) } else { Side::Absent },
            }
        }
        Task::Attachments => Part::Attachments(files::attachments(client, schema).await?),
        Task::Modules => Part::Modules(modules::read(client, schema).await?),
        Task::Fields => Part::Fields(fields::custom_fields(client, schema).await?),
    })
}

/// One model's records, by group: the islands of ids, or only counts when
/// they are too scattered.
async fn records(
    client: &Client,
    rec: &rules::Records,
) -> Result<Vec<(String, Group)>, tokio_postgres::Error> {
    let islands = client
        .query(rec.islands_sql(ISLANDS_CAP).as_str(), &[])
        .await?;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    if islands.len() <= ISLANDS_CAP {
        for r in &islands {
            let g = groups.entry(r.get(0)).or_default();
            g.count += r.get::<_, i64>(3);
            g.ranges
                .get_or_insert_with(Vec::new)
                .push((r.get(1), r.get(2)));
        }
        for g in groups.values_mut() {
            if let Some(r) = g.ranges.as_mut() {
                r.sort_unstable();
                g.id_sum = r
                    .iter()
                    .map(|(a, b)| (*a as i128 + *b as i128) * (*b as i128 - *a as i128 + 1) / 2)
                    .sum::<i128>()
                    .to_string();
            }
        }
    } else {
        for r in client.query(rec.counts_sql().as_str(), &[]).await? {
            groups.insert(
                r.get(0),
                Group {
                    count: r.get(1),
                    ranges: None,
                    id_sum: r.get(2),
                },
            );
        }
    }
    Ok(groups
        .into_iter()
        .map(|(g, v)| {
            let key = if g.is_empty() {
                rec.model.clone()
            } else {
                format!("{} {g}", rec.model)
            };
            (key, v)
        })
        .collect())
}

/// The statements a snapshot of this database runs (but the custom fields'
/// per-field counts): what the benchmark runs bare in psql to compare with.
pub fn statements(schema: &Schema) -> Vec<String> {
    let rules = rules::rules();
    let mut v: Vec<String> = rules
        .check
        .iter()
        .flat_map(|c| c.query.iter())
        .filter(|q| q.applies(schema))
        .map(|q| q.sql_for(schema))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for rec in rules.records.iter().filter(|r| r.applies(schema)) {
        if seen.insert(rec.model.clone()) {
            v.push(rec.islands_sql(ISLANDS_CAP));
        }
    }
    v.extend(files::sql(schema));
    if schema.has_column("ir_module_module", "state") {
        v.push("SELECT name::text, coalesce(state::text, '') FROM ir_module_module".into());
    }
    v
}

/// The model names whose records are compared (for the README and the checklist).
pub fn record_models() -> Vec<String> {
    let mut m: Vec<String> = rules::rules()
        .records
        .into_iter()
        .map(|r| r.model)
        .collect();
    m.dedup();
    m
}

/// Every check's (name, area), in the order results are given.
pub fn check_names() -> Vec<(String, String)> {
    let r = rules::rules();
    let mut v = vec![(
        "records per business model".to_string(),
        "records".to_string(),
    )];
    v.extend(r.check.iter().map(|c| (c.name.clone(), c.area.clone())));
    v.push((modules::NAME.to_string(), modules::AREA.to_string()));
    v.push((fields::NAME.to_string(), "customizations".to_string()));
    v.push((files::NAME.to_string(), "files".to_string()));
    v
}

/// Both databases read at once, on two connections, then compared.
pub async fn compare_clients(
    prod: (&Client, &str, Option<PathBuf>),
    copy: (&Client, &str, Option<PathBuf>),
) -> Result<Comparison, CompareError> {
    let t0 = std::time::Instant::now();
    let (a, b) = tokio::join!(
        snapshot(prod.0, prod.1, prod.2),
        snapshot(copy.0, copy.1, copy.2)
    );
    let (a, b) = (a?, b?);
    Ok(compare(&a, &b, t0).await)
}

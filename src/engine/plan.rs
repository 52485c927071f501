//! Upgrade plans (TOML): hops of steps, `sql` folders applied file by file with a
//! journal in the working copy, and `command` steps run as child processes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::emit::{Emitter, crash_point};
use super::sqlfile;
use crate::config::one_line;
use crate::odoo::inspect;
use crate::odoo::version::Series;
use crate::pg::conn::ConnInfo;

#[derive(Debug, Error)]
pub enum PlanError {
    #[error("plan {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error(
        "plan step {step:?}: SQL file {file} failed at line {line}: {message} (nothing of this file was applied; fix it and run test again)"
    )]
    SqlFailed {
        step: String,
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "plan step {step:?}: {file} line {line}: {command} is not allowed in a plan SQL file (each file runs as one transaction, applied whole or not at all): remove it"
    )]
    TransactionControl {
        step: String,
        file: PathBuf,
        line: usize,
        command: &'static str,
    },
    #[error(
        "plan step {step:?}: {file} changed since it was applied (sha256 {old}…, now {new}…): restore it, or discard the test copy (--discard) to start over"
    )]
    Changed {
        step: String,
        file: PathBuf,
        old: String,
        new: String,
    },
    #[error("plan step {step:?}: {detail}")]
    Command { step: String, detail: String },
    #[error("plan hop {from} → {to}: the database is at {actual}, not {from}")]
    WrongSeries {
        from: String,
        to: String,
        actual: String,
    },
    #[error(
        "OpenUpgrade hop {from} → {to} was started on {db:?} by an earlier run and did not finish: OpenUpgrade cannot resume a half-done hop; run the command again with --discard to start from a fresh copy"
    )]
    HalfDone {
        from: String,
        to: String,
        db: String,
    },
    #[error(
        "OpenUpgrade hop {from} → {to} failed: {verdict}; the copy {db:?} is left as it is for diagnosis (hop log: {log}); fix the cause, then run the command again with --discard for a fresh copy (a half-done hop cannot be resumed)"
    )]
    HopFailed {
        from: String,
        to: String,
        verdict: String,
        db: String,
        log: String,
    },
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Import(#[from] super::import::ImportError),
    #[error(transparent)]
    Inspect(#[from] inspect::InspectError),
    #[error(transparent)]
    Conn(#[from] crate::pg::conn::ConnError),
    #[error("PostgreSQL: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

/// The plan path a job of `--engine odoo-platform` records.
pub const PLATFORM_PLAN: &str = "odoo-platform";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    #[serde(rename = "hop", default)]
    pub hops: Vec<Hop>,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hop {
    pub from: Option<String>,
    pub to: String,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub sql: Option<PathBuf>,
    pub command: Option<Vec<String>>,
    pub import: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Sql {
        dir: PathBuf,
        files: Vec<PathBuf>,
    },
    Command {
        argv: Vec<String>,
    },
    /// An upgraded database produced elsewhere replaces the working copy.
    Import {
        path: PathBuf,
    },
    /// One OpenUpgrade hop (derived, not written).
    OpenUpgrade(Box<super::openupgrade::HopSpec>),
}

#[derive(Debug, Clone)]
pub struct ReadyStep {
    pub name: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub struct ReadyHop {
    pub from: Option<Series>,
    pub to: Series,
    pub steps: Vec<ReadyStep>,
}

/// A plan checked against a source and target: every folder, file and program exists.
#[derive(Debug, Clone)]
pub struct ReadyPlan {
    pub name: String,
    pub path: PathBuf,
    pub hops: Vec<ReadyHop>,
}

impl ReadyPlan {
    /// A one-step plan that imports an upgraded dump (`production --import`).
    pub fn import(path: &Path, from: Series, to: Series) -> Result<ReadyPlan, PlanError> {
        if !path.exists() {
            return Err(PlanError::Invalid {
                path: path.to_path_buf(),
                detail: "does not exist".into(),
            });
        }
        Ok(ReadyPlan {
            name: format!("import {}", path.display()),
            path: path.to_path_buf(),
            hops: vec![ReadyHop {
                from: Some(from),
                to,
                steps: vec![ReadyStep {
                    name: "import".into(),
                    action: Action::Import {
                        path: path.to_path_buf(),
                    },
                }],
            }],
        })
    }

    /// The plan the OpenUpgrade engine derives: one hop per major.
    pub fn openupgrade(hops: Vec<super::openupgrade::HopSpec>) -> ReadyPlan {
        let name = match (hops.first(), hops.last()) {
            (Some(f), Some(l)) => format!("OpenUpgrade {} → {}", f.from, l.to),
            _ => "OpenUpgrade".into(),
        };
        ReadyPlan {
            name,
            path: PathBuf::from("openupgrade"),
            hops: hops
                .into_iter()
                .map(|h| ReadyHop {
                    from: Some(h.from),
                    to: h.to,
                    steps: vec![ReadyStep {
                        name: "openupgrade".into(),
                        action: Action::OpenUpgrade(Box::new(h)),
                    }],
                })
                .collect(),
        }
    }

    /// Odoo's upgrade platform makes the upgrade: no local hop (the job runs
    /// the platform's steps instead of the plan).
    pub fn platform(to: Series) -> ReadyPlan {
        ReadyPlan {
            name: format!("Odoo's upgrade platform → {to}"),
            path: PathBuf::from(PLATFORM_PLAN),
            hops: Vec::new(),
        }
    }

    /// The derived hops, when this is an OpenUpgrade plan.
    pub fn openupgrade_hops(&self) -> Vec<super::openupgrade::HopSpec> {
        self.hops
            .iter()
            .flat_map(|h| &h.steps)
            .filter_map(|s| match &s.action {
                Action::OpenUpgrade(h) => Some((**h).clone()),
                _ => None,
            })
            .collect()
    }

    /// A command step uses `{data_dir}`: without a known data dir it could only
    /// fail after the copy was made, so preflight asks for it.
    pub fn needs_data_dir(&self) -> Option<&str> {
        self.hops
            .iter()
            .flat_map(|h| &h.steps)
            .find(|s| match &s.action {
                Action::Command { argv } => argv.iter().any(|a| a.contains("{data_dir}")),
                Action::OpenUpgrade(_) => true,
                _ => false,
            })
            .map(|s| s.name.as_str())
    }

    /// Files to import, to check before anything is touched.
    pub fn imports(&self) -> impl Iterator<Item = &Path> {
        self.hops
            .iter()
            .flat_map(|h| &h.steps)
            .filter_map(|s| match &s.action {
                Action::Import { path } => Some(path.as_path()),
                _ => None,
            })
    }

    pub fn unit_count(&self) -> usize {
        self.hops
            .iter()
            .flat_map(|h| &h.steps)
            .map(|s| match &s.action {
                Action::Sql { files, .. } => files.len(),
                Action::Command { .. } | Action::Import { .. } | Action::OpenUpgrade(_) => 1,
            })
            .sum::<usize>()
            .max(1)
    }
}

impl Plan {
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let invalid = |detail: String| PlanError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read: {e}")))?;
        let mut plan: Plan =
            toml::from_str(&text).map_err(|e| invalid(one_line(&e.to_string())))?;
        plan.path = path.to_path_buf();
        Ok(plan)
    }

    pub fn check(&self, source: Series, target: Series) -> Result<ReadyPlan, PlanError> {
        let invalid = |detail: String| PlanError::Invalid {
            path: self.path.clone(),
            detail,
        };
        let base = self.path.parent().unwrap_or(Path::new("."));
        if self.hops.is_empty() {
            return Err(invalid("no [[hop]]: a plan needs at least one hop".into()));
        }
        let mut at = source;
        let mut hops = Vec::new();
        for (i, hop) in self.hops.iter().enumerate() {
            let to: Series = hop
                .to
                .parse()
                .map_err(|e| invalid(format!("hop {}: to: {e}", i + 1)))?;
            let from = match &hop.from {
                Some(f) => Some(
                    f.parse::<Series>()
                        .map_err(|e| invalid(format!("hop {}: from: {e}", i + 1)))?,
                ),
                None => None,
            };
            if let Some(f) = from {
                if f != at {
                    return Err(invalid(format!(
                        "hop {} starts from {f} but the database is at {at} by then: the plan does not fit this database",
                        i + 1
                    )));
                }
            }
            if to <= at {
                return Err(invalid(format!(
                    "hop {} goes to {to}, which is not above {at}",
                    i + 1
                )));
            }
            if hop.steps.is_empty() {
                return Err(invalid(format!("hop {} → {to} has no [[hop.step]]", i + 1)));
            }
            let mut steps = Vec::new();
            for s in &hop.steps {
                let kinds = [s.sql.is_some(), s.command.is_some(), s.import.is_some()]
                    .iter()
                    .filter(|b| **b)
                    .count();
                if kinds != 1 {
                    return Err(invalid(format!(
                        "step {:?} needs exactly one of sql, command or import",
                        s.name
                    )));
                }
                let action = if let Some(dir) = &s.sql {
                    let dir = base.join(dir);
                    let files = sql_files(&dir).map_err(|e| {
                        invalid(format!(
                            "step {:?}: SQL folder {}: {e}",
                            s.name,
                            dir.display()
                        ))
                    })?;
                    for file in &files {
                        // Unreadable or not UTF-8: said when the file is run.
                        let Ok(text) = std::fs::read_to_string(file) else {
                            continue;
                        };
                        if let Some((line, command)) = sqlfile::find_transaction_control(&text) {
                            return Err(PlanError::TransactionControl {
                                step: s.name.clone(),
                                file: file.clone(),
                                line,
                                command,
                            });
                        }
                    }
                    Action::Sql { dir, files }
                } else if let Some(argv) = &s.command {
                    let prog = argv
                        .first()
                        .ok_or_else(|| invalid(format!("step {:?}: command is empty", s.name)))?;
                    let resolved = check_program(prog, base)
                        .map_err(|e| invalid(format!("step {:?}: {e}", s.name)))?;
                    let mut argv = argv.clone();
                    argv[0] = resolved.display().to_string();
                    Action::Command { argv }
                } else {
                    let path = s.import.as_ref().map(|p| base.join(p)).unwrap_or_default();
                    if !path.exists() {
                        return Err(invalid(format!(
                            "step {:?}: import {} does not exist",
                            s.name,
                            path.display()
                        )));
                    }
                    Action::Import { path }
                };
                steps.push(ReadyStep {
                    name: s.name.clone(),
                    action,
                });
            }
            hops.push(ReadyHop { from, to, steps });
            at = to;
        }
        if at != target {
            return Err(invalid(format!(
                "the plan ends at {at} but the target is {target}"
            )));
        }
        Ok(ReadyPlan {
            name: self.name.clone(),
            path: self.path.clone(),
            hops,
        })
    }
}

fn sql_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// Finds the program a command step runs (relative paths are relative to the plan).
pub(crate) fn check_program(prog: &str, base: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let candidate = if prog.contains('/') {
        let p = Path::new(prog);
        Some(if p.is_relative() {
            base.join(p)
        } else {
            p.to_path_buf()
        })
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(prog))
                .find(|p| p.is_file())
        })
    };
    match candidate {
        None => Err(format!("program {prog:?} not found on PATH")),
        Some(p) if !p.is_file() => Err(format!("program {} does not exist", p.display())),
        Some(p) => match std::fs::metadata(&p) {
            Ok(m) if m.permissions().mode() & 0o111 != 0 => {
                Ok(std::fs::canonicalize(&p).unwrap_or(p))
            }
            _ => Err(format!(
                "program {} is not executable (chmod +x)",
                p.display()
            )),
        },
    }
}

pub struct RunCtx<'a> {
    pub conn: &'a ConnInfo,
    pub db: &'a str,
    pub data_dir: Option<&'a Path>,
    pub emit: &'a Emitter,
    pub cancel: &'a CancellationToken,
    /// Where OpenUpgrade hops report how they went (also when they fail).
    pub outcomes: Option<&'a std::sync::Mutex<Vec<super::openupgrade::HopOutcome>>>,
    /// Hop logs are written to `<hop_log>-<to>.log`.
    pub hop_log: Option<&'a Path>,
}

const JOURNAL_DDL: &str = "CREATE SCHEMA IF NOT EXISTS upgrade_pilot; \
    CREATE TABLE IF NOT EXISTS upgrade_pilot.journal ( \
      hop text NOT NULL, step text NOT NULL, item text NOT NULL, sha256 text NOT NULL, \
      applied_at timestamptz NOT NULL DEFAULT now(), duration_ms bigint NOT NULL, \
      PRIMARY KEY (hop, step, item))";

async fn journaled(
    client: &Client,
    hop: &str,
    step: &str,
    item: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT sha256 FROM upgrade_pilot.journal WHERE hop = $1 AND step = $2 AND item = $3",
            &[&hop, &step, &item],
        )
        .await?
        .map(|r| r.get(0)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs the plan hop by hop. Applied SQL files and finished commands are in the
/// journal, so a second run continues where the first stopped.
pub async fn run(plan: &ReadyPlan, ctx: &RunCtx<'_>) -> Result<(), PlanError> {
    let mut client = ctx.conn.connect(ctx.db).await?;
    client.batch_execute(JOURNAL_DDL).await?;
    let total = plan.unit_count();
    let mut done_units = 0usize;
    for hop in &plan.hops {
        let hop_key = hop.to.to_string();
        let started: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM upgrade_pilot.journal WHERE hop = $1)",
                &[&hop_key],
            )
            .await?
            .get(0);
        if !started {
            if let Some(from) = hop.from {
                let (actual, _, _) = inspect::base_version(&client, ctx.db).await?;
                if actual != from {
                    if actual == hop.to {
                        ctx.emit
                            .log(format!("hop to {} already reached, skipped", hop.to));
                        continue;
                    }
                    return Err(PlanError::WrongSeries {
                        from: from.to_string(),
                        to: hop.to.to_string(),
                        actual: actual.to_string(),
                    });
                }
            }
        }
        ctx.emit.log(format!("hop → {}", hop.to));
        for step in &hop.steps {
            match &step.action {
                Action::Sql { files, .. } => {
                    for file in files {
                        if ctx.cancel.is_cancelled() {
                            return Err(PlanError::Cancelled);
                        }
                        let item = file
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let bytes = std::fs::read(file).map_err(|e| PlanError::SqlFailed {
                            step: step.name.clone(),
                            file: file.clone(),
                            line: 0,
                            message: e.to_string(),
                        })?;
                        let sha = sha256_hex(&bytes);
                        ctx.emit.fraction(
                            Some(done_units as f64 / total as f64),
                            format!("{} / {item}", step.name),
                        );
                        match journaled(&client, &hop_key, &step.name, &item).await? {
                            Some(old) if old == sha => {
                                done_units += 1;
                                continue;
                            }
                            Some(old) => {
                                return Err(PlanError::Changed {
                                    step: step.name.clone(),
                                    file: file.clone(),
                                    old: old[..12].into(),
                                    new: sha[..12].into(),
                                });
                            }
                            None => {}
                        }
                        let text = String::from_utf8(bytes).map_err(|e| {
                            let bad = e.utf8_error().valid_up_to();
                            PlanError::SqlFailed {
                                step: step.name.clone(),
                                file: file.clone(),
                                line: e.as_bytes()[..bad].iter().filter(|b| **b == b'\n').count()
                                    + 1,
                                message: format!("not UTF-8 text (byte {bad})"),
                            }
                        })?;
                        let statements = sqlfile::split(&text);
                        // Checked with the plan; checked again: the file may have changed since.
                        if let Some(st) = statements
                            .iter()
                            .find(|s| s.transaction_control().is_some())
                        {
                            return Err(PlanError::TransactionControl {
                                step: step.name.clone(),
                                file: file.clone(),
                                line: st.line,
                                command: st.transaction_control().unwrap_or("COMMIT"),
                            });
                        }
                        let t0 = Instant::now();
                        let server_cancel = client.cancel_token();
                        let tx = client.transaction().await?;
                        // Statement by statement, so that an error points at its
                        // line, but pipelined: all are sent at once and the
                        // answers read in order (one round trip, as one batch).
                        // After a failure the server refuses the rest of the
                        // transaction: the first error is the one.
                        let all = futures_util::future::join_all(
                            statements.iter().map(|st| tx.batch_execute(st.text)),
                        );
                        // A statement waiting on a lock (or just long) is
                        // cancelled on the server when the job is.
                        let ran = tokio::select! {
                            r = all => r,
                            _ = ctx.cancel.cancelled() => {
                                let _ = server_cancel.cancel_query(tokio_postgres::NoTls).await;
                                return Err(PlanError::Cancelled);
                            }
                        };
                        let failed = statements
                            .iter()
                            .zip(ran)
                            .find_map(|(st, r)| r.err().map(|e| (st, e)));
                        if let Some((st, e)) = failed {
                            let (line, message) = match e.as_db_error() {
                                Some(db) => {
                                    let pos = match db.position() {
                                        Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
                                            Some(*p as usize)
                                        }
                                        _ => None,
                                    };
                                    (st.line_at(pos), db.message().to_string())
                                }
                                None => (st.line, e.to_string()),
                            };
                            drop(tx);
                            ctx.emit
                                .log(format!("{item}: FAILED at line {line}: {message}"));
                            return Err(PlanError::SqlFailed {
                                step: step.name.clone(),
                                file: file.clone(),
                                line,
                                message,
                            });
                        }
                        let ms = t0.elapsed().as_millis() as i64;
                        tx.execute(
                            "INSERT INTO upgrade_pilot.journal (hop, step, item, sha256, duration_ms) VALUES ($1, $2, $3, $4, $5)",
                            &[&hop_key, &step.name, &item, &sha, &ms],
                        )
                        .await?;
                        tx.commit().await?;
                        ctx.emit.log(format!("{item}: applied in {ms} ms"));
                        done_units += 1;
                        crash_point(&format!("plan-file:{item}"));
                    }
                }
                Action::Import { path } => {
                    let meta = std::fs::metadata(path)
                        .map(|m| (m.len(), m.modified().ok()))
                        .ok();
                    let sha = sha256_hex(format!("{}\0{meta:?}", path.display()).as_bytes());
                    if journaled(&client, &hop_key, &step.name, "import")
                        .await?
                        .as_deref()
                        == Some(sha.as_str())
                    {
                        ctx.emit.log(format!("{}: already imported", step.name));
                        done_units += 1;
                        continue;
                    }
                    ctx.emit.fraction(
                        Some(done_units as f64 / total as f64),
                        format!("{}: importing", step.name),
                    );
                    let t0 = Instant::now();
                    drop(client);
                    let maint = ctx.conn.connect_maintenance().await?;
                    let major = crate::pg::server::server_major(&maint).await?;
                    super::import::import(
                        ctx.conn,
                        &maint,
                        major,
                        path,
                        ctx.db,
                        ctx.data_dir,
                        ctx.emit,
                        ctx.cancel,
                    )
                    .await
                    .map_err(|e| match e {
                        super::import::ImportError::Cancelled => PlanError::Cancelled,
                        e => e.into(),
                    })?;
                    // A new database: the journal starts again, with the import in it.
                    client = ctx.conn.connect(ctx.db).await?;
                    client.batch_execute(JOURNAL_DDL).await?;
                    let ms = t0.elapsed().as_millis() as i64;
                    client
                        .execute(
                            "INSERT INTO upgrade_pilot.journal (hop, step, item, sha256, duration_ms) VALUES ($1, $2, 'import', $3, $4)",
                            &[&hop_key, &step.name, &sha, &ms],
                        )
                        .await?;
                    done_units += 1;
                }
                Action::OpenUpgrade(spec) => {
                    let sha = sha256_hex(spec.argv.join("\0").as_bytes());
                    if journaled(&client, &hop_key, &step.name, "openupgrade")
                        .await?
                        .is_some()
                    {
                        ctx.emit.log(format!("hop → {}: done before", hop.to));
                        done_units += 1;
                        continue;
                    }
                    if journaled(&client, &hop_key, &step.name, "openupgrade-started")
                        .await?
                        .is_some()
                    {
                        return Err(PlanError::HalfDone {
                            from: spec.from.to_string(),
                            to: spec.to.to_string(),
                            db: ctx.db.to_string(),
                        });
                    }
                    // Marked before Odoo starts: Odoo commits module by module,
                    // so from here on the copy is half-migrated until it ends well.
                    client
                        .execute(
                            "INSERT INTO upgrade_pilot.journal (hop, step, item, sha256, duration_ms) VALUES ($1, $2, 'openupgrade-started', $3, 0)",
                            &[&hop_key, &step.name, &sha],
                        )
                        .await?;
                    let log = ctx.hop_log.map(|p| {
                        let mut s = p.as_os_str().to_owned();
                        s.push(format!("-{}.log", spec.to));
                        PathBuf::from(s)
                    });
                    let outcome = super::openupgrade::run_hop(
                        spec,
                        ctx,
                        log.as_deref(),
                        done_units as f64 / total as f64,
                        1.0 / total as f64,
                    )
                    .await?;
                    let (ok, verdict, secs) =
                        (outcome.ok, outcome.verdict.clone(), outcome.seconds);
                    if let Some(sink) = ctx.outcomes {
                        if let Ok(mut v) = sink.lock() {
                            v.push(outcome);
                        }
                    }
                    if !ok {
                        return Err(PlanError::HopFailed {
                            from: spec.from.to_string(),
                            to: spec.to.to_string(),
                            verdict,
                            db: ctx.db.to_string(),
                            log: log
                                .map(|l| l.display().to_string())
                                .unwrap_or_else(|| "in the job log".into()),
                        });
                    }
                    if client.is_closed() {
                        client = ctx.conn.connect(ctx.db).await?;
                    }
                    let ms = (secs * 1000.0) as i64;
                    client
                        .execute(
                            "INSERT INTO upgrade_pilot.journal (hop, step, item, sha256, duration_ms) VALUES ($1, $2, 'openupgrade', $3, $4)",
                            &[&hop_key, &step.name, &sha, &ms],
                        )
                        .await?;
                    done_units += 1;
                }
                Action::Command { argv } => {
                    let sha = sha256_hex(argv.join("\0").as_bytes());
                    if journaled(&client, &hop_key, &step.name, "command")
                        .await?
                        .as_deref()
                        == Some(sha.as_str())
                    {
                        ctx.emit.log(format!("{}: already ran", step.name));
                        done_units += 1;
                        continue;
                    }
                    let from = hop.from.map(|f| f.to_string()).unwrap_or_default();
                    let base_fraction = done_units as f64 / total as f64;
                    let t0 = Instant::now();
                    run_command(
                        ctx,
                        &step.name,
                        argv,
                        &from,
                        &hop.to.to_string(),
                        base_fraction,
                        1.0 / total as f64,
                    )
                    .await?;
                    // A command may have restarted the server or closed our session.
                    if client.is_closed() {
                        client = ctx.conn.connect(ctx.db).await?;
                    }
                    let ms = t0.elapsed().as_millis() as i64;
                    client
                        .execute(
                            "INSERT INTO upgrade_pilot.journal (hop, step, item, sha256, duration_ms) VALUES ($1, $2, 'command', $3, $4) \
                             ON CONFLICT (hop, step, item) DO UPDATE SET sha256 = EXCLUDED.sha256, duration_ms = EXCLUDED.duration_ms, applied_at = now()",
                            &[&hop_key, &step.name, &sha, &ms],
                        )
                        .await?;
                    done_units += 1;
                }
            }
        }
    }
    ctx.emit.fraction(Some(1.0), "plan applied");
    Ok(())
}

fn substitute(arg: &str, ctx: &RunCtx<'_>, from: &str, to: &str) -> Result<String, String> {
    let mut out = arg
        .replace("{db}", ctx.db)
        .replace("{host}", &ctx.conn.host)
        .replace("{port}", &ctx.conn.port.to_string())
        .replace("{user}", &ctx.conn.user)
        .replace("{from}", from)
        .replace("{to}", to);
    if out.contains("{data_dir}") {
        let dd = ctx
            .data_dir
            .ok_or("the command uses {data_dir} but no Odoo data dir is known: give --data-dir")?;
        out = out.replace("{data_dir}", &dd.display().to_string());
    }
    Ok(out)
}

/// `Loading module sale (12/40)` → 12/40.
pub fn odoo_module_progress(line: &str) -> Option<(u32, u32)> {
    let rest = &line[line.find("Loading module ")? + "Loading module ".len()..];
    let inner = &rest[rest.find('(')? + 1..];
    let (n, m) = inner[..inner.find(')')?].split_once('/')?;
    let (n, m) = (n.trim().parse().ok()?, m.trim().parse().ok()?);
    (m > 0).then_some((n, m))
}

async fn run_command(
    ctx: &RunCtx<'_>,
    step: &str,
    argv: &[String],
    from: &str,
    to: &str,
    base: f64,
    span: f64,
) -> Result<(), PlanError> {
    let err = |detail: String| PlanError::Command {
        step: step.to_string(),
        detail,
    };
    let args: Vec<String> = argv
        .iter()
        .map(|a| substitute(a, ctx, from, to))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    ctx.emit.log(format!("$ {}", args.join(" ")));
    let mut cmd = tokio::process::Command::new(&args[0]);
    cmd.args(&args[1..])
        .envs(ctx.conn.child_env())
        .env("PGDATABASE", ctx.db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::child::die_with_us(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| err(format!("cannot start {}: {e}", args[0])))?;
    let pid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::channel::<String>(256);
    for reader in [
        stdout.map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        stderr.map(|s| Box::new(s) as _),
    ]
    .into_iter()
    .flatten()
    {
        let tx = line_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(reader).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send(l).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(line_tx);
    let mut tail: std::collections::VecDeque<String> = Default::default();
    let status = loop {
        tokio::select! {
            line = line_rx.recv() => match line {
                Some(l) => {
                    if let Some((n, m)) = odoo_module_progress(&l) {
                        ctx.emit.fraction(Some(base + span * n as f64 / m as f64), format!("{step}: module {n}/{m}"));
                    }
                    if tail.len() == 5 { tail.pop_front(); }
                    tail.push_back(l.chars().take(300).collect());
                    ctx.emit.log(l);
                }
                None => break child.wait().await.map_err(|e| err(e.to_string()))?,
            },
            _ = ctx.cancel.cancelled() => {
                stop_group(pid, &mut child).await;
                return Err(PlanError::Cancelled);
            }
        }
    };
    if !status.success() {
        let code = status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into());
        let last = tail
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_default();
        return Err(err(format!("{} exited with {code}: {last}", args[0])));
    }
    Ok(())
}

/// SIGTERM to the command's process group, SIGKILL if it is still there after 10 s.
pub(crate) async fn stop_group(pid: Option<nix::unistd::Pid>, child: &mut tokio::process::Child) {
    use nix::sys::signal::{Signal, killpg};
    if let Some(pid) = pid {
        let _ = killpg(pid, Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_ok()
        {
            return;
        }
        let _ = killpg(pid, Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odoo_progress_lines() {
        assert_eq!(
            odoo_module_progress(
                "2024-01-01 INFO db odoo.modules.loading: Loading module sale (12/40)"
            ),
            Some((12, 40))
        );
        assert_eq!(odoo_module_progress("Loading module x"), None);
    }
}

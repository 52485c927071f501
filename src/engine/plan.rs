//! Upgrade plans (TOML): hops of steps, `sql` folders applied file by file with a
//! journal in the working copy, and `command` steps run as child processes
//! (by `execute`). Here: their types, parsing and checks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use super::sqlfile;
use crate::odoo::inspect;
use crate::odoo::version::Series;
use crate::pg::conn::ConnInfo;
use crate::text::one_line;

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
    OpenUpgrade(Box<super::job::HopSpec>),
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
    pub fn openupgrade(hops: Vec<super::job::HopSpec>) -> ReadyPlan {
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
    pub fn openupgrade_hops(&self) -> Vec<super::job::HopSpec> {
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
    pub outcomes: Option<&'a std::sync::Mutex<Vec<super::job::HopOutcome>>>,
    /// Hop logs are written to `<hop_log>-<to>.log`.
    pub hop_log: Option<&'a Path>,
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

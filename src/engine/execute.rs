//! Runs a ready plan on a database, hop by hop: SQL files, commands and
//! OpenUpgrade hops, each recorded in the database's journal so that a second
//! run continues where the first stopped. (The plan's types and checks are in
//! `plan`, which `openupgrade` uses too; this runner uses both.)

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::emit::crash_point;
use super::plan::{Action, PlanError, ReadyPlan, RunCtx, stop_group};
use super::sqlfile;
use crate::odoo::inspect;

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
                    let to = super::import::Target {
                        conn: ctx.conn,
                        maint: &maint,
                        major,
                        work: ctx.db,
                        data_dir: ctx.data_dir,
                    };
                    super::import::import(to, path, ctx.emit, ctx.cancel)
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
    let mut line_rx = super::child::lines(&mut child, 256);
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

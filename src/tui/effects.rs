//! Side effects: each [`Cmd`] runs here (as a task when it waits on the
//! database or a job) and answers with a [`Msg`]. Nothing here decides what
//! the screen shows.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::model::DbRow;
use super::model::{CampView, Cmd, LOG_CAP, Msg, SwapView, Unfinished};
use crate::campaign;
use crate::engine::Engine;
use crate::engine::JobHandle;
use crate::engine::clone::CloneChoice;
use crate::engine::job::{self, SeenStatus};
use crate::engine::openupgrade::EngineChoice;
use crate::engine::production::ProductionRequest;
use crate::engine::swap::{SwapOutcome, describe, rollback_warning};
use crate::engine::test_job::TestRequest;
use crate::odoo::inspect;
use crate::pg::server;

pub type Tx = mpsc::UnboundedSender<Msg>;

pub struct Effects {
    pub engine: Engine,
    pub tx: Tx,
    pub cancel: Arc<Mutex<Option<CancellationToken>>>,
    /// The Odoo serving the test copy; dropped (killed) when the TUI ends.
    pub served: Arc<tokio::sync::Mutex<Option<tokio::process::Child>>>,
}

impl Effects {
    pub fn run(&self, cmd: Cmd) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        match cmd {
            Cmd::LoadDbs => {
                tokio::spawn(async move {
                    let res = async {
                        let c = engine
                            .conn
                            .connect_maintenance()
                            .await
                            .map_err(|e| e.to_string())?;
                        let dbs = server::list_dbs(&c)
                            .await
                            .map_err(|e| crate::pg::db_message(&e))?;
                        Ok(dbs
                            .into_iter()
                            .filter(|(n, _)| n != "postgres")
                            .map(|(name, size)| DbRow {
                                name,
                                size,
                                series: None,
                                modules: None,
                            })
                            .collect())
                    }
                    .await;
                    let _ = tx.send(Msg::Dbs(res));
                });
            }
            Cmd::Inspect(db) => {
                tokio::spawn(async move {
                    let res = async {
                        let c = engine.conn.connect(&db).await.map_err(|e| e.to_string())?;
                        inspect::inspect(&c, &db, &engine.config.odoo.custom_modules)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    .await;
                    let _ = tx.send(Msg::Inspected(db, res));
                });
            }
            Cmd::StartTest {
                db,
                target,
                drop_previous,
                engine: choice,
            } => {
                let slot = self.cancel.clone();
                tokio::spawn(async move {
                    if let Some(prev) = drop_previous {
                        if let Err(e) = engine.drop_test_copy(&db, &prev).await {
                            let _ = tx.send(Msg::Reported(Err(e.to_string())));
                            return;
                        }
                    }
                    let clone = engine
                        .config
                        .clone
                        .method
                        .parse()
                        .unwrap_or(CloneChoice::Auto);
                    let req = TestRequest {
                        db: db.clone(),
                        target: target.clone(),
                        plan: None,
                        test_db: None,
                        clone,
                        discard: false,
                        engine: choice
                            .unwrap_or_else(|| EngineChoice::for_target(&engine.config, &target)),
                        dry_run: false,
                    };
                    let prepared = match engine.prepare_test(&req).await {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = tx.send(Msg::Reported(Err(e.to_string())));
                            return;
                        }
                    };
                    let connect = engine.conn.psql_line(&prepared.job.record.work_db);
                    // The job's own list: an engine may have steps of its own.
                    let steps = prepared.job.record.steps.iter().map(|s| s.name).collect();
                    let handle = engine.start_test(prepared);
                    follow(
                        handle,
                        tx,
                        slot,
                        Msg::JobStarted {
                            db,
                            target,
                            steps,
                            connect,
                            production: false,
                        },
                    )
                    .await;
                });
            }
            Cmd::StartProduction { db, target } => {
                let slot = self.cancel.clone();
                tokio::spawn(async move {
                    let req = ProductionRequest {
                        db: db.clone(),
                        target: target.clone(),
                        plan: None,
                        import: None,
                        discard: false,
                        allow_other_database: false,
                        // The engine the campaign's test used (Odoo's platform, say).
                        engine: match engine.last_test_engine(&db).await {
                            Some(e) => e,
                            None => EngineChoice::for_target(&engine.config, &target),
                        },
                    };
                    let prepared = match engine.prepare_production(&req).await {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = tx.send(Msg::Reported(Err(e.to_string())));
                            return;
                        }
                    };
                    let connect = engine.conn.psql_line(&prepared.job.record.work_db);
                    let steps = prepared.job.record.steps.iter().map(|s| s.name).collect();
                    let handle = engine.start_production(prepared);
                    follow(
                        handle,
                        tx,
                        slot,
                        Msg::JobStarted {
                            db,
                            target,
                            steps,
                            connect,
                            production: true,
                        },
                    )
                    .await;
                });
            }
            Cmd::LoadCampaign(db) => {
                tokio::spawn(async move {
                    let _ = tx.send(Msg::Campaign(
                        load_campaign(&engine, &db).await.map_err(|e| e.to_string()),
                    ));
                });
            }
            Cmd::SaveCampaign {
                db,
                checklist,
                anomalies,
            } => {
                // Synchronous, so that saves keep their order; the campaign was
                // loaded (and the server identified) before anything can be marked.
                let res = match engine.conn.known_server_key() {
                    Some(key) => campaign::update(&engine.state_dir, &key, &db, |c| {
                        c.checklist = checklist;
                        c.anomalies = anomalies;
                    })
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                    None => Err("the server is not identified yet: reload the campaign".into()),
                };
                let _ = tx.send(Msg::Saved(res));
            }
            Cmd::Serve(db) => {
                let served = self.served.clone();
                tokio::spawn(async move {
                    let mut slot = served.lock().await;
                    if let Some(mut child) = slot.take() {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                        let _ = tx.send(Msg::Served(Ok(None)));
                        return;
                    }
                    let res = async {
                        let plan = engine
                            .serve_plan(&db, None)
                            .await
                            .map_err(|e| e.to_string())?;
                        // Its output would tear the screen: to a log file instead.
                        let log = job::log_path(&engine.state_dir, &format!("serve-{db}"));
                        let _ = log.parent().map(crate::campaign::store::ensure_dir);
                        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
                        let err = out.try_clone().map_err(|e| e.to_string())?;
                        let mut cmd = tokio::process::Command::new(&plan.argv[0]);
                        cmd.args(&plan.argv[1..])
                            .envs(plan.env.iter().cloned())
                            .stdin(std::process::Stdio::null())
                            .stdout(out)
                            .stderr(err);
                        // Quitting stops it (kill on drop); so does a SIGKILL of the TUI.
                        let child = crate::engine::child::die_with_us(&mut cmd)
                            .spawn()
                            .map_err(|e| format!("cannot start Odoo {}: {e}", plan.series))?;
                        *slot = Some(child);
                        Ok(Some(crate::tui::screens::ready::Serving {
                            db: db.clone(),
                            series: plan.series.to_string(),
                            url: format!("http://127.0.0.1:{}/web", plan.port),
                            tunnel: crate::engine::openupgrade::ssh_tunnel(plan.port),
                            log: log.display().to_string(),
                        }))
                    }
                    .await;
                    let _ = tx.send(Msg::Served(res));
                });
            }
            Cmd::SettleDraft { db, id, keep } => {
                // The campaign was loaded (the server identified) before a draft is shown.
                let res = match engine.conn.known_server_key() {
                    Some(key) => campaign::settle_draft(&engine.state_dir, &key, &db, id, keep)
                        .map(|kept| match kept {
                            Some(a) => format!("draft {id} kept as anomaly #{a}"),
                            None if keep => format!("draft {id} is gone already"),
                            None => format!("draft {id} dropped"),
                        })
                        .map_err(|e| e.to_string()),
                    None => Err("the server is not identified yet: reload the campaign".into()),
                };
                let _ = tx.send(Msg::Changed(res));
            }
            Cmd::ExportReport(db) => {
                tokio::spawn(async move {
                    let out = engine.state_dir.join("reports").join(format!(
                        "{db}-{}",
                        chrono::Utc::now().format("%Y%m%dT%H%M%S")
                    ));
                    let res = engine
                        .report(&db, &out)
                        .await
                        .map(|w| format!("report written: {}", w.dir.join("report.md").display()));
                    let _ = tx.send(Msg::Reported(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Freeze(db) => {
                tokio::spawn(async move {
                    let res = engine.freeze(&db).await.map(|r| {
                        let adopted = if r.adopted {
                            " (it was frozen on the server, unknown here: adopted)"
                        } else {
                            ""
                        };
                        format!("{db} is frozen: {} session(s) ended{adopted}", r.ended)
                    });
                    let _ = tx.send(Msg::Changed(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Restore(db) => {
                tokio::spawn(async move {
                    let res = engine.restore(&db).await.map(|o| swap_view("restored", &o));
                    let _ = tx.send(Msg::Swapped(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Acknowledge(db) => {
                tokio::spawn(async move {
                    let res = async {
                        let Some(j) = engine.production_comparison(&db).await? else {
                            return Ok("no upgraded copy to acknowledge".to_string());
                        };
                        let n = j.comparison.as_ref().map_or(0, |c| c.difference_count());
                        engine.acknowledge_comparison(j)?;
                        Ok::<_, crate::engine::EngineError>(format!(
                            "{n} difference(s) acknowledged: Enter swaps into place"
                        ))
                    }
                    .await;
                    let _ = tx.send(Msg::Changed(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Rollback(db) => {
                tokio::spawn(async move {
                    let res = engine
                        .rollback(&db, false)
                        .await
                        .map(|o| swap_view("rolled back", &o));
                    let _ = tx.send(Msg::Swapped(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Poll(id) => {
                tokio::spawn(async move {
                    let Ok(Some(record)) = job::load(&engine.state_dir, &id) else {
                        return;
                    };
                    let log = std::fs::read_to_string(job::log_path(&engine.state_dir, &id))
                        .unwrap_or_default();
                    let lines: Vec<&str> = log.lines().collect();
                    let log = lines[lines.len().saturating_sub(LOG_CAP)..]
                        .iter()
                        .map(|l| l.to_string())
                        .collect();
                    let elapsed = (chrono::Utc::now() - record.created_at)
                        .to_std()
                        .unwrap_or_default();
                    // Re-read at the tick's pace: the other process writes the file at each step.
                    let _ = tx.send(Msg::Attached {
                        record: Box::new(record),
                        log,
                        elapsed,
                    });
                });
            }
            Cmd::Discard(db) => {
                tokio::spawn(async move {
                    let res = engine.discard_unfinished(&db).await.map(|d| match d {
                        Some(name) => format!("discarded the unfinished job and dropped {name:?}"),
                        None => "nothing to discard".to_string(),
                    });
                    let _ = tx.send(Msg::Changed(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::Compare { db, test_db } => {
                tokio::spawn(async move {
                    let res = engine.recompare_test(&db, &test_db).await.map(Box::new);
                    let _ = tx.send(Msg::Compared(res.map_err(|e| e.to_string())));
                });
            }
            Cmd::StopOther(pid) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            Cmd::CancelJob => {
                if let Some(t) = self.cancel.lock().ok().and_then(|s| s.clone()) {
                    t.cancel();
                }
            }
        }
    }
}

/// Forwards a job's events and progress as messages until it ends.
async fn follow(
    mut handle: JobHandle,
    tx: Tx,
    slot: Arc<Mutex<Option<CancellationToken>>>,
    started: Msg,
) {
    if let Ok(mut s) = slot.lock() {
        *s = Some(handle.cancel.clone());
    }
    let _ = tx.send(started);
    loop {
        tokio::select! {
            ev = handle.events.recv() => match ev {
                Some(e) => { let _ = tx.send(Msg::Job(e)); }
                None => break,
            },
            Ok(()) = handle.progress.changed() => {
                let p = handle.progress.borrow_and_update().clone();
                let _ = tx.send(Msg::Progress(p));
            }
        }
    }
    let res = match handle.join.await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("job task failed: {e}")),
    };
    let _ = tx.send(Msg::JobDone(res));
}

fn swap_view(what: &str, o: &SwapOutcome) -> SwapView {
    SwapView {
        what: match (o.already_done, o.reverted) {
            (true, _) => format!("already restored, nothing to do: {}", describe(&o.swap)),
            (_, true) => format!("reverted the half-done restore: {}", describe(&o.swap)),
            _ => format!("{what}: {}", describe(&o.swap)),
        },
        // The hook's failure apart from the swap's result, as the CLI says it.
        checks: o
            .checks
            .iter()
            .map(|c| (c.ok, format!("{}: {}", c.name, c.detail)))
            .chain(
                o.hook_error
                    .iter()
                    .map(|e| (false, format!("the swap is done, but the {e}"))),
            )
            .collect(),
    }
}

/// Everything the checklist, anomaly, freeze and restore screens show.
async fn load_campaign(engine: &Engine, db: &str) -> Result<CampView, crate::engine::EngineError> {
    let key = engine.server_key().await?;
    let c = campaign::load_or_new(&engine.state_dir, &key, db)?;
    let items = engine.checklist_items()?;
    let last = engine.last_ready_test(&c)?;
    let comparison = last.as_ref().and_then(|j| j.comparison.clone());
    let request = last
        .as_ref()
        .and_then(|j| j.platform.as_ref())
        .and_then(|p| p.request_id().map(str::to_string));
    let production = engine.production_comparison(db).await?;
    let maint = engine.conn.connect_maintenance().await?;
    let sessions = server::sessions(&maint, db).await.unwrap_or_default();
    let upgraded_ready = match c.production_jobs.last() {
        Some(id) => job::load(&engine.state_dir, id)?
            .filter(|j| j.status == job::JobStatus::Ready)
            .map(|j| j.work_db),
        None => None,
    };
    let size = server::db_size(&maint, db).await.ok();
    let estimate = crate::engine::estimate::estimate(last.as_ref(), size);
    let downtime = engine.last_downtime(&c)?;
    let restore_plan = engine
        .plan_restore(&maint, db)
        .await
        .map(|s| describe(&s))
        .map_err(|e| e.to_string());
    let rollback_plan = engine
        .plan_rollback(&maint, db, false)
        .await
        .ok()
        .map(|s| format!("{}; {}", describe(&s), rollback_warning(&s)));
    Ok(CampView {
        db: db.to_string(),
        items,
        states: c.checklist.clone(),
        anomalies: c.anomalies.clone(),
        drafts: c.anomaly_drafts.clone(),
        frozen_since: c
            .freeze
            .as_ref()
            .map(|f| f.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        test_db: last.as_ref().map(|j| j.work_db.clone()),
        test_target: last.as_ref().map(|j| j.target.clone()),
        test_connect: last
            .as_ref()
            .map(|j| engine.conn.psql_line(&j.work_db))
            .unwrap_or_default(),
        last_test: last.map(Box::new),
        upgraded_ready,
        restore_plan,
        rollback_plan,
        sessions,
        ticket: campaign::report::ticket_hint(&c, request.as_deref()),
        unfinished: engine.unfinished_job(&c)?.map(|j| Unfinished {
            id: j.id.clone(),
            production: j.kind == job::JobKind::Production,
            target: j.target.clone(),
            work_db: j.work_db.clone(),
            state: if j.pid == std::process::id() {
                SeenStatus::Interrupted
            } else {
                j.effective_status()
            },
            pid: j.pid,
            error: j.error.clone(),
        }),
        comparison,
        production_acknowledged: production
            .as_ref()
            .and_then(|j| j.comparison_acknowledged.as_ref())
            .map(|a| format!("by {} at {}", a.by, a.at.format("%Y-%m-%d %H:%M UTC"))),
        production_comparison: production.and_then(|j| j.comparison),
        estimate,
        downtime,
    })
}

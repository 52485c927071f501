//! The guided TUI (Elm shape): `update` changes the model, `view` draws it, and
//! side effects run here as tasks that answer with messages. Redraws happen
//! only after a message; a tick runs only while a job runs.

pub mod app;
pub mod keymap;
pub mod theme;
pub mod view;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use color_eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::engine::clone::CloneChoice;
use crate::engine::test_job::{STEPS, TestRequest};
use crate::odoo::inspect;
use crate::pg::server;
use app::{App, Cmd, DbRow, Msg, update};
use theme::Theme;

type Tx = mpsc::UnboundedSender<Msg>;

struct Effects {
    engine: Engine,
    tx: Tx,
    cancel: Arc<Mutex<Option<CancellationToken>>>,
}

impl Effects {
    fn run(&self, cmd: Cmd) {
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
            Cmd::StartTest { db, target } => {
                let slot = self.cancel.clone();
                tokio::spawn(async move {
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
                    };
                    let prepared = match engine.prepare_test(&req).await {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = tx.send(Msg::Dbs(Err(e.to_string()))).map(|_| ());
                            return;
                        }
                    };
                    let handle_db = prepared.record.work_db.clone();
                    let mut handle = engine.start_test(prepared);
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(handle.cancel.clone());
                    }
                    let connect = engine.conn.psql_line(&handle_db);
                    let _ = tx.send(Msg::JobStarted {
                        db,
                        target,
                        steps: STEPS.iter().map(|s| s.to_string()).collect(),
                        connect,
                    });
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
                });
            }
            Cmd::CancelJob => {
                if let Some(t) = self.cancel.lock().ok().and_then(|s| s.clone()) {
                    t.cancel();
                }
            }
        }
    }
}

/// Opens the TUI on the engine's server until the user quits.
pub async fn run(engine: Engine) -> Result<()> {
    let theme = Theme::from_env();
    // ratatui::init restores the terminal on panic (after color-eyre's hook, installed in main).
    let mut terminal = ratatui::init();
    let res = event_loop(&mut terminal, engine, theme).await;
    ratatui::restore();
    res
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    engine: Engine,
    theme: Theme,
) -> Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let fx = Effects {
        engine: engine.clone(),
        tx,
        cancel: Arc::new(Mutex::new(None)),
    };
    let mut app = App::new(
        engine.conn.server(),
        engine.config.odoo.supported_targets.clone(),
    );
    fx.run(Cmd::LoadDbs);
    let mut events = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut job_started: Option<Instant> = None;
    let mut headless = false;
    let mut dirty = true;
    loop {
        if dirty && !headless {
            terminal.draw(|f| view::view(&app, f, &theme))?;
            dirty = false;
        }
        if app.quit && !app.job_running() {
            break;
        }
        let running = app.job_running();
        let msg = tokio::select! {
            ev = events.next(), if !headless => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Resize(..))) => { dirty = true; continue; }
                Some(Ok(_)) => continue,
                // The terminal is gone: keep the job, stop drawing.
                Some(Err(_)) | None => { headless = true; continue; }
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick(), if running => Msg::Tick(job_started.map(|t| t.elapsed()).unwrap_or_default()),
            _ = term.recv() => {
                fx.run(Cmd::CancelJob);
                app.quit = true;
                continue;
            }
            _ = hup.recv() => {
                // SSH drop: the job finishes without a terminal and records its outcome.
                headless = true;
                if !app.job_running() { app.quit = true; }
                continue;
            }
        };
        if matches!(msg, Msg::JobStarted { .. }) {
            job_started = Some(Instant::now());
        }
        if let Some(cmd) = update(&mut app, msg) {
            fx.run(cmd);
        }
        // Drain what is already queued so a burst of log lines costs one frame.
        while let Ok(m) = rx.try_recv() {
            if let Some(cmd) = update(&mut app, m) {
                fx.run(cmd);
            }
        }
        if headless && !app.job_running() {
            break;
        }
        dirty = true;
    }
    Ok(())
}

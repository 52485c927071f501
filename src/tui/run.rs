//! The event loop: terminal events, effect answers and the tick become
//! messages for `update`; a frame is drawn only after something changed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use color_eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::App;
use super::effects::Effects;
use super::model::{Cmd, Msg};
use super::theme::Theme;
use super::update::update;
use super::view;
use crate::engine::Engine;

/// Opens the TUI on the engine's server until the user quits.
pub async fn run(engine: Engine) -> Result<()> {
    let theme = Theme::from_env();
    // ratatui::init restores the terminal on panic (after color-eyre's hook, installed in main).
    let mut terminal = ratatui::init();
    // Bracketed paste: a pasted block arrives whole (anomaly form), not as keys.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    let res = event_loop(&mut terminal, engine, theme).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
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
        served: Default::default(),
    };
    let mut app = App::new(
        engine.conn.server(),
        engine.config.odoo.supported_targets.clone(),
    );
    app.request.plans = engine.config.plans.keys().cloned().collect();
    app.request.odoo = engine.config.odoo.installs.keys().cloned().collect();
    app.request.contract_given = engine.config.odoo_platform.contract.is_some();
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
        if app.quit && !app.owns_running_job() {
            break;
        }
        let running = app.job_running() || app.freeze.at.is_some();
        let msg = tokio::select! {
            ev = events.next(), if !headless => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => Msg::Key(k),
                Some(Ok(TermEvent::Resize(..))) => { dirty = true; continue; }
                Some(Ok(TermEvent::Paste(text))) => Msg::Paste(text),
                Some(Ok(_)) => continue,
                // The terminal is gone: keep the job, stop drawing.
                Some(Err(_)) | None => { headless = true; continue; }
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick(), if running => {
                if app.freeze.at.is_some() {
                    if let Some(cmd) = update(&mut app, Msg::Clock(chrono::Utc::now())) {
                        fx.run(cmd);
                    }
                }
                Msg::Tick(job_started.map(|t| t.elapsed()).unwrap_or_default())
            }
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

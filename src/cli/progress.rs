//! Follows a running job on the terminal: a progress bar per step on a TTY,
//! plain lines otherwise; Ctrl-C cancels; SIGHUP is ignored so that an SSH drop
//! never stops the job.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::signal::unix::{SignalKind, signal};

use super::output::err;
use crate::engine::{EngineError, Event, JobHandle, JobRecord};

pub async fn follow(mut handle: JobHandle, quiet: bool) -> Result<JobRecord, EngineError> {
    let tty = std::io::stderr().is_terminal() && !quiet;
    let bar = if tty {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:<17} [{bar:30}] {percent:>3}% {elapsed:>4} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        Some(b)
    } else {
        None
    };
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut progress = handle.progress.clone();
    let cancel = handle.cancel.clone();
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None if !quiet => err(&line),
        None => {}
    };
    let mut interrupts = 0;
    loop {
        tokio::select! {
            ev = handle.events.recv() => match ev {
                Some(Event::StepStarted { step }) => {
                    if let Some(b) = &bar { b.set_prefix(step.as_str()); b.set_position(0); b.reset_elapsed(); }
                    else { say(format!("{step} …")); }
                }
                Some(Event::StepFinished { step, seconds }) => say(format!("✓ {step:<17} {seconds:>7.2}s")),
                Some(Event::StepSkipped { step, why }) => say(format!("· {step:<17} skipped ({why})")),
                Some(Event::StepFailed { step, error }) => say(format!("✗ {step:<17} {error}")),
                Some(Event::Warning(w)) => say(format!("! {w}")),
                Some(Event::Log(l)) => { if let Some(b) = &bar { b.set_message(l.chars().take(120).collect::<String>()); } }
                None => break,
            },
            Ok(()) = progress.changed() => {
                let p = progress.borrow_and_update().clone();
                if let Some(b) = &bar {
                    b.set_position((p.fraction.unwrap_or(0.0) * 1000.0) as u64);
                    if !p.detail.is_empty() { b.set_message(p.detail.clone()); }
                }
            }
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                if interrupts == 1 {
                    say("interrupt: cancelling the job (the half-made copy is dropped)…".into());
                    cancel.cancel();
                }
            }
            Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {
                // SIGTERM: stop at a safe point; the half-made copy is dropped.
                say("SIGTERM: cancelling the job…".into());
                cancel.cancel();
            }
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                // The terminal is gone; the job goes on and records its outcome.
                tracing::warn!("SIGHUP: terminal lost, the job continues");
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    handle
        .join
        .await
        .map_err(|e| EngineError::Io(format!("job task failed: {e}")))?
}

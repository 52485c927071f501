//! The job side of the event channels, plus the job's log file. Log lines never
//! block the job: when a front end falls behind, lines are counted and dropped
//! from the channel (the log file keeps them all).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};

use super::events::{Event, Progress};

pub struct Emitter {
    tx: mpsc::Sender<Event>,
    progress: watch::Sender<Progress>,
    /// Buffered: a command can log thousands of lines a second; flushed at
    /// every step event and when the job ends.
    log: Mutex<Option<BufWriter<File>>>,
    dropped: AtomicU64,
}

impl Emitter {
    pub fn new(
        tx: mpsc::Sender<Event>,
        progress: watch::Sender<Progress>,
        log_path: Option<&Path>,
    ) -> Self {
        let log = log_path.and_then(|p| {
            let _ = p.parent().map(crate::campaign::store::ensure_dir);
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .ok()
                .map(|f| BufWriter::with_capacity(1 << 16, f))
        });
        Emitter {
            tx,
            progress,
            log: Mutex::new(log),
            dropped: AtomicU64::new(0),
        }
    }

    fn write_log(&self, line: &str) {
        if let Ok(mut guard) = self.log.lock() {
            if let Some(f) = guard.as_mut() {
                let _ = writeln!(
                    f,
                    "{} {line}",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
                );
            }
        }
    }

    pub async fn event(&self, e: Event) {
        let line = match &e {
            Event::StepStarted { step } => format!("== {step}: started"),
            Event::StepFinished { step, seconds } => format!("== {step}: done in {seconds:.2}s"),
            Event::StepSkipped { step, why } => format!("== {step}: skipped ({why})"),
            Event::StepFailed { step, error } => format!("== {step}: FAILED: {error}"),
            Event::Warning(w) => format!("warning: {w}"),
            Event::Log(l) => l.clone(),
        };
        self.write_log(&line);
        self.flush();
        let _ = self.tx.send(e).await;
    }

    pub fn flush(&self) {
        if let Ok(mut guard) = self.log.lock() {
            if let Some(f) = guard.as_mut() {
                let _ = f.flush();
            }
        }
    }

    pub fn log(&self, line: impl Into<String>) {
        let line = line.into();
        self.write_log(&line);
        if self.tx.try_send(Event::Log(line)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub async fn warn(&self, w: impl Into<String>) {
        self.event(Event::Warning(w.into())).await;
    }

    pub fn progress(&self, f: impl FnOnce(&mut Progress)) {
        self.progress.send_modify(f);
    }

    pub fn fraction(&self, fraction: Option<f64>, detail: impl Into<String>) {
        let detail = detail.into();
        self.progress.send_if_modified(|p| {
            let changed = p.fraction != fraction || p.detail != detail;
            p.fraction = fraction;
            p.detail = detail;
            changed
        });
    }
}

/// Test hook: `UPGRADE_PILOT_CRASH_AT=<point>` makes the process kill itself with
/// SIGKILL there, exactly as `kill -9` would, to prove resume works.
pub fn crash_point(point: &str) {
    if std::env::var("UPGRADE_PILOT_CRASH_AT").is_ok_and(|p| p == point) {
        tracing::warn!(point, "crash point reached: SIGKILL");
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Test hook: `UPGRADE_PILOT_PAUSE_AT=<point>` holds the job there until the
/// file named by `UPGRADE_PILOT_PAUSE_FILE` exists (bounded: 10 minutes), so a
/// test can fault the server in the middle of a step.
pub async fn pause_point(point: &str) {
    if !std::env::var("UPGRADE_PILOT_PAUSE_AT").is_ok_and(|p| p == point) {
        return;
    }
    let Some(file) = std::env::var_os("UPGRADE_PILOT_PAUSE_FILE") else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !std::path::Path::new(&file).exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

//! The shared views every screen may read (the campaign, the job, the
//! databases) and the two enums that cross the boundary with the effects:
//! [`Msg`] (what happened) and [`Cmd`] (what to do). Each screen's own state
//! lives in its module under `screens/`; [`crate::tui::App`] holds them all.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::KeyEvent;

use crate::campaign::anomaly::{Anomaly, Status};
use crate::campaign::checklist::{Item, States, Summary};
use crate::engine::job::SeenStatus;
use crate::engine::{Event, JobRecord, Progress, Step};
use crate::odoo::inspect::Inspection;
use crate::pg::server::Session;

/// A database of the server, as the Request screen lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DbRow {
    pub name: String,
    pub size: i64,
    pub series: Option<String>,
    pub modules: Option<usize>,
}

/// Log lines kept for the tail; older ones live in the job's log file.
pub const LOG_CAP: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub name: Step,
    pub state: StepState,
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Todo,
    Running,
    Done,
    Skipped,
    Failed,
}

/// The job of this session (run here, or followed from another process).
#[derive(Debug, Default)]
pub struct JobView {
    /// A production job (step 8) rather than a test job (step 2).
    pub production: bool,
    pub db: String,
    /// How to open the test copy with psql.
    pub connect: String,
    pub target: String,
    pub steps: Vec<StepView>,
    pub progress: Progress,
    pub log: VecDeque<String>,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
    pub result: Option<Result<JobRecord, String>>,
    /// Followed from another process's job file (job id, pid), not run here.
    pub attached: Option<(String, u32)>,
}

impl JobView {
    pub fn running(&self) -> bool {
        self.result.is_none()
    }

    /// Estimated time left, from the fraction done so far.
    pub fn eta(&self) -> Option<Duration> {
        // Odoo's platform sets its own pace (20–120 minutes): the pace of the
        // steps before says nothing of it; the step's line says what is known.
        if self.progress.step == Some(crate::engine::step::Step::OdooUpgrade) {
            return None;
        }
        let f = self.progress.overall();
        (f > 0.05 && f < 1.0).then(|| self.elapsed.mul_f64((1.0 - f) / f))
    }
}

/// What the TUI knows of the campaign of the selected database.
#[derive(Debug, Clone)]
pub struct CampView {
    pub db: String,
    pub items: Vec<Item>,
    pub states: States,
    pub anomalies: Vec<Anomaly>,
    /// Anomalies the upgrade log suggested (OpenUpgrade errors), to keep or drop.
    pub drafts: Vec<crate::campaign::anomaly::Draft>,
    pub frozen_since: Option<String>,
    /// The last test copy that reached "ready", and its target.
    pub test_db: Option<String>,
    pub test_target: Option<String>,
    /// That copy's job, and how to connect to it (the Test database screen).
    pub last_test: Option<Box<JobRecord>>,
    pub test_connect: String,
    /// An upgraded production copy ready to be swapped in.
    pub upgraded_ready: Option<String>,
    /// What `restore` would do now, or why it cannot.
    pub restore_plan: Result<String, String>,
    /// What `rollback` would do now, when a restore was done.
    pub rollback_plan: Option<String>,
    pub sessions: Vec<Session>,
    pub ticket: String,
    /// The last job, when it did not finish.
    pub unfinished: Option<Unfinished>,
    /// The last test copy's comparison with production (the "Automatic checks").
    pub comparison: Option<Box<crate::odoo::compare::Comparison>>,
    /// The comparison of the production copy a restore would swap in, and who
    /// acknowledged its differences ("by … at …"), when someone did.
    pub production_comparison: Option<Box<crate::odoo::compare::Comparison>>,
    pub production_acknowledged: Option<String>,
    /// How long production would be frozen, from the last finished test.
    pub estimate: Result<crate::engine::estimate::Estimate, String>,
    /// The last production job's downtime, measured.
    pub downtime: Option<crate::engine::downtime::Downtime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub id: String,
    pub production: bool,
    pub target: String,
    pub work_db: String,
    /// running (in another process), interrupted or failed
    pub state: SeenStatus,
    pub pid: u32,
    pub error: Option<String>,
}

impl CampView {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.items, &self.states, self.test_db.as_deref())
    }

    pub fn open_anomalies(&self) -> usize {
        self.anomalies
            .iter()
            .filter(|a| a.status == Status::Open)
            .count()
    }

    /// Checklist done and no anomaly open: what Odoo asks before production.
    pub fn tested(&self) -> bool {
        self.test_db.is_some() && self.summary().complete() && self.open_anomalies() == 0
    }

    /// Items shown, in file order, grouped by area, matching the filter.
    pub fn visible(&self, filter: &str) -> Vec<&Item> {
        let f = filter.to_lowercase();
        let mut areas: Vec<&str> = Vec::new();
        for i in &self.items {
            if !areas.contains(&i.area.as_str()) {
                areas.push(&i.area);
            }
        }
        areas
            .iter()
            .flat_map(|a| self.items.iter().filter(move |i| i.area == *a))
            .filter(|i| {
                f.is_empty()
                    || i.title.to_lowercase().contains(&f)
                    || i.area.to_lowercase().contains(&f)
            })
            .collect()
    }
}

/// The outcome of a restore or rollback, as the Restore screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapView {
    pub what: String,
    pub checks: Vec<(bool, String)>,
}

/// The test copy's Odoo, started by `s`: where to open it.
#[derive(Debug, Clone, PartialEq)]
pub struct Serving {
    pub db: String,
    pub series: String,
    pub url: String,
    /// The `ssh -N -L` line that brings the port to the user's machine.
    pub tunnel: String,
    pub log: String,
}

/// What happened: a key, or the answer of a [`Cmd`].
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Dbs(Result<Vec<DbRow>, String>),
    Inspected(String, Result<Inspection, String>),
    JobStarted {
        db: String,
        target: String,
        steps: Vec<Step>,
        connect: String,
        production: bool,
    },
    Campaign(Result<CampView, String>),
    Saved(Result<(), String>),
    Reported(Result<String, String>),
    /// A freeze or a discard answered: say so, then read the campaign again.
    Changed(Result<String, String>),
    Swapped(Result<SwapView, String>),
    /// `serve` started Odoo on the test copy (Some) or stopped it (None).
    Served(Result<Option<Serving>, String>),
    /// The comparison run again (`r` on the checklist).
    Compared(Result<Box<crate::odoo::compare::Comparison>, String>),
    /// Wall clock, sent with the tick while a freeze is scheduled.
    Clock(chrono::DateTime<chrono::Utc>),
    /// A job run by another process, as its job file and log say now.
    Attached {
        record: Box<JobRecord>,
        log: Vec<String>,
        elapsed: Duration,
    },
    Job(Event),
    Progress(Progress),
    JobDone(Result<JobRecord, String>),
    Tick(Duration),
}

/// What to do: run by `effects.rs`, answered with a [`Msg`].
#[derive(Debug, PartialEq)]
pub enum Cmd {
    LoadDbs,
    Inspect(String),
    StartTest {
        db: String,
        target: String,
        drop_previous: Option<String>,
        /// None: as the config decides (a resumed job keeps its way).
        engine: Option<crate::engine::openupgrade::EngineChoice>,
    },
    CancelJob,
    LoadCampaign(String),
    SaveCampaign {
        db: String,
        checklist: States,
        anomalies: Vec<Anomaly>,
    },
    ExportReport(String),
    /// Serve the test copy with its series' Odoo, or stop serving it.
    Serve(String),
    /// Keep a draft (it becomes an anomaly) or drop it.
    SettleDraft {
        db: String,
        id: u32,
        keep: bool,
    },
    Freeze(String),
    StartProduction {
        db: String,
        target: String,
    },
    Restore(String),
    /// Accept the production comparison's differences before the restore.
    Acknowledge(String),
    Rollback(String),
    /// Re-read the job file of an attached job.
    Poll(String),
    /// Drop what an interrupted or failed job made.
    Discard(String),
    /// SIGTERM to the process running an attached job: it stops cleanly.
    StopOther(u32),
    /// Compare the test copy with production again, and keep it in its job.
    Compare {
        db: String,
        test_db: String,
    },
}

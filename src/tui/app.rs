//! The TUI's model and `update`: pure state transitions. Side effects (database,
//! jobs) are asked for through [`Cmd`] and come back as [`Msg`].

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::{Event, JobRecord, Progress};
use crate::odoo::inspect::Inspection;
use crate::odoo::version::Series;

/// Log lines kept for the tail; older ones live in the job's log file.
pub const LOG_CAP: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Request,
    Wait,
    Ready,
}

impl Screen {
    /// Position in the nine steps of DESIGN.md §1.
    pub fn step(self) -> usize {
        match self {
            Screen::Request => 1,
            Screen::Wait => 2,
            Screen::Ready => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DbRow {
    pub name: String,
    pub size: i64,
    pub series: Option<String>,
    pub modules: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub name: String,
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

#[derive(Debug, Default)]
pub struct JobView {
    pub db: String,
    /// How to open the test copy with psql.
    pub connect: String,
    pub target: String,
    pub steps: Vec<StepView>,
    pub progress: Progress,
    pub log: VecDeque<String>,
    /// Lines scrolled up from the bottom of the log.
    pub scroll: usize,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
    pub result: Option<Result<JobRecord, String>>,
}

impl JobView {
    pub fn running(&self) -> bool {
        self.result.is_none()
    }

    /// Estimated time left, from the fraction done so far.
    pub fn eta(&self) -> Option<Duration> {
        let f = self.progress.overall();
        (f > 0.05 && f < 1.0).then(|| self.elapsed.mul_f64((1.0 - f) / f))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    CancelJob,
    Quit,
}

pub struct App {
    pub screen: Screen,
    pub server: String,
    pub dbs: Vec<DbRow>,
    pub selected: usize,
    pub inspection: Option<Inspection>,
    pub target: Option<Series>,
    pub supported: Vec<String>,
    pub job: Option<JobView>,
    pub confirm: Option<Confirm>,
    pub help: bool,
    pub walkthrough: bool,
    pub message: Option<String>,
    pub quit: bool,
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Dbs(Result<Vec<DbRow>, String>),
    Inspected(String, Result<Inspection, String>),
    JobStarted { db: String, target: String, steps: Vec<String>, connect: String },
    Job(Event),
    Progress(Progress),
    JobDone(Result<JobRecord, String>),
    Tick(Duration),
}

#[derive(Debug, PartialEq)]
pub enum Cmd {
    LoadDbs,
    Inspect(String),
    StartTest { db: String, target: String },
    CancelJob,
}

impl App {
    pub fn new(server: String, supported: Vec<String>) -> App {
        App {
            screen: Screen::Request,
            server,
            dbs: Vec::new(),
            selected: 0,
            inspection: None,
            target: None,
            supported,
            job: None,
            confirm: None,
            help: false,
            walkthrough: false,
            message: None,
            quit: false,
        }
    }

    pub fn selected_db(&self) -> Option<&DbRow> {
        self.dbs.get(self.selected)
    }

    pub fn job_running(&self) -> bool {
        self.job.as_ref().is_some_and(JobView::running)
    }

    /// Targets offered for the selected database: the next majors up to the last known.
    pub fn targets(&self) -> Vec<Series> {
        let Some(i) = &self.inspection else { return Vec::new() };
        let from = i.series.major;
        (from + 1..=*crate::odoo::version::KNOWN_MAJORS.end()).map(|m| Series::new(m, 0)).collect()
    }

    fn select(&mut self, idx: usize) -> Option<Cmd> {
        if self.dbs.is_empty() {
            return None;
        }
        let idx = idx.min(self.dbs.len() - 1);
        if idx == self.selected && self.inspection.as_ref().is_some_and(|i| Some(&i.db) == self.selected_db().map(|d| &d.name)) {
            return None;
        }
        self.selected = idx;
        self.inspection = None;
        self.target = None;
        self.selected_db().map(|d| Cmd::Inspect(d.name.clone()))
    }

    fn move_target(&mut self, delta: i32) {
        let targets = self.targets();
        if targets.is_empty() {
            return;
        }
        let cur = self.target.and_then(|t| targets.iter().position(|x| *x == t)).unwrap_or(0) as i32;
        let next = (cur + delta).clamp(0, targets.len() as i32 - 1) as usize;
        self.target = Some(targets[next]);
    }
}

pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Key(k) => key(app, k),
        Msg::Dbs(Ok(dbs)) => {
            app.dbs = dbs;
            app.selected = app.selected.min(app.dbs.len().saturating_sub(1));
            app.inspection = None;
            app.selected_db().map(|d| Cmd::Inspect(d.name.clone()))
        }
        Msg::Dbs(Err(e)) => {
            app.message = Some(e);
            None
        }
        Msg::Inspected(db, res) => {
            if app.selected_db().map(|d| &d.name) != Some(&db) {
                return None; // an answer for a row no longer selected
            }
            match res {
                Ok(i) => {
                    if let Some(row) = app.dbs.get_mut(app.selected) {
                        row.series = Some(i.series.to_string());
                        row.modules = Some(i.installed_count);
                    }
                    app.target = Some(Series::new(i.series.major + 1, 0));
                    app.inspection = Some(i);
                    app.message = None;
                }
                Err(e) => {
                    app.inspection = None;
                    app.message = Some(e);
                }
            }
            None
        }
        Msg::JobStarted { db, target, steps, connect } => {
            app.job = Some(JobView {
                db,
                connect,
                target,
                steps: steps.into_iter().map(|name| StepView { name, state: StepState::Todo, seconds: None }).collect(),
                ..Default::default()
            });
            app.screen = Screen::Wait;
            app.message = None;
            None
        }
        Msg::Job(ev) => {
            if let Some(job) = app.job.as_mut() {
                job_event(job, ev);
            }
            None
        }
        Msg::Progress(p) => {
            if let Some(job) = app.job.as_mut() {
                job.progress = p;
            }
            None
        }
        Msg::JobDone(res) => {
            let Some(job) = app.job.as_mut() else { return None };
            let ok = res.is_ok();
            if let Err(e) = &res {
                app.message = Some(e.clone());
            }
            job.result = Some(res);
            if app.confirm == Some(Confirm::CancelJob) {
                app.confirm = None;
            }
            if ok {
                app.screen = Screen::Ready;
            }
            if app.confirm == Some(Confirm::Quit) || app.quit {
                app.quit = true;
            }
            None
        }
        Msg::Tick(elapsed) => {
            if let Some(job) = app.job.as_mut().filter(|j| j.running()) {
                job.elapsed = elapsed;
            }
            None
        }
    }
}

fn job_event(job: &mut JobView, ev: Event) {
    let set = |job: &mut JobView, step: &str, state: StepState, seconds: Option<f64>| {
        if let Some(s) = job.steps.iter_mut().find(|s| s.name == step) {
            s.state = state;
            if seconds.is_some() {
                s.seconds = seconds;
            }
        }
    };
    match ev {
        Event::StepStarted { step } => set(job, &step, StepState::Running, None),
        Event::StepFinished { step, seconds } => set(job, &step, StepState::Done, Some(seconds)),
        Event::StepSkipped { step, .. } => set(job, &step, StepState::Skipped, None),
        Event::StepFailed { step, error } => {
            set(job, &step, StepState::Failed, None);
            push_log(job, format!("FAILED: {error}"));
        }
        Event::Warning(w) => {
            push_log(job, format!("warning: {w}"));
            job.warnings.push(w);
        }
        Event::Log(l) => push_log(job, l),
    }
}

fn push_log(job: &mut JobView, line: String) {
    if job.log.len() == LOG_CAP {
        job.log.pop_front();
    }
    // A huge line from a command must not blow up the screen or memory.
    job.log.push_back(line.chars().take(500).collect());
}

fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return if app.job_running() {
            app.confirm = Some(Confirm::Quit);
            None
        } else {
            app.quit = true;
            None
        };
    }
    if let Some(c) = app.confirm {
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                app.confirm = None;
                if c == Confirm::Quit {
                    app.quit = true;
                }
                return if app.job_running() { Some(Cmd::CancelJob) } else { None };
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => app.confirm = None,
            _ => {}
        }
        return None;
    }
    if app.help {
        if matches!(k.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')) {
            app.help = false;
        }
        return None;
    }
    match k.code {
        KeyCode::Char('?') => {
            app.help = true;
            return None;
        }
        KeyCode::Char('i') => {
            app.walkthrough = !app.walkthrough;
            return None;
        }
        KeyCode::Char('q') => {
            if app.job_running() {
                app.confirm = Some(Confirm::Quit);
            } else {
                app.quit = true;
            }
            return None;
        }
        _ => {}
    }
    match app.screen {
        Screen::Request => match k.code {
            KeyCode::Down | KeyCode::Char('j') => app.select(app.selected + 1),
            KeyCode::Up | KeyCode::Char('k') => app.select(app.selected.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => app.select(0),
            KeyCode::End | KeyCode::Char('G') => app.select(usize::MAX),
            KeyCode::Left | KeyCode::Char('h') => {
                app.move_target(-1);
                None
            }
            KeyCode::Right | KeyCode::Char('l') => {
                app.move_target(1);
                None
            }
            KeyCode::Char('r') => Some(Cmd::LoadDbs),
            KeyCode::Enter => match (&app.inspection, app.target) {
                (Some(i), Some(t)) if !app.job_running() => Some(Cmd::StartTest { db: i.db.clone(), target: t.to_string() }),
                (_, _) if app.job_running() => {
                    app.screen = Screen::Wait;
                    None
                }
                _ => None,
            },
            KeyCode::Esc if app.job.is_some() => {
                app.screen = if app.job_running() { Screen::Wait } else { Screen::Ready };
                None
            }
            _ => None,
        },
        Screen::Wait => {
            let job = app.job.as_mut()?;
            match k.code {
                KeyCode::PageUp | KeyCode::Char('K') => job.scroll = (job.scroll + 10).min(job.log.len()),
                KeyCode::PageDown | KeyCode::Char('J') => job.scroll = job.scroll.saturating_sub(10),
                KeyCode::Char('c') if job.running() => app.confirm = Some(Confirm::CancelJob),
                KeyCode::Esc => app.screen = Screen::Request,
                KeyCode::Enter if matches!(job.result, Some(Ok(_))) => app.screen = Screen::Ready,
                _ => {}
            }
            None
        }
        Screen::Ready => {
            match k.code {
                KeyCode::Esc => app.screen = Screen::Wait,
                KeyCode::Enter | KeyCode::Char('n') => app.screen = Screen::Request,
                _ => {}
            }
            None
        }
    }
}

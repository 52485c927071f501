//! The TUI's model and `update`: pure state transitions. Side effects (database,
//! jobs) are asked for through [`Cmd`] and come back as [`Msg`].

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::flow::{CampView, Form, Prompt, PromptKind, SwapView};
use crate::campaign::anomaly::Anomaly;
use crate::campaign::checklist::States;
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
    Checklist,
    Anomalies,
    AnomalyForm,
    Freeze,
    Restore,
}

impl Screen {
    pub const ALL: [Screen; 8] = [
        Screen::Request,
        Screen::Wait,
        Screen::Ready,
        Screen::Checklist,
        Screen::Anomalies,
        Screen::AnomalyForm,
        Screen::Freeze,
        Screen::Restore,
    ];
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
    /// A production job (step 8) rather than a test job (step 2).
    pub production: bool,
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
    /// Followed from another process's job file (job id, pid), not run here.
    pub attached: Option<(String, u32)>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    CancelJob,
    Quit,
    /// A new test while a test copy exists: drop it or keep it.
    NewTest {
        previous: Option<String>,
    },
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
    pub camp: Option<CampView>,
    pub cursor: usize,
    pub anomaly_cursor: usize,
    pub filter: String,
    pub form: Option<Form>,
    pub prompt: Option<Prompt>,
    pub swap_result: Option<SwapView>,
    /// The first campaign read decides the opening screen (where the campaign stands).
    pub opened: bool,
    /// A freeze scheduled from the Freeze screen, and the clock that counts down to it.
    pub freeze_at: Option<chrono::DateTime<chrono::Utc>>,
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Dbs(Result<Vec<DbRow>, String>),
    Inspected(String, Result<Inspection, String>),
    JobStarted {
        db: String,
        target: String,
        steps: Vec<String>,
        connect: String,
        production: bool,
    },
    Campaign(Result<CampView, String>),
    Saved(Result<(), String>),
    Reported(Result<String, String>),
    Frozen(Result<String, String>),
    Swapped(Result<SwapView, String>),
    Paste(String),
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

#[derive(Debug, PartialEq)]
pub enum Cmd {
    LoadDbs,
    Inspect(String),
    StartTest {
        db: String,
        target: String,
        drop_previous: Option<String>,
    },
    CancelJob,
    LoadCampaign(String),
    SaveCampaign {
        db: String,
        checklist: States,
        anomalies: Vec<Anomaly>,
    },
    ExportReport(String),
    Freeze(String),
    StartProduction {
        db: String,
        target: String,
    },
    Restore(String),
    Rollback(String),
    /// Re-read the job file of an attached job.
    Poll(String),
    /// Drop what an interrupted or failed job made.
    Discard(String),
    /// SIGTERM to the process running an attached job: it stops cleanly.
    StopOther(u32),
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
            camp: None,
            cursor: 0,
            anomaly_cursor: 0,
            filter: String::new(),
            form: None,
            prompt: None,
            swap_result: None,
            opened: false,
            freeze_at: None,
            now: None,
        }
    }

    /// Position in the nine steps of DESIGN.md §1.
    pub fn step(&self) -> usize {
        match self.screen {
            Screen::Request => 1,
            Screen::Wait if self.job.as_ref().is_some_and(|j| j.production) => 8,
            Screen::Wait => 2,
            Screen::Ready => 3,
            Screen::Checklist => 4,
            Screen::Anomalies | Screen::AnomalyForm => 5,
            Screen::Freeze => 7,
            Screen::Restore => 9,
        }
    }

    /// The database the campaign is about: the selected one.
    pub fn campaign_db(&self) -> Option<String> {
        self.camp
            .as_ref()
            .map(|c| c.db.clone())
            .or_else(|| self.selected_db().map(|d| d.name.clone()))
    }

    pub fn selected_db(&self) -> Option<&DbRow> {
        self.dbs.get(self.selected)
    }

    pub fn job_running(&self) -> bool {
        self.job.as_ref().is_some_and(JobView::running)
    }

    /// A job this process runs (an attached one belongs to another process:
    /// quitting leaves it running).
    pub fn owns_running_job(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| j.running() && j.attached.is_none())
    }

    /// Targets offered for the selected database: the next majors up to the last known.
    pub fn targets(&self) -> Vec<Series> {
        let Some(i) = &self.inspection else {
            return Vec::new();
        };
        let from = i.series.major;
        (from + 1..=*crate::odoo::version::KNOWN_MAJORS.end())
            .map(|m| Series::new(m, 0))
            .collect()
    }

    fn select(&mut self, idx: usize) -> Option<Cmd> {
        if self.dbs.is_empty() {
            return None;
        }
        let idx = idx.min(self.dbs.len() - 1);
        if idx == self.selected {
            return None;
        }
        self.selected = idx;
        self.inspection = None;
        self.camp = None;
        self.target = None;
        self.selected_db().map(|d| Cmd::Inspect(d.name.clone()))
    }

    fn move_target(&mut self, delta: i32) {
        let targets = self.targets();
        if targets.is_empty() {
            return;
        }
        let cur = self
            .target
            .and_then(|t| targets.iter().position(|x| *x == t))
            .unwrap_or(0) as i32;
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
                    return Some(Cmd::LoadCampaign(db));
                }
                Err(e) => {
                    app.inspection = None;
                    app.message = Some(e);
                }
            }
            None
        }
        Msg::JobStarted {
            db,
            target,
            steps,
            connect,
            production,
        } => {
            app.job = Some(JobView {
                production,
                db,
                connect,
                target,
                steps: steps
                    .into_iter()
                    .map(|name| StepView {
                        name,
                        state: StepState::Todo,
                        seconds: None,
                    })
                    .collect(),
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
            let job = app.job.as_mut()?;
            let ok = res.is_ok();
            if let Err(e) = &res {
                app.message = Some(e.clone());
            }
            job.result = Some(res);
            if app.confirm == Some(Confirm::CancelJob) {
                app.confirm = None;
            }
            let production = job.production;
            if app.confirm == Some(Confirm::Quit) || app.quit {
                app.quit = true;
            }
            if ok {
                app.screen = if production {
                    Screen::Restore
                } else {
                    Screen::Ready
                };
                return app.campaign_db().map(Cmd::LoadCampaign);
            }
            None
        }
        Msg::Campaign(_)
        | Msg::Saved(_)
        | Msg::Reported(_)
        | Msg::Frozen(_)
        | Msg::Swapped(_)
        | Msg::Paste(_)
        | Msg::Clock(_) => super::flow::update(app, msg),
        Msg::Tick(elapsed) => {
            let job = app.job.as_mut().filter(|j| j.running())?;
            if let Some((id, _)) = &job.attached {
                return Some(Cmd::Poll(id.clone()));
            }
            job.elapsed = elapsed;
            None
        }
        Msg::Attached {
            record,
            log,
            elapsed,
        } => {
            let job = app.job.as_mut()?;
            job.steps = record
                .steps
                .iter()
                .map(|s| StepView {
                    name: s.name.clone(),
                    state: match s.status {
                        crate::engine::job::StepStatus::Pending => StepState::Todo,
                        crate::engine::job::StepStatus::Running => StepState::Running,
                        crate::engine::job::StepStatus::Done => StepState::Done,
                        crate::engine::job::StepStatus::Skipped => StepState::Skipped,
                        crate::engine::job::StepStatus::Failed => StepState::Failed,
                    },
                    seconds: s.seconds,
                })
                .collect();
            let done = record
                .steps
                .iter()
                .filter(|s| s.status == crate::engine::job::StepStatus::Done)
                .count();
            job.progress = Progress {
                step: record
                    .steps
                    .get(done)
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                index: done,
                count: record.steps.len(),
                fraction: None,
                detail: "followed from another process".into(),
            };
            job.log = log.into_iter().collect();
            job.elapsed = elapsed;
            match record.effective_status() {
                "running" => None,
                "ready" => update(app, Msg::JobDone(Ok(*record))),
                other => {
                    let e = record
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("the job is {other}"));
                    update(app, Msg::JobDone(Err(e)))
                }
            }
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
    // Text being typed takes every key but Ctrl-C.
    let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
    if (app.prompt.is_some() || app.screen == Screen::AnomalyForm) && !ctrl_c {
        return super::flow::text_key(app, k);
    }
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return if app.owns_running_job() {
            app.confirm = Some(Confirm::Quit);
            None
        } else {
            app.quit = true;
            None
        };
    }
    if let Some(Confirm::NewTest { previous }) = app.confirm.clone() {
        return super::flow::new_test_choice(app, k, previous);
    }
    if let Some(c) = app.confirm.clone() {
        match k.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                app.confirm = None;
                if c == Confirm::Quit {
                    app.quit = true;
                }
                let attached = app.job.as_ref().and_then(|j| j.attached.clone());
                return match attached {
                    Some((_, pid)) if app.job_running() => Some(Cmd::StopOther(pid)),
                    _ if app.job_running() => Some(Cmd::CancelJob),
                    _ => None,
                };
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => app.confirm = None,
            _ => {}
        }
        return None;
    }
    if app.help {
        if matches!(
            k.code,
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
        ) {
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
            if app.owns_running_job() {
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
            KeyCode::Char('D') => app
                .camp
                .as_ref()
                .filter(|c| c.unfinished.is_some())
                .map(|c| Cmd::Discard(c.db.clone())),
            KeyCode::Enter
                if app.camp.as_ref().is_some_and(|c| {
                    c.unfinished.as_ref().is_some_and(|u| u.state != "running")
                }) && !app.job_running() =>
            {
                let c = app.camp.as_ref()?;
                let u = c.unfinished.as_ref()?;
                // Running it again resumes it (journaled steps are skipped).
                Some(if u.production {
                    Cmd::StartProduction {
                        db: c.db.clone(),
                        target: u.target.clone(),
                    }
                } else {
                    Cmd::StartTest {
                        db: c.db.clone(),
                        target: u.target.clone(),
                        drop_previous: None,
                    }
                })
            }
            KeyCode::Enter => match (&app.inspection, app.target) {
                (Some(i), Some(t)) if !app.job_running() => Some(Cmd::StartTest {
                    db: i.db.clone(),
                    target: t.to_string(),
                    drop_previous: None,
                }),
                (_, _) if app.job_running() => {
                    app.screen = Screen::Wait;
                    None
                }
                _ => None,
            },
            KeyCode::Esc if app.job.is_some() => {
                app.screen = if app.job_running() {
                    Screen::Wait
                } else {
                    Screen::Ready
                };
                None
            }
            _ => super::flow::key(app, k),
        },
        Screen::Wait => {
            let job = app.job.as_mut()?;
            match k.code {
                KeyCode::PageUp | KeyCode::Char('K') => {
                    job.scroll = (job.scroll + 10).min(job.log.len())
                }
                KeyCode::PageDown | KeyCode::Char('J') => {
                    job.scroll = job.scroll.saturating_sub(10)
                }
                KeyCode::Char('c') if job.running() => app.confirm = Some(Confirm::CancelJob),
                KeyCode::Esc => app.screen = Screen::Request,
                KeyCode::Enter if matches!(job.result, Some(Ok(_))) => app.screen = Screen::Ready,
                _ => {}
            }
            None
        }
        Screen::Ready => match k.code {
            KeyCode::Esc => {
                app.screen = Screen::Wait;
                None
            }
            KeyCode::Char('n') => {
                app.screen = Screen::Request;
                None
            }
            _ => super::flow::key(app, k),
        },
        _ => super::flow::key(app, k),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    pub fn inspection(db: &str) -> Inspection {
        Inspection {
            db: db.into(),
            series: Series::new(16, 0),
            base_version: "16.0.1.3".into(),
            installed_count: 26,
            installed: Vec::new(),
            pending: Vec::new(),
            custom_modules: vec!["acme_delivery_rules".into()],
            size_bytes: 9_961_472,
            sessions: Vec::new(),
            neutralized: false,
            uuid: None,
            studio: false,
            code_actions: Vec::new(),
            custom_views: Vec::new(),
        }
    }

    fn app_with_db() -> App {
        let mut app = App::new("db.example:5432".into(), vec!["17.0".into()]);
        let dbs = vec![
            DbRow {
                name: "prod".into(),
                size: 10 << 20,
                series: None,
                modules: None,
            },
            DbRow {
                name: "other".into(),
                size: 1 << 20,
                series: None,
                modules: None,
            },
        ];
        assert_eq!(
            update(&mut app, Msg::Dbs(Ok(dbs))),
            Some(Cmd::Inspect("prod".into()))
        );
        assert_eq!(
            update(
                &mut app,
                Msg::Inspected("prod".into(), Ok(inspection("prod")))
            ),
            Some(Cmd::LoadCampaign("prod".into()))
        );
        app
    }

    #[test]
    fn request_to_wait_to_ready() {
        let mut app = app_with_db();
        assert_eq!(
            app.target,
            Some(Series::new(17, 0)),
            "the next major is proposed"
        );
        assert_eq!(app.dbs[0].series.as_deref(), Some("16.0"));
        update(&mut app, key(KeyCode::Char('l')));
        assert_eq!(app.target, Some(Series::new(18, 0)));
        update(&mut app, key(KeyCode::Char('h')));
        update(&mut app, key(KeyCode::Char('h')));
        assert_eq!(
            app.target,
            Some(Series::new(17, 0)),
            "never below the next major"
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None
            })
        );
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec!["clone".into(), "verify".into()],
                connect: "psql".into(),
                production: false,
            },
        );
        assert_eq!(app.screen, Screen::Wait);
        update(
            &mut app,
            Msg::Job(Event::StepStarted {
                step: "clone".into(),
            }),
        );
        update(
            &mut app,
            Msg::Job(Event::StepFinished {
                step: "clone".into(),
                seconds: 1.5,
            }),
        );
        let job = app.job.as_ref().unwrap();
        assert_eq!(job.steps[0].state, StepState::Done);
        assert_eq!(job.steps[0].seconds, Some(1.5));
        assert_eq!(job.steps[1].state, StepState::Todo);
        update(
            &mut app,
            Msg::JobDone(Err("verification failed: crons".into())),
        );
        assert_eq!(
            app.screen,
            Screen::Wait,
            "a failed job stays on Wait with its error"
        );
        assert_eq!(app.message.as_deref(), Some("verification failed: crons"));
    }

    #[test]
    fn selecting_another_db_inspects_it_and_ignores_stale_answers() {
        let mut app = app_with_db();
        assert_eq!(
            update(&mut app, key(KeyCode::Char('j'))),
            Some(Cmd::Inspect("other".into()))
        );
        assert!(app.inspection.is_none());
        update(
            &mut app,
            Msg::Inspected("prod".into(), Ok(inspection("prod"))),
        );
        assert!(
            app.inspection.is_none(),
            "an answer for the old row is dropped"
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Down)),
            None,
            "already at the last row"
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            None,
            "nothing to start before inspection"
        );
    }

    #[test]
    fn quitting_during_a_job_asks_and_cancels() {
        let mut app = app_with_db();
        update(&mut app, key(KeyCode::Enter));
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec![],
                connect: String::new(),
                production: false,
            },
        );
        update(&mut app, key(KeyCode::Char('q')));
        assert_eq!(app.confirm, Some(Confirm::Quit));
        assert!(!app.quit);
        update(&mut app, key(KeyCode::Char('n')));
        assert_eq!(app.confirm, None);
        update(&mut app, key(KeyCode::Char('c')));
        assert_eq!(app.confirm, Some(Confirm::CancelJob));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Cmd::CancelJob)
        );
        assert!(!app.quit, "cancel is not quit");
        update(&mut app, key(KeyCode::Char('q')));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Cmd::CancelJob)
        );
        assert!(app.quit);
    }

    #[test]
    fn help_swallows_keys_and_log_is_bounded() {
        let mut app = app_with_db();
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.help);
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            None,
            "keys do not act behind the help"
        );
        update(&mut app, key(KeyCode::Esc));
        assert!(!app.help);
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec![],
                connect: String::new(),
                production: false,
            },
        );
        for i in 0..(LOG_CAP + 500) {
            update(
                &mut app,
                Msg::Job(Event::Log(format!("line {i} {}", "x".repeat(2000)))),
            );
        }
        let job = app.job.as_ref().unwrap();
        assert_eq!(job.log.len(), LOG_CAP);
        assert!(
            job.log
                .back()
                .unwrap()
                .starts_with(&format!("line {}", LOG_CAP + 499))
        );
        assert!(job.log.iter().all(|l| l.chars().count() <= 500));
    }
}

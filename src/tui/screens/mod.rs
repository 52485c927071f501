//! One module per screen, each with its state, its keys, its update and its
//! view. This file is the dispatch: one exhaustive `match` per concern, so a
//! new screen is a new module plus one arm in each (the compiler lists them).

pub mod anomalies;
pub mod anomaly_form;
pub mod checklist;
pub mod freeze;
pub mod ready;
pub mod request;
pub mod restore;
pub mod wait;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph};

use super::App;
use super::keymap::Binding;
use super::model::Cmd;
use super::theme::Theme;

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

    /// Its entry in `assets/walkthrough.toml`.
    pub fn walkthrough(self) -> &'static str {
        match self {
            Screen::Request => "request",
            Screen::Wait => "wait",
            Screen::Ready => "ready",
            Screen::Checklist => "checklist",
            Screen::Anomalies | Screen::AnomalyForm => "anomalies",
            Screen::Freeze => "freeze",
            Screen::Restore => "restore",
        }
    }

    /// The screen takes typed text: printable keys are its own, not global ones.
    pub fn takes_text(self) -> bool {
        match self {
            Screen::AnomalyForm => true,
            Screen::Request
            | Screen::Wait
            | Screen::Ready
            | Screen::Checklist
            | Screen::Anomalies
            | Screen::Freeze
            | Screen::Restore => false,
        }
    }
}

/// What a prompt is for: which screen asked, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    Checklist(checklist::Ask),
    Freeze(freeze::Ask),
    Restore(restore::Ask),
}

/// The prompt's text changed (the checklist filter applies as it is typed).
pub fn edited(app: &mut App, purpose: &Purpose, input: &str) {
    match purpose {
        Purpose::Checklist(ask) => checklist::edited(app, ask, input),
        Purpose::Freeze(_) | Purpose::Restore(_) => {}
    }
}

/// The prompt was answered (a typed confirmation matched): to the screen that asked.
pub fn answer(app: &mut App, purpose: Purpose, input: &str) -> Option<Cmd> {
    app.campaign_db()?;
    match purpose {
        Purpose::Checklist(ask) => checklist::answer(app, ask, input),
        Purpose::Freeze(ask) => freeze::answer(app, ask, input),
        Purpose::Restore(ask) => restore::answer(app, ask),
    }
}

/// Position of the shown screen in the nine steps of the design.
pub fn step(app: &App) -> usize {
    match app.screen {
        Screen::Request => 1,
        Screen::Wait if app.job.as_ref().is_some_and(|j| j.production) => 8,
        Screen::Wait => 2,
        Screen::Ready => 3,
        Screen::Checklist => 4,
        Screen::Anomalies | Screen::AnomalyForm => 5,
        Screen::Freeze => 7,
        Screen::Restore => 9,
    }
}

/// The keys of a screen, for its footer and its help.
pub fn keys(s: Screen) -> &'static [Binding] {
    match s {
        Screen::Request => request::KEYS,
        Screen::Wait => wait::KEYS,
        Screen::Ready => ready::KEYS,
        Screen::Checklist => checklist::KEYS,
        Screen::Anomalies => anomalies::KEYS,
        Screen::AnomalyForm => anomaly_form::KEYS,
        Screen::Freeze => freeze::KEYS,
        Screen::Restore => restore::KEYS,
    }
}

/// A key for the shown screen (overlays and global keys came first).
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    match app.screen {
        Screen::Request => request::key(app, k),
        Screen::Wait => wait::key(app, k),
        Screen::Ready => ready::key(app, k),
        Screen::Checklist => checklist::key(app, k),
        Screen::Anomalies => anomalies::key(app, k),
        Screen::AnomalyForm => anomaly_form::key(app, k),
        Screen::Freeze => freeze::key(app, k),
        Screen::Restore => restore::key(app, k),
    }
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    match app.screen {
        Screen::Request => request::view(app, f, area, theme),
        Screen::Wait => wait::view(app, f, area, theme),
        Screen::Ready => ready::view(app, f, area, theme),
        Screen::Checklist => checklist::view(app, f, area, theme),
        Screen::Anomalies => anomalies::view(app, f, area, theme),
        Screen::AnomalyForm => anomaly_form::view(app, f, area, theme),
        Screen::Freeze => freeze::view(app, f, area, theme),
        Screen::Restore => restore::view(app, f, area, theme),
    }
}

/// Shown while the campaign is being read.
pub(super) fn loading(f: &mut Frame, area: Rect, theme: &Theme) {
    f.render_widget(
        Paragraph::new(Span::styled("reading the campaign…", theme.dim())).block(Block::bordered()),
        area,
    );
}

/// Opens the checklist (step 4), reading the campaign if it is not there yet.
pub(super) fn open_checklist(app: &mut App) -> Option<Cmd> {
    app.screen = Screen::Checklist;
    app.campaign_db()
        .filter(|_| app.camp.is_none())
        .map(Cmd::LoadCampaign)
}

/// Opens the anomaly list (step 5), reading the campaign if it is not there yet.
pub(super) fn open_anomalies(app: &mut App) -> Option<Cmd> {
    app.screen = Screen::Anomalies;
    app.campaign_db()
        .filter(|_| app.camp.is_none())
        .map(Cmd::LoadCampaign)
}

/// Opens Freeze (step 7) on a fresh read: sessions and freeze state change outside.
pub(super) fn open_freeze(app: &mut App) -> Option<Cmd> {
    app.screen = Screen::Freeze;
    app.campaign_db().map(Cmd::LoadCampaign)
}

/// Step 6: asks whether to drop or keep the previous test copy.
pub(super) fn new_test(app: &mut App) -> Option<Cmd> {
    if app.job_running() {
        app.message = Some("a job is running: one test at a time".into());
        return None;
    }
    let previous = app.camp.as_ref().and_then(|c| c.test_db.clone());
    app.confirm = Some(super::overlays::confirm::Confirm::NewTest { previous });
    None
}

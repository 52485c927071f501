//! One module per screen, each with its state, its key table, its update and
//! its view, gathered in a [`Room`]. The dispatch is [`room`]: one exhaustive
//! `match`, so a new screen is a new module plus one line there (and one
//! variant of [`Screen`]). Navigation (go, back, the digit jumps, what each
//! of the nine steps allows) is here too: it is the same for every screen.

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
use super::keymap::{self, Hint, Key};
use super::model::Cmd;
use super::overlays::confirm::Confirm;
use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
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

/// What the rest of the TUI knows of a screen. No trait objects: functions.
pub struct Room {
    /// Its entry in `assets/walkthrough.toml`.
    pub walkthrough: &'static str,
    /// Its place in the nine steps.
    pub step: fn(&App) -> usize,
    /// It takes typed text: every key is its own (but Ctrl-C).
    pub takes_text: bool,
    /// A key, resolved through the screen's table.
    pub key: fn(&mut App, KeyEvent) -> Option<Cmd>,
    pub view: fn(&App, &mut Frame, Rect, &Theme),
    /// Its key table, for the footer and the help.
    pub hints: fn() -> Vec<Hint>,
    /// What is wrong with its key table (empty when right).
    pub problems: fn() -> Vec<String>,
    /// Every key its table binds, with the keys as the help writes them.
    pub bound: fn() -> Vec<(Key, &'static str)>,
}

/// The dispatch: one line per screen.
pub fn room(s: Screen) -> &'static Room {
    match s {
        Screen::Request => &request::ROOM,
        Screen::Wait => &wait::ROOM,
        Screen::Ready => &ready::ROOM,
        Screen::Checklist => &checklist::ROOM,
        Screen::Anomalies => &anomalies::ROOM,
        Screen::AnomalyForm => &anomaly_form::ROOM,
        Screen::Freeze => &freeze::ROOM,
        Screen::Restore => &restore::ROOM,
    }
}

impl Screen {
    pub fn walkthrough(self) -> &'static str {
        room(self).walkthrough
    }

    pub fn takes_text(self) -> bool {
        room(self).takes_text
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
    (room(app.screen).step)(app)
}

/// A key for the shown screen (overlays and global keys came first).
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    (room(app.screen).key)(app, k)
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    (room(app.screen).view)(app, f, area, theme)
}

/// The key table of a screen, for its footer and its help.
pub fn hints(s: Screen) -> Vec<Hint> {
    (room(s).hints)()
}

/// Shown while the campaign is being read.
pub(super) fn loading(f: &mut Frame, area: Rect, theme: &Theme) {
    f.render_widget(
        Paragraph::new(Span::styled("reading the campaign…", theme.dim())).block(Block::bordered()),
        area,
    );
}

/// History kept for Esc; older screens are forgotten.
const HISTORY: usize = 32;

/// Shows `to`; Esc comes back to the screen shown now.
pub fn go(app: &mut App, to: Screen) {
    if app.screen != to {
        app.history.push(app.screen);
        if app.history.len() > HISTORY {
            app.history.remove(0);
        }
    }
    app.screen = to;
}

/// Esc: back to the screen you came from (one that can still be shown); from
/// the screen the TUI opened on, to the request (step 1).
pub fn back(app: &mut App) {
    // The rows of an automatic check close first.
    if app.screen == Screen::Checklist && app.checklist.rows {
        app.checklist.rows = false;
        return;
    }
    while let Some(s) = app.history.pop() {
        if s != app.screen && showable(app, s).is_ok() {
            app.screen = s;
            return;
        }
    }
    app.screen = Screen::Request;
}

/// How a test job starts, for the why-not lines.
fn start_hint() -> String {
    format!(
        "{} on Request (1) starts one",
        keymap::keys_of(request::KEYS, request::Action::Start)
    )
}

/// Whether `s` has something to show now, or why not.
fn showable(app: &App, s: Screen) -> Result<(), String> {
    let test_job = app.job.as_ref().is_some_and(|j| !j.production);
    match s {
        Screen::Request => Ok(()),
        Screen::Wait if app.job.is_some() => Ok(()),
        Screen::Wait => Err(format!("no job yet; {}", start_hint())),
        Screen::Ready if ready::record(app).is_some() => Ok(()),
        Screen::Ready if test_job && app.job_running() => {
            Err("not ready yet: the test job is running (2)".into())
        }
        Screen::Ready => Err(format!("no test database yet; {}", start_hint())),
        Screen::AnomalyForm if app.form.is_none() => Err("no anomaly is being edited".into()),
        Screen::Checklist | Screen::Anomalies | Screen::AnomalyForm | Screen::Freeze => {
            match app.campaign_db() {
                Some(_) => Ok(()),
                None => Err("no database selected yet".into()),
            }
        }
        Screen::Restore => match &app.camp {
            Some(c)
                if c.upgraded_ready.is_some()
                    || c.rollback_plan.is_some()
                    || app.restore.result.is_some() =>
            {
                Ok(())
            }
            _ => Err("nothing to restore yet; production (8) makes the copy".into()),
        },
    }
}

/// The names of the nine steps, full and short (for 80 columns).
pub const STEPS: [(&str, &str); 9] = [
    ("Request", "Req"),
    ("Wait", "Wait"),
    ("Test db", "Test"),
    ("Checklist", "Check"),
    ("Anomalies", "Anom"),
    ("Retest", "Retest"),
    ("Freeze", "Freeze"),
    ("Production", "Prod"),
    ("Restore", "Restore"),
];

/// Where step `n` (1–9) is, or why it cannot be opened now.
fn reach(app: &App, n: usize) -> Result<Reach, String> {
    let job_is = |production: bool| app.job.as_ref().is_some_and(|j| j.production == production);
    let screen = match n {
        1 => Screen::Request,
        2 if job_is(false) => Screen::Wait,
        2 => return Err(format!("no test job yet; {}", start_hint())),
        3 => Screen::Ready,
        4 => Screen::Checklist,
        5 => Screen::Anomalies,
        6 => {
            if app.job_running() {
                return Err("a job is running: one test at a time".into());
            }
            return match app.camp {
                Some(_) => Ok(Reach::NewTest),
                None => Err("no database selected yet".into()),
            };
        }
        7 => Screen::Freeze,
        8 if job_is(true) => Screen::Wait,
        8 => {
            return Err(format!(
                "no production job yet; {} on Freeze (7) starts it",
                keymap::keys_of(freeze::KEYS, freeze::Action::Upgrade)
            ));
        }
        9 => Screen::Restore,
        _ => return Err(format!("there is no step {n}: the steps are 1 to 9")),
    };
    showable(app, screen).map(|()| Reach::Screen(screen))
}

enum Reach {
    Screen(Screen),
    /// Step 6 is a question, not a screen: drop or keep the previous copy.
    NewTest,
}

/// A digit: go to that step, or say why not.
pub fn jump(app: &mut App, n: usize) -> Option<Cmd> {
    match reach(app, n) {
        Ok(Reach::Screen(s)) => {
            app.message = None;
            match s {
                Screen::Checklist => open_checklist(app),
                Screen::Anomalies => open_anomalies(app),
                Screen::Freeze => open_freeze(app),
                Screen::Request
                | Screen::Wait
                | Screen::Ready
                | Screen::AnomalyForm
                | Screen::Restore => {
                    go(app, s);
                    None
                }
            }
        }
        Ok(Reach::NewTest) => new_test(app),
        Err(why) => {
            let name = STEPS.get(n.wrapping_sub(1)).map(|s| s.0).unwrap_or("?");
            app.message = Some(format!("step {n} ({name}): {why}"));
            None
        }
    }
}

/// How a step shows in the stepper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Done,
    Current,
    /// Can be opened, not done.
    Open,
    /// Cannot be opened now (its digit says why).
    Blocked,
}

/// The mark of step `n` (1–9), from the campaign and the job.
pub fn mark(app: &App, n: usize) -> Mark {
    if n == step(app) {
        return Mark::Current;
    }
    let c = app.camp.as_ref();
    let has_test = c.is_some_and(|c| c.test_db.is_some()) || ready::record(app).is_some();
    let upgraded = c.is_some_and(|c| c.upgraded_ready.is_some() || c.rollback_plan.is_some());
    let done = match n {
        1 => has_test || app.job.is_some(),
        2 | 3 => has_test,
        4 => has_test && c.is_some_and(|c| c.summary().complete()),
        5 | 6 => c.is_some_and(|c| c.tested()),
        7 => c.is_some_and(|c| c.frozen_since.is_some()) || upgraded,
        8 => upgraded,
        9 => c.is_some_and(|c| c.rollback_plan.is_some()),
        _ => false,
    };
    if done {
        Mark::Done
    } else if reach(app, n).is_ok() {
        Mark::Open
    } else {
        Mark::Blocked
    }
}

/// Opens the checklist (step 4), reading the campaign if it is not there yet.
pub(super) fn open_checklist(app: &mut App) -> Option<Cmd> {
    go(app, Screen::Checklist);
    app.campaign_db()
        .filter(|_| app.camp.is_none())
        .map(Cmd::LoadCampaign)
}

/// Opens the anomaly list (step 5), reading the campaign if it is not there yet.
pub(super) fn open_anomalies(app: &mut App) -> Option<Cmd> {
    go(app, Screen::Anomalies);
    app.campaign_db()
        .filter(|_| app.camp.is_none())
        .map(Cmd::LoadCampaign)
}

/// Opens Freeze (step 7) on a fresh read: sessions and freeze state change outside.
pub(super) fn open_freeze(app: &mut App) -> Option<Cmd> {
    go(app, Screen::Freeze);
    app.campaign_db().map(Cmd::LoadCampaign)
}

/// Step 6: asks whether to drop or keep the previous test copy.
pub(super) fn new_test(app: &mut App) -> Option<Cmd> {
    if app.job_running() {
        app.message = Some("a job is running: one test at a time".into());
        return None;
    }
    let previous = app.camp.as_ref().and_then(|c| c.test_db.clone());
    app.confirm = Some(Confirm::NewTest { previous });
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;
    use strum::IntoEnumIterator;

    /// Esc is "back to where you came from" on every screen.
    #[test]
    fn esc_returns_to_the_screen_you_came_from() {
        let mut app = ready_app();
        update(&mut app, Msg::Campaign(Ok(camp())));
        assert_eq!(app.screen, Screen::Ready);
        for (key, opened) in [
            ('a', Screen::Anomalies),
            ('c', Screen::Checklist),
            ('f', Screen::Freeze),
        ] {
            update(&mut app, press(KeyCode::Char(key)));
            assert_eq!(app.screen, opened);
            update(&mut app, press(KeyCode::Esc));
            assert_eq!(
                app.screen,
                Screen::Ready,
                "Esc from {opened:?} opened from Ready"
            );
        }
        update(&mut app, press(KeyCode::Char('c')));
        update(&mut app, press(KeyCode::Char('a')));
        update(&mut app, press(KeyCode::Esc));
        assert_eq!(
            app.screen,
            Screen::Checklist,
            "Esc from Anomalies opened from the checklist"
        );
        update(&mut app, press(KeyCode::Esc));
        assert_eq!(app.screen, Screen::Ready);
        update(&mut app, press(KeyCode::Esc));
        assert_eq!(
            app.screen,
            Screen::Wait,
            "the job that made the test database"
        );
        update(&mut app, press(KeyCode::Esc));
        assert_eq!(app.screen, Screen::Request);
    }

    /// A digit opens the step the campaign allows, and says why not otherwise.
    #[test]
    fn digits_jump_to_allowed_steps() {
        let mut app = app_on(Screen::Checklist);
        assert_eq!(
            update(&mut app, press(KeyCode::Char('7'))),
            Some(Cmd::LoadCampaign("prod".into()))
        );
        assert_eq!(app.screen, Screen::Freeze);
        update(&mut app, press(KeyCode::Char('2')));
        assert_eq!(app.screen, Screen::Freeze, "no job: step 2 stays shut");
        assert_eq!(
            app.message.as_deref(),
            Some("step 2 (Wait): no test job yet; Enter on Request (1) starts one")
        );
        update(&mut app, press(KeyCode::Char('9')));
        assert!(
            app.message
                .as_deref()
                .unwrap()
                .starts_with("step 9 (Restore): nothing to restore yet")
        );
        assert_eq!(mark(&app, 9), Mark::Blocked);
        app.camp.as_mut().unwrap().upgraded_ready = Some("prod_upgrade_17.0".into());
        assert_eq!(mark(&app, 9), Mark::Open);
        update(&mut app, press(KeyCode::Char('9')));
        assert_eq!(app.screen, Screen::Restore);
        assert_eq!(
            app.message, None,
            "a jump that works clears the last why-not"
        );
        update(&mut app, press(KeyCode::Char('6')));
        assert!(
            matches!(app.confirm, Some(Confirm::NewTest { .. })),
            "step 6 asks for a new test"
        );
        update(&mut app, press(KeyCode::Esc));
        update(&mut app, press(KeyCode::Char('4')));
        assert_eq!(
            (app.screen, mark(&app, 4)),
            (Screen::Checklist, Mark::Current)
        );
        assert_eq!(mark(&app, 3), Mark::Done, "a test copy exists");
    }

    /// Every key a user could press: printable ASCII, the named keys, Ctrl+letter.
    fn all_keys() -> Vec<crossterm::event::KeyEvent> {
        use crossterm::event::{KeyEvent, KeyModifiers};
        let mut codes: Vec<KeyCode> = (0x20u8..0x7f).map(|b| KeyCode::Char(b as char)).collect();
        codes.extend([
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Backspace,
            KeyCode::Delete,
            KeyCode::Insert,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Left,
            KeyCode::Right,
            KeyCode::Home,
            KeyCode::End,
            KeyCode::PageUp,
            KeyCode::PageDown,
        ]);
        codes.extend((1..=12).map(KeyCode::F));
        let mut keys: Vec<KeyEvent> = codes
            .into_iter()
            .map(|c| KeyEvent::new(c, KeyModifiers::NONE))
            .collect();
        keys.extend(('a'..='z').map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)));
        keys
    }

    /// The screens in the states where their keys do the most.
    type Make = fn() -> App;

    fn every_screen() -> Vec<(&'static str, Make)> {
        vec![
            ("request", || {
                let mut app = request_app();
                let mut c = camp();
                c.unfinished = Some(unfinished());
                update(&mut app, Msg::Campaign(Ok(c)));
                app.screen = Screen::Request;
                app
            }),
            ("wait", wait_app),
            ("wait, failed", failed_app),
            ("wait, production", production_app),
            ("ready", || {
                let mut app = ready_app();
                update(&mut app, Msg::Campaign(Ok(camp())));
                app
            }),
            ("checklist", || app_on(Screen::Checklist)),
            ("anomalies", || {
                let mut app = app_on(Screen::Checklist);
                update(&mut app, press(KeyCode::Char('f')));
                update(&mut app, ctrl('s'));
                app.message = None;
                app
            }),
            ("freeze", || app_on(Screen::Freeze)),
            ("freeze, frozen", || {
                let mut app = app_on(Screen::Freeze);
                if let Some(c) = app.camp.as_mut() {
                    c.frozen_since = Some("2026-11-23 10:00:00 UTC".into());
                }
                app
            }),
            ("restore", || {
                let mut app = app_on(Screen::Restore);
                if let Some(c) = app.camp.as_mut() {
                    c.restore_plan = Ok("prod → prod_before, prod_upgrade → prod".into());
                    c.rollback_plan = Some("prod → prod_failed, prod_before → prod".into());
                }
                app
            }),
        ]
    }

    /// A key that is in no table (the screen's, the global one) does nothing:
    /// no effect asked, nothing on screen changes. A key handled outside the
    /// table would show here.
    #[test]
    fn a_key_outside_the_tables_does_nothing() {
        for (name, make) in every_screen() {
            let screen = make().screen;
            assert!(!screen.takes_text(), "{name}");
            for k in all_keys() {
                let listed = crate::tui::keymap::bound(crate::tui::keymap::GLOBAL)
                    .iter()
                    .any(|(b, _)| b.matches(&k))
                    || (room(screen).bound)().iter().any(|(b, _)| b.matches(&k));
                if listed {
                    continue;
                }
                let mut app = make();
                let before = render(&app, 100, 30);
                let cmd = update(&mut app, Msg::Key(k));
                assert_eq!(cmd, None, "{name}: {k:?} asked for something");
                assert_eq!(app.screen, screen, "{name}: {k:?} changed the screen");
                assert!(
                    render(&app, 100, 30) == before,
                    "{name}: {k:?} changed what is shown"
                );
            }
        }
    }

    #[test]
    fn every_key_table_is_complete() {
        for s in Screen::iter() {
            assert_eq!((room(s).problems)(), Vec::<String>::new(), "{s:?}");
            assert!(!hints(s).is_empty(), "{s:?}");
        }
    }
}

//! Yes/no questions over a screen: cancel the job, quit during a job, and
//! the new-test choice (drop or keep the previous copy).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::Span;
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    CancelJob,
    Quit,
    /// A new test while a test copy exists: drop it or keep it.
    NewTest {
        previous: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Answer {
    Yes,
    No,
}

pub const YES_NO: &[Entry<Answer>] = &[
    Entry {
        keys: "y/Y",
        desc: "yes",
        foot: "",
        bind: &[(Key::ch('y'), Answer::Yes), (Key::ch('Y'), Answer::Yes)],
    },
    Entry {
        keys: "n/N/Esc",
        desc: "no",
        foot: "",
        bind: &[
            (Key::ch('n'), Answer::No),
            (Key::ch('N'), Answer::No),
            (Key::code(KeyCode::Esc), Answer::No),
        ],
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Choice {
    Drop,
    Keep,
    Cancel,
}

pub const NEW_TEST: &[Entry<Choice>] = &[
    Entry {
        keys: "d",
        desc: "drop it and start",
        foot: "",
        bind: &[(Key::ch('d'), Choice::Drop)],
    },
    Entry {
        keys: "k/y/Enter",
        desc: "keep it and start",
        foot: "",
        bind: &[
            (Key::ch('k'), Choice::Keep),
            (Key::ch('y'), Choice::Keep),
            (Key::code(KeyCode::Enter), Choice::Keep),
        ],
    },
    Entry {
        keys: "Esc/n",
        desc: "cancel",
        foot: "",
        bind: &[
            (Key::code(KeyCode::Esc), Choice::Cancel),
            (Key::ch('n'), Choice::Cancel),
        ],
    },
];

/// Keys while a question is up: it takes them all.
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let c = app.confirm.clone()?;
    if let Confirm::NewTest { previous } = c {
        return new_test_choice(app, keymap::resolve(NEW_TEST, &k)?, previous);
    }
    match keymap::resolve(YES_NO, &k)? {
        Answer::Yes => {
            app.confirm = None;
            if c == Confirm::Quit {
                app.quit = true;
            }
            let attached = app.job.as_ref().and_then(|j| j.attached.clone());
            match attached {
                Some((_, pid)) if app.job_running() => Some(Cmd::StopOther(pid)),
                _ if app.job_running() => Some(Cmd::CancelJob),
                _ => None,
            }
        }
        Answer::No => {
            app.confirm = None;
            None
        }
    }
}

fn new_test_choice(app: &mut App, choice: Choice, previous: Option<String>) -> Option<Cmd> {
    let drop = match choice {
        Choice::Drop if previous.is_some() => previous.clone(),
        // Nothing to drop: d is no answer here.
        Choice::Drop => return None,
        Choice::Keep => None,
        Choice::Cancel => {
            app.confirm = None;
            return None;
        }
    };
    app.confirm = None;
    let camp = app.camp.as_ref()?;
    let target = camp
        .test_target
        .clone()
        .or_else(|| app.request.target.map(|t| t.to_string()))?;
    let engine = Some(app.request.engine_for(&target));
    Some(Cmd::StartTest {
        db: camp.db.clone(),
        target,
        drop_previous: drop,
        engine,
    })
}

pub fn view(c: &Confirm, f: &mut Frame, theme: &Theme) {
    let yes = keymap::keys_of(YES_NO, Answer::Yes);
    let no = keymap::keys_of(YES_NO, Answer::No);
    let drop = keymap::keys_of(NEW_TEST, Choice::Drop);
    let keep = keymap::keys_of(NEW_TEST, Choice::Keep);
    let cancel = keymap::keys_of(NEW_TEST, Choice::Cancel);
    let text = match c {
        Confirm::CancelJob => format!(
            "Cancel the running job?\nThe half-made copy is dropped.\n\n{yes}: cancel it   {no}: keep it running"
        ),
        Confirm::Quit => format!(
            "A job is running. Quit?\nThe job is cancelled and its copy dropped.\n\n{yes}: quit   {no}: stay"
        ),
        Confirm::NewTest { previous: Some(p) } => format!(
            "New test database (after fixing the scripts)?\nPrevious copy: {p}\n{drop}: drop it and start   {keep}: keep it and start\n{cancel}: cancel"
        ),
        Confirm::NewTest { previous: None } => {
            format!("Start a new test database?\n\n{keep}: start   {cancel}: cancel")
        }
    };
    let area = super::centered(f.area(), 64, 7);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text)
            .block(Block::bordered().title(Span::styled(" Confirm ", theme.warn()))),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::keymap::problems;
    use crate::tui::screens::Screen;

    #[test]
    fn question_keys_are_complete() {
        assert_eq!(problems(YES_NO), Vec::<String>::new());
        assert_eq!(problems(NEW_TEST), Vec::<String>::new());
    }
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn new_test_offers_to_drop_or_keep_the_previous_copy() {
        let mut app = app_on(Screen::Checklist);
        assert_eq!(update(&mut app, press(KeyCode::Char('t'))), None);
        assert!(matches!(
            app.confirm,
            Some(Confirm::NewTest { previous: Some(_) })
        ));
        let cmd = update(&mut app, press(KeyCode::Char('d')));
        assert_eq!(
            cmd,
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: Some("prod_test_17.0_2026_11_23_09_30".into()),
                engine: Some(crate::engine::openupgrade::EngineChoice::Plan),
            })
        );
        update(&mut app, press(KeyCode::Char('t')));
        assert_eq!(
            update(&mut app, press(KeyCode::Char('k'))),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None,
                engine: Some(crate::engine::openupgrade::EngineChoice::Plan),
            })
        );
    }
    #[test]
    fn the_new_test_dialog() {
        let mut app = app_on(Screen::Checklist);
        update(&mut app, press(KeyCode::Char('t')));
        insta::assert_snapshot!("new_test_80x24", render(&app, 80, 24));
        app.camp.as_mut().unwrap().test_db = None;
        app.confirm = None;
        update(&mut app, press(KeyCode::Char('t')));
        insta::assert_snapshot!("new_test_first_80x24", render(&app, 80, 24));
    }
}

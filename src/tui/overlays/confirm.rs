//! Yes/no questions over a screen: cancel the job, quit during a job, and
//! the new-test choice (drop or keep the previous copy).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::Span;
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::App;
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

/// Keys while a question is up: it takes them all.
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let c = app.confirm.clone()?;
    if let Confirm::NewTest { previous } = c {
        return new_test_choice(app, k, previous);
    }
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
    None
}

fn new_test_choice(app: &mut App, k: KeyEvent, previous: Option<String>) -> Option<Cmd> {
    let drop = match k.code {
        KeyCode::Char('d') if previous.is_some() => previous.clone(),
        KeyCode::Char('k') | KeyCode::Char('y') | KeyCode::Enter => None,
        KeyCode::Esc | KeyCode::Char('n') => {
            app.confirm = None;
            return None;
        }
        _ => return None,
    };
    app.confirm = None;
    let camp = app.camp.as_ref()?;
    let target = camp
        .test_target
        .clone()
        .or_else(|| app.request.target.map(|t| t.to_string()))?;
    Some(Cmd::StartTest {
        db: camp.db.clone(),
        target,
        drop_previous: drop,
    })
}

pub fn view(c: &Confirm, f: &mut Frame, theme: &Theme) {
    let text = match c {
        Confirm::CancelJob => "Cancel the running job?\nThe half-made copy is dropped.\n\ny: cancel it   n: keep it running".to_string(),
        Confirm::Quit => "A job is running. Quit?\nThe job is cancelled and its copy dropped.\n\ny: quit   n: stay".to_string(),
        Confirm::NewTest { previous: Some(p) } => format!(
            "New test database (after fixing the scripts)?\nPrevious copy: {p}\nd: drop it and start   k: keep it and start\nEsc: cancel"
        ),
        Confirm::NewTest { previous: None } => "Start a new test database?\n\ny: start   Esc: cancel".to_string(),
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
    use crate::tui::screens::Screen;
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
                drop_previous: Some("prod_test_17.0_2026_11_23_09_30".into())
            })
        );
        update(&mut app, press(KeyCode::Char('t')));
        assert_eq!(
            update(&mut app, press(KeyCode::Char('k'))),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None
            })
        );
    }
}

//! Step 9: swap the upgraded copy into place, or roll a swap back.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Purpose;
use super::Screen;
use crate::tui::App;
use crate::tui::keymap::Binding;
use crate::tui::model::{Cmd, SwapView};
use crate::tui::overlays::prompt::Prompt;
use crate::tui::theme::Theme;

/// The keys of this screen, for the footer and the help.
pub const KEYS: &[Binding] = &[
    Binding::new("Enter", "swap into place"),
    Binding::new("R", "roll back"),
    Binding::new("r", "refresh"),
];

#[derive(Debug, Default)]
pub struct State {
    /// The last restore or rollback done from this screen.
    pub result: Option<SwapView>,
}

/// What a prompt opened from Restore asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Restore,
    Rollback,
}

pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let code = k.code;
    let c = app.camp.as_ref()?;
    let db = c.db.clone();
    match code {
        KeyCode::Enter => match &c.restore_plan {
            Ok(what) => {
                app.prompt = Some(Prompt::typed(
                    Purpose::Restore(Ask::Restore),
                    db.clone(),
                    vec![
                        format!("Swap into place: {what}."),
                        format!("Type {db:?} to confirm:"),
                    ],
                ));
            }
            Err(why) => app.message = Some(why.clone()),
        },
        KeyCode::Char('R') => match &c.rollback_plan {
            Some(what) => {
                let expect = format!("rollback {db}");
                app.prompt = Some(Prompt::typed(
                    Purpose::Restore(Ask::Rollback),
                    expect.clone(),
                    vec![
                        format!("Roll back: {what}."),
                        format!("Type {expect:?} to confirm:"),
                    ],
                ));
            }
            None => app.message = Some("no restore to roll back".into()),
        },
        KeyCode::Char('r') => return Some(Cmd::LoadCampaign(db)),
        KeyCode::Esc => app.screen = Screen::Freeze,
        _ => {}
    }
    None
}

/// A prompt of Restore was confirmed (the typed text was checked).
pub fn answer(app: &mut App, ask: Ask) -> Option<Cmd> {
    let db = app.campaign_db()?;
    match ask {
        Ask::Restore => Some(Cmd::Restore(db)),
        Ask::Rollback => Some(Cmd::Rollback(db)),
    }
}

/// A restore or rollback answered: show its checks, read the campaign again.
pub fn swapped(app: &mut App, r: Result<SwapView, String>) -> Option<Cmd> {
    match r {
        Ok(v) => {
            app.message = None;
            app.restore.result = Some(v);
        }
        Err(e) => app.message = Some(e),
    }
    app.campaign_db().map(Cmd::LoadCampaign)
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return super::loading(f, area, theme);
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Restore into {}", c.db),
            theme.title(),
        )),
        Line::from(""),
    ];
    match &c.restore_plan {
        Ok(what) => {
            lines.push(Line::from(format!("The swap: {what}")));
            lines.push(Line::from("Both renames happen in one transaction; the filestore follows; production is reopened."));
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled("Enter", theme.key()),
                Span::raw(" swap into place (you type the database name)"),
            ]));
        }
        Err(why) => lines.push(Line::from(Span::styled(why.clone(), theme.dim()))),
    }
    if let Some(r) = &app.restore.result {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(r.what.clone(), theme.done())));
        for (ok, d) in &r.checks {
            lines.push(Line::from(Span::styled(
                format!("  {} {d}", if *ok { "✓" } else { "✗" }),
                if *ok { theme.done() } else { theme.error() },
            )));
        }
    }
    if let Some(rb) = &c.rollback_plan {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("R", theme.key()),
            Span::raw(format!(" roll back: {rb}")),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Restore ")),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn restore_and_rollback_are_typed() {
        let mut app = app_on(Screen::Restore);
        update(&mut app, press(KeyCode::Enter));
        assert!(app.prompt.is_none(), "no upgraded copy: nothing to confirm");
        assert!(app.message.as_deref().unwrap().contains("no upgraded copy"));
        app.camp.as_mut().unwrap().restore_plan =
            Ok("prod → prod_before, prod_upgrade → prod".into());
        update(&mut app, press(KeyCode::Enter));
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Restore("prod".into()))
        );
        update(&mut app, press(KeyCode::Char('R')));
        assert!(app.prompt.is_none(), "no restore to roll back yet");
        app.camp.as_mut().unwrap().rollback_plan =
            Some("prod → prod_failed, prod_before → prod".into());
        update(&mut app, press(KeyCode::Char('R')));
        typed(&mut app, "rollback prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Rollback("prod".into()))
        );
    }
}

//! The key help (`?`): the shown screen's keys and the global ones, from the key table.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::App;
use crate::tui::keymap::{self, Hint};
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

/// Keys while the help is up: Esc, ? or q close it; the others do nothing.
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    if matches!(
        k.code,
        KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
    ) {
        app.help = false;
    }
    None
}

/// The shown screen's keys, then the global ones, then what the stepper's marks mean.
pub fn view(screen: &[Hint], f: &mut Frame, theme: &Theme) {
    let row = |h: &Hint| {
        Line::from(vec![
            Span::styled(format!("{:<14}", h.keys), theme.key()),
            Span::raw(h.desc),
        ])
    };
    let mut lines = vec![Line::from(Span::styled("This screen", theme.title()))];
    lines.extend(screen.iter().map(row));
    lines.push(Line::from(Span::styled("Everywhere", theme.title())));
    lines.extend(keymap::hints(keymap::GLOBAL).iter().map(row));
    lines.push(Line::from(Span::styled(
        "Steps: ✓ done  ▶ here  · not open yet",
        theme.dim(),
    )));
    let w = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 2;
    let area = super::centered(f.area(), w, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys (Esc closes) ")),
        area,
    );
}

//! The key help (`?`): the shown screen's keys and the global ones, from the key table.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::App;
use crate::tui::keymap;
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

/// The shown screen's keys, then the global ones.
pub fn view(screen: &[keymap::Binding], f: &mut Frame, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled("This screen", theme.title()))];
    for b in screen {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", b.keys), theme.key()),
            Span::raw(b.action),
        ]));
    }
    lines.push(Line::from(Span::styled("Everywhere", theme.title())));
    for b in keymap::GLOBAL {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", b.keys), theme.key()),
            Span::raw(b.action),
        ]));
    }
    let area = super::centered(f.area(), 44, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys (Esc closes) ")),
        area,
    );
}

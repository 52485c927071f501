//! The walkthrough panel (`i`): a plain-language explanation of the shown
//! step, from `assets/walkthrough.toml`, for a consultant and a client.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::tui::theme::Theme;

#[derive(serde::Deserialize)]
pub struct Walk {
    pub title: String,
    pub text: String,
}

/// The entry named `key` (a screen's name in the file).
pub fn of(key: &str) -> Option<Walk> {
    let all: std::collections::HashMap<String, Walk> =
        toml::from_str(include_str!("../../../assets/walkthrough.toml")).ok()?;
    all.into_iter().find(|(k, _)| k == key).map(|(_, w)| w)
}

/// Draws the panel at the top of `body`; returns what is left for the screen.
pub fn view(key: &str, f: &mut Frame, body: Rect, theme: &Theme) -> Rect {
    let [w, rest] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(body);
    if let Some(walk) = of(key) {
        f.render_widget(
            Paragraph::new(walk.text.trim().to_string())
                .wrap(Wrap { trim: true })
                .block(
                    Block::bordered()
                        .title(Span::styled(format!(" {} ", walk.title), theme.title())),
                ),
            w,
        );
    }
    rest
}

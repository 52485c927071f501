//! A one-line prompt: free text (a note, a filter) or a typed confirmation
//! (the database name). The screen that opened it gets the answer, through
//! the dispatch in `screens/mod.rs`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::theme::Theme;

/// The prompt and what it is for (`P`: which screen asked, and for what).
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt<P> {
    pub purpose: P,
    pub input: String,
    /// For confirmations: what must be typed.
    pub expect: Option<String>,
    pub lines: Vec<String>,
}

impl<P> Prompt<P> {
    /// Free text, starting from `input`.
    pub fn free(purpose: P, input: String, lines: Vec<String>) -> Prompt<P> {
        Prompt {
            purpose,
            input,
            expect: None,
            lines,
        }
    }

    /// A confirmation: only `expect`, typed, confirms.
    pub fn typed(purpose: P, expect: String, lines: Vec<String>) -> Prompt<P> {
        Prompt {
            purpose,
            input: String::new(),
            expect: Some(expect),
            lines,
        }
    }

    /// A pasted block: its first line is typed.
    pub fn paste(&mut self, text: &str) {
        self.input.push_str(text.lines().next().unwrap_or(""));
    }
}

/// What a key did to the prompt.
pub enum Outcome<P> {
    /// Still up; the input may have changed.
    Typing,
    Cancelled,
    /// Enter, with what was asked for typed: the answer for the screen.
    Answered(P, String),
    /// Enter, with something else typed than what was asked.
    Refused(String),
}

/// Keys while the prompt is up: it takes them all (but Ctrl-C).
pub fn key<P>(slot: &mut Option<Prompt<P>>, k: KeyEvent) -> Outcome<P> {
    let Some(p) = slot.as_mut() else {
        return Outcome::Cancelled;
    };
    match k.code {
        KeyCode::Esc => {
            *slot = None;
            Outcome::Cancelled
        }
        KeyCode::Enter => {
            let Some(p) = slot.take() else {
                return Outcome::Cancelled;
            };
            match &p.expect {
                Some(expect) if p.input.trim() != expect => Outcome::Refused(format!(
                    "not confirmed: you typed {:?}, not {expect:?}",
                    p.input.trim()
                )),
                _ => Outcome::Answered(p.purpose, p.input),
            }
        }
        KeyCode::Backspace => {
            p.input.pop();
            Outcome::Typing
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            p.input.push(c);
            Outcome::Typing
        }
        _ => Outcome::Typing,
    }
}

pub fn view<P>(p: &Prompt<P>, f: &mut Frame, theme: &Theme) {
    let area = f.area();
    let w = area.width.saturating_sub(4).min(76);
    let h = (p.lines.len() as u16 + 4).min(area.height);
    let r = super::centered(area, w, h);
    let mut lines: Vec<Line> = p.lines.iter().map(|l| Line::from(l.as_str())).collect();
    lines.push(Line::from(vec![
        Span::styled("› ", theme.key()),
        Span::raw(p.input.clone()),
        Span::styled("▏", theme.key()),
    ]));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Enter confirms, Esc cancels ")),
        r,
    );
}

//! Step 5: the anomaly list; file, edit, change status, export the report.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::Screen;
use super::anomaly_form::Form;
use crate::tui::App;
use crate::tui::keymap::Binding;
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

/// The keys of this screen, for the footer and the help.
pub const KEYS: &[Binding] = &[
    Binding::new("n", "new"),
    Binding::new("Enter", "edit"),
    Binding::new("x", "status"),
    Binding::new("e", "export"),
    Binding::new("c", "checklist"),
    Binding::new("t", "retest"),
];

#[derive(Debug, Default)]
pub struct State {
    pub cursor: usize,
}

pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let n = app.camp.as_ref().map(|c| c.anomalies.len()).unwrap_or(0);
    let cursor = &mut app.anomalies.cursor;
    match k.code {
        KeyCode::Char('c') => return super::open_checklist(app),
        KeyCode::Char('t') => return super::new_test(app),
        KeyCode::Down | KeyCode::Char('j') => *cursor = (*cursor + 1).min(n.saturating_sub(1)),
        KeyCode::Up | KeyCode::Char('k') => *cursor = cursor.saturating_sub(1),
        KeyCode::Char('n') => {
            app.form = Some(Form::new("", "", None));
            app.screen = Screen::AnomalyForm;
        }
        KeyCode::Enter => {
            let a = app.camp.as_ref()?.anomalies.get(*cursor)?;
            app.form = Some(Form::from(a));
            app.screen = Screen::AnomalyForm;
        }
        KeyCode::Char('x') => {
            let a = app.camp.as_mut()?.anomalies.get_mut(*cursor)?;
            a.status = a.status.next();
            return app.save();
        }
        KeyCode::Char('e') => return app.campaign_db().map(Cmd::ExportReport),
        KeyCode::Esc => app.screen = Screen::Checklist,
        _ => {}
    }
    None
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return super::loading(f, area, theme);
    };
    let [list_area, detail_area, hint] = Layout::vertical([
        Constraint::Percentage(45),
        Constraint::Min(0),
        Constraint::Length(2),
    ])
    .areas(area);
    let items: Vec<ListItem> = c
        .anomalies
        .iter()
        .map(|a| {
            let style = match a.status {
                crate::campaign::anomaly::Status::Open => theme.error(),
                crate::campaign::anomaly::Status::Fixed => theme.done(),
                crate::campaign::anomaly::Status::WontFix => theme.dim(),
            };
            ListItem::new(Line::from(vec![
                Span::raw(format!("#{:<3} ", a.id)),
                Span::styled(format!("{:<20} ", a.status.label()), style),
                Span::raw(format!("{:<9} {}", a.severity.label(), a.title)),
            ]))
        })
        .collect();
    let mut state = ListState::default()
        .with_selected((!c.anomalies.is_empty()).then_some(app.anomalies.cursor));
    let title = format!(
        " Anomalies: {} open of {} ",
        c.open_anomalies(),
        c.anomalies.len()
    );
    f.render_stateful_widget(
        List::new(items)
            .block(Block::bordered().title(title))
            .highlight_style(theme.selected()),
        list_area,
        &mut state,
    );
    let detail: Vec<Line> = match c.anomalies.get(app.anomalies.cursor) {
        None => vec![Line::from(
            "No anomaly yet. n adds one; f on a checklist item files one for it.",
        )],
        Some(a) => vec![
            Line::from(vec![
                Span::styled(a.title.clone(), theme.title()),
                Span::raw(format!("  ({})", a.area)),
            ]),
            Line::from(vec![
                Span::styled("steps    ", theme.key()),
                Span::raw(a.steps.replace('\n', " / ")),
            ]),
            Line::from(vec![
                Span::styled("expected ", theme.key()),
                Span::raw(a.expected.replace('\n', " / ")),
            ]),
            Line::from(vec![
                Span::styled("actual   ", theme.key()),
                Span::raw(a.actual.replace('\n', " / ")),
            ]),
            Line::from(vec![
                Span::styled("files    ", theme.key()),
                Span::raw(a.files.join(", ")),
            ]),
        ],
    };
    f.render_widget(
        Paragraph::new(detail)
            .wrap(Wrap { trim: true })
            .block(Block::bordered()),
        detail_area,
    );
    f.render_widget(
        Paragraph::new(c.ticket.clone())
            .style(theme.dim())
            .wrap(Wrap { trim: true }),
        hint,
    );
}

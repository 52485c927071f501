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
    let (n, kept) = app
        .camp
        .as_ref()
        .map(|c| (c.anomalies.len() + c.drafts.len(), c.anomalies.len()))
        .unwrap_or((0, 0));
    let cursor = &mut app.anomalies.cursor;
    match k.code {
        KeyCode::Char('c') => return super::open_checklist(app),
        KeyCode::Char('t') => return super::new_test(app),
        KeyCode::Down | KeyCode::Char('j') => *cursor = (*cursor + 1).min(n.saturating_sub(1)),
        KeyCode::Up | KeyCode::Char('k') => *cursor = cursor.saturating_sub(1),
        // Drafts follow the anomalies in the list: Enter keeps one, x drops it.
        KeyCode::Enter | KeyCode::Char('x') if *cursor >= kept => {
            let id = app.camp.as_ref()?.drafts.get(*cursor - kept)?.id;
            return app.campaign_db().map(|db| Cmd::SettleDraft {
                db,
                id,
                keep: k.code == KeyCode::Enter,
            });
        }
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
    let mut items: Vec<ListItem> = c
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
    items.extend(c.drafts.iter().map(|d| {
        ListItem::new(Line::from(vec![
            Span::raw(format!("d{:<3} ", d.id)),
            Span::styled(format!("{:<20} ", "draft: Enter/x"), theme.warn()),
            Span::raw(d.title()),
        ]))
    }));
    let total = c.anomalies.len() + c.drafts.len();
    let mut state = ListState::default()
        .with_selected((total > 0).then_some(app.anomalies.cursor.min(total - 1)));
    let drafts = if c.drafts.is_empty() {
        String::new()
    } else {
        format!(" · {} draft(s) from the upgrade log", c.drafts.len())
    };
    let title = format!(
        " Anomalies: {} open of {}{drafts} ",
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
    let draft = app
        .anomalies
        .cursor
        .checked_sub(c.anomalies.len())
        .and_then(|i| c.drafts.get(i));
    let detail: Vec<Line> = match c.anomalies.get(app.anomalies.cursor) {
        None if draft.is_some() => draft.map(|d| draft_lines(d, theme)).unwrap_or_default(),
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

/// A draft's detail: where it came from and what the log said.
fn draft_lines(d: &crate::campaign::anomaly::Draft, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![
        Line::from(Span::styled(d.title(), theme.title())),
        Line::from(vec![
            Span::styled("draft    ", theme.key()),
            Span::raw("found in the upgrade log: Enter keeps it as an anomaly, x drops it"),
        ]),
        Line::from(vec![
            Span::styled("hop      ", theme.key()),
            Span::raw(format!(
                "{} · {} · {} error(s){}",
                d.hop,
                d.level,
                d.count,
                if d.failed_hop {
                    " · the hop failed"
                } else {
                    ""
                }
            )),
        ]),
    ];
    out.extend(
        d.excerpt
            .lines()
            .take(12)
            .map(|l| Line::from(Span::styled(l.to_string(), theme.dim()))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::anomaly::Draft;
    use crate::tui::fixtures::*;
    use crate::tui::update::update;

    fn draft() -> Draft {
        Draft {
            id: 1,
            job: "job".into(),
            hop: "16.0 → 17.0".into(),
            module: Some("sale".into()),
            level: "CRITICAL".into(),
            excerpt: "2026-12-01 06:00:03,200 1 ERROR prod_test OpenUpgrade: sale: error in migration script post-migration.py: column \"legacy_ref\" does not exist\nTraceback (most recent call last):\npsycopg2.errors.UndefinedColumn: column \"legacy_ref\" does not exist".into(),
            count: 3,
            failed_hop: true,
            test_db: Some("prod_test".into()),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[test]
    fn drafts_from_the_upgrade_log_are_kept_or_dropped() {
        let mut app = app_on(Screen::Anomalies);
        app.camp.as_mut().unwrap().drafts.push(draft());
        app.message = None;
        insta::assert_snapshot!("anomalies_drafts_80x24", render(&app, 80, 24));
        // On the draft (after the anomalies, none here): Enter keeps it, x drops it.
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::SettleDraft {
                db: "prod".into(),
                id: 1,
                keep: true
            })
        );
        assert_eq!(
            update(&mut app, press(KeyCode::Char('x'))),
            Some(Cmd::SettleDraft {
                db: "prod".into(),
                id: 1,
                keep: false
            })
        );
    }
}

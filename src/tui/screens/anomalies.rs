//! Step 5: the anomaly list; file, edit, change status, export the report.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::anomaly_form::Form;
use super::{Room, Screen};
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct State {
    pub cursor: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    Down,
    Up,
    New,
    Edit,
    Status,
    Export,
    Checklist,
    Retest,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "j/k ↓/↑",
        desc: "move",
        foot: "",
        bind: &[
            (Key::ch('j'), Action::Down),
            (Key::code(KeyCode::Down), Action::Down),
            (Key::ch('k'), Action::Up),
            (Key::code(KeyCode::Up), Action::Up),
        ],
    },
    Entry {
        keys: "n",
        desc: "new anomaly",
        foot: "n new",
        bind: &[(Key::ch('n'), Action::New)],
    },
    Entry {
        keys: "Enter",
        desc: "edit the anomaly",
        foot: "Enter edit",
        bind: &[(Key::code(KeyCode::Enter), Action::Edit)],
    },
    Entry {
        keys: "x",
        desc: "status: open, fixed, won't fix",
        foot: "x status",
        bind: &[(Key::ch('x'), Action::Status)],
    },
    Entry {
        keys: "e",
        desc: "export the report for Odoo's support",
        foot: "e export",
        bind: &[(Key::ch('e'), Action::Export)],
    },
    Entry {
        keys: "c",
        desc: "the checklist (step 4)",
        foot: "c checklist",
        bind: &[(Key::ch('c'), Action::Checklist)],
    },
    Entry {
        keys: "t",
        desc: "a new test database (step 6)",
        foot: "t retest",
        bind: &[(Key::ch('t'), Action::Retest)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "anomalies",
    step: |_| 5,
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    let (n, kept) = app
        .camp
        .as_ref()
        .map(|c| (c.anomalies.len() + c.drafts.len(), c.anomalies.len()))
        .unwrap_or((0, 0));
    let cursor = &mut app.anomalies.cursor;
    match a {
        // Drafts follow the anomalies in the list: Enter keeps one, x drops it.
        Action::Edit | Action::Status if *cursor >= kept => {
            let id = app.camp.as_ref()?.drafts.get(*cursor - kept)?.id;
            return app.campaign_db().map(|db| Cmd::SettleDraft {
                db,
                id,
                keep: a == Action::Edit,
            });
        }
        Action::Checklist => return super::open_checklist(app),
        Action::Retest => return super::new_test(app),
        Action::Down => *cursor = (*cursor + 1).min(n.saturating_sub(1)),
        Action::Up => *cursor = cursor.saturating_sub(1),
        Action::New => {
            app.form = Some(Form::new("", "", None));
            super::go(app, Screen::AnomalyForm);
        }
        Action::Edit => {
            let a = app.camp.as_ref()?.anomalies.get(*cursor)?;
            app.form = Some(Form::from(a));
            super::go(app, Screen::AnomalyForm);
        }
        Action::Status => {
            let a = app.camp.as_mut()?.anomalies.get_mut(*cursor)?;
            a.status = a.status.next();
            return app.save();
        }
        Action::Export => return app.campaign_db().map(Cmd::ExportReport),
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
        None => vec![Line::from(format!(
            "No anomaly yet. {} adds one; {} on a checklist item files one for it.",
            keymap::keys_of(KEYS, Action::New),
            keymap::keys_of(super::checklist::KEYS, super::checklist::Action::Fail),
        ))],
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

//! Step 1: pick the database and the target; start (or resume) the test upgrade.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::Screen;
use crate::odoo::inspect::{Inspection, human_size};
use crate::odoo::version::Series;
use crate::tui::App;
use crate::tui::keymap::Binding;
use crate::tui::model::{Cmd, DbRow};
use crate::tui::theme::Theme;

/// The keys of this screen, for the footer and the help.
pub const KEYS: &[Binding] = &[
    Binding::new("j/k", "db"),
    Binding::new("h/l", "target"),
    Binding::new("Enter", "test"),
    Binding::new("r", "reload"),
    Binding::new("c/a/f", "steps 4/5/7"),
];

/// The databases of the server, the one selected, what it holds and the target.
#[derive(Debug, Default)]
pub struct State {
    pub dbs: Vec<DbRow>,
    pub selected: usize,
    pub inspection: Option<Inspection>,
    pub target: Option<Series>,
}

impl State {
    pub fn selected_db(&self) -> Option<&DbRow> {
        self.dbs.get(self.selected)
    }

    /// Targets offered for the selected database: the next majors up to the last known.
    pub fn targets(&self) -> Vec<Series> {
        let Some(i) = &self.inspection else {
            return Vec::new();
        };
        let from = i.series.major;
        (from + 1..=*crate::odoo::version::KNOWN_MAJORS.end())
            .map(|m| Series::new(m, 0))
            .collect()
    }

    fn move_target(&mut self, delta: i32) {
        let targets = self.targets();
        if targets.is_empty() {
            return;
        }
        let cur = self
            .target
            .and_then(|t| targets.iter().position(|x| *x == t))
            .unwrap_or(0) as i32;
        let next = (cur + delta).clamp(0, targets.len() as i32 - 1) as usize;
        self.target = Some(targets[next]);
    }
}

fn select(app: &mut App, idx: usize) -> Option<Cmd> {
    let r = &mut app.request;
    if r.dbs.is_empty() {
        return None;
    }
    let idx = idx.min(r.dbs.len() - 1);
    if idx == r.selected {
        return None;
    }
    r.selected = idx;
    r.inspection = None;
    r.target = None;
    app.camp = None;
    app.request
        .selected_db()
        .map(|d| Cmd::Inspect(d.name.clone()))
}

/// The server's databases arrived: inspect the selected one.
pub fn dbs(app: &mut App, res: Result<Vec<DbRow>, String>) -> Option<Cmd> {
    match res {
        Ok(dbs) => {
            let r = &mut app.request;
            r.dbs = dbs;
            r.selected = r.selected.min(r.dbs.len().saturating_sub(1));
            r.inspection = None;
            r.selected_db().map(|d| Cmd::Inspect(d.name.clone()))
        }
        Err(e) => {
            app.message = Some(e);
            None
        }
    }
}

/// What the selected database holds: propose the next major, read its campaign.
pub fn inspected(app: &mut App, db: String, res: Result<Inspection, String>) -> Option<Cmd> {
    let r = &mut app.request;
    if r.selected_db().map(|d| &d.name) != Some(&db) {
        return None; // an answer for a row no longer selected
    }
    match res {
        Ok(i) => {
            if let Some(row) = r.dbs.get_mut(r.selected) {
                row.series = Some(i.series.to_string());
                row.modules = Some(i.installed_count);
            }
            r.target = Some(Series::new(i.series.major + 1, 0));
            r.inspection = Some(i);
            app.message = None;
            Some(Cmd::LoadCampaign(db))
        }
        Err(e) => {
            r.inspection = None;
            app.message = Some(e);
            None
        }
    }
}

pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    match k.code {
        KeyCode::Down | KeyCode::Char('j') => select(app, app.request.selected + 1),
        KeyCode::Up | KeyCode::Char('k') => select(app, app.request.selected.saturating_sub(1)),
        KeyCode::Home | KeyCode::Char('g') => select(app, 0),
        KeyCode::End | KeyCode::Char('G') => select(app, usize::MAX),
        KeyCode::Left | KeyCode::Char('h') => {
            app.request.move_target(-1);
            None
        }
        KeyCode::Right | KeyCode::Char('l') => {
            app.request.move_target(1);
            None
        }
        KeyCode::Char('r') => Some(Cmd::LoadDbs),
        KeyCode::Char('D') => app
            .camp
            .as_ref()
            .filter(|c| c.unfinished.is_some())
            .map(|c| Cmd::Discard(c.db.clone())),
        KeyCode::Enter
            if app
                .camp
                .as_ref()
                .is_some_and(|c| c.unfinished.as_ref().is_some_and(|u| u.state != "running"))
                && !app.job_running() =>
        {
            let c = app.camp.as_ref()?;
            let u = c.unfinished.as_ref()?;
            // Running it again resumes it (journaled steps are skipped).
            Some(if u.production {
                Cmd::StartProduction {
                    db: c.db.clone(),
                    target: u.target.clone(),
                }
            } else {
                Cmd::StartTest {
                    db: c.db.clone(),
                    target: u.target.clone(),
                    drop_previous: None,
                }
            })
        }
        KeyCode::Enter => match (&app.request.inspection, app.request.target) {
            (Some(i), Some(t)) if !app.job_running() => Some(Cmd::StartTest {
                db: i.db.clone(),
                target: t.to_string(),
                drop_previous: None,
            }),
            (_, _) if app.job_running() => {
                app.screen = Screen::Wait;
                None
            }
            _ => None,
        },
        KeyCode::Esc if app.job.is_some() => {
            app.screen = if app.job_running() {
                Screen::Wait
            } else {
                Screen::Ready
            };
            None
        }
        KeyCode::Char('c') => super::open_checklist(app),
        KeyCode::Char('a') => super::open_anomalies(app),
        KeyCode::Char('f') => super::open_freeze(app),
        _ => None,
    }
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    // name · series · size, the name cut to what the pane leaves it.
    let name_w = (left.width as usize).saturating_sub(4 + 2 + 16).max(8);
    let items: Vec<ListItem> = app
        .request
        .dbs
        .iter()
        .map(|d| {
            let series = d.series.as_deref().unwrap_or("");
            let mut name: String = d.name.chars().take(name_w).collect();
            if d.name.chars().count() > name_w {
                name.pop();
                name.push('…');
            }
            ListItem::new(format!(
                "{name:<name_w$} {series:>6} {:>9}",
                human_size(d.size)
            ))
        })
        .collect();
    let mut state = ListState::default()
        .with_selected((!app.request.dbs.is_empty()).then_some(app.request.selected));
    let title = format!(" Databases on {} ", app.server);
    f.render_stateful_widget(
        List::new(items)
            .block(Block::bordered().title(title))
            .highlight_style(theme.selected())
            .highlight_symbol("› "),
        left,
        &mut state,
    );

    let mut lines: Vec<Line> = Vec::new();
    if let Some(u) = app
        .camp
        .as_ref()
        .and_then(|c| c.unfinished.as_ref())
        .filter(|u| u.state != "running")
    {
        let kind = if u.production { "production" } else { "test" };
        lines.push(Line::from(Span::styled(
            format!(
                "! an {} {kind} job to {} exists ({})",
                u.state, u.target, u.work_db
            ),
            theme.warn(),
        )));
        if let Some(e) = &u.error {
            lines.push(Line::from(Span::styled(format!("  {e}"), theme.dim())));
        }
        lines.push(Line::from(vec![
            Span::styled("  Enter", theme.key()),
            Span::raw(" resumes it   "),
            Span::styled("D", theme.key()),
            Span::raw(" discards it (drops its copy)"),
        ]));
        lines.push(Line::from(""));
    }
    match &app.request.inspection {
        None if app.request.dbs.is_empty() => {
            lines.push(Line::from("No database yet. Press r to reload."))
        }
        None => lines.push(Line::from(Span::styled(
            "reading the database…",
            theme.dim(),
        ))),
        Some(i) => {
            lines.push(Line::from(vec![
                Span::styled("Odoo ", theme.title()),
                Span::raw(format!("{} (base {})", i.series, i.base_version)),
            ]));
            lines.push(Line::from(format!(
                "{} modules installed, {} pending, {}",
                i.installed_count,
                i.pending.len(),
                human_size(i.size_bytes)
            )));
            let target = app
                .request
                .target
                .map(|t| t.to_string())
                .unwrap_or_default();
            let supported = if app.supported.contains(&target) {
                "supported by Odoo"
            } else {
                "outside Odoo's supported window"
            };
            lines.push(Line::from(vec![
                Span::styled("Target  ", theme.title()),
                Span::styled(format!("◀ {target} ▶"), theme.key()),
                Span::raw(format!("  {supported}")),
            ]));
            lines.push(Line::from(
                "Purpose Test (a neutralized copy; production is only read)",
            ));
            lines.push(Line::from(""));
            if i.custom_modules.is_empty() {
                lines.push(Line::from(Span::styled("✓ no custom module", theme.done())));
            } else {
                lines.push(Line::from(Span::styled(
                    format!(
                        "! {} custom module(s), not covered by Odoo's upgrade service:",
                        i.custom_modules.len()
                    ),
                    theme.warn(),
                )));
                lines.push(Line::from(format!("  {}", i.custom_modules.join(", "))));
            }
            if !i.code_actions.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!(
                        "! {} action(s) with Python code written in the database",
                        i.code_actions.len()
                    ),
                    theme.warn(),
                )));
            }
            if !i.custom_views.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!(
                        "! {} view(s) customized in the database",
                        i.custom_views.len()
                    ),
                    theme.warn(),
                )));
            }
            if i.studio {
                lines.push(Line::from(Span::styled(
                    "! Studio customizations installed",
                    theme.warn(),
                )));
            }
            if !i.pending.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("✗ {} module(s) pending: finish that first", i.pending.len()),
                    theme.error(),
                )));
            }
            let sessions = i.sessions.len();
            lines.push(Line::from(if sessions == 0 {
                "nobody connected: fast template copy".to_string()
            } else {
                format!("{sessions} session(s) connected: snapshot copy, nobody disconnected")
            }));
            if i.neutralized {
                lines.push(Line::from(Span::styled(
                    "this database is already neutralized",
                    theme.dim(),
                )));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled("Enter", theme.key()),
                Span::raw(" start the test upgrade"),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Test upgrade request ")),
        right,
    );
}

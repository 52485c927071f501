//! Step 1: pick the database and the target; start (or resume) the test upgrade.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::{Room, Screen};
use crate::engine::job::SeenStatus;
use crate::engine::openupgrade::EngineChoice;
use crate::odoo::inspect::{Inspection, human_size};
use crate::odoo::version::Series;
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::{Cmd, DbRow, Unfinished};
use crate::tui::theme::Theme;

/// The databases of the server, the one selected, what it holds and the target.
#[derive(Debug, Default)]
pub struct State {
    pub dbs: Vec<DbRow>,
    pub selected: usize,
    pub inspection: Option<Inspection>,
    pub target: Option<Series>,
    /// The engine the user chose with `o`; none: decided by the config.
    pub engine: Option<EngineChoice>,
    /// Targets with a plan in `[plans]`, series with an Odoo in `[odoo."<series>"]`.
    pub plans: Vec<String>,
    pub odoo: Vec<String>,
    /// `--contract` was given: Odoo's upgrade platform is offered for any database.
    pub contract_given: bool,
}

impl State {
    /// What makes the upgrade to `target`: the user's choice, else a plan
    /// configured for it, else OpenUpgrade when its Odoo is configured.
    pub fn engine_for(&self, target: &str) -> EngineChoice {
        self.engine.unwrap_or(
            if !self.plans.iter().any(|p| p == target) && self.odoo.iter().any(|o| o == target) {
                EngineChoice::OpenUpgrade
            } else {
                EngineChoice::Plan
            },
        )
    }

    /// Odoo's upgrade platform is offered only for an Enterprise database
    /// (its subscription code in the database, or `--contract`).
    pub fn platform_offered(&self) -> bool {
        self.contract_given || self.inspection.as_ref().is_some_and(|i| i.enterprise)
    }

    /// The next engine `o` picks: plan → OpenUpgrade → Odoo's platform (when offered) → plan.
    pub fn next_engine(&self, target: &str) -> EngineChoice {
        match self.engine_for(target) {
            EngineChoice::Plan => EngineChoice::OpenUpgrade,
            EngineChoice::OpenUpgrade if self.platform_offered() => EngineChoice::OdooPlatform,
            EngineChoice::OpenUpgrade | EngineChoice::OdooPlatform => EngineChoice::Plan,
        }
    }

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    Down,
    Up,
    First,
    Last,
    Older,
    Newer,
    /// Start the test upgrade, or resume the unfinished job, or watch the running one.
    Start,
    Discard,
    Reload,
    Checklist,
    Anomalies,
    Freeze,
    /// Switch between a written plan and OpenUpgrade.
    Engine,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "j/k ↓/↑",
        desc: "select a database",
        foot: "j/k db",
        bind: &[
            (Key::ch('j'), Action::Down),
            (Key::code(KeyCode::Down), Action::Down),
            (Key::ch('k'), Action::Up),
            (Key::code(KeyCode::Up), Action::Up),
        ],
    },
    Entry {
        keys: "g/G Home/End",
        desc: "first / last database",
        foot: "",
        bind: &[
            (Key::ch('g'), Action::First),
            (Key::code(KeyCode::Home), Action::First),
            (Key::ch('G'), Action::Last),
            (Key::code(KeyCode::End), Action::Last),
        ],
    },
    Entry {
        keys: "h/l ←/→",
        desc: "target version",
        foot: "h/l target",
        bind: &[
            (Key::ch('h'), Action::Older),
            (Key::code(KeyCode::Left), Action::Older),
            (Key::ch('l'), Action::Newer),
            (Key::code(KeyCode::Right), Action::Newer),
        ],
    },
    Entry {
        keys: "Enter",
        desc: "start the test upgrade",
        foot: "Enter test",
        bind: &[(Key::code(KeyCode::Enter), Action::Start)],
    },
    Entry {
        keys: "D",
        desc: "discard the unfinished job (drops its copy)",
        foot: "",
        bind: &[(Key::ch('D'), Action::Discard)],
    },
    Entry {
        keys: "r",
        desc: "reload the databases",
        foot: "r reload",
        bind: &[(Key::ch('r'), Action::Reload)],
    },
    Entry {
        keys: "c/a/f",
        desc: "checklist (4), anomalies (5), freeze (7)",
        foot: "c/a/f steps 4/5/7",
        bind: &[
            (Key::ch('c'), Action::Checklist),
            (Key::ch('a'), Action::Anomalies),
            (Key::ch('f'), Action::Freeze),
        ],
    },
    Entry {
        keys: "o",
        desc: "upgrade by a plan or by OpenUpgrade",
        foot: "",
        bind: &[(Key::ch('o'), Action::Engine)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "request",
    step: |_| 1,
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

fn unfinished(app: &App) -> Option<&Unfinished> {
    app.camp
        .as_ref()?
        .unfinished
        .as_ref()
        .filter(|u| u.state != SeenStatus::Running)
}

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    match a {
        Action::Down => select(app, app.request.selected + 1),
        Action::Up => select(app, app.request.selected.saturating_sub(1)),
        Action::First => select(app, 0),
        Action::Last => select(app, usize::MAX),
        Action::Older => {
            app.request.move_target(-1);
            None
        }
        Action::Newer => {
            app.request.move_target(1);
            None
        }
        Action::Reload => Some(Cmd::LoadDbs),
        Action::Discard => app
            .camp
            .as_ref()
            .filter(|c| c.unfinished.is_some())
            .map(|c| Cmd::Discard(c.db.clone())),
        Action::Start if app.job_running() => {
            super::go(app, Screen::Wait);
            None
        }
        Action::Start => {
            if let Some(u) = unfinished(app) {
                let db = app.camp.as_ref()?.db.clone();
                let target = u.target.clone();
                // Running it again resumes it (journaled steps are skipped).
                return Some(if u.production {
                    Cmd::StartProduction { db, target }
                } else {
                    Cmd::StartTest {
                        db,
                        target,
                        drop_previous: None,
                        engine: None,
                    }
                });
            }
            match (&app.request.inspection, app.request.target) {
                (Some(i), Some(t)) => Some(Cmd::StartTest {
                    db: i.db.clone(),
                    target: t.to_string(),
                    drop_previous: None,
                    engine: Some(app.request.engine_for(&t.to_string())),
                }),
                _ => None,
            }
        }
        Action::Checklist => super::open_checklist(app),
        Action::Anomalies => super::open_anomalies(app),
        Action::Freeze => super::open_freeze(app),
        Action::Engine => {
            let t = app
                .request
                .target
                .map(|t| t.to_string())
                .unwrap_or_default();
            app.request.engine = Some(app.request.next_engine(&t));
            None
        }
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
    if let Some(u) = unfinished(app) {
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
            Span::raw("  "),
            Span::styled(keymap::keys_of(KEYS, Action::Start), theme.key()),
            Span::raw(" resumes it   "),
            Span::styled(keymap::keys_of(KEYS, Action::Discard), theme.key()),
            Span::raw(" discards it (drops its copy)"),
        ]));
        lines.push(Line::from(""));
    }
    match &app.request.inspection {
        None if app.request.dbs.is_empty() => lines.push(Line::from(format!(
            "No database yet. Press {} to reload.",
            keymap::keys_of(KEYS, Action::Reload)
        ))),
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
            let by = match app.request.engine_for(&target) {
                EngineChoice::OpenUpgrade if app.request.odoo.contains(&target) => {
                    "OpenUpgrade, a hop per major".to_string()
                }
                EngineChoice::OpenUpgrade => format!("OpenUpgrade: no [odoo.\"{target}\"]"),
                EngineChoice::Plan if app.request.plans.contains(&target) => {
                    "plan from [plans]".to_string()
                }
                EngineChoice::Plan => format!("plan: none for {target}"),
                EngineChoice::OdooPlatform if app.request.platform_offered() => {
                    "Odoo's upgrade platform (20–120 min at Odoo)".to_string()
                }
                EngineChoice::OdooPlatform => {
                    "Odoo's upgrade platform: no Enterprise contract (--contract CODE)".to_string()
                }
            };
            // Only when there is something to choose from.
            if !app.request.plans.is_empty()
                || !app.request.odoo.is_empty()
                || app.request.platform_offered()
            {
                lines.push(Line::from(vec![
                    Span::styled("Upgrade ", theme.title()),
                    Span::raw(format!("{by} (")),
                    Span::styled(keymap::keys_of(KEYS, Action::Engine), theme.key()),
                    Span::raw(": change)"),
                ]));
            }
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
            lines.push(keymap::hint_line(KEYS, Action::Start, theme));
        }
    }
    f.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Test upgrade request ")),
        right,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::update::update;

    #[test]
    fn an_unfinished_job_is_offered() {
        let mut app = request_app();
        let mut c = camp();
        c.unfinished = Some(crate::tui::fixtures::unfinished());
        update(&mut app, Msg::Campaign(Ok(c)));
        assert_eq!(
            app.screen,
            Screen::Request,
            "an unfinished job opens on Request"
        );
        insta::assert_snapshot!("unfinished_80x24", render(&app, 80, 24));
        assert_eq!(
            update(&mut app, press(crossterm::event::KeyCode::Enter)),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None,
                engine: None,
            }),
            "Enter resumes it"
        );
        assert_eq!(
            update(&mut app, press(crossterm::event::KeyCode::Char('D'))),
            Some(Cmd::Discard("prod".into()))
        );
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::update::update;

    #[test]
    fn the_engine_follows_the_config_and_o_changes_it() {
        let mut app = request_app();
        app.request.odoo = vec!["17.0".into()];
        // No plan for 17.0 but its Odoo is configured: OpenUpgrade.
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::OpenUpgrade);
        assert!(render(&app, 120, 40).contains("Upgrade OpenUpgrade, a hop per major"));
        update(&mut app, press(KeyCode::Char('o')));
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::Plan);
        let Some(Cmd::StartTest { engine, .. }) = update(&mut app, press(KeyCode::Enter)) else {
            panic!("Enter starts the test")
        };
        assert_eq!(engine, Some(EngineChoice::Plan));
        app.request.plans = vec!["17.0".into()];
        app.request.engine = None;
        assert_eq!(
            app.request.engine_for("17.0"),
            EngineChoice::Plan,
            "a written plan wins"
        );
    }

    #[test]
    fn odoo_s_platform_is_offered_only_for_an_enterprise_database() {
        let mut app = request_app();
        app.request.odoo = vec!["17.0".into()];
        // OpenUpgrade → plan: a Community database never gets the platform.
        update(&mut app, press(KeyCode::Char('o')));
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::Plan);
        update(&mut app, press(KeyCode::Char('o')));
        update(&mut app, press(KeyCode::Char('o')));
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::Plan);
        assert!(!render(&app, 120, 40).contains("Odoo's upgrade platform"));
        // The database has a subscription code: o goes on to the platform.
        if let Some(i) = app.request.inspection.as_mut() {
            i.enterprise = true;
        }
        app.request.engine = None;
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::OpenUpgrade);
        update(&mut app, press(KeyCode::Char('o')));
        assert_eq!(app.request.engine_for("17.0"), EngineChoice::OdooPlatform);
        let screen = render(&app, 120, 40);
        assert!(
            screen.contains("Upgrade Odoo's upgrade platform (20–120 min at Odoo) (o: change)"),
            "{screen}"
        );
        let Some(Cmd::StartTest { engine, .. }) = update(&mut app, press(KeyCode::Enter)) else {
            panic!("Enter starts the test")
        };
        assert_eq!(engine, Some(EngineChoice::OdooPlatform));
        // --contract offers it for any database.
        let mut app = request_app();
        app.request.contract_given = true;
        app.request.engine = Some(EngineChoice::OpenUpgrade);
        assert_eq!(app.request.next_engine("17.0"), EngineChoice::OdooPlatform);
    }
}

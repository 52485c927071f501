//! Step 3: the test database is ready; how to connect, what neutralization changed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Room, Screen};
use crate::engine::JobRecord;
use crate::odoo::neutralize;
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

pub use crate::tui::model::Serving;

/// `serve` answered: Odoo started (shown on this screen) or stopped.
pub fn served(app: &mut App, r: Result<Option<Serving>, String>) -> Option<Cmd> {
    app.message = Some(match r {
        Ok(Some(s)) => {
            let m = format!("serving {} with Odoo {} at {}", s.db, s.series, s.url);
            app.serving = Some(s);
            m
        }
        Ok(None) => {
            app.serving = None;
            "Odoo stopped".into()
        }
        Err(e) => e,
    });
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    Checklist,
    Anomalies,
    NewTest,
    Freeze,
    Request,
    /// Open the test copy in a browser: its series' Odoo on 127.0.0.1.
    Serve,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "c",
        desc: "the checklist (step 4)",
        foot: "c checklist",
        bind: &[(Key::ch('c'), Action::Checklist)],
    },
    Entry {
        keys: "a",
        desc: "the anomalies (step 5)",
        foot: "a anomalies",
        bind: &[(Key::ch('a'), Action::Anomalies)],
    },
    Entry {
        keys: "t",
        desc: "a new test database (step 6)",
        foot: "t new test",
        bind: &[(Key::ch('t'), Action::NewTest)],
    },
    Entry {
        keys: "f",
        desc: "freeze production (step 7)",
        foot: "f freeze",
        bind: &[(Key::ch('f'), Action::Freeze)],
    },
    Entry {
        keys: "n",
        desc: "the request (step 1)",
        foot: "n request",
        bind: &[(Key::ch('n'), Action::Request)],
    },
    Entry {
        keys: "s",
        desc: "serve the test copy with its Odoo on 127.0.0.1 (again: stop)",
        foot: "",
        bind: &[(Key::ch('s'), Action::Serve)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "ready",
    step: |_| 3,
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    match a {
        Action::Request => {
            super::go(app, Screen::Request);
            None
        }
        Action::Checklist => super::open_checklist(app),
        Action::Anomalies => super::open_anomalies(app),
        Action::Freeze => super::open_freeze(app),
        Action::NewTest => super::new_test(app),
        Action::Serve => app.camp.as_ref()?.test_db.clone().map(Cmd::Serve),
    }
}

/// The ready test copy shown: this session's test job, else the campaign's
/// last one (the TUI opened later); with how to connect to it.
pub fn record(app: &App) -> Option<(&JobRecord, &str)> {
    if let Some(j) = app.job.as_ref().filter(|j| !j.production) {
        if let Some(Ok(rec)) = &j.result {
            return Some((rec, j.connect.as_str()));
        }
    }
    let c = app.camp.as_ref()?;
    Some((c.last_test.as_deref()?, c.test_connect.as_str()))
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some((rec, connect)) = record(app) else {
        return;
    };
    let serving = app.serving.as_ref().filter(|s| s.db == rec.work_db);
    // Room for the serve lines (its hint, or where the served copy opens) and
    // for the line of Odoo's platform, when it made the copy (it wraps).
    let height =
        10 + if serving.is_some() { 2 } else { 0 } + if rec.platform.is_some() { 2 } else { 0 };
    let [info, table] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Test database ready: ", theme.done()),
            Span::styled(rec.work_db.clone(), theme.title()),
        ]),
        Line::from(format!(
            "{} → {}, neutralized and verified ({} checks)",
            rec.source_version,
            rec.target,
            rec.checks.len()
        )),
        Line::from(vec![
            Span::styled("connect  ", theme.title()),
            Span::raw(connect.to_string()),
        ]),
        Line::from(Span::styled(
            "It has no link to production: nothing done in it reaches the production upgrade.",
            theme.warn(),
        )),
        Line::from("Next: test it in Odoo (reports, sales, stock, invoices, website)."),
    ];
    // Upgraded by Odoo's platform: its request, and its own report of the upgrade.
    if let Some(p) = &rec.platform {
        let request = p.request_id().unwrap_or("?");
        lines.push(Line::from(vec![
            Span::styled("Odoo     ", theme.title()),
            Span::raw(match &p.report {
                Some(r) => format!("upgrade request {request}, report: {}", r.display()),
                None => format!("upgrade request {request} (no report came back)"),
            }),
        ]));
    }
    match serving {
        Some(s) => {
            lines.push(Line::from(vec![
                Span::styled("open     ", theme.title()),
                Span::styled(s.url.clone(), theme.done()),
                Span::raw(format!("  Odoo {} (s stops it; log {})", s.series, s.log)),
            ]));
            lines.push(Line::from(vec![
                Span::styled("over ssh ", theme.title()),
                Span::raw(s.tunnel.clone()),
            ]));
        }
        None => lines.push(Line::from(vec![
            Span::styled("s", theme.key()),
            Span::raw(" serves it with its series' Odoo on 127.0.0.1 (URL and ssh -L line here)"),
        ])),
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Test database ")),
        info,
    );
    // Only what changed something, in columns, so it fits 80×24.
    let actions: std::collections::BTreeSet<&String> = rec
        .neutralized
        .0
        .keys()
        .chain(rec.neutralized_again.0.keys())
        .collect();
    let mut cells: Vec<String> = Vec::new();
    // Grouped by module when the job recorded it (jobs from before did not).
    let by_module = neutralize::module_cells(
        &rec.by_module.neutralized_by_module,
        &rec.by_module.neutralized_again_by_module,
    );
    for (module, n, again, custom) in &by_module {
        let n = if *custom {
            "sql".to_string()
        } else {
            n.to_string()
        };
        let plus = if *again > 0 {
            format!(" +{again}")
        } else {
            String::new()
        };
        cells.push(format!("{module:<16.16}{n:>4}{plus:<6}"));
    }
    for action in actions.into_iter().filter(|_| by_module.is_empty()) {
        let first = rec.neutralized.0.get(action).copied().flatten();
        let again = rec.neutralized_again.0.get(action).copied().flatten();
        let custom = rec.neutralized.0.get(action) == Some(&None);
        if first.unwrap_or(0) == 0 && again.unwrap_or(0) == 0 && !custom {
            continue;
        }
        let n = if custom {
            "sql".to_string()
        } else {
            first.unwrap_or(0).to_string()
        };
        let plus = again
            .filter(|a| *a > 0)
            .map(|a| format!(" +{a}"))
            .unwrap_or_default();
        cells.push(format!("{action:<14}{n:>5}{plus:<5}"));
    }
    let cols = ((table.width.saturating_sub(2)) / 26).max(1) as usize;
    let per_col = cells.len().div_ceil(cols);
    let lines: Vec<Line> = (0..per_col)
        .map(|r| {
            Line::from(
                (0..cols)
                    .filter_map(|c| cells.get(c * per_col + r))
                    .map(|c| format!("{c:<26}"))
                    .collect::<String>(),
            )
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered().title(" What neutralization changed (rows; +after the upgrade) "),
        ),
        table,
    );
}

#[cfg(test)]
mod serve_tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn a_copy_from_odoo_s_platform_links_its_report() {
        let mut app = ready_app();
        app.screen = Screen::Ready;
        let Some(j) = app.job.as_mut() else {
            panic!("a job on the ready screen")
        };
        let Some(Ok(rec)) = j.result.as_mut() else {
            panic!("a ready record")
        };
        let report = "/var/lib/upgrade-pilot/platform/j1/upgrade-report.html";
        rec.platform = Some(Box::new(crate::engine::platform::PlatformJob {
            aim: crate::odoo::platform::Aim::Test,
            url: crate::odoo::platform::DEFAULT_URL.into(),
            contract: None,
            request: None,
            upload_dir: None,
            upload_bytes: None,
            report: Some(report.into()),
        }));
        let screen = render(&app, 120, 30);
        assert!(screen.contains(&format!("report: {report}")), "{screen}");
    }

    #[test]
    fn s_serves_the_ready_test_copy() {
        let mut app = app_on(Screen::Ready);
        assert_eq!(
            update(&mut app, press(KeyCode::Char('s'))),
            Some(Cmd::Serve("prod_test_17.0_2026_11_23_09_30".into()))
        );
    }

    /// Where to open it stays on the screen (the message line is too short
    /// for the URL and the ssh line), until Odoo is stopped.
    #[test]
    fn the_served_copy_shows_its_url_and_ssh_line() {
        let mut app = ready_app();
        let db = record(&app).unwrap().0.work_db.clone();
        let s = Serving {
            db,
            series: "17.0".into(),
            url: "http://127.0.0.1:41535/web".into(),
            tunnel: "ssh -N -L 41535:127.0.0.1:41535 ops@db.example".into(),
            log: "/var/lib/upgrade-pilot/logs/serve.log".into(),
        };
        update(&mut app, Msg::Served(Ok(Some(s))));
        let screen = render(&app, 80, 24);
        insta::assert_snapshot!("ready_serving_80x24", screen);
        assert!(screen.contains("http://127.0.0.1:41535/web"), "{screen}");
        assert!(
            screen.contains("ssh -N -L 41535:127.0.0.1:41535"),
            "{screen}"
        );
        update(&mut app, Msg::Served(Ok(None)));
        let screen = render(&app, 80, 24);
        assert!(!screen.contains("41535"), "{screen}");
        assert!(screen.contains("Odoo stopped"), "{screen}");
    }
}

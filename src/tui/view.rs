//! Pure drawing: `view(&App, &mut Frame)`. No I/O, no clock: everything shown
//! comes from the model, so snapshots are stable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Cell, Clear, Gauge, List, ListItem, ListState, Paragraph, Row, Table, Wrap,
};

use super::app::{App, Confirm, JobView, Screen, StepState};
use super::keymap;
use super::screens;
use super::theme::Theme;
use crate::odoo::inspect::human_size;
use crate::odoo::neutralize;

const STEPS: [&str; 9] = [
    "Request",
    "Wait",
    "Test db",
    "Checklist",
    "Anomalies",
    "Retest",
    "Freeze",
    "Production",
    "Restore",
];

#[derive(serde::Deserialize)]
struct Walk {
    title: String,
    text: String,
}

fn walkthrough(screen: Screen) -> Option<Walk> {
    let all: std::collections::HashMap<String, Walk> =
        toml::from_str(include_str!("../../assets/walkthrough.toml")).ok()?;
    let key = match screen {
        Screen::Request => "request",
        Screen::Wait => "wait",
        Screen::Ready => "ready",
        Screen::Checklist => "checklist",
        Screen::Anomalies | Screen::AnomalyForm => "anomalies",
        Screen::Freeze => "freeze",
        Screen::Restore => "restore",
    };
    all.into_iter().find(|(k, _)| k == key).map(|(_, w)| w)
}

pub fn view(app: &App, f: &mut Frame, theme: &Theme) {
    let [top, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    stepper(app, f, top, theme);
    let body = if app.walkthrough {
        let [w, rest] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(body);
        if let Some(walk) = walkthrough(app.screen) {
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
    } else {
        body
    };
    match app.screen {
        Screen::Request => request(app, f, body, theme),
        Screen::Wait => wait(app, f, body, theme),
        Screen::Ready => ready(app, f, body, theme),
        Screen::Checklist => screens::checklist(app, f, body, theme),
        Screen::Anomalies => screens::anomalies(app, f, body, theme),
        Screen::AnomalyForm => screens::anomaly_form(app, f, body, theme),
        Screen::Freeze => screens::freeze(app, f, body, theme),
        Screen::Restore => screens::restore(app, f, body, theme),
    }
    if let Some(m) = &app.message {
        f.render_widget(Paragraph::new(Span::styled(m.as_str(), theme.error())), msg);
    }
    footer(app, f, foot, theme);
    if app.help {
        help(app, f, theme);
    }
    if let Some(c) = &app.confirm {
        confirm(c, f, theme);
    }
    if let Some(p) = &app.prompt {
        screens::prompt(p, f, theme);
    }
}

fn stepper(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let cur = app.step();
    let wide = area.width >= 110;
    let mut spans = Vec::new();
    for (i, name) in STEPS.iter().enumerate() {
        let n = i + 1;
        let (style, mark) = if n < cur {
            (theme.done(), "✓")
        } else if n == cur {
            (theme.current(), "")
        } else {
            (theme.todo(), "")
        };
        let label = if wide || n == cur {
            format!(" {n}{mark} {name} ")
        } else {
            format!(" {n}{mark} ")
        };
        spans.push(Span::styled(label, style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = Vec::new();
    // While typing, only the form's own keys work.
    let global = if app.screen == Screen::AnomalyForm {
        &[][..]
    } else {
        keymap::FOOTER_GLOBAL
    };
    for b in keymap::screen(app.screen).iter().chain(global) {
        spans.push(Span::styled(b.keys, theme.key()));
        spans.push(Span::raw(format!(" {}  ", b.action)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn request(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    // name · series · size, the name cut to what the pane leaves it.
    let name_w = (left.width as usize).saturating_sub(4 + 2 + 16).max(8);
    let items: Vec<ListItem> = app
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
    let mut state =
        ListState::default().with_selected((!app.dbs.is_empty()).then_some(app.selected));
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
    match &app.inspection {
        None if app.dbs.is_empty() => lines.push(Line::from("No database yet. Press r to reload.")),
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
            let target = app.target.map(|t| t.to_string()).unwrap_or_default();
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

fn step_symbol(s: StepState) -> &'static str {
    match s {
        StepState::Todo => "·",
        StepState::Running => "▶",
        StepState::Done => "✓",
        StepState::Skipped => "↷",
        StepState::Failed => "✗",
    }
}

fn fmt_dur(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}", s / 60, s % 60)
}

fn wait(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(job) = &app.job else { return };
    let [head, gauges, steps_log] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(area);
    let eta = job
        .eta()
        .map(|e| format!("  ETA {}", fmt_dur(e)))
        .unwrap_or_default();
    let state = match &job.result {
        None => "running".to_string(),
        Some(Ok(_)) => "done".to_string(),
        Some(Err(_)) => "failed".to_string(),
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "{} of {} to {}",
                    if job.production {
                        "Production upgrade"
                    } else {
                        "Test upgrade"
                    },
                    job.db,
                    job.target
                ),
                theme.title(),
            ),
            Span::raw(format!("  {state}  elapsed {}{eta}", fmt_dur(job.elapsed))),
        ])),
        head,
    );
    let [g1, g2] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(gauges);
    let p = &job.progress;
    let step_label = if p.detail.is_empty() {
        p.step.clone()
    } else {
        format!("{}: {}", p.step, p.detail)
    };
    f.render_widget(
        Gauge::default()
            .ratio(p.fraction.unwrap_or(0.0).clamp(0.0, 1.0))
            .label(step_label)
            .gauge_style(theme.key()),
        g1,
    );
    let overall = if matches!(job.result, Some(Ok(_))) {
        1.0
    } else {
        p.overall().clamp(0.0, 1.0)
    };
    f.render_widget(
        Gauge::default()
            .ratio(overall)
            .label(format!("job {:.0}%", overall * 100.0))
            .gauge_style(theme.done()),
        g2,
    );

    let [steps_area, log_area] =
        Layout::horizontal([Constraint::Length(32), Constraint::Min(0)]).areas(steps_log);
    let rows: Vec<Row> = job
        .steps
        .iter()
        .map(|s| {
            let style = match s.state {
                StepState::Done => theme.done(),
                StepState::Running => theme.key(),
                StepState::Failed => theme.error(),
                _ => theme.dim(),
            };
            Row::new(vec![
                Cell::from(step_symbol(s.state)),
                Cell::from(s.name.clone()),
                Cell::from(s.seconds.map(|x| format!("{x:.1}s")).unwrap_or_default()),
            ])
            .style(style)
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(18),
                Constraint::Length(8),
            ],
        )
        .block(Block::bordered().title(" Steps ")),
        steps_area,
    );
    log_tail(job, f, log_area, theme);
}

fn log_tail(job: &JobView, f: &mut Frame, area: Rect, theme: &Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let end = job.log.len().saturating_sub(job.scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = job
        .log
        .range(start..end)
        .map(|l| {
            let style = if l.starts_with("FAILED") {
                theme.error()
            } else if l.starts_with("warning") {
                theme.warn()
            } else {
                Style::new()
            };
            Line::from(Span::styled(l.as_str(), style))
        })
        .collect();
    let title = if job.scroll > 0 {
        format!(" Log (↑{}) ", job.scroll)
    } else {
        " Log ".to_string()
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

fn ready(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(job) = &app.job else { return };
    let Some(Ok(rec)) = &job.result else { return };
    let [info, table] = Layout::vertical([Constraint::Length(9), Constraint::Min(0)]).areas(area);
    let lines = vec![
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
            Span::raw(job.connect.clone()),
        ]),
        Line::from(Span::styled(
            "It has no link to production: nothing done in it reaches the production upgrade.",
            theme.warn(),
        )),
        Line::from("Next: test it in Odoo (reports, sales, stock, invoices, website)."),
    ];
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
    let by_module =
        neutralize::module_cells(&rec.neutralized_by_module, &rec.neutralized_again_by_module);
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
        cells.push(format!("{module:<14.14}{n:>5}{plus:<5}"));
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

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn help(app: &App, f: &mut Frame, theme: &Theme) {
    let mut lines = vec![Line::from(Span::styled("This screen", theme.title()))];
    for b in keymap::screen(app.screen) {
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
    let area = centered(f.area(), 44, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys (Esc closes) ")),
        area,
    );
}

fn confirm(c: &Confirm, f: &mut Frame, theme: &Theme) {
    let text = match c {
        Confirm::CancelJob => "Cancel the running job?\nThe half-made copy is dropped.\n\ny: cancel it   n: keep it running".to_string(),
        Confirm::Quit => "A job is running. Quit?\nThe job is cancelled and its copy dropped.\n\ny: quit   n: stay".to_string(),
        Confirm::NewTest { previous: Some(p) } => format!(
            "New test database (after fixing the scripts)?\nPrevious copy: {p}\nd: drop it and start   k: keep it and start\nEsc: cancel"
        ),
        Confirm::NewTest { previous: None } => "Start a new test database?\n\ny: start   Esc: cancel".to_string(),
    };
    let area = centered(f.area(), 64, 7);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text)
            .block(Block::bordered().title(Span::styled(" Confirm ", theme.warn()))),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::job::{self, JobKind, JobRecord, JobStatus};
    use crate::engine::{Event, Progress};
    use crate::odoo::neutralize::Report;
    use crate::tui::app::tests::inspection;
    use crate::tui::app::{DbRow, Msg, update};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn render(app: &App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view(app, f, &Theme::plain())).unwrap();
        t.backend().to_string()
    }

    fn request_app() -> App {
        let mut app = App::new(
            "db.example:5432".into(),
            vec!["17.0".into(), "18.0".into(), "19.0".into()],
        );
        let dbs = vec![
            DbRow {
                name: "prod".into(),
                size: 10 << 20,
                series: None,
                modules: None,
            },
            DbRow {
                name: "staging".into(),
                size: 3 << 20,
                series: None,
                modules: None,
            },
        ];
        update(&mut app, Msg::Dbs(Ok(dbs)));
        update(
            &mut app,
            Msg::Inspected("prod".into(), Ok(inspection("prod"))),
        );
        app
    }

    fn wait_app() -> App {
        let mut app = request_app();
        let steps = crate::engine::test_job::STEPS
            .iter()
            .map(|s| s.to_string())
            .collect();
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps,
                connect: "psql -h 'db.example' -p 5432 -U 'odoo' -d 'prod_test_17.0'".into(),
                production: false,
            },
        );
        for ev in [
            Event::StepStarted {
                step: "preflight".into(),
            },
            Event::StepFinished {
                step: "preflight".into(),
                seconds: 0.1,
            },
            Event::StepStarted {
                step: "clone".into(),
            },
            Event::StepFinished {
                step: "clone".into(),
                seconds: 41.2,
            },
            Event::StepStarted {
                step: "neutralize".into(),
            },
            Event::StepFinished {
                step: "neutralize".into(),
                seconds: 0.4,
            },
            Event::StepStarted {
                step: "plan".into(),
            },
            Event::Log("010_mail_alias_domain.sql: applied in 11 ms".into()),
            Event::Log("DEBUG prod odoo.modules.loading: Loading module sale (12/40)".into()),
        ] {
            update(&mut app, Msg::Job(ev));
        }
        update(
            &mut app,
            Msg::Progress(Progress {
                step: "plan".into(),
                index: 3,
                count: 6,
                fraction: Some(0.3),
                detail: "odoo -u all: module 12/40".into(),
            }),
        );
        update(&mut app, Msg::Tick(std::time::Duration::from_secs(95)));
        app
    }

    fn ready_app() -> App {
        let mut app = wait_app();
        let mut neutralized = Report::default();
        for (k, v) in [
            ("crons", 13),
            ("outgoing_mail", 6),
            ("payment", 3),
            ("identity", 4),
            ("flag", 1),
            ("edi", 0),
        ] {
            neutralized.0.insert(k.into(), Some(v));
        }
        let mut again = Report::default();
        again.0.insert("crons".into(), Some(2));
        again.0.insert("webhooks".into(), Some(1));
        let rec = JobRecord {
            id: "job".into(),
            kind: JobKind::Test,
            server: "db.example:5432".into(),
            source_db: "prod".into(),
            source_version: "16.0.1.3".into(),
            target: "17.0".into(),
            work_db: "prod_test_17.0_2026_11_23_09_30".into(),
            plan: None,
            clone_method: Some("template".into()),
            status: JobStatus::Ready,
            pid: 1,
            os_user: "odoo".into(),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            finished_at: None,
            steps: job::steps(&crate::engine::test_job::STEPS),
            neutralized,
            neutralized_again: again,
            neutralized_by_module: Vec::new(),
            neutralized_again_by_module: Vec::new(),
            neutralize_notes: Vec::new(),
            checks: Vec::new(),
            error: None,
            source_uuid: None,
            filestore: None,
            backup: None,
        };
        update(&mut app, Msg::JobDone(Ok(rec)));
        app
    }

    #[test]
    fn request_screen() {
        let app = request_app();
        insta::assert_snapshot!("request_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("request_120x40", render(&app, 120, 40));
    }

    #[test]
    fn wait_screen() {
        let app = wait_app();
        insta::assert_snapshot!("wait_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("wait_120x40", render(&app, 120, 40));
    }

    #[test]
    fn ready_screen() {
        let app = ready_app();
        insta::assert_snapshot!("ready_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("ready_120x40", render(&app, 120, 40));
    }

    #[test]
    fn overlays() {
        let mut app = wait_app();
        app.help = true;
        insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
        app.help = false;
        app.confirm = Some(Confirm::CancelJob);
        insta::assert_snapshot!("confirm_cancel_80x24", render(&app, 80, 24));
        let mut app = request_app();
        app.walkthrough = true;
        insta::assert_snapshot!("walkthrough_request_80x24", render(&app, 80, 24));
    }

    use crate::tui::flow::tests::app_on;

    #[test]
    fn checklist_anomaly_freeze_restore_screens() {
        use crate::campaign::checklist::{ItemState, Mark};
        let mut app = app_on(Screen::Checklist);
        let c = app.camp.as_mut().unwrap();
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
        c.states.insert(
            "views".into(),
            ItemState {
                mark: Some(Mark::Pass),
                note: String::new(),
                at,
                test_db: c.test_db.clone(),
            },
        );
        c.states.insert(
            "reports".into(),
            ItemState {
                mark: Some(Mark::Fail),
                note: "logo".into(),
                at,
                test_db: c.test_db.clone(),
            },
        );
        c.states.insert(
            "website".into(),
            ItemState {
                mark: Some(Mark::Pass),
                note: String::new(),
                at,
                test_db: Some("older_copy".into()),
            },
        );
        app.cursor = 1;
        insta::assert_snapshot!("checklist_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("checklist_120x40", render(&app, 120, 40));

        let k = |c| {
            Msg::Key(crossterm::event::KeyEvent::new(
                c,
                crossterm::event::KeyModifiers::NONE,
            ))
        };
        update(&mut app, k(crossterm::event::KeyCode::Char('f')));
        for ch in "logo missing".chars() {
            update(&mut app, k(crossterm::event::KeyCode::Char(ch)));
        }
        insta::assert_snapshot!("anomaly_form_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("anomaly_form_120x40", render(&app, 120, 40));
        update(
            &mut app,
            Msg::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char('s'),
                crossterm::event::KeyModifiers::CONTROL,
            )),
        );
        if let Some(a) = app.camp.as_mut().and_then(|c| c.anomalies.first_mut()) {
            a.created_at = at;
        }
        app.message = None;
        insta::assert_snapshot!("anomalies_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("anomalies_120x40", render(&app, 120, 40));

        app.screen = Screen::Freeze;
        insta::assert_snapshot!("freeze_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("freeze_120x40", render(&app, 120, 40));
        update(&mut app, k(crossterm::event::KeyCode::Enter));
        insta::assert_snapshot!("freeze_confirm_80x24", render(&app, 80, 24));
        app.prompt = None;

        app.screen = Screen::Restore;
        let c = app.camp.as_mut().unwrap();
        c.restore_plan = Ok("\"prod\" → \"prod_before_17.0_2026_11_23_10_00\", upgraded \"prod_upgrade_17.0_2026_11_23_09_40\" → \"prod\"".into());
        insta::assert_snapshot!("restore_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("restore_120x40", render(&app, 120, 40));
    }

    #[test]
    fn every_screen_has_a_walkthrough_and_keys() {
        for s in Screen::ALL {
            assert!(
                walkthrough(s).is_some_and(|w| !w.text.trim().is_empty()),
                "{s:?}"
            );
            assert!(!keymap::screen(s).is_empty(), "{s:?}");
        }
    }
}

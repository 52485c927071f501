//! Steps 2 and 8: a job runs (test or production); its steps, gauges and log.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Gauge, Paragraph, Row, Table};

use super::{Room, Screen};
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::{Cmd, JobView, StepState};
use crate::tui::overlays::confirm::Confirm;
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct State {
    /// Lines scrolled up from the bottom of the log.
    pub scroll: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    ScrollUp,
    ScrollDown,
    Cancel,
    Next,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "PgUp/PgDn K/J",
        desc: "scroll the log",
        foot: "PgUp/PgDn scroll log",
        bind: &[
            (Key::code(KeyCode::PageUp), Action::ScrollUp),
            (Key::ch('K'), Action::ScrollUp),
            (Key::code(KeyCode::PageDown), Action::ScrollDown),
            (Key::ch('J'), Action::ScrollDown),
        ],
    },
    Entry {
        keys: "c",
        desc: "cancel the job (its copy is dropped)",
        foot: "c cancel job",
        bind: &[(Key::ch('c'), Action::Cancel)],
    },
    Entry {
        keys: "Enter",
        desc: "the next step, once the job is done",
        foot: "",
        bind: &[(Key::code(KeyCode::Enter), Action::Next)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "wait",
    step: |app| {
        if app.job.as_ref().is_some_and(|j| j.production) {
            8
        } else {
            2
        }
    },
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    let job = app.job.as_ref()?;
    let scroll = &mut app.wait.scroll;
    match a {
        Action::ScrollUp => *scroll = (*scroll + 10).min(job.log.len()),
        Action::ScrollDown => *scroll = scroll.saturating_sub(10),
        Action::Cancel if job.running() => app.confirm = Some(Confirm::CancelJob),
        Action::Cancel => app.message = Some("the job is not running".into()),
        Action::Next => match (&job.result, job.production) {
            (Some(Ok(_)), false) => super::go(app, Screen::Ready),
            (Some(Ok(_)), true) => super::go(app, Screen::Restore),
            _ => {}
        },
    }
    None
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

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(job) = &app.job else { return };
    let [head, gauges, steps_log] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(area);
    // An ended job has no time left.
    let eta = job
        .eta()
        .filter(|_| job.running())
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
    let step = p.step.map_or("", |s| s.as_str());
    let step_label = if p.detail.is_empty() {
        step.to_string()
    } else {
        format!("{step}: {}", p.detail)
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
                Cell::from(s.name.as_str()),
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
    log_tail(job, app.wait.scroll, f, log_area, theme);
}

fn log_tail(job: &JobView, scroll: usize, f: &mut Frame, area: Rect, theme: &Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let end = job.log.len().saturating_sub(scroll);
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
    let title = if scroll > 0 {
        format!(" Log (↑{}) ", scroll)
    } else {
        " Log ".to_string()
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;

    #[test]
    fn a_failed_job() {
        let app = failed_app();
        assert_eq!(app.screen, Screen::Wait, "a failed job stays on Wait");
        insta::assert_snapshot!("failed_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("failed_120x40", render(&app, 120, 40));
    }

    #[test]
    fn the_production_job() {
        let app = production_app();
        assert_eq!(app.step(), 8);
        insta::assert_snapshot!("production_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("production_120x40", render(&app, 120, 40));
    }

    #[test]
    fn a_test_waiting_on_odoo_s_platform() {
        use crate::engine::{Event, Progress, step::Step};
        use crate::tui::model::Msg;
        use crate::tui::update::update;
        let mut app = request_app();
        let steps = crate::engine::platform::TEST_STEPS.to_vec();
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps,
                connect: "psql -d prod_test_17.0".into(),
                production: false,
            },
        );
        for s in [
            Step::Preflight,
            Step::Clone,
            Step::Dump,
            Step::Neutralize,
            Step::Request,
            Step::Upload,
        ] {
            update(&mut app, Msg::Job(Event::StepStarted { step: s }));
            update(
                &mut app,
                Msg::Job(Event::StepFinished {
                    step: s,
                    seconds: 2.0,
                }),
            );
        }
        update(
            &mut app,
            Msg::Job(Event::StepStarted {
                step: Step::OdooUpgrade,
            }),
        );
        update(
            &mut app,
            Msg::Job(Event::Log(
                "odoo platform: 2026-12-01 10:12:01,004 7 INFO db odoo.modules.loading: Loading module sale (12/40)".into(),
            )),
        );
        update(
            &mut app,
            Msg::Progress(Progress {
                step: Some(Step::OdooUpgrade),
                index: 6,
                count: 12,
                fraction: Some(0.3),
                detail: "upgrading at Odoo for 14m 10s · module sale (12/40) · ETA 31m 00s".into(),
            }),
        );
        let screen = render(&app, 120, 40);
        assert!(screen.contains("odoo_upgrade"), "{screen}");
        assert!(
            !screen.lines().nth(1).unwrap_or("").contains("ETA"),
            "no job ETA from the steps' pace while Odoo works: {screen}"
        );
        assert!(
            screen.contains("module sale (12/40) · ETA 31m 00s"),
            "{screen}"
        );
        insta::assert_snapshot!("platform_120x40", screen);
    }
}

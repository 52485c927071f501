//! Steps 2 and 8: a job runs (test or production); its steps, gauges and log.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Gauge, Paragraph, Row, Table};

use super::Screen;
use crate::tui::App;
use crate::tui::keymap::Binding;
use crate::tui::model::{Cmd, JobView, StepState};
use crate::tui::overlays::confirm::Confirm;
use crate::tui::theme::Theme;

/// The keys of this screen, for the footer and the help.
pub const KEYS: &[Binding] = &[
    Binding::new("PgUp/PgDn", "scroll log"),
    Binding::new("c", "cancel job"),
    Binding::new("Esc", "request"),
];

#[derive(Debug, Default)]
pub struct State {
    /// Lines scrolled up from the bottom of the log.
    pub scroll: usize,
}

pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let job = app.job.as_mut()?;
    let scroll = &mut app.wait.scroll;
    match k.code {
        KeyCode::PageUp | KeyCode::Char('K') => *scroll = (*scroll + 10).min(job.log.len()),
        KeyCode::PageDown | KeyCode::Char('J') => *scroll = scroll.saturating_sub(10),
        KeyCode::Char('c') if job.running() => app.confirm = Some(Confirm::CancelJob),
        KeyCode::Esc => app.screen = Screen::Request,
        KeyCode::Enter if matches!(job.result, Some(Ok(_))) => app.screen = Screen::Ready,
        _ => {}
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

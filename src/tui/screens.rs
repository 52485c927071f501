//! Drawing of steps 4–9: checklist, anomalies, the anomaly form, freeze and
//! production, restore. Pure functions of the model.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Wrap};

use super::app::App;
use super::flow::{FORM_FIELDS, Prompt, SEVERITY_FIELD};
use super::theme::Theme;
use crate::campaign::checklist::Mark;

fn loading(f: &mut Frame, area: Rect, theme: &Theme) {
    f.render_widget(
        Paragraph::new(Span::styled("reading the campaign…", theme.dim())).block(Block::bordered()),
        area,
    );
}

pub fn checklist(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return loading(f, area, theme);
    };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let s = c.summary();
    let filter = if app.filter.is_empty() {
        String::new()
    } else {
        format!("  filter: {}", app.filter)
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("✓ {} passed  ", s.passed), theme.done()),
            Span::styled(format!("✗ {} failed  ", s.failed), theme.error()),
            Span::raw(format!("↷ {} skipped  · {} to do", s.skipped, s.todo)),
            Span::styled(
                if s.stale > 0 {
                    format!("  ↻ {} to re-check on the new copy", s.stale)
                } else {
                    String::new()
                },
                theme.warn(),
            ),
            Span::styled(filter, theme.key()),
        ])),
        head,
    );
    let [list_area, help_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
    let visible = c.visible(&app.filter);
    let mut last_area = "";
    let mut items = Vec::new();
    let mut selected_row = 0;
    for (n, i) in visible.iter().enumerate() {
        if i.area != last_area {
            items.push(ListItem::new(Line::from(Span::styled(
                i.area.clone(),
                theme.title(),
            ))));
            last_area = &i.area;
        }
        let st = c.states.get(&i.id);
        let stale = st.is_some_and(|s| s.mark.is_some() && s.test_db != c.test_db);
        let (sym, style) = match st.and_then(|s| s.mark) {
            _ if stale => ("↻", theme.warn()),
            Some(Mark::Pass) => ("✓", theme.done()),
            Some(Mark::Fail) => ("✗", theme.error()),
            Some(Mark::Skip) => ("↷", theme.dim()),
            None => ("·", theme.dim()),
        };
        let note = st
            .map(|s| s.note.as_str())
            .filter(|n| !n.is_empty())
            .map(|_| " ✎")
            .unwrap_or("");
        if n == app.cursor {
            selected_row = items.len();
        }
        items.push(ListItem::new(Line::from(vec![
            Span::styled(format!(" {sym} "), style),
            Span::raw(format!("{}{note}", i.title)),
        ])));
    }
    let mut state =
        ListState::default().with_selected((!visible.is_empty()).then_some(selected_row));
    let title = format!(
        " Checklist: test {} ",
        c.test_db.as_deref().unwrap_or("(no test copy yet)")
    );
    f.render_stateful_widget(
        List::new(items)
            .block(Block::bordered().title(title))
            .highlight_style(theme.selected()),
        list_area,
        &mut state,
    );
    let help = visible.get(app.cursor).map(|i| {
        let note = c
            .states
            .get(&i.id)
            .map(|s| s.note.clone())
            .filter(|n| !n.is_empty());
        let mut t = vec![
            Line::from(Span::styled(i.title.clone(), theme.title())),
            Line::from(""),
            Line::from(i.help.clone()),
        ];
        if let Some(n) = note {
            t.push(Line::from(""));
            t.push(Line::from(Span::styled(format!("note: {n}"), theme.key())));
        }
        t
    });
    f.render_widget(
        Paragraph::new(help.unwrap_or_default())
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" How to test it ")),
        help_area,
    );
}

pub fn anomalies(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return loading(f, area, theme);
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
    let mut state =
        ListState::default().with_selected((!c.anomalies.is_empty()).then_some(app.anomaly_cursor));
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
    let detail: Vec<Line> = match c.anomalies.get(app.anomaly_cursor) {
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

pub fn anomaly_form(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(form) = &app.form else { return };
    let title = if form.editing.is_some() {
        " Edit anomaly (Ctrl-S saves, Esc cancels) "
    } else {
        " New anomaly (Ctrl-S saves, Esc cancels) "
    };
    let outer = Block::bordered().title(title);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let rows = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Min(3),
        Constraint::Min(3),
        Constraint::Length(3),
    ])
    .split(inner);
    for (i, name) in FORM_FIELDS.iter().enumerate() {
        let focused = form.focus == i;
        let style = if focused { theme.key() } else { theme.dim() };
        if i == SEVERITY_FIELD {
            let sev = crate::campaign::anomaly::Severity::ALL.iter().map(|s| {
                if *s == form.severity {
                    Span::styled(format!("[{}] ", s.label()), theme.current())
                } else {
                    Span::raw(format!(" {}  ", s.label()))
                }
            });
            let mut spans = vec![Span::styled(format!("{name}: "), style)];
            spans.extend(sev);
            f.render_widget(Paragraph::new(Line::from(spans)), rows[i]);
            continue;
        }
        let mut ta = form.fields[i].clone();
        ta.set_block(
            Block::bordered()
                .border_style(style)
                .title(format!(" {name} ")),
        );
        if !focused {
            ta.set_cursor_style(ratatui::style::Style::new());
        }
        f.render_widget(&ta, rows[i]);
    }
}

pub fn freeze(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return loading(f, area, theme);
    };
    let s = c.summary();
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Production database {}", c.db),
            theme.title(),
        )),
        Line::from(""),
    ];
    lines.push(Line::from(Span::styled("Test status", theme.title())));
    lines.push(Line::from(format!(
        "  test copy: {}   checklist: {} passed, {} failed, {} to do, {} to re-check   anomalies open: {}",
        c.test_db.as_deref().unwrap_or("none"),
        s.passed,
        s.failed,
        s.todo,
        s.stale,
        c.open_anomalies()
    )));
    lines.push(if c.tested() {
        Line::from(Span::styled("  ✓ tested: checklist complete, no open anomaly", theme.done()))
    } else {
        Line::from(Span::styled("  ! testing is incomplete: Odoo warns that untested upgrades block workflows and break webshops", theme.warn()))
    });
    lines.push(Line::from(""));
    match &c.frozen_since {
        Some(since) => {
            lines.push(Line::from(Span::styled(
                format!("Frozen since {since}: nobody can log in."),
                theme.warn(),
            )));
            lines.push(Line::from(""));
            if let Some(up) = &c.upgraded_ready {
                lines.push(Line::from(format!(
                    "Upgraded copy ready: {up}. Esc then go to Restore with Enter on step 9."
                )));
            }
            lines.push(Line::from(vec![
                Span::styled("p/Enter", theme.key()),
                Span::raw(" upgrade production now: copy, back up, run the plan, verify"),
            ]));
        }
        None => {
            lines.push(Line::from(Span::styled(
                format!("Connected to production now: {}", c.sessions.len()),
                theme.title(),
            )));
            for s in c.sessions.iter().take(8) {
                lines.push(Line::from(format!("  {s}")));
            }
            lines.push(Line::from(""));
            if let (Some(at), Some(now)) = (app.freeze_at, app.now) {
                let left = (at - now).num_seconds().max(0);
                let local = at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M");
                lines.push(Line::from(Span::styled(
                    format!(
                        "Freeze scheduled at {local}: in {:02}:{:02}:{:02}   (x cancels)",
                        left / 3600,
                        left / 60 % 60,
                        left % 60
                    ),
                    theme.warn(),
                )));
            }
            lines.push(Line::from(vec![
                Span::styled("Enter", theme.key()),
                Span::raw(" freeze now   "),
                Span::styled("s", theme.key()),
                Span::raw(" schedule at a time   "),
                Span::styled("r", theme.key()),
                Span::raw(" refresh   (you type the database name to confirm)"),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Freeze and upgrade production ")),
        area,
    );
}

pub fn restore(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return loading(f, area, theme);
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Restore into {}", c.db),
            theme.title(),
        )),
        Line::from(""),
    ];
    match &c.restore_plan {
        Ok(what) => {
            lines.push(Line::from(format!("The swap: {what}")));
            lines.push(Line::from("Both renames happen in one transaction; the filestore follows; production is reopened."));
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled("Enter", theme.key()),
                Span::raw(" swap into place (you type the database name)"),
            ]));
        }
        Err(why) => lines.push(Line::from(Span::styled(why.clone(), theme.dim()))),
    }
    if let Some(r) = &app.swap_result {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(r.what.clone(), theme.done())));
        for (ok, d) in &r.checks {
            lines.push(Line::from(Span::styled(
                format!("  {} {d}", if *ok { "✓" } else { "✗" }),
                if *ok { theme.done() } else { theme.error() },
            )));
        }
    }
    if let Some(rb) = &c.rollback_plan {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("R", theme.key()),
            Span::raw(format!(" roll back: {rb}")),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Restore ")),
        area,
    );
}

pub fn prompt(p: &Prompt, f: &mut Frame, theme: &Theme) {
    let area = f.area();
    let w = area.width.saturating_sub(4).min(76);
    let h = (p.lines.len() as u16 + 4).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
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

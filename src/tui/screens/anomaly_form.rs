//! Step 5: the anomaly form (new or edit): title, area, severity, steps,
//! expected, actual, files. Takes typed text.

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui_textarea::TextArea;

use super::Screen;
use crate::campaign::anomaly::{Anomaly, Severity, Status};
use crate::tui::App;
use crate::tui::keymap::Binding;
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

/// The keys of this screen, for the footer and the help.
pub const KEYS: &[Binding] = &[
    Binding::new("Tab", "next field"),
    Binding::new("Ctrl-S", "save"),
    Binding::new("Esc", "cancel"),
];

pub const FORM_FIELDS: [&str; 7] = [
    "Title",
    "Area",
    "Severity",
    "Steps to reproduce",
    "Expected",
    "Actual",
    "Files (paths, one per line)",
];
pub const SEVERITY_FIELD: usize = 2;

pub struct Form {
    /// One text area per field but severity (index 2 holds an unused one).
    pub fields: Vec<TextArea<'static>>,
    pub severity: Severity,
    pub focus: usize,
    pub editing: Option<u32>,
    pub item: Option<String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("focus", &self.focus)
            .field("editing", &self.editing)
            .finish()
    }
}

impl Form {
    pub fn new(title: &str, area: &str, item: Option<String>) -> Form {
        let fields = (0..FORM_FIELDS.len())
            .map(|i| match i {
                0 => TextArea::new(vec![title.to_string()]),
                1 => TextArea::new(vec![area.to_string()]),
                _ => TextArea::default(),
            })
            .collect();
        let mut form = Form {
            fields,
            severity: Severity::Medium,
            focus: 0,
            editing: None,
            item,
        };
        // Typing continues what was prefilled.
        for f in &mut form.fields {
            f.move_cursor(ratatui_textarea::CursorMove::Bottom);
            f.move_cursor(ratatui_textarea::CursorMove::End);
        }
        form
    }

    pub fn from(a: &Anomaly) -> Form {
        let lines = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
        let mut f = Form::new(&a.title, &a.area, a.checklist_item.clone());
        f.fields[3] = TextArea::new(lines(&a.steps));
        f.fields[4] = TextArea::new(lines(&a.expected));
        f.fields[5] = TextArea::new(lines(&a.actual));
        f.fields[6] = TextArea::new(a.files.clone());
        f.severity = a.severity;
        f.editing = Some(a.id);
        f
    }

    pub fn text(&self, i: usize) -> String {
        self.fields[i].lines().join("\n").trim().to_string()
    }
}

/// Keys while the form is shown: every key but Ctrl-C is the form's.
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let form = app.form.as_mut()?;
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Esc => {
            app.form = None;
            app.screen = Screen::Anomalies;
            None
        }
        KeyCode::Char('s') if ctrl => submit_form(app),
        KeyCode::Tab => {
            form.focus = (form.focus + 1) % FORM_FIELDS.len();
            None
        }
        KeyCode::BackTab => {
            form.focus = (form.focus + FORM_FIELDS.len() - 1) % FORM_FIELDS.len();
            None
        }
        KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') if form.focus == SEVERITY_FIELD => {
            let i = Severity::ALL
                .iter()
                .position(|s| *s == form.severity)
                .unwrap_or(0);
            let n = Severity::ALL.len();
            form.severity = Severity::ALL[if k.code == KeyCode::Left {
                (i + n - 1) % n
            } else {
                (i + 1) % n
            }];
            None
        }
        // Title and area are one line: Enter moves on.
        KeyCode::Enter if form.focus < 2 => {
            form.focus += 1;
            None
        }
        _ if form.focus == SEVERITY_FIELD => None,
        _ => {
            let f = form.focus;
            form.fields[f].input(k);
            None
        }
    }
}

fn submit_form(app: &mut App) -> Option<Cmd> {
    let form = app.form.as_ref()?;
    let title = form.text(0);
    if title.is_empty() {
        app.message = Some("an anomaly needs a title".into());
        return None;
    }
    let files: Vec<String> = form.fields[6]
        .lines()
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let (area, steps, expected, actual, severity, editing, item) = (
        form.text(1),
        form.text(3),
        form.text(4),
        form.text(5),
        form.severity,
        form.editing,
        form.item.clone(),
    );
    let camp = app.camp.as_mut()?;
    match editing.and_then(|id| camp.anomalies.iter_mut().find(|a| a.id == id)) {
        Some(a) => {
            a.title = title;
            a.area = area;
            a.severity = severity;
            a.steps = steps;
            a.expected = expected;
            a.actual = actual;
            a.files = files;
        }
        None => {
            let id = camp.anomalies.iter().map(|a| a.id).max().unwrap_or(0) + 1;
            camp.anomalies.push(Anomaly {
                id,
                title,
                area,
                severity,
                steps,
                expected,
                actual,
                files,
                status: Status::Open,
                created_at: Utc::now(),
                test_db: camp.test_db.clone(),
                checklist_item: item,
            });
            app.anomalies.cursor = camp.anomalies.len() - 1;
        }
    }
    app.form = None;
    app.screen = Screen::Anomalies;
    app.message = Some("anomaly saved".into());
    app.save()
}

/// A pasted block goes into the focused field whole.
pub fn paste(form: &mut Form, text: &str) {
    let i = form.focus;
    if i != SEVERITY_FIELD {
        form.fields[i].insert_str(text);
    }
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
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

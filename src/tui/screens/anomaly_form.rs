//! Step 5: the anomaly form (new or edit): title, area, severity, steps,
//! expected, actual, files. Takes typed text.

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui_textarea::TextArea;

use super::{Room, Screen};
use crate::campaign::anomaly::{Anomaly, Severity, Status};
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::theme::Theme;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    NextField,
    PrevField,
    Save,
    Cancel,
    /// Enter: the next field after the one-line title and area; a new line in the others.
    Enter,
    Lower,
    Higher,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "Tab/S-Tab",
        desc: "next / previous field",
        foot: "Tab next field",
        bind: &[
            (Key::code(KeyCode::Tab), Action::NextField),
            (Key::code(KeyCode::BackTab), Action::PrevField),
        ],
    },
    Entry {
        keys: "Ctrl-S",
        desc: "save the anomaly",
        foot: "Ctrl-S save",
        bind: &[(Key::ctrl('s'), Action::Save)],
    },
    Entry {
        keys: "Esc",
        desc: "cancel: back without saving",
        foot: "Esc cancel",
        bind: &[(Key::code(KeyCode::Esc), Action::Cancel)],
    },
    Entry {
        keys: "Enter",
        desc: "next field (title, area); a new line in the others",
        foot: "",
        bind: &[(Key::code(KeyCode::Enter), Action::Enter)],
    },
    Entry {
        keys: "←/→ Spc",
        desc: "severity, on its field (elsewhere they edit)",
        foot: "",
        bind: &[
            (Key::code(KeyCode::Left), Action::Lower),
            (Key::code(KeyCode::Right), Action::Higher),
            (Key::ch(' '), Action::Higher),
        ],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "anomalies",
    step: |_| 5,
    takes_text: true,
    key,
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

/// Keys while the form is shown: the table's, and every other key edits the
/// focused field.
fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    match keymap::resolve(KEYS, &k) {
        Some(a) => act(app, a, k),
        None => {
            type_in(app.form.as_mut()?, k);
            None
        }
    }
}

fn type_in(form: &mut Form, k: KeyEvent) {
    if form.focus != SEVERITY_FIELD {
        let f = form.focus;
        form.fields[f].input(k);
    }
}

pub fn act(app: &mut App, a: Action, k: KeyEvent) -> Option<Cmd> {
    let form = app.form.as_mut()?;
    let n = FORM_FIELDS.len();
    match a {
        Action::Cancel => {
            app.form = None;
            super::back(app);
        }
        Action::Save => return submit_form(app),
        Action::NextField => form.focus = (form.focus + 1) % n,
        Action::PrevField => form.focus = (form.focus + n - 1) % n,
        Action::Lower | Action::Higher if form.focus == SEVERITY_FIELD => {
            let i = Severity::ALL
                .iter()
                .position(|s| *s == form.severity)
                .unwrap_or(0);
            let m = Severity::ALL.len();
            form.severity = Severity::ALL[if a == Action::Lower {
                (i + m - 1) % m
            } else {
                (i + 1) % m
            }];
        }
        // Title and area are one line: Enter moves on.
        Action::Enter if form.focus < 2 => form.focus += 1,
        Action::Lower | Action::Higher | Action::Enter => type_in(form, k),
    }
    None
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
        "Edit anomaly"
    } else {
        "New anomaly"
    };
    let title = format!(
        " {title} ({} saves, {} cancels) ",
        keymap::keys_of(KEYS, Action::Save),
        keymap::keys_of(KEYS, Action::Cancel)
    );
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

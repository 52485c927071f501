//! Steps 4–9 in the TUI: checklist, anomalies (list and form), new test,
//! freeze, production and restore. State types and their update logic; the
//! drawing is in `screens.rs`.

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::app::{App, Cmd, Confirm, Msg, Screen};
use crate::campaign::anomaly::{Anomaly, Severity, Status};
use crate::campaign::checklist::{Item, ItemState, Mark, States, Summary};
use crate::odoo::version::Series;
use crate::pg::server::Session;

/// What the TUI knows of the campaign of the selected database.
#[derive(Debug, Clone)]
pub struct CampView {
    pub db: String,
    pub items: Vec<Item>,
    pub states: States,
    pub anomalies: Vec<Anomaly>,
    pub frozen_since: Option<String>,
    /// The last test copy that reached "ready", and its target.
    pub test_db: Option<String>,
    pub test_target: Option<String>,
    /// An upgraded production copy ready to be swapped in.
    pub upgraded_ready: Option<String>,
    /// What `restore` would do now, or why it cannot.
    pub restore_plan: Result<String, String>,
    /// What `rollback` would do now, when a restore was done.
    pub rollback_plan: Option<String>,
    pub sessions: Vec<Session>,
    pub ticket: String,
    /// The last job, when it did not finish.
    pub unfinished: Option<Unfinished>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub id: String,
    pub production: bool,
    pub target: String,
    pub work_db: String,
    /// running (in another process), interrupted or failed
    pub state: &'static str,
    pub pid: u32,
    pub error: Option<String>,
}

impl CampView {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.items, &self.states, self.test_db.as_deref())
    }

    pub fn open_anomalies(&self) -> usize {
        self.anomalies
            .iter()
            .filter(|a| a.status == Status::Open)
            .count()
    }

    /// Checklist done and no anomaly open: what Odoo asks before production.
    pub fn tested(&self) -> bool {
        self.test_db.is_some() && self.summary().complete() && self.open_anomalies() == 0
    }

    /// Items shown, in file order, grouped by area, matching the filter.
    pub fn visible(&self, filter: &str) -> Vec<&Item> {
        let f = filter.to_lowercase();
        let mut areas: Vec<&str> = Vec::new();
        for i in &self.items {
            if !areas.contains(&i.area.as_str()) {
                areas.push(&i.area);
            }
        }
        areas
            .iter()
            .flat_map(|a| self.items.iter().filter(move |i| i.area == *a))
            .filter(|i| {
                f.is_empty()
                    || i.title.to_lowercase().contains(&f)
                    || i.area.to_lowercase().contains(&f)
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SwapView {
    pub what: String,
    pub checks: Vec<(bool, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    Note(String),
    Filter,
    /// Typed confirmations: the text to type is in `Prompt::expect`.
    Freeze,
    /// A time (HH:MM) to freeze at; then the typed confirmation.
    FreezeAt,
    ScheduleFreeze(chrono::DateTime<Utc>),
    Production,
    Restore,
    Rollback,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    /// For confirmations: what must be typed.
    pub expect: Option<String>,
    pub lines: Vec<String>,
}

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

fn save(app: &App) -> Option<Cmd> {
    let c = app.camp.as_ref()?;
    Some(Cmd::SaveCampaign {
        db: c.db.clone(),
        checklist: c.states.clone(),
        anomalies: c.anomalies.clone(),
    })
}

fn mark(app: &mut App, m: Mark) -> Option<Cmd> {
    let filter = app.filter.clone();
    let cursor = app.cursor;
    let camp = app.camp.as_mut()?;
    let id = camp.visible(&filter).get(cursor)?.id.clone();
    let test_db = camp.test_db.clone();
    let note = camp
        .states
        .get(&id)
        .map(|s| s.note.clone())
        .unwrap_or_default();
    camp.states.insert(
        id,
        ItemState {
            mark: Some(m),
            note,
            at: Utc::now(),
            test_db,
        },
    );
    save(app)
}

fn start_test_choice(app: &mut App) -> Option<Cmd> {
    if app.job_running() {
        app.message = Some("a job is running: one test at a time".into());
        return None;
    }
    let previous = app.camp.as_ref().and_then(|c| c.test_db.clone());
    app.confirm = Some(Confirm::NewTest { previous });
    None
}

pub fn new_test_choice(app: &mut App, k: KeyEvent, previous: Option<String>) -> Option<Cmd> {
    let drop = match k.code {
        KeyCode::Char('d') if previous.is_some() => previous.clone(),
        KeyCode::Char('k') | KeyCode::Char('y') | KeyCode::Enter => None,
        KeyCode::Esc | KeyCode::Char('n') => {
            app.confirm = None;
            return None;
        }
        _ => return None,
    };
    app.confirm = None;
    let camp = app.camp.as_ref()?;
    let target = camp
        .test_target
        .clone()
        .or_else(|| app.target.map(|t| t.to_string()))?;
    Some(Cmd::StartTest {
        db: camp.db.clone(),
        target,
        drop_previous: drop,
    })
}

fn typed(kind: PromptKind, expect: String, lines: Vec<String>) -> Prompt {
    Prompt {
        kind,
        input: String::new(),
        expect: Some(expect),
        lines,
    }
}

fn production_target(app: &App) -> Option<String> {
    let c = app.camp.as_ref()?;
    c.test_target.clone().or_else(|| {
        app.inspection
            .as_ref()
            .map(|i| Series::new(i.series.major + 1, 0).to_string())
    })
}

/// Keys of the screens of this module (and the Ready screen's shortcuts).
pub fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let db = app.campaign_db();
    match (app.screen, k.code) {
        (_, KeyCode::Char('c'))
            if matches!(
                app.screen,
                Screen::Request | Screen::Ready | Screen::Anomalies
            ) =>
        {
            app.screen = Screen::Checklist;
            db.filter(|_| app.camp.is_none()).map(Cmd::LoadCampaign)
        }
        (_, KeyCode::Char('a'))
            if matches!(
                app.screen,
                Screen::Request | Screen::Ready | Screen::Checklist
            ) =>
        {
            app.screen = Screen::Anomalies;
            db.filter(|_| app.camp.is_none()).map(Cmd::LoadCampaign)
        }
        (_, KeyCode::Char('f')) if matches!(app.screen, Screen::Request | Screen::Ready) => {
            app.screen = Screen::Freeze;
            db.map(Cmd::LoadCampaign)
        }
        (_, KeyCode::Char('t'))
            if matches!(
                app.screen,
                Screen::Ready | Screen::Checklist | Screen::Anomalies
            ) =>
        {
            start_test_choice(app)
        }
        (Screen::Checklist, code) => {
            let n = app
                .camp
                .as_ref()
                .map(|c| c.visible(&app.filter).len())
                .unwrap_or(0);
            match code {
                KeyCode::Down | KeyCode::Char('j') => {
                    app.cursor = (app.cursor + 1).min(n.saturating_sub(1))
                }
                KeyCode::Up | KeyCode::Char('k') => app.cursor = app.cursor.saturating_sub(1),
                KeyCode::Char(' ') => return mark(app, Mark::Pass),
                KeyCode::Char('s') => return mark(app, Mark::Skip),
                KeyCode::Char('f') => {
                    let cmd = mark(app, Mark::Fail);
                    let filter = app.filter.clone();
                    let item = app
                        .camp
                        .as_ref()
                        .and_then(|c| c.visible(&filter).get(app.cursor).map(|i| (*i).clone()));
                    if let Some(i) = item {
                        app.form = Some(Form::new(&format!("{}: ", i.title), &i.area, Some(i.id)));
                        app.screen = Screen::AnomalyForm;
                    }
                    return cmd;
                }
                KeyCode::Char('n') => {
                    let filter = app.filter.clone();
                    let c = app.camp.as_ref()?;
                    let id = c.visible(&filter).get(app.cursor)?.id.clone();
                    let input = c
                        .states
                        .get(&id)
                        .map(|s| s.note.clone())
                        .unwrap_or_default();
                    app.prompt = Some(Prompt {
                        kind: PromptKind::Note(id),
                        input,
                        expect: None,
                        lines: vec!["Note for this item:".into()],
                    });
                }
                KeyCode::Char('/') => {
                    app.prompt = Some(Prompt {
                        kind: PromptKind::Filter,
                        input: app.filter.clone(),
                        expect: None,
                        lines: vec!["Filter items:".into()],
                    })
                }
                KeyCode::Esc => {
                    app.screen = if app.job.is_some() {
                        Screen::Ready
                    } else {
                        Screen::Request
                    }
                }
                _ => {}
            }
            None
        }
        (Screen::Anomalies, code) => {
            let n = app.camp.as_ref().map(|c| c.anomalies.len()).unwrap_or(0);
            match code {
                KeyCode::Down | KeyCode::Char('j') => {
                    app.anomaly_cursor = (app.anomaly_cursor + 1).min(n.saturating_sub(1))
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    app.anomaly_cursor = app.anomaly_cursor.saturating_sub(1)
                }
                KeyCode::Char('n') => {
                    app.form = Some(Form::new("", "", None));
                    app.screen = Screen::AnomalyForm;
                }
                KeyCode::Enter => {
                    let a = app.camp.as_ref()?.anomalies.get(app.anomaly_cursor)?;
                    app.form = Some(Form::from(a));
                    app.screen = Screen::AnomalyForm;
                }
                KeyCode::Char('x') => {
                    let cur = app.anomaly_cursor;
                    let a = app.camp.as_mut()?.anomalies.get_mut(cur)?;
                    a.status = a.status.next();
                    return save(app);
                }
                KeyCode::Char('e') => return db.map(Cmd::ExportReport),
                KeyCode::Esc => app.screen = Screen::Checklist,
                _ => {}
            }
            None
        }
        (Screen::Freeze, code) => {
            let c = app.camp.as_ref()?;
            let db = c.db.clone();
            let untested = !c.tested();
            match code {
                KeyCode::Char('r') => return Some(Cmd::LoadCampaign(db)),
                KeyCode::Char('s') if c.frozen_since.is_none() => {
                    app.freeze_at = None;
                    app.prompt = Some(Prompt {
                        kind: PromptKind::FreezeAt,
                        input: String::new(),
                        expect: None,
                        lines: vec!["Freeze at (HH:MM, 24 h; the next such time):".into()],
                    });
                }
                KeyCode::Char('x') if app.freeze_at.is_some() => {
                    app.freeze_at = None;
                    app.message = Some("scheduled freeze cancelled".into());
                }
                KeyCode::Enter if c.frozen_since.is_none() => {
                    let expect = if untested {
                        format!("untested {db}")
                    } else {
                        db.clone()
                    };
                    let mut lines = vec![format!(
                        "Freeze {db}: Odoo stops, {} session(s) are ended, nobody can log in.",
                        c.sessions.len()
                    )];
                    if untested {
                        lines.push("Testing is NOT complete (checklist or open anomalies).".into());
                        lines.push(
                            "Odoo warns: untested upgrades block workflows and break webshops."
                                .into(),
                        );
                    }
                    lines.push(format!("Type {expect:?} to confirm:"));
                    app.prompt = Some(typed(PromptKind::Freeze, expect, lines));
                }
                KeyCode::Char('p') | KeyCode::Enter if c.frozen_since.is_some() => {
                    let target = production_target(app)?;
                    if untested {
                        let expect = format!("untested {db}");
                        app.prompt = Some(typed(
                            PromptKind::Production,
                            expect.clone(),
                            vec![
                                format!(
                                    "Upgrade production {db} to {target}: testing is NOT complete."
                                ),
                                format!("Type {expect:?} to go on anyway:"),
                            ],
                        ));
                        return None;
                    }
                    return Some(Cmd::StartProduction { db, target });
                }
                KeyCode::Esc => app.screen = Screen::Ready,
                _ => {}
            }
            None
        }
        (Screen::Restore, code) => {
            let c = app.camp.as_ref()?;
            let db = c.db.clone();
            match code {
                KeyCode::Enter => match &c.restore_plan {
                    Ok(what) => {
                        app.prompt = Some(typed(
                            PromptKind::Restore,
                            db.clone(),
                            vec![
                                format!("Swap into place: {what}."),
                                format!("Type {db:?} to confirm:"),
                            ],
                        ));
                    }
                    Err(why) => app.message = Some(why.clone()),
                },
                KeyCode::Char('R') => match &c.rollback_plan {
                    Some(what) => {
                        let expect = format!("rollback {db}");
                        app.prompt = Some(typed(
                            PromptKind::Rollback,
                            expect.clone(),
                            vec![
                                format!("Roll back: {what}."),
                                format!("Type {expect:?} to confirm:"),
                            ],
                        ));
                    }
                    None => app.message = Some("no restore to roll back".into()),
                },
                KeyCode::Char('r') => return Some(Cmd::LoadCampaign(db)),
                KeyCode::Esc => app.screen = Screen::Freeze,
                _ => {}
            }
            None
        }
        _ => None,
    }
}

/// Keys while typing: a prompt line or the anomaly form.
pub fn text_key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    if let Some(mut p) = app.prompt.take() {
        match k.code {
            KeyCode::Esc => return None,
            KeyCode::Enter => return submit_prompt(app, p),
            KeyCode::Backspace => {
                p.input.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => p.input.push(c),
            _ => {}
        }
        if p.kind == PromptKind::Filter {
            app.filter = p.input.clone();
            app.cursor = 0;
        }
        app.prompt = Some(p);
        return None;
    }
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

fn submit_prompt(app: &mut App, p: Prompt) -> Option<Cmd> {
    if let Some(expect) = &p.expect {
        if p.input.trim() != expect {
            app.message = Some(format!(
                "not confirmed: you typed {:?}, not {expect:?}",
                p.input.trim()
            ));
            return None;
        }
    }
    let db = app.campaign_db()?;
    match p.kind {
        PromptKind::Note(id) => {
            let camp = app.camp.as_mut()?;
            let test_db = camp.test_db.clone();
            let st = camp.states.entry(id).or_insert(ItemState {
                mark: None,
                note: String::new(),
                at: Utc::now(),
                test_db,
            });
            st.note = p.input.trim().to_string();
            st.at = Utc::now();
            save(app)
        }
        PromptKind::Filter => None,
        PromptKind::Freeze => Some(Cmd::Freeze(db)),
        PromptKind::FreezeAt => {
            let Some(at) = parse_hhmm(p.input.trim(), chrono::Local::now()) else {
                app.message = Some(format!(
                    "{:?} is not a time: write HH:MM (24 h)",
                    p.input.trim()
                ));
                return None;
            };
            let c = app.camp.as_ref()?;
            let expect = if c.tested() {
                db.clone()
            } else {
                format!("untested {db}")
            };
            let when = at.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M");
            app.prompt = Some(typed(
                PromptKind::ScheduleFreeze(at),
                expect.clone(),
                vec![
                    format!("Freeze {db} at {when}: Odoo stops then, nobody can log in."),
                    format!("Type {expect:?} to confirm:"),
                ],
            ));
            None
        }
        PromptKind::ScheduleFreeze(at) => {
            app.freeze_at = Some(at);
            app.message = Some(
                "freeze scheduled: keep this screen open (Esc and s again to change it)".into(),
            );
            None
        }
        PromptKind::Production => Some(Cmd::StartProduction {
            db,
            target: production_target(app)?,
        }),
        PromptKind::Restore => Some(Cmd::Restore(db)),
        PromptKind::Rollback => Some(Cmd::Rollback(db)),
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
            app.anomaly_cursor = camp.anomalies.len() - 1;
        }
    }
    app.form = None;
    app.screen = Screen::Anomalies;
    app.message = Some("anomaly saved".into());
    save(app)
}

/// The next `HH:MM` at or after `now` (today, else tomorrow), as UTC.
pub fn parse_hhmm(s: &str, now: chrono::DateTime<chrono::Local>) -> Option<chrono::DateTime<Utc>> {
    use chrono::TimeZone;
    let (h, m) = s.split_once(':')?;
    let t = chrono::NaiveTime::from_hms_opt(h.trim().parse().ok()?, m.trim().parse().ok()?, 0)?;
    let mut day = now.date_naive();
    if now.time() >= t {
        day = day.succ_opt()?;
    }
    chrono::Local
        .from_local_datetime(&day.and_time(t))
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

/// Answers of the effects of this module.
pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Campaign(Ok(c)) => {
            if !app.opened {
                app.opened = true;
                let running_elsewhere = c
                    .unfinished
                    .as_ref()
                    .filter(|u| u.state == "running")
                    .cloned();
                if let Some(u) = running_elsewhere.filter(|_| app.job.is_none()) {
                    // Attach: follow the job another process runs, from its job file and log.
                    app.job = Some(super::app::JobView {
                        production: u.production,
                        db: c.db.clone(),
                        target: u.target.clone(),
                        attached: Some((u.id.clone(), u.pid)),
                        ..Default::default()
                    });
                    app.screen = Screen::Wait;
                    app.camp = Some(c);
                    return Some(Cmd::Poll(u.id));
                }
                if app.screen == Screen::Request && app.job.is_none() {
                    app.screen = if c.unfinished.is_some() {
                        Screen::Request
                    } else if c.rollback_plan.is_some() || c.upgraded_ready.is_some() {
                        Screen::Restore
                    } else if c.frozen_since.is_some() {
                        Screen::Freeze
                    } else if c.test_db.is_some() {
                        Screen::Checklist
                    } else {
                        Screen::Request
                    };
                }
            }
            if app.camp.as_ref().is_none_or(|old| old.db == c.db)
                || app.selected_db().is_some_and(|d| d.name == c.db)
            {
                app.cursor = app.cursor.min(c.items.len().saturating_sub(1));
                app.camp = Some(c);
            }
            None
        }
        Msg::Campaign(Err(e)) | Msg::Saved(Err(e)) => {
            app.message = Some(e);
            None
        }
        Msg::Saved(Ok(())) => None,
        Msg::Reported(r) => {
            app.message = Some(match r {
                Ok(m) => m,
                Err(e) => e,
            });
            None
        }
        Msg::Frozen(r) => {
            app.message = Some(match r {
                Ok(m) => m,
                Err(e) => e,
            });
            app.campaign_db().map(Cmd::LoadCampaign)
        }
        Msg::Swapped(r) => {
            match r {
                Ok(v) => {
                    app.message = None;
                    app.swap_result = Some(v);
                }
                Err(e) => app.message = Some(e),
            }
            app.campaign_db().map(Cmd::LoadCampaign)
        }
        Msg::Clock(now) => {
            app.now = Some(now);
            match app.freeze_at {
                Some(at) if now >= at => {
                    app.freeze_at = None;
                    app.campaign_db().map(Cmd::Freeze)
                }
                _ => None,
            }
        }
        Msg::Paste(text) => {
            if let Some(p) = app.prompt.as_mut() {
                p.input.push_str(text.lines().next().unwrap_or(""));
            } else if let Some(f) = app.form.as_mut() {
                let i = f.focus;
                if i != SEVERITY_FIELD {
                    f.fields[i].insert_str(&text);
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::campaign::checklist;
    use crate::tui::app::{App, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn typed(app: &mut App, text: &str) {
        for ch in text.chars() {
            update(app, key(KeyCode::Char(ch)));
        }
    }

    pub fn camp() -> CampView {
        CampView {
            db: "prod".into(),
            items: checklist::load(None).unwrap(),
            states: Default::default(),
            anomalies: Vec::new(),
            frozen_since: None,
            test_db: Some("prod_test_17.0_2026_11_23_09_30".into()),
            test_target: Some("17.0".into()),
            upgraded_ready: None,
            restore_plan: Err("no upgraded copy of \"prod\" is ready".into()),
            unfinished: None,
            rollback_plan: None,
            sessions: Vec::new(),
            ticket: "Before production: open an Odoo support ticket of type \"An issue related to my upgrade\".".into(),
        }
    }

    pub fn app_on(screen: Screen) -> App {
        let mut app = App::new("db.example:5432".into(), vec!["17.0".into()]);
        update(&mut app, Msg::Campaign(Ok(camp())));
        app.screen = screen;
        app
    }

    fn saved_anomalies(cmd: Option<Cmd>) -> Vec<Anomaly> {
        match cmd {
            Some(Cmd::SaveCampaign { anomalies, .. }) => anomalies,
            other => panic!("expected a save, got {other:?}"),
        }
    }

    #[test]
    fn checklist_pass_fail_files_an_anomaly_and_saves_each_change() {
        let mut app = app_on(Screen::Checklist);
        let cmd = update(&mut app, key(KeyCode::Char(' ')));
        let Some(Cmd::SaveCampaign { checklist, .. }) = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(checklist["views"].mark, Some(Mark::Pass));
        assert_eq!(
            checklist["views"].test_db.as_deref(),
            Some("prod_test_17.0_2026_11_23_09_30")
        );
        update(&mut app, key(KeyCode::Char('j')));
        assert!(matches!(
            update(&mut app, key(KeyCode::Char('f'))),
            Some(Cmd::SaveCampaign { .. })
        ));
        assert_eq!(
            app.screen,
            Screen::AnomalyForm,
            "f opens the form for the failed item"
        );
        assert_eq!(app.form.as_ref().unwrap().text(1), "Interface");
        typed(&mut app, "logo missing");
        assert_eq!(
            app.form.as_ref().unwrap().text(0),
            "Reports print (invoice, sales order, delivery slip): logo missing"
        );
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Right));
        update(&mut app, Msg::Paste("ignored on the severity field".into()));
        update(&mut app, key(KeyCode::Tab));
        update(
            &mut app,
            Msg::Paste("1. print INV/1\n2. look at the header".into()),
        );
        let anomalies = saved_anomalies(update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)),
        ));
        assert_eq!(anomalies.len(), 1);
        let a = &anomalies[0];
        assert_eq!(
            (a.id, a.severity, a.status),
            (1, Severity::High, Status::Open)
        );
        assert_eq!(a.steps, "1. print INV/1\n2. look at the header");
        assert_eq!(a.checklist_item.as_deref(), Some("reports"));
        assert_eq!(app.screen, Screen::Anomalies);
        // x cycles the status and saves.
        let anomalies = saved_anomalies(update(&mut app, key(KeyCode::Char('x'))));
        assert_eq!(anomalies[0].status, Status::Fixed);
    }

    #[test]
    fn notes_filter_and_empty_title_refused() {
        let mut app = app_on(Screen::Checklist);
        update(&mut app, key(KeyCode::Char('n')));
        typed(&mut app, "ok in fr_BE too");
        let Some(Cmd::SaveCampaign { checklist, .. }) = update(&mut app, key(KeyCode::Enter))
        else {
            panic!()
        };
        assert_eq!(checklist["views"].note, "ok in fr_BE too");
        assert_eq!(checklist["views"].mark, None, "a note alone is no mark");
        update(&mut app, key(KeyCode::Char('/')));
        typed(&mut app, "ecommerce");
        update(&mut app, key(KeyCode::Enter));
        let c = app.camp.as_ref().unwrap();
        assert_eq!(
            c.visible(&app.filter)
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["ecommerce"]
        );
        app.screen = Screen::Anomalies;
        update(&mut app, key(KeyCode::Char('n')));
        assert_eq!(
            update(
                &mut app,
                Msg::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL))
            ),
            None
        );
        assert_eq!(app.message.as_deref(), Some("an anomaly needs a title"));
        assert_eq!(app.screen, Screen::AnomalyForm);
    }

    #[test]
    fn new_test_offers_to_drop_or_keep_the_previous_copy() {
        let mut app = app_on(Screen::Checklist);
        assert_eq!(update(&mut app, key(KeyCode::Char('t'))), None);
        assert!(matches!(
            app.confirm,
            Some(Confirm::NewTest { previous: Some(_) })
        ));
        let cmd = update(&mut app, key(KeyCode::Char('d')));
        assert_eq!(
            cmd,
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: Some("prod_test_17.0_2026_11_23_09_30".into())
            })
        );
        update(&mut app, key(KeyCode::Char('t')));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('k'))),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None
            })
        );
    }

    #[test]
    fn freeze_needs_the_typed_name_and_more_when_untested() {
        let mut app = app_on(Screen::Freeze);
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            app.prompt.as_ref().unwrap().expect.as_deref(),
            Some("untested prod"),
            "nothing is tested yet"
        );
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            None,
            "a wrong name freezes nothing"
        );
        assert!(app.message.as_deref().unwrap().starts_with("not confirmed"));
        update(&mut app, key(KeyCode::Enter));
        typed(&mut app, "untested prod");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Cmd::Freeze("prod".into()))
        );

        // Tested: the plain name is enough; once frozen, p starts production.
        let mut app = app_on(Screen::Freeze);
        let c = app.camp.as_mut().unwrap();
        let ids: Vec<String> = c.items.iter().map(|i| i.id.clone()).collect();
        for id in ids {
            c.states.insert(
                id,
                checklist::ItemState {
                    mark: Some(Mark::Pass),
                    note: String::new(),
                    at: Utc::now(),
                    test_db: c.test_db.clone(),
                },
            );
        }
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.prompt.as_ref().unwrap().expect.as_deref(), Some("prod"));
        update(&mut app, key(KeyCode::Esc));
        assert!(app.prompt.is_none());
        app.camp.as_mut().unwrap().frozen_since = Some("now".into());
        assert_eq!(
            update(&mut app, key(KeyCode::Char('p'))),
            Some(Cmd::StartProduction {
                db: "prod".into(),
                target: "17.0".into()
            })
        );
    }

    #[test]
    fn restore_and_rollback_are_typed() {
        let mut app = app_on(Screen::Restore);
        update(&mut app, key(KeyCode::Enter));
        assert!(app.prompt.is_none(), "no upgraded copy: nothing to confirm");
        assert!(app.message.as_deref().unwrap().contains("no upgraded copy"));
        app.camp.as_mut().unwrap().restore_plan =
            Ok("prod → prod_before, prod_upgrade → prod".into());
        update(&mut app, key(KeyCode::Enter));
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Cmd::Restore("prod".into()))
        );
        update(&mut app, key(KeyCode::Char('R')));
        assert!(app.prompt.is_none(), "no restore to roll back yet");
        app.camp.as_mut().unwrap().rollback_plan =
            Some("prod → prod_failed, prod_before → prod".into());
        update(&mut app, key(KeyCode::Char('R')));
        typed(&mut app, "rollback prod");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Cmd::Rollback("prod".into()))
        );
    }

    #[test]
    fn a_scheduled_freeze_counts_down_then_freezes() {
        let mut app = app_on(Screen::Freeze);
        update(&mut app, key(KeyCode::Char('s')));
        typed(&mut app, "25:99");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert!(app.message.as_deref().unwrap().contains("not a time"));
        update(&mut app, key(KeyCode::Char('s')));
        typed(&mut app, "23:30");
        update(&mut app, key(KeyCode::Enter));
        assert!(
            app.prompt
                .as_ref()
                .is_some_and(|p| p.expect.as_deref() == Some("untested prod")),
            "scheduling needs the same typed confirmation"
        );
        typed(&mut app, "untested prod");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        let at = app.freeze_at.expect("scheduled");
        assert_eq!(
            update(&mut app, Msg::Clock(at - chrono::Duration::seconds(90))),
            None,
            "not yet"
        );
        assert_eq!(
            update(&mut app, Msg::Clock(at)),
            Some(Cmd::Freeze("prod".into()))
        );
        assert!(app.freeze_at.is_none(), "it fires once");
    }

    #[test]
    fn hhmm_is_the_next_such_time() {
        use chrono::TimeZone;
        let now = chrono::Local
            .with_ymd_and_hms(2026, 11, 23, 20, 0, 0)
            .unwrap();
        let later = parse_hhmm("21:15", now)
            .unwrap()
            .with_timezone(&chrono::Local);
        assert_eq!(later.format("%d %H:%M").to_string(), "23 21:15");
        let tomorrow = parse_hhmm("07:00", now)
            .unwrap()
            .with_timezone(&chrono::Local);
        assert_eq!(tomorrow.format("%d %H:%M").to_string(), "24 07:00");
        assert!(parse_hhmm("7", now).is_none());
    }
}

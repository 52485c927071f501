//! Step 4: the checklist of the test copy; pass, fail (files an anomaly), skip, notes.
//! On top, the "Automatic checks": the copy's comparison with production, marked
//! by the tool (Enter shows the differing rows, `f` files them as an anomaly,
//! `r` compares again).

use chrono::Utc;
use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::Purpose;
use super::anomaly_form::Form;
use super::{Room, Screen};
use crate::campaign::checklist::{Item, ItemState, Mark};
use crate::odoo::compare::{CheckResult, Comparison};
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::{CampView, Cmd};
use crate::tui::overlays::prompt::Prompt;
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct State {
    /// Position in the visible rows: the automatic checks, then the items.
    pub cursor: usize,
    pub filter: String,
    /// The selected automatic check's differing rows are shown in full.
    pub rows: bool,
    /// First row shown in that view.
    pub scroll: usize,
}

/// The automatic checks (the comparison's), shown above the items.
pub fn automatic(c: &CampView) -> &[CheckResult] {
    c.comparison
        .as_deref()
        .map(|c| c.checks.as_slice())
        .unwrap_or(&[])
}

fn auto_visible<'a>(c: &'a CampView, filter: &str) -> Vec<&'a CheckResult> {
    let f = filter.to_lowercase();
    automatic(c)
        .iter()
        .filter(|k| {
            f.is_empty() || k.name.to_lowercase().contains(&f) || k.area.to_lowercase().contains(&f)
        })
        .collect()
}

/// What the cursor is on.
enum Row<'a> {
    Auto(&'a CheckResult),
    Manual(&'a Item),
}

fn selected<'a>(c: &'a CampView, st: &State) -> Option<Row<'a>> {
    let auto = auto_visible(c, &st.filter);
    match st.cursor.checked_sub(auto.len()) {
        None => auto.get(st.cursor).map(|k| Row::Auto(k)),
        Some(i) => c.visible(&st.filter).get(i).map(|i| Row::Manual(i)),
    }
}

fn selected_item(app: &App) -> Option<Item> {
    match selected(app.camp.as_ref()?, &app.checklist)? {
        Row::Manual(i) => Some(i.clone()),
        Row::Auto(_) => None,
    }
}

fn selected_check(app: &App) -> Option<CheckResult> {
    match selected(app.camp.as_ref()?, &app.checklist)? {
        Row::Auto(k) => Some(k.clone()),
        Row::Manual(_) => None,
    }
}

/// The comparison came back from `r`.
pub fn compared(app: &mut App, r: Result<Box<Comparison>, String>) -> Option<Cmd> {
    match r {
        Ok(c) => {
            app.message = Some(format!("compared with production: {}", c.summary()));
            if let Some(camp) = app.camp.as_mut() {
                camp.comparison = Some(c);
            }
        }
        Err(e) => app.message = Some(format!("comparison not made: {e}")),
    }
    None
}

/// A failing automatic check as an anomaly, its rows in "Actual".
fn anomaly_from(k: &CheckResult, c: &CampView) -> Form {
    let mut form = Form::new(&format!("{}: {}", k.name, k.summary), &k.area, None);
    let copy = c.test_db.as_deref().unwrap_or("the test copy");
    let steps = format!(
        "upgrade-pilot compare --db {} --test-db {copy} (check \"{}\")",
        c.db, k.name
    );
    let mut actual: Vec<String> = k.differences.clone();
    if k.more > 0 {
        actual.push(format!("… and {} more", k.more));
    }
    let lines = [
        (3, vec![steps]),
        (4, vec!["the same as in production".to_string()]),
        (5, actual),
    ];
    for (field, text) in lines {
        form.fields[field] = ratatui_textarea::TextArea::new(text);
    }
    form
}

/// What a prompt opened from the checklist asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A note on the item with this id.
    Note(String),
    Filter,
}

fn mark(app: &mut App, m: Mark) -> Option<Cmd> {
    let Some(id) = selected_item(app).map(|i| i.id) else {
        app.message = Some("automatic checks are marked by the tool: r compares again".into());
        return None;
    };
    let camp = app.camp.as_mut()?;
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
    app.save()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    Down,
    Up,
    Pass,
    Fail,
    Skip,
    Note,
    Find,
    Anomalies,
    Retest,
    /// The selected automatic check's rows (Enter again closes them).
    Rows,
    Compare,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "j/k ↓/↑",
        desc: "move",
        foot: "",
        bind: &[
            (Key::ch('j'), Action::Down),
            (Key::code(KeyCode::Down), Action::Down),
            (Key::ch('k'), Action::Up),
            (Key::code(KeyCode::Up), Action::Up),
        ],
    },
    Entry {
        keys: "Spc",
        desc: "pass",
        foot: "Spc pass",
        bind: &[(Key::ch(' '), Action::Pass)],
    },
    Entry {
        keys: "f",
        desc: "fail: files an anomaly for the item",
        foot: "f fail",
        bind: &[(Key::ch('f'), Action::Fail)],
    },
    Entry {
        keys: "s",
        desc: "skip (does not apply here)",
        foot: "s skip",
        bind: &[(Key::ch('s'), Action::Skip)],
    },
    Entry {
        keys: "n",
        desc: "note on the item",
        foot: "n note",
        bind: &[(Key::ch('n'), Action::Note)],
    },
    Entry {
        keys: "/",
        desc: "find: filter the items",
        foot: "/ find",
        bind: &[(Key::ch('/'), Action::Find)],
    },
    Entry {
        keys: "a",
        desc: "the anomalies (step 5)",
        foot: "a anomaly",
        bind: &[(Key::ch('a'), Action::Anomalies)],
    },
    Entry {
        keys: "t",
        desc: "a new test database (step 6)",
        foot: "t retest",
        bind: &[(Key::ch('t'), Action::Retest)],
    },
    Entry {
        keys: "Enter",
        desc: "automatic check: its differing rows (Enter or Esc closes them)",
        foot: "",
        bind: &[(Key::code(KeyCode::Enter), Action::Rows)],
    },
    Entry {
        keys: "r",
        desc: "compare the test copy with production again",
        foot: "",
        bind: &[(Key::ch('r'), Action::Compare)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "checklist",
    step: |_| 4,
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    let n = app
        .camp
        .as_ref()
        .map(|c| {
            c.visible(&app.checklist.filter).len() + auto_visible(c, &app.checklist.filter).len()
        })
        .unwrap_or(0);
    if app.checklist.rows {
        // The rows of one automatic check: scroll, file them, or back to the list.
        let st = &mut app.checklist;
        match a {
            Action::Down => st.scroll += 1,
            Action::Up => st.scroll = st.scroll.saturating_sub(1),
            Action::Rows => st.rows = false,
            Action::Fail => {
                st.rows = false;
                return act(app, a);
            }
            _ => {}
        }
        return None;
    }
    let on_check = selected_check(app).is_some();
    let st = &mut app.checklist;
    match a {
        Action::Rows => {
            if on_check {
                st.rows = true;
                st.scroll = 0;
            }
        }
        Action::Compare => {
            let c = app.camp.as_ref()?;
            let Some(test_db) = c.test_db.clone() else {
                app.message = Some("no test copy to compare yet".into());
                return None;
            };
            app.message = Some(format!("comparing {test_db} with production…"));
            return Some(Cmd::Compare {
                db: c.db.clone(),
                test_db,
            });
        }
        Action::Anomalies => return super::open_anomalies(app),
        Action::Retest => return super::new_test(app),
        Action::Down => st.cursor = (st.cursor + 1).min(n.saturating_sub(1)),
        Action::Up => st.cursor = st.cursor.saturating_sub(1),
        Action::Pass => return mark(app, Mark::Pass),
        Action::Skip => return mark(app, Mark::Skip),
        Action::Fail => {
            if let Some(k) = selected_check(app) {
                if k.ok {
                    app.message = Some("this automatic check holds: nothing to report".into());
                } else if let Some(c) = app.camp.as_ref() {
                    app.form = Some(anomaly_from(&k, c));
                    super::go(app, Screen::AnomalyForm);
                }
                return None;
            }
            let cmd = mark(app, Mark::Fail);
            if let Some(i) = selected_item(app) {
                app.form = Some(Form::new(&format!("{}: ", i.title), &i.area, Some(i.id)));
                super::go(app, Screen::AnomalyForm);
            }
            return cmd;
        }
        Action::Note => {
            let id = selected_item(app)?.id;
            let c = app.camp.as_ref()?;
            let input = c
                .states
                .get(&id)
                .map(|s| s.note.clone())
                .unwrap_or_default();
            app.prompt = Some(Prompt::free(
                Purpose::Checklist(Ask::Note(id)),
                input,
                vec!["Note for this item:".into()],
            ));
        }
        Action::Find => {
            app.prompt = Some(Prompt::free(
                Purpose::Checklist(Ask::Filter),
                st.filter.clone(),
                vec!["Filter items:".into()],
            ))
        }
    }
    None
}

/// The filter applies while it is typed.
pub fn edited(app: &mut App, ask: &Ask, input: &str) {
    match ask {
        Ask::Filter => {
            app.checklist.filter = input.to_string();
            app.checklist.cursor = 0;
        }
        Ask::Note(_) => {}
    }
}

/// A prompt of the checklist was confirmed with this text.
pub fn answer(app: &mut App, ask: Ask, input: &str) -> Option<Cmd> {
    match ask {
        Ask::Note(id) => {
            let camp = app.camp.as_mut()?;
            let test_db = camp.test_db.clone();
            let st = camp.states.entry(id).or_insert(ItemState {
                mark: None,
                note: String::new(),
                at: Utc::now(),
                test_db,
            });
            st.note = input.trim().to_string();
            st.at = Utc::now();
            app.save()
        }
        Ask::Filter => None,
    }
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return super::loading(f, area, theme);
    };
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let s = c.summary();
    let filter = if app.checklist.filter.is_empty() {
        String::new()
    } else {
        format!("  filter: {}", app.checklist.filter)
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
    if app.checklist.rows {
        if let Some(k) = selected_check(app) {
            return rows_view(&k, app.checklist.scroll, f, body, theme);
        }
    }
    let [list_area, help_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
    let visible = c.visible(&app.checklist.filter);
    let auto = auto_visible(c, &app.checklist.filter);
    let mut last_area = "";
    let mut items = Vec::new();
    let mut selected_row = 0;
    let compared = c.comparison.as_ref().map(|cmp| {
        if cmp.ok() {
            "all hold".to_string()
        } else {
            format!("{} differ", cmp.failed().count())
        }
    });
    items.push(ListItem::new(Line::from(vec![
        Span::styled("Automatic checks", theme.title()),
        Span::styled(
            match &compared {
                Some(s) => format!("  by upgrade-pilot: {s} · r: again"),
                None => "  not compared yet · r: compare with production".to_string(),
            },
            theme.dim(),
        ),
    ])));
    for (n, k) in auto.iter().enumerate() {
        if n == app.checklist.cursor {
            selected_row = items.len();
        }
        let (sym, style) = match (k.ok, k.skipped) {
            (_, true) => ("–", theme.dim()),
            (true, false) => ("✓", theme.done()),
            (false, false) => ("✗", theme.error()),
        };
        items.push(ListItem::new(Line::from(vec![
            Span::styled(format!(" {sym} "), style),
            Span::raw(format!("{}: ", k.name)),
            Span::styled(
                k.summary.clone(),
                if k.ok { theme.dim() } else { theme.warn() },
            ),
        ])));
    }
    for (n, i) in visible.iter().enumerate() {
        let n = n + auto.len();

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
        if n == app.checklist.cursor {
            selected_row = items.len();
        }
        let mut row = vec![Span::styled(format!(" {sym} "), style)];
        if i.fully_automatic {
            row.push(Span::styled("(auto) ", theme.dim()));
        }
        row.push(Span::raw(format!("{}{note}", i.title)));
        items.push(ListItem::new(Line::from(row)));
    }
    let mut state = ListState::default()
        .with_selected((!visible.is_empty() || !auto.is_empty()).then_some(selected_row));
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
    if let Some(k) = selected_check(app) {
        let mut t = vec![
            Line::from(Span::styled(k.name.clone(), theme.title())),
            Line::from(Span::styled(
                format!("{} · {}", k.area, if k.ok { "holds" } else { "differs" }),
                if k.ok { theme.done() } else { theme.error() },
            )),
            Line::from(k.summary.clone()),
            Line::from(""),
        ];
        for d in k
            .differences
            .iter()
            .take(help_area.height.saturating_sub(8) as usize)
        {
            t.push(Line::from(format!("• {d}")));
        }
        if !k.ok {
            t.push(Line::from(""));
            t.push(Line::from(Span::styled(
                "Enter: all rows · f: file them as an anomaly",
                theme.key(),
            )));
        }
        f.render_widget(
            Paragraph::new(t)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(" Compared with production ")),
            help_area,
        );
        return;
    }
    let help = selected_item(app).map(|i| {
        let note = c
            .states
            .get(&i.id)
            .map(|s| s.note.clone())
            .filter(|n| !n.is_empty());
        let mut t = vec![
            Line::from(Span::styled(i.title.clone(), theme.title())),
            Line::from(""),
        ];
        if i.fully_automatic {
            t.push(Line::from(Span::styled(
                "Nothing to test by hand: the automatic checks cover all of it.",
                theme.key(),
            )));
            t.push(Line::from(""));
        }
        t.push(Line::from(i.help.clone()));
        if let Some(n) = note {
            t.push(Line::from(""));
            t.push(Line::from(Span::styled(format!("note: {n}"), theme.key())));
        }
        // What the comparison already checked of this item; the rest is the tester's.
        let how = if i.fully_automatic { "fully" } else { "partly" };
        for name in &i.automatic {
            let k = automatic(c).iter().find(|k| &k.name == name);
            t.push(Line::from(""));
            t.push(Line::from(match k {
                Some(k) => Span::styled(
                    format!(
                        "{} automatic check \"{name}\" ({how} covers it): {}",
                        if k.ok { "✓" } else { "✗" },
                        k.summary
                    ),
                    if k.ok { theme.done() } else { theme.error() },
                ),
                None => Span::styled(
                    format!("{how} covered by the automatic check \"{name}\" (r runs it)"),
                    theme.dim(),
                ),
            }));
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

/// One automatic check's differing rows (and notes), full width.
fn rows_view(k: &CheckResult, scroll: usize, f: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines: Vec<Line> = k
        .differences
        .iter()
        .map(|d| Line::from(format!("✗ {d}")))
        .collect();
    if k.more > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "… and {} more (upgrade-pilot compare lists them all)",
                k.more
            ),
            theme.dim(),
        )));
    }
    for n in &k.notes {
        lines.push(Line::from(Span::styled(format!("note: {n}"), theme.dim())));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no differing row", theme.done())));
    }
    let scroll = scroll.min(lines.len().saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
            .block(Block::bordered().title(format!(
                " {} · {}: {} — j/k scroll · f anomaly · Esc back ",
                k.area, k.name, k.summary
            ))),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::anomaly::{Severity, Status};
    use crate::campaign::checklist::Mark;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn checklist_pass_fail_files_an_anomaly_and_saves_each_change() {
        let mut app = app_on(Screen::Checklist);
        let cmd = update(&mut app, press(KeyCode::Char(' ')));
        let Some(Cmd::SaveCampaign { checklist, .. }) = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(checklist["views"].mark, Some(Mark::Pass));
        assert_eq!(
            checklist["views"].test_db.as_deref(),
            Some("prod_test_17.0_2026_11_23_09_30")
        );
        update(&mut app, press(KeyCode::Char('j')));
        assert!(matches!(
            update(&mut app, press(KeyCode::Char('f'))),
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
        update(&mut app, press(KeyCode::Tab));
        update(&mut app, press(KeyCode::Tab));
        update(&mut app, press(KeyCode::Right));
        update(&mut app, Msg::Paste("ignored on the severity field".into()));
        update(&mut app, press(KeyCode::Tab));
        update(
            &mut app,
            Msg::Paste("1. print INV/1\n2. look at the header".into()),
        );
        let (_, anomalies) = saved(update(&mut app, ctrl('s')));
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
        let (_, anomalies) = saved(update(&mut app, press(KeyCode::Char('x'))));
        assert_eq!(anomalies[0].status, Status::Fixed);
    }

    /// The form takes typed keys; F1 (types nothing) still opens its help,
    /// and Esc closes the help, not the form.
    #[test]
    fn the_form_has_its_help() {
        let mut app = app_on(Screen::Checklist);
        update(&mut app, press(KeyCode::Char('f')));
        typed(&mut app, "?q");
        assert!(!app.help && !app.quit, "? and q are typed");
        assert!(app.form.as_ref().unwrap().text(0).ends_with("?q"));
        update(&mut app, press(KeyCode::F(1)));
        assert!(app.help);
        update(&mut app, press(KeyCode::Esc));
        assert!(!app.help);
        assert_eq!(app.screen, Screen::AnomalyForm);
        update(&mut app, press(KeyCode::Esc));
        assert_eq!(
            app.screen,
            Screen::Checklist,
            "Esc cancels the form: back to the checklist"
        );
    }

    #[test]
    fn notes_filter_and_empty_title_refused() {
        let mut app = app_on(Screen::Checklist);
        update(&mut app, press(KeyCode::Char('n')));
        typed(&mut app, "ok in fr_BE too");
        let Some(Cmd::SaveCampaign { checklist, .. }) = update(&mut app, press(KeyCode::Enter))
        else {
            panic!()
        };
        assert_eq!(checklist["views"].note, "ok in fr_BE too");
        assert_eq!(checklist["views"].mark, None, "a note alone is no mark");
        update(&mut app, press(KeyCode::Char('/')));
        typed(&mut app, "ecommerce");
        update(&mut app, press(KeyCode::Enter));
        let c = app.camp.as_ref().unwrap();
        assert_eq!(
            c.visible(&app.checklist.filter)
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["ecommerce"]
        );
        app.screen = Screen::Anomalies;
        update(&mut app, press(KeyCode::Char('n')));
        assert_eq!(update(&mut app, ctrl('s')), None);
        assert_eq!(app.message.as_deref(), Some("an anomaly needs a title"));
        assert_eq!(app.screen, Screen::AnomalyForm);
    }

    fn compared_app() -> App {
        let mut app = app_on(Screen::Checklist);
        app.camp.as_mut().unwrap().comparison = Some(comparison());
        app
    }

    #[test]
    fn automatic_checks_lead_the_checklist_marked_by_the_tool() {
        let mut app = compared_app();
        app.checklist.cursor = 1;
        insta::assert_snapshot!("checklist_automatic_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("checklist_automatic_120x40", render(&app, 120, 40));
        // Enter: the differing rows in full; Esc back.
        update(&mut app, press(KeyCode::Enter));
        assert!(app.checklist.rows);
        insta::assert_snapshot!("checklist_automatic_rows_80x24", render(&app, 80, 24));
        update(&mut app, press(KeyCode::Esc));
        assert!(!app.checklist.rows);
        // A manual item says what the tool already checked of it.
        app.checklist.cursor = 3;
        insta::assert_snapshot!(
            "checklist_item_partly_automatic_80x24",
            render(&app, 80, 24)
        );
        app.checklist.cursor = 1;
        // The tool marks them, not the tester.
        assert_eq!(update(&mut app, press(KeyCode::Char(' '))), None);
        assert!(
            app.message
                .as_deref()
                .unwrap()
                .contains("marked by the tool")
        );
        // Below them, the manual items work as before.
        update(&mut app, press(KeyCode::Char('j')));
        update(&mut app, press(KeyCode::Char('j')));
        let (checklist, _) = saved(update(&mut app, press(KeyCode::Char(' '))));
        assert_eq!(checklist["views"].mark, Some(Mark::Pass));
    }

    /// An item the comparison covers entirely says so, in the list and beside it.
    #[test]
    fn an_item_the_comparison_fully_covers_says_so() {
        let mut app = compared_app();
        let c = app.camp.as_ref().unwrap();
        let at = c
            .visible("")
            .iter()
            .position(|i| i.id == "records")
            .unwrap();
        app.checklist.cursor = automatic(c).len() + at;
        let text = render(&app, 80, 24);
        assert!(text.contains("No record lost"), "{text}");
        assert!(text.contains("(auto) No record lost"), "{text}");
        assert!(text.contains("Nothing to test by hand"), "{text}");
        insta::assert_snapshot!("checklist_item_fully_automatic_80x24", text);
        // A partly covered one leaves the rest to the tester.
        app.checklist.cursor = automatic(app.camp.as_ref().unwrap()).len();
        assert!(!render(&app, 80, 24).contains("Nothing to test by hand"));
    }

    #[test]
    fn a_failing_automatic_check_files_a_prefilled_anomaly_with_its_rows() {
        let mut app = compared_app();
        // A check that holds has nothing to report.
        update(&mut app, press(KeyCode::Char('f')));
        assert_eq!(app.screen, Screen::Checklist);
        update(&mut app, press(KeyCode::Char('j')));
        update(&mut app, press(KeyCode::Char('f')));
        assert_eq!(app.screen, Screen::AnomalyForm);
        let form = app.form.as_ref().unwrap();
        assert_eq!(
            form.text(0),
            "journal items per account: 2 account(s) differ"
        );
        assert_eq!(form.text(1), "accounting");
        assert!(
            form.text(3).contains(
                "upgrade-pilot compare --db prod --test-db prod_test_17.0_2026_11_23_09_30"
            )
        );
        assert_eq!(
            form.text(5),
            "My Company · 400000: debit 1200.00 → 1100.00, balance -1200.00 → -1100.00\nMy Company · 101401: credit 85.67 → 81.17"
        );
        let (_, anomalies) = saved(update(&mut app, ctrl('s')));
        assert_eq!(anomalies[0].area, "accounting");
        assert!(anomalies[0].actual.contains("101401"));
    }

    #[test]
    fn r_compares_again_and_the_answer_replaces_the_checks() {
        let mut app = app_on(Screen::Checklist);
        insta::assert_snapshot!("checklist_not_compared_80x24", render(&app, 80, 24));
        assert_eq!(
            update(&mut app, press(KeyCode::Char('r'))),
            Some(Cmd::Compare {
                db: "prod".into(),
                test_db: "prod_test_17.0_2026_11_23_09_30".into()
            })
        );
        update(&mut app, Msg::Compared(Ok(comparison())));
        assert_eq!(
            crate::tui::screens::checklist::automatic(app.camp.as_ref().unwrap()).len(),
            3
        );
        assert_eq!(
            app.message.as_deref(),
            Some("compared with production: 1 of 3 checks differ (2 row(s))")
        );
        update(&mut app, Msg::Compared(Err("connection refused".into())));
        assert_eq!(
            app.message.as_deref(),
            Some("comparison not made: connection refused")
        );
        assert_eq!(
            automatic(app.camp.as_ref().unwrap()).len(),
            3,
            "the last comparison stays"
        );
    }

    #[test]
    fn the_default_checklist_names_only_real_automatic_checks() {
        let names: Vec<String> = crate::odoo::compare::check_names()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for i in crate::campaign::checklist::load(None).unwrap() {
            for a in &i.automatic {
                assert!(names.contains(a), "{}: no automatic check {a:?}", i.id);
            }
        }
    }
}

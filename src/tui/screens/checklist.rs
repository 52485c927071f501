//! Step 4: the checklist of the test copy; pass, fail (files an anomaly), skip, notes.

use chrono::Utc;
use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use super::Purpose;
use super::anomaly_form::Form;
use super::{Room, Screen};
use crate::campaign::checklist::{ItemState, Mark};
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::overlays::prompt::Prompt;
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct State {
    /// Position in the visible items.
    pub cursor: usize,
    pub filter: String,
}

/// What a prompt opened from the checklist asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// A note on the item with this id.
    Note(String),
    Filter,
}

fn mark(app: &mut App, m: Mark) -> Option<Cmd> {
    let State { cursor, filter } = &app.checklist;
    let camp = app.camp.as_mut()?;
    let id = camp.visible(filter).get(*cursor)?.id.clone();
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
        .map(|c| c.visible(&app.checklist.filter).len())
        .unwrap_or(0);
    let st = &mut app.checklist;
    match a {
        Action::Anomalies => return super::open_anomalies(app),
        Action::Retest => return super::new_test(app),
        Action::Down => st.cursor = (st.cursor + 1).min(n.saturating_sub(1)),
        Action::Up => st.cursor = st.cursor.saturating_sub(1),
        Action::Pass => return mark(app, Mark::Pass),
        Action::Skip => return mark(app, Mark::Skip),
        Action::Fail => {
            let cmd = mark(app, Mark::Fail);
            let State { cursor, filter } = &app.checklist;
            let item = app
                .camp
                .as_ref()
                .and_then(|c| c.visible(filter).get(*cursor).map(|i| (*i).clone()));
            if let Some(i) = item {
                app.form = Some(Form::new(&format!("{}: ", i.title), &i.area, Some(i.id)));
                super::go(app, Screen::AnomalyForm);
            }
            return cmd;
        }
        Action::Note => {
            let State { cursor, filter } = &app.checklist;
            let c = app.camp.as_ref()?;
            let id = c.visible(filter).get(*cursor)?.id.clone();
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
    let [list_area, help_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
    let visible = c.visible(&app.checklist.filter);
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
        if n == app.checklist.cursor {
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
    let help = visible.get(app.checklist.cursor).map(|i| {
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
}

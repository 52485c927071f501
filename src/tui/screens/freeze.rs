//! Step 7 (and the start of 8): the test status, who is connected, freeze now
//! or at a time, then upgrade production.

use chrono::Utc;
use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Purpose;
use super::Room;
use crate::odoo::version::Series;
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::Cmd;
use crate::tui::overlays::prompt::Prompt;
use crate::tui::theme::Theme;

/// A freeze scheduled from this screen, and the clock that counts down to it.
#[derive(Debug, Default)]
pub struct State {
    pub at: Option<chrono::DateTime<Utc>>,
    /// `at` in local time, as written when it was scheduled (the view reads no clock).
    pub label: String,
    /// When production is back after that freeze, by the estimate (local time).
    pub back: Option<String>,
    pub now: Option<chrono::DateTime<Utc>>,
}

/// What a prompt opened from Freeze asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Typed confirmation of a freeze now.
    Freeze,
    /// A time (HH:MM) to freeze at; then the typed confirmation.
    FreezeAt,
    ScheduleFreeze(chrono::DateTime<Utc>),
    /// Typed confirmation of an untested production upgrade.
    Production,
}

fn production_target(app: &App) -> Option<String> {
    let c = app.camp.as_ref()?;
    c.test_target.clone().or_else(|| {
        app.request
            .inspection
            .as_ref()
            .map(|i| Series::new(i.series.major + 1, 0).to_string())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    /// Freeze now; once frozen, upgrade production.
    Primary,
    Upgrade,
    Schedule,
    Unschedule,
    Refresh,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "Enter",
        desc: "freeze now; once frozen, upgrade production",
        foot: "Enter freeze now / upgrade",
        bind: &[(Key::code(KeyCode::Enter), Action::Primary)],
    },
    Entry {
        keys: "p",
        desc: "upgrade production (once frozen)",
        foot: "",
        bind: &[(Key::ch('p'), Action::Upgrade)],
    },
    Entry {
        keys: "s",
        desc: "schedule the freeze at a time (HH:MM)",
        foot: "s schedule",
        bind: &[(Key::ch('s'), Action::Schedule)],
    },
    Entry {
        keys: "x",
        desc: "cancel the scheduled freeze",
        foot: "x unschedule",
        bind: &[(Key::ch('x'), Action::Unschedule)],
    },
    Entry {
        keys: "r",
        desc: "refresh: sessions and freeze state",
        foot: "r refresh",
        bind: &[(Key::ch('r'), Action::Refresh)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "freeze",
    step: |_| 7,
    takes_text: false,
    key: |app, k| keymap::resolve(KEYS, &k).and_then(|a| act(app, a)),
    view,
    hints: || keymap::hints(KEYS),
    problems: || keymap::problems(KEYS),
    bound: || keymap::bound(KEYS),
};

pub fn act(app: &mut App, a: Action) -> Option<Cmd> {
    let c = app.camp.as_ref()?;
    let db = c.db.clone();
    let untested = !c.tested();
    let frozen = c.frozen_since.is_some();
    match a {
        Action::Refresh => return Some(Cmd::LoadCampaign(db)),
        Action::Schedule if frozen => app.message = Some(format!("{db} is already frozen")),
        Action::Schedule => {
            app.freeze.at = None;
            app.prompt = Some(Prompt::free(
                Purpose::Freeze(Ask::FreezeAt),
                String::new(),
                vec!["Freeze at (HH:MM, 24 h; the next such time):".into()],
            ));
        }
        Action::Unschedule if app.freeze.at.is_some() => {
            app.freeze.at = None;
            app.message = Some("scheduled freeze cancelled".into());
        }
        Action::Unschedule => app.message = Some("no freeze is scheduled".into()),
        Action::Primary if !frozen => {
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
                    "Odoo warns: untested upgrades block workflows and break webshops.".into(),
                );
            }
            lines.push(format!("Type {expect:?} to confirm:"));
            app.prompt = Some(Prompt::typed(Purpose::Freeze(Ask::Freeze), expect, lines));
        }
        Action::Upgrade if !frozen => {
            app.message = Some(format!(
                "freeze {db} first ({}): production is upgraded frozen",
                keymap::keys_of(KEYS, Action::Primary)
            ))
        }
        Action::Primary | Action::Upgrade => {
            let target = production_target(app)?;
            if untested {
                let expect = format!("untested {db}");
                app.prompt = Some(Prompt::typed(
                    Purpose::Freeze(Ask::Production),
                    expect.clone(),
                    vec![
                        format!("Upgrade production {db} to {target}: testing is NOT complete."),
                        format!("Type {expect:?} to go on anyway:"),
                    ],
                ));
                return None;
            }
            return Some(Cmd::StartProduction { db, target });
        }
    }
    None
}

/// A prompt of Freeze was confirmed with this text.
pub fn answer(app: &mut App, ask: Ask, input: &str) -> Option<Cmd> {
    let db = app.campaign_db()?;
    match ask {
        Ask::Freeze => Some(Cmd::Freeze(db)),
        Ask::FreezeAt => {
            let Some(at) = parse_hhmm(input.trim(), chrono::Local::now()) else {
                app.message = Some(format!(
                    "{:?} is not a time: write HH:MM (24 h)",
                    input.trim()
                ));
                return None;
            };
            let c = app.camp.as_ref()?;
            let expect = if c.tested() {
                db.clone()
            } else {
                format!("untested {db}")
            };
            let when = local(at);
            let mut lines = vec![format!(
                "Freeze {db} at {when}: Odoo stops then, nobody can log in."
            )];
            lines.push(match &c.estimate {
                Ok(e) => format!(
                    "Production back about {} ({}).",
                    local(e.back_at(at)),
                    e.headline()
                ),
                Err(none) => format!("When production is back: {none}."),
            });
            lines.push(format!("Type {expect:?} to confirm:"));
            app.prompt = Some(Prompt::typed(
                Purpose::Freeze(Ask::ScheduleFreeze(at)),
                expect.clone(),
                lines,
            ));
            None
        }
        Ask::ScheduleFreeze(at) => {
            app.freeze.at = Some(at);
            app.freeze.label = local(at);
            app.freeze.back = app
                .camp
                .as_ref()
                .and_then(|c| c.estimate.as_ref().ok())
                .map(|e| local(e.back_at(at)));
            app.message = Some(format!(
                "freeze scheduled: keep this screen open ({} changes the time, {} cancels)",
                keymap::keys_of(KEYS, Action::Schedule),
                keymap::keys_of(KEYS, Action::Unschedule)
            ));
            None
        }
        Ask::Production => Some(Cmd::StartProduction {
            db,
            target: production_target(app)?,
        }),
    }
}

fn local(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// How long production will be frozen: the estimate, step by step, or why none.
fn estimate_lines(c: &crate::tui::model::CampView, theme: &Theme) -> Vec<Line<'static>> {
    match &c.estimate {
        Ok(e) => {
            let mut out = vec![
                Line::from(Span::styled(
                    format!("Downtime: {}", e.headline()),
                    theme.title(),
                )),
                Line::from(format!("  {}", e.compact())),
            ];
            for n in &e.notes {
                out.push(Line::from(Span::styled(format!("  {n}"), theme.dim())));
            }
            out
        }
        Err(none) => vec![Line::from(Span::styled(
            format!("Downtime: {none}"),
            theme.dim(),
        ))],
    }
}

/// The wall clock while a freeze is scheduled: freeze once it is time.
pub fn clock(app: &mut App, now: chrono::DateTime<Utc>) -> Option<Cmd> {
    app.freeze.now = Some(now);
    match app.freeze.at {
        Some(at) if now >= at => {
            app.freeze.at = None;
            app.campaign_db().map(Cmd::Freeze)
        }
        _ => None,
    }
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

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return super::loading(f, area, theme);
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
    lines.extend(estimate_lines(c, theme));
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
                    "Upgraded copy ready: {up}. 9 opens Restore (step 9)."
                )));
            }
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "{}/{}",
                        keymap::keys_of(KEYS, Action::Upgrade),
                        keymap::keys_of(KEYS, Action::Primary)
                    ),
                    theme.key(),
                ),
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
            if let (Some(at), Some(now)) = (app.freeze.at, app.freeze.now) {
                let left = (at - now).num_seconds().max(0);
                lines.push(Line::from(Span::styled(
                    format!(
                        "Freeze scheduled at {}: in {:02}:{:02}:{:02}   ({} cancels)",
                        app.freeze.label,
                        left / 3600,
                        left / 60 % 60,
                        left % 60,
                        keymap::keys_of(KEYS, Action::Unschedule)
                    ),
                    theme.warn(),
                )));
                if let Some(back) = &app.freeze.back {
                    lines.push(Line::from(Span::styled(
                        format!("Production back about {back}, by the estimate"),
                        theme.warn(),
                    )));
                }
            }
            lines.push(Line::from(vec![
                Span::styled(keymap::keys_of(KEYS, Action::Primary), theme.key()),
                Span::raw(" freeze now   "),
                Span::styled(keymap::keys_of(KEYS, Action::Schedule), theme.key()),
                Span::raw(" schedule at a time   "),
                Span::styled(keymap::keys_of(KEYS, Action::Refresh), theme.key()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::checklist::{self, Mark};
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::screens::Screen;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn freeze_needs_the_typed_name_and_more_when_untested() {
        let mut app = app_on(Screen::Freeze);
        update(&mut app, press(KeyCode::Enter));
        assert_eq!(
            app.prompt.as_ref().unwrap().expect.as_deref(),
            Some("untested prod"),
            "nothing is tested yet"
        );
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            None,
            "a wrong name freezes nothing"
        );
        assert!(app.message.as_deref().unwrap().starts_with("not confirmed"));
        update(&mut app, press(KeyCode::Enter));
        typed(&mut app, "untested prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
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
        update(&mut app, press(KeyCode::Enter));
        assert_eq!(app.prompt.as_ref().unwrap().expect.as_deref(), Some("prod"));
        update(&mut app, press(KeyCode::Esc));
        assert!(app.prompt.is_none());
        app.camp.as_mut().unwrap().frozen_since = Some("now".into());
        assert_eq!(
            update(&mut app, press(KeyCode::Char('p'))),
            Some(Cmd::StartProduction {
                db: "prod".into(),
                target: "17.0".into()
            })
        );
    }

    #[test]
    fn a_scheduled_freeze_counts_down_then_freezes() {
        let mut app = app_on(Screen::Freeze);
        update(&mut app, press(KeyCode::Char('s')));
        typed(&mut app, "25:99");
        assert_eq!(update(&mut app, press(KeyCode::Enter)), None);
        assert!(app.message.as_deref().unwrap().contains("not a time"));
        update(&mut app, press(KeyCode::Char('s')));
        typed(&mut app, "23:30");
        update(&mut app, press(KeyCode::Enter));
        assert!(
            app.prompt
                .as_ref()
                .is_some_and(|p| p.expect.as_deref() == Some("untested prod")),
            "scheduling needs the same typed confirmation"
        );
        typed(&mut app, "untested prod");
        assert_eq!(update(&mut app, press(KeyCode::Enter)), None);
        let at = app.freeze.at.expect("scheduled");
        assert_eq!(
            update(&mut app, Msg::Clock(at - chrono::Duration::seconds(90))),
            None,
            "not yet"
        );
        assert_eq!(
            update(&mut app, Msg::Clock(at)),
            Some(Cmd::Freeze("prod".into()))
        );
        assert!(app.freeze.at.is_none(), "it fires once");
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
    fn with_estimate(app: &mut App) {
        let j = crate::engine::estimate::tests::test_job("template", None);
        app.camp.as_mut().unwrap().estimate = crate::engine::estimate::estimate(Some(&j), None);
    }

    #[test]
    fn the_freeze_screen_says_how_long_production_will_be_frozen() {
        let mut app = app_on(Screen::Freeze);
        let text = render(&app, 100, 30);
        assert!(
            text.contains("Downtime: no estimate: no finished test job"),
            "{text}"
        );
        with_estimate(&mut app);
        let text = render(&app, 100, 30);
        assert!(
            text.contains("production frozen about 1h 00m (estimate from the test run of 2027-01-15 08:00 UTC)"),
            "{text}"
        );
        assert!(text.contains("plan 1h 00m"), "{text}");
        insta::assert_snapshot!("estimate_100x30", text);
    }

    #[test]
    fn scheduling_a_freeze_says_when_production_is_back() {
        let mut app = app_on(Screen::Freeze);
        with_estimate(&mut app);
        update(&mut app, press(KeyCode::Char('s')));
        typed(&mut app, "23:30");
        update(&mut app, press(KeyCode::Enter));
        let prompt = app
            .prompt
            .as_ref()
            .expect("the typed confirmation")
            .lines
            .join("\n");
        let at = parse_hhmm("23:30", chrono::Local::now()).unwrap();
        let back = local(at + chrono::Duration::milliseconds(3_634_700));
        assert!(
            prompt.contains(&format!("Production back about {back}")),
            "{prompt}"
        );
        typed(&mut app, "untested prod");
        update(&mut app, press(KeyCode::Enter));
        assert_eq!(app.freeze.back.as_deref(), Some(back.as_str()));
        // The screen's own snapshot, with fixed local times.
        app.freeze.label = "2026-11-18 23:30".into();
        app.freeze.back = Some("2026-11-19 00:31".into());
        update(&mut app, Msg::Clock(at - chrono::Duration::seconds(3725)));
        let text = render(&app, 100, 30);
        assert!(
            text.contains("Production back about 2026-11-19 00:31"),
            "{text}"
        );
        insta::assert_snapshot!("scheduled_back_100x30", text);
    }

    #[test]
    fn a_scheduled_freeze_shows_its_countdown() {
        let mut app = app_on(Screen::Freeze);
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        app.freeze.at = Some(at);
        app.freeze.label = "2026-11-18 23:30".into();
        update(&mut app, Msg::Clock(at - chrono::Duration::seconds(3725)));
        let text = render(&app, 80, 24);
        assert!(text.contains("in 01:02:05"), "{text}");
        insta::assert_snapshot!("scheduled_80x24", text);
    }
}

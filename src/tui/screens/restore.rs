//! Step 9: swap the upgraded copy into place, or roll a swap back.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Purpose;
use super::Room;
use crate::odoo::compare::Comparison;
use crate::tui::App;
use crate::tui::keymap::{self, Entry, Key};
use crate::tui::model::{CampView, Cmd, SwapView};
use crate::tui::overlays::prompt::Prompt;
use crate::tui::theme::Theme;

#[derive(Debug, Default)]
pub struct State {
    /// The last restore or rollback done from this screen.
    pub result: Option<SwapView>,
}

/// What a prompt opened from Restore asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Restore,
    /// The production comparison's differences, accepted before the swap.
    Acknowledge,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Action {
    Swap,
    Rollback,
    Refresh,
}

pub const KEYS: &[Entry<Action>] = &[
    Entry {
        keys: "Enter",
        desc: "swap into place",
        foot: "Enter swap into place",
        bind: &[(Key::code(KeyCode::Enter), Action::Swap)],
    },
    Entry {
        keys: "R",
        desc: "roll back",
        foot: "R roll back",
        bind: &[(Key::ch('R'), Action::Rollback)],
    },
    Entry {
        keys: "r",
        desc: "refresh",
        foot: "r refresh",
        bind: &[(Key::ch('r'), Action::Refresh)],
    },
];

pub const ROOM: Room = Room {
    walkthrough: "restore",
    step: |_| 9,
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
    match a {
        Action::Swap => match &c.restore_plan {
            Ok(_) if open_differences(c).is_some() => {
                app.prompt = Some(acknowledge_prompt(c));
            }
            Ok(what) => {
                app.prompt = Some(Prompt::typed(
                    Purpose::Restore(Ask::Restore),
                    db.clone(),
                    vec![
                        format!("Swap into place: {what}."),
                        format!("Type {db:?} to confirm:"),
                    ],
                ));
            }
            Err(why) => app.message = Some(why.clone()),
        },
        Action::Rollback => match &c.rollback_plan {
            Some(what) => {
                let expect = format!("rollback {db}");
                app.prompt = Some(Prompt::typed(
                    Purpose::Restore(Ask::Rollback),
                    expect.clone(),
                    vec![
                        format!("Roll back: {what}."),
                        format!("Type {expect:?} to confirm:"),
                    ],
                ));
            }
            None => app.message = Some("no restore to roll back".into()),
        },
        Action::Refresh => return Some(Cmd::LoadCampaign(db)),
    }
    None
}

/// A prompt of Restore was confirmed (the typed text was checked).
pub fn answer(app: &mut App, ask: Ask) -> Option<Cmd> {
    let db = app.campaign_db()?;
    match ask {
        Ask::Restore => Some(Cmd::Restore(db)),
        Ask::Acknowledge => Some(Cmd::Acknowledge(db)),
        Ask::Rollback => Some(Cmd::Rollback(db)),
    }
}

/// The production comparison, when it differs and nobody acknowledged it yet.
fn open_differences(c: &CampView) -> Option<&Comparison> {
    c.production_comparison
        .as_deref()
        .filter(|cmp| !cmp.ok() && c.production_acknowledged.is_none())
}

fn acknowledge_prompt(c: &CampView) -> Prompt<Purpose> {
    let n = open_differences(c).map_or(0, |cmp| cmp.difference_count());
    Prompt::typed(
        Purpose::Restore(Ask::Acknowledge),
        "acknowledge".into(),
        vec![
            format!(
                "The upgraded copy differs from production in {n} row(s), listed on the screen."
            ),
            "Type \"acknowledge\" to accept them as expected for the upgrade:".into(),
        ],
    )
}

/// Differing rows shown per check on this screen (all of them: `status --json`).
const ROWS_SHOWN: usize = 5;

/// What the production copy's comparison found, before anyone swaps it in.
fn comparison_lines(c: &CampView, theme: &Theme) -> Vec<Line<'static>> {
    let Some(cmp) = c.production_comparison.as_deref() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if cmp.ok() {
        lines.push(Line::from(Span::styled(
            format!("✓ Compared with production: {}.", cmp.summary()),
            theme.done(),
        )));
        lines.push(Line::from(""));
        return lines;
    }
    lines.push(Line::from(Span::styled(
        format!(
            "The upgraded copy differs from production: {}.",
            cmp.summary()
        ),
        theme.warn(),
    )));
    for check in cmp.failed() {
        lines.push(Line::from(Span::styled(
            format!("  ✗ {} · {}: {}", check.area, check.name, check.summary),
            theme.error(),
        )));
        for d in check.differences.iter().take(ROWS_SHOWN) {
            lines.push(Line::from(format!("      {d}")));
        }
        let hidden = check.differences.len().saturating_sub(ROWS_SHOWN) + check.more;
        if hidden > 0 {
            lines.push(Line::from(Span::styled(
                format!("      … and {hidden} more (upgrade-pilot status --json)"),
                theme.dim(),
            )));
        }
    }
    lines.push(match &c.production_acknowledged {
        Some(by) => Line::from(Span::styled(format!("Acknowledged {by}."), theme.done())),
        None => Line::from(vec![
            Span::styled(keymap::keys_of(KEYS, Action::Swap), theme.key()),
            Span::raw(" first asks you to acknowledge them (type \"acknowledge\"), then to swap"),
        ]),
    });
    lines.push(Line::from(""));
    lines
}

/// A restore or rollback answered: show its checks, read the campaign again.
pub fn swapped(app: &mut App, r: Result<SwapView, String>) -> Option<Cmd> {
    match r {
        Ok(v) => {
            app.message = None;
            app.restore.result = Some(v);
        }
        Err(e) => app.message = Some(e),
    }
    app.campaign_db().map(Cmd::LoadCampaign)
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let Some(c) = &app.camp else {
        return super::loading(f, area, theme);
    };
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Restore into {}", c.db),
            theme.title(),
        )),
        Line::from(""),
    ];
    // A swap done from this screen comes first: what moved and its checks.
    if let Some(r) = &app.restore.result {
        lines.push(Line::from(Span::styled(r.what.clone(), theme.done())));
        for (ok, d) in &r.checks {
            lines.push(Line::from(Span::styled(
                format!("  {} {d}", if *ok { "✓" } else { "✗" }),
                if *ok { theme.done() } else { theme.error() },
            )));
        }
        lines.push(Line::from(""));
    } else if c.rollback_plan.is_some() && c.restore_plan.is_err() {
        lines.push(Line::from(Span::styled(
            "Restored: the upgraded copy is production now.",
            theme.done(),
        )));
        lines.push(Line::from(""));
    }
    if c.restore_plan.is_ok() {
        lines.extend(comparison_lines(c, theme));
    }
    // What production's window cost, measured (so far, while still frozen).
    if let Some(d) = &c.downtime {
        lines.push(Line::from(Span::styled(
            format!("Production {}", d.headline()),
            theme.title(),
        )));
        lines.push(Line::from(format!("  spent on: {}", d.spent_on())));
        lines.push(Line::from(""));
    }
    match &c.restore_plan {
        Ok(what) => {
            lines.push(Line::from(format!("The swap: {what}")));
            lines.push(Line::from("Both renames happen in one transaction; the filestore follows; production is reopened."));
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled(keymap::keys_of(KEYS, Action::Swap), theme.key()),
                Span::raw(" swap into place (you type the database name)"),
            ]));
        }
        // Why no (other) swap is planned: news only when nothing was restored.
        Err(why) if app.restore.result.is_none() && c.rollback_plan.is_none() => {
            lines.push(Line::from(Span::styled(why.clone(), theme.dim())))
        }
        Err(_) => {}
    }
    if let Some(rb) = &c.rollback_plan {
        lines.push(Line::from(vec![
            Span::styled(keymap::keys_of(KEYS, Action::Rollback), theme.key()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::model::{Msg, SwapView};
    use crate::tui::screens::Screen;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    /// Right after a restore, the screen says it is done, not that the copy
    /// "was already restored" (the engine's reason no second restore is planned).
    #[test]
    fn after_a_restore_the_screen_says_it_is_done() {
        let mut app = app_on(Screen::Restore);
        update(
            &mut app,
            Msg::Swapped(Ok(SwapView {
                what: "restored: \"prod\" → \"prod_before_17.0\", upgraded \"prod_upgrade_17.0\" → \"prod\"".into(),
                checks: vec![(true, "modules: 26 installed, none to upgrade".into())],
            })),
        );
        let c = app.camp.as_mut().unwrap();
        c.restore_plan = Err(
            "\"prod_upgrade_17.0\" was already restored into \"prod\"; run production again for a new upgrade".into(),
        );
        c.rollback_plan =
            Some("\"prod\" (upgraded) → \"prod_failed\", \"prod_before_17.0\" → \"prod\"".into());
        let text = render(&app, 80, 24);
        assert!(!text.contains("already restored"), "{text}");
        assert!(text.contains("restored: \"prod\""), "{text}");
        insta::assert_snapshot!("restore_after_swap_80x24", text);
    }

    #[test]
    fn the_restore_screen_shows_the_downtime_and_what_it_went_to() {
        use crate::engine::downtime::{Downtime, Part};
        let mut app = app_on(Screen::Restore);
        let at = |s: i64| chrono::DateTime::from_timestamp(1_795_000_000 + s, 0).unwrap();
        let part = |what: &str, seconds| Part {
            what: what.into(),
            seconds,
        };
        app.camp.as_mut().unwrap().downtime = Some(Downtime {
            frozen_at: at(0),
            reopened_at: Some(at(3902)),
            seconds: 3902.0,
            parts: vec![
                part("waiting for the production job", 60.0),
                part("clone", 10.0),
                part("plan", 3600.0),
                part("verify", 1.0),
                part("waiting for the restore", 229.0),
                part("restore", 2.0),
            ],
            alongside: vec![part("backup", 40.0)],
        });
        let text = render(&app, 100, 24);
        assert!(
            text.contains("Production downtime 1h 05m: frozen 2026-11-18 11:06:40 UTC → reopened 2026-11-18 12:11:42 UTC"),
            "{text}"
        );
        assert!(text.contains("plan 1h 00m"), "{text}");
        insta::assert_snapshot!("restore_downtime_100x24", text);
    }

    #[test]
    fn restore_and_rollback_are_typed() {
        let mut app = app_on(Screen::Restore);
        update(&mut app, press(KeyCode::Enter));
        assert!(app.prompt.is_none(), "no upgraded copy: nothing to confirm");
        assert!(app.message.as_deref().unwrap().contains("no upgraded copy"));
        app.camp.as_mut().unwrap().restore_plan =
            Ok("prod → prod_before, prod_upgrade → prod".into());
        update(&mut app, press(KeyCode::Enter));
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Restore("prod".into()))
        );
        update(&mut app, press(KeyCode::Char('R')));
        assert!(app.prompt.is_none(), "no restore to roll back yet");
        app.camp.as_mut().unwrap().rollback_plan =
            Some("prod → prod_failed, prod_before → prod".into());
        update(&mut app, press(KeyCode::Char('R')));
        typed(&mut app, "rollback prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Rollback("prod".into()))
        );
    }

    /// Before the swap, the production copy's differences are listed, and
    /// Enter asks to acknowledge them (typed) before it offers the swap.
    #[test]
    fn the_production_comparison_is_listed_and_acknowledged_before_the_swap() {
        let mut app = app_on(Screen::Restore);
        let c = app.camp.as_mut().unwrap();
        c.restore_plan =
            Ok("\"prod\" → \"prod_before_17.0\", \"prod_upgrade_17.0\" → \"prod\"".into());
        c.production_comparison = Some(comparison());
        let text = render(&app, 80, 24);
        assert!(
            text.contains("differs from production: 1 of 3 checks differ (2 row(s))"),
            "{text}"
        );
        assert!(
            text.contains("✗ accounting · journal items per account"),
            "{text}"
        );
        assert!(text.contains("400000: debit 1200.00 → 1100.00"), "{text}");
        insta::assert_snapshot!("restore_differences_80x24", text);

        update(&mut app, press(KeyCode::Enter));
        let p = app.prompt.as_ref().expect("Enter asks first");
        assert_eq!(p.expect.as_deref(), Some("acknowledge"));
        typed(&mut app, "acknowledge");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Acknowledge("prod".into()))
        );
        // Acknowledged (the campaign read again says by whom): Enter offers the swap.
        app.camp.as_mut().unwrap().production_acknowledged =
            Some("by tester at 2026-11-23 10:05 UTC".into());
        let text = render(&app, 80, 24);
        assert!(text.contains("Acknowledged by tester"), "{text}");
        update(&mut app, press(KeyCode::Enter));
        typed(&mut app, "prod");
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::Restore("prod".into()))
        );
    }

    #[test]
    fn a_comparison_that_holds_asks_nothing_more() {
        let mut app = app_on(Screen::Restore);
        let c = app.camp.as_mut().unwrap();
        c.restore_plan = Ok("prod → prod_before, prod_upgrade → prod".into());
        let mut cmp = comparison();
        cmp.checks.retain(|k| k.ok);
        c.production_comparison = Some(cmp);
        let text = render(&app, 80, 24);
        assert!(
            text.contains("✓ Compared with production: all 2 checks hold"),
            "{text}"
        );
        update(&mut app, press(KeyCode::Enter));
        assert_eq!(app.prompt.as_ref().unwrap().expect.as_deref(), Some("prod"));
    }
}

//! The frame: the stepper, the shown screen, the message line, the footer and
//! the overlays. Pure drawing: no I/O, no clock; everything shown comes from
//! the model, so snapshots are stable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::App;
use super::keymap;
use super::overlays::{confirm, help, prompt, walkthrough};
use super::screens;
use super::stepper;
use super::theme::Theme;

pub fn view(app: &App, f: &mut Frame, theme: &Theme) {
    let [top, body, msg, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    stepper::view(app, f, top, theme);
    let body = if app.walkthrough {
        walkthrough::view(app.screen.walkthrough(), f, body, theme)
    } else {
        body
    };
    screens::view(app, f, body, theme);
    if let Some(m) = &app.message {
        f.render_widget(Paragraph::new(Span::styled(m.as_str(), theme.error())), msg);
    }
    footer(app, f, foot, theme);
    if app.help {
        help::view(&screens::hints(app.screen), f, theme);
    }
    if let Some(c) = &app.confirm {
        confirm::view(c, f, theme);
    }
    if let Some(p) = &app.prompt {
        prompt::view(p, f, theme);
    }
}

/// The shown screen's footer entries, then `?` and `q`; all from the key tables.
fn footer(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let mut spans = Vec::new();
    // While typing, the global keys that type nothing (F1); otherwise the others.
    let typing = app.screen.takes_text();
    let global: Vec<_> = keymap::hints(keymap::GLOBAL)
        .into_iter()
        .filter(|h| h.types_nothing == typing)
        .collect();
    for h in screens::hints(app.screen).iter().chain(&global) {
        let Some((keys, what)) = h.foot.split_once(' ') else {
            continue;
        };
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::overlays::confirm::Confirm;
    use crate::tui::screens::Screen;
    use crate::tui::update::update;

    #[test]
    fn request_screen() {
        let app = request_app();
        insta::assert_snapshot!("request_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("request_120x40", render(&app, 120, 40));
    }

    #[test]
    fn wait_screen() {
        let app = wait_app();
        insta::assert_snapshot!("wait_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("wait_120x40", render(&app, 120, 40));
    }

    #[test]
    fn ready_screen() {
        let app = ready_app();
        insta::assert_snapshot!("ready_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("ready_120x40", render(&app, 120, 40));
    }

    /// A job that recorded its changes by module shows them by module.
    #[test]
    fn ready_screen_by_module() {
        use crate::odoo::neutralize::ModuleChanges;
        let mut app = ready_app();
        let m = |module: &str, rows| ModuleChanges {
            module: module.into(),
            rows,
            rules: Vec::new(),
        };
        if let Some(Some(Ok(rec))) = app.job.as_mut().map(|j| j.result.as_mut()) {
            rec.by_module.neutralized_by_module = vec![
                m("base", 19),
                m("mail", 3),
                m("payment_stripe", 1),
                m("pos_adyen", 2),
                m("l10n_es_edi_sii", 1),
                m("website", 0),
            ];
            rec.by_module.neutralized_again_by_module = vec![m("base", 2)];
        }
        insta::assert_snapshot!("ready_by_module_80x24", render(&app, 80, 24));
    }

    #[test]
    fn overlays() {
        let mut app = wait_app();
        app.help = true;
        insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
        app.help = false;
        app.confirm = Some(Confirm::CancelJob);
        insta::assert_snapshot!("confirm_cancel_80x24", render(&app, 80, 24));
        let mut app = request_app();
        app.walkthrough = true;
        insta::assert_snapshot!("walkthrough_request_80x24", render(&app, 80, 24));
    }

    #[test]
    fn checklist_anomaly_freeze_restore_screens() {
        use crate::campaign::checklist::{ItemState, Mark};
        let mut app = app_on(Screen::Checklist);
        let c = app.camp.as_mut().unwrap();
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
        c.states.insert(
            "views".into(),
            ItemState {
                mark: Some(Mark::Pass),
                note: String::new(),
                at,
                test_db: c.test_db.clone(),
            },
        );
        c.states.insert(
            "reports".into(),
            ItemState {
                mark: Some(Mark::Fail),
                note: "logo".into(),
                at,
                test_db: c.test_db.clone(),
            },
        );
        c.states.insert(
            "website".into(),
            ItemState {
                mark: Some(Mark::Pass),
                note: String::new(),
                at,
                test_db: Some("older_copy".into()),
            },
        );
        app.checklist.cursor = 1;
        insta::assert_snapshot!("checklist_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("checklist_120x40", render(&app, 120, 40));

        let k = |c| {
            Msg::Key(crossterm::event::KeyEvent::new(
                c,
                crossterm::event::KeyModifiers::NONE,
            ))
        };
        update(&mut app, k(crossterm::event::KeyCode::Char('f')));
        for ch in "logo missing".chars() {
            update(&mut app, k(crossterm::event::KeyCode::Char(ch)));
        }
        insta::assert_snapshot!("anomaly_form_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("anomaly_form_120x40", render(&app, 120, 40));
        update(
            &mut app,
            Msg::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char('s'),
                crossterm::event::KeyModifiers::CONTROL,
            )),
        );
        if let Some(a) = app.camp.as_mut().and_then(|c| c.anomalies.first_mut()) {
            a.created_at = at;
        }
        app.message = None;
        insta::assert_snapshot!("anomalies_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("anomalies_120x40", render(&app, 120, 40));

        app.screen = Screen::Freeze;
        insta::assert_snapshot!("freeze_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("freeze_120x40", render(&app, 120, 40));
        update(&mut app, k(crossterm::event::KeyCode::Enter));
        insta::assert_snapshot!("freeze_confirm_80x24", render(&app, 80, 24));
        app.prompt = None;

        app.screen = Screen::Restore;
        let c = app.camp.as_mut().unwrap();
        c.restore_plan = Ok("\"prod\" → \"prod_before_17.0_2026_11_23_10_00\", upgraded \"prod_upgrade_17.0_2026_11_23_09_40\" → \"prod\"".into());
        insta::assert_snapshot!("restore_80x24", render(&app, 80, 24));
        insta::assert_snapshot!("restore_120x40", render(&app, 120, 40));
    }

    #[test]
    fn every_screen_has_a_walkthrough_and_keys() {
        for s in <Screen as strum::IntoEnumIterator>::iter() {
            assert!(
                walkthrough::of(s.walkthrough()).is_some_and(|w| !w.text.trim().is_empty()),
                "{s:?}"
            );
            assert!(!screens::hints(s).is_empty(), "{s:?}");
        }
    }
}

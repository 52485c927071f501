//! `update(app, msg)`: every state change of the TUI. Keys travel overlays
//! first (prompt, question, help), then the global keys, then the shown
//! screen (`screens::key`); answers of the effects go to their screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::keymap::{self, Global};
use super::model::{Cmd, JobView, LOG_CAP, Msg, StepState, StepView};
use super::overlays::confirm::{self, Confirm};
use super::overlays::help;
use super::overlays::prompt::{self, Outcome};
use super::screens::{self, Screen, anomaly_form, checklist, freeze, request, restore};
use crate::engine::job::{SeenStatus, StepStatus};
use crate::engine::{Event, Progress, Step};

pub fn update(app: &mut App, msg: Msg) -> Option<Cmd> {
    match msg {
        Msg::Key(k) => key(app, k),
        Msg::Paste(text) => {
            if let Some(p) = app.prompt.as_mut() {
                p.paste(&text);
            } else if let Some(f) = app.form.as_mut() {
                anomaly_form::paste(f, &text);
            }
            None
        }
        Msg::Dbs(res) => request::dbs(app, res),
        Msg::Inspected(db, res) => request::inspected(app, db, res),
        Msg::JobStarted {
            db,
            target,
            steps,
            connect,
            production,
        } => {
            app.job = Some(JobView {
                production,
                db,
                connect,
                target,
                steps: steps
                    .into_iter()
                    .map(|name| StepView {
                        name,
                        state: StepState::Todo,
                        seconds: None,
                    })
                    .collect(),
                ..Default::default()
            });
            app.wait = Default::default();
            screens::go(app, Screen::Wait);
            app.message = None;
            None
        }
        Msg::Job(ev) => {
            if let Some(job) = app.job.as_mut() {
                job_event(job, ev);
            }
            None
        }
        Msg::Progress(p) => {
            if let Some(job) = app.job.as_mut() {
                job.progress = p;
            }
            None
        }
        Msg::JobDone(res) => job_done(app, res),
        Msg::Tick(elapsed) => {
            let job = app.job.as_mut().filter(|j| j.running())?;
            if let Some((id, _)) = &job.attached {
                return Some(Cmd::Poll(id.clone()));
            }
            job.elapsed = elapsed;
            None
        }
        Msg::Attached {
            record,
            log,
            elapsed,
        } => {
            let job = app.job.as_mut()?;
            job.steps = record
                .steps
                .iter()
                .map(|s| StepView {
                    name: s.name,
                    state: match s.status {
                        StepStatus::Pending => StepState::Todo,
                        StepStatus::Running => StepState::Running,
                        StepStatus::Done => StepState::Done,
                        StepStatus::Skipped => StepState::Skipped,
                        StepStatus::Failed => StepState::Failed,
                    },
                    seconds: s.seconds,
                })
                .collect();
            let done = record
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Done)
                .count();
            job.progress = Progress {
                step: record.steps.get(done).map(|s| s.name),
                index: done,
                count: record.steps.len(),
                fraction: None,
                detail: "followed from another process".into(),
            };
            job.log = log.into_iter().collect();
            job.elapsed = elapsed;
            match record.effective_status() {
                SeenStatus::Running => None,
                SeenStatus::Ready => job_done(app, Ok(*record)),
                other => {
                    let e = record
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("the job is {other}"));
                    job_done(app, Err(e))
                }
            }
        }
        Msg::Campaign(Ok(c)) => campaign(app, c),
        Msg::Campaign(Err(e)) | Msg::Saved(Err(e)) => {
            app.message = Some(e);
            None
        }
        Msg::Saved(Ok(())) => None,
        Msg::Reported(r) => {
            app.message = Some(r.unwrap_or_else(|e| e));
            None
        }
        Msg::Changed(r) => {
            app.message = Some(r.unwrap_or_else(|e| e));
            app.campaign_db().map(Cmd::LoadCampaign)
        }
        Msg::Swapped(r) => restore::swapped(app, r),
        Msg::Served(r) => super::screens::ready::served(app, r),
        Msg::Compared(r) => checklist::compared(app, r),
        Msg::Clock(now) => freeze::clock(app, now),
    }
}

fn job_done(app: &mut App, res: Result<crate::engine::JobRecord, String>) -> Option<Cmd> {
    let job = app.job.as_mut()?;
    let ok = res.is_ok();
    if let Err(e) = &res {
        app.message = Some(e.clone());
    }
    job.result = Some(res);
    if app.confirm == Some(Confirm::CancelJob) {
        app.confirm = None;
    }
    let production = job.production;
    if app.confirm == Some(Confirm::Quit) || app.quit {
        app.quit = true;
    }
    if ok {
        let next = if production {
            Screen::Restore
        } else {
            Screen::Ready
        };
        screens::go(app, next);
        return app.campaign_db().map(Cmd::LoadCampaign);
    }
    None
}

/// The campaign was read; the first read decides the opening screen.
fn campaign(app: &mut App, c: super::model::CampView) -> Option<Cmd> {
    if !app.opened {
        app.opened = true;
        let running_elsewhere = c
            .unfinished
            .as_ref()
            .filter(|u| u.state == SeenStatus::Running)
            .cloned();
        if let Some(u) = running_elsewhere.filter(|_| app.job.is_none()) {
            // Attach: follow the job another process runs, from its job file and log.
            app.job = Some(JobView {
                production: u.production,
                db: c.db.clone(),
                target: u.target.clone(),
                attached: Some((u.id.clone(), u.pid)),
                ..Default::default()
            });
            app.wait = Default::default();
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
        || app.request.selected_db().is_some_and(|d| d.name == c.db)
    {
        let rows = c.items.len() + checklist::automatic(&c).len();
        app.checklist.cursor = app.checklist.cursor.min(rows.saturating_sub(1));
        app.camp = Some(c);
    }
    None
}

fn job_event(job: &mut JobView, ev: Event) {
    let set = |job: &mut JobView, step: Step, state: StepState, seconds: Option<f64>| {
        if let Some(s) = job.steps.iter_mut().find(|s| s.name == step) {
            s.state = state;
            if seconds.is_some() {
                s.seconds = seconds;
            }
        }
    };
    match ev {
        Event::StepStarted { step } => set(job, step, StepState::Running, None),
        Event::StepFinished { step, seconds } => set(job, step, StepState::Done, Some(seconds)),
        Event::StepSkipped { step, .. } => set(job, step, StepState::Skipped, None),
        Event::StepFailed { step, error } => {
            set(job, step, StepState::Failed, None);
            push_log(job, format!("FAILED: {error}"));
        }
        Event::Warning(w) => {
            push_log(job, format!("warning: {w}"));
            job.warnings.push(w);
        }
        Event::Log(l) => push_log(job, l),
    }
}

fn push_log(job: &mut JobView, line: String) {
    if job.log.len() == LOG_CAP {
        job.log.pop_front();
    }
    // A huge line from a command must not blow up the screen or memory.
    job.log.push_back(line.chars().take(500).collect());
}

fn key(app: &mut App, k: KeyEvent) -> Option<Cmd> {
    let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
    // Text being typed takes every key but Ctrl-C.
    if !ctrl_c {
        if app.prompt.is_some() {
            return match prompt::key(&mut app.prompt, k) {
                Outcome::Typing => {
                    if let Some(p) = app.prompt.clone() {
                        screens::edited(app, &p.purpose, &p.input);
                    }
                    None
                }
                Outcome::Cancelled => None,
                Outcome::Answered(purpose, input) => screens::answer(app, purpose, &input),
                Outcome::Refused(why) => {
                    app.message = Some(why);
                    None
                }
            };
        }
        if app.help {
            return help::key(app, k);
        }
        if app.screen.takes_text() {
            // The screen's own keys, then the global keys that type nothing
            // (F1, Ctrl-C), then the key is typed.
            let own = (screens::room(app.screen).bound)()
                .iter()
                .any(|(b, _)| b.matches(&k));
            let global = keymap::bound(keymap::GLOBAL)
                .iter()
                .any(|(b, _)| b.matches(&k) && b.types_nothing());
            if own || !global {
                return screens::key(app, k);
            }
        }
    }
    if app.confirm.is_some() && !ctrl_c {
        return confirm::key(app, k);
    }
    match keymap::resolve(keymap::GLOBAL, &k) {
        Some(g) => global(app, g),
        None => screens::key(app, k),
    }
}

fn global(app: &mut App, g: Global) -> Option<Cmd> {
    match g {
        Global::Help => app.help = true,
        Global::Walkthrough => app.walkthrough = !app.walkthrough,
        Global::Quit if app.owns_running_job() => app.confirm = Some(Confirm::Quit),
        Global::Quit => app.quit = true,
        Global::Back => screens::back(app),
        Global::Jump(n) => return screens::jump(app, n),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Event;
    use crate::odoo::version::Series;
    use crate::tui::fixtures::*;
    use crate::tui::model::Msg;
    use crate::tui::update::update;
    use crossterm::event::KeyCode;

    #[test]
    fn request_to_wait_to_ready() {
        let mut app = app_with_db();
        assert_eq!(
            app.request.target,
            Some(Series::new(17, 0)),
            "the next major is proposed"
        );
        assert_eq!(app.request.dbs[0].series.as_deref(), Some("16.0"));
        update(&mut app, press(KeyCode::Char('l')));
        assert_eq!(app.request.target, Some(Series::new(18, 0)));
        update(&mut app, press(KeyCode::Char('h')));
        update(&mut app, press(KeyCode::Char('h')));
        assert_eq!(
            app.request.target,
            Some(Series::new(17, 0)),
            "never below the next major"
        );
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            Some(Cmd::StartTest {
                db: "prod".into(),
                target: "17.0".into(),
                drop_previous: None,
                engine: Some(crate::engine::openupgrade::EngineChoice::Plan),
            })
        );
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec![Step::Clone, Step::Verify],
                connect: "psql".into(),
                production: false,
            },
        );
        assert_eq!(app.screen, Screen::Wait);
        update(&mut app, Msg::Job(Event::StepStarted { step: Step::Clone }));
        update(
            &mut app,
            Msg::Job(Event::StepFinished {
                step: Step::Clone,
                seconds: 1.5,
            }),
        );
        let job = app.job.as_ref().unwrap();
        assert_eq!(job.steps[0].state, StepState::Done);
        assert_eq!(job.steps[0].seconds, Some(1.5));
        assert_eq!(job.steps[1].state, StepState::Todo);
        update(
            &mut app,
            Msg::JobDone(Err("verification failed: crons".into())),
        );
        assert_eq!(
            app.screen,
            Screen::Wait,
            "a failed job stays on Wait with its error"
        );
        assert_eq!(app.message.as_deref(), Some("verification failed: crons"));
    }

    #[test]
    fn selecting_another_db_inspects_it_and_ignores_stale_answers() {
        let mut app = app_with_db();
        assert_eq!(
            update(&mut app, press(KeyCode::Char('j'))),
            Some(Cmd::Inspect("other".into()))
        );
        assert!(app.request.inspection.is_none());
        update(
            &mut app,
            Msg::Inspected("prod".into(), Ok(inspection("prod"))),
        );
        assert!(
            app.request.inspection.is_none(),
            "an answer for the old row is dropped"
        );
        assert_eq!(
            update(&mut app, press(KeyCode::Down)),
            None,
            "already at the last row"
        );
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            None,
            "nothing to start before inspection"
        );
    }

    #[test]
    fn quitting_during_a_job_asks_and_cancels() {
        let mut app = app_with_db();
        update(&mut app, press(KeyCode::Enter));
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec![],
                connect: String::new(),
                production: false,
            },
        );
        update(&mut app, press(KeyCode::Char('q')));
        assert_eq!(app.confirm, Some(Confirm::Quit));
        assert!(!app.quit);
        update(&mut app, press(KeyCode::Char('n')));
        assert_eq!(app.confirm, None);
        update(&mut app, press(KeyCode::Char('c')));
        assert_eq!(app.confirm, Some(Confirm::CancelJob));
        assert_eq!(
            update(&mut app, press(KeyCode::Char('y'))),
            Some(Cmd::CancelJob)
        );
        assert!(!app.quit, "cancel is not quit");
        update(&mut app, press(KeyCode::Char('q')));
        assert_eq!(
            update(&mut app, press(KeyCode::Char('y'))),
            Some(Cmd::CancelJob)
        );
        assert!(app.quit);
    }

    #[test]
    fn help_swallows_keys_and_log_is_bounded() {
        let mut app = app_with_db();
        update(&mut app, press(KeyCode::Char('?')));
        assert!(app.help);
        assert_eq!(
            update(&mut app, press(KeyCode::Enter)),
            None,
            "keys do not act behind the help"
        );
        update(&mut app, press(KeyCode::Esc));
        assert!(!app.help);
        update(
            &mut app,
            Msg::JobStarted {
                db: "prod".into(),
                target: "17.0".into(),
                steps: vec![],
                connect: String::new(),
                production: false,
            },
        );
        for i in 0..(LOG_CAP + 500) {
            update(
                &mut app,
                Msg::Job(Event::Log(format!("line {i} {}", "x".repeat(2000)))),
            );
        }
        let job = app.job.as_ref().unwrap();
        assert_eq!(job.log.len(), LOG_CAP);
        assert!(
            job.log
                .back()
                .unwrap()
                .starts_with(&format!("line {}", LOG_CAP + 499))
        );
        assert!(job.log.iter().all(|l| l.chars().count() <= 500));
    }
}

//! Shared test fixtures: the models the unit and snapshot tests start from.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::App;
use super::model::DbRow;
use super::model::{CampView, Cmd, Msg};
use super::screens::Screen;
use super::theme::Theme;
use super::update::update;
use super::view::view;
use crate::campaign::checklist;
use crate::engine::job::{self, JobKind, JobRecord, JobStatus};
use crate::engine::{Event, Progress, Step};
use crate::odoo::inspect::Inspection;
use crate::odoo::neutralize::Report;
use crate::odoo::version::Series;

pub fn press(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// Types `text` key by key.
pub fn typed(app: &mut App, text: &str) {
    for ch in text.chars() {
        update(app, press(KeyCode::Char(ch)));
    }
}

pub fn inspection(db: &str) -> Inspection {
    Inspection {
        db: db.into(),
        series: Series::new(16, 0),
        base_version: "16.0.1.3".into(),
        installed_count: 26,
        installed: Vec::new(),
        pending: Vec::new(),
        custom_modules: vec!["acme_delivery_rules".into()],
        size_bytes: 9_961_472,
        sessions: Vec::new(),
        neutralized: false,
        uuid: None,
        studio: false,
        code_actions: Vec::new(),
        custom_views: Vec::new(),
        enterprise: false,
    }
}

/// Two databases, the first inspected (16.0).
pub fn app_with_db() -> App {
    let mut app = App::new("db.example:5432".into(), vec!["17.0".into()]);
    let dbs = vec![
        DbRow {
            name: "prod".into(),
            size: 10 << 20,
            series: None,
            modules: None,
        },
        DbRow {
            name: "other".into(),
            size: 1 << 20,
            series: None,
            modules: None,
        },
    ];
    assert_eq!(
        update(&mut app, Msg::Dbs(Ok(dbs))),
        Some(Cmd::Inspect("prod".into()))
    );
    assert_eq!(
        update(
            &mut app,
            Msg::Inspected("prod".into(), Ok(inspection("prod")))
        ),
        Some(Cmd::LoadCampaign("prod".into()))
    );
    app
}

pub fn camp() -> CampView {
    CampView {
        db: "prod".into(),
        items: checklist::load(None).unwrap(),
        states: Default::default(),
        anomalies: Vec::new(),
        drafts: Vec::new(),
        frozen_since: None,
        test_db: Some("prod_test_17.0_2026_11_23_09_30".into()),
        test_target: Some("17.0".into()),
        last_test: None,
        test_connect: String::new(),
        upgraded_ready: None,
        restore_plan: Err("no upgraded copy of \"prod\" is ready".into()),
        unfinished: None,
        rollback_plan: None,
        sessions: Vec::new(),
        ticket: "Before production: open an Odoo support ticket of type \"An issue related to my upgrade\".".into(),
        comparison: None,
        production_comparison: None,
        production_acknowledged: None,
        estimate: Err(crate::engine::estimate::NO_TEST.into()),
        downtime: None,
    }
}

/// The comparison a test copy could have: one check differs, the others hold.
pub fn comparison() -> Box<crate::odoo::compare::Comparison> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let check = |name: &str, area: &str, diffs: &[&str]| crate::odoo::compare::CheckResult {
        name: name.into(),
        area: area.into(),
        ok: diffs.is_empty(),
        summary: if diffs.is_empty() {
            "8 row(s) compared, all hold".into()
        } else {
            format!("{} account(s) differ", diffs.len())
        },
        differences: diffs.iter().map(|d| d.to_string()).collect(),
        more: 0,
        notes: Vec::new(),
        skipped: false,
    };
    Box::new(crate::odoo::compare::Comparison {
        production: "prod".into(),
        copy: "prod_test_17.0_2026_11_23_09_30".into(),
        at,
        seconds: 0.4,
        production_read_at: at,
        checks: vec![
            check("records per business model", "records", &[]),
            check(
                "journal items per account",
                "accounting",
                &[
                    "My Company · 400000: debit 1200.00 → 1100.00, balance -1200.00 → -1100.00",
                    "My Company · 101401: credit 85.67 → 81.17",
                ],
            ),
            check("views kept active", "views", &[]),
        ],
    })
}

/// A campaign with a test copy, on `screen`.
pub fn app_on(screen: Screen) -> App {
    let mut app = App::new("db.example:5432".into(), vec!["17.0".into()]);
    update(&mut app, Msg::Campaign(Ok(camp())));
    app.screen = screen;
    app
}

/// The first save a key asked for, or a panic.
pub fn saved(cmd: Option<Cmd>) -> (checklist::States, Vec<crate::campaign::anomaly::Anomaly>) {
    match cmd {
        Some(Cmd::SaveCampaign {
            checklist,
            anomalies,
            ..
        }) => (checklist, anomalies),
        other => panic!("expected a save, got {other:?}"),
    }
}

pub fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(app, f, &Theme::plain())).unwrap();
    t.backend().to_string()
}

pub fn request_app() -> App {
    let mut app = App::new(
        "db.example:5432".into(),
        vec!["17.0".into(), "18.0".into(), "19.0".into()],
    );
    let dbs = vec![
        DbRow {
            name: "prod".into(),
            size: 10 << 20,
            series: None,
            modules: None,
        },
        DbRow {
            name: "staging".into(),
            size: 3 << 20,
            series: None,
            modules: None,
        },
    ];
    update(&mut app, Msg::Dbs(Ok(dbs)));
    update(
        &mut app,
        Msg::Inspected("prod".into(), Ok(inspection("prod"))),
    );
    app
}

pub fn wait_app() -> App {
    let mut app = request_app();
    let steps = crate::engine::test_job::STEPS.to_vec();
    update(
        &mut app,
        Msg::JobStarted {
            db: "prod".into(),
            target: "17.0".into(),
            steps,
            connect: "psql -h 'db.example' -p 5432 -U 'odoo' -d 'prod_test_17.0'".into(),
            production: false,
        },
    );
    for ev in [
        Event::StepStarted {
            step: Step::Preflight,
        },
        Event::StepFinished {
            step: Step::Preflight,
            seconds: 0.1,
        },
        Event::StepStarted { step: Step::Clone },
        Event::StepFinished {
            step: Step::Clone,
            seconds: 41.2,
        },
        Event::StepStarted {
            step: Step::Neutralize,
        },
        Event::StepFinished {
            step: Step::Neutralize,
            seconds: 0.4,
        },
        Event::StepStarted { step: Step::Plan },
        Event::Log("010_mail_alias_domain.sql: applied in 11 ms".into()),
        Event::Log("DEBUG prod odoo.modules.loading: Loading module sale (12/40)".into()),
    ] {
        update(&mut app, Msg::Job(ev));
    }
    update(
        &mut app,
        Msg::Progress(Progress {
            step: Some(Step::Plan),
            index: 3,
            count: 6,
            fraction: Some(0.3),
            detail: "odoo -u all: module 12/40".into(),
        }),
    );
    update(&mut app, Msg::Tick(std::time::Duration::from_secs(95)));
    app
}

pub fn ready_app() -> App {
    let mut app = wait_app();
    let mut neutralized = Report::default();
    for (k, v) in [
        ("crons", 13),
        ("outgoing_mail", 6),
        ("payment", 3),
        ("identity", 4),
        ("flag", 1),
        ("edi", 0),
    ] {
        neutralized.0.insert(k.into(), Some(v));
    }
    let mut again = Report::default();
    again.0.insert("crons".into(), Some(2));
    again.0.insert("webhooks".into(), Some(1));
    let rec = JobRecord {
        id: "job".into(),
        kind: JobKind::Test,
        server: "db.example:5432".into(),
        source_db: "prod".into(),
        source_version: "16.0.1.3".into(),
        target: "17.0".into(),
        work_db: "prod_test_17.0_2026_11_23_09_30".into(),
        plan: None,
        clone_method: Some("template".into()),
        status: JobStatus::Ready,
        pid: 1,
        os_user: "odoo".into(),
        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        finished_at: None,
        steps: job::steps(&crate::engine::test_job::STEPS),
        neutralized,
        neutralized_again: again,
        by_module: Default::default(),
        checks: Vec::new(),
        error: None,
        source_uuid: None,
        filestore: None,
        backup: None,
        source_activity: None,
        golive: Default::default(),
        comparison: None,
        comparison_acknowledged: None,
        openupgrade: Vec::new(),
        hops: Vec::new(),
        anomaly_drafts: Vec::new(),
        odoo_neutralize: None,
        platform: None,
        source_bytes: None,
        frozen_at: None,
    };
    update(&mut app, Msg::JobDone(Ok(rec)));
    app
}

/// The test job of [`wait_app`], failed in its plan step.
pub fn failed_app() -> App {
    let mut app = wait_app();
    update(
        &mut app,
        Msg::Job(Event::StepFailed {
            step: Step::Plan,
            error: "020_stock_rules.sql: relation \"stock_rule_old\" does not exist".into(),
        }),
    );
    update(
        &mut app,
        Msg::JobDone(Err(
            "plan: 020_stock_rules.sql failed: relation \"stock_rule_old\" does not exist".into(),
        )),
    );
    app
}

/// Production frozen and being upgraded (step 8), in its backup step.
pub fn production_app() -> App {
    let mut app = app_on(Screen::Freeze);
    if let Some(c) = app.camp.as_mut() {
        c.frozen_since = Some("2026-11-23 10:00:00 UTC".into());
    }
    update(
        &mut app,
        Msg::JobStarted {
            db: "prod".into(),
            target: "17.0".into(),
            steps: crate::engine::production::STEPS.to_vec(),
            connect: String::new(),
            production: true,
        },
    );
    for ev in [
        Event::StepStarted {
            step: Step::Preflight,
        },
        Event::StepFinished {
            step: Step::Preflight,
            seconds: 0.2,
        },
        Event::StepStarted { step: Step::Clone },
        Event::StepFinished {
            step: Step::Clone,
            seconds: 38.0,
        },
        Event::StepStarted { step: Step::Backup },
        Event::Log("pg_dump -Fd -Z1 -j 4 prod: 212 MB written".into()),
    ] {
        update(&mut app, Msg::Job(ev));
    }
    update(
        &mut app,
        Msg::Progress(Progress {
            step: Some(Step::Backup),
            index: 2,
            count: 5,
            fraction: Some(0.6),
            detail: "212 MB of 350 MB".into(),
        }),
    );
    update(&mut app, Msg::Tick(std::time::Duration::from_secs(64)));
    app
}

/// An interrupted test job of the campaign (killed after its clone).
pub fn unfinished() -> crate::tui::model::Unfinished {
    crate::tui::model::Unfinished {
        id: "prod-17.0-test-1".into(),
        production: false,
        target: "17.0".into(),
        work_db: "prod_test_17.0_2026_11_23_09_30".into(),
        state: crate::engine::job::SeenStatus::Interrupted,
        pid: 4242,
        error: Some("the process stopped during plan (killed?)".into()),
    }
}

//! `upgrade-pilot report`: the bundle Odoo's support (or the integrator) gets.

mod common;
use common::*;

use upgrade_pilot::campaign::{self, anomaly, checklist};

const DB: &str = "demo_manufacturing";

#[test]
fn report_bundle_before_and_after_production() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    assert_refused(
        &env.run(&[
            "report",
            "--db",
            DB,
            "--out",
            env.dir.path().join("r0").to_str().unwrap(),
        ]),
        "run a test upgrade first",
    );
    let t = run_job(&env, "test", DB, &plan);
    assert_ok(&t);
    let test_db = json(&t)["test_db"].as_str().unwrap().to_string();
    // What the TUI writes when a tester fails an item and files an anomaly.
    let shot = env.dir.path().join("invoice.png");
    std::fs::write(&shot, b"\x89PNG fake screenshot").unwrap();
    // Campaigns are keyed by the server's identity, as the binary keys them.
    let server = env.rt.block_on(env.conn().server_key()).unwrap();
    campaign::update(&env.state_dir(), &server, DB, |c| {
        c.checklist.insert(
            "reports".into(),
            checklist::ItemState {
                mark: Some(checklist::Mark::Fail),
                note: "header".into(),
                at: chrono::Utc::now(),
                test_db: Some(test_db.clone()),
            },
        );
        c.anomalies.push(anomaly::Anomaly {
            id: 1,
            title: "Invoice header lost its logo".into(),
            area: "Accounting".into(),
            severity: anomaly::Severity::High,
            steps: "Print INV/2023/00001".into(),
            expected: "The company logo".into(),
            actual: "An empty box".into(),
            files: vec![shot.display().to_string(), "/nonexistent/file.pdf".into()],
            status: anomaly::Status::Open,
            created_at: chrono::Utc::now(),
            test_db: Some(test_db.clone()),
            checklist_item: Some("reports".into()),
        });
    })
    .unwrap();
    let out = env.dir.path().join("report1");
    let o = env.run(&["report", "--db", DB, "--out", out.to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("An issue related to my upgrade"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("/nonexistent/file.pdf"),
        "a missing attachment is said, not hidden: {}",
        stderr(&o)
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "Invoice header lost its logo",
        "Print INV/2023/00001",
        "attachments/1-1-invoice.png",
        "[FAIL] Interface / Reports print",
        "acme_delivery_rules *",
        // Grouped by module, each rule with its rows and reason.
        "- **base**: ",
        "  - crons (13): every scheduled action off but base.autovacuum_job",
        "16.0.1.3",
        "target: 17.0",
        "== verify: done",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    assert_eq!(
        std::fs::read(out.join("attachments/1-1-invoice.png")).unwrap(),
        b"\x89PNG fake screenshot"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["anomalies"][0]["severity"], "high");
    assert_eq!(j["checklist"]["summary"]["failed"], 1);
    assert_refused(
        &env.run(&["report", "--db", DB, "--out", out.to_str().unwrap()]),
        "not empty",
    );

    // After production, the channel is Odoo's normal support.
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&run_job(&env, "production", DB, &plan));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let o = env.run(&[
        "report",
        "--db",
        DB,
        "--out",
        env.dir.path().join("report2").to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(stdout(&o).contains("normal support"), "{}", stdout(&o));
}

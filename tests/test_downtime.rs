//! The production window (issue 15): `freeze` says how long production will
//! be frozen before it is, from the last finished test; the production job
//! and the restore record the downtime, and `status` and `report` show it.

mod common;
use common::*;

const DB: &str = "demo_manufacturing";

fn status(env: &Env) -> serde_json::Value {
    env.campaign_status(DB)
}

#[test]
fn the_window_is_estimated_before_the_freeze_and_measured_after_the_restore() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();

    // No test yet: said, and the freeze goes on.
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("no estimate: no finished test job"),
        "{}",
        stdout(&o)
    );
    assert_ok(&env.run(&["unfreeze", "--db", DB]));

    let args = job_args("test", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = env.run(&args);
    assert_ok(&o);
    let test = json(&o);
    let plan_seconds = test["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "plan")
        .and_then(|s| s["seconds"].as_f64())
        .unwrap();

    // Asked without a terminal: the question carries the estimate, one line.
    assert_refused(
        &env.run(&["freeze", "--db", DB]),
        "estimate from the test run of",
    );
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_ok(&o);
    let err = stdout(&o);
    assert!(
        err.contains("production frozen about") && err.contains("estimate from the test run of"),
        "{err}"
    );
    assert!(err.contains("back about"), "{err}");
    // Step by step, the plan as the test ran it; no neutralization in production.
    let plan_line = err
        .lines()
        .find(|l| l.trim_start().starts_with("plan "))
        .unwrap_or_else(|| panic!("no plan line: {err}"));
    assert!(plan_line.contains("as the test ran it"), "{plan_line}");
    assert!(
        plan_line.contains(&format!("{plan_seconds:.1}s")) || plan_seconds >= 10.0,
        "{plan_line} vs {plan_seconds}"
    );
    assert!(!err.contains("neutralize"), "{err}");

    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_ok(&env.run(&args));
    // Still frozen: the downtime so far.
    let st = status(&env);
    let d = &st["production"][0]["downtime"];
    assert!(d["reopened_at"].is_null(), "{d}");
    assert_eq!(
        d["frozen_at"], st["frozen_since"],
        "from the freeze in force"
    );
    let o = env.run(&["status", "--db", DB]);
    assert!(stdout(&o).contains("so far"), "{}", stdout(&o));

    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let st = status(&env);
    let d = &st["production"][0]["downtime"];
    let seconds = d["seconds"].as_f64().unwrap();
    let frozen: chrono::DateTime<chrono::Utc> = d["frozen_at"].as_str().unwrap().parse().unwrap();
    let reopened: chrono::DateTime<chrono::Utc> =
        d["reopened_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (seconds - (reopened - frozen).num_milliseconds() as f64 / 1000.0).abs() < 0.01,
        "{d}"
    );
    let parts = d["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["what"].as_str().unwrap()).collect();
    for step in ["clone", "backup", "plan", "verify", "restore"] {
        assert!(names.contains(&step), "{step} in {names:?}");
    }
    let sum: f64 = parts.iter().map(|p| p["seconds"].as_f64().unwrap()).sum();
    assert!((sum - seconds).abs() < 0.6, "parts {sum} vs {seconds}: {d}");
    let o = env.run(&["status", "--db", DB]);
    let text = stdout(&o);
    assert!(
        text.contains("downtime ") && text.contains("reopened"),
        "{text}"
    );
    assert!(
        text.contains("spent on: waiting for the production job"),
        "{text}"
    );

    let out = env.dir.path().join("report");
    assert_ok(&env.run(&["report", "--db", DB, "--out", out.to_str().unwrap()]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Production downtime"), "{md}");
    let rj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rj["downtime"]["seconds"], d["seconds"]);
}

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
    for step in ["clone", "plan", "verify", "restore"] {
        assert!(names.contains(&step), "{step} in {names:?}");
    }
    // The backup runs alongside the plan: not a part of the window itself.
    assert!(!names.contains(&"backup"), "{names:?}");
    assert_eq!(d["alongside"][0]["what"], "backup", "{d}");
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

/// The steps of the one production job: (name, status).
fn production_steps(env: &Env) -> Vec<(String, String)> {
    job_files(env)
        .iter()
        .filter(|j| j["kind"] == "production")
        .flat_map(|j| j["steps"].as_array().cloned().unwrap_or_default())
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn step_status(env: &Env, name: &str) -> String {
    production_steps(env)
        .into_iter()
        .find(|s| s.0 == name)
        .map(|s| s.1)
        .unwrap_or_default()
}

#[test]
fn restore_is_refused_while_the_backup_is_unfinished_or_unreadable() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let go = env.dir.path().join("go");
    let go_s = go.to_str().unwrap();
    // The backup held midway: the plan, verify and compare go on without it.
    let child = spawn_job_env(
        &env,
        &job_args("production", DB, &plan),
        &[
            ("UPGRADE_PILOT_PAUSE_AT", "during:backup"),
            ("UPGRADE_PILOT_PAUSE_FILE", go_s),
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while step_status(&env, "compare") != "done" {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan waited for the backup: {:?}",
            production_steps(&env)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(step_status(&env, "plan"), "done");
    assert_eq!(step_status(&env, "backup"), "running");
    assert_refused(
        &env.run(&["restore", "--db", DB, "--yes"]),
        "the backup of production is still being taken",
    );
    std::fs::write(&go, "").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_ok(&o);
    let v = json(&o);
    let upgraded = v["upgraded_db"].as_str().unwrap().to_string();
    // Production's side of the comparison was read from the backup's scratch
    // copy while the plan ran (off the window), and the comparison was made.
    let log = std::fs::read_to_string(
        env.state_dir()
            .join("logs")
            .join(format!("{}.log", v["job"].as_str().unwrap())),
    )
    .unwrap();
    assert!(
        log.lines().any(
            |l| l.contains("read production's state for the comparison from its copy")
                && l.contains("_backup_")
        ),
        "{log}"
    );
    let checks = v["comparison"]["checks"].as_array().expect("a comparison");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    assert!(
        !env.databases().iter().any(|d| d.contains("_backup_")),
        "the backup's scratch copy is dropped: {:?}",
        env.databases()
    );
    // The backup is production as frozen: restored elsewhere, it is the original.
    let dump = std::path::PathBuf::from(v["backup"]["dump"].as_str().unwrap());
    env.exec("postgres", "CREATE DATABASE from_backup");
    let pg_restore = upgrade_pilot::pg::tools::client_tool("pg_restore", 15).unwrap();
    let r = std::process::Command::new(pg_restore)
        .envs(env.conn().child_env())
        .args(["--no-owner", "-d", "from_backup"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        env.one::<String>(
            "from_backup",
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "16.0.1.3",
        "the backup holds production before the upgrade"
    );

    // A backup damaged or removed since the job checked it is no way back.
    let toc = dump.join("toc.dat");
    let good = std::fs::read(&toc).unwrap();
    std::fs::write(&toc, b"not a dump").unwrap();
    assert_refused(
        &env.run(&["restore", "--db", DB, "--yes"]),
        "is not readable",
    );
    std::fs::remove_file(&toc).unwrap();
    assert_refused(&env.run(&["restore", "--db", DB, "--yes"]), "is gone");
    assert!(env.db_exists(&upgraded), "nothing moved");
    std::fs::write(&toc, good).unwrap();
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
}

#[test]
fn a_failed_backup_blocks_the_restore_not_the_plan_and_is_taken_again() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    // Where the backups go is a file: the backup cannot be written.
    let backups = env.state_dir().join("backups");
    std::fs::create_dir_all(env.state_dir()).unwrap();
    std::fs::write(&backups, "in the way").unwrap();
    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = env.run(&args);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert_eq!(
        step_status(&env, "plan"),
        "done",
        "the plan ran all the same"
    );
    assert_eq!(step_status(&env, "verify"), "done");
    assert_eq!(step_status(&env, "backup"), "failed");
    assert_refused(
        &env.run(&["restore", "--db", DB, "--yes"]),
        "the backup of production failed",
    );
    std::fs::remove_file(&backups).unwrap();
    // Run again: the same job resumes and takes the backup.
    let o = env.run(&args);
    assert_ok(&o);
    assert_eq!(
        json(&o)["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "done")
            .count(),
        6
    );
    assert_eq!(
        env.campaign_status(DB)["production"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
}

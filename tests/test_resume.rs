//! Interrupted jobs: kill -9 between and inside steps, a server restart, and a
//! second run on the same source while the first is still going.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const DB: &str = "demo_manufacturing";

fn test_args(plan: &str) -> Vec<String> {
    [
        "test", "--db", DB, "--target", "17.0", "--plan", plan, "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_test(env: &Env, plan: &str, crash: Option<&str>) -> std::process::Output {
    let args = test_args(plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match crash {
        Some(c) => env.run_env(&args, &[("UPGRADE_PILOT_CRASH_AT", c)]),
        None => env.run(&args),
    }
}

fn job_files(env: &Env) -> Vec<serde_json::Value> {
    let dir = env.state_dir().join("jobs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            out.push(serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap());
        }
    }
    out
}

#[test]
fn kill_9_between_steps_then_resume() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    let before = env.checksums(DB);

    let killed = run_test(&env, plan, Some("after:neutralize"));
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "the process died by SIGKILL"
    );
    let jobs = job_files(&env);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "running");
    let test_db = jobs[0]["work_db"].as_str().unwrap().to_string();
    let st = env.run(&["status", "--json"]);
    assert_eq!(
        json(&st)["campaigns"][0]["tests"][0]["status"],
        "interrupted"
    );
    // Half-way: neutralized but not upgraded, and not marked ready.
    assert_eq!(
        env.one::<String>(
            &test_db,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        "true"
    );

    let o = run_test(&env, plan, None);
    assert_ok(&o);
    assert!(
        stderr(&o).is_empty(),
        "--json keeps stderr quiet: {}",
        stderr(&o)
    );
    let v = json(&o);
    assert_eq!(
        v["test_db"],
        test_db.as_str(),
        "the interrupted job was resumed, not restarted"
    );
    assert_eq!(v["steps"][1]["status"], "done");
    assert_eq!(job_files(&env).len(), 1);
    assert_eq!(
        env.one::<String>(
            &test_db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(env.checksums(DB), before);
}

#[test]
fn kill_9_inside_clone_and_plan_then_resume() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();

    // Inside the clone: the copy exists but the step never finished.
    assert_eq!(
        run_test(&env, plan, Some("during:clone")).status.signal(),
        Some(9)
    );
    let test_db = job_files(&env)[0]["work_db"].as_str().unwrap().to_string();
    assert!(env.db_exists(&test_db));
    // Inside the plan, after its second SQL file.
    assert_eq!(
        run_test(&env, plan, Some("plan-file:020_cron_name_plain_text.sql"))
            .status
            .signal(),
        Some(9)
    );
    assert_eq!(
        env.one::<i64>(&test_db, "SELECT count(*) FROM upgrade_pilot.journal"),
        2
    );
    let log = std::fs::read_to_string(env.state_dir().join("logs").join(format!(
        "{}.log",
        job_files(&env)[0]["id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(
        log.contains("dropping the half-made copy"),
        "the half-made clone was redone: {log}"
    );

    let o = run_test(&env, plan, None);
    assert_ok(&o);
    assert_eq!(json(&o)["test_db"], test_db.as_str());
    // Each file applied once: the two journaled ones were skipped.
    let files: Vec<String> = env
        .sql(
            &test_db,
            "SELECT item FROM upgrade_pilot.journal ORDER BY applied_at, item",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(files.len(), 7, "{files:?}");
    assert_eq!(
        env.one::<i64>(
            &test_db,
            "SELECT count(*) FROM ir_cron WHERE cron_name = 'Discuss: channel member unmute'"
        ),
        1
    );
}

/// A plan whose command step waits for a flag file, so a job can be held mid-plan.
fn waiting_plan(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = env.dir.path().join("waitplan");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(dir.join("sql/090_versions.sql"), "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';").unwrap();
    let flag = dir.join("go");
    let script = dir.join("wait.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho waiting\ni=0\nwhile [ ! -f '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\necho done\n", flag.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"wait\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"wait\"\ncommand = [\"./wait.sh\"]\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )
    .unwrap();
    (dir.join("plan.toml"), flag)
}

fn spawn_test(env: &Env, plan: &str) -> std::process::Child {
    std::process::Command::new(BIN)
        .args(test_args(plan))
        .args([
            "--dsn",
            &env.dsn(),
            "--data-dir",
            env.data_dir().to_str().unwrap(),
        ])
        .env("UPGRADE_PILOT_STATE_DIR", env.state_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until the job file says the plan step is running.
fn wait_for_plan_step(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = job_files(env)
            .iter()
            .any(|j| j["steps"][3]["status"] == "running");
        if running {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the job never reached its plan step"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_run_on_the_same_source_is_refused_while_the_first_runs() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let plan = plan.to_str().unwrap();
    let first = spawn_test(&env, plan);
    wait_for_plan_step(&env);

    let second = run_test(&env, plan, None);
    assert_refused(
        &second,
        "another upgrade-pilot is working on \"demo_manufacturing\"",
    );
    assert!(
        stderr(&second).contains("upgrade-pilot pid"),
        "says who holds it: {}",
        stderr(&second)
    );

    std::fs::write(&flag, "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert_ok(&out);
    assert_eq!(json(&out)["steps"][5]["status"], "done");
}

#[test]
fn server_restart_mid_job_is_a_clear_error_then_resumes() {
    let mut env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let plan = plan.to_str().unwrap();
    let first = spawn_test(&env, plan);
    wait_for_plan_step(&env);
    env.cluster.stop("fast").unwrap();
    std::fs::write(&flag, "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    let last = err
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(last.starts_with("upgrade-pilot: "), "{err}");
    assert!(
        last.contains("run the same command again to resume"),
        "{last}"
    );

    env.cluster.start_again().unwrap();
    let o = run_test(&env, plan, None);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["steps"][1]["status"], "done");
    assert_eq!(job_files(&env).len(), 1, "resumed the same job");
}

//! Interrupted jobs: kill -9 between and inside steps, a server restart, and a
//! second run on the same source while the first is still going.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;

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

#[test]
fn kill_9_inside_a_parallel_snapshot_copy_leaves_a_half_copy_the_rerun_makes_whole() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    // Odoo connected: the copy is a snapshot copy, its rows streamed in
    // parallel; killed once they are in, before the indexes are built.
    let _odoo = env.rt.block_on(async {
        let c = env.conn().connect(DB).await.unwrap();
        c.batch_execute("SET application_name = 'odoo-worker-1'")
            .await
            .unwrap();
        c
    });
    let before = env.data_checksums(DB);
    assert_eq!(
        run_test(&env, plan, Some("during:snapshot-restore"))
            .status
            .signal(),
        Some(9)
    );
    let scratch = env.state_dir().join("scratch");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(left.len(), 1, "the killed copy's scratch dir: {left:?}");
    assert!(left[0].join("post-data.dump").is_file());
    let indexes = "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'";
    let half = env.one::<String>(
        "postgres",
        &format!("SELECT datname::text FROM pg_database WHERE datname LIKE '{DB}_test_%'"),
    );
    assert!(
        env.one::<i64>(&half, indexes) < env.one::<i64>(DB, indexes),
        "killed before its indexes were built"
    );

    let o = run_test(&env, plan, None);
    assert_ok(&o);
    assert_eq!(json(&o)["clone_method"], "snapshot");
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "scratch cleared by the run that finished"
    );
    let copy = json(&o)["test_db"].as_str().unwrap().to_string();
    assert_eq!(
        env.one::<i64>(&copy, "SELECT count(*) FROM res_partner"),
        env.one::<i64>(DB, "SELECT count(*) FROM res_partner")
    );
    // Every index of the source (the plan adds its own).
    let names = |db: &str| -> Vec<String> {
        env.sql(
            db,
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
        )
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let made = names(&copy);
    let missing: Vec<String> = names(DB)
        .into_iter()
        .filter(|i| !made.contains(i))
        .collect();
    assert!(
        missing.is_empty(),
        "indexes missing from the copy: {missing:?}"
    );
    assert_eq!(env.data_checksums(DB), before, "the source is untouched");
}

#[test]
fn a_second_run_on_the_same_source_is_refused_while_the_first_runs() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let plan = plan.to_str().unwrap();
    let first = spawn_job(&env, &test_args(plan));
    wait_for_step(&env, 3);

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
    let first = spawn_job(&env, &test_args(plan));
    wait_for_step(&env, 3);
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

#[test]
fn detach_returns_once_started_and_the_job_finishes_on_its_own() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        plan.to_str().unwrap(),
        "--detach",
        "--json",
    ]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["detached"], true);
    // The job is under way without us; it waits for the flag in its plan.
    wait_for_step(&env, 3);
    let st = env.run(&["status", "--json"]);
    assert_eq!(json(&st)["campaigns"][0]["tests"][0]["status"], "running");
    std::fs::write(&flag, "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while job_files(&env)[0]["status"] != "ready" {
        assert!(
            std::time::Instant::now() < deadline,
            "the detached job never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A preflight failure is reported by the detaching command itself.
    assert_refused(
        &env.run(&[
            "test",
            "--db",
            "nope",
            "--target",
            "17.0",
            "--plan",
            plan.to_str().unwrap(),
            "--detach",
        ]),
        "does not exist",
    );
}

#[test]
fn kill_9_at_every_step_boundary_of_test_resumes_each_time() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    let before = env.checksums(DB);
    let steps = [
        "preflight",
        "clone",
        "neutralize",
        "plan",
        "neutralize_again",
        "verify",
        "compare",
    ];
    for step in steps {
        for when in ["before", "after"] {
            let point = format!("{when}:{step}");
            let o = run_test(&env, plan, Some(&point));
            assert_eq!(o.status.signal(), Some(9), "{point}: {}", stderr(&o));
            assert_eq!(job_files(&env).len(), 1, "{point}: always the same job");
            assert_eq!(env.checksums(DB), before, "{point}: source untouched");
            let st = env.run(&["status", "--json"]);
            assert_eq!(
                json(&st)["campaigns"][0]["tests"][0]["status"],
                "interrupted",
                "{point}"
            );
        }
    }
    let o = run_test(&env, plan, None);
    assert_ok(&o);
    let v = json(&o);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );
    assert_eq!(
        env.one::<i64>(
            v["test_db"].as_str().unwrap(),
            "SELECT count(*) FROM upgrade_pilot.journal"
        ),
        7
    );
}

//! Faults and bad input the way real servers and users produce them: lost
//! terminals, signals, hanging commands, damaged state, full disks, names
//! built to break SQL.

mod common;
use common::*;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const DB: &str = "demo_manufacturing";

fn test_args(plan: &std::path::Path) -> Vec<String> {
    [
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn sighup_does_not_stop_a_headless_job() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let child = spawn_job(&env, &test_args(&plan));
    wait_for_step(&env, 3);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGHUP).unwrap();
    std::fs::write(&flag, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    let st = env.run(&["status", "--json"]);
    assert_eq!(json(&st)["campaigns"][0]["tests"][0]["status"], "ready");
}

#[test]
fn sigterm_cancels_a_hanging_command_and_drops_the_copy() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, _flag) = waiting_plan(&env);
    let child = spawn_job(&env, &test_args(&plan));
    wait_for_step(&env, 3);
    // Meanwhile, freezing the source is refused: the test job holds it.
    assert_refused(
        &env.run(&["freeze", "--db", DB, "--yes"]),
        "another upgrade-pilot is working on",
    );
    let test_db = job_files(&env)[0]["work_db"].as_str().unwrap().to_string();
    assert!(env.db_exists(&test_db));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
    assert!(!env.db_exists(&test_db), "the half-made copy was dropped");
    assert_eq!(job_files(&env)[0]["status"], "cancelled");
    // The command's whole process group was stopped: no wait.sh is left.
    let script = env
        .dir
        .path()
        .join("waitplan/wait.sh")
        .display()
        .to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&script))
        .collect();
    assert!(left.is_empty(), "a plan command outlived the job: {left:?}");
    // And the source is free again.
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
}

#[test]
fn a_damaged_campaign_file_is_kept_and_reported_never_reset() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    assert_ok(
        &env.run(
            &[&test_args(&plan)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()[..]]
            .concat(),
        ),
    );
    let dir = env.state_dir().join("campaigns");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let good = std::fs::read(&file).unwrap();
    let bad = &good[..good.len() / 2];
    std::fs::write(&file, bad).unwrap();
    let o = env.run(&["status"]);
    assert_refused(&o, "is damaged");
    assert!(stderr(&o).contains("a copy is kept at"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bad,
        "the damaged file is left for repair"
    );
    assert!(
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("corrupt-"))
    );
    assert_refused(
        &env.run(
            &[&test_args(&plan)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()[..]]
            .concat(),
        ),
        "is damaged",
    );
    // A damaged job file too.
    std::fs::write(&file, &good).unwrap();
    let job = std::fs::read_dir(env.state_dir().join("jobs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .unwrap();
    std::fs::write(&job, b"{\"id\": 3").unwrap();
    assert_refused(&env.run(&["status"]), "is damaged");
}

#[test]
fn plan_files_that_are_not_text_or_not_programs() {
    let env = Env::new();
    env.demo_db(DB);
    let dir = env.dir.path().join("p");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(
        dir.join("sql/010_latin1.sql"),
        b"UPDATE res_partner SET name = 'caf\xe9';",
    )
    .unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"x\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"pre\"\nsql = \"sql\"\n",
    )
    .unwrap();
    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        dir.join("plan.toml").to_str().unwrap(),
        "--json",
    ]);
    assert_refused(&o, "010_latin1.sql failed at line 1: not UTF-8 text");
    std::fs::write(dir.join("notexec.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(dir.join("cmd.toml"), "name = \"x\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"odoo\"\ncommand = [\"./notexec.sh\"]\n").unwrap();
    assert_refused(
        &env.run(&[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            dir.join("cmd.toml").to_str().unwrap(),
            "--discard",
            "--yes",
        ]),
        "is not executable",
    );
}

#[test]
fn a_full_backup_disk_stops_the_job_and_leaves_no_partial_backup() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let backups = env.state_dir().join("backups");
    let guard = Tmpfs::mount(&backups, "16k");
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = run_job(&env, "production", DB, &plan);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("pg_dump failed") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&backups).unwrap().count(),
        0,
        "no partial backup left"
    );
    let st = env.run(&["status", "--db", DB, "--json"]);
    assert_eq!(
        json(&st)["campaigns"][0]["production"][0]["status"],
        "failed"
    );
    drop(guard);
    // Room again: the same command resumes and finishes.
    assert_ok(&run_job(&env, "production", DB, &plan));
}

#[test]
fn hostile_names_through_the_production_path() {
    let env = Env::new();
    let weird = "x\"; DROP DATABASE y; -- 'ñ' $$ %s";
    env.demo_db(weird);
    env.exec("postgres", "CREATE DATABASE y");
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    for args in [
        vec!["freeze", "--db", weird, "--yes"],
        vec![
            "production",
            "--db",
            weird,
            "--target",
            "17.0",
            "--plan",
            plan,
            "--json",
        ],
        vec!["restore", "--db", weird, "--yes"],
        vec!["rollback", "--db", weird, "--yes"],
    ] {
        assert_ok(&env.run(&args));
    }
    assert!(
        env.db_exists("y"),
        "the database named in the injection attempt is untouched"
    );
    assert_eq!(
        env.one::<String>(
            weird,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "16.0.1.3"
    );
    let names: Vec<String> = env
        .databases()
        .into_iter()
        .filter(|d| d.starts_with("x\"; DROP"))
        .collect();
    assert_eq!(
        names.len(),
        2,
        "production and its _failed_ copy (the _before_ took the name back): {names:?}"
    );
}

#[test]
fn server_stopped_inside_the_clone_and_the_backup_then_resumed() {
    for (point, step, mode) in [
        ("during:clone", 1, "fast"),
        ("during:backup", 2, "immediate"),
    ] {
        let mut env = Env::new();
        env.demo_db(DB);
        let plan = env.demo_plan();
        let original = env.data_checksums(DB);
        assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
        let flag = env.dir.path().join("go");
        let args = job_args("production", DB, &plan);
        let child = spawn_job_env(
            &env,
            &args,
            &[
                ("UPGRADE_PILOT_PAUSE_AT", point),
                ("UPGRADE_PILOT_PAUSE_FILE", flag.to_str().unwrap()),
            ],
        );
        wait_for_step(&env, step);
        env.cluster.stop(mode).unwrap();
        std::fs::write(&flag, "").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{point}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{point}: {err}");
        assert!(err.starts_with("upgrade-pilot: "), "{point}: {err}");
        env.cluster.start_again().unwrap();
        let o = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_ok(&o);
        assert_eq!(json(&o)["steps"][4]["status"], "done", "{point}");
        env.exec(
            "postgres",
            &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS true"),
        );
        assert_eq!(
            env.data_checksums(DB),
            original,
            "{point}: production unchanged"
        );
    }
}

/// kill -9 at spread moments (not at step boundaries) of a production job on a
/// database big enough for the clone, backup and plan to take a while; each
/// time the next run finishes the job, and production never changes.
#[test]
fn kill_9_at_spread_moments_inside_long_steps() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec(DB, "CREATE TABLE mail_message (id serial PRIMARY KEY, body text); INSERT INTO mail_message (body) SELECT repeat(md5(g::text), 32) FROM generate_series(1, 60000) g");
    let plan = env.demo_plan();
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let args = job_args("production", DB, &plan);
    let mut killed = 0;
    for delay_ms in [40u64, 120, 250, 400, 700, 1000] {
        let mut child = spawn_job(&env, &args);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
            killed += 1;
        }
        let _ = child.wait();
        // The campaign and job files stay readable whatever the moment.
        assert_ok(&env.run(&["status", "--json"]));
    }
    assert!(
        killed >= 3,
        "the job was killed while running at least 3 times ({killed})"
    );
    let o = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&o);
    // A job that had time to finish is ready; a later run then makes a new
    // upgrade. Every job is ready now: the killed ones were resumed, not left.
    let st = json(&env.run(&["status", "--json"]));
    let prods = st["campaigns"][0]["production"].as_array().unwrap().clone();
    assert!(prods.iter().all(|j| j["status"] == "ready"), "{prods:?}");
    let mut copies: Vec<String> = prods
        .iter()
        .map(|j| j["db"].as_str().unwrap().to_string())
        .collect();
    copies.sort();
    env.exec(
        "postgres",
        &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS true"),
    );
    assert_eq!(env.data_checksums(DB), original, "production unchanged");
    let mut on_server: Vec<String> = env
        .databases()
        .into_iter()
        .filter(|d| d.starts_with(DB) && d != DB)
        .collect();
    on_server.sort();
    assert_eq!(
        on_server, copies,
        "every copy on the server belongs to a ready job: no half-made one left"
    );
}

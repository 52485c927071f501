//! The production path on a real server: freeze → production → restore →
//! rollback, refusals, and kill -9 at every step boundary and inside the swap.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;

const DB: &str = "demo_manufacturing";

fn files(env: &Env, db: &str) -> Vec<(String, Vec<u8>)> {
    let root = env.data_dir().join("filestore").join(db);
    let mut out = Vec::new();
    fn walk(base: &std::path::Path, p: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push((
                    e.path().strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn can_login(env: &Env, db: &str, user: &str) -> bool {
    env.rt
        .block_on(env.conn().with_user(user).connect(db))
        .is_ok()
}

fn production(env: &Env, plan: &str, crash: Option<&str>) -> std::process::Output {
    let args = [
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        plan,
        "--json",
    ];
    match crash {
        Some(c) => env.run_env(&args, &[("UPGRADE_PILOT_CRASH_AT", c)]),
        None => env.run(&args),
    }
}

fn status(env: &Env) -> serde_json::Value {
    env.campaign_status(DB)
}

#[test]
fn freeze_production_restore_rollback() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec("postgres", "CREATE ROLE odoo LOGIN");
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    let original = env.data_checksums(DB);
    let original_files = files(&env, DB);

    assert_refused(
        &production(&env, plan, None),
        "is not frozen: run upgrade-pilot freeze",
    );
    assert_refused(
        &env.run(&["restore", "--db", DB, "--yes"]),
        "no upgraded copy",
    );
    assert_refused(
        &env.run(&["freeze", "--db", "nope", "--yes"]),
        "database \"nope\" does not exist",
    );
    assert_refused(&env.run(&["freeze", "--db", DB]), "--yes");
    assert!(
        can_login(&env, DB, "odoo"),
        "nothing changed by the refusals"
    );

    let session = env
        .rt
        .block_on(env.conn().with_user("odoo").connect(DB))
        .unwrap();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert!(
        env.rt.block_on(session.simple_query("SELECT 1")).is_err(),
        "the open session was ended"
    );
    assert!(
        !can_login(&env, DB, "odoo"),
        "an ordinary role cannot log in while frozen"
    );
    assert!(!can_login(&env, DB, "postgres"), "nor can a superuser");
    assert_eq!(
        status(&env)["frozen_by"],
        whoami().as_str(),
        "the freeze records who did it"
    );
    assert_refused(&env.run(&["freeze", "--db", DB, "--yes"]), "already frozen");

    let o = production(&env, plan, None);
    assert_ok(&o);
    let v = json(&o);
    let upgraded = v["upgraded_db"].as_str().unwrap().to_string();
    assert!(
        upgraded.starts_with("demo_manufacturing_upgrade_17.0_"),
        "{upgraded}"
    );
    let dump = v["backup"]["dump"].as_str().unwrap();
    assert!(
        std::path::Path::new(dump).join("toc.dat").is_file(),
        "{dump}"
    );
    assert!(
        v["backup"]["filestore_tar"]
            .as_str()
            .is_some_and(|t| std::path::Path::new(t).is_file())
    );
    assert_eq!(
        env.one::<String>(
            &upgraded,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    // No neutralization on the production copy.
    assert_eq!(
        env.one::<i64>(
            &upgraded,
            "SELECT count(*) FROM ir_mail_server WHERE active"
        ),
        2
    );
    // Production untouched by the production job: checked on `_before_` after
    // the swap (opening production now would make restore refuse, case 1).
    let st = status(&env);
    assert!(
        st["restore_would"]
            .as_str()
            .is_some_and(|s| s.contains("_before_17.0_") && s.contains(&upgraded)),
        "{st}"
    );
    assert!(st["rollback_would"].is_null());

    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("✓ version"), "{}", stdout(&o));
    let swaps = status(&env)["swaps"].clone();
    let before = swaps[0]["aside"].as_str().unwrap().to_string();
    assert!(
        before.starts_with("demo_manufacturing_before_17.0_"),
        "{before}"
    );
    assert!(can_login(&env, DB, "odoo"), "production reopened");
    assert!(
        status(&env)["rollback_would"]
            .as_str()
            .is_some_and(|s| s.contains("_failed_"))
    );
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert!(
        !env.db_exists(&upgraded),
        "the upgraded copy now carries the production name"
    );
    assert_eq!(
        env.frozen_checksums(&before),
        original,
        "the old production is kept, identical"
    );
    assert!(
        !can_login(&env, &before, "odoo"),
        "the old production stays closed"
    );
    assert_eq!(
        files(&env, DB),
        original_files,
        "the filestore moved with the database"
    );
    assert_eq!(files(&env, &before), original_files);
    let again = env.run(&["restore", "--db", DB, "--yes"]);
    assert_ok(&again);
    assert!(
        stdout(&again).contains("already restored"),
        "{}",
        stdout(&again)
    );
    assert_refused(
        &env.run(&["neutralize", "--db", &before, "--yes"]),
        "production",
    );

    let o = env.run(&["rollback", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert_eq!(
        env.data_checksums(DB),
        original,
        "production is back as it was"
    );
    assert_eq!(files(&env, DB), original_files);
    let swaps = status(&env)["swaps"].clone();
    let failed = swaps[1]["aside"].as_str().unwrap().to_string();
    assert!(failed.starts_with("demo_manufacturing_failed_"), "{failed}");
    assert_eq!(
        frozen_version(&env, &failed),
        "17.0.1.3",
        "the upgraded database is kept"
    );
    assert!(can_login(&env, DB, "odoo"));
    assert_refused(
        &env.run(&["rollback", "--db", DB, "--yes"]),
        "no restore to roll back",
    );
}

fn whoami() -> String {
    String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string()
}

fn frozen_version(env: &Env, db: &str) -> String {
    env.exec(
        "postgres",
        &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"),
    );
    let v = env.one::<String>(
        db,
        "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
    );
    env.exec(
        "postgres",
        &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false"),
    );
    v
}

#[test]
fn kill_9_at_each_production_step_then_resume() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    for point in [
        "after:preflight",
        "during:clone",
        "after:clone",
        // The backup runs alongside the plan and ends after it.
        "plan-file:030_account_move_checked.sql",
        "after:plan",
        "during:backup",
        "after:backup",
    ] {
        let o = production(&env, plan, Some(point));
        assert_eq!(o.status.signal(), Some(9), "{point}: {}", stderr(&o));
        let st = status(&env);
        assert_eq!(st["production"][0]["status"], "interrupted", "{point}");
        assert_eq!(
            st["production"].as_array().unwrap().len(),
            1,
            "{point}: one job, resumed each time"
        );
    }
    let o = production(&env, plan, None);
    assert_ok(&o);
    assert!(
        !env.databases().iter().any(|d| d.contains("_backup_")),
        "the killed backups' scratch copies are gone: {:?}",
        env.databases()
    );
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let before = status(&env)["swaps"][0]["aside"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.frozen_checksums(&before), original);
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
}

#[test]
fn kill_9_inside_the_swap_is_completed_on_the_next_run() {
    for point in [
        "swap:db-renamed",
        "swap:filestore-aside",
        "swap:filestore-in",
    ] {
        let env = Env::new();
        env.demo_db(DB);
        let plan = env.demo_plan();
        let original = env.data_checksums(DB);
        let original_files = files(&env, DB);
        assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
        assert_ok(&production(&env, plan.to_str().unwrap(), None));
        let o = env.run_env(
            &["restore", "--db", DB, "--yes"],
            &[("UPGRADE_PILOT_CRASH_AT", point)],
        );
        assert_eq!(o.status.signal(), Some(9), "{point}");
        // The campaign file is readable and says a swap is under way.
        let st = status(&env);
        assert!(st["swap_in_progress"].is_object(), "{point}: {st}");
        let o = env.run(&["restore", "--db", DB, "--yes"]);
        assert_ok(&o);
        assert!(
            stdout(&o).contains("completed an interrupted"),
            "{point}: {}",
            stdout(&o)
        );
        let st = status(&env);
        assert!(st["swap_in_progress"].is_null());
        let before = st["swaps"][0]["aside"].as_str().unwrap().to_string();
        assert_eq!(
            env.one::<String>(
                DB,
                "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
            ),
            "17.0.1.3",
            "{point}"
        );
        assert_eq!(env.frozen_checksums(&before), original, "{point}");
        assert_eq!(files(&env, DB), original_files, "{point}");
        assert_eq!(files(&env, &before), original_files, "{point}");
        // Every database is accounted for: production, the old one aside, nothing under a stray name.
        let dbs: Vec<String> = env
            .databases()
            .into_iter()
            .filter(|d| d.starts_with("demo_manufacturing"))
            .collect();
        assert_eq!(dbs.len(), 2, "{point}: {dbs:?}");
    }
}

#[test]
fn kill_9_inside_the_rollback_swap() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env, plan.to_str().unwrap(), None));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let o = env.run_env(
        &["rollback", "--db", DB, "--yes"],
        &[("UPGRADE_PILOT_CRASH_AT", "swap:db-renamed")],
    );
    assert_eq!(o.status.signal(), Some(9));
    let o = env.run(&["rollback", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert_eq!(env.data_checksums(DB), original);
}

#[test]
fn server_restart_mid_production_then_resume() {
    let mut env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    let (plan, flag) = waiting_plan(&env);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let args = job_args("production", DB, &plan);
    let first = spawn_job(&env, &args);
    wait_for_step(&env, 3);
    env.cluster.stop("immediate").unwrap();
    std::fs::write(&flag, "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("run the same command again to resume"),
        "{}",
        stderr(&out)
    );
    env.cluster.start_again().unwrap();
    let o = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&o);
    assert_eq!(json(&o)["steps"][1]["status"], "done", "the clone was kept");
    assert_eq!(env.frozen_checksums(DB), original);
    assert_eq!(status(&env)["production"].as_array().unwrap().len(), 1);
}

#[test]
fn a_swap_killed_before_the_renames_is_forgotten_not_done_by_another_command() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env, plan.to_str().unwrap(), None));
    let o = env.run_env(
        &["restore", "--db", DB, "--yes"],
        &[("UPGRADE_PILOT_CRASH_AT", "swap:planned")],
    );
    assert_eq!(o.status.signal(), Some(9));
    assert!(status(&env)["swap_in_progress"].is_object());
    // Another command does not swap on the operator's behalf: it reverts the plan.
    assert_ok(&env.run(&["unfreeze", "--db", DB]));
    assert!(status(&env)["swap_in_progress"].is_null());
    assert_eq!(
        env.data_checksums(DB),
        original,
        "production is still the original"
    );
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "16.0.1.3"
    );
}

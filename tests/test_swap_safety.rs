//! Issue 10, the swap's side: restore, rollback, unfreeze, freeze and the
//! server's identity, tried as a careful adversary would, on a real server
//! through the real binary.

mod common;
use common::*;
use std::os::unix::process::ExitStatusExt;

const DB: &str = "demo_manufacturing";
const ORDER: &str =
    "INSERT INTO sale_order (name, state, amount_total) VALUES ('S-AFTER-COPY', 'sale', 42)";

fn production(env: &Env) -> std::process::Output {
    let plan = env.demo_plan();
    run_job(env, "production", DB, &plan)
}

fn status_of(env: &Env, db: &str) -> serde_json::Value {
    let o = env.run(&["status", "--db", db, "--json"]);
    assert_ok(&o);
    json(&o)["campaigns"][0].clone()
}

fn base_version(env: &Env, db: &str) -> String {
    env.one::<String>(
        db,
        "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
    )
}

fn demo_dbs(env: &Env) -> Vec<String> {
    env.databases()
        .into_iter()
        .filter(|d| d.starts_with(DB))
        .collect()
}

fn filestore_files(env: &Env, db: &str) -> Vec<String> {
    let root = env.data_dir().join("filestore").join(db);
    let mut out = Vec::new();
    fn walk(base: &std::path::Path, p: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// A config file whose `[freeze] start` hook appends a line to `started` and exits `code`.
fn hook_config(env: &Env, code: i32) -> (std::path::PathBuf, std::path::PathBuf) {
    let started = env.dir.path().join("started");
    let cfg = env.dir.path().join("hooks.toml");
    std::fs::write(
        &cfg,
        format!(
            "[freeze]\nstart = [\"sh\", \"-c\", \"echo start >> '{}'; echo 'odoo: cannot start' >&2; exit {code}\"]\n",
            started.display()
        ),
    )
    .unwrap();
    (cfg, started)
}

fn runs(started: &std::path::Path) -> usize {
    std::fs::read_to_string(started)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

// Case 1: freeze; production; unfreeze; an order is written; freeze; restore.
#[test]
fn restore_refuses_a_copy_taken_before_production_was_reopened() {
    let env = Env::new();
    env.demo_db(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = production(&env);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    assert_ok(&env.run(&["unfreeze", "--db", DB]));
    env.exec(DB, ORDER);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));

    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_refused(&o, "run upgrade-pilot production");
    let err = stderr(&o);
    assert!(err.contains("would be lost"), "{err}");
    assert!(err.contains(&upgraded), "names the stale copy: {err}");
    // Nothing moved: production is the original with the new order in it.
    assert_eq!(
        demo_dbs(&env).len(),
        2,
        "no _before_ made: {:?}",
        demo_dbs(&env)
    );
    let st = status_of(&env, DB);
    assert!(st["restore_would"].is_null(), "{st}");
    assert!(
        st["restore_refused"]
            .as_str()
            .is_some_and(|s| s.contains("would be lost")),
        "status says why: {st}"
    );
    let text = stdout(&env.run(&["status", "--db", DB]));
    assert!(text.contains("would be lost"), "{text}");
    env.exec(
        "postgres",
        &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS true"),
    );
    assert_eq!(
        env.one::<i64>(
            DB,
            "SELECT count(*) FROM sale_order WHERE name = 'S-AFTER-COPY'"
        ),
        1
    );
}

// Case 1, the same hole with the freeze lifted by hand (the tool's own record never changes).
#[test]
fn restore_refuses_when_the_freeze_was_lifted_by_hand() {
    let env = Env::new();
    env.demo_db(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env));
    env.exec(
        "postgres",
        &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS true"),
    );
    env.exec(DB, ORDER);
    env.exec(
        "postgres",
        &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS false"),
    );
    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_refused(&o, "run upgrade-pilot production");
    assert!(stderr(&o).contains("reopened"), "{}", stderr(&o));
    assert_eq!(demo_dbs(&env).len(), 2);

    // A new production run under this freeze is restorable again.
    assert_ok(&production(&env));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(
        env.one::<i64>(
            DB,
            "SELECT count(*) FROM sale_order WHERE name = 'S-AFTER-COPY'"
        ),
        1,
        "the order is in the new production"
    );
}

// Case 4: the start hook fails (the upgraded Odoo will not start).
#[test]
fn a_failing_start_hook_never_blocks_the_rollback() {
    let env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    let (cfg, started) = hook_config(&env, 1);
    let cfg = cfg.to_str().unwrap();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env));

    let o = env.run(&["restore", "--db", DB, "--yes", "--config", cfg]);
    assert!(!o.status.success(), "the hook failure is not hidden");
    assert!(
        stdout(&o).contains("restored:"),
        "the swap's result is reported: {}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("start hook") && stderr(&o).contains("cannot start"),
        "{}",
        stderr(&o)
    );
    assert_eq!(runs(&started), 1);
    assert_eq!(base_version(&env, DB), "17.0.1.3", "the swap is done");
    let st = status_of(&env, DB);
    assert!(st["swap_in_progress"].is_null(), "{st}");
    assert_eq!(st["accepts_connections"], true, "{st}");
    assert!(st["frozen_since"].is_null(), "{st}");

    // --stay-frozen runs no start hook, and the rollback is done.
    let o = env.run(&[
        "rollback",
        "--db",
        DB,
        "--stay-frozen",
        "--yes",
        "--config",
        cfg,
    ]);
    assert_ok(&o);
    assert_eq!(runs(&started), 1, "no start hook with --stay-frozen");
    assert_eq!(env.frozen_checksums(DB), original);
    let st = status_of(&env, DB);
    assert_eq!(st["accepts_connections"], false, "{st}");
    assert!(
        st["frozen_since"].is_string(),
        "still frozen, and status says so: {st}"
    );
    // Still frozen on the pre-upgrade database: the production upgrade can be run again.
    let again = production(&env);
    assert_ok(&again);
}

// Case 4: without --stay-frozen the rollback is done and the hook failure said apart.
#[test]
fn rollback_is_done_even_when_its_start_hook_fails() {
    let env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    let (cfg, started) = hook_config(&env, 1);
    let cfg = cfg.to_str().unwrap();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env));
    let _ = env.run(&["restore", "--db", DB, "--yes", "--config", cfg]);
    let o = env.run(&["rollback", "--db", DB, "--yes", "--config", cfg]);
    assert!(!o.status.success());
    assert!(stdout(&o).contains("rolled back:"), "{}", stdout(&o));
    assert!(stderr(&o).contains("start hook"), "{}", stderr(&o));
    assert_eq!(runs(&started), 2);
    assert_eq!(
        env.data_checksums(DB),
        original,
        "production is the original"
    );
    assert_eq!(status_of(&env, DB)["swaps"].as_array().unwrap().len(), 2);
}

// Case 8: a restore killed half-way; unfreeze refuses, rollback reverts it.
#[test]
fn rollback_reverts_a_half_done_restore_and_unfreeze_refuses() {
    for point in [
        "swap:db-renamed",
        "swap:filestore-aside",
        "swap:filestore-in",
    ] {
        let env = Env::new();
        env.demo_db(DB);
        let original = env.data_checksums(DB);
        let original_files = filestore_files(&env, DB);
        assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
        let o = production(&env);
        assert_ok(&o);
        let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
        let upgraded_files = filestore_files(&env, &upgraded);
        let o = env.run_env(
            &["restore", "--db", DB, "--yes"],
            &[("UPGRADE_PILOT_CRASH_AT", point)],
        );
        assert_eq!(o.status.signal(), Some(9), "{point}");

        let o = env.run(&["unfreeze", "--db", DB]);
        assert_refused(&o, "half done");
        let err = stderr(&o);
        assert!(
            err.contains("upgrade-pilot restore --db")
                && err.contains("upgrade-pilot rollback --db"),
            "{point}: names both ways out: {err}"
        );
        assert_refused(&env.run(&["freeze", "--db", DB, "--yes"]), "half done");

        let o = env.run(&["rollback", "--db", DB, "--yes"]);
        assert_ok(&o);
        assert!(stdout(&o).contains("reverted"), "{point}: {}", stdout(&o));
        assert_eq!(env.data_checksums(DB), original, "{point}");
        assert_eq!(filestore_files(&env, DB), original_files, "{point}");
        assert_eq!(
            filestore_files(&env, &upgraded),
            upgraded_files,
            "{point}: the upgraded filestore is back with its copy"
        );
        let dbs = demo_dbs(&env);
        assert!(dbs.contains(&upgraded), "{point}: {dbs:?}");
        assert_eq!(dbs.len(), 2, "{point}: {dbs:?}");
        let st = status_of(&env, DB);
        assert!(st["swap_in_progress"].is_null(), "{point}: {st}");
    }
}

// Case 8: restore does not finish a half-done rollback on its behalf.
#[test]
fn restore_refuses_to_finish_a_half_done_rollback() {
    let env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let o = env.run_env(
        &["rollback", "--db", DB, "--yes"],
        &[("UPGRADE_PILOT_CRASH_AT", "swap:db-renamed")],
    );
    assert_eq!(o.status.signal(), Some(9));
    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_refused(&o, "upgrade-pilot rollback --db");
    assert_refused(&env.run(&["unfreeze", "--db", DB]), "half done");
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
    assert_eq!(env.data_checksums(DB), original);
}

// Case 25 and 26.
#[test]
fn restore_twice_says_done_and_the_rollback_prompt_names_failed() {
    let env = Env::new();
    env.demo_db(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(&env));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("already restored"), "{}", stdout(&o));
    assert_eq!(status_of(&env, DB)["swaps"].as_array().unwrap().len(), 1);

    // Without --yes and without a terminal, the question is shown and nothing done.
    let o = env.run(&["rollback", "--db", DB]);
    assert_refused(&o, "_failed_");
    assert!(
        stderr(&o).contains("writes made on the upgraded production since the swap"),
        "{}",
        stderr(&o)
    );
    assert_eq!(base_version(&env, DB), "17.0.1.3", "nothing rolled back");
}

// Case 10: frozen by hand, unknown to the state dir.
#[test]
fn a_db_frozen_by_hand_is_adopted_by_freeze() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec(
        "postgres",
        &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS false"),
    );
    assert_refused(&production(&env), "upgrade-pilot freeze");
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("adopted"), "{}", stdout(&o));
    assert_eq!(status_of(&env, DB)["accepts_connections"], false);
    assert_ok(&production(&env));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(base_version(&env, DB), "17.0.1.3");
}

// Case 18.
#[test]
fn one_damaged_campaign_does_not_hide_the_others() {
    let env = Env::new();
    env.demo_db(DB);
    env.demo_db("other_prod");
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["freeze", "--db", "other_prod", "--yes"]));
    let dir = env.state_dir().join("campaigns");
    let damaged = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("other_prod")
        })
        .unwrap();
    std::fs::write(&damaged, b"{\"server\": ").unwrap();
    let o = env.run(&["status"]);
    assert!(!o.status.success(), "a damaged file is not a success");
    assert!(
        stdout(&o).contains(DB),
        "the good campaign is shown: {}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains(&damaged.display().to_string()) && stderr(&o).contains("is damaged"),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["status", "--json"]);
    let v = json(&o);
    assert_eq!(v["campaigns"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["damaged"][0]
            .as_str()
            .is_some_and(|s| s.contains("other_prod")),
        "{v}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// Case 3: the same cluster through another address is the same server.
#[test]
fn the_guards_know_the_server_whatever_address_reaches_it() {
    let port = free_port();
    let env = Env::with(upgrade_pilot::pg::cluster::ClusterOptions {
        tcp_port: Some(port),
        ..Default::default()
    });
    env.demo_db(DB);
    let tcp = format!("host=127.0.0.1 port={port} user=postgres sslmode=disable");
    let local = format!("host=localhost port={port} user=postgres sslmode=disable");
    // The campaign is made over the Unix socket; production is live again.
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["unfreeze", "--db", DB]));
    for dsn in [&tcp, &local] {
        let o = env.run_dsn(dsn, &["neutralize", "--db", DB, "--yes"], &[]);
        assert_refused(&o, "production");
        assert_eq!(
            env.one::<i64>(DB, "SELECT count(*) FROM ir_mail_server WHERE active"),
            2,
            "{dsn}: production's mail servers untouched"
        );
    }
    assert_ok(&env.run_dsn(&tcp, &["freeze", "--db", DB, "--yes"], &[]));
    for dsn in [&tcp, &local] {
        let o = env.run_dsn(dsn, &["status", "--db", DB, "--json"], &[]);
        assert_ok(&o);
        assert!(
            json(&o)["campaigns"][0]["frozen_since"].is_string(),
            "{dsn}: the freeze record is found: {}",
            stdout(&o)
        );
    }
    // Production made over TCP, restored over the socket.
    let plan = env.demo_plan();
    assert_ok(&env.run_dsn(
        &tcp,
        &[
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            plan.to_str().unwrap(),
        ],
        &[],
    ));
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let st = status_of(&env, DB);
    let before = st["swaps"][0]["aside"].as_str().unwrap().to_string();
    let o = env.run_dsn(&tcp, &["neutralize", "--db", &before, "--yes"], &[]);
    assert_refused(&o, "production");
    assert_eq!(
        std::fs::read_dir(env.state_dir().join("campaigns"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count(),
        1,
        "one campaign, whatever the address"
    );
}

// Case 3: a copy that carries a production's database.uuid is not neutralized.
#[test]
fn neutralize_refuses_a_copy_carrying_the_production_uuid() {
    let env = Env::new();
    env.demo_db(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    env.exec(
        "postgres",
        &format!("CREATE DATABASE prod_by_hand TEMPLATE {DB}"),
    );
    env.exec(
        "postgres",
        "ALTER DATABASE prod_by_hand ALLOW_CONNECTIONS true",
    );
    let o = env.run(&["neutralize", "--db", "prod_by_hand", "--yes"]);
    assert_refused(&o, "database.uuid");
    assert!(stderr(&o).contains(DB), "{}", stderr(&o));
    assert_eq!(
        env.one::<i64>(
            "prod_by_hand",
            "SELECT count(*) FROM ir_mail_server WHERE active"
        ),
        2,
        "nothing neutralized"
    );
}

// Case 3: campaign files written under the old address key are still found (and migrated).
#[test]
fn campaigns_keyed_by_address_are_migrated() {
    let env = Env::new();
    env.demo_db(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let dir = env.state_dir().join("campaigns");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    // Rewrite it as the previous version did: keyed by "<socket dir>:<port>".
    let legacy = format!(
        "{}:{}",
        env.cluster.socket_dir().display(),
        env.cluster.port
    );
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["server"] = legacy.clone().into();
    std::fs::remove_file(&file).unwrap();
    let old = upgrade_pilot::campaign::path(&env.state_dir(), &legacy, DB);
    std::fs::write(&old, serde_json::to_vec(&v).unwrap()).unwrap();

    let st = status_of(&env, DB);
    assert!(st["frozen_since"].is_string(), "{st}");
    assert_refused(&env.run(&["neutralize", "--db", DB, "--yes"]), "production");
    assert_ok(&production(&env));
    assert!(!old.exists(), "the old file was migrated");
}

// Hole 1 (review): `dbname=<production>` in --dsn, or PGDATABASE=<production>
// (libpq's way of naming a database), made production the maintenance
// database: `freeze` failed with "cannot disallow connections for current
// database", and a swap would have had to rename the database it was connected to.
#[test]
fn a_dsn_naming_production_never_makes_it_the_maintenance_database() {
    let env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    let named = format!("{} dbname={DB}", env.dsn());
    let by_dsn = |args: &[&str]| env.run_dsn(&named, args, &[]);
    let by_env = |args: &[&str]| env.run_env(args, &[("PGDATABASE", DB)]);
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();

    // A test job clones production by template: nobody, not even we, is connected to it.
    let o = by_env(&[
        "test", "--db", DB, "--target", "17.0", "--plan", plan, "--json",
    ]);
    assert_ok(&o);
    assert_eq!(json(&o)["clone_method"], "template", "{}", stdout(&o));

    assert_ok(&by_dsn(&["freeze", "--db", DB, "--yes"]));
    assert_eq!(status_of(&env, DB)["accepts_connections"], false);
    assert_ok(&by_env(&["unfreeze", "--db", DB]));
    assert_ok(&by_env(&["freeze", "--db", DB, "--yes"]));
    let args = job_args("production", DB, std::path::Path::new(plan));
    assert_ok(&by_dsn(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert_ok(&by_dsn(&["restore", "--db", DB, "--yes"]));
    assert_eq!(
        base_version(&env, DB),
        "17.0.1.3",
        "the upgrade is in place"
    );
    assert_ok(&by_env(&["rollback", "--db", DB, "--yes"]));
    assert_eq!(
        env.data_checksums(DB),
        original,
        "production is the original"
    );
    assert_eq!(status_of(&env, DB)["swaps"].as_array().unwrap().len(), 2);
}

// Hole 1: a role that may connect to production only (CONNECT revoked on
// postgres and template1) has no database for server-wide work: refused in
// one line saying what to do, production untouched.
#[test]
fn no_maintenance_database_but_production_is_refused_in_one_line() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec(
        "postgres",
        &format!(
            "CREATE ROLE odoo LOGIN CREATEDB; ALTER DATABASE {DB} OWNER TO odoo; \
             REVOKE CONNECT ON DATABASE postgres FROM PUBLIC; REVOKE CONNECT ON DATABASE template1 FROM PUBLIC"
        ),
    );
    let dsn = format!(
        "host={} port={} user=odoo dbname={DB}",
        env.cluster.socket_dir().display(),
        env.cluster.port
    );
    let o = env.run_dsn(&dsn, &["freeze", "--db", DB, "--yes"], &[]);
    assert_refused(&o, "is an Odoo database");
    let err = stderr(&o);
    assert!(err.contains("dbname="), "says what to do: {err}");
    assert!(
        err.contains("postgres") && err.contains("template1"),
        "{err}"
    );
    assert!(
        env.one::<bool>(
            "postgres",
            &format!("SELECT datallowconn FROM pg_database WHERE datname = '{DB}'")
        ),
        "production still open"
    );
}

// Hole 2 (review): production killed; unfreeze; a user writes; freeze;
// production. The killed job's copy was taken under the earlier freeze: it
// misses the write. Resuming it wasted the downtime (restore refused it at the
// end). The job starts over, saying so in one line. The same when the freeze
// was lifted and put back by hand (the tool's record unchanged: the server's
// statistics tell).
#[test]
fn production_starts_over_when_its_copy_predates_the_freeze() {
    for by_hand in [false, true] {
        let env = Env::new();
        env.demo_db(DB);
        assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
        let plan = env.demo_plan();
        let args = [
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            plan.to_str().unwrap(),
        ];
        let o = env.run_env(&args, &[("UPGRADE_PILOT_CRASH_AT", "after:backup")]);
        assert_eq!(o.status.signal(), Some(9));
        let killed: Vec<String> = demo_dbs(&env).into_iter().filter(|d| d != DB).collect();
        assert_eq!(killed.len(), 1, "the killed job's copy: {killed:?}");
        let allow = |yes: bool| {
            env.exec(
                "postgres",
                &format!("ALTER DATABASE {DB} ALLOW_CONNECTIONS {yes}"),
            )
        };
        if by_hand {
            allow(true);
        } else {
            assert_ok(&env.run(&["unfreeze", "--db", DB]));
        }
        env.exec(DB, ORDER);
        if by_hand {
            allow(false);
        } else {
            assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
        }

        let o = env.run(&args);
        assert_ok(&o);
        let err = stderr(&o);
        let said: Vec<&str> = err.lines().filter(|l| l.contains("starts over")).collect();
        assert_eq!(said.len(), 1, "{by_hand}: one line says why: {err}");
        assert!(said[0].contains(&killed[0]), "names the old copy: {err}");
        assert!(!err.contains("resuming"), "{err}");
        let dbs = demo_dbs(&env);
        assert!(
            !dbs.contains(&killed[0]),
            "the stale copy is dropped: {dbs:?}"
        );
        assert_eq!(dbs.len(), 2, "{dbs:?}");

        assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
        assert_eq!(
            env.one::<i64>(
                DB,
                "SELECT count(*) FROM sale_order WHERE name = 'S-AFTER-COPY'"
            ),
            1,
            "{by_hand}: the order written between the freezes is in the new production"
        );
    }
}

/// `DB` frozen with a ready upgraded copy; its checksums and filestore before.
fn ready_to_restore(env: &Env) -> (Vec<(String, String)>, Vec<String>) {
    env.demo_db(DB);
    let sums = env.data_checksums(DB);
    let files = filestore_files(env, DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&production(env));
    (sums, files)
}

/// The path of `DB`'s campaign file, once there is one.
fn campaign_path(env: &Env) -> Option<std::path::PathBuf> {
    std::fs::read_dir(env.state_dir().join("campaigns"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(DB))
}

/// The campaign file of `DB` as written (read directly: `status` is under test).
fn campaign_file(env: &Env) -> serde_json::Value {
    campaign_path(env)
        .and_then(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// `restore` started in the background and held between its journal and its
/// renames (test hook `UPGRADE_PILOT_PAUSE_AT=swap:planned`) until `go` exists;
/// killed at `crash` if given.
fn paused_restore(env: &Env, crash: Option<&str>) -> (std::process::Child, std::path::PathBuf) {
    let go = env.dir.path().join("go");
    let go_s = go.to_str().unwrap().to_string();
    let args: Vec<String> = ["restore", "--db", DB, "--yes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut vars = vec![
        ("UPGRADE_PILOT_PAUSE_AT", "swap:planned"),
        ("UPGRADE_PILOT_PAUSE_FILE", go_s.as_str()),
    ];
    if let Some(point) = crash {
        vars.push(("UPGRADE_PILOT_CRASH_AT", point));
    }
    let child = spawn_job_env(env, &args, &vars);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !campaign_file(env)["swap"].is_object() {
        assert!(
            std::time::Instant::now() < deadline,
            "restore never journaled"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, go)
}

// Review: `status`, a second `restore`, `rollback` and `unfreeze` run while a
// restore is between its journal and its renames. Before: the first two
// (which looked before taking the job lock) forgot the running restore's
// journal as "a swap that never started"; the restore then renamed the
// databases unjournaled, and once it was killed there no command knew:
// `rollback` said "no restore to roll back" and `unfreeze` reopened the
// upgraded database over the original's filestore.
#[test]
fn commands_run_during_a_restore_never_forget_its_journal() {
    let env = Env::new();
    let (original, original_files) = ready_to_restore(&env);
    let (restore, go) = paused_restore(&env, Some("swap:db-renamed"));
    assert_ok(&env.run(&["status", "--db", DB]));
    let busy = "another upgrade-pilot is working";
    assert_refused(&env.run(&["restore", "--db", DB, "--yes"]), busy);
    assert_refused(
        &env.run(&["rollback", "--db", DB, "--yes"]),
        "no restore to roll back",
    );
    assert_refused(&env.run(&["unfreeze", "--db", DB]), busy);
    assert!(
        campaign_file(&env)["swap"].is_object(),
        "the running restore's journal is kept"
    );
    std::fs::write(&go, "").unwrap();
    let out = restore.wait_with_output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", stderr(&out));

    // Killed after its renames: the journal says so, and rollback reverts it.
    assert_refused(&env.run(&["unfreeze", "--db", DB]), "half done");
    let o = env.run(&["rollback", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("reverted"), "{}", stdout(&o));
    assert_eq!(env.data_checksums(DB), original);
    assert_eq!(filestore_files(&env, DB), original_files);
}

// Review: a folder already under the name the original filestore is set aside
// to (`<db>_before_<target>_<minute>`: left by hand, or planted). Before: the
// restore skipped the filestore moves silently, so the upgraded production ran
// on the original's filestore, and a rollback then gave production the planted
// folder as its filestore. Now refused before anything moves, naming it.
#[test]
fn restore_refuses_when_the_before_filestore_name_is_taken() {
    let env = Env::new();
    let (original, original_files) = ready_to_restore(&env);
    let now = chrono::Utc::now();
    let mut planted = Vec::new();
    for t in [now, now + chrono::Duration::minutes(1)] {
        let dir = env
            .data_dir()
            .join("filestore")
            .join(format!("{DB}_before_17.0_{}", t.format("%Y_%m_%d_%H_%M")));
        std::fs::create_dir_all(dir.join("ab")).unwrap();
        std::fs::write(dir.join("ab/planted"), "not production's").unwrap();
        planted.push(dir);
    }
    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_refused(&o, "already exists");
    assert!(stderr(&o).contains("_before_17.0_"), "{}", stderr(&o));
    let dbs = demo_dbs(&env);
    assert!(
        dbs.len() == 2 && !dbs.iter().any(|d| d.contains("_before_")),
        "nothing swapped: {dbs:?}"
    );
    assert_eq!(filestore_files(&env, DB), original_files);
    for p in &planted {
        std::fs::remove_dir_all(p).unwrap();
    }
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let before = status_of(&env, DB)["swaps"][0]["aside"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        filestore_files(&env, &before),
        original_files,
        "the original filestore is set aside with its database"
    );
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
    assert_eq!(env.data_checksums(DB), original);
    assert_eq!(filestore_files(&env, DB), original_files);
}

// Review: kill -9 at each crash point of the revert of a half-done restore and
// of a rollback's filestore moves, then the same command again: it finishes,
// production's data and filestore are the original's, each filestore is with
// its database, no swap is left pending.
#[test]
fn kill_9_at_each_revert_and_rollback_step_then_rollback_again() {
    for (restore_at, rollback_at) in [
        ("swap:filestore-in", "revert:db-renamed"),
        ("swap:filestore-in", "revert:filestore-out"),
        ("", "swap:filestore-aside"),
        ("", "swap:filestore-in"),
    ] {
        let env = Env::new();
        let (original, original_files) = ready_to_restore(&env);
        let case = format!("{restore_at} then {rollback_at}");
        let upgraded = status_of(&env, DB)["production"][0]["db"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| panic!("{}", status_of(&env, DB)));
        let upgraded_files = filestore_files(&env, &upgraded);
        if restore_at.is_empty() {
            assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
        } else {
            let o = env.run_env(
                &["restore", "--db", DB, "--yes"],
                &[("UPGRADE_PILOT_CRASH_AT", restore_at)],
            );
            assert_eq!(o.status.signal(), Some(9), "{case}");
        }
        let o = env.run_env(
            &["rollback", "--db", DB, "--yes"],
            &[("UPGRADE_PILOT_CRASH_AT", rollback_at)],
        );
        assert_eq!(o.status.signal(), Some(9), "{case}: {}", stderr(&o));
        assert_refused(&env.run(&["unfreeze", "--db", DB]), "half done");
        let o = env.run(&["rollback", "--db", DB, "--yes"]);
        assert_ok(&o);
        assert_eq!(env.data_checksums(DB), original, "{case}");
        assert_eq!(filestore_files(&env, DB), original_files, "{case}");
        let st = status_of(&env, DB);
        assert!(st["swap_in_progress"].is_null(), "{case}: {st}");
        // The upgraded database, under whatever name it now has, kept its filestore.
        let others: Vec<String> = demo_dbs(&env).into_iter().filter(|d| d != DB).collect();
        assert_eq!(others.len(), 1, "{case}: {others:?}");
        assert!(!upgraded_files.is_empty());
        assert_eq!(filestore_files(&env, &others[0]), upgraded_files, "{case}");
    }
}

// Review: a state file another local user wrote (a state dir made by someone
// else, or shared). Before: trusted. A campaign of production planted there,
// owned by another user, whose journal says a restore is being reverted with
// another database ("victim") set aside: `rollback` renamed production away and
// put "victim" in its place. Now a state file not owned by us, or that others
// may write, is refused in one line naming it; nothing changes.
#[test]
fn a_state_file_another_user_could_write_is_not_trusted() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: giving a file to another user needs root (CI runs as root)");
        return;
    }
    let env = Env::new();
    env.demo_db(DB);
    env.demo_db("victim");
    let original = env.data_checksums(DB);
    let victim = env.data_checksums("victim");
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let file = campaign_path(&env).unwrap();
    let mut camp = campaign_file(&env);
    camp["swap"] = serde_json::json!({
        "kind": "restore", "state": "db_renamed", "reverting": true,
        "started_at": "2026-01-01T00:00:00Z", "prod": DB, "aside": "victim",
        "incoming": "nowhere", "target": "17.0",
    });
    std::fs::write(&file, serde_json::to_vec(&camp).unwrap()).unwrap();
    for (owner, mode) in [(65534, 0o600), (0, 0o666)] {
        nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(owner)), None).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = env.run(&["rollback", "--db", DB, "--yes"]);
        assert_refused(&o, &file.display().to_string());
        assert!(stderr(&o).contains("not trusted"), "{}", stderr(&o));
        assert!(
            env.db_exists("victim"),
            "{owner} {mode:o}: {:?}",
            env.databases()
        );
        assert!(!env.db_exists("nowhere"));
        assert_eq!(env.frozen_checksums(DB), original);
        assert_eq!(env.data_checksums("victim"), victim);
    }
}

// Review: the state dir's disk is full when `freeze` records the freeze (the
// default backup folder lives there too). Before: production was left frozen
// and unknown to the tool, Odoo stopped, while freeze said only "No space left".
// Now the freeze is undone (production reopened) and the one line says so.
#[test]
fn a_freeze_that_cannot_be_recorded_reopens_production() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    let env = Env::new();
    env.demo_db(DB);
    let dir = env.state_dir().join("campaigns");
    let _full = Tmpfs::mount(&dir, "16k");
    // Fill it.
    let _ = std::fs::write(dir.join("filler"), vec![0u8; 64 * 1024]);
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_refused(&o, "No space left");
    assert!(stderr(&o).contains("reopened"), "{}", stderr(&o));
    assert!(
        env.one::<bool>(
            "postgres",
            &format!("SELECT datallowconn FROM pg_database WHERE datname = '{DB}'")
        ),
        "production accepts connections again"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "no partial temp file: {left:?}");
}

// Review: while a production job runs (held in its plan), every command that
// would change production is refused naming the job: unfreeze (it would let
// Odoo write while the copy is upgraded), freeze, restore, rollback.
#[test]
fn production_path_commands_wait_for_a_running_production_job() {
    let env = Env::new();
    env.demo_db(DB);
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let (plan, flag) = waiting_plan(&env);
    let mut job = spawn_job(&env, &job_args("production", DB, &plan));
    wait_for_step(&env, 3);
    let busy = "another upgrade-pilot is working";
    assert_refused(&env.run(&["unfreeze", "--db", DB]), busy);
    assert_refused(&env.run(&["freeze", "--db", DB, "--yes"]), busy);
    assert_refused(&env.run(&["restore", "--db", DB, "--yes"]), "");
    assert_refused(&env.run(&["rollback", "--db", DB, "--yes"]), "");
    std::fs::write(&flag, "").unwrap();
    assert!(job.wait().unwrap().success());
    assert_eq!(status_of(&env, DB)["accepts_connections"], false);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
    assert_eq!(env.data_checksums(DB), original);
}

// Review: the server stops (fast) while a restore is between its journal and
// its renames; once it is back, the same restore plans again and finishes.
#[test]
fn a_server_stopped_inside_a_restore_then_restore_again() {
    let mut env = Env::new();
    let (_, original_files) = ready_to_restore(&env);
    let (restore, go) = paused_restore(&env, None);
    env.cluster.stop("fast").unwrap();
    std::fs::write(&go, "").unwrap();
    let out = restore.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("during the restore") && err.contains("upgrade-pilot restore --db"),
        "{err}"
    );
    env.cluster.start_again().unwrap();
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(base_version(&env, DB), "17.0.1.3");
    let before = status_of(&env, DB)["swaps"][0]["aside"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(filestore_files(&env, &before), original_files);
}

// Review: a campaign file edited by hand (by its owner) while a restore is
// half done: the journal's "aside" changed to an unrelated database. Before:
// `rollback` renamed the upgraded production to its copy name and the
// unrelated database into production's place (the original left under its
// `_before_` name). Now a journal whose names this campaign did not make is
// refused in one line naming the file and the name; nothing moves.
#[test]
fn a_hand_edited_swap_journal_is_refused() {
    let env = Env::new();
    env.demo_db("victim");
    let victim = env.data_checksums("victim");
    ready_to_restore(&env);
    let o = env.run_env(
        &["restore", "--db", DB, "--yes"],
        &[("UPGRADE_PILOT_CRASH_AT", "swap:db-renamed")],
    );
    assert_eq!(o.status.signal(), Some(9));
    let file = campaign_path(&env).unwrap();
    let honest = std::fs::read(&file).unwrap();
    let before_dbs = env.databases();
    for (field, value) in [
        ("aside", "victim"),
        ("incoming", "victim"),
        ("prod", "victim"),
    ] {
        let mut camp: serde_json::Value = serde_json::from_slice(&honest).unwrap();
        camp["swap"][field] = value.into();
        std::fs::write(&file, serde_json::to_vec(&camp).unwrap()).unwrap();
        for cmd in [
            &["rollback", "--db", DB, "--yes"][..],
            &["restore", "--db", DB, "--yes"],
        ] {
            let o = env.run(cmd);
            assert_refused(&o, "edited");
            assert!(stderr(&o).contains("\"victim\""), "{field}: {}", stderr(&o));
            assert_eq!(
                env.databases(),
                before_dbs,
                "{field} {cmd:?}: nothing renamed"
            );
        }
    }
    assert_eq!(env.data_checksums("victim"), victim);
    // Put back as it was, the half-done restore is reverted.
    std::fs::write(&file, &honest).unwrap();
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
}

// Review: `unfreeze` of the database a swap set aside (`_before_` after a
// restore, `_failed_` after a rollback). Before: reopened: Odoo (a db filter
// such as `^prod`) and its scheduled actions could run there beside
// production, sending mail twice. Now refused in one line saying what it is
// and how to read it; it stays frozen.
#[test]
fn unfreeze_refuses_a_database_a_swap_set_aside() {
    let env = Env::new();
    ready_to_restore(&env);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
    let swaps = status_of(&env, DB)["swaps"].clone();
    let failed = swaps[1]["aside"].as_str().unwrap().to_string();
    assert!(failed.contains("_failed_"), "{swaps}");
    let o = env.run(&["unfreeze", "--db", &failed]);
    assert_refused(&o, "set aside");
    assert!(stderr(&o).contains(DB), "{}", stderr(&o));
    assert!(!env.one::<bool>(
        "postgres",
        &format!("SELECT datallowconn FROM pg_database WHERE datname = '{failed}'")
    ));
    // Production itself unfreezes as before.
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["unfreeze", "--db", DB]));
}

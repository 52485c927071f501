//! Inputs, locks and session counting (issue 10, cases 13–24): what the tool
//! is given (connection strings, plan files, names, password files) and what it
//! counts as "someone connected".

mod common;
use common::*;

use std::time::{Duration, Instant};

use upgrade_pilot::pg::cluster::ClusterOptions;

const DB: &str = "prod";

/// Polls until `q` (one bool) on the maintenance db is true; bounded.
fn wait_until(env: &Env, q: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let yes: bool = env.rt.block_on(async {
            let c = env.conn().connect("postgres").await.expect("connect");
            c.query_one(q, &[]).await.unwrap().get(0)
        });
        if yes {
            return;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_autovacuum(env: &Env, db: &str) {
    wait_until(
        env,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = '{db}')"
        ),
        "an autovacuum worker on the source",
    );
}

/// Case 16: an autovacuum worker on the source is the server's, not a session:
/// inspect counts none, the test copy is a template copy (CREATE DATABASE ends
/// the worker itself, as PostgreSQL does), `--clone template` is not refused,
/// and freeze ends no session.
#[test]
fn an_autovacuum_worker_is_not_a_session() {
    let env = Env::with(ClusterOptions {
        settings: vec!["autovacuum_naptime = 1".into()],
        ..Default::default()
    });
    env.demo_db(DB);
    // A table autovacuum crawls through (one page per 100 ms): its worker stays
    // on the source until something ends it.
    env.exec(
        DB,
        "CREATE TABLE x_slow_vacuum AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 100000) g; \
         ALTER TABLE x_slow_vacuum SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0, \
           autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1); \
         DELETE FROM x_slow_vacuum;",
    );
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();

    wait_for_autovacuum(&env, DB);
    let o = env.run(&["inspect", "--db", DB, "--json"]);
    assert_ok(&o);
    assert_eq!(json(&o)["sessions"], serde_json::json!([]), "inspect");
    // A role that may not see other backends' backend_type (Odoo's own).
    env.exec(
        "postgres",
        "CREATE ROLE odoo LOGIN; GRANT pg_read_all_data TO odoo",
    );
    let odoo = format!("{} user=odoo", env.dsn().replace(" user=postgres", ""));
    let o = env.run_dsn(&odoo, &["inspect", "--db", DB, "--json"], &[]);
    assert_ok(&o);
    assert_eq!(
        json(&o)["sessions"],
        serde_json::json!([]),
        "inspect as odoo"
    );

    wait_for_autovacuum(&env, DB);
    let o = env.run(&[
        "test", "--db", DB, "--target", "17.0", "--plan", p, "--json",
    ]);
    assert_ok(&o);
    assert_eq!(json(&o)["clone_method"], "template", "{}", stderr(&o));

    wait_for_autovacuum(&env, DB);
    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        p,
        "--clone",
        "template",
        "--test-db",
        "second",
        "--json",
    ]);
    assert_ok(&o);
    assert_eq!(json(&o)["clone_method"], "template");

    wait_for_autovacuum(&env, DB);
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("0 session(s) ended"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(!stderr(&o).contains("connected:"), "{}", stderr(&o));
}

/// Case 20: the tool's own connections are not sessions. Preflight reads the
/// source over a connection it then closes, and that backend lingers a moment:
/// it was counted ("1 session(s) ended" by a freeze of an idle database, a
/// snapshot copy instead of the template copy) in about one run of three, so
/// each is tried several times (on the old code a freeze failed by its 4th).
#[test]
fn the_tools_own_connections_are_not_sessions() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    for i in 0..6 {
        let name = format!("copy_{i}");
        let o = env.run(&[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            p,
            "--test-db",
            &name,
            "--json",
        ]);
        assert_ok(&o);
        assert_eq!(json(&o)["clone_method"], "template", "run {i}");
    }
    for i in 0..12 {
        let o = env.run(&["freeze", "--db", DB, "--yes"]);
        assert_ok(&o);
        assert!(
            stdout(&o).contains("0 session(s) ended"),
            "run {i}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_ok(&env.run(&["unfreeze", "--db", DB]));
    }
}

fn sql_plan(env: &Env, files: &[(&str, &str)]) -> String {
    let dir = env.dir.path().join("txplan");
    let _ = std::fs::remove_dir_all(dir.join("sql"));
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("sql").join(name), text).unwrap();
    }
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"tx\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"pre\"\nsql = \"sql\"\n",
    )
    .unwrap();
    dir.join("plan.toml").display().to_string()
}

fn has_table(env: &Env, db: &str, table: &str) -> bool {
    env.one::<bool>(
        db,
        &format!("SELECT to_regclass('public.{table}') IS NOT NULL"),
    )
}

/// Case 14: a plan SQL file that ends its own transaction is refused before
/// anything is made, naming the file and line; a failing file names the line
/// of the failing statement (also for errors without a position), and nothing
/// of it is applied — also when a DO block inside it tries to COMMIT.
#[test]
fn transaction_control_in_a_plan_file_is_refused_and_errors_name_their_line() {
    let env = Env::new();
    env.demo_db(DB);
    let ok = ("010_ok.sql", "CREATE TABLE x_first (id int);\n");
    let dbs = env.databases();
    let sums = env.checksums(DB);
    let plan = sql_plan(
        &env,
        &[
            ok,
            (
                "020_commit.sql",
                "UPDATE res_partner SET name = name || '!'; -- commit; here is a comment\n  commit;\nUPDATE no_such_table SET a = 1;\n",
            ),
        ],
    );
    let args = [
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        &plan,
        "--test-db",
        "t14",
        "--json",
    ];
    let o = env.run(&args);
    assert_refused(
        &o,
        "020_commit.sql line 2: COMMIT is not allowed in a plan SQL file",
    );
    assert_eq!(env.databases(), dbs, "nothing created");
    assert_eq!(env.checksums(DB), sums, "source unchanged");

    // A runtime error without a position (division by zero): its line, not 0.
    sql_plan(
        &env,
        &[
            ok,
            (
                "020_div.sql",
                "CREATE TABLE x_partial (id int);\n\nINSERT INTO x_partial VALUES (1);\nSELECT 1/0;\n",
            ),
        ],
    );
    let o = env.run(&args);
    assert_refused(&o, "020_div.sql failed at line 4: division by zero");
    assert!(has_table(&env, "t14", "x_first"), "the first file applied");
    assert!(
        !has_table(&env, "t14", "x_partial"),
        "nothing of 020 applied"
    );

    // Dollar-quoted, the COMMIT is the server's to refuse: it does, and the
    // file's first statement is rolled back with the rest.
    sql_plan(
        &env,
        &[
            ok,
            (
                "020_do.sql",
                "CREATE TABLE x_do (id int);\nDO $$ BEGIN\n  INSERT INTO x_do VALUES (1);\n  COMMIT;\nEND $$;\n",
            ),
        ],
    );
    let o = env.run(&args);
    assert_refused(
        &o,
        "020_do.sql failed at line 2: invalid transaction termination",
    );
    assert!(!has_table(&env, "t14", "x_do"), "nothing of 020 applied");
    assert_eq!(env.checksums(DB), sums, "source unchanged");
}

/// Case 15: a misspelt or unknown `--dsn` key is refused as libpq refuses it,
/// in one line naming the key (`sslmod=require` went out unencrypted).
#[test]
fn unknown_dsn_keys_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |dsn: &str| {
        std::process::Command::new(BIN)
            .args(["inspect", "--db", "prod", "--dsn", dsn])
            .env_clear()
            .env("HOME", dir.path())
            .env("UPGRADE_PILOT_STATE_DIR", dir.path().join("state"))
            .output()
            .unwrap()
    };
    assert_refused(
        &run("host=127.0.0.1 port=1 sslmod=require"),
        "invalid connection option \"sslmod\": did you mean sslmode?",
    );
    assert_refused(
        &run("postgresql://127.0.0.1:1/prod?sslmode=require&sslrootcrt=/ca.pem"),
        "invalid URI query parameter \"sslrootcrt\": did you mean sslrootcert?",
    );
    assert_refused(
        &run("host=127.0.0.1 port=1 hostaddr=10.0.0.9"),
        "\"hostaddr\" is a libpq setting upgrade-pilot does not use",
    );
}

/// Case 13: a job whose statement waits on a lock says who holds it, and
/// SIGTERM cancels it while it waits (the statement is cancelled on the
/// server; the half-made copy is dropped).
#[test]
fn a_job_waiting_on_a_lock_names_the_holder_and_sigterm_cancels_it() {
    use std::io::BufRead;
    let env = Env::new();
    env.demo_db(DB);
    // A command step held by a flag file, then a SQL step on res_partner.
    let dir = env.dir.path().join("lockplan");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(
        dir.join("sql/010_touch.sql"),
        "UPDATE res_partner SET name = name;",
    )
    .unwrap();
    let flag = dir.join("go");
    std::fs::write(
        dir.join("wait.sh"),
        format!(
            "#!/bin/sh\ni=0\nwhile [ ! -f '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n",
            flag.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("wait.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"lock\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"wait\"\ncommand = [\"./wait.sh\"]\n[[hop.step]]\nname = \"touch\"\nsql = \"sql\"\n",
    )
    .unwrap();
    let args: Vec<String> = [
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        dir.join("plan.toml").to_str().unwrap(),
        "--test-db",
        "t13",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut child = spawn_job(&env, &args);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    wait_for_step(&env, 3);
    // Someone holds res_partner on the test copy, in an open transaction.
    let (holder, holder_pid) = env.rt.block_on(async {
        let c = env.conn().connect("t13").await.unwrap();
        let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
        c.batch_execute(
            "SET application_name = 'holder-13'; BEGIN; LOCK TABLE res_partner IN ACCESS EXCLUSIVE MODE",
        )
        .await
        .unwrap();
        (c, pid)
    });
    std::fs::write(&flag, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let said = loop {
        let found = lines
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("waiting on \"t13\" for a lock"))
            .cloned();
        if let Some(l) = found {
            break l;
        }
        assert!(
            Instant::now() < deadline,
            "the job never said what it waits for: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        said.contains(&format!(
            "held by pid {holder_pid} (holder-13, role postgres, idle in transaction since "
        )),
        "{said}"
    );
    assert!(said.contains("LOCK TABLE res_partner"), "{said}");
    assert!(
        said.contains("(RowExclusiveLock on table res_partner)"),
        "{said}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not stop the waiting job"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    assert!(!status.success());
    let all = lines.lock().unwrap().join("\n");
    assert!(all.contains("cancelled"), "{all}");
    assert!(!env.db_exists("t13"), "the half-made copy is dropped");
    drop(holder);
}

/// Case 17: a database name with "/" or ".." is refused by every subcommand
/// that takes one, before anything is created (files are named after databases).
#[test]
fn database_names_with_slash_or_dotdot_are_refused_everywhere() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec("postgres", "CREATE DATABASE \"../evil\"");
    env.exec("postgres", "CREATE DATABASE \"a/b\"");
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let out = env.dir.path().join("out");
    let o = out.to_str().unwrap();
    let dbs = env.databases();
    let needle = "contains \"/\" or \"..\"";
    for bad in ["../evil", "a/b"] {
        let cases: Vec<Vec<&str>> = vec![
            vec!["inspect", "--db", bad],
            vec!["test", "--db", bad, "--target", "17.0", "--plan", p],
            vec!["neutralize", "--db", bad, "--yes"],
            vec!["freeze", "--db", bad, "--yes"],
            vec!["unfreeze", "--db", bad],
            vec![
                "production",
                "--db",
                bad,
                "--target",
                "17.0",
                "--plan",
                p,
                "--yes",
            ],
            vec!["restore", "--db", bad, "--yes"],
            vec!["rollback", "--db", bad, "--yes"],
            vec!["backup", "--db", bad, "--out", o],
            vec!["report", "--db", bad, "--out", o],
            vec!["status", "--db", bad],
        ];
        for args in cases {
            let r = env.run(&args);
            assert_refused(&r, needle);
        }
    }
    assert_refused(
        &env.run(&[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            p,
            "--test-db",
            "x/../y",
        ]),
        needle,
    );
    assert_eq!(env.databases(), dbs, "nothing created or dropped");
    assert!(!out.exists(), "no backup or report written");
    assert!(
        !env.state_dir().join("campaigns").exists()
            || std::fs::read_dir(env.state_dir().join("campaigns"))
                .unwrap()
                .count()
                == 0,
        "no campaign made"
    );
}

fn bare_run(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("UPGRADE_PILOT_STATE_DIR", home.join("state"))
        .output()
        .unwrap()
}

/// Case 24: a .pgpass ignored because others may read it says so, in one
/// warning line as libpq does, instead of a silent authentication failure.
#[test]
fn a_pgpass_ignored_for_its_mode_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    std::fs::write(&pgpass, "*:*:*:odoo:secret\n").unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = bare_run(
        home.path(),
        &["--dsn", "host=127.0.0.1 port=1 user=odoo", "status"],
    );
    assert_ok(&o);
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains(".pgpass")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0]
            .contains("has group or world access; permissions should be u=rw (0600) or less"),
        "{err}"
    );
    assert!(!err.contains("secret"));
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = bare_run(
        home.path(),
        &["--dsn", "host=127.0.0.1 port=1 user=odoo", "status"],
    );
    assert_ok(&o);
    assert!(!stderr(&o).contains(".pgpass"), "{}", stderr(&o));
}

/// Case 22: the log's start line names the subcommand, also when global
/// flags come first.
#[test]
fn the_log_start_line_names_the_subcommand() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_run(home.path(), &["--dsn", "host=127.0.0.1 port=1", "status"]);
    assert_ok(&o);
    let log = std::fs::read_to_string(home.path().join("state/upgrade-pilot.log")).unwrap();
    let start = log
        .lines()
        .find(|l| l.contains(" start"))
        .unwrap_or_default();
    assert!(start.contains("command=\"status\""), "{log}");
}

/// Case 19: a frozen source (ALLOW_CONNECTIONS false) can be tested: it cannot
/// be read, but it can be a template. Its version comes from the freeze
/// record, its modules are checked on the copy; it stays frozen and unchanged.
#[test]
fn a_frozen_source_is_tested_through_a_template_copy() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let sums = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        p,
        "--test-db",
        "t19",
        "--json",
    ]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["clone_method"], "template");
    assert_eq!(
        v["source_version"].as_str().map(|s| &s[..4]),
        Some("16.0"),
        "{v}"
    );
    assert_eq!(
        env.one::<String>(
            "t19",
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        "true"
    );
    assert!(
        !env.one::<bool>(
            "postgres",
            "SELECT datallowconn FROM pg_database WHERE datname = 'prod'"
        ),
        "production stays frozen"
    );
    assert_eq!(env.frozen_checksums(DB), sums, "production unchanged");
    assert_refused(
        &env.run(&[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            p,
            "--clone",
            "snapshot",
            "--test-db",
            "t19b",
        ]),
        "a snapshot copy cannot read it: use --clone template or auto",
    );
    // What preflight reads on a live source is read on the copy: a module
    // left "to upgrade" stops the job there, naming it.
    assert_ok(&env.run(&["unfreeze", "--db", DB]));
    env.exec(
        DB,
        "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'sale'",
    );
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        p,
        "--test-db",
        "t19c",
        "--json",
    ]);
    assert_refused(
        &o,
        "modules left in a pending state by an unfinished operation: sale (to upgrade)",
    );
}

/// The job lock holds whatever maintenance database each run uses (advisory
/// locks belong to one database): a second run with `dbname=template1` in its
/// DSN is refused while the first runs, naming the holder.
#[test]
fn the_job_lock_holds_across_maintenance_databases() {
    let env = Env::new();
    env.demo_db(DB);
    let (plan, flag) = waiting_plan(&env);
    let mut first = spawn_job(&env, &job_args("test", DB, &plan));
    wait_for_step(&env, 3);
    let o = env.run_dsn(
        &format!("{} dbname=template1", env.dsn()),
        &[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--plan",
            plan.to_str().unwrap(),
        ],
        &[],
    );
    assert_refused(&o, "another upgrade-pilot is working on \"prod\"");
    std::fs::write(&flag, "").unwrap();
    assert!(first.wait().unwrap().success());
}

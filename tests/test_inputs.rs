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

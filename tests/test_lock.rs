//! The job lock between runs of the tool: a run that ended (normally or by
//! kill -9) leaves its lock session on the server for a moment, until the
//! server notices the closed socket. The next run must not be refused for it.

mod common;

use common::*;
use std::time::{Duration, Instant};

const DB: &str = "demo_lock";

/// What the server shows between a run's exit and the end of its backend: the
/// lock held by a session named after a process of this host that is gone.
/// Here that session is ours (kept open), so the moment lasts until we end it.
#[test]
fn a_lock_left_by_a_run_that_has_exited_is_waited_for_not_refused() {
    let env = Env::new();
    env.demo_db(DB);

    // A process of this host that has exited: its pid is free.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let holder = rt.block_on(async {
        let c = env.conn().connect("postgres").await.unwrap();
        let name = upgrade_pilot::engine::lock::holder_name(gone_pid);
        c.execute("SELECT set_config('application_name', $1, false)", &[&name])
            .await
            .unwrap();
        let got: bool = c
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[
                    &upgrade_pilot::engine::lock::CLASS,
                    &upgrade_pilot::engine::lock::key(DB),
                ],
            )
            .await
            .unwrap()
            .get(0);
        assert!(got, "the test could not take the lock");
        c
    });
    let holder_pid: i32 = rt.block_on(async {
        holder
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
    });

    let mut child = spawn_job(
        &env,
        &["freeze".into(), "--db".into(), DB.into(), "--yes".into()],
    );
    // Wait until the run has tried the lock once (its session's last statement
    // looked for the holder), or has given up.
    let me = format!("upgrade-pilot pid {} %", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let tried: i64 = env.one(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '{me}' \
                 AND query LIKE '%pg_locks%'"
            ),
        );
        if tried > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never tried the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The dead run's backend ends now, as the server would on its own.
    env.exec(
        "postgres",
        &format!("SELECT pg_terminate_backend({holder_pid})"),
    );
    let out = child.wait_with_output().unwrap();
    assert_ok(&out);
    assert!(!env.one::<bool>(
        "postgres",
        &format!("SELECT datallowconn FROM pg_database WHERE datname = '{DB}'")
    ));
    drop(holder);
}

/// A live holder is still refused at once, naming it.
#[test]
fn a_lock_held_by_a_live_run_is_refused_naming_it() {
    let env = Env::new();
    env.demo_db(DB);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _holder = rt.block_on(async {
        let c = env.conn().connect("postgres").await.unwrap();
        // This test's own process: alive.
        let name = upgrade_pilot::engine::lock::holder_name(std::process::id());
        c.execute("SELECT set_config('application_name', $1, false)", &[&name])
            .await
            .unwrap();
        c.query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[
                &upgrade_pilot::engine::lock::CLASS,
                &upgrade_pilot::engine::lock::key(DB),
            ],
        )
        .await
        .unwrap();
        c
    });
    let o = env.run(&["freeze", "--db", DB, "--yes"]);
    assert_refused(&o, &format!("upgrade-pilot pid {}", std::process::id()));
    assert!(env.one::<bool>(
        "postgres",
        &format!("SELECT datallowconn FROM pg_database WHERE datname = '{DB}'")
    ));
}

/// A lock held where no session shows it (a prepared transaction that took it)
/// is waited for a bounded time, then refused naming where to look; the run
/// never spins on it.
#[test]
fn a_lock_no_session_shows_is_refused_after_a_bounded_wait() {
    let env = Env::with(upgrade_pilot::pg::cluster::ClusterOptions {
        settings: vec!["max_prepared_transactions = 2".into()],
        ..Default::default()
    });
    env.demo_db(DB);
    env.exec(
        "postgres",
        &format!(
            "BEGIN; SELECT pg_advisory_xact_lock({}, {}); PREPARE TRANSACTION 'held'",
            upgrade_pilot::engine::lock::CLASS,
            upgrade_pilot::engine::lock::key(DB)
        ),
    );
    let mut child = spawn_job(
        &env,
        &["freeze".into(), "--db".into(), DB.into(), "--yes".into()],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("freeze never gave up on a lock no session shows");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert_refused(&out, "prepared transaction");
    env.exec("postgres", "ROLLBACK PREPARED 'held'");
}

//! End to end through a real terminal: `upgrade-pilot demo` in a pty, keys
//! typed, the screen read through a terminal emulator (vt100).

use std::io::Write;
use std::time::Duration;

mod common;
use common::pty::{spawn, wait_exit};

#[test]
fn demo_runs_a_test_upgrade_from_the_keyboard() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, mut keys, screen, _pty) = spawn(
        &["demo"],
        &[("HOME", home.path().to_str().unwrap())],
        home.path(),
    );
    let first = screen.wait_for("Enter start the test upgrade", 60);
    assert!(first.contains("demo_manufacturing"), "{first}");
    assert!(first.contains("2 custom module(s)"), "{first}");
    let server_dir = first
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/upgrade-pilot-pg-") || w.contains("upgrade-pilot-pg-"))
        .map(|w| w.split("/.s.").next().unwrap().to_string())
        .expect("the server's socket shows in the databases pane");
    assert!(std::path::Path::new(&server_dir).is_dir(), "{server_dir}");

    keys.write_all(b"?").unwrap();
    screen.wait_for("Keys (Esc closes)", 10);
    keys.write_all(b"\x1b").unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let Esc stand alone, not as Alt+key
    keys.write_all(b"\r").unwrap();
    let ready = screen.wait_for("Test database ready", 120);
    assert!(ready.contains("demo_manufacturing_test_17.0_"), "{ready}");
    assert!(ready.contains("no link to production"), "{ready}");

    // The stepper names every step at 110 columns and marks where we are.
    let top = ready.lines().next().unwrap_or_default().to_string();
    for name in [
        "✓1 Request",
        "✓2 Wait",
        "▶3 Test db",
        "4 Checklist",
        "5 Anomalies",
        "6 Retest",
        "7 Freeze",
        "·8 Production",
        "·9 Restore",
    ] {
        assert!(top.contains(name), "stepper lacks {name:?}: {top}");
    }
    // A digit jumps to a step the campaign allows, and says why not otherwise.
    keys.write_all(b"8").unwrap();
    screen.wait_for("step 8 (Production): no production job yet", 10);
    keys.write_all(b"4").unwrap();
    let text = screen.wait_for("Checklist: test", 10);
    assert!(text.contains("▶4 Checklist"), "{text}");
    // On top, the test job's own comparison with production, marked by the tool.
    assert!(
        text.contains("Automatic checks  by upgrade-pilot: "),
        "{text}"
    );
    assert!(text.contains("records per business model: "), "{text}");
    keys.write_all(b"7").unwrap();
    screen.wait_for("Freeze and upgrade production", 10);
    // Esc goes back where we came from: the checklist, then the test database.
    keys.write_all(b"\x1b").unwrap();
    screen.wait_for("Checklist: test", 10);
    std::thread::sleep(Duration::from_millis(100)); // let Esc stand alone, not as Alt+key
    keys.write_all(b"\x1b").unwrap();
    screen.wait_for("Test database ready", 10);

    keys.write_all(b"q").unwrap();
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&server_dir).exists(),
        "the demo server's directory {server_dir} is removed on exit"
    );
}

/// Against a server of the harness: test upgrade, fail an item, file an
/// anomaly, quit; a new process opens on the checklist with all of it kept.
#[test]
fn checklist_and_anomaly_survive_a_restart() {
    use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};
    let cluster = Cluster::start(ClusterOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(upgrade_pilot::demo::load_seed(&cluster.conn_info(), "shop"))
        .unwrap();
    let plan = upgrade_pilot::demo::write_plan(&dir.path().join("plans"), None).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[plans]\n\"17.0\" = \"{}\"\n", plan.display()),
    )
    .unwrap();
    let dsn = format!(
        "host={} port={} user=postgres",
        cluster.socket_dir().display(),
        cluster.port
    );
    let state = dir.path().join("state");
    let env = [
        ("HOME", dir.path().to_str().unwrap()),
        ("UPGRADE_PILOT_STATE_DIR", state.to_str().unwrap()),
    ];
    let args = ["--dsn", dsn.as_str(), "--config", config.to_str().unwrap()];

    let (mut child, mut keys, screen, _pty) = spawn(&args, &env, dir.path());
    screen.wait_for("Enter start the test upgrade", 60);
    keys.write_all(b"\r").unwrap();
    screen.wait_for("Test database ready", 120);
    keys.write_all(b"c").unwrap();
    screen.wait_for("Checklist: test", 10);
    // The automatic checks come first: move down to the first item to test by hand.
    for _ in 0..40 {
        if screen.text().contains("How to test it") {
            break;
        }
        let before = screen.text();
        keys.write_all(b"j").unwrap();
        screen.wait_change(&before, 10);
    }
    screen.wait_for("How to test it", 1);
    keys.write_all(b" j").unwrap(); // pass the first item, move to the second
    screen.wait_for("✓ 1 passed", 10);
    keys.write_all(b"f").unwrap();
    screen.wait_for("New anomaly", 10);
    keys.write_all(b"logo missing\x13").unwrap(); // Ctrl-S saves
    screen.wait_for("anomaly saved", 10);
    keys.write_all(b"q").unwrap();
    assert!(wait_exit(&mut child).success());

    let (mut child, mut keys, screen, _pty) = spawn(&args, &env, dir.path());
    let text = screen.wait_for("Checklist: test", 60);
    assert!(
        text.contains("✓ 1 passed") && text.contains("✗ 1 failed"),
        "the checklist opened as it was left:\n{text}"
    );
    // The test database of the earlier session is one digit away.
    keys.write_all(b"3").unwrap();
    let text = screen.wait_for("Test database ready", 10);
    assert!(text.contains("shop_test_17.0_"), "{text}");
    keys.write_all(b"a").unwrap();
    let text = screen.wait_for("Anomalies: 1 open of 1", 10);
    assert!(text.contains("logo missing"), "{text}");
    keys.write_all(b"q").unwrap();
    assert!(wait_exit(&mut child).success());
}

/// A job started headless (as over SSH) is followed by a TUI opened later, and
/// an interrupted one is offered for resume.
#[test]
fn tui_attaches_to_a_headless_job_and_offers_resume() {
    let env = common::Env::new();
    env.demo_db("shop");
    let (plan, flag) = common::waiting_plan(&env);
    let config = env.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[plans]\n\"17.0\" = \"{}\"\n", plan.display()),
    )
    .unwrap();
    let args: Vec<String> = [
        "test",
        "--db",
        "shop",
        "--target",
        "17.0",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let headless = common::spawn_job(&env, &args);
    common::wait_for_step(&env, 3);

    let dsn = env.dsn();
    let state = env.state_dir();
    let home = env.dir.path().to_str().unwrap().to_string();
    let tui_env = [
        ("HOME", home.as_str()),
        ("UPGRADE_PILOT_STATE_DIR", state.to_str().unwrap()),
    ];
    let data_dir = env.data_dir();
    let tui_args = [
        "--dsn",
        dsn.as_str(),
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    let (mut child, mut keys, screen, _pty) = spawn(&tui_args, &tui_env, env.dir.path());
    let text = screen.wait_for("followed from another process", 60);
    assert!(text.contains("▶ plan"), "{text}");
    std::fs::write(&flag, "").unwrap();
    screen.wait_for("Test database ready", 60);
    assert!(headless.wait_with_output().unwrap().status.success());
    keys.write_all(b"q").unwrap();
    assert!(wait_exit(&mut child).success());

    // Interrupted by kill -9: the TUI offers to resume it, and Enter does.
    let o = env.run_env(
        &[
            "test",
            "--db",
            "shop",
            "--target",
            "17.0",
            "--config",
            config.to_str().unwrap(),
            "--json",
            "--test-db",
            "shop_second",
        ],
        &[("UPGRADE_PILOT_CRASH_AT", "after:clone")],
    );
    assert!(!o.status.success());
    let (mut child, mut keys, screen, _pty) = spawn(&tui_args, &tui_env, env.dir.path());
    screen.wait_for("an interrupted test job to 17.0 exists (shop_second)", 60);
    keys.write_all(b"\r").unwrap();
    let text = screen.wait_for("Test database ready", 60);
    assert!(text.contains("shop_second"), "{text}");
    keys.write_all(b"q").unwrap();
    assert!(wait_exit(&mut child).success());
}

/// An SSH drop under the TUI: the terminal goes away mid-job, the job finishes
/// and is recorded.
#[test]
fn tui_job_survives_a_hangup() {
    let env = common::Env::new();
    env.demo_db("shop");
    let (plan, flag) = common::waiting_plan(&env);
    let config = env.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[plans]\n\"17.0\" = \"{}\"\n", plan.display()),
    )
    .unwrap();
    let dsn = env.dsn();
    let state = env.state_dir();
    let home = env.dir.path().to_str().unwrap().to_string();
    let tui_env = [
        ("HOME", home.as_str()),
        ("UPGRADE_PILOT_STATE_DIR", state.to_str().unwrap()),
    ];
    let tui_args = ["--dsn", dsn.as_str(), "--config", config.to_str().unwrap()];
    let (mut child, mut keys, screen, pty) = spawn(&tui_args, &tui_env, env.dir.path());
    screen.wait_for("Enter start the test upgrade", 60);
    keys.write_all(b"\r").unwrap();
    common::wait_for_step(&env, 3);
    // What the kernel sends the session when the SSH link drops.
    let pid = child.process_id().expect("pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    drop(keys);
    drop(pty);
    std::fs::write(&flag, "").unwrap();
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        common::job_files(&env)[0]["status"],
        "ready",
        "the job finished without its terminal"
    );
}

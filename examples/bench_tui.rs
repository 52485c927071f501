//! The TUI as a user meets it, the real binary in a pty read through vt100:
//!
//!   cargo run --release --example bench_tui
//!
//! - time from "demo ready" (server up, seed loaded) to the first frame that
//!   shows the databases;
//! - key-to-frame latency (`?` until the help shows, Esc until it goes) while a
//!   job streams a million log lines as fast as it can print them.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};

struct Term {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    keys: Box<dyn Write + Send>,
    _child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Term {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(
        std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("upgrade-pilot"),
    );
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let keys = pair.master.take_writer().unwrap();
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZero::new(40).unwrap(),
        std::num::NonZero::new(120).unwrap(),
        0,
    )));
    let raw = Arc::new(Mutex::new(Vec::new()));
    let (p, r) = (parser.clone(), raw.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            p.lock().unwrap().process(&buf[..n]);
            r.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    Term {
        parser,
        raw,
        keys,
        _child: child,
        _master: pair.master,
    }
}

impl Term {
    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }
    fn wait(&self, f: impl Fn(&str) -> bool, secs: u64) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if f(&self.screen()) {
                return Instant::now();
            }
            assert!(
                Instant::now() < deadline,
                "timed out; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

fn main() {
    // 1. First frame of the demo.
    let home = tempfile::tempdir().unwrap();
    let mut demo = start(&["demo"], &[("HOME", home.path().to_str().unwrap())]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let ready = loop {
        if String::from_utf8_lossy(&demo.raw.lock().unwrap()).contains("demo ready") {
            break Instant::now();
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_micros(200));
    };
    let first = demo.wait(|s| s.contains("Databases on"), 30);
    let data = demo.wait(|s| s.contains("26 modules installed"), 30);
    println!(
        "demo: first frame {:.1} ms after the server was ready; inspected database shown after {:.1} ms",
        (first - ready).as_secs_f64() * 1e3,
        (data - ready).as_secs_f64() * 1e3
    );
    demo.keys.write_all(b"q").unwrap();

    // 2. Key-to-frame latency while a job streams a million lines.
    let cluster = Cluster::start(ClusterOptions::default()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(upgrade_pilot::demo::load_seed(&cluster.conn_info(), "shop"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sql")).unwrap();
    std::fs::write(dir.path().join("sql/090.sql"), "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';").unwrap();
    std::fs::write(dir.path().join("plan.toml"), "name = \"chatty\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"chatty\"\ncommand = [\"seq\", \"1\", \"1000000\"]\n[[hop.step]]\nname = \"v\"\nsql = \"sql\"\n").unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[plans]\n\"17.0\" = \"{}\"\n",
            dir.path().join("plan.toml").display()
        ),
    )
    .unwrap();
    let dsn = format!(
        "host={} port={} user=postgres",
        cluster.socket_dir().display(),
        cluster.port
    );
    let state = dir.path().join("state");
    let mut tui = start(
        &[
            "--dsn",
            &dsn,
            "--config",
            dir.path().join("config.toml").to_str().unwrap(),
        ],
        &[
            ("HOME", dir.path().to_str().unwrap()),
            ("UPGRADE_PILOT_STATE_DIR", state.to_str().unwrap()),
        ],
    );
    tui.wait(|s| s.contains("Enter start the test upgrade"), 60);
    tui.keys.write_all(b"\r").unwrap();
    tui.wait(|s| s.contains("▶ plan"), 60);
    let mut lat = Vec::new();
    for _ in 0..20 {
        if tui.screen().contains("Test database ready") {
            break;
        }
        let t0 = Instant::now();
        tui.keys.write_all(b"?").unwrap();
        lat.push((tui.wait(|s| s.contains("Keys (Esc closes)"), 10) - t0).as_secs_f64() * 1e3);
        let t0 = Instant::now();
        tui.keys.write_all(b"\x1b").unwrap();
        lat.push((tui.wait(|s| !s.contains("Keys (Esc closes)"), 10) - t0).as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(30));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    if lat.is_empty() {
        println!("the job ended before a key could be measured");
    } else {
        println!(
            "key to frame while streaming ({} samples): median {:.1} ms, max {:.1} ms",
            lat.len(),
            lat[lat.len() / 2],
            lat[lat.len() - 1]
        );
    }
    tui.wait(|s| s.contains("Test database ready"), 300);
    tui.keys.write_all(b"q").unwrap();
    std::thread::sleep(Duration::from_millis(300));
}

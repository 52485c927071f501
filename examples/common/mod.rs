//! What the benchmarks share: a server run like a production one, medians,
//! shell commands with the server's client tools, and `sync` between timed runs.
#![allow(dead_code)]

use std::process::Command;
use std::time::Instant;

use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};
use upgrade_pilot::pg::conn::ConnInfo;
use upgrade_pilot::pg::tools::client_tool;

/// The benchmark servers are PostgreSQL 15 (Debian's, as on CI).
pub const MAJOR: u32 = 15;

/// A server as in production: durable writes, so each side pays for its own I/O.
pub fn durable_cluster() -> color_eyre::Result<Cluster> {
    Cluster::start(ClusterOptions {
        settings: vec![
            "fsync = on".into(),
            "synchronous_commit = on".into(),
            "full_page_writes = on".into(),
        ],
        ..Default::default()
    })
}

/// Writes back the dirty pages of the previous run first: otherwise whichever
/// side runs second pays for the other's writeback (measured: ±10–25 %).
pub fn settle() {
    let _ = Command::new("sync").status();
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 0 {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

pub fn psql(conn: &ConnInfo, db: &str, sql: &str) {
    let o = Command::new(client_tool("psql", MAJOR).unwrap())
        .envs(conn.child_env())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs `cmd` in sh with the server's client tools first on PATH; seconds.
pub fn sh(conn: &ConnInfo, cmd: &str) -> f64 {
    let bin = client_tool("pg_dump", MAJOR).unwrap();
    let dir = bin.parent().unwrap().display().to_string();
    settle();
    let t0 = Instant::now();
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(conn.child_env())
        .env(
            "PATH",
            format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t0.elapsed().as_secs_f64()
}

/// Seconds of `f`, after a `sync`.
pub fn timed<T>(f: impl FnOnce() -> T) -> f64 {
    settle();
    let t0 = Instant::now();
    f();
    t0.elapsed().as_secs_f64()
}

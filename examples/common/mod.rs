//! What the benchmarks share: a server run like a production one, the bulk that
//! makes a database a given size, medians, and `sync` between timed runs.
#![allow(dead_code)]

use std::process::Command;

use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};
use upgrade_pilot::pg::conn::ConnInfo;
use upgrade_pilot::pg::tools::client_tool;

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
    v[v.len() / 2]
}

pub fn psql(conn: &ConnInfo, db: &str, sql: &str) {
    let o = Command::new(client_tool("psql", 15).unwrap())
        .envs(conn.child_env())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Odoo-shaped bulk (chatter messages with bodies) of about `size_mb`; returns the row count.
pub fn add_bulk(conn: &ConnInfo, db: &str, size_mb: u64) -> u64 {
    let rows = size_mb * 1024 * 1024 / 1100;
    psql(
        conn,
        db,
        "CREATE TABLE mail_message (id serial PRIMARY KEY, model varchar, res_id int, body text, date timestamp)",
    );
    psql(
        conn,
        db,
        &format!(
            "INSERT INTO mail_message (model, res_id, body, date) SELECT 'res.partner', g % 1500, repeat(md5(g::text), 32), now() FROM generate_series(1, {rows}) g"
        ),
    );
    psql(conn, db, "VACUUM ANALYZE mail_message");
    psql(conn, db, "CHECKPOINT");
    rows
}

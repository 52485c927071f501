//! The production path against the bare PostgreSQL operations, same run,
//! alternating A/B:
//!
//!   cargo run --release --example bench_production -- [SIZE_MB] [ROUNDS]
//!
//! - freeze (ALLOW_CONNECTIONS false + ending 20 sessions) vs the bare SQL;
//! - backup (pg_dump -Fc -Z1 + pg_restore --list) vs bare pg_dump -Fc -Z1;
//! - swap (restore, then rollback) vs two renames in one transaction;
//! - the production job's own step times.

mod common;
use common::{add_bulk, durable_cluster, median, psql, settle};

use std::process::Command;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::config::Config;
use upgrade_pilot::demo;
use upgrade_pilot::engine::production::ProductionRequest;
use upgrade_pilot::engine::{Engine, backup};
use upgrade_pilot::pg::tools::client_tool;

fn main() -> color_eyre::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size_mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let rt = tokio::runtime::Runtime::new()?;
    let cluster = durable_cluster()?;
    let conn = cluster.conn_info();
    let work = tempfile::tempdir()?;
    let db = "prod";
    rt.block_on(demo::load_seed(&conn, db))?;
    add_bulk(&conn, db, size_mb);
    let plan_dir = work.path().join("plan");
    std::fs::create_dir_all(plan_dir.join("sql"))?;
    std::fs::write(
        plan_dir.join("sql/090.sql"),
        "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';",
    )?;
    std::fs::write(
        plan_dir.join("plan.toml"),
        "name = \"bump\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )?;
    let data_dir = work.path().join("odoo");
    demo::write_filestore(&data_dir, db, 2000)?;
    let engine = Engine {
        conn: conn.clone(),
        config: Config::default(),
        state_dir: work.path().join("state"),
        data_dir: Some(data_dir),
    };
    println!(
        "database: {size_mb} MB of rows + demo seed, filestore 2000 files; {rounds} rounds; PostgreSQL 15, fsync on"
    );

    // Freeze with 20 sessions connected, against the bare SQL.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let hold: Vec<_> = (0..20)
            .map(|_| rt.block_on(conn.connect(db)).unwrap())
            .collect();
        settle();
        let t0 = Instant::now();
        rt.block_on(engine.freeze(db))?;
        a.push(t0.elapsed().as_secs_f64());
        drop(hold);
        rt.block_on(engine.unfreeze(db))?;
        let hold: Vec<_> = (0..20)
            .map(|_| rt.block_on(conn.connect(db)).unwrap())
            .collect();
        settle();
        let t0 = Instant::now();
        psql(
            &conn,
            "postgres",
            &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"),
        );
        psql(
            &conn,
            "postgres",
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
            ),
        );
        b.push(t0.elapsed().as_secs_f64());
        drop(hold);
        psql(
            &conn,
            "postgres",
            &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
        );
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "freeze (20 sessions)   tool {ma:7.3}s   bare ALTER+terminate {mb:7.3}s   ratio {:.2}",
        ma / mb
    );

    // Backup of the database, against bare pg_dump with the same format.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let never = CancellationToken::new();
    for i in 0..rounds {
        settle();
        let t0 = Instant::now();
        rt.block_on(backup::backup(
            &conn,
            15,
            db,
            &work.path().join(format!("tool{i}")),
            None,
            &never,
        ))?;
        a.push(t0.elapsed().as_secs_f64());
        settle();
        let t0 = Instant::now();
        let o = Command::new(client_tool("pg_dump", 15).unwrap())
            .envs(conn.child_env())
            .args(["-Fc", "-Z1", "-f"])
            .arg(work.path().join(format!("bare{i}.dump")))
            .args(["-d", db])
            .output()?;
        assert!(o.status.success());
        b.push(t0.elapsed().as_secs_f64());
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "backup -Fc -Z1         tool {ma:7.3}s   bare pg_dump         {mb:7.3}s   ratio {:.2}  (tool also checks it with pg_restore --list)",
        ma / mb
    );

    // The production job, step by step.
    rt.block_on(engine.freeze(db))?;
    let req = ProductionRequest {
        db: db.into(),
        target: "17.0".into(),
        plan: Some(plan_dir.join("plan.toml")),
        import: None,
        discard: false,
    };
    settle();
    let t0 = Instant::now();
    let rec = rt.block_on(async {
        let p = engine.prepare_production(&req).await.unwrap();
        let h = engine.start_production(p);
        h.join.await.unwrap().unwrap()
    });
    let total = t0.elapsed().as_secs_f64();
    let steps: Vec<String> = rec
        .steps
        .iter()
        .map(|s| format!("{} {:.3}s", s.name, s.seconds.unwrap_or(0.0)))
        .collect();
    println!("production job         {total:7.3}s: {}", steps.join(", "));

    // Swaps: restore then rollback, against two renames in one transaction.
    settle();
    let t0 = Instant::now();
    rt.block_on(engine.restore(db))?;
    let restore = t0.elapsed().as_secs_f64();
    settle();
    let t0 = Instant::now();
    rt.block_on(engine.rollback(db, false))?;
    let rollback = t0.elapsed().as_secs_f64();
    psql(&conn, "postgres", "CREATE DATABASE swap_a");
    psql(&conn, "postgres", "CREATE DATABASE swap_b");
    let mut b = Vec::new();
    for _ in 0..rounds {
        settle();
        let t0 = Instant::now();
        psql(
            &conn,
            "postgres",
            "BEGIN; ALTER DATABASE swap_a RENAME TO swap_c; ALTER DATABASE swap_b RENAME TO swap_a; ALTER DATABASE swap_c RENAME TO swap_b; COMMIT;",
        );
        b.push(t0.elapsed().as_secs_f64());
    }
    let mb = median(b);
    println!(
        "restore (swap+reopen+checks) {restore:7.3}s, rollback {rollback:7.3}s; bare renames in one transaction {mb:7.3}s"
    );
    Ok(())
}

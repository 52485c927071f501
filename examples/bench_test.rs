//! Benchmark of `upgrade-pilot test` against the bare PostgreSQL operations it
//! wraps, in the same run, alternating A/B (ratios hold on a noisy machine,
//! absolute times do not).
//!
//!   cargo run --release --example bench_test -- [SIZE_MB] [ROUNDS]
//!
//! Idle source: test (template clone + neutralize + 1-file plan + neutralize +
//! verify) vs `CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY` + the same
//! neutralization and plan SQL through psql.
//! Live source (a session connected): test (snapshot copy) vs bare
//! `pg_dump -Fc -Z0 | pg_restore` + the same SQL through psql.

mod common;
use common::{add_bulk, durable_cluster, median, psql, settle};

use std::process::{Command, Stdio};
use std::time::Instant;

use upgrade_pilot::config::Config;
use upgrade_pilot::demo;
use upgrade_pilot::engine::Engine;
use upgrade_pilot::engine::clone::CloneChoice;
use upgrade_pilot::engine::test_job::TestRequest;
use upgrade_pilot::pg::conn::ConnInfo;
use upgrade_pilot::pg::tools::client_tool;

/// The neutralization of the demo schema, written out as a DBA would by hand.
const BARE_NEUTRALIZE: &str = "BEGIN;
UPDATE ir_mail_server SET active = false WHERE active;
INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication, active) VALUES ('neutralization - disable emails', 'invalid', 1025, 'none', 'login', true);
UPDATE mail_template SET mail_server_id = NULL WHERE mail_server_id IS NOT NULL;
UPDATE fetchmail_server SET active = false WHERE active;
UPDATE ir_cron SET active = false WHERE active AND id NOT IN (SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job');
INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true') ON CONFLICT (key) DO UPDATE SET value = 'true';
UPDATE ir_config_parameter SET value = gen_random_uuid()::text WHERE key IN ('database.uuid', 'database.secret');
UPDATE ir_config_parameter SET value = 'http://localhost:8069' WHERE key = 'web.base.url';
UPDATE ir_config_parameter SET value = 'localhost' WHERE key = 'mail.catchall.domain';
UPDATE ir_ui_view SET active = true WHERE key IN ('web.neutralize_banner', 'website.neutralize_ribbon');
UPDATE website SET domain = NULL, cdn_activated = false, robots_txt = E'User-agent: *\\nDisallow: /';
UPDATE payment_provider SET stripe_secret_key = NULL, stripe_webhook_secret = NULL WHERE state <> 'test';
UPDATE payment_provider SET state = 'disabled' WHERE state NOT IN ('test', 'disabled');
UPDATE delivery_carrier SET prod_environment = false;
UPDATE delivery_carrier SET active = false WHERE delivery_type NOT IN ('fixed', 'base_on_rule');
UPDATE iap_account SET account_token = account_token || '+disabled' WHERE account_token NOT LIKE '%+disabled';
UPDATE auth_oauth_provider SET enabled = false;
UPDATE google_calendar_credentials SET calendar_rtoken = NULL, calendar_token = NULL, calendar_sync_token = NULL, synchronization_stopped = true;
COMMIT;
";
const BUMP: &str = "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';";

fn bare_dump_restore(conn: &ConnInfo, src: &str, dst: &str) {
    psql(
        conn,
        "postgres",
        &format!("CREATE DATABASE \"{dst}\" TEMPLATE template0"),
    );
    let mut dump = Command::new(client_tool("pg_dump", 15).unwrap())
        .envs(conn.child_env())
        .args(["-Fc", "-Z0", "-d", src])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let restore = Command::new(client_tool("pg_restore", 15).unwrap())
        .envs(conn.child_env())
        .args(["--exit-on-error", "-d", dst])
        .stdin(dump.stdout.take().unwrap())
        .status()
        .unwrap();
    assert!(dump.wait().unwrap().success() && restore.success());
}

fn main() -> color_eyre::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size_mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let rt = tokio::runtime::Runtime::new()?;
    let cluster = durable_cluster()?;
    let conn = cluster.conn_info();
    let work = tempfile::tempdir()?;
    let src = "bench_src";
    rt.block_on(demo::load_seed(&conn, src))?;
    // Odoo-shaped bulk: mail messages with bodies, about size_mb.
    let rows = add_bulk(&conn, src, size_mb);
    let size: i64 = rt
        .block_on(async {
            conn.connect("postgres")
                .await?
                .query_one("SELECT pg_database_size('bench_src')", &[])
                .await
                .map_err(color_eyre::Report::from)
        })?
        .get(0);
    let plan_dir = work.path().join("plan");
    std::fs::create_dir_all(plan_dir.join("sql"))?;
    std::fs::write(plan_dir.join("sql/090_versions.sql"), BUMP)?;
    std::fs::write(
        plan_dir.join("plan.toml"),
        "name = \"bump\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )?;
    let engine = Engine {
        conn: conn.clone(),
        config: Config::default(),
        state_dir: work.path().join("state"),
        data_dir: None,
    };

    let run_tool = |name: &str, clone: CloneChoice| -> f64 {
        let req = TestRequest {
            db: src.into(),
            target: "17.0".into(),
            plan: Some(plan_dir.join("plan.toml")),
            test_db: Some(name.into()),
            clone,
            discard: false,
        };
        settle();
        let t0 = Instant::now();
        rt.block_on(async {
            let p = engine.prepare_test(&req).await.unwrap();
            let h = engine.start_test(p);
            let upgrade_pilot::engine::JobHandle { join, events, .. } = h;
            drop(events);
            let rec = join.await.unwrap().unwrap();
            if std::env::var_os("BENCH_STEPS").is_some() {
                let steps: Vec<String> = rec
                    .steps
                    .iter()
                    .map(|s| format!("{} {:.3}", s.name, s.seconds.unwrap_or(0.0)))
                    .collect();
                eprintln!("  tool steps: {}", steps.join(", "));
            }
        });
        settle();
        t0.elapsed().as_secs_f64()
    };
    let drop_db = |name: &str| {
        psql(
            &conn,
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\""),
        )
    };

    println!(
        "source: {} MB (demo seed + {rows} mail_message rows), {rounds} rounds, PostgreSQL 15, fsync on",
        size / 1024 / 1024
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        settle();
        let t0 = Instant::now();
        psql(
            &conn,
            "postgres",
            &format!("CREATE DATABASE bare_{i} TEMPLATE {src} STRATEGY FILE_COPY"),
        );
        psql(&conn, &format!("bare_{i}"), BARE_NEUTRALIZE);
        psql(&conn, &format!("bare_{i}"), BUMP);
        psql(&conn, &format!("bare_{i}"), BARE_NEUTRALIZE);
        settle(); // the copy on disk, as the tool's fsynced job file forces it to be
        b.push(t0.elapsed().as_secs_f64());
        a.push(run_tool(&format!("tool_{i}"), CloneChoice::Auto));
        drop_db(&format!("bare_{i}"));
        drop_db(&format!("tool_{i}"));
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "idle source  test (template)   {ma:7.3}s  bare TEMPLATE+SQL  {mb:7.3}s  ratio {:.2}",
        ma / mb
    );

    // A live source: a session stays connected, as Odoo's pool does.
    let hold = rt.block_on(conn.connect(src))?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        settle();
        let t0 = Instant::now();
        bare_dump_restore(&conn, src, &format!("bare_{i}"));
        psql(&conn, &format!("bare_{i}"), BARE_NEUTRALIZE);
        psql(&conn, &format!("bare_{i}"), BUMP);
        psql(&conn, &format!("bare_{i}"), BARE_NEUTRALIZE);
        settle(); // the copy on disk, as the tool's fsynced job file forces it to be
        b.push(t0.elapsed().as_secs_f64());
        a.push(run_tool(&format!("tool_{i}"), CloneChoice::Auto));
        drop_db(&format!("bare_{i}"));
        drop_db(&format!("tool_{i}"));
    }
    drop(hold);
    let (ma, mb) = (median(a), median(b));
    println!(
        "live source  test (snapshot)   {ma:7.3}s  bare dump|restore  {mb:7.3}s  ratio {:.2}",
        ma / mb
    );
    Ok(())
}

//! Copies: the whole test copy, the template clone against a raw copy of the
//! files, and the snapshot copy of a live database against the bare pipe and
//! the other ways to make one.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::engine::JobHandle;
use upgrade_pilot::engine::clone::{self, CloneChoice};
use upgrade_pilot::engine::emit::Emitter;
use upgrade_pilot::engine::test_job::TestRequest;
use upgrade_pilot::odoo::filestore;

use crate::common::{MAJOR, psql, settle, sh, timed};
use crate::{Ctx, Goal};

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
/// The whole plan: the module versions of the target, so verify passes.
const BUMP: &str = "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';";

/// Jobs for the snapshot copy: the default of `[clone] jobs`.
const JOBS: u32 = 2;

/// What our snapshot copy does, by hand: a parallel directory dump without
/// fsyncs (a scratch file), then a parallel restore.
const BARE_DIR: &str = "createdb -T template0 @DST@ && pg_dump -Fd -Z0 --no-sync -j2 -f @TMP@/dir@DST@ -d @SRC@ && pg_restore -j2 --exit-on-error -d @DST@ @TMP@/dir@DST@ && rm -rf @TMP@/dir@DST@";

/// Our snapshot copy without scratch room, by hand: the indexes and
/// constraints dumped apart, schema and data through the pipe, then the
/// indexes two at a time.
const BARE_SPLIT: &str = "createdb -T template0 @DST@ && pg_dump -Fc --section=post-data -f @TMP@/post@DST@ -d @SRC@ && pg_dump -Fc -Z0 --section=pre-data --section=data -d @SRC@ | pg_restore --exit-on-error -d @DST@ && pg_restore -j2 --exit-on-error -d @DST@ @TMP@/post@DST@ && rm -f @TMP@/post@DST@";

/// The plain pipe: schema, data and indexes in one stream.
const BARE_PIPE: &str =
    "createdb -T template0 @DST@ && pg_dump -Fc -Z0 -d @SRC@ | pg_restore --exit-on-error -d @DST@";

fn quoted(p: &std::path::Path) -> String {
    format!("'{}'", p.display())
}

/// `upgrade-pilot test` (empty upgrade but the version bump) against the same
/// copy, neutralization and plan SQL by hand, idle and live.
pub fn test_copy(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let plan_dir = ctx.work.path().join("plan");
    std::fs::create_dir_all(plan_dir.join("sql"))?;
    std::fs::write(plan_dir.join("sql/090_versions.sql"), BUMP)?;
    std::fs::write(
        plan_dir.join("plan.toml"),
        "name = \"bump\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )?;
    let plan = plan_dir.join("plan.toml");
    let tool = |ctx: &Ctx, name: String| -> f64 {
        let engine = ctx.engine(true);
        let req = TestRequest {
            db: ctx.src.clone(),
            target: "17.0".into(),
            plan: Some(plan.clone()),
            test_db: Some(name.clone()),
            clone: CloneChoice::Auto,
            discard: false,
            engine: Default::default(),
            dry_run: false,
        };
        settle();
        let t0 = Instant::now();
        let rec = ctx.rt.block_on(async {
            let p = engine.prepare_test(&req).await.expect("prepare test");
            let JobHandle { join, events, .. } = engine.start_test(p);
            drop(events);
            join.await.expect("job task").expect("test job")
        });
        settle(); // both sides end with their copy on disk
        let t = t0.elapsed().as_secs_f64();
        if ctx.steps {
            let steps: Vec<String> = rec
                .steps
                .iter()
                .map(|s| format!("{} {:.3}", s.name, s.seconds.unwrap_or(0.0)))
                .collect();
            println!("  tool steps: {}", steps.join(", "));
        }
        ctx.drop_db(&name);
        let _ = filestore::remove(&ctx.data_dir, &name);
        t
    };
    let bare = |ctx: &Ctx, name: String, copy: &str| -> f64 {
        let fs_from = filestore::path(&ctx.data_dir, &ctx.src);
        let fs_to = filestore::path(&ctx.data_dir, &name);
        let t = sh(
            &ctx.conn,
            &format!("{copy} && cp -al {} {}", quoted(&fs_from), quoted(&fs_to))
                .replace("@DST@", &name)
                .replace("@SRC@", &ctx.src)
                .replace("@TMP@", &ctx.work.path().display().to_string()),
        );
        // The SQL runs in the same timed region, through psql.
        let t0 = Instant::now();
        psql(&ctx.conn, &name, BARE_NEUTRALIZE);
        psql(&ctx.conn, &name, BUMP);
        psql(&ctx.conn, &name, BARE_NEUTRALIZE);
        settle();
        let t = t + t0.elapsed().as_secs_f64();
        ctx.drop_db(&name);
        let _ = std::fs::remove_dir_all(&fs_to);
        t
    };
    ctx.ab_cheap(
        "test copy, idle source (template clone + neutralize + plan + verify + filestore links)",
        "CREATE DATABASE … TEMPLATE … FILE_COPY + the SQL in psql + cp -al",
        Goal::Ratio(1.2),
        |c, i| tool(c, format!("tool_{i}")),
        |c, i| {
            bare(
                c,
                format!("bare_{i}"),
                "psql -X -q -d postgres -c 'CREATE DATABASE @DST@ TEMPLATE @SRC@ STRATEGY FILE_COPY'",
            )
        },
    );
    // A live source: a session stays connected, as Odoo's pool does.
    let hold = ctx.rt.block_on(ctx.conn.connect(&ctx.src))?;
    ctx.ab(
        "test copy, live source (parallel snapshot copy + the same)",
        "the same snapshot copy by hand + the SQL in psql + cp -al",
        Goal::Ratio(1.2),
        |c, i| tool(c, format!("tool_{i}")),
        |c, i| bare(c, format!("bare_{i}"), BARE_DIR),
    );
    drop(hold);
    Ok(())
}

fn oid(ctx: &Ctx, db: &str) -> color_eyre::Result<u32> {
    Ok(ctx
        .rt
        .block_on(async {
            ctx.conn
                .connect("postgres")
                .await?
                .query_one("SELECT oid FROM pg_database WHERE datname = $1", &[&db])
                .await
                .map_err(color_eyre::Report::from)
        })?
        .get(0))
}

/// The template clone (the server's FILE_COPY, what the tool runs when nobody
/// is connected) against `cp -r` + `sync` of the database's directory.
pub fn clone_vs_raw(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let base = ctx
        .cluster
        .data_dir()
        .join("base")
        .join(oid(ctx, &ctx.src)?.to_string());
    let maint = ctx.rt.block_on(ctx.conn.connect("postgres"))?;
    let never = CancellationToken::new();
    let tool = |ctx: &Ctx, i: usize| {
        let name = format!("clone_{i}");
        let t = timed(|| {
            ctx.rt
                .block_on(clone::template_copy(&maint, &ctx.src, &name, MAJOR, &never))
                .expect("template copy")
        });
        ctx.drop_db(&name);
        t
    };
    ctx.ab_cheap(
        "clone (template FILE_COPY, checkpoints and fsyncs included)",
        "cp -r of its files + sync",
        Goal::Ratio(1.3),
        tool,
        |ctx, i| {
            let dest = ctx.work.path().join(format!("raw_{i}"));
            let t = sh(
                &ctx.conn,
                &format!("cp -r {} {} && sync", quoted(&base), quoted(&dest)),
            );
            let _ = std::fs::remove_dir_all(&dest);
            t
        },
    );
    ctx.ab_cheap(
        "clone (the tool's template copy)",
        "the same CREATE DATABASE in psql",
        Goal::Ratio(1.1),
        tool,
        |ctx, i| {
            let name = format!("bare_{i}");
            let t = sh(
                &ctx.conn,
                &format!(
                    "psql -X -q -d postgres -c 'CREATE DATABASE {name} TEMPLATE {} STRATEGY FILE_COPY'",
                    ctx.src
                ),
            );
            ctx.drop_db(&name);
            t
        },
    );
    Ok(())
}

/// A live database: our snapshot copy against the bare pipe with its options,
/// then the other ways to copy without disconnecting anyone.
pub fn snapshot(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let hold = ctx.rt.block_on(ctx.conn.connect(&ctx.src))?;
    let maint = ctx.rt.block_on(ctx.conn.connect("postgres"))?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1 << 16);
    let (ptx, _prx) = tokio::sync::watch::channel(Default::default());
    let emit = Emitter::new(tx, ptx, None);
    let never = CancellationToken::new();
    let tool = |ctx: &Ctx, i: usize| {
        let name = format!("snap_{i}");
        let t = timed(|| {
            ctx.rt
                .block_on(clone::snapshot_copy(
                    &ctx.conn,
                    &maint,
                    clone::Snapshot {
                        src: &ctx.src,
                        dst: &name,
                        major: MAJOR,
                        jobs: JOBS,
                        scratch: Some(&ctx.work.path().join("scratch")),
                    },
                    &emit,
                    &never,
                ))
                .expect("snapshot copy")
        });
        ctx.drop_db(&name);
        t
    };
    let method = |cmd: String| {
        move |ctx: &Ctx, i: usize| {
            let name = format!("m_{i}");
            let t = sh(
                &ctx.conn,
                &cmd.replace("@SRC@", &ctx.src)
                    .replace("@TMP@", &ctx.work.path().display().to_string())
                    .replace("@DST@", &name),
            );
            ctx.drop_db(&name);
            t
        }
    };
    ctx.ab(
        "snapshot copy of a live db (pg_dump -Fd -j2 to scratch, pg_restore -j2)",
        "the same by hand: pg_dump -Fd -Z0 --no-sync -j2, pg_restore -j2",
        Goal::Ratio(1.1),
        tool,
        method(BARE_DIR.into()),
    );
    for (name, cmd) in [
        ("the plain pipe pg_dump -Fc -Z0 | pg_restore", BARE_PIPE),
        (
            "the pipe with indexes apart, pg_restore -j2 (ours without scratch room)",
            BARE_SPLIT,
        ),
        (
            "plain pg_dump | psql",
            "createdb -T template0 @DST@ && pg_dump -d @SRC@ | psql -X -q -v ON_ERROR_STOP=1 -d @DST@ >/dev/null",
        ),
        (
            "pg_dump -Fc -Z1 to a file + pg_restore -j2",
            "createdb -T template0 @DST@ && pg_dump -Fc -Z1 -f @TMP@/file@DST@ -d @SRC@ && pg_restore -j2 -d @DST@ @TMP@/file@DST@ && rm -f @TMP@/file@DST@",
        ),
    ] {
        ctx.ab(
            &format!("snapshot copy (ours) vs {name}"),
            name,
            Goal::None,
            tool,
            method(cmd.into()),
        );
    }
    drop(hold);
    Ok(())
}

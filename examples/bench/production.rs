//! The production path on a copy of the source: freeze against the bare SQL,
//! the production job step by step, and the swap (restore, rollback) against
//! two renames in one transaction.

use std::time::Instant;

use upgrade_pilot::engine::production::ProductionRequest;
use upgrade_pilot::odoo::filestore;

use crate::common::{median, psql, settle, sh, timed};
use crate::{Ctx, Goal, Row};

pub fn production(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let db = "odoo_prod";
    ctx.drop_db(db);
    psql(
        &ctx.conn,
        "postgres",
        &format!(
            "CREATE DATABASE {db} TEMPLATE {} STRATEGY FILE_COPY",
            ctx.src
        ),
    );
    filestore::link_tree(
        &filestore::path(&ctx.data_dir, &ctx.src),
        &filestore::path(&ctx.data_dir, db),
    )?;
    let engine = ctx.engine(true);
    let sessions = |ctx: &Ctx| -> Vec<_> {
        (0..20)
            .map(|_| ctx.rt.block_on(ctx.conn.connect(db)).expect("session"))
            .collect()
    };
    ctx.ab_cheap(
        "freeze with 20 sessions (ALLOW_CONNECTIONS false, end them, check none is left)",
        "ALTER DATABASE + pg_terminate_backend in psql",
        Goal::None,
        |ctx, _| {
            let hold = sessions(ctx);
            let t = timed(|| ctx.rt.block_on(engine.freeze(db)).expect("freeze"));
            drop(hold);
            ctx.rt.block_on(engine.unfreeze(db)).expect("unfreeze");
            t
        },
        |ctx, _| {
            let hold = sessions(ctx);
            let t = sh(
                &ctx.conn,
                &format!(
                    "psql -X -q -d postgres -c 'ALTER DATABASE {db} ALLOW_CONNECTIONS false' -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'\""
                ),
            );
            drop(hold);
            psql(
                &ctx.conn,
                "postgres",
                &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
            );
            t
        },
    );

    // The production job once: where its time goes.
    let plan_dir = ctx.work.path().join("plan");
    std::fs::create_dir_all(plan_dir.join("sql"))?;
    std::fs::write(
        plan_dir.join("sql/090.sql"),
        "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';",
    )?;
    std::fs::write(
        plan_dir.join("plan.toml"),
        "name = \"bump\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )?;
    ctx.rt.block_on(engine.freeze(db))?;
    let req = ProductionRequest {
        db: db.into(),
        target: "17.0".into(),
        plan: Some(plan_dir.join("plan.toml")),
        import: None,
        discard: false,
        allow_other_database: false,
        engine: Default::default(),
    };
    settle();
    let t0 = Instant::now();
    let rec = ctx.rt.block_on(async {
        let p = engine.prepare_production(&req).await?;
        let h = engine.start_production(p);
        h.join.await?.map_err(color_eyre::Report::from)
    })?;
    let total = t0.elapsed().as_secs_f64();
    let steps: Vec<String> = rec
        .steps
        .iter()
        .map(|s| format!("{} {:.3} s", s.name, s.seconds.unwrap_or(0.0)))
        .collect();
    println!("production job {total:.3} s: {}", steps.join(", "));

    // Restore, then rollback (each once: a rollback leaves no upgraded copy to
    // restore again), against the bare renames.
    let restore = timed(|| ctx.rt.block_on(engine.restore(db)).expect("restore"));
    let rollback = timed(|| {
        ctx.rt
            .block_on(engine.rollback(db, false))
            .expect("rollback")
    });
    psql(&ctx.conn, "postgres", "CREATE DATABASE swap_a");
    psql(&ctx.conn, "postgres", "CREATE DATABASE swap_b");
    let bare = median(
        (0..ctx.rounds)
            .map(|_| {
                sh(
                    &ctx.conn,
                    "psql -X -q -d postgres -c 'BEGIN; ALTER DATABASE swap_a RENAME TO swap_c; ALTER DATABASE swap_b RENAME TO swap_a; ALTER DATABASE swap_c RENAME TO swap_b; COMMIT;'",
                )
            })
            .collect(),
    );
    ctx.drop_db("swap_a");
    ctx.drop_db("swap_b");
    for (what, t) in [
        (
            "restore (renames in one transaction + filestore + reopen + start hook + checks, journaled)",
            restore,
        ),
        ("rollback (the same in reverse)", rollback),
    ] {
        println!("{what}: {t:.3} s; bare renames in psql {bare:.3} s");
        ctx.rows.push(Row {
            what: what.into(),
            tool: t,
            bare,
            bare_what: "the two renames in one transaction in psql".into(),
            goal: Goal::None,
        });
    }
    Ok(())
}

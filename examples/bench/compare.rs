//! `compare`: the tool's comparison of two ~1 GB databases (the synthetic
//! source and a template copy of it) against the bare aggregate queries it is
//! made of, run by psql on both databases at once.

use std::time::Instant;

use upgrade_pilot::odoo::compare;
use upgrade_pilot::odoo::schema::Schema;

use crate::common::{psql, sh};
use crate::{Ctx, Goal};

pub fn compare(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let copy = "odoo_compare_copy";
    ctx.drop_db(copy);
    psql(
        &ctx.conn,
        "postgres",
        &format!(
            "CREATE DATABASE {copy} TEMPLATE {} STRATEGY FILE_COPY",
            ctx.src
        ),
    );
    // The same statements the tool's snapshot runs, for psql.
    let statements = ctx.rt.block_on(async {
        let c = ctx.conn.connect(&ctx.src).await?;
        let schema = Schema::load(&c).await?;
        Ok::<_, color_eyre::Report>(compare::statements(&schema))
    })?;
    let file = ctx.work.path().join("compare.sql");
    std::fs::write(
        &file,
        statements
            .iter()
            .map(|s| format!("{};\n", s.trim().trim_end_matches(';')))
            .collect::<String>(),
    )?;
    let engine = ctx.engine(false);
    let src = ctx.src.clone();
    ctx.ab(
        &format!("compare two {} MB databases", size_mb(ctx)),
        "the same aggregates in psql, both dbs at once",
        Goal::Under(60.0),
        |ctx, _| {
            let t0 = Instant::now();
            let c = ctx
                .rt
                .block_on(engine.compare_dbs(&src, copy))
                .expect("compare");
            assert!(c.ok(), "an unchanged copy differs: {:?}", c.failed().next());
            t0.elapsed().as_secs_f64()
        },
        |ctx, _| {
            sh(
                &ctx.conn,
                &format!(
                    "psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -f '{f}' -d {src} & \
                     psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -f '{f}' -d {copy} & wait",
                    f = file.display(),
                    src = ctx.src
                ),
            )
        },
    );
    ctx.drop_db(copy);
    Ok(())
}

fn size_mb(ctx: &Ctx) -> i64 {
    ctx.rt
        .block_on(async {
            let c = ctx.conn.connect(&ctx.src).await.ok()?;
            c.query_one("SELECT pg_database_size(current_database())", &[])
                .await
                .ok()
                .map(|r| r.get::<_, i64>(0) / 1024 / 1024)
        })
        .unwrap_or(0)
}

//! The production window (issue 15): from the freeze to production reopened,
//! the tool's production job + restore against its floor, run bare in the
//! same round: the template copy, the plan's own work, the swap. The plan is
//! of known cost: a command step that sleeps (what the tool adds around a
//! plan), then one whose SQL rewrites the biggest table (the backup taken
//! alongside competes with it for the 2 cores and the disk).

use std::path::{Path, PathBuf};
use std::time::Instant;

use upgrade_pilot::engine::Engine;
use upgrade_pilot::engine::production::ProductionRequest;
use upgrade_pilot::odoo::filestore;

use crate::common::{psql, settle, sh};
use crate::{Ctx, Goal};

const DB: &str = "odoo_win";
/// The plan's version bump: verify wants the target's module versions.
const BUMP: &str = "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';";
/// Work of known cost for the second plan: every chatter message rewritten.
const REWRITE: &str = "UPDATE mail_message SET body = body || '';";

/// A plan of `sleep SECONDS` (when given), `extra` SQL (when given) and the bump.
fn plan(dir: &Path, sleep: Option<u64>, extra: Option<&str>) -> color_eyre::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("sql"))?;
    if let Some(sql) = extra {
        std::fs::write(dir.join("sql/050_work.sql"), sql)?;
    }
    std::fs::write(dir.join("sql/090_versions.sql"), BUMP)?;
    let mut toml = String::from("name = \"window\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n");
    if let Some(s) = sleep {
        toml.push_str(&format!(
            "[[hop.step]]\nname = \"work\"\ncommand = [\"sleep\", \"{s}\"]\n"
        ));
    }
    toml.push_str("[[hop.step]]\nname = \"sql\"\nsql = \"sql\"\n");
    let p = dir.join("plan.toml");
    std::fs::write(&p, toml)?;
    Ok(p)
}

/// Freeze → production job → restore, timed from the job's start to
/// production reopened; then put back untimed (rollback, the upgraded copy and
/// the backup dropped, frozen again) for the next round.
fn tool(ctx: &Ctx, engine: &Engine, plan: &Path, steps: bool) -> f64 {
    let req = ProductionRequest {
        db: DB.into(),
        target: "17.0".into(),
        plan: Some(plan.to_path_buf()),
        import: None,
        discard: false,
        allow_other_database: false,
        engine: Default::default(),
    };
    settle();
    let t0 = Instant::now();
    let rec = ctx
        .rt
        .block_on(async {
            let p = engine.prepare_production(&req).await?;
            let h = engine.start_production(p);
            let rec = h.join.await??;
            engine.restore(DB).await?;
            Ok::<_, color_eyre::Report>(rec)
        })
        .expect("production job and restore");
    let t = t0.elapsed().as_secs_f64();
    if steps {
        let s: Vec<String> = rec
            .steps
            .iter()
            .map(|s| format!("{} {:.3}", s.name, s.seconds.unwrap_or(0.0)))
            .collect();
        println!("  tool steps: {}", s.join(", "));
    }
    let back = ctx
        .rt
        .block_on(engine.rollback(DB, false))
        .expect("rollback");
    ctx.drop_db(&back.swap.aside);
    let _ = filestore::remove(&ctx.data_dir, &back.swap.aside);
    let _ = std::fs::remove_dir_all(engine.state_dir.join("backups"));
    ctx.rt.block_on(engine.freeze(DB)).expect("freeze again");
    t
}

/// The floor: the same template copy, filestore links, the plan's work in
/// sh and psql, the two renames in one transaction and the reopen.
fn bare(ctx: &Ctx, sleep: Option<u64>, extra: Option<&str>) -> f64 {
    let fs = |db: &str| format!("'{}'", filestore::path(&ctx.data_dir, db).display());
    let mut cmd = format!(
        "psql -X -q -d postgres -c 'CREATE DATABASE w_copy TEMPLATE {DB} STRATEGY FILE_COPY' && cp -al {} {}",
        fs(DB),
        fs("w_copy")
    );
    if let Some(s) = sleep {
        cmd.push_str(&format!(" && sleep {s}"));
    }
    for sql in extra.into_iter().chain([BUMP]) {
        cmd.push_str(&format!(
            " && psql -X -q -v ON_ERROR_STOP=1 -d w_copy -c \"{}\"",
            sql.replace('"', "\\\"")
        ));
    }
    cmd.push_str(&format!(
        " && psql -X -q -d postgres -c 'BEGIN; ALTER DATABASE {DB} RENAME TO w_old; ALTER DATABASE w_copy RENAME TO {DB}; COMMIT;' -c 'ALTER DATABASE {DB} ALLOW_CONNECTIONS true' && mv {} {} && mv {} {}",
        fs(DB),
        fs("w_old"),
        fs("w_copy"),
        fs(DB)
    ));
    let t = sh(&ctx.conn, &cmd);
    // Put back: the original under its name, frozen again.
    ctx.drop_db(DB);
    let _ = filestore::remove(&ctx.data_dir, DB);
    psql(
        &ctx.conn,
        "postgres",
        &format!("ALTER DATABASE w_old RENAME TO {DB}"),
    );
    let _ = std::fs::rename(
        filestore::path(&ctx.data_dir, "w_old"),
        filestore::path(&ctx.data_dir, DB),
    );
    t
}

pub fn window(ctx: &mut Ctx, plan_seconds: u64) -> color_eyre::Result<()> {
    ctx.drop_db(DB);
    psql(
        &ctx.conn,
        "postgres",
        &format!(
            "CREATE DATABASE {DB} TEMPLATE {} STRATEGY FILE_COPY",
            ctx.src
        ),
    );
    filestore::link_tree(
        &filestore::path(&ctx.data_dir, &ctx.src),
        &filestore::path(&ctx.data_dir, DB),
    )?;
    let engine = ctx.engine(true);
    ctx.rt.block_on(engine.freeze(DB))?;
    let steps = ctx.steps;
    let sleepy = plan(
        &ctx.work.path().join("window-sleep"),
        Some(plan_seconds),
        None,
    )?;
    ctx.ab(
        &format!(
            "production window, plan = sleep {plan_seconds} s: freeze → job (backup alongside) → restore → reopened"
        ),
        &format!("template copy + cp -al + sleep {plan_seconds} + the bump in psql + the renames + reopen"),
        Goal::Ratio(1.05),
        |c, _| tool(c, &engine, &sleepy, steps),
        |c, _| bare(c, Some(plan_seconds), None),
    );
    let heavy = plan(&ctx.work.path().join("window-sql"), None, Some(REWRITE))?;
    ctx.ab(
        "production window, plan = SQL rewriting mail_message (competes with the backup alongside)",
        "template copy + cp -al + the same SQL in psql + the renames + reopen",
        Goal::None,
        |c, _| tool(c, &engine, &heavy, steps),
        |c, _| bare(c, None, Some(REWRITE)),
    );
    ctx.rt.block_on(engine.unfreeze(DB))?;
    ctx.drop_db(DB);
    let _ = filestore::remove(&ctx.data_dir, DB);
    Ok(())
}

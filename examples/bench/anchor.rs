//! The live copy against the anchors (issue 15): the tool's snapshot copy of a
//! database with a session connected, against `pg_dump | psql` and pgcopydb
//! (2 table jobs, 2 index jobs, big tables split), on two shapes: the
//! synthetic Odoo database, and one where mail_message holds most of the data.

use std::process::Command;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::engine::clone;
use upgrade_pilot::engine::emit::Emitter;

use crate::common::{MAJOR, sh, timed};
use crate::{Ctx, Goal};

const PG_DUMP_PSQL: &str = "createdb -T template0 @DST@ && pg_dump -d @SRC@ | psql -X -q -v ON_ERROR_STOP=1 -d @DST@ >/dev/null";
const PGCOPYDB: &str = "createdb -T template0 @DST@ && pgcopydb clone --source 'dbname=@SRC@' --target 'dbname=@DST@' --dir @TMP@/pgcopydb-@DST@ --table-jobs 2 --index-jobs 2 --split-tables-larger-than 50MB --no-owner >/dev/null 2>&1 && rm -rf @TMP@/pgcopydb-@DST@";

/// pgcopydb on PATH, installed from Debian when missing (None: why not).
fn pgcopydb() -> Result<(), String> {
    let found = || {
        Command::new("pgcopydb")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if found() {
        return Ok(());
    }
    println!("pgcopydb is missing: apt-get install -y pgcopydb");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "pgcopydb"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if ok && found() {
        Ok(())
    } else {
        Err("pgcopydb could not be installed (apt-get install -y pgcopydb failed: not root, or no such package here)".into())
    }
}

/// The live copy of `src` against the anchors, each in A/B rounds.
fn against_anchors(
    ctx: &mut Ctx,
    src: &str,
    shape: &str,
    with_pgcopydb: bool,
) -> color_eyre::Result<()> {
    // A live source: a session stays connected, as Odoo's pool does.
    let hold = ctx.rt.block_on(ctx.conn.connect(src))?;
    let maint = ctx.rt.block_on(ctx.conn.connect("postgres"))?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1 << 16);
    let (ptx, _prx) = tokio::sync::watch::channel(Default::default());
    let emit = Emitter::new(tx, ptx, None);
    let never = CancellationToken::new();
    let scratch = ctx.work.path().join("scratch");
    let tool = |ctx: &Ctx, i: usize| {
        let name = format!("live_{i}");
        let t = timed(|| {
            ctx.rt
                .block_on(clone::snapshot_copy(
                    &ctx.conn,
                    &maint,
                    clone::Snapshot {
                        src,
                        dst: &name,
                        major: MAJOR,
                        jobs: 2,
                        scratch: Some(&scratch),
                    },
                    &emit,
                    &never,
                ))
                .expect("snapshot copy")
        });
        ctx.drop_db(&name);
        t
    };
    let bare = |cmd: &'static str| {
        move |ctx: &Ctx, i: usize| {
            let name = format!("anchor_{i}");
            let t = sh(
                &ctx.conn,
                &cmd.replace("@SRC@", src)
                    .replace("@TMP@", &ctx.work.path().display().to_string())
                    .replace("@DST@", &name),
            );
            ctx.drop_db(&name);
            t
        }
    };
    ctx.ab(
        &format!("live copy, {shape}: the tool's snapshot copy"),
        "pg_dump | psql",
        Goal::Ratio(1.0),
        tool,
        bare(PG_DUMP_PSQL),
    );
    if with_pgcopydb {
        ctx.ab(
            &format!("live copy, {shape}: the tool's snapshot copy"),
            "pgcopydb clone, 2 table jobs, 2 index jobs, tables > 50 MB split",
            Goal::Ratio(0.7),
            tool,
            bare(PGCOPYDB),
        );
    }
    drop(hold);
    Ok(())
}

pub fn anchors(ctx: &mut Ctx, size_mb: u64) -> color_eyre::Result<()> {
    let with_pgcopydb = match pgcopydb() {
        Ok(()) => true,
        Err(why) => {
            println!("skipped pgcopydb: {why}");
            false
        }
    };
    let src = ctx.src.clone();
    against_anchors(ctx, &src, "Odoo shape", with_pgcopydb)?;
    let big = "odoo_bigmail";
    let t0 = std::time::Instant::now();
    let s = crate::shape::build_big_table(&ctx.conn, big, size_mb, &ctx.rt);
    println!(
        "source 2: {} MB, mail_message {} MB of it (table + indexes); built in {:.0} s",
        s.bytes / 1024 / 1024,
        s.big_table_bytes / 1024 / 1024,
        t0.elapsed().as_secs_f64()
    );
    against_anchors(ctx, big, "one big table (mail_message)", with_pgcopydb)?;
    ctx.drop_db(big);
    Ok(())
}

//! Single operations: the filestore copy, backups and their formats, the plan
//! runner, and the Wait screen's frame time.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::engine::backup;
use upgrade_pilot::engine::emit::Emitter;
use upgrade_pilot::engine::plan::{self, Plan};
use upgrade_pilot::odoo::filestore;
use upgrade_pilot::odoo::version::Series;

use crate::common::{MAJOR, median, psql, settle, sh, timed};
use crate::{Ctx, Goal, Row};

fn size_of(p: &std::path::Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| size_of(&e.path()))
            .sum()
    } else {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

/// The test copy's filestore: hard links against `cp -a`.
pub fn filestore(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let from = filestore::path(&ctx.data_dir, &ctx.src);
    let files = ctx.files;
    let (tool, _) = ctx.ab_cheap(
        &format!("filestore of {files} files, hard links"),
        "cp -a",
        Goal::None,
        |ctx, i| {
            let to = filestore::path(&ctx.data_dir, &format!("links_{i}"));
            let t = timed(|| filestore::link_tree(&from, &to).expect("link tree"));
            let _ = std::fs::remove_dir_all(&to);
            t
        },
        |ctx, i| {
            let to = filestore::path(&ctx.data_dir, &format!("cp_{i}"));
            let t = sh(
                &ctx.conn,
                &format!("cp -a '{}' '{}'", from.display(), to.display()),
            );
            let _ = std::fs::remove_dir_all(&to);
            t
        },
    );
    ctx.rows.push(Row {
        what: format!("filestore of {files} files, hard links"),
        tool,
        bare: 1.0,
        bare_what: "the goal".into(),
        goal: Goal::Under(1.0),
    });
    Ok(())
}

/// Our backup (pg_dump + its check) against bare pg_dump with the same format;
/// then the formats a backup could use, to show why ours is the default.
pub fn backup(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let never = CancellationToken::new();
    ctx.ab_cheap(
        "backup (pg_dump -Fd -Z1 -j2, then pg_restore --list to check it)",
        "pg_dump -Fd -Z1 -j2",
        Goal::Ratio(1.1),
        |ctx, i| {
            let dir = ctx.work.path().join(format!("backup_{i}"));
            let t = timed(|| {
                ctx.rt
                    .block_on(backup::backup(
                        &ctx.conn, MAJOR, &ctx.src, &dir, None, 2, &never,
                    ))
                    .expect("backup")
            });
            let _ = std::fs::remove_dir_all(&dir);
            t
        },
        |ctx, i| {
            let out = ctx.work.path().join(format!("bare_{i}.dumpdir"));
            let t = sh(
                &ctx.conn,
                &format!("pg_dump -Fd -Z1 -j2 -f '{}' -d {}", out.display(), ctx.src),
            );
            let _ = std::fs::remove_dir_all(&out);
            t
        },
    );
    println!("backup formats of the same database (pg_dump alone):");
    for (name, args) in [
        ("-Fc (default level)", "-Fc"),
        ("-Fc -Z1", "-Fc -Z1"),
        ("-Fd -Z1 -j2 (ours)", "-Fd -Z1 -j2"),
        ("-Fd (default level) -j2", "-Fd -j2"),
        ("-Fc -Z0 (not compressed)", "-Fc -Z0"),
    ] {
        let out = ctx.work.path().join("format_out");
        let mut t = Vec::new();
        let mut size = 0;
        for _ in 0..ctx.rounds {
            let _ = std::fs::remove_dir_all(&out);
            let _ = std::fs::remove_file(&out);
            t.push(sh(
                &ctx.conn,
                &format!("pg_dump {args} -f '{}' -d {}", out.display(), ctx.src),
            ));
            size = size_of(&out);
        }
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_file(&out);
        println!(
            "  {name:<26} {:7.3} s  {:>6} MB",
            median(t),
            size / 1024 / 1024
        );
    }
    Ok(())
}

/// A plan of 200 small SQL files: the runner (a transaction, a sha256 and a
/// journal row each) against one psql running the same files.
pub fn plan(ctx: &mut Ctx) -> color_eyre::Result<()> {
    let pdir = ctx.work.path().join("plan200");
    std::fs::create_dir_all(pdir.join("sql"))?;
    for i in 0..200 {
        std::fs::write(
            pdir.join(format!("sql/{i:03}.sql")),
            format!("UPDATE ir_config_parameter SET value = 'v{i}' WHERE key = 'k{i}';"),
        )?;
    }
    std::fs::write(
        pdir.join("plan.toml"),
        "name = \"200\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"s\"\nsql = \"sql\"\n",
    )?;
    let ready =
        Plan::load(&pdir.join("plan.toml"))?.check(Series::new(16, 0), Series::new(17, 0))?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1 << 16);
    let (ptx, _prx) = tokio::sync::watch::channel(Default::default());
    let emit = Emitter::new(tx, ptx, None);
    let never = CancellationToken::new();
    let files_arg: String = (0..200)
        .map(|i| format!(" -f '{}/sql/{i:03}.sql'", pdir.display()))
        .collect();
    let fresh = |ctx: &Ctx, db: &str| {
        ctx.drop_db(db);
        psql(
            &ctx.conn,
            "postgres",
            &format!("CREATE DATABASE {db} TEMPLATE template0"),
        );
        // Each file changes a row, as a migration script does: both sides
        // then commit durably once per file.
        psql(
            &ctx.conn,
            db,
            "CREATE TABLE ir_config_parameter (key varchar, value text); INSERT INTO ir_config_parameter SELECT 'k' || g, 'v' FROM generate_series(0, 199) g",
        );
    };
    let (tool, bare) = ctx.ab_cheap(
        "plan of 200 small SQL files (runner)",
        "one psql -f … running them",
        Goal::None,
        |ctx, i| {
            let db = format!("plan_{i}");
            fresh(ctx, &db);
            let t = timed(|| {
                ctx.rt
                    .block_on(upgrade_pilot::engine::execute::run(
                        &ready,
                        &plan::RunCtx {
                            conn: &ctx.conn,
                            db: &db,
                            data_dir: None,
                            emit: &emit,
                            cancel: &never,
                            outcomes: None,
                            hop_log: None,
                        },
                    ))
                    .expect("plan run")
            });
            ctx.drop_db(&db);
            t
        },
        |ctx, i| {
            let db = format!("psql_{i}");
            fresh(ctx, &db);
            let t = sh(
                &ctx.conn,
                &format!("psql -X -q -v ON_ERROR_STOP=1 -d {db}{files_arg}"),
            );
            ctx.drop_db(&db);
            t
        },
    );
    println!(
        "  the runner's overhead: {:.2} ms per file",
        (tool - bare) * 1000.0 / 200.0
    );
    Ok(())
}

/// Frame time of the Wait screen at 200×50 with a full log.
pub fn frame(_ctx: &mut Ctx) -> color_eyre::Result<()> {
    use upgrade_pilot::tui::update as app;
    use upgrade_pilot::tui::{App, model::Msg};
    let mut app = App::new("db:5432".into(), vec!["17.0".into()]);
    let steps = upgrade_pilot::engine::test_job::STEPS.to_vec();
    app::update(
        &mut app,
        Msg::JobStarted {
            db: "src".into(),
            target: "17.0".into(),
            steps,
            connect: String::new(),
            production: false,
        },
    );
    for i in 0..5000 {
        app::update(
            &mut app,
            Msg::Job(upgrade_pilot::engine::Event::Log(format!(
                "DEBUG src odoo.modules.loading: Loading module m{i} ({i}/5000)"
            ))),
        );
    }
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50))?;
    let theme = upgrade_pilot::tui::theme::Theme::plain();
    settle();
    let t0 = Instant::now();
    for _ in 0..1000 {
        term.draw(|f| upgrade_pilot::tui::view::view(&app, f, &theme))?;
    }
    println!(
        "Wait screen at 200×50 with a full log: {:.3} ms a frame (1000 frames, TestBackend)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

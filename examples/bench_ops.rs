//! The single operations of issue 5 against their bare PostgreSQL / shell
//! counterparts, same run, alternating, medians:
//!
//!   cargo run --release --example bench_ops -- [SIZE_MB] [FILES] [ROUNDS]
//!
//! clone vs a raw copy of the database's files; snapshot methods; filestore
//! hard links vs `cp -a`; backup formats; a 200-file plan vs psql; the Wait
//! screen's frame time at 200×50.

mod common;
use common::{add_bulk, durable_cluster, median, psql, settle};

use std::process::Command;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::demo;
use upgrade_pilot::engine::clone;
use upgrade_pilot::engine::emit::Emitter;
use upgrade_pilot::engine::plan::{self, Plan};
use upgrade_pilot::odoo::filestore;
use upgrade_pilot::odoo::version::Series;
use upgrade_pilot::pg::conn::ConnInfo;

fn sh(cmd: &str, conn: &ConnInfo) -> f64 {
    settle();
    let t0 = Instant::now();
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(conn.child_env())
        .env(
            "PATH",
            format!(
                "/usr/lib/postgresql/15/bin:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
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

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                dir_size(&e.path())
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

fn main() -> color_eyre::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size_mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let files: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let rt = tokio::runtime::Runtime::new()?;
    let cluster = durable_cluster()?;
    let conn = cluster.conn_info();
    let work = tempfile::tempdir()?;
    let src = "src";
    rt.block_on(demo::load_seed(&conn, src))?;
    add_bulk(&conn, src, size_mb);
    println!(
        "{size_mb} MB database, {files}-file filestore, {rounds} rounds, PostgreSQL 15 (fsync on), 2 cores"
    );
    let q = |s: &str| format!("'{}'", s);

    // A. Template clone vs a raw copy of the database's directory.
    let oid: u32 = rt
        .block_on(async {
            conn.connect("postgres")
                .await?
                .query_one("SELECT oid FROM pg_database WHERE datname = 'src'", &[])
                .await
                .map_err(color_eyre::Report::from)
        })?
        .get(0);
    let base = cluster.data_dir().join("base").join(oid.to_string());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let maint = rt.block_on(conn.connect("postgres"))?;
    for i in 0..rounds {
        settle();
        let t0 = Instant::now();
        rt.block_on(clone::template_copy(
            &maint,
            src,
            &format!("t{i}"),
            15,
            &CancellationToken::new(),
        ))?;
        a.push(t0.elapsed().as_secs_f64());
        let dest = work.path().join(format!("raw{i}"));
        b.push(sh(
            &format!(
                "cp -r {} {}",
                q(&base.display().to_string()),
                q(&dest.display().to_string())
            ),
            &conn,
        ));
        psql(&conn, "postgres", &format!("DROP DATABASE t{i}"));
        std::fs::remove_dir_all(&dest)?;
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "clone: template FILE_COPY {ma:.3}s vs cp -r of its files {mb:.3}s: ratio {:.2}",
        ma / mb
    );

    // B. Snapshot methods (a session stays connected, as Odoo's pool does).
    let _hold = rt.block_on(conn.connect(src))?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1 << 16);
    let (ptx, _prx) = tokio::sync::watch::channel(Default::default());
    let emit = Emitter::new(tx, ptx, None);
    let methods: Vec<(&str, String)> = vec![
        (
            "pipe -Fc -Z0 | pg_restore (bare)",
            "createdb -T template0 D && pg_dump -Fc -Z0 -d src | pg_restore -d D".into(),
        ),
        (
            "plain pg_dump | psql",
            "createdb -T template0 D && pg_dump -d src | psql -X -q -d D >/dev/null".into(),
        ),
        (
            "-Fd -Z0 -j2 + pg_restore -j2",
            format!(
                "createdb -T template0 D && pg_dump -Fd -Z0 -j2 -f {0}/dirD -d src && pg_restore -j2 -d D {0}/dirD && rm -rf {0}/dirD",
                work.path().display()
            ),
        ),
        (
            "-Fc -Z1 file + pg_restore -j2",
            format!(
                "createdb -T template0 D && pg_dump -Fc -Z1 -f {0}/fileD -d src && pg_restore -j2 -d D {0}/fileD && rm -f {0}/fileD",
                work.path().display()
            ),
        ),
    ];
    let mut results: Vec<(String, Vec<f64>)> =
        vec![("tool snapshot_copy (pipe, -v)".into(), Vec::new())];
    results.extend(methods.iter().map(|(n, _)| (n.to_string(), Vec::new())));
    for r in 0..rounds {
        let db = format!("snap_tool_{r}");
        settle();
        let t0 = Instant::now();
        rt.block_on(clone::snapshot_copy(
            &conn,
            &maint,
            src,
            &db,
            15,
            &emit,
            &CancellationToken::new(),
        ))?;
        results[0].1.push(t0.elapsed().as_secs_f64());
        psql(&conn, "postgres", &format!("DROP DATABASE {db}"));
        for (i, (_, cmd)) in methods.iter().enumerate() {
            let db = format!("snap_{i}_{r}");
            results[i + 1].1.push(sh(&cmd.replace('D', &db), &conn));
            psql(&conn, "postgres", &format!("DROP DATABASE {db}"));
        }
    }
    let bare = median(results[1].1.clone());
    for (name, v) in &results {
        let m = median(v.clone());
        println!(
            "snapshot: {name:<34} {m:7.3}s  ratio to bare pipe {:.2}",
            m / bare
        );
    }

    // C. Filestore: hard links vs cp -a.
    let fs_root = work.path().join("odoo");
    demo::write_filestore(&fs_root, src, files)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        settle();
        let t0 = Instant::now();
        filestore::link_tree(
            &filestore::path(&fs_root, src),
            &filestore::path(&fs_root, &format!("l{i}")),
        )?;
        a.push(t0.elapsed().as_secs_f64());
        b.push(sh(
            &format!(
                "cp -a {} {}",
                filestore::path(&fs_root, src).display(),
                filestore::path(&fs_root, &format!("c{i}")).display()
            ),
            &conn,
        ));
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "filestore {files} files: hard links {ma:.3}s vs cp -a {mb:.3}s: ratio {:.3}",
        ma / mb
    );

    // D. Backup formats of the same database.
    for (name, cmd, out) in [
        (
            "-Fc (default level)",
            "pg_dump -Fc -f OUT -d src",
            "b1.dump",
        ),
        ("-Fc -Z1", "pg_dump -Fc -Z1 -f OUT -d src", "b2.dump"),
        ("-Fd -Z1 -j2", "pg_dump -Fd -Z1 -j2 -f OUT -d src", "b3.dir"),
        ("-Fc -Z0", "pg_dump -Fc -Z0 -f OUT -d src", "b4.dump"),
    ] {
        let mut t = Vec::new();
        let path = work.path().join(out);
        for _ in 0..rounds {
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_file(&path);
            t.push(sh(&cmd.replace("OUT", &path.display().to_string()), &conn));
        }
        let size = if path.is_dir() {
            dir_size(&path)
        } else {
            std::fs::metadata(&path)?.len()
        };
        println!(
            "backup {name:<20} {:7.3}s  {:>6} MB",
            median(t),
            size / 1024 / 1024
        );
    }

    // E. A plan of 200 small SQL files: the runner (journal + checksum + a transaction each) vs psql.
    let pdir = work.path().join("plan200");
    std::fs::create_dir_all(pdir.join("sql"))?;
    for i in 0..200 {
        std::fs::write(
            pdir.join(format!("sql/{i:03}.sql")),
            format!("UPDATE ir_config_parameter SET value = value WHERE key = 'k{i}';"),
        )?;
    }
    std::fs::write(
        pdir.join("plan.toml"),
        "name = \"200\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"s\"\nsql = \"sql\"\n",
    )?;
    let ready =
        Plan::load(&pdir.join("plan.toml"))?.check(Series::new(16, 0), Series::new(17, 0))?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let files_arg: String = (0..200)
        .map(|i| format!(" -f {}/sql/{i:03}.sql", pdir.display()))
        .collect();
    for r in 0..rounds {
        let db = format!("p{r}");
        psql(
            &conn,
            "postgres",
            &format!("CREATE DATABASE {db} TEMPLATE template0"),
        );
        psql(
            &conn,
            &db,
            "CREATE TABLE ir_config_parameter (key varchar, value text)",
        );
        settle();
        let t0 = Instant::now();
        rt.block_on(plan::run(
            &ready,
            &plan::RunCtx {
                conn: &conn,
                db: &db,
                data_dir: None,
                emit: &emit,
                cancel: &CancellationToken::new(),
            },
        ))?;
        a.push(t0.elapsed().as_secs_f64());
        b.push(sh(
            &format!("psql -X -q -v ON_ERROR_STOP=1 -d {db}{files_arg}"),
            &conn,
        ));
    }
    let (ma, mb) = (median(a), median(b));
    println!(
        "plan of 200 files: runner {ma:.3}s vs one psql running them {mb:.3}s: {:.2} ms more per file",
        (ma - mb) * 1000.0 / 200.0
    );

    // F. Frame time of the Wait screen at 200×50 with a full log.
    let mut app = upgrade_pilot::tui::app::App::new("db:5432".into(), vec!["17.0".into()]);
    let steps = upgrade_pilot::engine::test_job::STEPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    upgrade_pilot::tui::app::update(
        &mut app,
        upgrade_pilot::tui::app::Msg::JobStarted {
            db: "src".into(),
            target: "17.0".into(),
            steps,
            connect: String::new(),
            production: false,
        },
    );
    for i in 0..5000 {
        upgrade_pilot::tui::app::update(
            &mut app,
            upgrade_pilot::tui::app::Msg::Job(upgrade_pilot::engine::Event::Log(format!(
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
        "Wait screen 200×50: {:.3} ms a frame (1000 frames, TestBackend)",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

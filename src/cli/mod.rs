//! Headless subcommands (README.md, "Commands"): thin front ends over the engine.

mod anomalies;
mod compare;
mod confirm;
mod demo;
mod detach;
mod doctor;
mod inspect;
mod neutralize;
mod output;
mod production;
mod progress;
mod serve;
mod status;
mod test;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use color_eyre::Result;
use color_eyre::eyre::eyre;

use crate::config::Config;
use crate::engine::Engine;
use crate::engine::clone::CloneChoice;
use crate::engine::openupgrade::EngineChoice;
use crate::odoo::conf::OdooConf;
use crate::pg::conn::{ConnInfo, Sources};
use crate::pg::pgpass;

#[derive(Debug, Parser)]
#[command(
    name = "upgrade-pilot",
    version,
    about = "Take a self-hosted Odoo database through a major-version upgrade, safely"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Accepted before or after the subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Server to use: libpq URL or key=value (no password: use PGPASSWORD or ~/.pgpass).
    #[arg(long, global = true, value_name = "DSN")]
    pub dsn: Option<String>,
    /// Configuration file (TOML); default: <config dir>/upgrade-pilot/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Odoo's configuration file: db_host/db_port/db_user/db_password and data_dir.
    #[arg(long, global = true, value_name = "FILE")]
    pub odoo_config: Option<PathBuf>,
    /// Odoo's data directory (holds filestore/<db>).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Enterprise subscription code for --engine odoo-platform (default: the
    /// database's database.enterprise_code).
    #[arg(
        long,
        global = true,
        value_name = "CODE",
        env = "UPGRADE_PILOT_CONTRACT",
        hide_env_values = true
    )]
    pub contract: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a throwaway PostgreSQL with a sample Odoo 16.0 database and work on it.
    Demo {
        /// Keep the server's directory after exit.
        #[arg(long)]
        keep: bool,
    },
    /// Show what an Odoo database is: version, modules, customizations, sessions.
    Inspect {
        #[arg(long)]
        db: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a neutralized, upgraded, verified test copy of a database.
    Test {
        #[arg(long)]
        db: String,
        /// Target Odoo version, e.g. 17.0.
        #[arg(long)]
        target: String,
        /// Upgrade plan (TOML); default: [plans] in the config.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Name of the test copy; default <db>_test_<target>_<YYYY_MM_DD_HH_MM>.
        #[arg(long, value_name = "NAME")]
        test_db: Option<String>,
        /// How to copy: auto (template when nobody is connected, else snapshot), template or snapshot.
        #[arg(long, value_name = "METHOD")]
        clone: Option<CloneChoice>,
        /// Drop an interrupted or failed earlier test job instead of resuming it.
        #[arg(long)]
        discard: bool,
        /// Answer yes to confirmations (discarding an earlier job).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
        /// Run in the background, safe from a closed terminal; returns once the job has started.
        #[arg(long)]
        detach: bool,
        /// What makes the upgrade: plan (a written plan, the default) or openupgrade
        /// (hops derived from [odoo."<series>"] in the config).
        #[arg(long, value_name = "ENGINE", conflicts_with = "plan")]
        engine: Option<EngineChoice>,
        /// Run the checks and print the plan (with --engine openupgrade: each hop's command); make nothing.
        #[arg(long, conflicts_with_all = ["discard", "detach"])]
        dry_run: bool,
    },
    /// Neutralize a database in place (test copies only; refuses production).
    Neutralize {
        #[arg(long)]
        db: String,
        #[arg(long)]
        yes: bool,
    },
    /// Freeze production: stop hook, refuse new connections, end sessions.
    Freeze {
        #[arg(long)]
        db: String,
        #[arg(long)]
        yes: bool,
    },
    /// Reopen a frozen database and run the start hook.
    Unfreeze {
        #[arg(long)]
        db: String,
    },
    /// On frozen production: clone, back up, run the plan, verify (no neutralization).
    Production {
        #[arg(long)]
        db: String,
        #[arg(long)]
        target: String,
        #[arg(long, value_name = "FILE", conflicts_with = "import")]
        plan: Option<PathBuf>,
        /// Take an upgraded database made elsewhere (Odoo's upgrade platform): .dump, dump folder, .sql, .sql.gz or Odoo .zip.
        #[arg(long, value_name = "PATH")]
        import: Option<PathBuf>,
        /// Drop an interrupted or failed earlier production job instead of resuming it.
        #[arg(long)]
        discard: bool,
        /// Accept a result that is another Odoo database (its database.uuid or enterprise code differs from production's).
        #[arg(long)]
        allow_other_database: bool,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
        /// Run in the background, safe from a closed terminal; returns once the job has started.
        #[arg(long)]
        detach: bool,
        /// plan (default) or openupgrade, as for test.
        #[arg(long, value_name = "ENGINE", conflicts_with_all = ["plan", "import"])]
        engine: Option<EngineChoice>,
    },
    /// Check each configured Odoo ([odoo."<series>"]): one line per problem.
    Doctor,
    /// Serve a neutralized test copy with the target series' Odoo, on 127.0.0.1 only.
    Serve {
        #[arg(long)]
        db: String,
        /// HTTP port; default: a free one.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Swap the upgraded copy into the production name; the old one is kept as <db>_before_<target>_<ts>.
    Restore {
        #[arg(long)]
        db: String,
        #[arg(long)]
        yes: bool,
    },
    /// Reverse the last restore; the upgraded database is kept as <db>_failed_<ts>.
    Rollback {
        #[arg(long)]
        db: String,
        /// Leave production frozen afterwards.
        #[arg(long)]
        stay_frozen: bool,
        #[arg(long)]
        yes: bool,
    },
    /// Back up a database with its filestore: Odoo's zip, a pg_dump custom file, or a directory dump.
    Backup {
        #[arg(long)]
        db: String,
        /// zip (Odoo's format: dump.sql, filestore/, manifest.json), dump or dir.
        #[arg(long, default_value = "zip")]
        format: crate::engine::backup::Format,
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Export anomalies, checklist, versions, modules and log as Markdown + JSON (+ attachments).
    Report {
        #[arg(long)]
        db: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// List a campaign's anomalies and the drafts a hop's errors made; keep or drop a draft.
    Anomalies {
        /// The campaign's database (production).
        #[arg(long)]
        db: String,
        /// Keep draft N: it becomes an anomaly (in the report).
        #[arg(long, value_name = "N", conflicts_with = "drop")]
        keep: Option<u32>,
        /// Drop draft N.
        #[arg(long, value_name = "N")]
        drop: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Compare an upgraded copy with production (reads both only); exit 1 when something differs.
    Compare {
        /// Production (or, after a restore, the kept <db>_before_<target>_<ts>).
        #[arg(long)]
        db: String,
        /// The upgraded copy (test copy, production working copy, or the restored production).
        #[arg(long)]
        test_db: String,
        #[arg(long)]
        json: bool,
    },
    /// Where each campaign stands: test jobs and their steps.
    Status {
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// The subcommand's name, for the log's start line.
    fn name(&self) -> &'static str {
        match self {
            Command::Demo { .. } => "demo",
            Command::Inspect { .. } => "inspect",
            Command::Test { .. } => "test",
            Command::Neutralize { .. } => "neutralize",
            Command::Freeze { .. } => "freeze",
            Command::Unfreeze { .. } => "unfreeze",
            Command::Production { .. } => "production",
            Command::Restore { .. } => "restore",
            Command::Rollback { .. } => "rollback",
            Command::Backup { .. } => "backup",
            Command::Report { .. } => "report",
            Command::Anomalies { .. } => "anomalies",
            Command::Status { .. } => "status",
            Command::Compare { .. } => "compare",
            Command::Doctor => "doctor",
            Command::Serve { .. } => "serve",
        }
    }

    /// The database names on the command line, with their flags.
    fn db_names(&self) -> Vec<(&'static str, &str)> {
        match self {
            Command::Demo { .. } | Command::Doctor => vec![],
            Command::Status { db, .. } => db.iter().map(|d| ("--db", d.as_str())).collect(),
            Command::Compare { db, test_db, .. } => {
                vec![("--db", db.as_str()), ("--test-db", test_db.as_str())]
            }
            Command::Test { db, test_db, .. } => {
                let mut v = vec![("--db", db.as_str())];
                v.extend(test_db.iter().map(|t| ("--test-db", t.as_str())));
                v
            }
            Command::Inspect { db, .. }
            | Command::Neutralize { db, .. }
            | Command::Freeze { db, .. }
            | Command::Unfreeze { db }
            | Command::Production { db, .. }
            | Command::Restore { db, .. }
            | Command::Rollback { db, .. }
            | Command::Backup { db, .. }
            | Command::Report { db, .. }
            | Command::Anomalies { db, .. }
            | Command::Serve { db, .. } => vec![("--db", db.as_str())],
        }
    }
}

/// Resolves connection, config, state dir and data dir from the global flags.
pub fn engine_from(global: &GlobalArgs) -> Result<Engine> {
    let mut config = Config::load(global.config.as_deref())?;
    config.odoo_platform.contract = global
        .contract
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(crate::odoo::platform::Secret::new);
    let odoo = global
        .odoo_config
        .as_deref()
        .map(OdooConf::load)
        .transpose()?;
    let env = |k: &str| std::env::var(k).ok();
    let conn = ConnInfo::resolve(Sources {
        dsn: global.dsn.as_deref(),
        env: &env,
        fallback: odoo.as_ref().map(OdooConf::connection).unwrap_or_default(),
        pgpass: pgpass::default_path(),
    })?;
    for w in pgpass::take_warnings() {
        output::err(&format!("WARNING: {w}"));
    }
    let state_dir = config.state_dir()?;
    let data_dir = global
        .data_dir
        .clone()
        .or_else(|| config.data_dir.clone())
        .or_else(|| odoo.as_ref().and_then(|o| o.data_dir.clone()));
    Ok(Engine {
        conn,
        config,
        state_dir,
        data_dir,
    })
}

fn init_logging(
    state_dir: &std::path::Path,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::campaign::store::ensure_dir(state_dir).ok()?;
    let path = state_dir.join("upgrade-pilot.log");
    // Created 0600 before the appender opens it: logs may name databases and hosts.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    let appender = tracing_appender::rolling::never(state_dir, "upgrade-pilot.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPGRADE_PILOT_LOG")
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Parses arguments and runs; returns the exit code.
pub fn run() -> Result<i32> {
    // Everything this process and its children write (state, logs, backups,
    // reports) is for the operator alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let Some(command) = cli.command else {
        let engine = engine_from(&cli.global)?;
        let _guard = init_logging(&engine.state_dir);
        tracing::info!(command = "tui", server = %engine.conn.server(), "start");
        rt.block_on(crate::tui::run(engine))?;
        return Ok(0);
    };
    // compare keeps exit 1 for "something differs": its other failures exit 2.
    let is_compare = matches!(command, Command::Compare { .. });
    let early = |e: color_eyre::Report| -> Result<i32> {
        if is_compare {
            output::err(&format!("upgrade-pilot: {}", one_line_error(&e)));
            Ok(2)
        } else {
            Err(e)
        }
    };
    // Every database name given, checked before anything is made.
    for (flag, name) in command.db_names() {
        if let Err(e) = crate::pg::ident::check_db_name(name) {
            return early(eyre!("{flag}: {e}"));
        }
    }
    let engine = match engine_from(&cli.global) {
        Ok(e) => e,
        Err(e) => return early(e),
    };
    let _guard = init_logging(&engine.state_dir);
    tracing::info!(command = command.name(), server = %engine.conn.server(), "start");
    rt.block_on(async move {
        match command {
            Command::Inspect { db, json } => inspect::run(&engine, &db, json).await,
            Command::Test {
                db,
                target,
                plan,
                test_db,
                clone,
                discard,
                yes,
                json,
                detach,
                engine: engine_choice,
                dry_run,
            } => {
                if detach {
                    return detach::run(&engine, &db, json);
                }
                let clone = match clone {
                    Some(c) => c,
                    None => engine
                        .config
                        .clone
                        .method
                        .parse()
                        .map_err(|e: String| eyre!("config [clone] method: {e}"))?,
                };
                let req = crate::engine::test_job::TestRequest {
                    db,
                    target,
                    plan,
                    test_db,
                    clone,
                    discard,
                    engine: engine_choice.unwrap_or_default(),
                    dry_run,
                };
                test::run(&engine, req, yes, json).await
            }
            Command::Neutralize { db, yes } => neutralize::run(&engine, &db, yes).await,
            Command::Compare { db, test_db, json } => {
                compare::run(&engine, &db, &test_db, json).await
            }
            Command::Status { db, json } => status::run(&engine, db.as_deref(), json).await,
            Command::Backup { db, format, out } => {
                crate::pg::ident::check_db_name(&db)?;
                let (bytes, notes) = crate::engine::backup::backup_db(
                    &engine.conn,
                    &db,
                    format,
                    &out,
                    engine.data_dir.as_deref(),
                    engine.config.clone.jobs,
                )
                .await?;
                for n in notes {
                    output::err(&format!("  [warn] {n}"));
                }
                output::out(&format!(
                    "{} written ({})",
                    out.display(),
                    crate::odoo::inspect::human_size(bytes as i64)
                ));
                Ok(0)
            }
            Command::Report { db, out } => {
                let w = engine.report(&db, &out).await?;
                output::out(&format!(
                    "{} written: {} anomalie(s), {} attachment(s)",
                    w.dir.join("report.md").display(),
                    w.anomalies,
                    w.attachments
                ));
                if w.drafts > 0 {
                    output::out(&format!(
                        "  {} anomaly draft(s) from the upgrade log listed too: keep or drop them on the Anomalies screen or with upgrade-pilot anomalies --db {db} --keep N / --drop N",
                        w.drafts
                    ));
                }
                for m in &w.missing_files {
                    output::err(&format!("  attachment not found, left out: {m}"));
                }
                output::out(&w.ticket);
                Ok(0)
            }
            Command::Anomalies {
                db,
                keep,
                drop,
                json,
            } => {
                let settle = match (keep, drop) {
                    (Some(n), _) => Some(anomalies::Settle::Keep(n)),
                    (None, Some(n)) => Some(anomalies::Settle::Drop(n)),
                    (None, None) => None,
                };
                anomalies::run(&engine, &db, settle, json).await
            }
            Command::Freeze { db, yes } => production::freeze(&engine, &db, yes).await,
            Command::Unfreeze { db } => production::unfreeze(&engine, &db).await,
            Command::Production {
                db,
                target,
                plan,
                import,
                discard,
                allow_other_database,
                yes,
                json,
                detach,
                engine: engine_choice,
            } => {
                if detach {
                    return detach::run(&engine, &db, json);
                }
                let req = crate::engine::production::ProductionRequest {
                    db,
                    target,
                    plan,
                    import,
                    discard,
                    allow_other_database,
                    engine: engine_choice.unwrap_or_default(),
                };
                production::production(&engine, req, yes, json).await
            }
            Command::Restore { db, yes } => production::restore(&engine, &db, yes).await,
            Command::Rollback {
                db,
                stay_frozen,
                yes,
            } => production::rollback(&engine, &db, stay_frozen, yes).await,
            Command::Demo { keep } => demo::run(&cli.global, keep).await,
            Command::Doctor => doctor::run(&engine).await,
            Command::Serve { db, port } => serve::run(&engine, &db, port).await,
        }
    })
}

/// The error as one line: contexts joined by ": ", stopping at our own typed
/// errors, whose messages already carry their cause.
pub fn one_line_error(e: &color_eyre::Report) -> String {
    use crate::engine::EngineError;
    use crate::pg::conn::ConnError;
    let mut parts: Vec<String> = Vec::new();
    for c in e.chain() {
        parts.push(c.to_string());
        let ours = c.is::<EngineError>()
            || c.is::<ConnError>()
            || c.is::<crate::campaign::StoreError>()
            || c.is::<crate::odoo::inspect::InspectError>()
            || c.is::<crate::pg::ident::NameError>()
            || c.is::<crate::engine::plan::PlanError>()
            || c.is::<crate::engine::lock::LockError>()
            || c.is::<crate::odoo::compare::CompareError>();
        if ours {
            break;
        }
    }
    parts.join(": ").replace('\n', " ")
}

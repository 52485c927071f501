//! The OpenUpgrade engine against a real PostgreSQL, with the stand-in Odoo
//! (tests/standin/odoo-bin): derived hops, progress and verdict, failures kept
//! for diagnosis, anomaly drafts, doctor, serve.

mod common;
use common::*;

use std::path::{Path, PathBuf};

const DB: &str = "demo_manufacturing";
const SECRET: &str = "pw-8c1f-never-in-argv";

/// A series' Odoo tree: odoo-bin (the stand-in), odoo/release.py, addons with a
/// manifest per module, and an OpenUpgrade checkout. Returns the config file.
struct Odoo {
    root: PathBuf,
    config: PathBuf,
}

fn manifest(dir: &Path, name: &str, version: &str) {
    let m = dir.join(name);
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("__manifest__.py"),
        format!("{{\n    'name': '{name}',\n    'version': '{version}',\n}}\n"),
    )
    .unwrap();
}

fn odoo_tree(env: &Env, series: &str, release: &str, modules: &[String], extra: &str) -> Odoo {
    let root = env.dir.path().join(format!("odoo-{series}"));
    std::fs::create_dir_all(root.join("odoo")).unwrap();
    let bin = root.join("odoo-bin");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/odoo-bin"),
        &bin,
    )
    .unwrap();
    let (maj, min) = release.split_once('.').unwrap();
    std::fs::write(
        root.join("odoo/release.py"),
        format!("version_info = ({maj}, {min}, 0, FINAL, 0, '')\n"),
    )
    .unwrap();
    let addons = root.join("addons");
    std::fs::create_dir_all(&addons).unwrap();
    for m in modules {
        manifest(&addons, m, &format!("{series}.1.0"));
    }
    let ou = root.join("OpenUpgrade");
    manifest(&ou, "openupgrade_framework", &format!("{series}.1.0.0"));
    std::fs::create_dir_all(ou.join("openupgrade_scripts/scripts/base")).unwrap();
    let config = env.dir.path().join(format!("config-{series}.toml"));
    std::fs::write(
        &config,
        format!(
            "[odoo.\"{series}\"]\ncommand = [{:?}]\naddons_path = [{:?}]\nopenupgrade = {:?}\n{extra}",
            bin.display().to_string(),
            addons.display().to_string(),
            ou.display().to_string()
        ),
    )
    .unwrap();
    Odoo { root, config }
}

/// The demo database, a role `odoo` to run Odoo as (Odoo refuses postgres),
/// and a 17.0 tree holding every installed module.
fn setup(env: &Env) -> Odoo {
    env.demo_db(DB);
    env.exec(
        "postgres",
        &format!("CREATE ROLE odoo LOGIN SUPERUSER PASSWORD '{SECRET}'"),
    );
    // Role odoo must give its password (the stand-in's psql reads it from
    // PGPASSWORD, as Odoo's libpq does): a hop that lacked it would fail.
    env.cluster
        .set_hba(&["local all odoo scram-sha-256"])
        .unwrap();
    let modules: Vec<String> = env
        .sql(
            DB,
            "SELECT name::text FROM ir_module_module WHERE state = 'installed'",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    odoo_tree(env, "17.0", "17.0", &modules, "")
}

fn dsn_odoo(env: &Env) -> String {
    format!(
        "host={} port={} user=odoo",
        env.cluster.socket_dir().display(),
        env.cluster.port
    )
}

fn run_ou(
    env: &Env,
    odoo: &Odoo,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Output {
    let mut a: Vec<&str> = args.to_vec();
    let cfg = odoo.config.to_str().unwrap();
    a.extend(["--config", cfg]);
    let mut e = vec![("PGPASSWORD", SECRET)];
    e.extend_from_slice(extra_env);
    env.run_dsn(&dsn_odoo(env), &a, &e)
}

fn test_copy_args() -> Vec<&'static str> {
    vec![
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--engine",
        "openupgrade",
        "--yes",
        "--json",
    ]
}

/// The binary in the background, as `run_ou` runs it, its output piped.
fn spawn_ou(
    env: &Env,
    odoo: &Odoo,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> std::process::Child {
    std::process::Command::new(BIN)
        .args(args)
        .args(["--config", odoo.config.to_str().unwrap()])
        .args(["--dsn", &dsn_odoo(env)])
        .arg("--data-dir")
        .arg(env.data_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("UPGRADE_PILOT_STATE_DIR", env.state_dir())
        .env("PGPASSWORD", SECRET)
        .envs(extra_env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads a `serve`'s output until Odoo says it listens; that line.
fn listening(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("HTTP service (werkzeug) running") {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "Odoo ended before listening"
        );
    }
    // Drained meanwhile, so that Odoo never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    line
}

/// Running again does not pretend to resume a half-done hop; --discard starts
/// from a fresh copy, which goes through. Its JSON.
fn refused_then_fresh(env: &Env, odoo: &Odoo) -> serde_json::Value {
    let o = run_ou(env, odoo, &test_copy_args(), &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot resume a half-done hop"),
        "{}",
        stderr(&o)
    );
    let mut args = test_copy_args();
    args.push("--discard");
    let o = run_ou(env, odoo, &args, &[]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["hops"][0]["ok"], true);
    v
}

fn files_under(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn openupgrade_hop_makes_a_verified_neutralized_copy() {
    let env = Env::new();
    let odoo = setup(&env);
    let before = env.checksums(DB);
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert_ok(&o);
    let v = json(&o);
    let t = v["test_db"].as_str().unwrap().to_string();
    let installed: i64 = env.one(
        DB,
        "SELECT count(*) FROM ir_module_module WHERE state = 'installed'",
    );

    // The derived plan is recorded: one hop, the framework loaded, the scripts as upgrade path.
    let hop = &v["openupgrade"][0];
    assert_eq!(
        (hop["from"].as_str(), hop["to"].as_str()),
        (Some("16.0"), Some("17.0"))
    );
    let argv: Vec<String> = hop["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    for want in [
        "--load=base,web,openupgrade_framework".to_string(),
        format!(
            "--upgrade-path={}",
            odoo.root
                .join("OpenUpgrade/openupgrade_scripts/scripts")
                .display()
        ),
        format!("--database={t}"),
        format!("--data-dir={}", env.data_dir().display()),
        "--stop-after-init".into(),
        "--workers=0".into(),
    ] {
        assert!(argv.contains(&want), "{want} not in {argv:?}");
    }
    assert!(argv.windows(2).any(|w| w == ["-u", "all"]), "{argv:?}");

    // How the hop went: every module, from the database's point of view.
    let h = &v["hops"][0];
    assert_eq!(h["ok"], true, "{h}");
    assert_eq!(h["exit_code"], 0);
    assert_eq!(h["modules"].as_i64().unwrap(), installed);
    assert!(h["migrations"].as_i64().unwrap() > 0);
    assert_eq!(h["base_version"], "17.0.1.3");
    let log = PathBuf::from(h["log"].as_str().unwrap());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("odoo.modules.loading: Modules loaded."));

    // The copy: at 17.0, nothing pending, the hop's new cron switched off again
    // by our second neutralization and Odoo's own.
    assert_eq!(
        env.one::<String>(
            &t,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(env.one::<i64>(&t, "SELECT count(*) FROM ir_module_module WHERE latest_version LIKE '16.0.%' AND state = 'installed'"), 0);
    let crons: Vec<String> = env
        .sql(&t, "SELECT cron_name::text FROM ir_cron WHERE active")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(crons.len(), 1, "autovacuum only: {crons:?}");
    assert!(
        v["neutralized_again"]["crons"].as_i64().unwrap() >= 1,
        "the hop's new cron"
    );
    let on = v["odoo_neutralize"].as_str().unwrap();
    assert!(on.contains("Odoo 17.0's own neutralize ran"), "{on}");
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{}",
        v["checks"]
    );
    assert!(v["anomaly_drafts"].as_array().is_none_or(|a| a.is_empty()));

    // The source is untouched; the password is nowhere in what we wrote.
    assert_eq!(env.checksums(DB), before);
    for f in files_under(&env.state_dir()) {
        let body = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains(SECRET),
            "password in {}",
            f.display()
        );
    }
}

#[test]
fn dry_run_prints_the_derived_plan_and_makes_nothing() {
    let env = Env::new();
    let odoo = setup(&env);
    let dbs = env.databases();
    let o = run_ou(
        &env,
        &odoo,
        &[
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--engine",
            "openupgrade",
            "--dry-run",
        ],
        &[],
    );
    assert_ok(&o);
    let s = stdout(&o);
    assert!(s.contains("hop 1 of 1: 16.0 → 17.0"), "{s}");
    assert!(s.contains("OPENUPGRADE_TARGET_VERSION=17.0"), "{s}");
    assert!(s.contains("--load=base,web,openupgrade_framework"), "{s}");
    assert!(s.contains(" -u all --stop-after-init --workers=0"), "{s}");
    assert!(!s.contains(SECRET), "{s}");
    assert!(s.contains("nothing was made"));
    assert_eq!(env.databases(), dbs);
    let st = env.run_dsn(&dsn_odoo(&env), &["status", "--json"], &[]);
    assert!(
        !stdout(&st).contains("_test_17.0_"),
        "no job registered: {}",
        stdout(&st)
    );
}

#[test]
fn preflight_refuses_a_missing_series_or_filestore_before_copying() {
    let env = Env::new();
    let odoo = setup(&env);
    let dbs = env.databases();
    let o = run_ou(
        &env,
        &odoo,
        &[
            "test",
            "--db",
            DB,
            "--target",
            "18.0",
            "--engine",
            "openupgrade",
            "--yes",
        ],
        &[],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("no Odoo 18.0 configured: add [odoo.\"18.0\"]"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");

    std::fs::remove_dir_all(upgrade_pilot::odoo::filestore::path(&env.data_dir(), DB)).unwrap();
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no filestore at"), "{}", stderr(&o));
    assert_eq!(env.databases(), dbs, "nothing copied");
}

#[test]
fn a_failed_hop_leaves_the_copy_drafts_anomalies_and_is_never_resumed() {
    let env = Env::new();
    let odoo = setup(&env);
    let o = run_ou(&env, &odoo, &test_copy_args(), &[("STANDIN_FAIL", "sale")]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("OpenUpgrade hop 16.0 → 17.0 failed: Odoo exited with 255"),
        "{e}"
    );
    assert!(e.contains("is left as it is for diagnosis"), "{e}");
    let copy = env
        .databases()
        .into_iter()
        .find(|d| d.starts_with("demo_manufacturing_test_17.0_"))
        .expect("the failed copy is kept");
    // Half-migrated: base at 17.0, sale and the modules after it still 16.0.
    assert_eq!(
        env.one::<String>(
            &copy,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert!(
        env.one::<String>(
            &copy,
            "SELECT latest_version FROM ir_module_module WHERE name = 'sale'"
        )
        .starts_with("16.0.")
    );

    // The errors of the module are one draft, with the traceback.
    let camp = files_under(&env.state_dir().join("campaigns"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(camp).unwrap()).unwrap();
    let drafts = c["anomaly_drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    assert_eq!(drafts[0]["module"], "sale");
    assert_eq!(drafts[0]["hop"], "16.0 → 17.0");
    assert_eq!(drafts[0]["failed_hop"], true);
    let ex = drafts[0]["excerpt"].as_str().unwrap();
    assert!(
        ex.contains("error in migration script") && ex.contains("UndefinedColumn"),
        "{ex}"
    );
    assert!(ex.contains("Failed to load registry"), "{ex}");

    // `report` lists the draft.
    let out = env.dir.path().join("report");
    let r = run_ou(
        &env,
        &odoo,
        &["report", "--db", DB, "--out", out.to_str().unwrap()],
        &[],
    );
    assert_ok(&r);
    assert!(stdout(&r).contains("1 anomaly draft(s)"), "{}", stdout(&r));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("OpenUpgrade 16.0 → 17.0: sale: error in migration script"),
        "{md}"
    );

    let v = refused_then_fresh(&env, &odoo);
    let t = v["test_db"].as_str().unwrap();
    assert_eq!(
        env.one::<String>(
            t,
            "SELECT latest_version FROM ir_module_module WHERE name = 'sale'"
        ),
        "17.0.1.2"
    );
}

#[test]
fn a_module_left_pending_fails_the_hop_even_with_exit_0() {
    let env = Env::new();
    let odoo = setup(&env);
    let o = run_ou(
        &env,
        &odoo,
        &test_copy_args(),
        &[("STANDIN_PENDING", "stock")],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("modules left pending: stock (to upgrade)"),
        "{e}"
    );
    assert!(!e.contains("exited with"), "Odoo itself exited 0: {e}");
}

#[test]
fn preflight_refuses_role_postgres_and_the_stand_in_too() {
    let env = Env::new();
    let odoo = setup(&env);
    let cfg = std::fs::read_to_string(&odoo.config).unwrap() + "db_user = \"postgres\"\n";
    std::fs::write(&odoo.config, cfg).unwrap();
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Odoo refuses to connect as role postgres"),
        "{}",
        stderr(&o)
    );
    // The stand-in refuses it as Odoo does.
    let s = std::process::Command::new(odoo.root.join("odoo-bin"))
        .args([
            "--database=x",
            "--db_user=postgres",
            "-u",
            "all",
            "--stop-after-init",
        ])
        .output()
        .unwrap();
    assert_eq!(s.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&s.stderr).contains("security risk, aborting"));
}

#[test]
fn doctor_explains_a_wrong_configuration_one_line_per_problem() {
    let env = Env::new();
    let odoo = setup(&env);
    let pylib = env.dir.path().join("pylib/openupgradelib");
    std::fs::create_dir_all(&pylib).unwrap();
    std::fs::write(pylib.join("__init__.py"), "").unwrap();
    let pp = env.dir.path().join("pylib");
    let ok = run_ou(
        &env,
        &odoo,
        &["doctor"],
        &[("PYTHONPATH", pp.to_str().unwrap())],
    );
    assert_ok(&ok);
    assert!(stdout(&ok).starts_with("Odoo 17.0: ok"), "{}", stdout(&ok));

    // An 18.0 entry pointing at a 17.0 tree, with a missing addons folder,
    // no OpenUpgrade scripts, role postgres, and no openupgradelib.
    let wrong = odoo_tree(&env, "18.0", "17.0", &[], "db_user = \"postgres\"\n");
    std::fs::remove_dir_all(wrong.root.join("OpenUpgrade/openupgrade_scripts")).unwrap();
    let mut cfg = std::fs::read_to_string(&wrong.config).unwrap();
    cfg = cfg.replace("addons\"]", "addons\", \"/nonexistent/addons\"]");
    std::fs::write(&wrong.config, cfg).unwrap();
    let o = run_ou(&env, &wrong, &["doctor"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let has = |s: &str| {
        lines
            .iter()
            .any(|l| l.starts_with("Odoo 18.0: ") && l.contains(s))
    };
    assert!(
        has("addons path /nonexistent/addons does not exist"),
        "{lines:?}"
    );
    assert!(has("has no openupgrade_scripts/scripts"), "{lines:?}");
    assert!(has("role postgres"), "{lines:?}");
    assert!(has("odoo/release.py says 17.0, not 18.0"), "{lines:?}");
    assert!(
        has("the program says it is Odoo 17.0, not 18.0"),
        "{lines:?}"
    );
    assert!(
        has("Python package openupgradelib does not import"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 6, "one line per problem: {lines:?}");
}

#[test]
fn serve_opens_only_a_neutralized_copy_on_localhost_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = Env::new();
    let odoo = setup(&env);
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert_ok(&o);
    let t = json(&o)["test_db"].as_str().unwrap().to_string();

    // Production (a campaign's source) and a non-neutralized db are refused.
    let o = run_ou(&env, &odoo, &["serve", "--db", DB], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("holds production data"),
        "{}",
        stderr(&o)
    );
    env.exec(
        "postgres",
        &format!("CREATE DATABASE plain17 TEMPLATE \"{t}\""),
    );
    env.exec(
        "plain17",
        "UPDATE ir_config_parameter SET value = 'false' WHERE key = 'database.is_neutralized'",
    );
    let o = run_ou(&env, &odoo, &["serve", "--db", "plain17"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not neutralized"), "{}", stderr(&o));

    let mut child = spawn_ou(&env, &odoo, &["serve", "--db", &t], &[]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let mut second = String::new();
    out.read_line(&mut second).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect(&first)
        .to_string();
    let port: u16 = url["http://127.0.0.1:".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        second.contains(&format!("ssh -N -L {port}:127.0.0.1:{port} ")),
        "{second}"
    );
    // Odoo answers once it says it listens, for this database only.
    listening(&mut child);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /web HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.contains(&format!("serving {t}")), "{body}");
    assert!(body.contains("list off"), "no database manager: {body}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "Odoo stopped with us"
    );
}

#[test]
fn production_runs_the_same_hops_without_neutralizing() {
    let env = Env::new();
    let odoo = setup(&env);
    assert_ok(&run_ou(&env, &odoo, &["freeze", "--db", DB, "--yes"], &[]));
    let o = run_ou(
        &env,
        &odoo,
        &[
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--engine",
            "openupgrade",
            "--yes",
            "--json",
        ],
        &[],
    );
    assert_ok(&o);
    let v = json(&o);
    let up = v["upgraded_db"].as_str().unwrap();
    let h = &v["hops"][0];
    assert_eq!(h["ok"], true, "{h}");
    assert!(h["seconds"].as_f64().unwrap() > 0.0);
    assert!(
        PathBuf::from(h["log"].as_str().unwrap()).is_file(),
        "the hop's log is kept"
    );
    assert_eq!(
        env.one::<String>(
            up,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    // The future production: the hop's new cron stays on, nothing neutralized.
    let active: i64 = env.one(up, "SELECT count(*) FROM ir_cron WHERE active");
    assert!(active > 1, "{active}");
    assert_eq!(
        env.one::<i64>(up, "SELECT count(*) FROM ir_config_parameter WHERE key = 'database.is_neutralized' AND value = 'true'"),
        0
    );
}

/// A plan command that needs `{data_dir}` used to fail only after the clone,
/// leaving a failed copy: it is refused at preflight now.
#[test]
fn a_plan_needing_the_data_dir_is_refused_before_copying() {
    let env = Env::new();
    env.demo_db(DB);
    let dir = env.dir.path().join("plan");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"needs data dir\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"odoo\"\ncommand = [\"/bin/true\", \"--data-dir={data_dir}\"]\n",
    )
    .unwrap();
    let dbs = env.databases();
    let o = std::process::Command::new(BIN)
        .args(["test", "--db", DB, "--target", "17.0", "--plan"])
        .arg(dir.join("plan.toml"))
        .args(["--dsn", &env.dsn()])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("UPGRADE_PILOT_STATE_DIR", env.state_dir())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("plan step \"odoo\" needs Odoo's data dir"),
        "{}",
        stderr(&o)
    );
    assert_eq!(env.databases(), dbs, "nothing copied");
}

#[test]
fn preflight_lists_modules_the_target_cannot_migrate() {
    let env = Env::new();
    let odoo = setup(&env);
    std::fs::remove_dir_all(odoo.root.join("addons/crm")).unwrap();
    manifest(&odoo.root.join("addons"), "acme_invoice_layout", "16.0.1.0");
    let dry_run = || {
        let args = [
            "test",
            "--db",
            DB,
            "--target",
            "17.0",
            "--engine",
            "openupgrade",
            "--dry-run",
        ];
        let o = run_ou(&env, &odoo, &args, &[]);
        assert_ok(&o);
        stdout(&o)
    };
    let s = dry_run();
    assert!(s.contains("[warn] 1 installed module(s) not on Odoo 17.0's addons path, which cannot migrate them: crm"), "{s}");
    assert!(s.contains("[warn] 1 custom module(s) without a 17.0 version in their manifest (not ported yet?): acme_invoice_layout"), "{s}");
    // Only base has a script in the stand-in's OpenUpgrade, and no coverage table is there (as in the wheels).
    assert!(
        s.contains("[info] 22 of 23 installed standard module(s) have no OpenUpgrade 17.0 script"),
        "{s}"
    );
    assert!(
        s.contains("docsource/modules160-170.rst in OpenUpgrade's git checkout"),
        "{s}"
    );

    // What OpenUpgrade renames or merges is not missing; its coverage table says what it covers.
    let ou = odoo.root.join("OpenUpgrade");
    std::fs::remove_dir_all(odoo.root.join("addons/fetchmail")).unwrap();
    std::fs::write(
        ou.join("openupgrade_scripts/apriori.py"),
        "renamed_modules = {\n}\n\nmerged_modules = {\n    # odoo\n    \"fetchmail\": \"mail\",\n    \"crm\": \"crm_gone\",\n}\n",
    )
    .unwrap();
    std::fs::create_dir_all(ou.join("openupgrade_scripts/scripts/account/17.0.1.2")).unwrap();
    std::fs::create_dir_all(ou.join("docsource")).unwrap();
    std::fs::write(
        ou.join("docsource/modules160-170.rst"),
        "Module coverage 16.0 -> 17.0\n\n\
         +------+------+------+\n\
         | Module | Status + Extra Information |\n\
         +======+======+======+\n\
         | account | | |\n\
         | base | Done | |\n\
         | |del| fetchmail | | Merged into mail. |\n\
         | sale | Nothing to do | |\n\
         | stock | | No DB layout changes. |\n\
         | website | Partial: no theme data | |\n",
    )
    .unwrap();
    let s = dry_run();
    // crm's merge target is not there: still missing.
    assert!(s.contains("[warn] 1 installed module(s) not on Odoo 17.0's addons path, which cannot migrate them: crm"), "{s}");
    assert!(s.contains("[info] 1 installed module(s) renamed or merged by OpenUpgrade 17.0 (apriori.py): fetchmail → mail"), "{s}");
    assert!(s.contains("[info] OpenUpgrade 17.0 coverage of 22 installed standard module(s) (modules160-170.rst): 1 done, 1 nothing to do, 1 not covered yet, 1 other, 18 unmarked with a script or not listed"), "{s}");
    assert!(s.contains("[warn] 1 installed module(s) not covered yet by OpenUpgrade 17.0 (empty status in modules160-170.rst, no script): their data is only what Odoo's -u makes of it: stock"), "{s}");
    assert!(
        s.contains("[info] OpenUpgrade 17.0 says of website: Partial: no theme data"),
        "{s}"
    );
}

/// The real 16.0 fixture (100 modules, made by Odoo) through a 17.0 hop of the
/// stand-in: the figures of the note (`--nocapture` prints them).
#[test]
fn the_real_16_fixture_through_a_17_hop() {
    let Some(dir) = std::env::var_os("UPGRADE_PILOT_FIXTURES").map(PathBuf::from) else {
        eprintln!("skipped: UPGRADE_PILOT_FIXTURES does not name the fixtures folder");
        return;
    };
    let env = Env::new();
    let db = "odoo16_real";
    env.exec("postgres", &format!("CREATE DATABASE {db}"));
    let restore = std::process::Command::new(
        upgrade_pilot::pg::tools::client_tool("pg_restore", 15).unwrap(),
    )
    .envs(env.conn().child_env())
    .args(["--no-owner", "--no-privileges", "-d", db])
    .arg(dir.join("odoo16_real.dump"))
    .output()
    .unwrap();
    assert!(
        restore.status.success()
            || String::from_utf8_lossy(&restore.stderr).contains("errors ignored")
    );
    let fs = env.data_dir().join("filestore");
    std::fs::create_dir_all(&fs).unwrap();
    let tar = std::process::Command::new("tar")
        .arg("xzf")
        .arg(dir.join("odoo16_real.filestore.tar.gz"))
        .arg("-C")
        .arg(&fs)
        .status()
        .unwrap();
    assert!(tar.success());
    env.exec("postgres", "CREATE ROLE odoo LOGIN SUPERUSER");
    let modules: Vec<String> = env
        .sql(
            db,
            "SELECT name::text FROM ir_module_module WHERE state = 'installed'",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    let odoo = odoo_tree(&env, "17.0", "17.0", &modules, "");
    let o = run_ou(
        &env,
        &odoo,
        &[
            "test",
            "--db",
            db,
            "--target",
            "17.0",
            "--engine",
            "openupgrade",
            "--yes",
            "--json",
        ],
        &[],
    );
    assert_ok(&o);
    let v = json(&o);
    let h = &v["hops"][0];
    assert_eq!(h["ok"], true, "{h}");
    assert_eq!(h["modules"].as_u64().unwrap() as usize, modules.len());
    let t = v["test_db"].as_str().unwrap();
    assert_eq!(
        env.one::<String>(
            t,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert!(v["odoo_neutralize"].as_str().unwrap().contains("ran"));
    eprintln!("figures: {} modules installed", modules.len());
    for s in v["steps"].as_array().unwrap() {
        eprintln!(
            "figures: step {:<17} {:>7.2}s",
            s["name"].as_str().unwrap(),
            s["seconds"].as_f64().unwrap_or(0.0)
        );
    }
    eprintln!(
        "figures: hop {} s, {} migrations, {} warnings, {} errors; neutralized {} then {} rows",
        h["seconds"],
        h["migrations"],
        h["warnings"],
        h["errors"],
        v["neutralized"]
            .as_object()
            .map(|o| o.values().filter_map(|x| x.as_i64()).sum::<i64>())
            .unwrap_or(0),
        v["neutralized_again"]
            .as_object()
            .map(|o| o.values().filter_map(|x| x.as_i64()).sum::<i64>())
            .unwrap_or(0),
    );
}

/// The PID field of an Odoo log line (`DATE TIME PID LEVEL DB LOGGER: MSG`).
fn log_pid(line: &str) -> Option<i32> {
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Gone or a zombie nobody reaped yet: either way it runs no more.
fn runs(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // `pid (comm) S …`: the state follows the last ')'.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
    }
}

/// Waits (bounded) until `pid` no longer runs; false when it still does.
fn ends_within(pid: i32, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while runs(pid) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}

/// Waits (bounded) for a line of a log under `<state>/logs` whose name has
/// `name`; the PID of the Odoo that wrote it.
fn pid_in_log(state: &Path, name: &str, want: impl Fn(&str) -> bool) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let found = files_under(&state.join("logs"))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(name))
            .find_map(|p| {
                let text = std::fs::read_to_string(p).ok()?;
                text.lines().find(|l| want(l)).and_then(log_pid)
            });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such line in a {name} log"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn sigkill(child: &mut std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
}

#[test]
fn a_sigkilled_serve_takes_its_odoo_along() {
    let env = Env::new();
    let odoo = setup(&env);
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert_ok(&o);
    let t = json(&o)["test_db"].as_str().unwrap().to_string();
    let mut child = spawn_ou(&env, &odoo, &["serve", "--db", &t], &[]);
    let line = listening(&mut child);
    let odoo_pid = log_pid(&line).expect(&line);
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(runs(odoo_pid));

    // No Ctrl-C, no cleanup code of ours: the kernel's parent-death signal.
    sigkill(&mut child);
    assert!(
        ends_within(odoo_pid, 10),
        "Odoo {odoo_pid} outlived a SIGKILLed serve"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nobody serves the copy any more"
    );
}

#[test]
fn a_sigkilled_job_takes_its_hop_along_and_the_copy_is_never_hopped_twice() {
    let env = Env::new();
    let odoo = setup(&env);
    let mut child = spawn_ou(&env, &odoo, &test_copy_args(), &[("STANDIN_PACE", "0.5")]);
    // Slow enough to be caught mid-hop; nobody reads what it says.
    drop((child.stdout.take(), child.stderr.take()));
    // The hop has begun once its log names a module past base.
    let odoo_pid = pid_in_log(&env.state_dir(), "hop.log", |l| {
        l.contains("Loading module") && l.contains("(2/")
    });
    sigkill(&mut child);
    assert!(
        ends_within(odoo_pid, 10),
        "the hop {odoo_pid} goes on writing a copy nobody follows"
    );

    // The copy is half-done: a rerun refuses it rather than hop it again, and
    // --discard hops a fresh copy, once.
    let v = refused_then_fresh(&env, &odoo);
    assert_eq!(v["hops"].as_array().unwrap().len(), 1);
}

#[test]
fn anomaly_drafts_are_kept_or_dropped_headless() {
    let env = Env::new();
    let odoo = setup(&env);
    let campaign = |env: &Env| -> serde_json::Value {
        let o = run_ou(env, &odoo, &["anomalies", "--db", DB, "--json"], &[]);
        assert_ok(&o);
        json(&o)
    };
    // Two failed hops (a fresh copy each): one draft each.
    let o = run_ou(&env, &odoo, &test_copy_args(), &[("STANDIN_FAIL", "sale")]);
    assert!(!o.status.success());
    let mut again = test_copy_args();
    again.push("--discard");
    let o = run_ou(&env, &odoo, &again, &[("STANDIN_FAIL", "stock")]);
    assert!(!o.status.success());
    let c = campaign(&env);
    let modules: Vec<&str> = c["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["module"].as_str().unwrap())
        .collect();
    assert_eq!(modules, ["sale", "stock"]);

    let list = run_ou(&env, &odoo, &["anomalies", "--db", DB], &[]);
    assert_ok(&list);
    let s = stdout(&list);
    assert!(s.contains("0 anomalie(s), 2 draft(s)"), "{s}");
    assert!(
        s.contains("draft 1   OpenUpgrade 16.0 → 17.0: sale: error in migration script"),
        "{s}"
    );

    // A draft that is not there: one line, nothing changed.
    let o = run_ou(&env, &odoo, &["anomalies", "--db", DB, "--keep", "7"], &[]);
    assert_refused(&o, "no draft 7");
    assert_eq!(campaign(&env)["drafts"].as_array().unwrap().len(), 2);

    let o = run_ou(&env, &odoo, &["anomalies", "--db", DB, "--keep", "1"], &[]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("draft 1 kept as anomaly #1"),
        "{}",
        stdout(&o)
    );
    let o = run_ou(&env, &odoo, &["anomalies", "--db", DB, "--drop", "2"], &[]);
    assert_ok(&o);
    assert!(stdout(&o).contains("draft 2 dropped"), "{}", stdout(&o));

    let c = campaign(&env);
    assert!(c["drafts"].as_array().unwrap().is_empty(), "{c}");
    let a = c["anomalies"].as_array().unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["area"], "upgrade: sale");
    assert_eq!(a[0]["severity"], "blocking", "its hop failed");
    // The kept one is in the report; the dropped one nowhere.
    let out = env.dir.path().join("report");
    let r = run_ou(
        &env,
        &odoo,
        &["report", "--db", DB, "--out", out.to_str().unwrap()],
        &[],
    );
    assert_ok(&r);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("sale: error in migration script"), "{md}");
    assert!(!md.contains("stock: error in migration script"), "{md}");
}

#[test]
fn a_sigkilled_tui_takes_the_odoo_it_serves_along() {
    use std::io::Write;
    let env = Env::new();
    let odoo = setup(&env);
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert_ok(&o);
    let t = json(&o)["test_db"].as_str().unwrap().to_string();
    let (dsn, data_dir, state) = (dsn_odoo(&env), env.data_dir(), env.state_dir());
    let home = env.dir.path().to_str().unwrap().to_string();
    let args = [
        "--dsn",
        dsn.as_str(),
        "--config",
        odoo.config.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    let vars = [
        ("HOME", home.as_str()),
        ("UPGRADE_PILOT_STATE_DIR", state.to_str().unwrap()),
        ("PGPASSWORD", SECRET),
    ];
    let (mut child, mut keys, screen, _pty) = common::pty::spawn(&args, &vars, env.dir.path());
    screen.wait_for(&format!("Checklist: test {t}"), 60);
    keys.write_all(b"3").unwrap();
    screen.wait_for("Test database ready", 30);
    keys.write_all(b"s").unwrap();
    screen.wait_for(&format!("serving {t} with Odoo 17.0"), 30);
    // Where to open it stays on the screen.
    let text = screen.wait_for("over ssh ssh -N -L ", 10);
    assert!(text.contains("open     http://127.0.0.1:"), "{text}");
    // Its output goes to the serve log, where Odoo says it listens.
    let odoo_pid = pid_in_log(&state, "serve-", |l| {
        l.contains("HTTP service (werkzeug) running")
    });
    assert!(runs(odoo_pid));
    let tui = child.process_id().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tui),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    assert!(
        ends_within(odoo_pid, 10),
        "Odoo {odoo_pid} outlived a SIGKILLed TUI"
    );
}

/// As in the real 16.0 → 17.0 hop: the framework drops the demo data after the
/// modules are loaded, a demo partner still referenced stays and is logged as
/// an ERROR. The hop succeeds; the errors become one draft, outside any module.
#[test]
fn errors_a_hop_recovers_from_are_a_draft_not_a_failure() {
    let env = Env::new();
    let odoo = setup(&env);
    env.exec(
        DB,
        "INSERT INTO res_partner (name) VALUES ('Demo Spare'); \
         INSERT INTO ir_model_data (module, name, model, res_id) VALUES \
           ('base', 'res_partner_12', 'res.partner', (SELECT partner_id FROM sale_order WHERE partner_id IS NOT NULL ORDER BY id LIMIT 1)), \
           ('base', 'res_partner_13', 'res.partner', (SELECT max(id) FROM res_partner))",
    );
    let kept: i32 = env.one(
        DB,
        "SELECT res_id FROM ir_model_data WHERE name = 'res_partner_12'",
    );
    let spare: i32 = env.one(
        DB,
        "SELECT res_id FROM ir_model_data WHERE name = 'res_partner_13'",
    );
    let o = run_ou(&env, &odoo, &test_copy_args(), &[]);
    assert_ok(&o);
    let v = json(&o);
    let t = v["test_db"].as_str().unwrap();
    assert_eq!(v["hops"][0]["ok"], true, "{}", v["hops"][0]);
    assert_eq!(v["hops"][0]["errors"], 1);
    let drafts = v["anomaly_drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    assert!(drafts[0]["module"].is_null(), "{}", drafts[0]);
    assert_eq!(drafts[0]["failed_hop"], false);
    let ex = drafts[0]["excerpt"].as_str().unwrap();
    assert!(
        ex.contains(&format!(
            "bad query: DELETE FROM \"res_partner\" WHERE id IN ({kept})"
        )),
        "{ex}"
    );
    assert!(ex.contains("violates foreign key constraint"), "{ex}");
    // The referenced partner stayed, the spare one went.
    let left = |id: i32| {
        env.one::<i64>(
            t,
            &format!("SELECT count(*) FROM res_partner WHERE id = {id}"),
        )
    };
    assert_eq!((left(kept), left(spare)), (1, 0));
}

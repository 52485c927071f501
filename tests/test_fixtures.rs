//! The test upgrade on real Odoo databases (../shared/fixtures, through
//! UPGRADE_PILOT_FIXTURES): it must succeed, leave the source byte-for-byte
//! unchanged, and neutralize at least as Odoo's own `odoo-bin neutralize` does.

mod common;
use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use upgrade_pilot::pg::tools::client_tool;

fn fixtures() -> Option<PathBuf> {
    match std::env::var_os("UPGRADE_PILOT_FIXTURES") {
        Some(d) if Path::new(&d).is_dir() => Some(PathBuf::from(d)),
        _ => {
            eprintln!("skipped: UPGRADE_PILOT_FIXTURES does not name the fixtures folder");
            None
        }
    }
}

fn tool(name: &str) -> PathBuf {
    client_tool(name, 15).unwrap_or_else(|e| panic!("{e}"))
}

fn client_cmd(env: &Env, prog: &str) -> Command {
    let mut c = Command::new(tool(prog));
    c.envs(env.conn().child_env());
    c
}

fn psql_file(env: &Env, db: &str, file: &Path) {
    let o = client_cmd(env, "psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-f"])
        .arg(file)
        .args(["-d", db])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Loads a fixture as `db` (and its filestore), in any of the published formats.
fn load(env: &Env, file: &Path, db: &str) {
    env.exec("postgres", &format!("CREATE DATABASE \"{db}\""));
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    if name.ends_with(".dump") {
        // Owner statements name roles that do not exist here; the data is what matters.
        let o = client_cmd(env, "pg_restore")
            .args(["--no-owner", "--no-privileges", "-d", db])
            .arg(file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || err.contains("errors ignored on restore"),
            "pg_restore: {err}"
        );
    } else if name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(file).unwrap()).unwrap();
        let sql = env.dir.path().join(format!("{db}.sql"));
        std::io::copy(
            &mut zip.by_name("dump.sql").unwrap(),
            &mut std::fs::File::create(&sql).unwrap(),
        )
        .unwrap();
        psql_file(env, db, &sql);
        let fs_root = env.data_dir().join("filestore").join(db);
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let Some(rel) = f.enclosed_name() else {
                continue;
            };
            let Ok(rel) = rel.strip_prefix("filestore") else {
                continue;
            };
            if f.is_dir() || rel.as_os_str().is_empty() {
                continue;
            }
            let to = fs_root.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let mut buf = Vec::new();
            f.read_to_end(&mut buf).unwrap();
            std::fs::write(to, buf).unwrap();
        }
    } else if name.ends_with(".sql.gz") {
        env.exec(
            "postgres",
            "DO $$ BEGIN CREATE ROLE odoo17; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        );
        let sql = env.dir.path().join(format!("{db}.sql"));
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap());
        std::io::copy(&mut gz, &mut std::fs::File::create(&sql).unwrap()).unwrap();
        psql_file(env, db, &sql);
    } else {
        panic!("unknown fixture format {name}");
    }
}

fn untar_filestore(env: &Env, tarball: &Path, folder: &str, db: &str) {
    let dest = env.data_dir().join("filestore");
    std::fs::create_dir_all(&dest).unwrap();
    let o = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    if folder != db {
        std::fs::rename(dest.join(folder), dest.join(db)).unwrap();
    }
}

/// Production has an active outgoing mail server; the published dumps have none.
fn make_live(env: &Env, db: &str) {
    // smtp_authentication exists from 15.0 on.
    let has_auth = env.one::<bool>(db, "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'ir_mail_server' AND column_name = 'smtp_authentication')");
    let (col, val) = if has_auth {
        (", smtp_authentication", ", 'login'")
    } else {
        ("", "")
    };
    env.exec(
        db,
        &format!(
            "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption{col}, active, sequence) \
             SELECT 'Production SMTP', 'smtp.example.com', 587, 'starttls'{val}, true, 10 \
             WHERE NOT EXISTS (SELECT 1 FROM ir_mail_server WHERE active)"
        ),
    );
}

fn rows(env: &Env, db: &str, q: &str) -> Vec<String> {
    env.sql(
        db,
        &format!("SELECT row_to_json(x)::text FROM ({q}) x ORDER BY 1"),
    )
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Runs the test upgrade and returns the test db, checking the source did not change.
fn test_upgrade(env: &Env, db: &str, from: &str, to: &str) -> String {
    let plan = version_bump_plan(env.dir.path(), from, to);
    let before = env.checksums(db);
    let files_before = file_list(&env.data_dir().join("filestore").join(db));
    let o = env.run(&[
        "test",
        "--db",
        db,
        "--target",
        to,
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&o);
    let v = json(&o);
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{}",
        v["checks"]
    );
    assert_eq!(
        env.checksums(db),
        before,
        "the source is byte-for-byte unchanged"
    );
    assert_eq!(
        file_list(&env.data_dir().join("filestore").join(db)),
        files_before
    );
    let test_db = v["test_db"].as_str().unwrap().to_string();
    assert_eq!(
        file_list(&env.data_dir().join("filestore").join(&test_db)),
        files_before,
        "filestore carried along"
    );
    // Query-level proof: nothing can go out.
    let t = test_db.as_str();
    assert_eq!(
        env.one::<i64>(
            t,
            "SELECT count(*) FROM ir_mail_server WHERE active AND smtp_host <> 'invalid'"
        ),
        0
    );
    assert_eq!(env.one::<i64>(t, "SELECT count(*) FROM ir_cron WHERE active AND id NOT IN (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'autovacuum_job')"), 0);
    assert_eq!(
        env.one::<String>(
            t,
            "SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'"
        ),
        "http://localhost:8069"
    );
    assert_ne!(
        env.one::<Option<String>>(
            t,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        ),
        env.one::<Option<String>>(
            db,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        ),
    );
    test_db
}

fn file_list(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    fn walk(base: &Path, p: &Path, out: &mut Vec<(String, u64)>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push((
                    path.strip_prefix(base).unwrap().display().to_string(),
                    e.metadata().unwrap().len(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Our copy against Odoo's own `odoo-bin neutralize` of the same database, on
/// every row the fixture README lists.
fn compare_with_odoo(env: &Env, ours: &str, oracle: &str) {
    let same = |q: &str| {
        assert_eq!(
            rows(env, ours, q),
            rows(env, oracle, q),
            "differs from Odoo's neutralization: {q}"
        );
    };
    same("SELECT name, smtp_host, smtp_port, active FROM ir_mail_server");
    same("SELECT name, server, active FROM fetchmail_server");
    same("SELECT id, active FROM ir_cron");
    same("SELECT id, code, state FROM payment_provider");
    same("SELECT id, delivery_type, prod_environment, active FROM delivery_carrier");
    same("SELECT key, value FROM ir_config_parameter WHERE key = 'database.is_neutralized'");
    same(
        "SELECT key, active FROM ir_ui_view WHERE key IN ('web.neutralize_banner', 'website.neutralize_ribbon')",
    );
    same("SELECT id, domain, coalesce(cdn_activated, false) AS cdn, robots_txt FROM website");
    same("SELECT id, service_name, account_token FROM iap_account");
    same("SELECT id, name, coalesce(enabled, false) AS enabled FROM auth_oauth_provider");
    // What Odoo's command leaves and a test copy must not keep.
    for key in [
        "database.uuid",
        "database.secret",
        "web.base.url",
        "mail.catchall.domain",
    ] {
        let q = format!("SELECT value FROM ir_config_parameter WHERE key = '{key}'");
        assert_ne!(
            rows(env, ours, &q),
            rows(env, oracle, &q),
            "{key} must be reset"
        );
    }
    assert_eq!(env.one::<i64>(ours, "SELECT count(*) FROM payment_provider WHERE stripe_secret_key IS NOT NULL AND state <> 'test'"), 0);
}

fn real_case(n: u32) {
    let Some(dir) = fixtures() else { return };
    let env = Env::new();
    let db = format!("odoo{n}_real");
    load(&env, &dir.join(format!("odoo{n}_real.dump")), &db);
    untar_filestore(
        &env,
        &dir.join(format!("odoo{n}_real.filestore.tar.gz")),
        &db,
        &db,
    );
    let from = format!("{n}.0");
    let to = format!("{}.0", n + 1);
    let test_db = test_upgrade(&env, &db, &from, &to);
    load(
        &env,
        &dir.join(format!("odoo{n}_neutralized_by_odoo.dump")),
        "oracle",
    );
    compare_with_odoo(&env, &test_db, "oracle");
    // Production still can do everything.
    assert_eq!(
        env.one::<i64>(&db, "SELECT count(*) FROM ir_mail_server WHERE active"),
        1
    );
    assert_eq!(
        env.one::<String>(
            &db,
            "SELECT state FROM payment_provider WHERE code = 'stripe'"
        ),
        "enabled"
    );
}

#[test]
fn odoo16_real_matches_odoo_neutralize() {
    real_case(16);
}

#[test]
fn odoo17_real_matches_odoo_neutralize() {
    real_case(17);
}

fn published_case(
    file: &str,
    db: &str,
    from: &str,
    to: &str,
    filestore: Option<(&str, &str)>,
) -> Option<(Env, String)> {
    let dir = fixtures()?;
    let env = Env::new();
    load(&env, &dir.join(file), db);
    if let Some((tarball, folder)) = filestore {
        untar_filestore(&env, &dir.join(tarball), folder, db);
    }
    make_live(&env, db);
    let t = test_upgrade(&env, db, from, to);
    Some((env, t))
}

#[test]
fn odoo15_payment_acquirer_disabled() {
    let Some((env, t)) = published_case("odoo15_treeper.dump", "treeper", "15.0", "16.0", None)
    else {
        return;
    };
    assert_eq!(
        env.one::<i64>(
            &t,
            "SELECT count(*) FROM payment_acquirer WHERE state NOT IN ('test', 'disabled')"
        ),
        0
    );
    assert_eq!(
        env.one::<i64>("treeper", "SELECT count(*) FROM payment_acquirer"),
        14
    );
}

#[test]
fn odoo12_with_filestore() {
    let Some((env, t)) = published_case(
        "odoo12_oow-wizard_test.dump",
        "oow",
        "12.0",
        "13.0",
        Some(("odoo12_oow-wizard_filestore.tar.gz", "filestore")),
    ) else {
        return;
    };
    assert_eq!(
        env.one::<String>(
            &t,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "13.0.1.3"
    );
}

#[test]
fn odoo17_backup_zips_and_plain_sql() {
    for (file, db) in [
        ("odoo17_jruvalcabaluna_backup.zip", "jr"),
        ("odoo17_convive_backup.zip", "convive"),
        ("odoo17_yit_esm.sql.gz", "yit"),
    ] {
        let Some((env, t)) = published_case(file, db, "17.0", "18.0", None) else {
            return;
        };
        assert_eq!(
            env.one::<String>(
                &t,
                "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
            ),
            "true",
            "{file}"
        );
    }
}

/// The whole production sequence on a real Odoo database: nothing lost either way.
#[test]
fn odoo16_real_production_restore_rollback() {
    let Some(dir) = fixtures() else { return };
    let env = Env::new();
    let db = "odoo16_real";
    load(&env, &dir.join("odoo16_real.dump"), db);
    untar_filestore(&env, &dir.join("odoo16_real.filestore.tar.gz"), db, db);
    let original: Vec<_> = env.data_checksums(db);
    let files = file_list(&env.data_dir().join("filestore").join(db));
    let plan = version_bump_plan(env.dir.path(), "16.0", "17.0");
    assert_ok(&env.run(&["freeze", "--db", db, "--yes"]));
    assert_ok(&env.run(&[
        "production",
        "--db",
        db,
        "--target",
        "17.0",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ]));
    assert_ok(&env.run(&["restore", "--db", db, "--yes"]));
    assert_eq!(
        env.one::<String>(
            db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(file_list(&env.data_dir().join("filestore").join(db)), files);
    assert_ok(&env.run(&["rollback", "--db", db, "--yes"]));
    let back: Vec<_> = env.data_checksums(db);
    assert_eq!(back, original, "production is exactly what it was");
    assert_eq!(file_list(&env.data_dir().join("filestore").join(db)), files);
}

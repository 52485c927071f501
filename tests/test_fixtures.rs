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
    test_upgrade_json(env, db, from, to).0
}

fn test_upgrade_json(env: &Env, db: &str, from: &str, to: &str) -> (String, serde_json::Value) {
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
    (test_db, v)
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
    same("SELECT id, account_token FROM iap_account");
    same("SELECT id, name, coalesce(enabled, false) AS enabled FROM auth_oauth_provider");
    // What Odoo's command leaves and a test copy must not keep.
    for key in [
        "database.uuid",
        "database.secret",
        "web.base.url",
        "mail.catchall.domain",
    ] {
        let q = format!("SELECT value FROM ir_config_parameter WHERE key = '{key}'");
        if rows(env, oracle, &q).is_empty() {
            continue;
        }
        assert_ne!(
            rows(env, ours, &q),
            rows(env, oracle, &q),
            "{key} must be reset"
        );
    }
    if env.one::<bool>(ours, "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'payment_provider' AND column_name = 'stripe_secret_key')") {
        assert_eq!(env.one::<i64>(ours, "SELECT count(*) FROM payment_provider WHERE stripe_secret_key IS NOT NULL AND state <> 'test'"), 0);
    }
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

/// `(id or row hash) -> md5 of the row` for every row of `table`.
fn row_hashes(env: &Env, db: &str, table: &str, has_id: bool) -> Vec<(String, String)> {
    let key = if has_id { "t.id::text" } else { "md5(t::text)" };
    env.sql(
        db,
        &format!("SELECT {key}, md5(t::text) FROM \"{table}\" t"),
    )
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn rows_json(
    env: &Env,
    db: &str,
    table: &str,
    ids: &[String],
) -> std::collections::HashMap<String, serde_json::Map<String, serde_json::Value>> {
    let list = ids.join(",");
    env.sql(
        db,
        &format!(
            "SELECT t.id::text, row_to_json(t)::text FROM \"{table}\" t WHERE t.id IN ({list})"
        ),
    )
    .iter()
    .map(|r| {
        let v: serde_json::Value = serde_json::from_str(&r.get::<_, String>(1)).unwrap();
        (r.get(0), v.as_object().unwrap().clone())
    })
    .collect()
}

/// Every production value Odoo's neutralize changed or removed that `ours` still
/// holds, as `table.column id=… value`, over every table and column.
fn kept_values(env: &Env, prod: &str, oracle: &str, ours: &str) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    let tables: Vec<(String, bool)> = env
        .sql(
            prod,
            "SELECT c.relname::text, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
        )
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut kept = Vec::new();
    for (t, has_id) in tables {
        let p = row_hashes(env, prod, &t, has_id);
        let o: HashMap<String, String> = row_hashes(env, oracle, &t, has_id).into_iter().collect();
        if !has_id {
            // Rows Odoo removed (no id to follow them by): kept if ours has them as they were.
            let gone: Vec<&String> = p
                .iter()
                .filter(|(k, _)| !o.contains_key(k))
                .map(|(k, _)| k)
                .collect();
            if gone.is_empty() {
                continue;
            }
            let ours_rows: HashSet<String> = row_hashes(env, ours, &t, false)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            for g in gone.into_iter().filter(|g| ours_rows.contains(*g)) {
                kept.push(format!("{t} (row {g}) removed by Odoo, kept"));
            }
            continue;
        }
        let changed: Vec<String> = p
            .iter()
            .filter(|(id, h)| o.get(id) != Some(h))
            .map(|(id, _)| id.clone())
            .collect();
        if changed.is_empty() {
            continue;
        }
        let pj = rows_json(env, prod, &t, &changed);
        let oj = rows_json(env, oracle, &t, &changed);
        let uj = rows_json(env, ours, &t, &changed);
        let mut ids = changed.clone();
        ids.sort_by_key(|i| i.parse::<i64>().unwrap_or(0));
        for id in ids {
            let prow = &pj[&id];
            let urow = uj.get(&id);
            match oj.get(&id) {
                None => {
                    if urow == Some(prow) {
                        kept.push(format!("{t} id={id} row removed by Odoo, kept"));
                    }
                }
                Some(orow) => {
                    let mut cols: Vec<&String> = prow.keys().collect();
                    cols.sort();
                    for c in cols {
                        let pv = &prow[c];
                        if orow.get(c) == Some(pv) {
                            continue;
                        }
                        if urow.and_then(|u| u.get(c)) == Some(pv) {
                            kept.push(format!("{t}.{c} id={id} {pv}"));
                        }
                    }
                }
            }
        }
    }
    kept
}

/// What Odoo's neutralize leaves and a test copy must not keep: production's
/// identity, links, alias domains, OAuth tokens of the (archived) mail servers,
/// the POS terminals' API keys.
fn extras_neutralized(env: &Env, prod: &str, ours: &str) {
    for key in ["database.uuid", "database.secret"] {
        let q = format!("SELECT value FROM ir_config_parameter WHERE key = '{key}'");
        let theirs = rows(env, prod, &q);
        assert!(!theirs.is_empty(), "{prod} has {key}");
        assert_ne!(rows(env, ours, &q), theirs, "{key} is new");
    }
    assert_eq!(
        env.one::<String>(
            ours,
            "SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'"
        ),
        "http://localhost:8069"
    );
    let has = |t: &str, c: &str| {
        env.one::<bool>(
            ours,
            &format!("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{t}' AND column_name = '{c}')"),
        )
    };
    if has("mail_alias_domain", "name") {
        assert_eq!(
            env.one::<i64>(ours, "SELECT count(*) FROM mail_alias_domain WHERE name <> 'localhost' AND name NOT LIKE '%.localhost'"),
            0,
            "alias domains on localhost"
        );
    }
    let mut checked = Vec::new();
    for (t, c) in [
        ("ir_mail_server", "google_gmail_refresh_token"),
        ("ir_mail_server", "google_gmail_access_token"),
        ("ir_mail_server", "microsoft_outlook_refresh_token"),
        ("ir_mail_server", "microsoft_outlook_access_token"),
        ("fetchmail_server", "google_gmail_refresh_token"),
        ("fetchmail_server", "microsoft_outlook_refresh_token"),
        ("pos_payment_method", "adyen_api_key"),
        ("pos_payment_method", "viva_wallet_api_key"),
        ("pos_payment_method", "viva_wallet_client_secret"),
        ("pos_payment_method", "viva_com_api_key"),
        ("pos_payment_method", "viva_com_client_secret"),
    ] {
        if !has(t, c) {
            continue;
        }
        let q = format!("SELECT count(*) FROM {t} WHERE {c} IS NOT NULL AND {c} <> ''");
        let before = env.one::<i64>(prod, &q);
        assert_eq!(env.one::<i64>(ours, &q), 0, "{t}.{c} cleared");
        checked.push(format!("{t}.{c}: {before} in production"));
    }
    eprintln!("{prod}: extras cleared: {}", checked.join(", "));
}

/// One production-like fixture, restored once (beside Odoo's own neutralized
/// result), then: ours (the `neutralize` command on a template copy) keeps none
/// of the values Odoo neutralizes; the whole test path to the next version;
/// and, with `production`, the production path with restore and rollback.
fn fixture_case(name: &str, oracle_file: &str, from: &str, to: &str, production: bool) {
    let Some(dir) = fixtures() else { return };
    let env = Env::new();
    let prod = name;
    std::thread::scope(|s| {
        s.spawn(|| load(&env, &dir.join(format!("{name}.dump")), prod));
        s.spawn(|| load(&env, &dir.join(oracle_file), "oracle"));
        s.spawn(|| {
            untar_filestore(
                &env,
                &dir.join(format!("{name}.filestore.tar.gz")),
                name,
                prod,
            )
        });
    });

    // Where it stands against the support window (18.0, 19.0, 20.0).
    let o = env.run(&["inspect", "--db", prod, "--json"]);
    assert_ok(&o);
    let support = &json(&o)["support"];
    let major: u32 = from[..2].parse().unwrap();
    assert_eq!(support["supported"], major >= 18, "{support}");
    let o = env.run(&["inspect", "--db", prod]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("support"))
        .unwrap_or_default()
        .to_string();
    if major >= 18 {
        assert!(
            line.contains(&format!("{from} is supported by Odoo (until about 20")),
            "{line}"
        );
    } else {
        assert!(
            line.contains("out of Odoo's support window (18.0, 19.0, 20.0)"),
            "{line}"
        );
    }

    // Coverage, every table and column.
    env.exec(
        "postgres",
        &format!("CREATE DATABASE ours TEMPLATE \"{prod}\""),
    );
    let o = env.run(&["neutralize", "--db", "ours", "--yes"]);
    assert_ok(&o);
    let report = stdout(&o);
    let kept = kept_values(&env, prod, "oracle", "ours");
    eprintln!(
        "{prod}: {} value(s) Odoo neutralizes kept by ours",
        kept.len()
    );
    assert!(
        kept.is_empty(),
        "{prod}: {} kept:\n{}",
        kept.len(),
        kept.join("\n")
    );
    extras_neutralized(&env, prod, "ours");
    // The report groups by module and names the post-conditions it checked.
    assert!(report.lines().any(|l| l.starts_with("base  ")), "{report}");
    assert!(
        report.lines().any(|l| l.starts_with("  crons ")),
        "{report}"
    );
    assert!(report.contains("checks passed"), "{report}");

    // The whole test path: clone, neutralize, plan, neutralize again, verify.
    let mail_before = env.one::<i64>(prod, "SELECT count(*) FROM ir_mail_server WHERE active");
    let (test_db, v) = test_upgrade_json(&env, prod, from, to);
    compare_with_odoo(&env, &test_db, "oracle");
    // The report by module, and its post-conditions among the checks.
    let modules = v["neutralized_by_module"].as_array().unwrap();
    assert!(modules.iter().any(|m| m["module"] == "base"), "{v}");
    let checks = v["checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|c| c["name"] == "base: crons"),
        "{}",
        v["checks"]
    );
    let notes = v["neutralize_notes"].to_string();
    if to == "20.0" {
        // After the plan the copy is 20.0: 19.0 rules applied, and said so.
        assert!(notes.contains("no 20.0 rules yet"), "{notes}");
        assert!(notes.contains("base"), "{notes}");
    } else {
        assert!(!notes.contains("rules yet"), "{notes}");
    }
    let kept = kept_values(&env, prod, "oracle", &test_db);
    assert!(kept.is_empty(), "test copy kept:\n{}", kept.join("\n"));
    extras_neutralized(&env, prod, &test_db);
    assert_eq!(
        env.one::<i64>(prod, "SELECT count(*) FROM ir_mail_server WHERE active"),
        mail_before,
        "production can still send"
    );
    if production {
        production_round_trip(&env, prod, from, to);
    }
}

/// The whole production sequence on a real Odoo database: nothing lost either way.
fn production_round_trip(env: &Env, db: &str, from: &str, to: &str) {
    let original: Vec<_> = env.data_checksums(db);
    let files = file_list(&env.data_dir().join("filestore").join(db));
    let plan = version_bump_plan(env.dir.path(), from, to);
    assert_ok(&env.run(&["freeze", "--db", db, "--yes"]));
    assert_ok(&env.run(&[
        "production",
        "--db",
        db,
        "--target",
        to,
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
        format!("{to}.1.3")
    );
    assert_eq!(file_list(&env.data_dir().join("filestore").join(db)), files);
    assert_ok(&env.run(&["rollback", "--db", db, "--yes"]));
    let back: Vec<_> = env.data_checksums(db);
    assert_eq!(back, original, "production is exactly what it was");
    assert_eq!(file_list(&env.data_dir().join("filestore").join(db)), files);
}

#[test]
fn odoo16_real() {
    fixture_case(
        "odoo16_real",
        "odoo16_neutralized_by_odoo.dump",
        "16.0",
        "17.0",
        true,
    );
}

#[test]
fn odoo17_real() {
    fixture_case(
        "odoo17_real",
        "odoo17_neutralized_by_odoo.dump",
        "17.0",
        "18.0",
        true,
    );
}

#[test]
fn odoo18_real() {
    fixture_case(
        "odoo18_real",
        "odoo18_neutralized_by_odoo.dump",
        "18.0",
        "19.0",
        true,
    );
}

#[test]
fn odoo18_shop() {
    fixture_case(
        "odoo18_shop",
        "odoo18_shop_neutralized_by_odoo.dump",
        "18.0",
        "19.0",
        true,
    );
}

#[test]
fn odoo19_real() {
    fixture_case(
        "odoo19_real",
        "odoo19_neutralized_by_odoo.dump",
        "19.0",
        "20.0",
        true,
    );
}

#[test]
fn odoo19_company() {
    fixture_case(
        "odoo19_company",
        "odoo19_company_neutralized_by_odoo.dump",
        "19.0",
        "20.0",
        true,
    );
}

//! Production safety around copies and imports (issue 10): a neutralized or a
//! foreign database never becomes production, copies keep production's owner
//! and rights, symlinks in the filestore are kept, names are unique per job,
//! a killed clone is cleaned up by the rerun, and archives with links are refused.

mod common;
use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};

const DB: &str = "demo_manufacturing";

/// `production --db DB --target 17.0 --import PATH --discard --yes [extra]`.
fn import(env: &Env, path: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--import",
        path.to_str().unwrap(),
        "--discard",
        "--yes",
        "--json",
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// A copy of production "upgraded elsewhere" (same identity), changed by `sql`,
/// dumped to `<name>.dump`.
fn elsewhere(env: &Env, name: &str, sql: &str) -> PathBuf {
    env.exec("postgres", &format!("CREATE DATABASE {name} TEMPLATE {DB}"));
    env.exec(
        name,
        &format!(
            "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed'; {sql}"
        ),
    );
    dump(env, name)
}

fn dump(env: &Env, db: &str) -> PathBuf {
    let out = env.dir.path().join(format!("{db}.dump"));
    assert_ok(&env.run(&[
        "backup",
        "--db",
        db,
        "--format",
        "dump",
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

fn upgrade_copies(env: &Env) -> Vec<String> {
    env.databases()
        .into_iter()
        .filter(|d| d.contains("_upgrade_"))
        .collect()
}

#[test]
fn a_neutralized_database_never_becomes_production() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    // A real test copy made by the tool: neutralized and upgraded.
    let o = run_job(&env, "test", DB, &plan);
    assert_ok(&o);
    let test_db = json(&o)["test_db"].as_str().unwrap().to_string();
    let test_dump = dump(&env, &test_db);
    // Each trace alone, on a database that is otherwise production's own.
    let flag_only = elsewhere(
        &env,
        "flag_only",
        "INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true')",
    );
    let dummy_only = elsewhere(
        &env,
        "dummy_only",
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, active) VALUES ('neutralization - disable emails', 'invalid', 1025, 'none', true)",
    );
    let banner_only = elsewhere(
        &env,
        "banner_only",
        "UPDATE ir_ui_view SET active = true WHERE key = 'website.neutralize_ribbon'",
    );
    let clean = elsewhere(&env, "clean", "");
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let prod = production_data(&env);

    // The test copy, even when the user accepts another database.
    let o = import(&env, &test_dump, &["--allow-other-database"]);
    assert_refused(&o, "must not become production: it is a neutralized copy");
    for needle in [
        "database.is_neutralized = \"true\"",
        "neutralization - disable emails (host invalid)",
        "web.neutralize_banner",
    ] {
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
    for (path, needle) in [
        (&flag_only, "database.is_neutralized"),
        (
            &dummy_only,
            "active mail server neutralization - disable emails",
        ),
        (&banner_only, "active view website.neutralize_ribbon"),
    ] {
        let o = import(&env, path, &[]);
        assert_refused(&o, needle);
        assert!(stderr(&o).contains("neutralized copy"), "{}", stderr(&o));
        assert_refused(
            &env.run(&["restore", "--db", DB, "--yes"]),
            "no upgraded copy",
        );
    }

    // A clean result is ready; neutralized afterwards, restore refuses it.
    let o = import(&env, &clean, &[]);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    env.exec(
        &upgraded,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', 'true')",
    );
    let o = env.run(&["restore", "--db", DB, "--yes"]);
    assert_refused(&o, "refusing to restore");
    assert!(
        stderr(&o).contains("database.is_neutralized"),
        "{}",
        stderr(&o)
    );
    // Checked on the original after the swap: reopening production here would count as a write.
    assert!(env.db_exists(&upgraded));
    env.exec(
        &upgraded,
        "DELETE FROM ir_config_parameter WHERE key = 'database.is_neutralized'",
    );
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(
        env.one::<i64>(
            DB,
            "SELECT count(*) FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ),
        0
    );
    assert_eq!(aside_data(&env), prod, "the original production untouched");
}

/// Production's data, read from a copy of it: a frozen production is never
/// reopened by the test (restore would rightly count that as a write).
fn production_data(env: &Env) -> Vec<(String, String)> {
    env.exec(
        "postgres",
        &format!("CREATE DATABASE checksum_probe TEMPLATE {DB}"),
    );
    let sums = env.data_checksums("checksum_probe");
    env.exec("postgres", "DROP DATABASE checksum_probe");
    sums
}

/// The original production, kept aside by restore.
fn aside_data(env: &Env) -> Vec<(String, String)> {
    let aside = env
        .databases()
        .into_iter()
        .find(|d| d.contains("_before_"))
        .expect("the original kept aside");
    env.frozen_checksums(&aside)
}

#[test]
fn another_databases_dump_is_refused_unless_allowed() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec(
        DB,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('database.enterprise_code', 'M-PROD-1')",
    );
    // Another company's database (the demo seed under another uuid).
    let other = elsewhere(
        &env,
        "other_company",
        "UPDATE ir_config_parameter SET value = '11111111-2222-3333-4444-555555555555' WHERE key = 'database.uuid'",
    );
    // Same uuid, another subscription.
    let other_code = elsewhere(
        &env,
        "other_code",
        "UPDATE ir_config_parameter SET value = 'M-OTHER-9' WHERE key = 'database.enterprise_code'",
    );
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let prod = env.frozen_checksums(DB);

    let o = import(&env, &other, &[]);
    assert_refused(&o, "it is another database");
    assert!(
        stderr(&o).contains("11111111-2222-3333-4444-555555555555")
            && stderr(&o).contains("8a3b1c6e-5f2d-11ee-9c1a-0242ac120002"),
        "names both uuids: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("--allow-other-database"),
        "{}",
        stderr(&o)
    );
    assert_refused(
        &env.run(&["restore", "--db", DB, "--yes"]),
        "no upgraded copy",
    );
    let o = import(&env, &other_code, &[]);
    assert_refused(&o, "M-OTHER-9");
    assert!(stderr(&o).contains("M-PROD-1"), "{}", stderr(&o));
    assert_eq!(env.frozen_checksums(DB), prod, "production untouched");

    // The user says it is meant: accepted, and restore goes through.
    let o = import(&env, &other, &["--allow-other-database"]);
    assert_ok(&o);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        ),
        "11111111-2222-3333-4444-555555555555"
    );
}

#[test]
fn production_refuses_pending_modules_before_the_backup_and_the_plan() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec(
        DB,
        "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'sale'",
    );
    let plan = env.demo_plan();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let prod = env.frozen_checksums(DB);
    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = env.run(&args);
    assert_refused(&o, "pending state");
    assert!(stderr(&o).contains("sale (to upgrade)"), "{}", stderr(&o));
    assert!(upgrade_copies(&env).is_empty(), "{:?}", env.databases());
    let backups = env.state_dir().join("backups");
    assert!(
        std::fs::read_dir(&backups).map_or(true, |mut d| d.next().is_none()),
        "no backup taken"
    );
    assert!(
        !env.data_dir()
            .join("filestore")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_upgrade_")),
        "no filestore copy left"
    );
    assert_eq!(env.frozen_checksums(DB), prod);
}

#[test]
fn a_zip_entry_under_a_symlink_entry_is_refused_naming_it() {
    let env = Env::new();
    env.demo_db(DB);
    let target = env.dir.path().join("outside");
    std::fs::create_dir_all(&target).unwrap();
    let sql = {
        let zip_path = env.dir.path().join("clean.zip");
        env.exec(
            "postgres",
            &format!("CREATE DATABASE elsewhere TEMPLATE {DB}"),
        );
        assert_ok(&env.run(&[
            "backup",
            "--db",
            "elsewhere",
            "--format",
            "zip",
            "--out",
            zip_path.to_str().unwrap(),
        ]));
        let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
        let mut s = Vec::new();
        std::io::copy(&mut z.by_name("dump.sql").unwrap(), &mut s).unwrap();
        s
    };
    let make = |name: &str, under: bool| {
        let p = env.dir.path().join(name);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("dump.sql", opts).unwrap();
        z.write_all(&sql).unwrap();
        z.add_symlink("filestore/ab", target.to_str().unwrap(), opts)
            .unwrap();
        if under {
            z.start_file("filestore/ab/planted", opts).unwrap();
            z.write_all(b"written through the link").unwrap();
        }
        z.finish().unwrap();
        p
    };
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let under = make("under.zip", true);
    let o = import(&env, &under, &[]);
    assert_refused(&o, "refusing entry \"filestore/ab/planted\"");
    assert!(stderr(&o).contains("\"filestore/ab\""), "{}", stderr(&o));
    assert!(
        !target.join("planted").exists(),
        "nothing written through the link"
    );
    assert!(upgrade_copies(&env).is_empty(), "{:?}", env.databases());
    let link_only = make("link.zip", false);
    assert_refused(
        &import(&env, &link_only, &[]),
        "refusing entry \"filestore/ab\": a symbolic link",
    );
    assert!(upgrade_copies(&env).is_empty(), "{:?}", env.databases());
}

/// Owner and database privileges, as `\l` shows them.
fn rights(env: &Env, db: &str) -> (String, String) {
    let r = env.sql(
        "postgres",
        &format!("SELECT pg_get_userbyid(datdba)::text, coalesce(datacl::text, '(default)') FROM pg_database WHERE datname = '{db}'"),
    );
    (r[0].get(0), r[0].get(1))
}

/// What Odoo does when it installs or updates a module: new tables, writes.
fn odoo_can_work_in(env: &Env, db: &str) -> Result<(), String> {
    env.rt.block_on(async {
        let c = env
            .conn()
            .with_user("odoo")
            .connect(db)
            .await
            .map_err(|e| e.to_string())?;
        c.batch_execute(
            "CREATE TABLE x_new_module_table (id serial PRIMARY KEY, name varchar); \
             INSERT INTO x_new_module_table (name) VALUES ('a'); \
             UPDATE res_partner SET write_date = now(); \
             DROP TABLE x_new_module_table",
        )
        .await
        .map_err(|e| upgrade_pilot::pg::db_message(&e))
    })
}

#[test]
fn copies_keep_the_owner_and_rights_of_production() {
    let env = Env::new();
    // Production as Odoo makes it: a plain role owns the database and every table.
    env.exec(
        "postgres",
        "CREATE ROLE odoo LOGIN CREATEDB; CREATE ROLE reporting LOGIN",
    );
    env.rt
        .block_on(upgrade_pilot::demo::load_seed(
            &env.conn().with_user("odoo"),
            DB,
        ))
        .unwrap();
    upgrade_pilot::demo::write_filestore(&env.data_dir(), DB, 5).unwrap();
    env.wait_gone(DB);
    env.exec(
        "postgres",
        &format!(
            "ALTER ROLE odoo NOCREATEDB; REVOKE ALL ON DATABASE {DB} FROM PUBLIC; \
             GRANT CONNECT, TEMPORARY ON DATABASE {DB} TO odoo; GRANT CONNECT ON DATABASE {DB} TO reporting"
        ),
    );
    let prod_rights = rights(&env, DB);
    assert_eq!(prod_rights.0, "odoo");
    odoo_can_work_in(&env, DB).unwrap();
    let plan = env.demo_plan();
    let plan = plan.to_str().unwrap();

    // Test copies (the tool runs as the superuser postgres), template and snapshot.
    let o = env.run(&[
        "test", "--db", DB, "--target", "17.0", "--plan", plan, "--clone", "template", "--json",
    ]);
    assert_ok(&o);
    let template = json(&o)["test_db"].as_str().unwrap().to_string();
    assert_eq!(rights(&env, &template), prod_rights, "template test copy");
    odoo_can_work_in(&env, &template).unwrap();
    let o = env.run(&[
        "test", "--db", DB, "--target", "17.0", "--plan", plan, "--clone", "snapshot", "--json",
    ]);
    assert_ok(&o);
    let snapshot = json(&o)["test_db"].as_str().unwrap().to_string();
    assert_eq!(rights(&env, &snapshot), prod_rights, "snapshot test copy");
    odoo_can_work_in(&env, &snapshot).unwrap();

    // Production: upgraded copy, restore, and Odoo's role still installs modules.
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = env.run(&[
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        plan,
        "--json",
    ]);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    assert_eq!(rights(&env, &upgraded), prod_rights, "production copy");
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(rights(&env, DB), prod_rights, "restored production");
    odoo_can_work_in(&env, DB).unwrap_or_else(|e| panic!("Odoo's role in production: {e}"));
    assert!(
        env.rt
            .block_on(env.conn().with_user("reporting").connect(DB))
            .is_ok(),
        "the reporting role still connects"
    );
}

#[test]
fn an_import_keeps_the_owner_and_rights_of_production() {
    let env = Env::new();
    env.exec("postgres", "CREATE ROLE odoo LOGIN CREATEDB");
    env.rt
        .block_on(upgrade_pilot::demo::load_seed(
            &env.conn().with_user("odoo"),
            DB,
        ))
        .unwrap();
    env.wait_gone(DB);
    env.exec(
        "postgres",
        &format!("ALTER ROLE odoo NOCREATEDB; REVOKE TEMPORARY ON DATABASE {DB} FROM PUBLIC"),
    );
    let prod_rights = rights(&env, DB);
    let upgraded_dump = elsewhere(&env, "elsewhere", "");
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = import(&env, &upgraded_dump, &[]);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    assert_eq!(rights(&env, &upgraded), prod_rights);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(rights(&env, DB), prod_rights);
    odoo_can_work_in(&env, DB).unwrap_or_else(|e| panic!("Odoo's role in production: {e}"));
}

/// Waits, when needed, for a clock minute with at least `secs` seconds left:
/// copies are named by the minute, and the case is two jobs in one minute.
fn within_one_minute(secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if 60 - now % 60 < secs {
        std::thread::sleep(std::time::Duration::from_secs(60 - now % 60));
    }
}

fn tree_bytes(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(tree_bytes(&e.path()));
        } else {
            out.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn a_second_production_in_the_same_minute_gets_its_own_names_and_backup() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    within_one_minute(45);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let first = json(&env.run(&args));
    let first_db = first["upgraded_db"].as_str().unwrap().to_string();
    let first_backup = PathBuf::from(first["backup"]["dump"].as_str().unwrap());
    let first_bytes = tree_bytes(&first_backup);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["rollback", "--db", DB, "--yes"]));
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    // The upgraded db was renamed to _failed_: its name is free on the server.
    assert!(!env.db_exists(&first_db));

    let o = env.run(&args);
    assert_ok(&o);
    let second = json(&o);
    let second_db = second["upgraded_db"].as_str().unwrap().to_string();
    let second_backup = PathBuf::from(second["backup"]["dump"].as_str().unwrap());
    // Job ids start with their time: YYYYMMDDTHHMM.
    assert_eq!(
        first["job"].as_str().unwrap()[..13],
        second["job"].as_str().unwrap()[..13],
        "both jobs ran in the same minute"
    );
    assert_ne!(first_db, second_db, "a name per job");
    assert_ne!(first_backup, second_backup, "a backup per job");
    assert_eq!(
        tree_bytes(&first_backup),
        first_bytes,
        "the first job's backup is left as it was"
    );
    assert!(second_backup.join("toc.dat").is_file());
}

/// Every file under `root` as a user of Odoo sees it (through links), and
/// the links that point nowhere.
fn visible_files(root: &Path) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    fn walk(base: &Path, p: &Path, files: &mut Vec<(String, Vec<u8>)>, dead: &mut Vec<String>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => walk(base, &e.path(), files, dead),
                Ok(_) => files.push((rel, std::fs::read(e.path()).unwrap())),
                Err(_) => dead.push(rel),
            }
        }
    }
    let (mut files, mut dead) = (Vec::new(), Vec::new());
    walk(root, root, &mut files, &mut dead);
    files.sort();
    dead.sort();
    (files, dead)
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// The names and contents of the files in a tar.
fn tar_files(tar: &Path, dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(dir).unwrap();
    let o = std::process::Command::new("tar")
        .arg("-xf")
        .arg(tar)
        .arg("-C")
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let top = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    visible_files(&top).0
}

fn job_log(env: &Env, job: &str) -> String {
    std::fs::read_to_string(env.state_dir().join("logs").join(format!("{job}.log"))).unwrap()
}

#[test]
fn symlinks_in_the_filestore_are_kept_in_copies_and_backups() {
    let env = Env::new();
    env.demo_db(DB);
    // Part of the filestore moved to another disk, a file linked, a link to nothing.
    let disk2 = env.dir.path().join("disk2");
    std::fs::create_dir_all(disk2.join("7a")).unwrap();
    for i in 0..3 {
        std::fs::write(
            disk2.join("7a").join(format!("7a{i:038}")),
            format!("moved {i}"),
        )
        .unwrap();
    }
    std::fs::write(disk2.join("single"), b"one linked file").unwrap();
    let fs = env.data_dir().join("filestore").join(DB);
    std::os::unix::fs::symlink(disk2.join("7a"), fs.join("7a")).unwrap();
    std::fs::create_dir_all(fs.join("8b")).unwrap();
    std::os::unix::fs::symlink(disk2.join("single"), fs.join("8b/8b00linked")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/9c00gone", fs.join("8b/8b01dead")).unwrap();
    let (prod_files, prod_dead) = visible_files(&fs);
    assert_eq!(prod_files.len(), 25 + 4);
    assert_eq!(prod_dead, vec!["8b/8b01dead"]);
    let plan = env.demo_plan();

    let o = env.run(&[
        "test",
        "--db",
        DB,
        "--target",
        "17.0",
        "--plan",
        plan.to_str().unwrap(),
    ]);
    assert_ok(&o);
    let copy = env
        .databases()
        .into_iter()
        .find(|d| d.contains("_test_"))
        .unwrap();
    let copy_fs = env.data_dir().join("filestore").join(&copy);
    assert_eq!(
        visible_files(&copy_fs),
        (prod_files.clone(), prod_dead.clone())
    );
    // What a link points to is copied: the copy's Odoo can never delete
    // production's files through a shared folder.
    assert!(!is_link(&copy_fs.join("7a")) && !is_link(&copy_fs.join("8b/8b00linked")));
    assert!(
        is_link(&copy_fs.join("8b/8b01dead")),
        "the dead link is kept as a link"
    );
    let err = stderr(&o);
    assert!(
        err.contains("2 symbolic link(s) copied as what they point to"),
        "{err}"
    );
    assert!(err.contains("kept as links: 8b/8b01dead"), "{err}");

    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = env.run(&args);
    assert_ok(&o);
    let v = json(&o);
    let upgraded = v["upgraded_db"].as_str().unwrap().to_string();
    let tar = PathBuf::from(v["backup"]["filestore_tar"].as_str().unwrap());
    assert_eq!(
        tar_files(&tar, &env.dir.path().join("untar")),
        prod_files,
        "the backup holds every file, those behind links too"
    );
    assert!(
        job_log(&env, v["job"].as_str().unwrap()).contains(
            "point nowhere (or to a folder above them) and are not in the backup: 8b/8b01dead"
        ),
        "the left-out link is said"
    );
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert!(!env.db_exists(&upgraded));
    assert_eq!(
        visible_files(&fs),
        (prod_files.clone(), prod_dead),
        "production after the swap"
    );
    // The original, kept aside, still sees its files on the other disk.
    assert_eq!(std::fs::read_dir(disk2.join("7a")).unwrap().count(), 3);
}

#[test]
fn a_filestore_whose_folder_is_a_link_stays_where_it_lives() {
    let env = Env::new();
    env.demo_db(DB);
    // The whole filestore on another disk, linked from Odoo's data dir.
    let disk2 = env.dir.path().join("disk2");
    std::fs::create_dir_all(&disk2).unwrap();
    let fs = env.data_dir().join("filestore").join(DB);
    std::fs::rename(&fs, disk2.join(DB)).unwrap();
    std::os::unix::fs::symlink(disk2.join(DB), &fs).unwrap();
    let (prod_files, _) = visible_files(&fs);
    assert_eq!(prod_files.len(), 25);
    let plan = env.demo_plan();

    let o = run_job(&env, "test", DB, &plan);
    assert_ok(&o);
    let copy = json(&o)["test_db"].as_str().unwrap().to_string();
    let copy_fs = env.data_dir().join("filestore").join(&copy);
    assert_eq!(visible_files(&copy_fs).0, prod_files);
    assert_eq!(
        std::fs::canonicalize(&copy_fs).unwrap(),
        disk2.join(&copy),
        "the test copy is made on the filestore's disk"
    );

    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let args = job_args("production", DB, &plan);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = env.run(&args);
    assert_ok(&o);
    let v = json(&o);
    let upgraded = v["upgraded_db"].as_str().unwrap().to_string();
    let tar = PathBuf::from(v["backup"]["filestore_tar"].as_str().unwrap());
    assert_eq!(tar_files(&tar, &env.dir.path().join("untar")), prod_files);
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert!(is_link(&fs), "production's filestore is still a link");
    assert_eq!(std::fs::canonicalize(&fs).unwrap(), disk2.join(&upgraded));
    assert_eq!(visible_files(&fs).0, prod_files);
}

/// Backends running a CREATE DATABASE, with their pid and whether they wait on a lock.
fn create_database_backends(env: &Env) -> Vec<(i32, bool)> {
    env.sql(
        "postgres",
        "SELECT pid, coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE %' AND state <> 'idle'",
    )
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "never saw {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn kill_9_inside_the_template_clone_the_rerun_ends_the_servers_create_database() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let prod = production_data(&env);
    // Holds the template copy inside CREATE DATABASE: a rename in an open
    // transaction keeps the lock CREATE DATABASE needs on its template.
    let holder = env.rt.block_on(env.conn().connect("postgres")).unwrap();
    env.rt
        .block_on(holder.batch_execute(&format!(
            "BEGIN; ALTER DATABASE \"{DB}\" RENAME TO held_aside"
        )))
        .unwrap();
    let args = job_args("production", DB, &plan);
    let mut first = spawn_job(&env, &args);
    let (killed_backend, _) = wait_for("the first run's CREATE DATABASE waiting", || {
        create_database_backends(&env)
            .into_iter()
            .find(|(_, waits)| *waits)
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let first_app = format!("upgrade-pilot pid {}", first.id());
    // The killed run's idle sessions (its job lock) end with it; its CREATE DATABASE does not.
    wait_for("the killed run's lock released", || {
        let n: i64 = env.one(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '{first_app}%'"
            ),
        );
        (n == 0).then_some(())
    });
    assert!(
        create_database_backends(&env)
            .iter()
            .any(|(p, _)| *p == killed_backend),
        "the server still runs the killed run's CREATE DATABASE"
    );

    let rerun = spawn_job(&env, &args);
    // The rerun's own CREATE DATABASE, waiting on the same lock.
    wait_for("the rerun's CREATE DATABASE", || {
        create_database_backends(&env)
            .into_iter()
            .find(|(p, _)| *p != killed_backend)
    });
    let left: Vec<i32> = create_database_backends(&env)
        .iter()
        .map(|(p, _)| *p)
        .collect();
    // Released: whatever still runs goes on.
    env.rt.block_on(holder.batch_execute("ROLLBACK")).unwrap();
    let out = rerun.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the rerun: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !left.contains(&killed_backend),
        "the killed run's CREATE DATABASE was ended before the rerun's own: {left:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("duplicate key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copies = upgrade_copies(&env);
    assert_eq!(copies.len(), 1, "{copies:?}");

    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(aside_data(&env), prod, "production unchanged");
}

/// Children of `parent` running `prog`.
fn children(parent: u32, prog: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        if ppid == parent && head.ends_with(&format!("({prog}")) {
            out.push(pid);
        }
    }
    out
}

fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn kill_9_inside_the_snapshot_dump_the_rerun_ends_the_orphaned_pg_dump() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let source = env.data_checksums(DB);
    // A live source (one session): the test copy is a snapshot copy.
    let live = env.rt.block_on(env.conn().connect(DB)).unwrap();
    let flag = env.dir.path().join("go");
    let args = job_args("test", DB, &plan);
    let first = spawn_job_env(
        &env,
        &args,
        &[
            ("UPGRADE_PILOT_PAUSE_AT", "before:snapshot-dump"),
            ("UPGRADE_PILOT_PAUSE_FILE", flag.to_str().unwrap()),
        ],
    );
    // The copy has measured the tables: hold pg_dump on a lock, then let it start.
    wait_for("the size of the source measured", || {
        let n: i64 = env.one(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{DB}' AND query LIKE '%pg_table_size%' AND state = 'idle'"),
        );
        (n > 0).then_some(())
    });
    env.rt
        .block_on(live.batch_execute("BEGIN; LOCK TABLE sale_order IN ACCESS EXCLUSIVE MODE"))
        .unwrap();
    std::fs::write(&flag, "").unwrap();
    let dumps = wait_for("pg_dump started", || {
        let c = children(first.id(), "pg_dump");
        (!c.is_empty()).then_some(c)
    });
    // Killed while its pg_dump waits on the lock (a big table's COPY is the
    // same: nothing written to its dead parent, so no SIGPIPE ends it).
    wait_for("pg_dump waiting on the lock", || {
        let n: i64 = env.one(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{DB}' AND wait_event_type = 'Lock'"),
        );
        (n > 0).then_some(())
    });
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(dumps.iter().all(|p| running(*p)), "the orphan still waits");

    let rerun = spawn_job(&env, &args);
    wait_for("the killed run's pg_dump ended by the rerun", || {
        dumps.iter().all(|p| !running(*p)).then_some(())
    });
    env.rt.block_on(live.batch_execute("ROLLBACK")).unwrap();
    drop(live);
    let out = rerun.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the rerun: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clone_method"], "snapshot");
    assert_eq!(env.data_checksums(DB), source, "the source unchanged");
}

#[test]
fn a_table_someone_queues_to_lock_during_the_parallel_copy_is_copied_by_the_stream_whole() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let rows = "SELECT count(*) FROM sale_order";
    let source_rows: i64 = env.one(DB, rows);
    // A live source (one session): the test copy is the parallel snapshot copy.
    let live = env.rt.block_on(env.conn().connect(DB)).unwrap();
    let flag = env.dir.path().join("go");
    let args = job_args("test", DB, &plan);
    let job = spawn_job_env(
        &env,
        &args,
        &[
            ("UPGRADE_PILOT_PAUSE_AT", "during:snapshot-locked"),
            ("UPGRADE_PILOT_PAUSE_FILE", flag.to_str().unwrap()),
        ],
    );
    // The copy holds every table (ACCESS SHARE) in its snapshot...
    let held = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = '{DB}' AND l.locktype = 'relation' AND l.mode = 'AccessShareLock' AND l.granted"
    );
    wait_for("the copy holding the tables", || {
        (env.one::<i64>("postgres", &held) > 20).then_some(())
    });
    // ...when Odoo asks for sale_order alone (an ALTER TABLE of a module update).
    let alter = env.rt.spawn(async move {
        live.batch_execute("BEGIN; LOCK TABLE sale_order IN ACCESS EXCLUSIVE MODE")
            .await
            .map(|()| live)
    });
    wait_for("Odoo's lock request queued", || {
        let n: i64 = env.one(
            "postgres",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{DB}' AND wait_event_type = 'Lock' AND query LIKE 'BEGIN; LOCK TABLE sale_order%'"),
        );
        (n > 0).then_some(())
    });
    std::fs::write(&flag, "").unwrap();
    // The parallel copy gives up instead of holding Odoo back for ever: Odoo gets its lock.
    let live = env
        .rt
        .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(60), alter).await })
        .expect("Odoo's lock granted once the parallel copy let go")
        .unwrap()
        .unwrap();
    env.rt.block_on(live.batch_execute("COMMIT")).unwrap();
    let out = job.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let log = job_log(&env, v["job"].as_str().unwrap());
    assert!(log.contains("copying again in one stream"), "{log}");
    assert_eq!(v["clone_method"], "snapshot");
    let copy = v["test_db"].as_str().unwrap();
    assert_eq!(env.one::<i64>(copy, rows), source_rows);
}

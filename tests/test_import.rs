//! Imported upgrades (a dump made by Odoo's platform or elsewhere) and the
//! backup command that writes Odoo's zip format.

mod common;
use common::*;
use std::io::{Read, Write};

const DB: &str = "demo_manufacturing";

/// An "upgraded elsewhere" database: the demo at 17.0, with one file of its own.
fn upgraded_elsewhere(env: &Env) {
    env.exec(
        "postgres",
        &format!("CREATE DATABASE upgraded_elsewhere TEMPLATE {DB}"),
    );
    env.exec(
        "upgraded_elsewhere",
        "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed'; \
         INSERT INTO res_partner (name) VALUES ('made by the upgrade platform')",
    );
    let fs = env.data_dir().join("filestore/upgraded_elsewhere/ff");
    std::fs::create_dir_all(&fs).unwrap();
    std::fs::write(fs.join("ff00new"), b"new file from the upgrade").unwrap();
}

fn partner_count(env: &Env, db: &str) -> i64 {
    env.one::<i64>(db, "SELECT count(*) FROM res_partner")
}

#[test]
fn backup_zip_is_odoo_format_and_imports_as_production() {
    let env = Env::new();
    env.demo_db(DB);
    upgraded_elsewhere(&env);
    let zip_path = env.dir.path().join("upgraded.zip");
    let o = env.run(&[
        "backup",
        "--db",
        "upgraded_elsewhere",
        "--format",
        "zip",
        "--out",
        zip_path.to_str().unwrap(),
    ]);
    assert_ok(&o);
    // Odoo's layout: dump.sql, filestore/…, manifest.json with the version and modules.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["major_version"], "17.0");
    assert_eq!(m["modules"]["base"], "17.0.1.3");
    assert!(m["pg_version"].as_str().unwrap().starts_with("15"));
    assert!(zip.by_name("dump.sql").is_ok());
    assert!(zip.by_name("filestore/ff/ff00new").is_ok());
    assert_refused(
        &env.run(&[
            "backup",
            "--db",
            "upgraded_elsewhere",
            "--out",
            zip_path.to_str().unwrap(),
        ]),
        "already exists",
    );

    let before = partner_count(&env, DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let o = env.run(&[
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--import",
        zip_path.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    assert_eq!(
        partner_count(&env, &upgraded),
        before + 1,
        "the imported data, not a copy of production"
    );
    // Filestore: the original's files, with the archive's merged over them.
    let fs = env.data_dir().join("filestore").join(&upgraded);
    assert!(fs.join("ff/ff00new").is_file());
    let original: Vec<_> = std::fs::read_dir(env.data_dir().join("filestore").join(DB))
        .unwrap()
        .flatten()
        .collect();
    assert!(original.iter().all(|d| fs.join(d.file_name()).exists()));
    assert!(
        !env.data_dir()
            .join("filestore")
            .join(DB)
            .join("ff/ff00new")
            .exists(),
        "production's filestore untouched"
    );
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
}

#[test]
fn custom_dump_import_and_bad_archives_are_refused() {
    let env = Env::new();
    env.demo_db(DB);
    upgraded_elsewhere(&env);
    let dump = env.dir.path().join("upgraded.dump");
    assert_ok(&env.run(&[
        "backup",
        "--db",
        "upgraded_elsewhere",
        "--format",
        "dump",
        "--out",
        dump.to_str().unwrap(),
    ]));
    assert!(dump.with_extension("filestore.tar").is_file());
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let dbs = env.databases();

    // Truncated: the archive cannot be read through.
    let bytes = std::fs::read(&dump).unwrap();
    let truncated = env.dir.path().join("truncated.dump");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let o = env.run(&[
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--import",
        truncated.to_str().unwrap(),
        "--json",
    ]);
    assert!(!o.status.success());
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated.dump"), "{}", stderr(&o));

    // A dump written by a newer pg_dump (archive format version from the future).
    let mut newer = bytes.clone();
    newer[6] = 99; // PGDMP, then major, minor, revision of the archive format
    let newer_path = env.dir.path().join("newer.dump");
    std::fs::write(&newer_path, &newer).unwrap();
    assert_refused(
        &env.run(&[
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--import",
            newer_path.to_str().unwrap(),
            "--discard",
            "--yes",
        ]),
        "not a readable pg_dump archive: pg_restore: error: unsupported version",
    );

    // A zip that is not an Odoo backup.
    let nodump = env.dir.path().join("nodump.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&nodump).unwrap());
        z.start_file("manifest.json", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"{}").unwrap();
        z.finish().unwrap();
    }
    assert_refused(
        &env.run(&[
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--import",
            nodump.to_str().unwrap(),
            "--discard",
            "--yes",
        ]),
        "has no dump.sql",
    );
    // A zip whose names climb out of the filestore.
    let evil = env.dir.path().join("evil.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&evil).unwrap());
        z.start_file("dump.sql", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"SELECT 1;").unwrap();
        z.start_file(
            "filestore/../../../etc/evil",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(b"x").unwrap();
        z.finish().unwrap();
    }
    assert_refused(
        &env.run(&[
            "production",
            "--db",
            DB,
            "--target",
            "17.0",
            "--import",
            evil.to_str().unwrap(),
            "--discard",
            "--yes",
        ]),
        "leaves the archive",
    );
    // Production untouched through all of it; the failed working copy dropped by --discard.
    let now: Vec<String> = env.databases();
    assert!(
        now.iter()
            .all(|d| dbs.contains(d) || d.contains("_upgrade_")),
        "{now:?}"
    );

    let o = env.run(&[
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--import",
        dump.to_str().unwrap(),
        "--discard",
        "--yes",
        "--json",
    ]);
    assert_ok(&o);
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();
    assert_eq!(
        env.one::<String>(
            &upgraded,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(
        partner_count(&env, &upgraded),
        partner_count(&env, "upgraded_elsewhere")
    );
}

/// `production --import <path> --discard --yes --json` of `DB` to 17.0.
fn import_again(env: &Env, path: &std::path::Path) -> std::process::Output {
    let path = path.to_str().unwrap();
    let args = [
        "production",
        "--db",
        DB,
        "--target",
        "17.0",
        "--import",
        path,
        "--discard",
        "--yes",
        "--json",
    ];
    env.run(&args)
}

// Review: an imported plain dump that acts outside the working copy. psql runs
// it as production's owner (here a superuser) while production is frozen, and
// a frozen database can be dropped. Before: `DROP DATABASE "<production>";`
// appended to the dump dropped production and the job reported ready; `\!`
// ran a shell command. Now the dump is cut off at that line: the job fails
// naming it, production is still there, the command never ran.
#[test]
fn an_imported_dump_that_would_act_outside_the_copy_is_cut_off() {
    let env = Env::new();
    env.demo_db(DB);
    upgraded_elsewhere(&env);
    // The dump an Odoo backup zip holds, as the backup command writes it.
    let zip_path = env.dir.path().join("upgraded.zip");
    let args = [
        "backup",
        "--db",
        "upgraded_elsewhere",
        "--format",
        "zip",
        "--out",
    ];
    assert_ok(&env.run(&[&args[..], &[zip_path.to_str().unwrap()]].concat()));
    let mut dump = String::new();
    zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap())
        .unwrap()
        .by_name("dump.sql")
        .unwrap()
        .read_to_string(&mut dump)
        .unwrap();
    let original = env.data_checksums(DB);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    let flag = env.dir.path().join("pwned");
    let hostile = [
        format!("DROP DATABASE \"{DB}\";"),
        format!("\\! touch '{}'", flag.display()),
        "\\connect postgres".to_string(),
    ];
    let sql = env.dir.path().join("hostile.sql");
    for line in &hostile {
        std::fs::write(&sql, format!("{dump}\n{line}\nSELECT 1;\n")).unwrap();
        let o = import_again(&env, &sql);
        assert!(!o.status.success(), "{line}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains("refused at line"), "{line}: {err}");
        assert!(env.db_exists(DB), "{line}: production is still there");
        assert!(!flag.exists(), "{line}: the shell command never ran");
    }
    assert_eq!(env.frozen_checksums(DB), original);
    // pg_dump's own output goes through.
    std::fs::write(&sql, &dump).unwrap();
    assert_ok(&import_again(&env, &sql));
}

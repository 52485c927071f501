//! `compare` on the real Odoo databases (../shared/fixtures, through
//! UPGRADE_PILOT_FIXTURES): an unchanged copy passes every check; a copy
//! damaged the way a bad upgrade step damages data is reported in the area of
//! each damage, and in no other. Each fixture is restored once; its copies are
//! made with CREATE DATABASE … TEMPLATE.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use upgrade_pilot::odoo::filestore;
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

fn client(env: &Env, prog: &str) -> Command {
    let mut c = Command::new(client_tool(prog, 15).unwrap_or_else(|e| panic!("{e}")));
    c.envs(env.conn().child_env());
    c
}

/// Restores a fixture (pg_dump custom file, Odoo zip, or gzipped SQL) as `db`, with its filestore.
fn load(env: &Env, dir: &Path, file: &str, filestore_tar: Option<(&str, &str)>, db: &str) {
    env.exec("postgres", &format!("CREATE DATABASE \"{db}\""));
    let path = dir.join(file);
    let psql = |sql: &Path| {
        let o = client(env, "psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-f"])
            .arg(sql)
            .args(["-d", db])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    if file.ends_with(".dump") {
        let o = client(env, "pg_restore")
            .args(["--no-owner", "--no-privileges", "-d", db])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || err.contains("errors ignored"),
            "pg_restore: {err}"
        );
    } else if file.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let sql = env.dir.path().join(format!("{db}.sql"));
        std::io::copy(
            &mut zip.by_name("dump.sql").unwrap(),
            &mut std::fs::File::create(&sql).unwrap(),
        )
        .unwrap();
        psql(&sql);
        let root = filestore::path(&env.data_dir(), db);
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
            let to = root.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let mut buf = Vec::new();
            f.read_to_end(&mut buf).unwrap();
            std::fs::write(to, buf).unwrap();
        }
    } else if file.ends_with(".sql.gz") {
        env.exec(
            "postgres",
            "DO $$ BEGIN CREATE ROLE odoo17; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        );
        let sql = env.dir.path().join(format!("{db}.sql"));
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
        std::io::copy(&mut gz, &mut std::fs::File::create(&sql).unwrap()).unwrap();
        psql(&sql);
    }
    if let Some((tar, folder)) = filestore_tar {
        let dest = env.data_dir().join("filestore");
        std::fs::create_dir_all(&dest).unwrap();
        let o = Command::new("tar")
            .arg("xzf")
            .arg(dir.join(tar))
            .arg("-C")
            .arg(&dest)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "tar: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::rename(dest.join(folder), dest.join(db)).unwrap();
    }
}

/// A copy of `src` as the upgrade would leave it untouched: template copy, filestore as hard links.
fn copy(env: &Env, src: &str, name: &str) {
    env.exec(
        "postgres",
        &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{src}\""),
    );
    let from = filestore::path(&env.data_dir(), src);
    if from.is_dir() {
        filestore::link_tree(&from, &filestore::path(&env.data_dir(), name)).unwrap();
    }
}

fn compare(env: &Env, prod: &str, copy: &str) -> (i32, serde_json::Value) {
    let o = env.run(&["compare", "--db", prod, "--test-db", copy, "--json"]);
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "compare failed ({code}): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        code,
        serde_json::from_slice(&o.stdout).expect("compare --json prints one object"),
    )
}

fn failing(v: &serde_json::Value) -> BTreeSet<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn differences(v: &serde_json::Value, check: &str) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == check)
        .map(|c| {
            c["differences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn opt_i32(env: &Env, db: &str, q: &str) -> Option<i32> {
    env.sql(db, q)
        .first()
        .and_then(|r| r.get::<_, Option<i32>>(0))
}

fn has_column(env: &Env, db: &str, t: &str, c: &str) -> bool {
    env.one::<bool>(
        db,
        &format!("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = '{t}' AND column_name = '{c}')"),
    )
}

/// The row `find` names (`SELECT min(id) …`), changed by `set` (its `{id}` replaced).
fn change(env: &Env, db: &str, find: &str, set: &str) -> Option<i32> {
    let id = opt_i32(env, db, find)?;
    env.exec(db, &set.replace("{id}", &id.to_string()));
    Some(id)
}

/// The first of `ways` whose (table, column) the database has: its row changed, if it has one.
type Way<'a> = ((&'a str, &'a str), &'a str, &'a str);
fn change_first(env: &Env, db: &str, ways: &[Way]) -> bool {
    ways.iter()
        .find(|((t, c), _, _)| has_column(env, db, t, c))
        .is_some_and(|(_, find, set)| change(env, db, find, set).is_some())
}

/// Damages `db` where the fixture has the data; returns, per damage, the check that must see it
/// and a text its difference line must contain.
fn damage(env: &Env, db: &str) -> Vec<(&'static str, String)> {
    let mut expect = Vec::new();
    // A posted journal item, neither tax nor receivable/payable: only its account's sums move.
    if has_column(env, db, "account_move_line", "parent_state") {
        let kind = if has_column(env, db, "account_account", "account_type") {
            "a.account_type NOT IN ('asset_receivable', 'liability_payable')"
        } else {
            "a.internal_type NOT IN ('receivable', 'payable')"
        };
        if let Some(id) = opt_i32(
            env,
            db,
            &format!(
                "SELECT min(l.id) FROM account_move_line l JOIN account_account a ON a.id = l.account_id \
             WHERE l.parent_state = 'posted' AND l.tax_line_id IS NULL AND l.debit <> 0 AND {kind}"
            ),
        ) {
            env.exec(
                db,
                &format!("DELETE FROM account_move_line WHERE id = {id}"),
            );
            expect.push((
                "records per business model",
                "account.move.line posted: ".to_string(),
            ));
            expect.push(("records per business model", format!("ids {id}")));
            expect.push(("journal items per account", "debit ".to_string()));
        }
    }
    // A partner archived: it leaves the active ones, joins the archived ones.
    if has_column(env, db, "res_partner", "active") {
        let id: i32 = env.one(db, "SELECT max(id) FROM res_partner WHERE active");
        env.exec(
            db,
            &format!("UPDATE res_partner SET active = false WHERE id = {id}"),
        );
        expect.push((
            "records per business model",
            "res.partner active: ".to_string(),
        ));
        expect.push(("records per business model", format!("1 gone: ids {id}")));
    }
    // A receivable or payable line's residual: only that partner's balance moves.
    if has_column(env, db, "account_move_line", "parent_state") {
        let kind = if has_column(env, db, "account_account", "account_type") {
            "a.account_type IN ('asset_receivable', 'liability_payable')"
        } else {
            "a.internal_type IN ('receivable', 'payable')"
        };
        let find = format!(
            "SELECT min(l.id) FROM account_move_line l JOIN account_account a ON a.id = l.account_id \
             WHERE l.parent_state = 'posted' AND {kind}"
        );
        let set =
            "UPDATE account_move_line SET amount_residual = amount_residual + 1 WHERE id = {id}";
        if change(env, db, &find, set).is_some() {
            expect.push(("receivable and payable per partner", "residual ".into()));
        }
        // A posted tax line no longer tied to its tax: that tax's lines and amount change.
        let find = "SELECT min(id) FROM account_move_line WHERE parent_state = 'posted' AND tax_line_id IS NOT NULL";
        let set = "UPDATE account_move_line SET tax_line_id = NULL WHERE id = {id}";
        if change(env, db, find, set).is_some() {
            expect.push(("tax amounts per tax", "lines ".into()));
        }
    }
    // A posted invoice's total (12.0: account_invoice).
    let invoice = [
        (
            ("account_move", "move_type"),
            "SELECT min(id) FROM account_move WHERE state = 'posted' \
             AND move_type IN ('out_invoice', 'out_refund', 'in_invoice', 'in_refund')",
            "UPDATE account_move SET amount_total = amount_total + 1 WHERE id = {id}",
        ),
        (
            ("account_invoice", "amount_total"),
            "SELECT min(id) FROM account_invoice WHERE state IN ('open', 'in_payment', 'paid')",
            "UPDATE account_invoice SET amount_total = amount_total + 1 WHERE id = {id}",
        ),
    ];
    if change_first(env, db, &invoice) {
        expect.push(("posted invoices per journal and year", "total ".into()));
    }
    // A valuation: a layer up to 18.0, a done move's value in 19.0.
    let valuation = [
        (
            ("stock_valuation_layer", "value"),
            "SELECT min(id) FROM stock_valuation_layer",
            "UPDATE stock_valuation_layer SET value = value + 1 WHERE id = {id}",
        ),
        (
            ("stock_move", "is_in"),
            "SELECT min(id) FROM stock_move WHERE state = 'done' AND (is_in OR is_out)",
            "UPDATE stock_move SET value = coalesce(value, 0) + 1 WHERE id = {id}",
        ),
    ];
    if change_first(env, db, &valuation) {
        expect.push(("stock valuation per product", "value ".into()));
    }
    // One server action deleted (the first nothing else holds on to).
    let before: i64 = env.one(db, "SELECT count(*) FROM ir_act_server");
    env.exec(
        db,
        "DO $$ DECLARE i int; BEGIN \
           FOR i IN SELECT id FROM ir_act_server ORDER BY id DESC LOOP \
             BEGIN DELETE FROM ir_act_server WHERE id = i; EXIT; \
             EXCEPTION WHEN foreign_key_violation OR restrict_violation THEN NULL; END; \
           END LOOP; END $$",
    );
    if env.one::<i64>(db, "SELECT count(*) FROM ir_act_server") < before {
        expect.push((
            "actions, templates, reports",
            "server actions: count ".to_string(),
        ));
    }
    // An active language and an active currency deactivated.
    if let Some(r) = env
        .sql(
            db,
            "SELECT code::text, name::text FROM res_lang WHERE active ORDER BY id LIMIT 1",
        )
        .first()
    {
        let (code, name): (String, String) = (r.get(0), r.get(1));
        env.exec(
            db,
            &format!("UPDATE res_lang SET active = false WHERE code = '{code}'"),
        );
        expect.push(("active languages", format!("{name}: ")));
    }
    if let Some(r) = env
        .sql(
            db,
            "SELECT name::text FROM res_currency WHERE active ORDER BY id LIMIT 1",
        )
        .first()
    {
        let name: String = r.get(0);
        env.exec(
            db,
            &format!("UPDATE res_currency SET active = false WHERE name = '{name}'"),
        );
        expect.push(("active currencies", format!("{name}: ")));
    }
    if has_column(env, db, "stock_quant", "quantity")
        && change(
            env,
            db,
            "SELECT min(id) FROM stock_quant",
            "UPDATE stock_quant SET quantity = quantity + 7 WHERE id = {id}",
        )
        .is_some()
    {
        expect.push(("stock per product and location", "quantity ".into()));
    }
    // A sequence whose next number is above 1, set back to 1.
    if has_column(env, db, "ir_sequence", "implementation") {
        if let Some(id) = opt_i32(
            env,
            db,
            "SELECT min(s.id) FROM ir_sequence s LEFT JOIN pg_sequences p ON p.sequencename = 'ir_sequence_' || lpad(s.id::text, 3, '0') \
             WHERE (s.implementation = 'no_gap' AND s.number_next > 1) OR (s.implementation = 'standard' AND p.last_value >= 1)",
        ) {
            let name: String = env.one(
                db,
                &format!("SELECT name::text FROM ir_sequence WHERE id = {id}"),
            );
            env.exec(db, &format!(
                "UPDATE ir_sequence SET number_next = 1 WHERE id = {id}; \
                 DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %I RESTART WITH 1', 'ir_sequence_' || lpad('{id}', 3, '0')); \
                 EXCEPTION WHEN undefined_table THEN NULL; END $$"
            ));
            expect.push(("sequences", name));
        }
    }
    // A view made or edited in the database, deactivated (else any active view).
    let custom_view = opt_i32(
        env,
        db,
        "SELECT min(v.id) FROM ir_ui_view v WHERE v.active AND NOT EXISTS \
         (SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.ui.view' AND d.res_id = v.id)",
    );
    let view = custom_view
        .or_else(|| opt_i32(env, db, "SELECT max(id) FROM ir_ui_view WHERE active"))
        .unwrap();
    env.exec(
        db,
        &format!("UPDATE ir_ui_view SET active = false WHERE id = {view}"),
    );
    expect.push(("views kept active", format!("id {view})")));
    if custom_view.is_some() {
        expect.push(("views kept active", "customized ".to_string()));
    }
    // Two leaf modules set uninstalled.
    let mods: Vec<String> = env
        .sql(db, "SELECT name::text FROM ir_module_module m WHERE state = 'installed' AND name <> 'base' \
                  AND NOT EXISTS (SELECT 1 FROM ir_module_module_dependency d JOIN ir_module_module o ON o.id = d.module_id \
                                  WHERE d.name = m.name AND o.state = 'installed') ORDER BY name LIMIT 2")
        .iter()
        .map(|r| r.get(0))
        .collect();
    env.exec(
        db,
        &format!(
            "UPDATE ir_module_module SET state = 'uninstalled' WHERE name IN ('{}')",
            mods.join("', '")
        ),
    );
    for m in mods {
        expect.push(("modules installed", format!("{m}: ")));
    }
    // A file production has, removed from the copy's filestore.
    let fs = filestore::path(&env.data_dir(), db);
    if fs.is_dir() {
        let rows = env.sql(
            db,
            "SELECT id, store_fname::text FROM ir_attachment WHERE store_fname IS NOT NULL \
                                AND (url IS NULL OR url NOT LIKE '/web/assets/%') ORDER BY id",
        );
        if let Some(r) = rows
            .iter()
            .find(|r| fs.join(r.get::<_, String>(1)).is_file())
        {
            let (id, fname): (i32, String) = (r.get(0), r.get(1));
            std::fs::remove_file(fs.join(&fname)).unwrap();
            expect.push(("attachment files", format!("attachment {id} ")));
        }
    }
    // A custom field dropped with its column.
    if let Some(r) = env
        .sql(db, "SELECT f.id, f.model::text, f.name::text FROM ir_model_fields f WHERE f.name LIKE 'x\\_%' ORDER BY f.id LIMIT 1")
        .first()
    {
        let (id, model, name): (i32, String, String) = (r.get(0), r.get(1), r.get(2));
        let table = model.replace('.', "_");
        env.exec(db, &format!(
            "DELETE FROM ir_model_fields WHERE id = {id}; ALTER TABLE \"{table}\" DROP COLUMN IF EXISTS \"{name}\""
        ));
        expect.push(("custom fields", format!("{model}.{name}: missing")));
    }
    expect
}

/// One fixture: unchanged copy passes; damaged copy fails exactly where damaged.
/// `no_data`: the checks this fixture has nothing to damage for (every other one is damaged).
fn case(env: &Env, db: &str, no_data: &[&str]) {
    let same = format!("{db}_same");
    copy(env, db, &same);
    // Neutralization changes mail servers, crons, providers, parameters: never a difference.
    let o = env.run(&["neutralize", "--db", &same, "--yes"]);
    assert!(
        o.status.success(),
        "neutralize: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (code, v) = compare(env, db, &same);
    assert_eq!(
        failing(&v),
        BTreeSet::new(),
        "{db}: an unchanged copy differs: {v:#}"
    );
    assert_eq!(code, 0);
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 15);
    let all: BTreeSet<String> = checks
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let skipped: Vec<&str> = checks
        .iter()
        .filter(|c| c["skipped"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    eprintln!("{db}: unchanged copy: all hold; not applicable here: {skipped:?}");

    let broken = format!("{db}_broken");
    copy(env, db, &broken);
    let expect = damage(env, &broken);
    let (code, v) = compare(env, db, &broken);
    assert_eq!(code, 1, "{db}: damage not reported: {v:#}");
    let want: BTreeSet<String> = expect.iter().map(|(c, _)| c.to_string()).collect();
    eprintln!("{db}: damaged and reported: {want:?}");
    let damageable: BTreeSet<String> = all
        .iter()
        .filter(|c| !no_data.contains(&c.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        want, damageable,
        "{db}: the damage made is not the damage this fixture's data allows"
    );
    assert_eq!(
        failing(&v),
        want,
        "{db}: damage reported in other checks than its own: {v:#}"
    );
    for (check, text) in &expect {
        let lines = differences(&v, check);
        assert!(
            lines.iter().any(|l| l.contains(text.as_str())),
            "{db}: {check} should name {text:?}: {lines:#?}"
        );
    }
    // The text form: one line per difference, exit 1.
    let o = env.run(&["compare", "--db", db, "--test-db", &broken]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    for check in &want {
        assert!(
            text.lines()
                .any(|l| l.starts_with("✗ ") && l.contains(check.as_str())),
            "{text}"
        );
    }
}

/// (db, file, filestore tarball and its folder, the checks it has no data to damage for)
type Fixture = (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static [&'static str],
);

#[test]
fn compare_on_every_fixture() {
    let Some(dir) = fixtures() else { return };
    let env = Env::new();
    const ACCOUNTING: [&str; 4] = [
        "journal items per account",
        "receivable and payable per partner",
        "tax amounts per tax",
        "posted invoices per journal and year",
    ];
    const STOCK: [&str; 2] = [
        "stock per product and location",
        "stock valuation per product",
    ];
    let all: [Fixture; 8] = [
        (
            "odoo12",
            "odoo12_oow-wizard_test.dump",
            Some(("odoo12_oow-wizard_filestore.tar.gz", "filestore")),
            // base, web, base_import only; no sequence used yet
            &[
                ACCOUNTING[0],
                ACCOUNTING[1],
                ACCOUNTING[2],
                ACCOUNTING[3],
                STOCK[0],
                STOCK[1],
                "sequences",
                "custom fields",
            ],
        ),
        // no stock, no custom field, no filestore
        (
            "odoo15",
            "odoo15_treeper.dump",
            None,
            &[STOCK[0], STOCK[1], "custom fields", "attachment files"],
        ),
        (
            "odoo16",
            "odoo16_real.dump",
            Some(("odoo16_real.filestore.tar.gz", "odoo16_real")),
            &["custom fields"],
        ),
        (
            "odoo17",
            "odoo17_real.dump",
            Some(("odoo17_real.filestore.tar.gz", "odoo17_real")),
            &[],
        ),
        // mail and website: no accounting, no stock, no sequence used, no custom field
        (
            "odoo17_convive",
            "odoo17_convive_backup.zip",
            None,
            &[
                ACCOUNTING[0],
                ACCOUNTING[1],
                ACCOUNTING[2],
                ACCOUNTING[3],
                STOCK[0],
                STOCK[1],
                "sequences",
                "custom fields",
            ],
        ),
        // no posted invoice nor tax line, no filestore
        (
            "odoo17_yit",
            "odoo17_yit_esm.sql.gz",
            None,
            &[ACCOUNTING[2], ACCOUNTING[3], "attachment files"],
        ),
        (
            "odoo18",
            "odoo18_real.dump",
            Some(("odoo18_real.filestore.tar.gz", "odoo18_real")),
            &[],
        ),
        (
            "odoo19",
            "odoo19_real.dump",
            Some(("odoo19_real.filestore.tar.gz", "odoo19_real")),
            &[],
        ),
    ];
    for (db, file, fs, no_data) in all {
        load(&env, &dir, file, fs, db);
        case(&env, db, no_data);
        // What this fixture proved is done: give the room back on a shared machine.
        for d in [format!("{db}_same"), format!("{db}_broken"), db.to_string()] {
            env.exec("postgres", &format!("DROP DATABASE \"{d}\""));
        }
    }
}

/// A 16.0 → 17.0 plan that also archives one partner: a change the tester must see.
fn plan_archiving_a_partner(env: &Env) -> PathBuf {
    let plan = version_bump_plan(env.dir.path(), "16.0", "17.0");
    std::fs::write(
        env.dir.path().join("bump-17.0").join("020_archive.sql"),
        "UPDATE res_partner SET active = false WHERE id = (SELECT max(id) FROM res_partner WHERE active);",
    )
    .unwrap();
    plan
}

fn archived_partner(env: &Env, db: &str) -> i32 {
    env.one(db, "SELECT max(id) FROM res_partner WHERE active")
}

/// `test --json` of `DB` to 17.0 with `plan`: the job's object.
fn test_job(env: &Env, db: &str, plan: &Path) -> serde_json::Value {
    let args = job_args("test", db, plan);
    let o = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&o);
    json(&o)
}

fn failing_names(v: &serde_json::Value) -> Vec<String> {
    failing(v).into_iter().collect()
}

#[test]
fn the_test_job_ends_with_a_comparison_whose_differences_are_findings() {
    const DB: &str = "demo_manufacturing";
    let env = Env::new();
    env.demo_db(DB);
    let partner = archived_partner(&env, DB);
    let plan = plan_archiving_a_partner(&env);
    let v = test_job(&env, DB, &plan);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["name"], "compare");
    assert_eq!(steps.last().unwrap()["status"], "done");
    let cmp = &v["comparison"];
    assert_eq!(failing_names(cmp), ["records per business model"]);
    let lines = differences(cmp, "records per business model");
    assert!(
        lines.iter().any(|l| l.starts_with("res.partner active: ")
            && l.contains(&format!("1 gone: ids {partner}"))),
        "{lines:?}"
    );
    // The group production did not have (no archived partner) names its new ids too.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("res.partner archived: 0 → 1")
                && l.contains(&format!("1 new: ids {partner}"))),
        "{lines:?}"
    );
    let st = env.run(&["status", "--db", DB, "--json"]);
    assert_ok(&st);
    let job = &json(&st)["campaigns"][0]["tests"][0];
    assert_eq!(job["status"], "ready", "differences do not fail the job");
    assert_eq!(job["comparison"], *cmp);

    // The report bundle carries it.
    let out = env.dir.path().join("report");
    assert_ok(&env.run(&["report", "--db", DB, "--out", out.to_str().unwrap()]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Comparison with production")
            && md.contains("[DIFFERS] records / records per business model"),
        "{md}"
    );
    let rj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rj["comparisons"][0]["comparison"], *cmp);
}

/// A module installed in production and not in the copy says why when it can
/// be known: merged by the target series (its list), renamed by the plan (its log).
#[test]
fn a_module_gone_says_whether_the_target_renamed_or_merged_it() {
    const DB: &str = "demo_manufacturing";
    let env = Env::new();
    env.demo_db(DB);
    env.exec(
        DB,
        "INSERT INTO ir_module_module (name, state, latest_version) VALUES \
         ('website_sale', 'installed', '16.0.1.1'), ('website_sale_delivery', 'installed', '16.0.1.0'), \
         ('old_custom', 'installed', '16.0.1.0'), ('dropped_custom', 'installed', '16.0.1.0') \
         ON CONFLICT (name) DO UPDATE SET state = 'installed'",
    );
    let plan = version_bump_plan(env.dir.path(), "16.0", "17.0");
    // What the upgrade does: 17.0 merges website_sale_delivery into website_sale (the row
    // goes); the plan renames old_custom and logs it the way openupgradelib does at DEBUG;
    // dropped_custom ends uninstalled.
    std::fs::write(
        env.dir.path().join("bump-17.0").join("020_modules.sql"),
        "DELETE FROM ir_module_module WHERE name = 'website_sale_delivery'; \
         UPDATE ir_module_module SET name = 'new_custom' WHERE name = 'old_custom'; \
         UPDATE ir_module_module SET state = 'uninstalled' WHERE name = 'dropped_custom';",
    )
    .unwrap();
    let script = env.dir.path().join("log.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"2026-12-01 06:00:00,001 4242 DEBUG copy openupgradelib.openupgrade: 1 rows affected after 0:00:00.000532 running UPDATE ir_module_module SET name = 'new_custom' WHERE name = 'old_custom'\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut toml = std::fs::read_to_string(&plan).unwrap();
    toml.push_str("[[hop.step]]\nname = \"log\"\ncommand = [\"./log.sh\"]\n");
    std::fs::write(&plan, toml).unwrap();

    let cmp = test_job(&env, DB, &plan)["comparison"].clone();
    assert_eq!(failing_names(&cmp), ["modules installed"], "{cmp:#}");
    let check = cmp["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "modules installed")
        .unwrap()
        .clone();
    assert_eq!(
        check["summary"],
        "3 module(s) no longer installed (2 renamed or merged by the upgrade)"
    );
    assert_eq!(
        differences(&cmp, "modules installed"),
        [
            "dropped_custom: installed in production, uninstalled in the copy",
            "old_custom: renamed to new_custom (the upgrade's log); new_custom is installed in the copy",
            "website_sale_delivery: merged into website_sale by 17.0 (OpenUpgrade's list for 17.0); website_sale is installed in the copy",
        ]
    );
    assert_eq!(
        check["notes"],
        serde_json::json!([
            "new_custom: installed in the copy, not in production (it takes old_custom's place)"
        ])
    );
}

#[test]
fn restore_asks_to_acknowledge_the_production_comparison() {
    const DB: &str = "demo_manufacturing";
    let env = Env::new();
    env.demo_db(DB);
    let partner = archived_partner(&env, DB);
    let plan = plan_archiving_a_partner(&env);
    assert_ok(&env.run(&["freeze", "--db", DB, "--yes"]));
    // Production is frozen (no connection possible): its side is read from the fresh copy.
    let o = run_job(&env, "production", DB, &plan);
    assert_ok(&o);
    let cmp = json(&o)["comparison"].clone();
    assert_eq!(
        failing_names(&cmp),
        ["records per business model"],
        "{cmp:#}"
    );
    let upgraded = json(&o)["upgraded_db"].as_str().unwrap().to_string();

    // No terminal, no --yes: refused in one line, nothing swapped.
    let o = env.run(&["restore", "--db", DB]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("differs from production") && err.contains(&format!("ids {partner}")),
        "{err}"
    );
    assert!(err.lines().last().unwrap().contains("add --yes"), "{err}");
    assert!(env.one::<bool>(
        "postgres",
        &format!("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{upgraded}')")
    ));
    // The engine itself refuses, whatever front end calls it without asking.
    let engine = upgrade_pilot::engine::Engine {
        conn: env.conn(),
        config: Default::default(),
        state_dir: env.state_dir(),
        data_dir: Some(env.data_dir()),
    };
    let refused = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(engine.restore(DB))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        refused.contains("nobody acknowledged"),
        "engine restore: {refused:?}"
    );
    assert!(env.db_exists(&upgraded));

    // --yes acknowledges and restores; the acknowledgment is kept in the job.
    assert_ok(&env.run(&["restore", "--db", DB, "--yes"]));
    let st = json(&env.run(&["status", "--db", DB, "--json"]));
    let ack = &st["campaigns"][0]["production"][0]["comparison_acknowledged"];
    // Two rows: one partner gone from the active ones, one more archived.
    assert_eq!(ack["differences"], 2, "{st:#}");

    // After the restore: production against the kept original.
    let before = st["campaigns"][0]["swaps"][0]["aside"]
        .as_str()
        .unwrap()
        .to_string();
    let o = env.run(&["compare", "--db", &before, "--test-db", DB]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("✗ records · records per business model"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn compare_refuses_bad_input_with_exit_2() {
    let env = Env::new();
    env.demo_db("demo");
    for (args, says) in [
        (vec!["compare", "--db", "demo", "--test-db", "nope"], "nope"),
        (
            vec!["compare", "--db", "demo", "--test-db", "demo"],
            "same database",
        ),
    ] {
        let o = env.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// The new version's module data rewrites the files of the records it owns
/// (menu icons, payment icons, flags: 69 of them in the real OpenUpgrade 16.0 →
/// 17.0 run of this fixture); that is not a loss. A file of the user's own
/// records that changed is, and is said once. Likewise a module's own view
/// that its new version dropped (137 in that run) is a note, not a difference.
#[test]
fn files_the_new_version_rewrites_for_its_own_records_are_not_differences() {
    let Some(dir) = fixtures() else { return };
    let env = Env::new();
    let db = "odoo16";
    load(
        &env,
        &dir,
        "odoo16_real.dump",
        Some(("odoo16_real.filestore.tar.gz", "odoo16_real")),
        db,
    );
    let up = "odoo16_up";
    copy(&env, db, up);
    let fs = filestore::path(&env.data_dir(), up);
    let pick = |cond: &str| -> i32 {
        env.one(
            up,
            &format!(
                "SELECT min(a.id) FROM ir_attachment a WHERE a.store_fname IS NOT NULL AND a.res_field IS NOT NULL AND {cond}"
            ),
        )
    };
    let owned = "EXISTS (SELECT 1 FROM ir_model_data d WHERE d.model = a.res_model AND d.res_id = a.res_id AND NOT coalesce(d.noupdate, false))";
    let module_file = pick(&format!("a.res_model = 'payment.icon' AND {owned}"));
    let user_file = pick(&format!("a.res_model = 'product.template' AND NOT {owned}"));
    // As an upgrade writes a binary field: a new file, the row pointed at it.
    for id in [module_file, user_file] {
        let fname = format!("zz/new{id}");
        std::fs::create_dir_all(fs.join("zz")).unwrap();
        std::fs::write(fs.join(&fname), format!("the new version's image {id}")).unwrap();
        env.exec(
            up,
            &format!("UPDATE ir_attachment SET store_fname = '{fname}', checksum = md5('{id}') || '00000000' WHERE id = {id}"),
        );
    }
    let (code, v) = compare(&env, db, up);
    assert_eq!(code, 1);
    assert_eq!(
        failing(&v),
        BTreeSet::from(["attachment files".to_string()])
    );
    let lines = differences(&v, "attachment files");
    assert_eq!(
        lines.len(),
        1,
        "one line for the user's file, none for the module's: {lines:?}"
    );
    assert!(
        lines[0].starts_with(&format!("attachment {user_file} ")),
        "{lines:?}"
    );
}

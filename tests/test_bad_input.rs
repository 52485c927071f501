//! Bad input (docs/DESIGN.md, "The rules"): a clear one-line error, a non-zero exit, and
//! nothing changed on the server.

mod common;
use common::*;

const DB: &str = "demo_manufacturing";

fn test_cmd<'a>(db: &'a str, target: &'a str, plan: &'a str) -> Vec<&'a str> {
    vec!["test", "--db", db, "--target", target, "--plan", plan]
}

/// Runs a command that must be refused and checks no database appeared or changed.
fn refused(env: &Env, args: &[&str], needle: &str) {
    let dbs = env.databases();
    let sums = env.checksums(DB);
    let o = env.run(args);
    assert_refused(&o, needle);
    assert_eq!(env.databases(), dbs, "no database created or dropped");
    assert_eq!(env.checksums(DB), sums, "source unchanged");
}

#[test]
fn missing_db_non_odoo_db_and_bad_targets() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec("postgres", "CREATE DATABASE not_odoo");
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    refused(
        &env,
        &test_cmd("nope", "17.0", p),
        "database \"nope\" does not exist",
    );
    refused(&env, &["inspect", "--db", "nope"], "does not exist");
    refused(
        &env,
        &test_cmd("not_odoo", "17.0", p),
        "not an Odoo database",
    );
    refused(
        &env,
        &["inspect", "--db", "not_odoo"],
        "not an Odoo database",
    );
    refused(&env, &test_cmd(DB, "16.0", p), "target 16.0 is not above");
    refused(&env, &test_cmd(DB, "15.0", p), "is not above");
    refused(&env, &test_cmd(DB, "17.5", p), "is not an Odoo version");
    refused(&env, &test_cmd(DB, "7.0", p), "not a released Odoo version");
    // The hint echoes a valid form of what was typed (issue 10, case 23).
    refused(&env, &test_cmd(DB, "18", p), "write it as 18.0");
    refused(&env, &test_cmd(DB, "saas~18", p), "write it as saas~18.1");
    // Newer than the version table: not refused as unknown (the plan decides).
    refused(
        &env,
        &test_cmd(DB, "21.0", p),
        "the plan ends at 17.0 but the target is 21.0",
    );
    refused(
        &env,
        &test_cmd(DB, "18.0", p),
        "the plan ends at 17.0 but the target is 18.0",
    );
    refused(
        &env,
        &["test", "--db", DB, "--target", "17.0"],
        "no upgrade plan for 17.0",
    );
    // Nothing listening there.
    let o = env.run_dsn(
        "host=127.0.0.1 port=1 user=postgres sslmode=disable",
        &["inspect", "--db", DB],
        &[],
    );
    assert_refused(&o, "cannot reach PostgreSQL at 127.0.0.1:1");
}

#[test]
fn test_db_name_taken_or_too_long() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec("postgres", "CREATE DATABASE taken");
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let mut args = test_cmd(DB, "17.0", p);
    args.extend(["--test-db", "taken"]);
    refused(&env, &args, "database \"taken\" already exists");
    let long = "x".repeat(64);
    let mut args = test_cmd(DB, "17.0", p);
    args.extend(["--test-db", &long]);
    refused(&env, &args, "is 64 bytes; PostgreSQL allows at most 63");
    refused(&env, &["inspect", "--db", &"é".repeat(32)], "64 bytes");
}

#[test]
fn hostile_names_act_on_the_right_database_only() {
    let env = Env::new();
    let weird = "we\"ird 'ñame $$ %s 🚀";
    env.demo_db(weird);
    env.exec("postgres", "CREATE DATABASE y");
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let target_name = "x\"; DROP DATABASE y; --";
    let mut args = test_cmd(weird, "17.0", p);
    args.extend(["--test-db", target_name, "--json"]);
    let o = env.run(&args);
    assert_ok(&o);
    assert_eq!(json(&o)["test_db"], target_name);
    assert!(
        env.db_exists("y"),
        "the database named in the injection attempt is untouched"
    );
    assert_eq!(
        env.one::<String>(
            target_name,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(
        env.one::<String>(
            weird,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "16.0.1.3"
    );
    assert!(env.data_dir().join("filestore").join(target_name).is_dir());

    // 63 bytes exactly: valid as a source; its test copy's name is shortened, suffix kept.
    let exact = "a".repeat(63);
    env.demo_db(&exact);
    let o = env.run(&[&test_cmd(&exact, "17.0", p)[..], &["--json"]].concat());
    assert_ok(&o);
    let name = json(&o)["test_db"].as_str().unwrap().to_string();
    assert!(name.len() <= 63 && name.contains("_test_17.0_"), "{name}");
}

#[test]
fn roles_without_rights_are_refused() {
    let env = Env::new();
    env.demo_db(DB);
    env.exec("postgres", "CREATE ROLE plain LOGIN; CREATE ROLE creator LOGIN CREATEDB; ALTER DATABASE demo_manufacturing OWNER TO plain");
    env.exec(
        DB,
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO plain, creator",
    );
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let base = format!(
        "host={} port={}",
        env.cluster.socket_dir().display(),
        env.cluster.port
    );
    let as_role = |role: &str| {
        let dsn = format!("{base} user={role}");
        let dbs = env.databases();
        let o = env.run_dsn(&dsn, &test_cmd(DB, "17.0", p), &[]);
        assert_eq!(env.databases(), dbs);
        o
    };
    assert_refused(&as_role("plain"), "role \"plain\" cannot create databases");
    assert_refused(
        &as_role("creator"),
        "role \"creator\" does not own \"demo_manufacturing\"",
    );
}

#[test]
fn other_sessions_template_refused_snapshot_keeps_them() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let p = plan.to_str().unwrap();
    let odoo = env.rt.block_on(async {
        let c = env.conn().connect(DB).await.unwrap();
        c.batch_execute("SET application_name = 'odoo-worker-1'")
            .await
            .unwrap();
        c
    });
    let pid: i32 = env
        .rt
        .block_on(odoo.query_one("SELECT pg_backend_pid()", &[]))
        .unwrap()
        .get(0);
    let mut args = test_cmd(DB, "17.0", p);
    args.extend(["--clone", "template"]);
    refused(&env, &args, "odoo-worker-1");

    let o = env.run(&[&test_cmd(DB, "17.0", p)[..], &["--json"]].concat());
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["clone_method"], "snapshot");
    let copy = v["test_db"].as_str().unwrap();
    assert_eq!(
        env.one::<i64>(copy, "SELECT count(*) FROM res_partner"),
        env.one::<i64>(DB, "SELECT count(*) FROM res_partner")
    );
    assert_eq!(
        env.one::<i64>(copy, "SELECT count(*) FROM ir_cron WHERE active"),
        1
    );
    // The production session was never touched.
    let still: i32 = env
        .rt
        .block_on(odoo.query_one("SELECT pg_backend_pid()", &[]))
        .unwrap()
        .get(0);
    assert_eq!(still, pid);
}

#[test]
fn plan_errors_stop_at_the_file_and_say_where() {
    let env = Env::new();
    env.demo_db(DB);
    let dir = env.dir.path().join("badplan");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(dir.join("sql/010_ok.sql"), "CREATE TABLE x_ok (id int);").unwrap();
    std::fs::write(dir.join("sql/020_bad.sql"), "-- a broken script\nUPDATE res_partner SET name = name;\nUPDATE no_such_table SET a = 1;\n").unwrap();
    std::fs::write(dir.join("plan.toml"), "name = \"bad\"\n[[hop]]\nfrom = \"16.0\"\nto = \"17.0\"\n[[hop.step]]\nname = \"pre\"\nsql = \"sql\"\n").unwrap();
    let sums = env.checksums(DB);
    let o = env.run(
        &[
            &test_cmd(DB, "17.0", dir.join("plan.toml").to_str().unwrap())[..],
            &["--json"],
        ]
        .concat(),
    );
    assert_refused(
        &o,
        "020_bad.sql failed at line 3: relation \"no_such_table\" does not exist",
    );
    assert_eq!(env.checksums(DB), sums);

    std::fs::write(
        dir.join("missing.toml"),
        "name = \"m\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"pre\"\nsql = \"nowhere\"\n",
    )
    .unwrap();
    refused(
        &env,
        &test_cmd(DB, "17.0", dir.join("missing.toml").to_str().unwrap()),
        "SQL folder",
    );
    std::fs::write(
        dir.join("syntax.toml"),
        "name = \"s\"\n[[hop]]\nto = 17.0\n",
    )
    .unwrap();
    refused(
        &env,
        &test_cmd(DB, "17.0", dir.join("syntax.toml").to_str().unwrap()),
        "line 3",
    );
    std::fs::write(dir.join("nocmd.toml"), "name = \"c\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"odoo\"\ncommand = [\"/opt/odoo17/odoo-bin\"]\n").unwrap();
    refused(
        &env,
        &test_cmd(DB, "17.0", dir.join("nocmd.toml").to_str().unwrap()),
        "/opt/odoo17/odoo-bin does not exist",
    );
    refused(
        &env,
        &test_cmd(DB, "17.0", dir.join("absent.toml").to_str().unwrap()),
        "cannot read",
    );
}

//! The headless test upgrade on the demo seed, against a real PostgreSQL.

mod common;
use common::*;

const DB: &str = "demo_manufacturing";

#[test]
fn inspect_reports_version_customizations_and_sessions() {
    let env = Env::new();
    env.demo_db(DB);
    let o = env.run(&["inspect", "--db", DB, "--json"]);
    assert_ok(&o);
    let v = json(&o);
    assert_eq!(v["series"], "16.0");
    assert_eq!(v["base_version"], "16.0.1.3");
    assert_eq!(v["installed_count"], 26);
    assert_eq!(
        v["custom_modules"],
        serde_json::json!(["acme_delivery_rules", "acme_invoice_layout"])
    );
    let actions: Vec<i64> = v["code_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![20, 21],
        "only the actions written in the database, not module crons"
    );
    assert_eq!(v["code_actions"][0]["automated"], true);
    let views: Vec<i64> = v["custom_views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(views, vec![50, 51]);
    assert_eq!(v["neutralized"], false);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 0);

    let human = env.run(&["inspect", "--db", DB]);
    assert_ok(&human);
    assert!(stdout(&human).contains("2 not covered by Odoo's upgrade service"));
}

#[test]
fn test_upgrade_makes_a_neutralized_upgraded_copy_and_leaves_the_source_alone() {
    let env = Env::new();
    env.demo_db(DB);
    let plan = env.demo_plan();
    let before = env.checksums(DB);
    let o = run_job(&env, "test", DB, &plan);
    assert_ok(&o);
    let v = json(&o);
    let test_db = v["test_db"].as_str().unwrap().to_string();
    assert!(
        test_db.starts_with("demo_manufacturing_test_17.0_"),
        "{test_db}"
    );
    assert_eq!(v["source_version"], "16.0.1.3");
    assert_eq!(v["target_version"], "17.0");
    assert_eq!(v["clone_method"], "template");
    assert_eq!(v["neutralized"]["crons"], 13, "14 crons, autovacuum stays");
    assert_eq!(
        v["neutralized_again"]["crons"], 2,
        "the two crons the new version's data created"
    );
    assert_eq!(v["neutralized_again"]["webhooks"], 1);
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "preflight",
            "clone",
            "neutralize",
            "plan",
            "neutralize_again",
            "verify",
            "compare"
        ]
    );
    assert!(
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done")
    );

    // The source: not one row, not one setting changed.
    assert_eq!(env.checksums(DB), before);

    // The copy cannot mail, fetch, run crons, charge, ship or call out.
    let t = test_db.as_str();
    let active_mail: Vec<String> = env
        .sql(t, "SELECT smtp_host FROM ir_mail_server WHERE active")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(active_mail, ["invalid"]);
    assert_eq!(
        env.one::<i64>(
            t,
            "SELECT count(*) FROM mail_template WHERE mail_server_id IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        env.one::<i64>(t, "SELECT count(*) FROM fetchmail_server WHERE active"),
        0
    );
    let crons: Vec<String> = env
        .sql(t, "SELECT cron_name FROM ir_cron WHERE active")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(crons, ["Base: Auto-vacuum internal data"]);
    let stripe = &env.sql(t, "SELECT state, stripe_secret_key, stripe_webhook_secret FROM payment_provider WHERE code = 'stripe'")[0];
    assert_eq!(
        (
            stripe.get::<_, String>(0),
            stripe.get::<_, Option<String>>(1),
            stripe.get::<_, Option<String>>(2)
        ),
        ("disabled".into(), None, None)
    );
    assert_eq!(
        env.one::<String>(t, "SELECT state FROM payment_provider WHERE code = 'demo'"),
        "test"
    );
    assert_eq!(
        env.one::<i64>(
            t,
            "SELECT count(*) FROM delivery_carrier WHERE prod_environment"
        ),
        0
    );
    assert!(
        !env.one::<bool>(
            t,
            "SELECT active FROM delivery_carrier WHERE delivery_type = 'fedex'"
        ),
        "API carrier archived"
    );
    assert_eq!(
        env.one::<String>(
            t,
            "SELECT webhook_url FROM ir_act_server WHERE state = 'webhook'"
        ),
        "http://neutralized.invalid/"
    );
    assert_eq!(
        env.one::<i64>(
            t,
            "SELECT count(*) FROM iap_account WHERE account_token NOT LIKE '%+disabled'"
        ),
        0
    );
    assert_eq!(
        env.one::<i64>(t, "SELECT count(*) FROM auth_oauth_provider WHERE enabled"),
        0
    );
    assert_eq!(
        env.one::<Option<String>>(t, "SELECT calendar_rtoken FROM google_calendar_credentials"),
        None
    );
    let param = |k: &str| {
        env.one::<String>(
            t,
            &format!("SELECT value FROM ir_config_parameter WHERE key = '{k}'"),
        )
    };
    assert_eq!(param("database.is_neutralized"), "true");
    assert_eq!(param("web.base.url"), "http://localhost:8069");
    assert_ne!(
        param("database.uuid"),
        "8a3b1c6e-5f2d-11ee-9c1a-0242ac120002"
    );
    assert_ne!(
        param("database.secret"),
        "c9f0e4b2-7d8a-4e1f-b6c3-2a9d8e7f6b5c"
    );
    assert_eq!(
        env.one::<String>(t, "SELECT name FROM mail_alias_domain"),
        "localhost"
    );
    let web = &env.sql(t, "SELECT domain, cdn_activated, robots_txt FROM website")[0];
    assert_eq!(web.get::<_, Option<String>>(0), None);
    assert_eq!(web.get::<_, Option<bool>>(1), Some(false));
    assert_eq!(
        web.get::<_, Option<String>>(2).as_deref(),
        Some("User-agent: *\nDisallow: /")
    );
    assert_eq!(env.one::<i64>(t, "SELECT count(*) FROM ir_ui_view WHERE key IN ('web.neutralize_banner', 'website.neutralize_ribbon') AND active"), 2);
    // ... and it is upgraded: 17.0 versions and schema.
    assert_eq!(
        env.one::<String>(
            t,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'"
        ),
        "17.0.1.3"
    );
    assert_eq!(
        env.one::<i64>(t, "SELECT count(*) FROM upgrade_pilot.journal"),
        7,
        "6 SQL files + 1 command"
    );
    // Production still can do all of it.
    assert_eq!(
        env.one::<i64>(DB, "SELECT count(*) FROM ir_mail_server WHERE active"),
        2
    );
    assert_eq!(
        env.one::<String>(
            DB,
            "SELECT state FROM payment_provider WHERE code = 'stripe'"
        ),
        "enabled"
    );

    // Filestore: same files, as hard links.
    let src_fs = env.data_dir().join("filestore").join(DB);
    let copy_fs = env.data_dir().join("filestore").join(t);
    let count = |p: &std::path::Path| walk(p).len();
    assert_eq!(count(&copy_fs), 25);
    assert_eq!(count(&src_fs), 25);

    // The campaign now knows DB as production: neutralizing it in place is refused.
    assert_refused(
        &env.run(&["neutralize", "--db", DB, "--yes"]),
        "production database of a campaign",
    );
    assert_eq!(
        env.one::<i64>(DB, "SELECT count(*) FROM ir_cron WHERE active"),
        14
    );

    let st = env.run(&["status", "--json"]);
    assert_ok(&st);
    assert_eq!(json(&st)["campaigns"][0]["tests"][0]["status"], "ready");
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn neutralize_command_on_a_restored_copy() {
    let env = Env::new();
    env.demo_db("restored_copy");
    let refused = env.run(&["neutralize", "--db", "restored_copy"]);
    assert_refused(&refused, "--yes");
    assert_eq!(
        env.one::<i64>("restored_copy", "SELECT count(*) FROM ir_cron WHERE active"),
        14,
        "nothing changed without confirmation"
    );
    let o = env.run(&["neutralize", "--db", "restored_copy", "--yes"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("is neutralized"));
    assert_eq!(
        env.one::<i64>("restored_copy", "SELECT count(*) FROM ir_cron WHERE active"),
        1
    );
    // Running it again changes nothing more and adds no second dummy server.
    assert_ok(&env.run(&["neutralize", "--db", "restored_copy", "--yes"]));
    assert_eq!(
        env.one::<i64>(
            "restored_copy",
            "SELECT count(*) FROM ir_mail_server WHERE smtp_host = 'invalid'"
        ),
        1
    );
}

//! Users' own neutralization rules (`[neutralize] extra_rules`): they run when
//! their module is installed, are skipped by name, group in the report, and
//! their post-conditions are checked.

mod common;
use common::*;

const DB: &str = "demo_manufacturing";

/// The demo database with a custom module's live key, and a config naming `rules`.
fn setup(env: &Env, rules: &str, extra: &str) -> std::path::PathBuf {
    env.demo_db(DB);
    env.exec(
        DB,
        "CREATE TABLE acme_carrier_account (id serial PRIMARY KEY, api_key varchar, live boolean); \
         INSERT INTO acme_carrier_account (api_key, live) VALUES ('live-acme-key', true), (NULL, true);",
    );
    std::fs::write(env.dir.path().join("acme_delivery_rules.toml"), rules).unwrap();
    let cfg = env.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[neutralize]\nextra_rules = [\"acme_delivery_rules.toml\"]\n{extra}"),
    )
    .unwrap();
    cfg
}

const RULES: &str = r#"
[[rule]]
name = "carriers"
reason = "Acme API keys removed, accounts out of live mode"
table = "acme_carrier_account"
null = ["api_key"]
set = { live = false }

[[rule]]
name = "carriers"
reason = "a rule for 15.0 and older"
table = "acme_carrier_account"
set = { api_key = "never" }
series = "..15.0"
"#;

fn neutralize(env: &Env, cfg: &std::path::Path) -> std::process::Output {
    env.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "neutralize",
        "--db",
        DB,
        "--yes",
    ])
}

#[test]
fn extra_rules_run_grouped_by_module_and_are_verified() {
    let env = Env::new();
    let other = env.dir.path().join("other_module.toml");
    std::fs::write(
        &other,
        "[[rule]]\nname = \"api_keys\"\nreason = \"not installed\"\ntable = \"acme_carrier_account\"\nset = { api_key = \"other\" }\n",
    )
    .unwrap();
    let cfg = setup(&env, RULES, "");
    // A second file whose module (other_module) is not installed.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "\"acme_delivery_rules.toml\"]",
        "\"acme_delivery_rules.toml\", \"other_module.toml\"]",
    );
    std::fs::write(&cfg, text).unwrap();
    let o = neutralize(&env, &cfg);
    assert_ok(&o);
    let out = stdout(&o);
    // Both rows changed (live = false), one key removed; the 15.0-only rule did not run.
    assert!(out.contains("acme_delivery_rules  2 row(s)"), "{out}");
    assert!(
        out.contains("Acme API keys removed, accounts out of live mode"),
        "{out}"
    );
    assert!(!out.contains("other_module"), "{out}");
    assert_eq!(
        env.one::<i64>(
            DB,
            "SELECT count(*) FROM acme_carrier_account WHERE api_key IS NOT NULL OR live"
        ),
        0
    );
    assert!(out.contains("checks passed"), "{out}");
    // Idempotent: a second run changes nothing of it.
    let again = stdout(&neutralize(&env, &cfg));
    assert!(!again.contains("acme_delivery_rules"), "{again}");
}

#[test]
fn a_rule_whose_postcondition_fails_is_reported() {
    let env = Env::new();
    // Custom SQL after the rules puts a live key back: verify must say so.
    std::fs::write(
        env.dir.path().join("undo.sql"),
        "UPDATE acme_carrier_account SET live = true WHERE id = 1;",
    )
    .unwrap();
    let cfg = setup(&env, RULES, "extra_sql = [\"undo.sql\"]\n");
    let o = neutralize(&env, &cfg);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            "check failed: acme_delivery_rules: carriers: 1 acme_carrier_account row(s) not neutralized (live, api_key)"
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn skip_by_rule_or_module_name() {
    let env = Env::new();
    let cfg = setup(
        &env,
        RULES,
        "skip = [\"acme_delivery_rules\", \"banner\"]\n",
    );
    assert_ok(&neutralize(&env, &cfg));
    assert_eq!(
        env.one::<i64>(
            DB,
            "SELECT count(*) FROM acme_carrier_account WHERE api_key IS NOT NULL"
        ),
        1,
        "the module's rules were skipped"
    );
    assert!(
        !env.one::<bool>(
            DB,
            "SELECT active FROM ir_ui_view WHERE key = 'web.neutralize_banner'"
        ),
        "the banner rule was skipped"
    );
}

#[test]
fn a_bad_rules_file_is_one_line_and_changes_nothing() {
    let env = Env::new();
    let cfg = setup(
        &env,
        "[[rule]]\nname = \"x\"\nreason = \"no table\"\nnull = [\"api_key\"]\n",
        "",
    );
    let sums = env.checksums(DB);
    let o = neutralize(&env, &cfg);
    assert_refused(&o, "acme_delivery_rules.toml: rule x: needs a table");
    assert_eq!(env.checksums(DB), sums);
    let cfg = setup_again(&env, "skip = [\"no_such_rule\"]\n");
    assert_refused(
        &neutralize(&env, &cfg),
        "unknown neutralize rule or module \"no_such_rule\"",
    );
}

fn setup_again(env: &Env, extra: &str) -> std::path::PathBuf {
    std::fs::write(env.dir.path().join("acme_delivery_rules.toml"), RULES).unwrap();
    let cfg = env.dir.path().join("config2.toml");
    std::fs::write(
        &cfg,
        format!("[neutralize]\nextra_rules = [\"acme_delivery_rules.toml\"]\n{extra}"),
    )
    .unwrap();
    cfg
}

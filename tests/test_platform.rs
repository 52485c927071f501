//! `--engine odoo-platform` against the stand-in of Odoo's upgrade platform
//! (tests/standin/odoo-platform: HTTPS JSON-RPC on 127.0.0.1, a real sshd and
//! rsync): the test and production paths, kill -9 in each transfer and during
//! the upgrade (resumed, never a second request), a failed request, an
//! incompatible PostgreSQL, a transfer cut mid-file, contract refusals.

mod common;
use common::platform::Platform;
use common::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DB: &str = "demo_manufacturing";
const CODE: &str = "M2612ABCDEF";
const WAIT: Duration = Duration::from_secs(120);

struct Case {
    env: Env,
    platform: Platform,
    config: PathBuf,
}

impl Case {
    fn new(knobs: serde_json::Value) -> Case {
        let env = Env::new();
        env.demo_db(DB);
        env.exec(
            DB,
            &format!(
                "INSERT INTO ir_config_parameter (key, value) VALUES ('database.enterprise_code', '{CODE}')"
            ),
        );
        let platform = Platform::start_with(knobs);
        let config = env.dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("{}poll_seconds = 0.1\n", platform.config()),
        )
        .unwrap();
        Case {
            env,
            platform,
            config,
        }
    }

    fn args(&self, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = [
            cmd,
            "--db",
            DB,
            "--target",
            "17.0",
            "--engine",
            "odoo-platform",
            "--config",
            self.config.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn run(&self, cmd: &str, extra: &[&str]) -> std::process::Output {
        let a = self.args(cmd, extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        self.env.run(&a)
    }

    fn spawn(&self, cmd: &str) -> std::process::Child {
        spawn_job(&self.env, &self.args(cmd, &[]))
    }

    fn job(&self) -> serde_json::Value {
        let mut jobs = job_files(&self.env);
        assert_eq!(jobs.len(), 1, "one job: {jobs:#?}");
        jobs.remove(0)
    }

    /// How many times an upload came through the data channel.
    fn uploads(&self) -> usize {
        self.platform
            .journal()
            .iter()
            .filter(|e| e["event"] == "gate" && e["kind"] == "upload")
            .count()
    }

    /// The one request the platform has.
    fn id(&self) -> u64 {
        let reqs = self.platform.requests();
        assert_eq!(reqs.len(), 1, "one request: {reqs:#?}");
        reqs[0]["id"].as_u64().unwrap()
    }

    fn platform_dir(&self) -> PathBuf {
        self.env
            .state_dir()
            .join("platform")
            .join(self.job()["id"].as_str().unwrap())
    }

    fn series(&self, db: &str) -> String {
        self.env.one::<String>(
            db,
            "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
        )
    }

    fn param(&self, db: &str, key: &str) -> Option<String> {
        self.env
            .sql(
                db,
                &format!("SELECT value FROM ir_config_parameter WHERE key = '{key}'"),
            )
            .first()
            .map(|r| r.get(0))
    }

    /// The platform's token never leaves the job file.
    fn assert_token_kept_secret(&self, outputs: &[&std::process::Output]) {
        let token = self.platform.requests()[0]["token"]
            .as_str()
            .unwrap()
            .to_string();
        for o in outputs {
            assert!(!stdout(o).contains(&token) && !stderr(o).contains(&token));
        }
        for f in walk(&self.env.state_dir()) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
            let is_job_file = f.parent().is_some_and(|p| p.ends_with("jobs"));
            if is_job_file {
                assert!(
                    text.contains(&token),
                    "the job file keeps the token to resume"
                );
                let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", f.display());
            } else {
                assert!(!text.contains(&token), "token found in {}", f.display());
            }
        }
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            out.extend(walk(&e.path()));
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    out
}

fn files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .iter()
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn kill9(mut child: std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_test_upgrade_through_the_platform() {
    let c = Case::new(json!({}));
    let prod_files = files(&c.env.data_dir().join("filestore").join(DB));
    let prod_uuid = c.param(DB, "database.uuid");
    let o = c.run("test", &["--json"]);
    assert_ok(&o);
    let out = json(&o);
    let test_db = out["test_db"].as_str().unwrap().to_string();
    assert!(
        test_db.starts_with("demo_manufacturing_test_17.0_"),
        "{test_db}"
    );
    assert_eq!(out["platform"]["request_id"], c.id().to_string());
    assert!(
        out["platform"]["upgrade_report"]
            .as_str()
            .unwrap()
            .ends_with("upgrade-report.html")
    );

    // One request, for a test, with the database's contract and a public key only.
    let reqs = c.platform.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["aim"], "test");
    assert_eq!(reqs[0]["contract"], CODE);
    assert_eq!(reqs[0]["target"], "17.0");
    assert!(reqs[0]["ssh_key"].as_str().unwrap().starts_with("ssh-rsa "));
    assert!(!reqs[0]["ssh_key"].as_str().unwrap().contains("PRIVATE"));
    // What went up is a directory dump of production's data (not neutralized).
    assert!(c.platform.received_dump(c.id()).join("toc.dat").is_file());

    // The working copy: upgraded, neutralized again and verified here.
    assert!(
        c.series(&test_db).starts_with("17.0"),
        "{}",
        c.series(&test_db)
    );
    assert!(
        c.param(&test_db, "database.is_neutralized")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    );
    assert_ne!(c.param(&test_db, "database.uuid"), prod_uuid);
    let steps: Vec<&str> = out["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for s in [
        "dump",
        "request",
        "upload",
        "odoo_upgrade",
        "download",
        "import",
        "neutralize_again",
        "verify",
    ] {
        assert!(steps.contains(&s), "{steps:?}");
    }
    assert!(
        out["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done")
    );

    // The returned filestore merged over a copy of production's, in the real data dir.
    let test_files = files(&c.env.data_dir().join("filestore").join(&test_db));
    let returned = files(&c.platform.data_dir(c.id()).join("filestore"));
    assert!(!returned.is_empty());
    for f in prod_files.iter().chain(returned.iter()) {
        assert!(
            test_files.contains(f),
            "{f} missing from the test copy's filestore"
        );
    }
    assert_eq!(
        files(&c.env.data_dir().join("filestore").join(DB)),
        prod_files,
        "production's filestore is untouched"
    );
    // Odoo's report and log are kept with the job; the dumps are gone.
    let dir = c.platform_dir();
    assert!(dir.join("upgrade-report.html").is_file());
    assert!(dir.join("upgrade.log").is_file());
    assert!(!dir.join("result").exists() && !dir.join("origin.dump").exists());
    c.assert_token_kept_secret(&[&o]);

    // The anomaly bundle carries Odoo's report and log, and names the request.
    let bundle = c.env.dir.path().join("bundle");
    assert_ok(
        &c.env
            .run(&["report", "--db", DB, "--out", bundle.to_str().unwrap()]),
    );
    assert!(bundle.join("attachments/upgrade-report.html").is_file());
    assert!(bundle.join("attachments/upgrade.log").is_file());
    let md = std::fs::read_to_string(bundle.join("report.md")).unwrap();
    let hint = format!(
        "\"An issue related to my upgrade\" for Odoo's upgrade request {}",
        c.id()
    );
    assert!(md.contains(&hint), "{md}");
    let token = c.platform.requests()[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    for f in walk(&bundle) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !text.contains(&token),
            "token in the bundle's {}",
            f.display()
        );
    }

    // status shows the platform's state (the request is done there).
    let s = c.env.run(&["status", "--db", DB]);
    assert_ok(&s);
    let line = format!("Odoo's upgrade platform: request {} done", c.id());
    assert!(stdout(&s).contains(&line), "{}", stdout(&s));
    c.assert_token_kept_secret(&[&o, &s]);
}

#[test]
fn a_production_upgrade_through_the_platform() {
    let c = Case::new(json!({}));
    let prod_uuid = c.param(DB, "database.uuid");
    assert_ok(&c.env.run(&["freeze", "--db", DB, "--yes"]));
    let o = c.run("production", &["--json", "--yes"]);
    assert_ok(&o);
    let out = json(&o);
    let work = out["upgraded_db"].as_str().unwrap().to_string();
    assert!(
        work.starts_with("demo_manufacturing_upgrade_17.0_"),
        "{work}"
    );
    let reqs = c.platform.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["aim"], "production");
    assert_eq!(
        reqs[0]["contract"], CODE,
        "read on the frozen production's copy"
    );
    assert!(c.series(&work).starts_with("17.0"));
    // Production's own database, not neutralized: it may go live.
    assert_eq!(c.param(&work, "database.is_neutralized"), None);
    assert_eq!(c.param(&work, "database.uuid"), prod_uuid);
    let returned = files(&c.platform.data_dir(c.id()).join("filestore"));
    let work_files = files(&c.env.data_dir().join("filestore").join(&work));
    for f in &returned {
        assert!(work_files.contains(f), "{f} not merged");
    }
    c.assert_token_kept_secret(&[&o]);
    // Then the swap, as with any engine.
    let r = c.env.run(&["restore", "--db", DB, "--yes"]);
    assert_ok(&r);
    assert!(c.series(DB).starts_with("17.0"));
}

#[test]
fn killed_during_the_upload_it_resumes_the_same_request() {
    let c = Case::new(json!({"pause": {"upload": 4096}}));
    let child = c.spawn("test");
    c.platform
        .wait_for("a paused upload", WAIT, |e| e["event"] == "paused");
    kill9(child);
    c.platform.clear_knob("pause");
    let o = c.run("test", &[]);
    assert_ok(&o);
    assert_eq!(c.platform.requests_created(), 1, "never a second request");
    let uploads = c.uploads();
    assert_eq!(uploads, 2, "the upload was taken up again once");
    assert!(stderr(&o).contains("resuming"), "{}", stderr(&o));
}

#[test]
fn killed_during_the_upgrade_it_follows_the_same_request() {
    let c = Case::new(json!({"hold": true}));
    let child = c.spawn("test");
    c.platform
        .wait_for("a held upgrade", WAIT, |e| e["event"] == "held");
    // The platform holds it in progress; the job records that at its next poll.
    let deadline = std::time::Instant::now() + WAIT;
    while c.job()["platform"]["request"]["state"] != "progress" {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never saw the request in progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kill9(child);
    let job = c.job();
    assert_eq!(job["platform"]["request"]["request_id"], c.id().to_string());
    c.platform.clear_knob("hold");
    c.platform.wait_status(c.id(), "done", WAIT);
    // status asks the platform where the interrupted job's request stands
    // (done there meanwhile, while the job file last saw it in progress).
    let s = c
        .env
        .run(&["status", "--db", DB, "--config", c.config.to_str().unwrap()]);
    assert_ok(&s);
    let line = format!("Odoo's upgrade platform: request {} done", c.id());
    assert!(stdout(&s).contains(&line), "{}", stdout(&s));
    assert!(stdout(&s).contains("interrupted"), "{}", stdout(&s));
    let o = c.run("test", &["--json"]);
    assert_ok(&o);
    assert_eq!(c.platform.requests_created(), 1, "never a second request");
    // The dump was not sent again: the platform had it.
    let uploads = c.uploads();
    assert_eq!(uploads, 1);
    let steps = &json(&o)["steps"];
    assert!(
        steps
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "done")
    );
}

#[test]
fn killed_during_the_download_it_fetches_the_rest() {
    let c = Case::new(json!({"pause": {"download": 4096}}));
    let child = c.spawn("test");
    c.platform.wait_for("a paused download", WAIT, |e| {
        e["event"] == "paused" && e["kind"] == "download"
    });
    kill9(child);
    c.platform.clear_knob("pause");
    let o = c.run("test", &["--json"]);
    assert_ok(&o);
    assert_eq!(c.platform.requests_created(), 1);
    let test_db = json(&o)["test_db"].as_str().unwrap().to_string();
    assert!(c.series(&test_db).starts_with("17.0"));
}

#[test]
fn a_transfer_cut_mid_file_is_resumed_by_running_again() {
    let c = Case::new(json!({"cut": {"upload": 20000}}));
    let o = c.run("test", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("the transfer was cut")
            && err.contains("run the same command again to resume"),
        "{err}"
    );
    let o = c.run("test", &[]);
    assert_ok(&o);
    assert_eq!(c.platform.requests_created(), 1);
}

#[test]
fn a_failed_request_says_why_and_where_to_ask() {
    let c = Case::new(json!({"fail": "module account: column foo does not exist"}));
    let o = c.run("test", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    let id = c.id();
    assert!(
        err.contains(&format!(
            "upgrade request {id} failed on Odoo's platform: module account: column foo does not exist"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "\"An issue related to my upgrade\" with request {id}"
        )),
        "{err}"
    );
    assert_eq!(c.job()["status"], "failed");
}

#[test]
fn an_incompatible_postgresql_downloads_without_restoring() {
    let c = Case::new(json!({"pg_min": 99}));
    let o = c.run("test", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("needs a newer PostgreSQL than this server's"),
        "{err}"
    );
    let dump = c
        .platform_dir()
        .join("result")
        .join(format!("upgraded_{}.dump", c.id()));
    assert!(dump.join("toc.dat").is_file(), "downloaded, kept");
    assert!(err.contains(&dump.display().to_string()), "{err}");
}

#[test]
fn no_contract_is_refused_before_anything_is_made() {
    let c = Case::new(json!({}));
    c.env.exec(
        DB,
        "DELETE FROM ir_config_parameter WHERE key = 'database.enterprise_code'",
    );
    let before = c.env.databases();
    let o = c.run("test", &[]);
    assert_refused(&o, "no Enterprise contract for \"demo_manufacturing\"");
    assert!(stderr(&o).contains("--contract CODE"));
    assert_eq!(c.env.databases(), before);
    assert_eq!(c.platform.requests_created(), 0);
    // Given on the command line, it is used.
    let o = c.run("test", &["--contract", "M-GIVEN"]);
    assert_ok(&o);
    assert_eq!(c.platform.requests()[0]["contract"], "M-GIVEN");
}

#[test]
fn a_refused_contract_is_one_line() {
    let c = Case::new(json!({"refuse_contract": CODE}));
    let o = c.run("test", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("Odoo's upgrade platform refused the contract"),
        "{err}"
    );
}

#[test]
fn cancelling_says_what_becomes_of_the_request() {
    let c = Case::new(json!({"hold": true}));
    let child = c.spawn("test");
    c.platform
        .wait_for("a held upgrade", WAIT, |e| e["event"] == "held");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    let line = format!(
        "upgrade request {} stays on Odoo's platform as it is",
        c.id()
    );
    assert!(stderr(&o).contains(&line), "{}", stderr(&o));
    let job = c.job();
    assert_eq!(job["status"], "cancelled");
    assert!(job["error"].as_str().unwrap().contains(&line));
    assert!(!c.env.db_exists(job["work_db"].as_str().unwrap()));
}

//! The stand-in of Odoo's upgrade platform behaves as UPGRADE-ENGINES.md Part A
//! documents it: plain JSON-RPC calls over HTTPS (verified against its CA) and
//! rsync over its sshd, the way Odoo's script drives the real one. The client
//! (`--engine odoo-platform`) is tested against it elsewhere; this proves the
//! stand-in is worth testing against.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::Env;
use common::platform::Platform;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The client side of the data channel: a key pair and the host key file, as the
/// script keeps them (never the user's own known_hosts).
struct Channel {
    dir: tempfile::TempDir,
}

impl Channel {
    fn new() -> Channel {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("key"))
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen: {out:?}");
        Channel { dir }
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key")
    }

    fn public_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("key.pub")).unwrap()
    }

    /// Writes what transfer/start handed over as this channel's known_hosts.
    fn trust(&self, started: &Value) -> u16 {
        std::fs::write(
            self.dir.path().join("known_hosts"),
            started["known_hosts"].as_str().unwrap(),
        )
        .unwrap();
        started["ssh_port"].as_u64().unwrap() as u16
    }

    fn rsync(&self, port: u16, args: &[String]) -> Output {
        let ssh = format!(
            "ssh -p {port} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -i {}",
            self.dir.path().join("known_hosts").display(),
            self.key().display()
        );
        Command::new("rsync")
            .arg("-e")
            .arg(ssh)
            .args(args)
            .output()
            .unwrap()
    }

    /// The script's upload: the dump directory's contents to /data/origin.dump.
    fn upload(&self, p: &Platform, port: u16, dump: &Path) -> Output {
        self.rsync(
            port,
            &[
                "--recursive".into(),
                "--links".into(),
                "--times".into(),
                "--delete-after".into(),
                format!("{}/", dump.display()),
                format!("{}@127.0.0.1:/data/origin.dump", p.ssh_user),
            ],
        )
    }

    /// The script's download: the dump, filestore, report and log into `dest`.
    fn download(&self, p: &Platform, port: u16, dump_name: &str, dest: &Path) -> Output {
        let remote = |f: &str| format!("{}@127.0.0.1:/data/{f}", p.ssh_user);
        self.rsync(
            port,
            &[
                "-a".into(),
                "--ignore-missing-args".into(),
                remote(dump_name),
                remote("filestore"),
                remote("upgrade-report.html"),
                remote("upgrade.log"),
                format!("{}/", dest.display()),
            ],
        )
    }
}

/// The demo Odoo 16.0 database, dumped as the script dumps it (directory format).
fn demo_dump(env: &Env) -> PathBuf {
    env.demo_db("prod");
    dump_prod(env)
}

fn dump_prod(env: &Env) -> PathBuf {
    let dump = env.dir.path().join("origin.dump");
    let bin = upgrade_pilot::pg::tools::server_bin_dir().unwrap();
    let out = Command::new(bin.join("pg_dump"))
        .args(["--no-owner", "--format", "d", "--jobs", "2", "--file"])
        .arg(&dump)
        .arg(format!("{} dbname=prod", env.dsn()))
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump: {out:?}");
    dump
}

fn restore(env: &Env, db: &str, dump: &Path) {
    env.exec("postgres", &format!("CREATE DATABASE \"{db}\""));
    let bin = upgrade_pilot::pg::tools::server_bin_dir().unwrap();
    let out = Command::new(bin.join("pg_restore"))
        .args(["--no-owner", "--format", "d", "--dbname"])
        .arg(format!("{} dbname={db}", env.dsn()))
        .arg(dump)
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_restore: {out:?}");
}

/// A demo database dumped, a platform with these knobs, a client key pair.
fn setup(knobs: Value) -> (Env, PathBuf, Platform, Channel) {
    let env = Env::new();
    let dump = demo_dump(&env);
    (env, dump, Platform::start_with(knobs), Channel::new())
}

fn create(p: &Platform, ch: &Channel, aim: &str) -> Value {
    p.result(
        "upgrade/request/create",
        json!({"contract": "M2026-DEMO", "target": "17.0", "aim": aim, "actuator": "cli",
               "env_vars": [], "ssh_key": ch.public_key(), "api_version": "0.2"}),
    )
}

fn transfer(p: &Platform, token: &str, kind: &str) -> Value {
    p.result(
        "upgrade/request/transfer/start",
        json!({"token": token, "transfer_type": kind}),
    )
}

fn status(p: &Platform, token: &str) -> Value {
    p.result("upgrade/request/status", json!({ "token": token }))
}

/// Polls `status` as the script does (bounded) until it leaves pending/progress.
fn follow(p: &Platform, token: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let s = status(p, token);
        if s["status"] != "pending" && s["status"] != "progress" {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "still {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// create → upload → process: the token and whether PostgreSQL is compatible.
fn upload_and_process(p: &Platform, ch: &Channel, dump: &Path, aim: &str) -> (String, Value) {
    let created = create(p, ch, aim);
    let token = created["token"].as_str().unwrap().to_string();
    let started = transfer(p, &token, "upload");
    let port = ch.trust(&started);
    let up = ch.upload(p, port, dump);
    assert!(up.status.success(), "upload: {up:?}");
    p.result("upgrade/request/transfer/stop", json!({ "token": token }));
    let processed = p.result("upgrade/request/process", json!({ "token": token }));
    (token, processed)
}

/// done → download (as the script does) → restore as `db`; where it went.
fn download_and_restore(env: &Env, p: &Platform, ch: &Channel, token: &str, db: &str) -> PathBuf {
    let started = transfer(p, token, "download");
    let name = started["dump_name"].as_str().unwrap().to_string();
    let port = ch.trust(&started);
    let dest = env.dir.path().join(format!("result-{db}"));
    std::fs::create_dir_all(&dest).unwrap();
    let down = ch.download(p, port, &name, &dest);
    assert!(down.status.success(), "download: {down:?}");
    p.result("upgrade/request/transfer/stop", json!({ "token": token }));
    restore(env, db, &dest.join(&name));
    dest
}

fn is_neutralized(env: &Env, db: &str) -> bool {
    let n: i64 = env.one(
        db,
        "SELECT count(*) FROM ir_config_parameter WHERE key = 'database.is_neutralized' AND value = 'True'",
    );
    n > 0
}

fn error_of(reply: &Value) -> String {
    reply["result"]["error"]
        .as_str()
        .or_else(|| reply["error"]["data"]["message"].as_str())
        .unwrap_or_else(|| panic!("not an error: {reply}"))
        .to_string()
}

#[test]
fn a_test_request_goes_create_upload_process_done_download_and_restores_upgraded() {
    let (env, dump, p, ch) = setup(json!({}));

    let created = create(&p, &ch, "test");
    let id = created["request_id"].as_u64().unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(
        created["assigned_host_uri"],
        format!("127.0.0.1:{}", p.https_port)
    );
    assert_eq!(status(&p, &token)["status"], "new");

    let started = transfer(&p, &token, "upload");
    assert!(
        started["known_hosts"]
            .as_str()
            .unwrap()
            .contains(&p.host_key)
    );
    let port = ch.trust(&started);
    assert_eq!(port, p.ssh_port);
    let up = ch.upload(&p, port, &dump);
    assert!(up.status.success(), "upload: {up:?}");
    p.result("upgrade/request/transfer/stop", json!({ "token": token }));
    assert!(p.received_dump(id).join("toc.dat").is_file());

    p.knob("hold", json!(true));
    let processed = p.result("upgrade/request/process", json!({ "token": token }));
    assert_eq!(processed["is_pg_version_compatible"], true);
    p.wait_for("processing held", WAIT, |e| e["event"] == "held");
    assert_eq!(status(&p, &token)["status"], "progress");

    // The log grows while in progress; a range from N gives the bytes from N.
    let whole = p.logs(&token, None);
    assert_eq!(whole.status, 200);
    let text = String::from_utf8(whole.body.clone()).unwrap();
    assert!(text.contains("Restoring the database"), "{text}");
    let tail = p.logs(&token, Some(10));
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, whole.body[10..]);
    let past = p.logs(&token, Some(whole.body.len() as u64));
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("Content-Range"),
        Some(format!("bytes */{}", whole.body.len()).as_str())
    );

    p.clear_knob("hold");
    let done = follow(&p, &token);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["host_uri"], created["assigned_host_uri"]);
    assert_eq!(done["archived"], false);

    let dest = download_and_restore(&env, &p, &ch, &token, "upgraded");

    assert!(
        std::fs::read_to_string(dest.join("upgrade-report.html"))
            .unwrap()
            .contains("17.0")
    );
    assert!(
        std::fs::read_to_string(dest.join("upgrade.log"))
            .unwrap()
            .contains("done")
    );
    let base: String = env.one(
        "upgraded",
        "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
    );
    assert!(base.starts_with("17.0."), "{base}");
    assert!(is_neutralized(&env, "upgraded"));
    // The new attachment's file comes back in filestore/, to be merged.
    let fname: String = env.one(
        "upgraded",
        "SELECT store_fname FROM ir_attachment WHERE name LIKE 'upgrade_standin_%'",
    );
    assert!(dest.join("filestore").join(&fname).is_file(), "{fname}");

    assert_eq!(p.requests_created(), 1);
    // Every call went to the assigned node.
    let hosts: Vec<Value> = p
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "call")
        .map(|e| e["host"].clone())
        .collect();
    assert!(
        hosts.iter().all(|h| *h == created["assigned_host_uri"]),
        "{hosts:?}"
    );
}

#[test]
fn production_is_not_neutralized_and_a_failed_request_says_why() {
    let (env, dump, p, ch) = setup(json!({}));

    let (token, _) = upload_and_process(&p, &ch, &dump, "production");
    assert_eq!(follow(&p, &token)["status"], "done");
    download_and_restore(&env, &p, &ch, &token, "prod_upgraded");
    assert!(!is_neutralized(&env, "prod_upgraded"));

    p.knob("fail", json!("Module sale_custom: column x does not exist"));
    let (token, _) = upload_and_process(&p, &ch, &dump, "test");
    let failed = follow(&p, &token);
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["reason"],
        "Module sale_custom: column x does not exist"
    );
    let refused = p.call(
        "upgrade/request/transfer/start",
        json!({"token": token, "transfer_type": "download"}),
    );
    assert!(error_of(&refused).contains("done"), "{refused}");
    assert_eq!(p.requests_created(), 2);

    // wipe: every dump of the contract goes, the requests are archived.
    let wrong = p.call(
        "upgrade/request/wipe",
        json!({"contract": "M-OTHER", "token": token}),
    );
    assert!(error_of(&wrong).contains("contract"), "{wrong}");
    let wiped = p.result(
        "upgrade/request/wipe",
        json!({"contract": "M2026-DEMO", "token": token}),
    );
    let ids: Vec<u64> = p
        .requests()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(wiped["wiped"], json!(ids));
    assert_eq!(wiped["failed"], json!([]));
    assert!(ids.iter().all(|id| !p.received_dump(*id).exists()));
    assert_eq!(status(&p, &token)["archived"], true);
}

#[test]
fn an_old_postgresql_is_reported_at_process_and_the_dump_still_comes_back() {
    let (_env, dump, p, ch) = setup(json!({"pg_min": 99}));
    let (token, processed) = upload_and_process(&p, &ch, &dump, "test");
    assert_eq!(processed["is_pg_version_compatible"], false);
    assert_eq!(follow(&p, &token)["status"], "done");
}

#[test]
fn refusals_come_as_errors_the_script_reads() {
    let p = Platform::start_with(json!({"refuse_contract": "M-EXPIRED"}));
    let ch = Channel::new();
    let params = |contract: &str, api: &str| {
        json!({"contract": contract, "target": "17.0", "aim": "test", "actuator": "cli",
               "env_vars": [], "ssh_key": ch.public_key(), "api_version": api})
    };
    let refused = p.call("upgrade/request/create", params("M-EXPIRED", "0.2"));
    assert!(error_of(&refused).contains("M-EXPIRED"), "{refused}");
    assert!(refused["result"]["error"].is_string(), "{refused}");
    let empty = p.call("upgrade/request/create", params("", "0.2"));
    assert!(error_of(&empty).contains("contract"), "{empty}");
    // The legacy v1 API's fields are not part of this one.
    let mut legacy = params("M1", "0.2");
    legacy["email"] = json!("admin@example.com");
    let legacy = p.call("upgrade/request/create", legacy);
    assert!(error_of(&legacy).contains("'email'"), "{legacy}");
    let old_api = p.call("upgrade/request/create", params("M1", "0.1"));
    assert!(error_of(&old_api).contains("0.1"), "{old_api}");
    let bad_key = p.call(
        "upgrade/request/create",
        json!({"contract": "M1", "target": "17.0", "aim": "test", "env_vars": [],
               "ssh_key": "not a key", "api_version": "0.2"}),
    );
    assert!(error_of(&bad_key).contains("SSH"), "{bad_key}");
    assert_eq!(p.requests_created(), 0);

    let unknown = p.call("upgrade/request/status", json!({"token": "nope"}));
    assert!(error_of(&unknown).contains("token"), "{unknown}");
    let no_token = p.call("upgrade/request/status", json!({}));
    assert_eq!(
        no_token["error"]["message"], "Odoo Server Error",
        "{no_token}"
    );

    p.knob("error_style", json!("jsonrpc"));
    let as_rpc = p.call("upgrade/request/create", params("M-EXPIRED", "0.2"));
    assert!(as_rpc.get("result").is_none(), "{as_rpc}");
    assert!(error_of(&as_rpc).contains("M-EXPIRED"));

    let not_json = p.http(
        "POST",
        "/upgrade/request/status",
        &[("Content-Type", "text/plain")],
        b"{}",
    );
    assert_eq!(not_json.status, 400);

    let created = create(&p, &ch, "test");
    let token = created["token"].as_str().unwrap();
    let early = p.call("upgrade/request/process", json!({ "token": token }));
    assert!(error_of(&early).contains("upload"), "{early}");
    assert_eq!(p.logs(token, Some(0)).status, 416);
    assert_eq!(p.logs("nope", None).status, 404);
}

#[test]
fn the_data_channel_takes_only_the_registered_key_inside_its_window() {
    let (env, dump, p, ch) = setup(json!({}));
    let created = create(&p, &ch, "test");
    let token = created["token"].as_str().unwrap();
    let id = created["request_id"].as_u64().unwrap();

    // Before transfer/start nobody gets in, not even the request's key.
    std::fs::write(
        ch.dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", p.ssh_port, p.host_key),
    )
    .unwrap();
    assert!(!ch.upload(&p, p.ssh_port, &dump).status.success());

    let started = transfer(&p, token, "upload");
    let port = ch.trust(&started);
    let stranger = Channel::new();
    std::fs::copy(
        ch.dir.path().join("known_hosts"),
        stranger.dir.path().join("known_hosts"),
    )
    .unwrap();
    let out = stranger.upload(&p, port, &dump);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));

    // Only /data, and only origin.* for an upload.
    let elsewhere = ch.rsync(
        port,
        &[
            "-r".into(),
            format!("{}/", dump.display()),
            format!("{}@127.0.0.1:/tmp/x", p.ssh_user),
        ],
    );
    assert!(!elsewhere.status.success());
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("only /data"));

    // Paths inside the protocol would bypass the /data mapping.
    let protected = ch.rsync(
        port,
        &[
            "-rs".into(),
            format!("{}/", dump.display()),
            format!("{}@127.0.0.1:/data/origin.dump", p.ssh_user),
        ],
    );
    assert!(!protected.status.success());
    assert!(String::from_utf8_lossy(&protected.stderr).contains("protect-args"));

    // A symlink an upload planted leads nowhere.
    let planted = env.dir.path().join("planted");
    std::fs::create_dir_all(&planted).unwrap();
    std::os::unix::fs::symlink(env.dir.path(), planted.join("out")).unwrap();
    assert!(ch.upload(&p, port, &planted).status.success());
    let through = ch.rsync(
        port,
        &[
            "-r".into(),
            format!("{}/", dump.display()),
            format!("{}@127.0.0.1:/data/origin.dump/out/", p.ssh_user),
        ],
    );
    assert!(!through.status.success());
    assert!(String::from_utf8_lossy(&through.stderr).contains("only /data"));

    assert!(ch.upload(&p, port, &dump).status.success());
    assert_eq!(dir_bytes(&p.received_dump(id)), dir_bytes(&dump));
    p.result("upgrade/request/transfer/stop", json!({ "token": token }));
    assert!(!ch.upload(&p, port, &dump).status.success());

    // A window left open closes by itself.
    p.knob("window_seconds", json!(1));
    transfer(&p, token, "upload");
    p.wait_for("the window expiring", WAIT, |e| {
        e["event"] == "window-expired" && e["request_id"] == id
    });
    assert!(!ch.upload(&p, port, &dump).status.success());
}

#[test]
fn a_transfer_cut_mid_file_resumes_with_rsync_and_ends_identical() {
    let env = Env::new();
    env.demo_db("prod");
    // One table's file outweighs the rest, so half the bytes falls inside it.
    env.exec(
        "prod",
        "CREATE TABLE big_payload AS SELECT md5(g::text) AS x FROM generate_series(1, 100000) g",
    );
    let dump = dump_prod(&env);
    let sizes: Vec<u64> = std::fs::read_dir(&dump)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    let total: u64 = sizes.iter().sum();
    assert!(sizes.iter().any(|s| *s > total * 3 / 4), "{sizes:?}");
    let p = Platform::start_with(json!({"cut": {"upload": total / 2}}));
    let ch = Channel::new();
    let created = create(&p, &ch, "test");
    let token = created["token"].as_str().unwrap();
    let id = created["request_id"].as_u64().unwrap();
    let started = transfer(&p, token, "upload");
    let port = ch.trust(&started);

    let first = ch.upload(&p, port, &dump);
    assert!(!first.status.success(), "the cut did not happen");
    p.wait_for("the cut", WAIT, |e| e["event"] == "cut");
    let partial = dir_bytes(&p.received_dump(id));
    assert_ne!(partial, dir_bytes(&dump));
    let received: u64 = partial.iter().map(|(_, b)| b.len() as u64).sum();
    assert!(received < total, "{received} of {total}");

    let second = ch.upload(&p, port, &dump);
    assert!(second.status.success(), "resume: {second:?}");
    assert_eq!(dir_bytes(&p.received_dump(id)), dir_bytes(&dump));
    p.result("upgrade/request/transfer/stop", json!({ "token": token }));

    // The same on the way back.
    p.result("upgrade/request/process", json!({ "token": token }));
    p.wait_status(id, "done", WAIT);
    let started = transfer(&p, token, "download");
    let name = started["dump_name"].as_str().unwrap().to_string();
    let served: u64 = dir_bytes(&p.data_dir(id).join(&name))
        .iter()
        .map(|(_, b)| b.len() as u64)
        .sum();
    p.knob("cut", json!({"upload": total / 2, "download": served / 2}));
    let dest = env.dir.path().join("result");
    std::fs::create_dir_all(&dest).unwrap();
    assert!(!ch.download(&p, port, &name, &dest).status.success());
    assert_ne!(
        dir_bytes(&dest.join(&name)),
        dir_bytes(&p.data_dir(id).join(&name))
    );
    assert!(ch.download(&p, port, &name, &dest).status.success());
    assert_eq!(
        dir_bytes(&dest.join(&name)),
        dir_bytes(&p.data_dir(id).join(&name))
    );
    let cuts = p.journal().iter().filter(|e| e["event"] == "cut").count();
    assert_eq!(cuts, 2);
    assert_eq!(p.requests_created(), 1);
}

#[test]
fn a_client_killed_during_a_paused_upload_resumes_it_on_the_same_request() {
    let (_env, dump, p, ch) = setup(json!({"pause": {"upload": 2000}}));
    let created = create(&p, &ch, "test");
    let token = created["token"].as_str().unwrap();
    let id = created["request_id"].as_u64().unwrap();
    let port = ch.trust(&transfer(&p, token, "upload"));
    let ssh = format!(
        "ssh -p {port} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -i {}",
        ch.dir.path().join("known_hosts").display(),
        ch.key().display()
    );
    let mut client = Command::new("rsync")
        .args(["-rlt", "--delete-after", "-e", &ssh])
        .arg(format!("{}/", dump.display()))
        .arg(format!("{}@127.0.0.1:/data/origin.dump", p.ssh_user))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    p.wait_for("the upload paused", WAIT, |e| e["event"] == "paused");
    client.kill().unwrap();
    client.wait().unwrap();
    p.clear_knob("pause");

    assert!(ch.upload(&p, port, &dump).status.success());
    assert_eq!(dir_bytes(&p.received_dump(id)), dir_bytes(&dump));
    // The gate of the killed transfer ends once the line moves again.
    let gates = p.root().join("requests").join(id.to_string()).join("gates");
    let deadline = std::time::Instant::now() + WAIT;
    while std::fs::read_dir(&gates).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(std::time::Instant::now() < deadline, "a gate lingers");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(p.requests_created(), 1);
}

/// Every file's name and bytes, sorted: equal means the same directory dump.
fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_slow_line_arrives_whole_unless_the_window_closes_first() {
    let (_env, dump, p, ch) = setup(json!({}));
    let size: u64 = dir_bytes(&dump).iter().map(|(_, b)| b.len() as u64).sum();
    let rate = size / 2;
    p.knob("throttle", json!({ "upload": rate }));
    let created = create(&p, &ch, "test");
    let token = created["token"].as_str().unwrap();
    let id = created["request_id"].as_u64().unwrap();
    let port = ch.trust(&transfer(&p, token, "upload"));
    let began = std::time::Instant::now();
    assert!(ch.upload(&p, port, &dump).status.success());
    // At `rate` bytes a second the dump cannot take less than about two seconds.
    assert!(
        began.elapsed() >= Duration::from_millis(1500),
        "{:?} for {size} bytes at {rate}/s",
        began.elapsed()
    );
    assert_eq!(dir_bytes(&p.received_dump(id)), dir_bytes(&dump));

    // The script's "5 minutes timeout": a window that closes cuts what still runs.
    std::fs::remove_dir_all(p.received_dump(id)).unwrap();
    p.set_knobs(json!({"pause": {"upload": 1000}, "window_seconds": 2}));
    let port = ch.trust(&transfer(&p, token, "upload"));
    let out = ch.upload(&p, port, &dump);
    assert!(!out.status.success(), "the window did not cut the transfer");
    p.wait_for("the window expiring", WAIT, |e| {
        e["event"] == "window-expired" && e["request_id"] == id
    });
    assert_ne!(dir_bytes(&p.received_dump(id)), dir_bytes(&dump));
}

#[test]
fn the_knobs_shape_what_the_platform_answers() {
    let (env, dump, p, ch) = setup(json!({
        "contracts": ["M2026-DEMO"], "info": "Your subscription ends soon",
        "neutralize": false, "stages": 5,
    }));
    p.knob("host_uri", json!(format!("localhost:{}", p.https_port)));
    let mut other = json!({"contract": "M-OTHER", "target": "17.0", "aim": "test",
        "actuator": "cli", "env_vars": [], "ssh_key": ch.public_key(), "api_version": "0.2"});
    assert!(error_of(&p.call("upgrade/request/create", other.clone())).contains("M-OTHER"));
    other["contract"] = json!("M2026-DEMO");
    let created = p.result("upgrade/request/create", other);
    assert_eq!(created["info"], "Your subscription ends soon");
    assert_eq!(
        created["assigned_host_uri"],
        format!("localhost:{}", p.https_port)
    );

    // A test request that comes back NOT neutralized: the client must check.
    let (token, _) = upload_and_process(&p, &ch, &dump, "test");
    assert_eq!(follow(&p, &token)["status"], "done");
    let log = String::from_utf8(p.logs(&token, None).body).unwrap();
    assert!(log.contains("stage 5/5"), "{log}");
    download_and_restore(&env, &p, &ch, &token, "not_neutralized");
    assert!(!is_neutralized(&env, "not_neutralized"));

    p.knob("cancel", json!(true));
    let (token, _) = upload_and_process(&p, &ch, &dump, "test");
    assert_eq!(follow(&p, &token)["status"], "cancelled");
    assert_eq!(status(&p, &token)["archived"], false);
    p.knob("archived", json!(true));
    assert_eq!(status(&p, &token)["archived"], true);
}

//! Test harness: every test starts its own throwaway PostgreSQL (the same code
//! as `upgrade-pilot demo`), creates its databases there, and drives the real
//! binary with its own state directory. Nothing touches a server it did not start.
#![allow(dead_code)]

pub mod platform;
pub mod pty;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use upgrade_pilot::demo;
use upgrade_pilot::pg::cluster::{Cluster, ClusterOptions};
use upgrade_pilot::pg::conn::ConnInfo;

pub struct Env {
    pub cluster: Cluster,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_upgrade-pilot");

impl Env {
    pub fn new() -> Env {
        Self::with(ClusterOptions::default())
    }

    pub fn with(opts: ClusterOptions) -> Env {
        let cluster = Cluster::start(opts).expect("start a throwaway PostgreSQL");
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Env { cluster, dir, rt }
    }

    pub fn conn(&self) -> ConnInfo {
        self.cluster.conn_info()
    }

    pub fn dsn(&self) -> String {
        format!(
            "host={} port={} user=postgres",
            self.cluster.socket_dir().display(),
            self.cluster.port
        )
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("odoo-data")
    }

    /// The demo seed as database `db`, with a filestore of 25 files.
    pub fn demo_db(&self, db: &str) {
        self.rt
            .block_on(demo::load_seed(&self.conn(), db))
            .expect("load demo seed");
        demo::write_filestore(&self.data_dir(), db, 25).unwrap();
        self.wait_gone(db);
    }

    /// `status --db DB --json`: the campaign of `db`.
    pub fn campaign_status(&self, db: &str) -> serde_json::Value {
        let o = self.run(&["status", "--db", db, "--json"]);
        assert_ok(&o);
        json(&o)["campaigns"][0].clone()
    }

    /// The demo plan written under the test dir.
    pub fn demo_plan(&self) -> PathBuf {
        demo::write_plan(&self.dir.path().join("plans"), None).unwrap()
    }

    /// Runs the binary against this server with a clean environment.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_dsn(&self.dsn(), args, env)
    }

    /// Runs the binary with another connection string (another role, say).
    pub fn run_dsn(&self, dsn: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--dsn")
            .arg(dsn)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("UPGRADE_PILOT_STATE_DIR", self.state_dir())
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run upgrade-pilot")
    }

    pub fn sql(&self, db: &str, q: &str) -> Vec<tokio_postgres::Row> {
        let rows = self.rt.block_on(async {
            let c = self.conn().connect(db).await.expect("connect");
            c.query(q, &[]).await.unwrap_or_else(|e| panic!("{q}: {e}"))
        });
        self.wait_gone(db);
        rows
    }

    pub fn exec(&self, db: &str, q: &str) {
        self.rt.block_on(async {
            let c = self.conn().connect(db).await.expect("connect");
            c.batch_execute(q)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"))
        });
        self.wait_gone(db);
    }

    /// Waits (bounded) until the harness's own sessions on `db` have ended: a
    /// dropped client's backend exits a moment later, and a lingering one would
    /// count as "someone connected" for the tool.
    pub fn wait_gone(&self, db: &str) {
        if db == "postgres" {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let n: i64 = self.rt.block_on(async {
                let c = self.conn().connect("postgres").await.expect("connect");
                c.query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'upgrade-pilot'",
                    &[&db],
                )
                .await
                .map(|r| r.get(0))
                .unwrap_or(0)
            });
            if n == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "harness sessions on {db} did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn one<T: for<'a> tokio_postgres::types::FromSql<'a>>(&self, db: &str, q: &str) -> T {
        self.sql(db, q)[0].get(0)
    }

    pub fn databases(&self) -> Vec<String> {
        self.sql(
            "postgres",
            "SELECT datname::text FROM pg_database ORDER BY 1",
        )
        .iter()
        .map(|r| r.get(0))
        .collect()
    }

    pub fn db_exists(&self, db: &str) -> bool {
        self.databases().iter().any(|d| d == db)
    }

    /// One md5 per table over every row, plus the schema list: equal means the
    /// database holds the same data.
    pub fn checksums(&self, db: &str) -> Vec<(String, String)> {
        let sums = self.rt.block_on(async {
            let c = self.conn().connect(db).await.expect("connect");
            let tables = c
                .query(
                    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
                    &[],
                )
                .await
                .unwrap();
            let mut out = Vec::new();
            for t in tables {
                let name: String = t.get(0);
                let sum: Option<String> = c
                    .query_one(&format!("SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text)) FROM {name} x"), &[])
                    .await
                    .unwrap()
                    .get(0);
                out.push((name, sum.unwrap_or_default()));
            }
            let settings: String = c
                .query_one("SELECT datallowconn::text || datistemplate::text || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()", &[])
                .await
                .unwrap()
                .get(0);
            out.push(("(database)".into(), settings));
            out
        });
        self.wait_gone(db);
        sums
    }
}

impl Env {
    /// The per-table checksums alone (no database settings row): the data.
    pub fn data_checksums(&self, db: &str) -> Vec<(String, String)> {
        self.checksums(db)
            .into_iter()
            .filter(|(t, _)| t != "(database)")
            .collect()
    }

    /// The data checksums of a database that refuses connections (frozen or set aside).
    pub fn frozen_checksums(&self, db: &str) -> Vec<(String, String)> {
        self.exec(
            "postgres",
            &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"),
        );
        let sums = self.data_checksums(db);
        self.exec(
            "postgres",
            &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false"),
        );
        sums
    }
}

/// `CMD --db DB --target 17.0 --plan PLAN --json`, as owned strings for spawn_job.
pub fn job_args(cmd: &str, db: &str, plan: &Path) -> Vec<String> {
    [
        cmd,
        "--db",
        db,
        "--target",
        "17.0",
        "--plan",
        plan.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs `cmd` (test, production) on `db` to 17.0 with `plan`, as `job_args` spells it.
pub fn run_job(env: &Env, cmd: &str, db: &str, plan: &Path) -> Output {
    let args = job_args(cmd, db, plan);
    env.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Asserts a refusal: non-zero exit, exactly one line on stderr containing `needle`.
pub fn assert_refused(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success: {}",
        stdout(o)
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error must be one line: {err}"
    );
    assert!(
        err.contains(needle),
        "stderr {err:?} should mention {needle:?}"
    );
}

pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "failed ({:?}): {}\n{}",
        o.status,
        stderr(o),
        stdout(o)
    );
}

/// A plan that only moves module versions to `to`: stands in for a real upgrade
/// on fixtures, where no Odoo can run.
pub fn version_bump_plan(dir: &Path, from: &str, to: &str) -> PathBuf {
    let sql = dir.join(format!("bump-{to}"));
    std::fs::create_dir_all(&sql).unwrap();
    std::fs::write(
        sql.join("010_versions.sql"),
        format!(
            "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^{}\\.', '{}.') WHERE state = 'installed';",
            from.replace('.', "\\."),
            to
        ),
    )
    .unwrap();
    let plan = dir.join(format!("bump-{to}.toml"));
    std::fs::write(&plan, format!("name = \"bump\"\n[[hop]]\nfrom = \"{from}\"\nto = \"{to}\"\n[[hop.step]]\nname = \"versions\"\nsql = \"bump-{to}\"\n")).unwrap();
    plan
}

/// A plan whose command step waits for a flag file, so a job can be held mid-plan.
pub fn waiting_plan(env: &Env) -> (PathBuf, PathBuf) {
    let dir = env.dir.path().join("waitplan");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(
        dir.join("sql/090_versions.sql"),
        "UPDATE ir_module_module SET latest_version = regexp_replace(latest_version, '^16\\.0\\.', '17.0.') WHERE state = 'installed';",
    )
    .unwrap();
    let flag = dir.join("go");
    let script = dir.join("wait.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho waiting\ni=0\nwhile [ ! -f '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\necho done\n", flag.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("plan.toml"),
        "name = \"wait\"\n[[hop]]\nto = \"17.0\"\n[[hop.step]]\nname = \"wait\"\ncommand = [\"./wait.sh\"]\n[[hop.step]]\nname = \"versions\"\nsql = \"sql\"\n",
    )
    .unwrap();
    (dir.join("plan.toml"), flag)
}

/// Starts the binary in the background against this server.
pub fn spawn_job(env: &Env, args: &[String]) -> std::process::Child {
    spawn_job_env(env, args, &[])
}

pub fn spawn_job_env(env: &Env, args: &[String], vars: &[(&str, &str)]) -> std::process::Child {
    Command::new(BIN)
        .envs(vars.iter().copied())
        .args(args)
        .args([
            "--dsn",
            &env.dsn(),
            "--data-dir",
            env.data_dir().to_str().unwrap(),
        ])
        .env("UPGRADE_PILOT_STATE_DIR", env.state_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn job_files(env: &Env) -> Vec<serde_json::Value> {
    let dir = env.state_dir().join("jobs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            out.push(serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap());
        }
    }
    out
}

/// Waits (bounded) until some job file says step number `index` is running.
pub fn wait_for_step(env: &Env, index: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if job_files(env)
            .iter()
            .any(|j| j["steps"][index]["status"] == "running")
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never reached step {index}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A small tmpfs mounted on `dir` (root only), unmounted when dropped: a full disk.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount a tmpfs on {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

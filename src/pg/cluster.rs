//! A throwaway PostgreSQL cluster: initdb into a private directory, a server on a
//! private socket directory, stopped and removed on drop. The test harness and
//! `upgrade-pilot demo` both use it.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use color_eyre::Result;
use color_eyre::eyre::{WrapErr, bail, eyre};

use super::conn::ConnInfo;
use super::tools;

pub const SUPERUSER: &str = "postgres";

#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Also listen on 127.0.0.1 at this port (TLS tests, password auth).
    pub tcp_port: Option<u16>,
    /// Extra `postgresql.conf` lines.
    pub settings: Vec<String>,
    /// Keep the directory after drop (demo --keep).
    pub keep: bool,
}

pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    pub port: u16,
    run_as: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
    keep: bool,
    stopped: bool,
}

/// initdb refuses to run as root, so as root the cluster belongs to an
/// unprivileged user: `postgres` when it exists, else `nobody`.
fn unprivileged_user() -> Result<Option<(nix::unistd::Uid, nix::unistd::Gid)>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(u) = nix::unistd::User::from_name(name)? {
            return Ok(Some((u.uid, u.gid)));
        }
    }
    bail!(
        "running as root and neither user postgres nor nobody exists: create one (useradd postgres)"
    )
}

impl Cluster {
    pub fn start(opts: ClusterOptions) -> Result<Cluster> {
        let bin = tools::server_bin_dir().ok_or_else(|| {
            eyre!("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: apt-get install postgresql, or set UPGRADE_PILOT_PG_BIN")
        })?;
        let run_as = unprivileged_user()?;
        let root = tempfile::Builder::new()
            .prefix("upgrade-pilot-pg-")
            .tempdir()
            .wrap_err("cannot create a directory for the embedded PostgreSQL")?
            .keep();
        let mut cluster = Cluster {
            root,
            bin,
            port: opts.tcp_port.unwrap_or(5432),
            run_as,
            keep: opts.keep,
            stopped: false,
        };
        cluster.init(&opts)?;
        Ok(cluster)
    }

    fn init(&mut self, opts: &ClusterOptions) -> Result<()> {
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(&self.root, Some(uid), Some(gid))?;
            // The server user must be able to reach its directory through /tmp.
            if let Some(parent) = self.root.parent() {
                let mode = std::fs::metadata(parent)?.permissions().mode();
                if mode & 0o001 == 0 {
                    bail!(
                        "{} is not reachable by the postgres user: set TMPDIR to a world-traversable directory",
                        parent.display()
                    );
                }
            }
        }
        self.run("initdb", |c| {
            c.arg("-D").arg(self.data_dir()).args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "-N",
            ]);
        })?;
        let mut conf = vec![
            format!(
                "listen_addresses = '{}'",
                if opts.tcp_port.is_some() {
                    "127.0.0.1"
                } else {
                    ""
                }
            ),
            format!("port = {}", self.port),
            format!("unix_socket_directories = '{}'", self.root.display()),
            "fsync = off".into(),
            "synchronous_commit = off".into(),
            "full_page_writes = off".into(),
            "max_connections = 60".into(),
            "shared_buffers = 64MB".into(),
            "logging_collector = off".into(),
        ];
        conf.extend(opts.settings.iter().cloned());
        let path = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path)?;
        text.push_str("\n# upgrade-pilot embedded cluster\n");
        text.push_str(&conf.join("\n"));
        text.push('\n');
        std::fs::write(&path, text)?;
        self.pg_ctl_start()
    }

    fn run(&self, prog: &str, args: impl FnOnce(&mut Command)) -> Result<()> {
        let mut cmd = Command::new(self.bin.join(prog));
        args(&mut cmd);
        cmd.current_dir(&self.root).stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        let out = cmd
            .output()
            .wrap_err_with(|| format!("cannot run {prog}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "{prog} failed: {} {}",
                err.trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        Ok(())
    }

    fn pg_ctl_start(&mut self) -> Result<()> {
        let log = self.log_file();
        self.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "start"]);
        })?;
        self.stopped = false;
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// Superuser connection over the private socket.
    pub fn conn_info(&self) -> ConnInfo {
        ConnInfo::socket(&self.root, self.port, SUPERUSER)
    }

    /// Stops the server; `mode` is pg_ctl's: smart, fast or immediate.
    pub fn stop(&mut self, mode: &str) -> Result<()> {
        let mode = mode.to_string();
        self.run("pg_ctl", |c| {
            c.arg("-D")
                .arg(self.data_dir())
                .args(["-w", "-m", &mode, "stop"]);
        })?;
        self.stopped = true;
        Ok(())
    }

    pub fn start_again(&mut self) -> Result<()> {
        self.pg_ctl_start()
    }

    /// Appends lines to pg_hba.conf (before the defaults) and reloads.
    pub fn set_hba(&self, lines: &[&str]) -> Result<()> {
        let path = self.data_dir().join("pg_hba.conf");
        let old = std::fs::read_to_string(&path)?;
        std::fs::write(&path, format!("{}\n{old}", lines.join("\n")))?;
        self.run("pg_ctl", |c| {
            c.arg("-D").arg(self.data_dir()).arg("reload");
        })
    }

    /// Root of the cluster's private directory (kept with --keep).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.stop("immediate");
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

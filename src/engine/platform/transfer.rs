//! The data channel: the system's `ssh-keygen`, `ssh` and `rsync`, with the
//! request's own key and the host key the platform hands over (strict
//! checking against a known_hosts file of the job, never the user's). rsync
//! sends only what the other side lacks, so a cut transfer resumes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::odoo::platform::{DATA_PATH, DATA_PORTS};

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "the data channel to {host} port {port} could not be opened ({detail}): allow outgoing {DATA_PORTS} to {host} in the firewall, then run the same command again"
    )]
    Firewall {
        host: String,
        port: u16,
        detail: String,
    },
    #[error(
        "the transfer was cut ({detail}): the platform closes its transfer window after 5 minutes, or the link dropped; run the same command again to resume (rsync sends only what is missing)"
    )]
    Cut { detail: String },
    #[error(
        "the platform's host {host} did not show the host key it announced: nothing was sent; run again later, and if it persists contact Odoo"
    )]
    HostKey { host: String },
    #[error("the platform refused this request's SSH key ({detail})")]
    KeyRefused { detail: String },
    #[error("{0}")]
    Local(String),
    #[error("cancelled")]
    Cancelled,
}

/// The request's key pair (private key 0600 in the job's platform folder).
pub struct Keys {
    pub private: PathBuf,
}

fn local(e: impl std::fmt::Display) -> TransferError {
    TransferError::Local(e.to_string())
}

impl Keys {
    pub fn at(dir: &Path) -> Keys {
        Keys {
            private: dir.join("ssh_key"),
        }
    }

    /// Makes the pair when missing; returns the public key's text.
    pub async fn ensure(&self) -> Result<String, TransferError> {
        if !self.private.exists() {
            keygen(
                &[
                    "-q",
                    "-t",
                    "rsa",
                    "-b",
                    "3072",
                    "-N",
                    "",
                    "-C",
                    "upgrade-pilot",
                    "-f",
                ],
                &self.private,
            )
            .await
            .map_err(|e| local(format!("ssh-keygen failed: {e}")))?;
        }
        self.public().await
    }

    /// The public key, read back from the private one (proves it is intact).
    pub async fn public(&self) -> Result<String, TransferError> {
        keygen(&["-y", "-f"], &self.private).await.map_err(|e| {
            local(format!(
                "the SSH key of this request ({}) is unreadable: {e}",
                self.private.display()
            ))
        })
    }
}

/// Runs ssh-keygen with `args` and the key's path; its output, or its complaint.
async fn keygen(args: &[&str], key: &Path) -> Result<String, String> {
    let out = tokio::process::Command::new("ssh-keygen")
        .args(args)
        .arg(key)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run ssh-keygen ({e}): install OpenSSH's client"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The platform's host key lines, as given, plus each plain host pattern for
/// the port in use: ssh looks a non-22 port up as `[host]:port`.
pub fn known_hosts_text(given: &str, port: u16) -> String {
    let mut out = String::new();
    for line in given.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str(line);
        out.push('\n');
        if port == 22 || line.starts_with('|') || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        if let Some((hosts, key)) = line.split_once(' ') {
            if !hosts.contains('[') {
                let pinned: Vec<String> =
                    hosts.split(',').map(|h| format!("[{h}]:{port}")).collect();
                out.push_str(&format!("{} {key}\n", pinned.join(",")));
            }
        }
    }
    out
}

/// rsync's `--info=progress2` line: bytes so far, percent, rate, time left.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub bytes: u64,
    pub percent: u8,
    pub rate: String,
    pub eta: String,
}

/// `  1,234,567  45%   12.34MB/s    0:00:05 (xfr#3, to-chk=2/10)`.
pub fn parse_progress(line: &str) -> Option<Tick> {
    let mut it = line.split_whitespace();
    let bytes: u64 = it.next()?.replace([',', '.'], "").parse().ok()?;
    let percent: u8 = it.next()?.strip_suffix('%')?.parse().ok()?;
    let rate = it.next()?;
    if !rate.ends_with("/s") {
        return None;
    }
    let eta = it.next()?;
    if !eta.contains(':') {
        return None;
    }
    Some(Tick {
        bytes,
        percent,
        rate: rate.to_string(),
        eta: eta.to_string(),
    })
}

/// One side of an rsync run.
pub struct Channel {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
}

fn quote(p: &Path) -> String {
    // rsync splits -e on spaces but honours single quotes.
    format!("'{}'", p.display().to_string().replace('\'', ""))
}

impl Channel {
    fn rsh(&self) -> String {
        format!(
            "ssh -p {} -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -o LogLevel=ERROR",
            self.port,
            quote(&self.key),
            quote(&self.known_hosts)
        )
    }

    fn remote(&self, name: &str) -> String {
        format!("{}@{}:{DATA_PATH}/{name}", self.user, self.host)
    }

    /// Sends the directory dump `dir` as `<DATA_PATH>/<name>`.
    pub async fn upload(
        &self,
        dir: &Path,
        name: &str,
        on_tick: &mut (dyn FnMut(Tick) + Send),
        cancel: &CancellationToken,
    ) -> Result<(), TransferError> {
        let mut src = dir.as_os_str().to_os_string();
        src.push("/");
        let mut cmd = tokio::process::Command::new("rsync");
        cmd.args(["--delete-after", "-rlt"])
            .arg(src)
            .arg(self.remote(name));
        self.run(cmd, on_tick, cancel).await
    }

    /// Fetches `names` (missing ones ignored) into `dest`.
    pub async fn download(
        &self,
        names: &[&str],
        dest: &Path,
        on_tick: &mut (dyn FnMut(Tick) + Send),
        cancel: &CancellationToken,
    ) -> Result<(), TransferError> {
        std::fs::create_dir_all(dest).map_err(local)?;
        let mut cmd = tokio::process::Command::new("rsync");
        cmd.args(["-rlt", "--ignore-missing-args"]);
        for n in names {
            cmd.arg(self.remote(n));
        }
        let mut to = dest.as_os_str().to_os_string();
        to.push("/");
        cmd.arg(to);
        self.run(cmd, on_tick, cancel).await
    }

    async fn run(
        &self,
        mut cmd: tokio::process::Command,
        on_tick: &mut (dyn FnMut(Tick) + Send),
        cancel: &CancellationToken,
    ) -> Result<(), TransferError> {
        // --partial: a file cut midway is kept and completed by the next run;
        // --timeout: a stalled link fails instead of hanging for hours.
        cmd.args([
            "--info=progress2",
            "--no-inc-recursive",
            "--partial",
            "--timeout=120",
            "-e",
        ])
        .arg(self.rsh())
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        // A kill -9 of this process must not leave rsync sending on its own.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| local(format!("cannot run rsync ({e}): install rsync")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| local("rsync has no stdout"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| local("rsync has no stderr"))?;
        let errors = tokio::spawn(async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            s
        });
        let mut buf = [0u8; 8192];
        let mut line = Vec::new();
        loop {
            tokio::select! {
                n = stdout.read(&mut buf) => {
                    let n = n.map_err(local)?;
                    if n == 0 { break }
                    for &b in &buf[..n] {
                        if b == b'\r' || b == b'\n' {
                            if let Some(t) = parse_progress(&String::from_utf8_lossy(&line)) {
                                on_tick(t);
                            }
                            line.clear();
                        } else {
                            line.push(b);
                        }
                    }
                }
                _ = cancel.cancelled() => {
                    let _ = child.kill().await;
                    return Err(TransferError::Cancelled);
                }
            }
        }
        let status = tokio::select! {
            s = child.wait() => s.map_err(local)?,
            _ = cancel.cancelled() => {
                let _ = child.kill().await;
                return Err(TransferError::Cancelled);
            }
        };
        let stderr = errors.await.unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(classify(
            &self.host,
            self.port,
            status.code(),
            &stderr,
            cancel.is_cancelled(),
        ))
    }
}

/// What a failed rsync means, from its exit code and ssh's words.
pub fn classify(
    host: &str,
    port: u16,
    code: Option<i32>,
    stderr: &str,
    cancelled: bool,
) -> TransferError {
    if cancelled {
        return TransferError::Cancelled;
    }
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("rsync failed")
        .to_string();
    let has = |s: &str| stderr.contains(s);
    if has("Host key verification failed") || has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return TransferError::HostKey { host: host.into() };
    }
    if has("Permission denied") {
        return TransferError::KeyRefused { detail: first };
    }
    if has("Connection refused")
        || has("Connection timed out")
        || has("No route to host")
        || has("Network is unreachable")
        || has("Operation timed out")
    {
        return TransferError::Firewall {
            host: host.into(),
            port,
            detail: first,
        };
    }
    if matches!(code, Some(1 | 2 | 3 | 4 | 11 | 13 | 14)) {
        return TransferError::Local(format!("rsync failed: {first}"));
    }
    TransferError::Cut {
        detail: match code {
            Some(c) => format!("rsync exit {c}: {first}"),
            None => format!("rsync killed: {first}"),
        },
    }
}

/// A bounded wait between polls that a cancel ends at once.
pub async fn pause(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress2_lines_give_bytes_percent_rate_and_eta() {
        let t = parse_progress("      1,234,567  45%   12.34MB/s    0:00:05 (xfr#3, to-chk=2/10)")
            .unwrap();
        assert_eq!(t.bytes, 1_234_567);
        assert_eq!(t.percent, 45);
        assert_eq!(t.rate, "12.34MB/s");
        assert_eq!(t.eta, "0:00:05");
        assert_eq!(parse_progress("sending incremental file list"), None);
        assert_eq!(parse_progress(""), None);
    }

    #[test]
    fn host_keys_are_pinned_to_the_port_in_use() {
        let kh = known_hosts_text("127.0.0.1 ssh-ed25519 AAAAkey\n", 2222);
        assert_eq!(
            kh,
            "127.0.0.1 ssh-ed25519 AAAAkey\n[127.0.0.1]:2222 ssh-ed25519 AAAAkey\n"
        );
        let kh = known_hosts_text("[h]:40000 ssh-rsa K\n", 40000);
        assert_eq!(kh, "[h]:40000 ssh-rsa K\n");
        assert_eq!(known_hosts_text("h ssh-rsa K", 22), "h ssh-rsa K\n");
    }

    #[test]
    fn failures_say_what_to_do() {
        let e = classify(
            "up.example",
            40123,
            Some(255),
            "ssh: connect to host up.example port 40123: Connection refused\r\nrsync: connection unexpectedly closed",
            false,
        );
        let m = e.to_string();
        assert!(m.contains("TCP 32768–60999 to up.example"), "{m}");
        let e = classify(
            "h",
            1,
            Some(12),
            "rsync: connection unexpectedly closed (0 bytes received so far) [sender]",
            false,
        );
        assert!(matches!(e, TransferError::Cut { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("run the same command again to resume")
        );
        let e = classify("h", 1, Some(255), "Host key verification failed.", false);
        assert!(matches!(e, TransferError::HostKey { .. }));
        let e = classify(
            "h",
            1,
            Some(255),
            "odoo@h: Permission denied (publickey).",
            false,
        );
        assert!(matches!(e, TransferError::KeyRefused { .. }));
        assert!(matches!(
            classify("h", 1, Some(20), "", true),
            TransferError::Cancelled
        ));
    }
}

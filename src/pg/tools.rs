//! Finds PostgreSQL's programs: the server binaries for the embedded cluster and
//! client tools (pg_dump, pg_restore, psql) whose version suits a given server.

use std::path::{Path, PathBuf};
use std::process::Command;

fn on_path(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// `/usr/lib/postgresql/<major>/bin` directories, highest major first (Debian layout).
fn debian_bin_dirs() -> Vec<(u32, PathBuf)> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs
}

/// The directory holding `initdb`, `pg_ctl` and `postgres` together.
pub fn server_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("UPGRADE_PILOT_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    if let Some(initdb) = on_path("initdb") {
        // Debian links /usr/bin tools to wrappers; follow to the real directory.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent() {
            if dir.join("pg_ctl").is_file() && dir.join("postgres").is_file() {
                return Some(dir.to_path_buf());
            }
        }
    }
    debian_bin_dirs().into_iter().map(|(_, d)| d).next()
}

/// Major version printed by `prog --version` (e.g. "pg_dump (PostgreSQL) 15.18" → 15).
pub fn major_version(prog: &Path) -> Option<u32> {
    let out = Command::new(prog).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ver = text.split_whitespace().last()?;
    ver.split(['.', 'b', 'r']).next()?.parse().ok()
}

/// A client tool suited to a server of `server_major`: the same major when
/// installed (Debian keeps several), else the newest one found, which must not be
/// older than the server (an older pg_dump refuses a newer server).
/// The line of a client tool's stderr that says why it failed: the first
/// `error:` (with -j, a worker's "No space left" comes before the leader's
/// "terminated by user"), else the last line.
pub fn why_failed(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("error:"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .to_string()
}

pub fn client_tool(prog: &str, server_major: u32) -> Result<PathBuf, String> {
    let mut candidates: Vec<(u32, PathBuf)> = debian_bin_dirs()
        .into_iter()
        .map(|(v, d)| (v, d.join(prog)))
        .filter(|(_, p)| p.is_file())
        .collect();
    if let Some(dir) = server_bin_dir() {
        let p = dir.join(prog);
        if p.is_file() {
            if let Some(v) = major_version(&p) {
                candidates.push((v, p));
            }
        }
    }
    if let Some(p) = on_path(prog) {
        if let Some(v) = major_version(&p) {
            candidates.push((v, p));
        }
    }
    if let Some((_, p)) = candidates.iter().find(|(v, _)| *v == server_major) {
        return Ok(p.clone());
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    match candidates.first() {
        Some((v, p)) if *v >= server_major => Ok(p.clone()),
        Some((v, p)) => Err(format!(
            "{} is version {v} but the server is {server_major}: install the PostgreSQL {server_major} client tools (apt-get install postgresql-client-{server_major})",
            p.display()
        )),
        None => Err(format!(
            "{prog} not found: install the PostgreSQL client tools (apt-get install postgresql-client)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::why_failed;

    #[test]
    fn the_first_error_says_why_else_the_last_line() {
        let parallel = "pg_dump: error: could not write to file: No space left on device\npg_dump: terminated by user\n\n";
        assert_eq!(
            why_failed(parallel),
            "pg_dump: error: could not write to file: No space left on device"
        );
        assert_eq!(why_failed("a\nlast words  \n\n"), "last words");
        assert_eq!(why_failed(""), "");
    }
}

//! Backups of a working copy: `pg_dump -Fc` (or `-Fd -j N`), the filestore as a
//! tar, checked readable with `pg_restore --list`. A failed backup leaves
//! nothing behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::job::Backup;
use crate::pg::conn::ConnInfo;
use crate::pg::tools;

fn err(msg: impl Into<String>) -> EngineError {
    EngineError::Io(msg.into())
}

async fn run(
    mut cmd: tokio::process::Command,
    what: &str,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| err(format!("cannot start {what}: {e}")))?;
    let out = tokio::select! {
        o = child.wait_with_output() => o.map_err(|e| err(format!("{what}: {e}")))?,
        _ = cancel.cancelled() => return Err(EngineError::Cancelled),
    };
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        return Err(err(format!("{what} failed: {last}")));
    }
    Ok(())
}

fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Dumps `db` to `<dir>/<db>.dump` and its filestore to `<dir>/<db>.filestore.tar`.
pub async fn backup(
    conn: &ConnInfo,
    major: u32,
    db: &str,
    dir: &Path,
    filestore: Option<(&Path, &Path)>,
    cancel: &CancellationToken,
) -> Result<Backup, EngineError> {
    crate::campaign::store::ensure_dir(dir).map_err(|e| err(e.to_string()))?;
    let dump = dir.join(format!("{db}.dump"));
    let tar = filestore.map(|_| dir.join(format!("{db}.filestore.tar")));
    let result = async {
        let pg_dump = tools::client_tool("pg_dump", major).map_err(err)?;
        let mut cmd = tokio::process::Command::new(&pg_dump);
        // -Z1: compressed, at a fraction of the default level's time.
        cmd.args(["-Fc", "-Z1", "-f"])
            .arg(&dump)
            .arg("-d")
            .arg(ConnInfo::conninfo_db(db))
            .envs(conn.child_env());
        run(cmd, "pg_dump", cancel).await?;
        let pg_restore = tools::client_tool("pg_restore", major).map_err(err)?;
        let mut list = tokio::process::Command::new(&pg_restore);
        list.arg("--list").arg(&dump);
        run(list, "pg_restore --list (backup check)", cancel).await?;
        if let (Some((root, name)), Some(tar)) = (filestore, &tar) {
            let mut cmd = tokio::process::Command::new("tar");
            cmd.arg("-C").arg(root).arg("-cf").arg(tar).arg(name);
            run(cmd, "tar of the filestore", cancel).await?;
        }
        Ok::<(), EngineError>(())
    }
    .await;
    if let Err(e) = result {
        // Disk full or cancelled: no partial backup that looks usable.
        let _ = std::fs::remove_file(&dump);
        if let Some(t) = &tar {
            let _ = std::fs::remove_file(t);
        }
        return Err(e);
    }
    let bytes = size_of(&dump) + tar.as_deref().map(size_of).unwrap_or(0);
    Ok(Backup {
        dump,
        filestore_tar: tar,
        bytes,
    })
}

pub fn default_dir(state: &Path) -> PathBuf {
    state.join("backups")
}

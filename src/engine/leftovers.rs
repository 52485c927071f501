//! What a killed run leaves working (issue 10, case 9). A SIGKILL runs no
//! cleanup: the server goes on with the run's `CREATE DATABASE` (a busy
//! backend does not notice its client is gone), and its `pg_dump`,
//! `pg_restore`, `psql` children go on writing into the copy, its scratch dump
//! or its backup. The next run of the same job (it holds the job lock, so the
//! killed run is gone) ends them before it makes the copy again.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::emit::Emitter;
use crate::pg::conn::ConnInfo;
use crate::pg::ident::quote_ident;

/// Set on every child that works on a copy: the server and the copy's name
/// ([`tag`]), so that a later run finds the children of a killed one, and
/// never those of a job on another server with a copy of the same name.
pub const MARKER: &str = "UPGRADE_PILOT_COPY";

/// The value of [`MARKER`] for the copy `dst` on `conn`'s server.
pub fn tag(conn: &ConnInfo, dst: &str) -> String {
    format!("{}/{dst}", conn.server())
}

/// Ends the killed runs' children and server work on the copy `dst`, waits
/// until they are gone, and says what it ended.
pub async fn end(
    maint: &Client,
    conn: &ConnInfo,
    dst: &str,
    emit: &Emitter,
) -> Result<(), tokio_postgres::Error> {
    let pids = children_of_killed_runs(&tag(conn, dst));
    for pid in &pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    if !pids.is_empty() {
        emit.log(format!(
            "ended {} process(es) a killed run left working on {dst:?} (pid {})",
            pids.len(),
            pids.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        wait_until(|| pids.iter().all(|p| !alive(*p))).await;
    }
    // The statement as both copies send it: `CREATE DATABASE "<dst>" …`.
    let prefix = format!("CREATE DATABASE {} ", quote_ident(dst));
    let rows = maint
        .query(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state <> 'idle' AND left(query, length($1)) = $1",
            &[&prefix],
        )
        .await?;
    let backends: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    if backends.is_empty() {
        return Ok(());
    }
    for pid in &backends {
        // Ending it is faster than waiting: its copy would be dropped anyway.
        maint
            .execute("SELECT pg_terminate_backend($1)", &[pid])
            .await?;
    }
    emit.log(format!(
        "ended the CREATE DATABASE {dst:?} a killed run left running on the server (backend {})",
        backends
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(2);
    loop {
        let n: i64 = maint
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                &[&backends],
            )
            .await?
            .get(0);
        if n == 0 || Instant::now() > deadline {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Processes of this OS user, not this one, whose environment bears `tag`.
fn children_of_killed_runs(tag: &str) -> Vec<i32> {
    let want = format!("{MARKER}={tag}").into_bytes();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        // Unreadable (another user's process): not ours.
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == want.as_slice()) {
            out.push(pid);
        }
    }
    out
}

/// Running (a zombie waiting for its reaper has stopped working).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

async fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(2);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

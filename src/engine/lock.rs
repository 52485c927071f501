//! One job per source database at a time, across machines: a PostgreSQL
//! session-level advisory lock, held by a dedicated connection for the job's
//! life and released by the server if the process dies.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::pg::conn::{ConnError, ConnInfo};

/// First key of the two-int advisory lock: "UP".
const CLASS: i32 = 0x5550;

fn key(db: &str) -> i32 {
    let h = Sha256::digest(db.as_bytes());
    i32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

pub struct JobLock {
    _client: Client,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another upgrade-pilot is working on {db:?}: {holder}; wait for it to finish (upgrade-pilot status) or stop it"
    )]
    Busy { db: String, holder: String },
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error(transparent)]
    Pg(#[from] tokio_postgres::Error),
}

/// Takes the lock for `db` or says who holds it.
pub async fn acquire(conn: &ConnInfo, db: &str) -> Result<JobLock, LockError> {
    let client = conn.connect_maintenance().await?;
    let who = format!(
        "upgrade-pilot pid {} user {}",
        std::process::id(),
        super::freeze::os_user()
    );
    // Tell others who we are through application_name (shown in pg_stat_activity).
    client
        .execute("SELECT set_config('application_name', $1, false)", &[&who])
        .await?;
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&CLASS, &key(db)])
        .await?
        .get(0);
    if got {
        return Ok(JobLock { _client: client });
    }
    let holder = client
        .query_opt(
            "SELECT a.application_name || ' (db role ' || coalesce(a.usename, '?') || ', from ' || \
             coalesce(a.client_addr::text, 'local socket') || ', since ' || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') || ')' \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.classid = $1::int8::oid AND l.objid = ($2::int8 & 4294967295)::oid AND l.granted",
            &[&(CLASS as i64), &(key(db) as i64)],
        )
        .await?
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_else(|| "a session that just ended".into());
    Err(LockError::Busy {
        db: db.to_string(),
        holder,
    })
}

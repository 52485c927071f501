//! One job per source database at a time, across machines: a PostgreSQL
//! session-level advisory lock, held by a dedicated connection for the job's
//! life and released by the server if the process dies.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::pg::conn::{ConnError, ConnInfo};

/// First key of the two-int advisory lock: "UP".
pub const CLASS: i32 = 0x5550;

/// Second key: the database's name, hashed.
pub fn key(db: &str) -> i32 {
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

/// Where the lock lives. Advisory locks belong to one database: two runs whose
/// maintenance db differ (`dbname=` in --dsn, PGDATABASE) would not see each
/// other's, so every run takes it in this one, when it can connect there.
const LOCK_DB: &str = "postgres";

/// How a run names itself to others (pg_stat_activity's application_name):
/// enough for a person to find it, and for the next run to tell whether the
/// holder's process still exists when it is on the same host.
pub fn holder_name(pid: u32) -> String {
    format!(
        "upgrade-pilot pid {pid} user {} host {}",
        crate::campaign::who::os_user(),
        host_name()
    )
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// The pid of a holder named by `holder_name` that ran on this host, when its
/// process is gone: its server session is about to end (the server notices a
/// closed socket a moment after the process exits, later on a busy machine).
fn gone_local_holder(application_name: &str) -> Option<u32> {
    let rest = application_name.strip_prefix("upgrade-pilot pid ")?;
    let (pid, rest) = rest.split_once(' ')?;
    let pid: u32 = pid.parse().ok()?;
    let (_, host) = rest.split_once(" host ")?;
    let ours = host_name();
    // application_name is cut at 63 bytes: a long host name arrives shortened.
    let same_host = host == ours || (application_name.len() >= 63 && ours.starts_with(host));
    if !same_host || host.is_empty() {
        return None;
    }
    let alive = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::ESRCH) => false,
        Err(_) => true, // another user's live process
    };
    (!alive).then_some(pid)
}

/// How long a run waits for the session of a run that has exited to end.
const GONE_HOLDER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Takes the lock for `db` or says who holds it.
pub async fn acquire(conn: &ConnInfo, db: &str) -> Result<JobLock, LockError> {
    let client = match conn.connect(LOCK_DB).await {
        Ok(c) => c,
        Err(e @ ConnError::Unreachable { .. }) => return Err(e.into()),
        Err(_) => conn.connect_maintenance().await?,
    };
    let who = holder_name(std::process::id());
    // Tell others who we are through application_name (shown in pg_stat_activity).
    client
        .execute("SELECT set_config('application_name', $1, false)", &[&who])
        .await?;
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&CLASS, &key(db)])
            .await?
            .get(0);
        if got {
            return Ok(JobLock { _client: client });
        }
        let holder = client
            .query_opt(
                "SELECT coalesce(a.application_name, ''), a.application_name || ' (db role ' || coalesce(a.usename, '?') || ', from ' || \
                 coalesce(a.client_addr::text, 'local socket') || ', since ' || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') || ')', a.pid \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.classid = $1::int8::oid AND l.objid = ($2::int8 & 4294967295)::oid AND l.granted",
                &[&(CLASS as i64), &(key(db) as i64)],
            )
            .await?;
        let Some(row) = holder else {
            // Released between the two statements (try again), or held where
            // no session shows it (a prepared transaction): never spin on it.
            if started.elapsed() >= GONE_HOLDER_WAIT {
                return Err(LockError::Busy {
                    db: db.to_string(),
                    holder:
                        "a holder no session shows (a prepared transaction? see pg_prepared_xacts)"
                            .into(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
            continue;
        };
        let (app, text, backend): (String, Option<String>, i32) =
            (row.get(0), row.get(1), row.get(2));
        let text = text.unwrap_or_else(|| format!("server session {backend}"));
        match gone_local_holder(&app) {
            Some(_) if started.elapsed() < GONE_HOLDER_WAIT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            Some(pid) => {
                return Err(LockError::Busy {
                    db: db.to_string(),
                    holder: format!(
                        "{text}, whose process {pid} has exited but whose server session {backend} is still there after {} s (end it: SELECT pg_terminate_backend({backend}))",
                        GONE_HOLDER_WAIT.as_secs()
                    ),
                });
            }
            None => {
                return Err(LockError::Busy {
                    db: db.to_string(),
                    holder: text,
                });
            }
        }
    }
}

/// How often a running job looks for its own statements waiting on a lock.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Says, while a job runs, when one of this process's connections waits on a
/// lock another session holds: who holds it (pid, application, role, what it
/// is doing and since when). Once per waiting backend and holder; ends with
/// `stop`. Cancelling the waiting statement is the job's own business (its
/// statements race the job's cancel token and cancel themselves on the server).
pub async fn watch_lock_waits(
    conn: ConnInfo,
    emit: std::sync::Arc<super::emit::Emitter>,
    stop: tokio_util::sync::CancellationToken,
) {
    let Ok(client) = conn.connect_maintenance().await else {
        return;
    };
    let mut told = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(WAIT_POLL) => {}
        }
        let Ok(waits) = lock_waits(&client).await else {
            continue;
        };
        for w in waits {
            if told.insert((w.waiter, w.holder)) {
                let mut w = w;
                if let Some(oid) = w.relation {
                    // The table's name is known in its own database only.
                    if let Some(name) = relation_name(&conn, &w.db, oid).await {
                        w.lock = w
                            .lock
                            .replace(&format!("relation {oid}"), &format!("table {name}"));
                    }
                }
                let line = w.to_string();
                tracing::warn!("{line}");
                emit.warn(line).await;
            }
        }
    }
}

/// One of our backends waiting for a lock, and one session holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    pub waiter: i32,
    pub db: String,
    /// The lock wanted, e.g. "AccessExclusiveLock on relation 16402".
    pub lock: String,
    pub holder: i32,
    pub application: String,
    pub user: String,
    /// "idle in transaction", "active"…
    pub state: String,
    /// When the holder's transaction began (else its session).
    pub since: String,
    pub query: String,
    /// The relation's oid, when the lock is on one.
    pub relation: Option<u32>,
}

async fn relation_name(conn: &ConnInfo, db: &str, oid: u32) -> Option<String> {
    let c = conn.connect(db).await.ok()?;
    c.query_one("SELECT $1::oid::regclass::text", &[&oid])
        .await
        .ok()
        .map(|r| r.get(0))
}

impl std::fmt::Display for LockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let app = if self.application.is_empty() {
            "no application name"
        } else {
            &self.application
        };
        write!(
            f,
            "waiting on {:?} for a lock ({}) held by pid {} ({app}, role {}, {} since {}: {}); the job goes on once it is released, or cancel it (Ctrl-C / SIGTERM)",
            self.db, self.lock, self.holder, self.user, self.state, self.since, self.query
        )
    }
}

/// Our backends (see `server::note_own`) that wait on a lock, with the holders.
pub async fn lock_waits(client: &Client) -> Result<Vec<LockWait>, tokio_postgres::Error> {
    let (pids, _) = crate::pg::server::own_backends();
    let rows = client
        .query(
            "SELECT w.pid, coalesce(w.datname::text, ''), \
               coalesce((SELECT l.mode || ' on ' || l.locktype || coalesce(' ' || l.relation::text, '') \
                         FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted LIMIT 1), 'a lock'), \
               h.pid, coalesce(h.application_name, ''), coalesce(h.usename::text, ''), coalesce(h.state, ''), \
               coalesce(to_char(coalesce(h.xact_start, h.backend_start), 'YYYY-MM-DD HH24:MI:SS'), ''), \
               left(regexp_replace(coalesce(h.query, ''), '\\s+', ' ', 'g'), 120), \
               (SELECT l.relation FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted LIMIT 1) \
             FROM pg_stat_activity w \
             CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid) \
             JOIN pg_stat_activity h ON h.pid = b.pid \
             WHERE w.pid = ANY($1) AND w.pid <> pg_backend_pid() ORDER BY w.pid, h.pid",
            &[&pids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LockWait {
            waiter: r.get(0),
            db: r.get(1),
            lock: r.get(2),
            holder: r.get(3),
            application: r.get(4),
            user: r.get(5),
            state: r.get(6),
            since: r.get(7),
            query: r.get(8),
            relation: r.get(9),
        })
        .collect())
}

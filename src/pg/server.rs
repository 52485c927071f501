//! Server-wide facts and operations, run over the maintenance connection:
//! databases, sessions, role rights, create/drop/rename.

use serde::Serialize;
use tokio_postgres::Client;

use super::ident::quote_ident;

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub pid: i32,
    pub user: String,
    pub client: String,
    pub application: String,
    pub since: String,
}

impl std::fmt::Display for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let app = if self.application.is_empty() {
            "-"
        } else {
            &self.application
        };
        write!(
            f,
            "pid {} {}@{} ({app}) since {}",
            self.pid, self.user, self.client, self.since
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleRights {
    pub name: String,
    pub superuser: bool,
    pub createdb: bool,
}

pub async fn server_major(client: &Client) -> Result<u32, tokio_postgres::Error> {
    let v: String = client
        .query_one("SHOW server_version_num", &[])
        .await?
        .get(0);
    Ok(v.parse::<u32>().unwrap_or(0) / 10000)
}

pub async fn db_exists(client: &Client, db: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .await?
        .is_some())
}

pub async fn db_owner(client: &Client, db: &str) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
            &[&db],
        )
        .await?
        .map(|r| r.get(0)))
}

pub async fn db_size(client: &Client, db: &str) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT pg_database_size($1::text)", &[&db])
        .await?
        .get(0))
}

pub async fn allows_connections(client: &Client, db: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&db],
        )
        .await?
        .map(|r| r.get(0))
        .unwrap_or(false))
}

/// This process's own backends, as (pid, start in µs since the epoch): the
/// pair names one backend even when the OS reuses its pid. A closed
/// connection's backend lingers a moment after the close: it is ours still.
static OWN: std::sync::Mutex<Vec<(i32, i64)>> = std::sync::Mutex::new(Vec::new());

/// Entries kept: far more than the connections a run has open at once.
const OWN_KEPT: usize = 512;

const BACKEND_START_US: &str = "(extract(epoch FROM backend_start) * 1000000)::int8";

/// Remembers `client`'s backend as one of ours (every connection made through
/// `ConnInfo::connect`), so that session counts leave it out.
pub async fn note_own(client: &Client) {
    let q = format!(
        "SELECT pid, {BACKEND_START_US} FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    );
    let Ok(Some(row)) = client.query_opt(q.as_str(), &[]).await else {
        return;
    };
    let (Ok(pid), Ok(Some(start))) = (row.try_get::<_, i32>(0), row.try_get::<_, Option<i64>>(1))
    else {
        return;
    };
    if let Ok(mut own) = OWN.lock() {
        if own.len() >= OWN_KEPT {
            own.remove(0);
        }
        own.push((pid, start));
    }
}

/// This process's backends: (pids, starts), see `note_own`.
pub fn own_backends() -> (Vec<i32>, Vec<i64>) {
    OWN.lock()
        .map(|o| o.iter().copied().unzip())
        .unwrap_or_default()
}

/// Which rows of pg_stat_activity `a` are sessions on `$1`: client backends
/// only (autovacuum and the server's other workers are not sessions), never
/// the calling session nor another connection of this process (`$2`, `$3`).
/// backend_type is hidden from a role without pg_read_all_stats for others'
/// backends (and absent before PostgreSQL 10): a server process then shows
/// as one without a role (usesysid is null), a client always has one.
fn session_filter() -> String {
    format!(
        "a.datname = $1 AND a.pid <> pg_backend_pid() \
         AND coalesce(to_jsonb(a) ->> 'backend_type', \
                      CASE WHEN a.usesysid IS NULL THEN 'server process' ELSE 'client backend' END) \
             = 'client backend' \
         AND NOT EXISTS (SELECT 1 FROM unnest($2::int4[], $3::int8[]) o(pid, start) \
                         WHERE o.pid = a.pid AND o.start = {})",
        BACKEND_START_US.replace("backend_start", "a.backend_start")
    )
}

/// Sessions connected to `db`: other clients' backends only (see `session_filter`).
/// Every place that counts sessions calls this (or `end_sessions`).
pub async fn sessions(client: &Client, db: &str) -> Result<Vec<Session>, tokio_postgres::Error> {
    let (pids, starts) = own_backends();
    let rows = client
        .query(
            &format!(
                "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.client_addr::text, 'local'), \
                 coalesce(a.application_name, ''), coalesce(to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS'), '') \
                 FROM pg_stat_activity a WHERE {} ORDER BY a.backend_start",
                session_filter()
            ),
            &[&db, &pids, &starts],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            user: r.get(1),
            client: r.get(2),
            application: r.get(3),
            since: r.get(4),
        })
        .collect())
}

/// Ends the sessions `sessions` lists (never ours, never the server's
/// workers: CREATE DATABASE deals with an autovacuum worker on its template
/// itself); returns how many were signalled.
pub async fn end_sessions(client: &Client, db: &str) -> Result<usize, tokio_postgres::Error> {
    let (pids, starts) = own_backends();
    let rows = client
        .query(
            &format!(
                "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a WHERE {}",
                session_filter()
            ),
            &[&db, &pids, &starts],
        )
        .await?;
    Ok(rows.iter().filter(|r| r.get::<_, bool>(0)).count())
}

pub async fn role_rights(client: &Client) -> Result<RoleRights, tokio_postgres::Error> {
    let r = client
        .query_one("SELECT rolname::text, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user", &[])
        .await?;
    Ok(RoleRights {
        name: r.get(0),
        superuser: r.get(1),
        createdb: r.get(2),
    })
}

/// Whether the current role owns `db` (directly or through membership).
pub async fn can_own(client: &Client, db: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT pg_has_role(current_user, datdba, 'MEMBER') FROM pg_database WHERE datname = $1",
            &[&db],
        )
        .await?
        .map(|r| r.get(0))
        .unwrap_or(false))
}

pub async fn drop_db(client: &Client, db: &str, major: u32) -> Result<(), tokio_postgres::Error> {
    // FORCE (13+) ends sessions on a copy we own, e.g. one left by a killed run.
    let force = if major >= 13 { " WITH (FORCE)" } else { "" };
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {}{force}",
            quote_ident(db)
        ))
        .await
}

/// Databases on the server a user can connect to, except templates.
pub async fn list_dbs(client: &Client) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT datname::text, pg_database_size(oid) FROM pg_database \
             WHERE NOT datistemplate AND datallowconn AND has_database_privilege(oid, 'CONNECT') ORDER BY datname",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Opens a read-only repeatable-read transaction on `c` and exports its
/// snapshot, for other sessions to [`join_snapshot`]; on failure (a standby
/// before 10) `c` is left outside any transaction.
pub async fn export_snapshot(c: &Client) -> Option<String> {
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .ok()?;
    match c.query_one("SELECT pg_export_snapshot()", &[]).await {
        Ok(r) => Some(r.get(0)),
        Err(_) => {
            let _ = c.batch_execute("ROLLBACK").await;
            None
        }
    }
}

/// Begins a read-only repeatable-read transaction on `c` that sees what the
/// session which exported `snapshot` sees.
pub async fn join_snapshot(c: &Client, snapshot: &str) -> Result<(), tokio_postgres::Error> {
    c.batch_execute(&format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}",
        super::ident::quote_literal(snapshot)
    ))
    .await
}

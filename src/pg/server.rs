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

/// Sessions connected to `db`, except the calling one.
pub async fn sessions(client: &Client, db: &str) -> Result<Vec<Session>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT pid, coalesce(usename, ''), coalesce(client_addr::text, 'local'), \
             coalesce(application_name, ''), coalesce(to_char(backend_start, 'YYYY-MM-DD HH24:MI:SS'), '') \
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY backend_start",
            &[&db],
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

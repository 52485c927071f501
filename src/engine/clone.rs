//! Copying a database: a template copy when nobody else is connected, a snapshot
//! copy (pg_dump into pg_restore) when the source is live. A test copy never
//! kicks a production user out.

use std::process::Stdio;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use crate::pg::conn::ConnInfo;
use crate::pg::ident::quote_ident;
use crate::pg::server::{self, Session};
use crate::pg::tools;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloneChoice {
    Auto,
    Template,
    Snapshot,
}

impl std::str::FromStr for CloneChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "template" => Ok(Self::Template),
            "snapshot" => Ok(Self::Snapshot),
            o => Err(format!(
                "clone method {o:?} is unknown: use auto, template or snapshot"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloneMethod {
    Template,
    Snapshot,
}

impl CloneMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Template => "template",
            Self::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug, Error)]
pub enum CloneError {
    #[error("--clone template needs {db:?} free of other sessions, but {n} are connected: {list}; stop Odoo or freeze the db, or use the snapshot copy (no downtime)", n = .sessions.len(), list = .sessions.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))]
    Busy { db: String, sessions: Vec<Session> },
    #[error("{0}")]
    Tool(String),
    #[error("cancelled")]
    Cancelled,
    #[error("copying the database: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

/// Picks the method and says why.
pub async fn choose(
    maint: &Client,
    src: &str,
    choice: CloneChoice,
) -> Result<(CloneMethod, String), CloneError> {
    let sessions = server::sessions(maint, src).await?;
    match (choice, sessions.is_empty()) {
        (CloneChoice::Template, true) | (CloneChoice::Auto, true) => Ok((
            CloneMethod::Template,
            "no other session on the source: template copy (fastest)".into(),
        )),
        (CloneChoice::Template, false) => Err(CloneError::Busy {
            db: src.to_string(),
            sessions,
        }),
        (CloneChoice::Auto, false) => Ok((
            CloneMethod::Snapshot,
            format!(
                "{} session(s) connected to the source: snapshot copy, nobody is disconnected",
                sessions.len()
            ),
        )),
        (CloneChoice::Snapshot, _) => Ok((CloneMethod::Snapshot, "snapshot copy requested".into())),
    }
}

pub async fn template_copy(
    maint: &Client,
    src: &str,
    dst: &str,
    major: u32,
    cancel: &CancellationToken,
) -> Result<(), CloneError> {
    // FILE_COPY: copies the files once (WAL_LOG, the 15+ default, writes the db again as WAL).
    let strategy = if major >= 15 {
        " STRATEGY FILE_COPY"
    } else {
        ""
    };
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}{strategy}",
        quote_ident(dst),
        quote_ident(src)
    );
    let token = maint.cancel_token();
    tokio::select! {
        r = maint.batch_execute(&sql) => match r {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                let sessions = server::sessions(maint, src).await.unwrap_or_default();
                Err(CloneError::Busy { db: src.to_string(), sessions })
            }
            Err(e) => Err(e.into()),
        },
        _ = cancel.cancelled() => {
            let _ = token.cancel_query(tokio_postgres::NoTls).await;
            Err(CloneError::Cancelled)
        }
    }
}

/// pg_dump of a consistent snapshot piped into pg_restore: no lock that blocks Odoo.
pub async fn snapshot_copy(
    conn: &ConnInfo,
    maint: &Client,
    src: &str,
    dst: &str,
    major: u32,
    emit: &Emitter,
    cancel: &CancellationToken,
) -> Result<(), CloneError> {
    let row = maint
        .query_one(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
            &[&src],
        )
        .await?;
    let (enc, collate, ctype, owner): (String, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    maint
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            quote_ident(dst),
            crate::pg::ident::quote_literal(&enc),
            crate::pg::ident::quote_literal(&collate),
            crate::pg::ident::quote_literal(&ctype)
        ))
        .await?;
    let rights = server::role_rights(maint).await?;
    if let Err(e) = maint
        .batch_execute(&format!(
            "ALTER DATABASE {} OWNER TO {}",
            quote_ident(dst),
            quote_ident(&owner)
        ))
        .await
    {
        emit.warn(format!(
            "the copy stays owned by {} (cannot give it to {owner}: {e})",
            rights.name
        ))
        .await;
    }
    let dump = tools::client_tool("pg_dump", major).map_err(CloneError::Tool)?;
    let restore = tools::client_tool("pg_restore", major).map_err(CloneError::Tool)?;
    let tables: i64 = conn
        .connect(src)
        .await
        .map_err(|e| CloneError::Tool(e.to_string()))?
        .query_one("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')", &[])
        .await?
        .get(0);
    let mut d = tokio::process::Command::new(&dump);
    d.args(["-Fc", "-Z0", "-d"])
        .arg(ConnInfo::conninfo_db(src))
        .envs(conn.child_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut dump_child = d
        .spawn()
        .map_err(|e| CloneError::Tool(format!("cannot start {}: {e}", dump.display())))?;
    let dump_out: Stdio = dump_child
        .stdout
        .take()
        .ok_or_else(|| CloneError::Tool("pg_dump has no stdout".into()))?
        .try_into()
        .map_err(|e: std::io::Error| CloneError::Tool(e.to_string()))?;
    let mut r = tokio::process::Command::new(&restore);
    r.args(["-v", "--exit-on-error", "-d"])
        .arg(ConnInfo::conninfo_db(dst));
    if !rights.superuser {
        // Objects owned by other roles cannot be given away by a plain owner.
        r.args(["--no-owner", "--no-privileges"]);
    }
    r.envs(conn.child_env())
        .stdin(dump_out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut restore_child = r
        .spawn()
        .map_err(|e| CloneError::Tool(format!("cannot start {}: {e}", restore.display())))?;
    let dump_err = dump_child.stderr.take();
    let dump_errors = tokio::spawn(async move {
        let mut out = String::new();
        if let Some(e) = dump_err {
            let mut lines = BufReader::new(e).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                out = l;
            }
        }
        out
    });
    let mut lines = restore_child
        .stderr
        .take()
        .map(|e| BufReader::new(e).lines());
    let mut done_tables = 0i64;
    let mut last = String::new();
    loop {
        let next = async {
            match lines.as_mut() {
                Some(l) => l.next_line().await.ok().flatten(),
                None => None,
            }
        };
        tokio::select! {
            line = next => match line {
                Some(l) => {
                    if l.contains("processing data for table") {
                        done_tables += 1;
                        emit.fraction(Some((done_tables as f64 / tables.max(1) as f64).min(1.0)), format!("{done_tables}/{tables} tables"));
                    }
                    if l.contains("error") { last = l.clone(); }
                    emit.log(l);
                }
                None => break,
            },
            _ = cancel.cancelled() => {
                let _ = dump_child.kill().await;
                let _ = restore_child.kill().await;
                return Err(CloneError::Cancelled);
            }
        }
    }
    let rs = restore_child
        .wait()
        .await
        .map_err(|e| CloneError::Tool(e.to_string()))?;
    let ds = dump_child
        .wait()
        .await
        .map_err(|e| CloneError::Tool(e.to_string()))?;
    let dump_last = dump_errors.await.unwrap_or_default();
    if !ds.success() {
        return Err(CloneError::Tool(format!(
            "pg_dump of {src:?} failed: {dump_last}"
        )));
    }
    if !rs.success() {
        return Err(CloneError::Tool(format!(
            "pg_restore into {dst:?} failed: {last}"
        )));
    }
    Ok(())
}

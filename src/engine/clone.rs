//! Copying a database: a template copy when nobody else is connected, a snapshot
//! copy (one exported snapshot: the rows streamed on parallel sessions, or
//! pg_dump into pg_restore) when the source is live. A test copy never kicks
//! a production user out.

use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use crate::pg::conn::ConnInfo;
use crate::pg::ident::quote_ident;
use crate::pg::rowcopy;
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
    // The copy keeps the source's owner: without it the copy belongs to the
    // role running the tool, and on 15+ Odoo's role loses CREATE on public.
    let rights = Rights::of(maint, src).await?;
    let sql = format!(
        "CREATE DATABASE {} OWNER {} TEMPLATE {}{strategy}",
        quote_ident(dst),
        quote_ident(&rights.owner),
        quote_ident(src)
    );
    let token = maint.cancel_token();
    tokio::select! {
        r = maint.batch_execute(&sql) => match r {
            Ok(()) => rights.apply(maint, dst).await,
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

/// A database's owner and privileges (`GRANT … ON DATABASE`), which neither
/// `CREATE DATABASE … TEMPLATE` nor a dump carries over.
#[derive(Debug, Clone)]
pub struct Rights {
    pub owner: String,
    /// (grantee or PUBLIC, privilege, with grant option); None: the defaults.
    grants: Option<Vec<(String, String, bool)>>,
}

impl Rights {
    pub async fn of(maint: &Client, db: &str) -> Result<Rights, tokio_postgres::Error> {
        let row = maint
            .query_one(
                "SELECT pg_get_userbyid(datdba), datacl IS NULL FROM pg_database WHERE datname = $1",
                &[&db],
            )
            .await?;
        let (owner, default): (String, bool) = (row.get(0), row.get(1));
        let grants = if default {
            None
        } else {
            let rows = maint
                .query(
                    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable                      FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1",
                    &[&db],
                )
                .await?;
            Some(
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect(),
            )
        };
        Ok(Rights { owner, grants })
    }

    /// Gives `db` this owner and these privileges.
    pub async fn apply(&self, maint: &Client, db: &str) -> Result<(), CloneError> {
        let mut sql = format!(
            "ALTER DATABASE {} OWNER TO {};",
            quote_ident(db),
            quote_ident(&self.owner)
        );
        if let Some(grants) = &self.grants {
            // From a clean slate, so that a right revoked on the source stays revoked.
            sql.push_str(&format!(
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC; REVOKE ALL ON DATABASE {db} FROM {owner};",
                db = quote_ident(db),
                owner = quote_ident(&self.owner)
            ));
            for (grantee, privilege, grantable) in grants {
                let to = if grantee == "PUBLIC" {
                    "PUBLIC".to_string()
                } else {
                    quote_ident(grantee)
                };
                // privilege_type is one of PostgreSQL's keywords (CREATE, CONNECT, TEMPORARY).
                if !privilege.chars().all(|c| c.is_ascii_uppercase()) {
                    continue;
                }
                sql.push_str(&format!(
                    "GRANT {privilege} ON DATABASE {} TO {to}{};",
                    quote_ident(db),
                    if *grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
        }
        maint.batch_execute(&sql).await.map_err(|e| {
            CloneError::Tool(format!(
                "cannot give the copy {db:?} the owner and rights of its source ({}): {}",
                self.owner,
                crate::pg::db_message(&e)
            ))
        })
    }
}

/// What a snapshot copy copies, and how.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    pub src: &'a str,
    pub dst: &'a str,
    /// The server's major version, to pick the client tools.
    pub major: u32,
    /// Tables dumped and restored at a time (`[clone] jobs`); 1 is one stream.
    pub jobs: u32,
    /// Where a parallel copy may keep its dump while it runs (the state dir);
    /// without it, or without room there, the copy streams.
    pub scratch: Option<&'a Path>,
}

/// A copy of one consistent snapshot of a live database: no lock that blocks Odoo.
/// The default with `jobs` > 1 is the rows streamed on parallel sessions
/// ([`Tools::rows`], docs/PERFORMANCE.md), which needs no scratch space. What
/// it cannot copy (large objects, a table held by someone else) goes through
/// `pg_dump -Fd -Z0 -j` into the scratch dir, then `pg_restore -j`; without
/// room for that dump, the schema and rows stream through a pipe while a
/// second pg_dump on the same exported snapshot saves the indexes and
/// constraints (a few kB), built `jobs` at a time afterwards.
/// `jobs` = 1: the single pipe `pg_dump -Fc -Z0 | pg_restore`.
pub async fn snapshot_copy(
    conn: &ConnInfo,
    maint: &Client,
    copy: Snapshot<'_>,
    emit: &Emitter,
    cancel: &CancellationToken,
) -> Result<(), CloneError> {
    let Snapshot {
        src,
        dst,
        major,
        jobs,
        scratch,
    } = copy;
    let row = maint
        .query_one(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = $1",
            &[&src],
        )
        .await?;
    let target = (row.get(0), row.get(1), row.get(2));
    let src_rights = Rights::of(maint, src).await?;
    let owner = src_rights.owner.clone();
    create_target(maint, dst, &target).await?;
    let rights = server::role_rights(maint).await?;
    src_rights.apply(maint, dst).await?;
    let dump = tools::client_tool("pg_dump", major).map_err(CloneError::Tool)?;
    let restore = tools::client_tool("pg_restore", major).map_err(CloneError::Tool)?;
    let tool = Tools {
        conn,
        dump: &dump,
        restore: &restore,
        src,
        dst,
        superuser: rights.superuser,
        owner: &owner,
        data_share: if jobs > 1 { 0.7 } else { 1.0 },
    };
    let source = conn
        .connect(src)
        .await
        .map_err(|e| CloneError::Tool(e.to_string()))?;
    let row = source
        .query_one("SELECT count(*), coalesce(sum(pg_table_size(c.oid)), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')", &[])
        .await?;
    let (tables, rows_bytes): (i64, i64) = (row.get(0), row.get(1));
    if jobs > 1 {
        match tool.rows(&source, copy, tables, emit, cancel).await? {
            Rows::Done => return Ok(()),
            Rows::NotHere => {}
            Rows::Again(why) => {
                emit.warn(format!("{why}: copying again in one stream"))
                    .await;
                server::drop_db(maint, dst, major).await?;
                create_target(maint, dst, &target).await?;
                src_rights.apply(maint, dst).await?;
                return tool.pipe(&[], tables, emit, cancel).await;
            }
        }
    }
    if let (Some(root), true) = (scratch, jobs > 1) {
        // The dump is about the size of the tables without their indexes.
        let need = rows_bytes as u64 + rows_bytes as u64 / 5 + (64 << 20);
        match free_bytes(root) {
            Some(free) if free >= need => {
                if tool.through_dir(root, jobs, tables, emit, cancel).await? {
                    return Ok(());
                }
            }
            free => emit.log(format!(
                "{} free in {} for a parallel copy, {} needed: streaming instead",
                free.map_or("unknown".into(), |f| crate::odoo::inspect::human_size(
                    f as i64
                )),
                root.display(),
                crate::odoo::inspect::human_size(need as i64)
            )),
        }
    }
    // One exported snapshot for both dumps of the stream: they see the same
    // database. Taken only now: it holds back vacuum on the source while it
    // lives, and the directory copy above needs none of its own. A server
    // that cannot export one (a standby before 10) gets the single pipe.
    let snapshot = if jobs > 1 {
        server::export_snapshot(&source).await
    } else {
        None
    };
    let Some(snapshot) = snapshot else {
        return tool.pipe(&[], tables, emit, cancel).await;
    };
    let tmp = tempfile::Builder::new()
        .prefix("upgrade-pilot-post-data")
        .tempdir()
        .map_err(|e| CloneError::Tool(format!("cannot make a temp dir: {e}")))?;
    let post = tmp.path().join("post-data.dump");
    let snap_arg = format!("--snapshot={snapshot}");
    let sections = ["--section=pre-data", "--section=data"];
    let (piped, post_failed) = tool
        .pipe_saving_post_data(&sections, &[&snap_arg], &post, tables, emit, cancel)
        .await?;
    piped?;
    // Both dumps have read what they need: the snapshot may go.
    drop(source);
    if let Some(why) = post_failed {
        return Err(CloneError::Tool(why));
    }
    tool.restore_archive(
        &post,
        jobs,
        tool.data_share,
        "indexes and constraints",
        emit,
        cancel,
    )
    .await
}

/// An empty database of the source's encoding and locale: (encoding, collate, ctype).
async fn create_target(
    maint: &Client,
    dst: &str,
    (enc, collate, ctype): &(String, String, String),
) -> Result<(), tokio_postgres::Error> {
    use crate::pg::ident::quote_literal;
    maint
        .batch_execute(&format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            quote_ident(dst),
            quote_literal(enc),
            quote_literal(collate),
            quote_literal(ctype)
        ))
        .await
}

/// How the rows copy went.
enum Rows {
    Done,
    /// Not made here, nothing written: another way may copy.
    NotHere,
    /// Given up on after writing into the copy: it must be made again.
    Again(String),
}

/// Where snapshot copies keep their parallel dumps.
pub fn scratch_root(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join("scratch")
}

/// The scratch dir of the copy `db` under `root`.
pub fn scratch_dir(root: &Path, db: &str) -> std::path::PathBuf {
    root.join(crate::pg::ident::file_name_for(db))
}

/// A scratch directory removed when the copy ends, however it ends.
struct Scratch(std::path::PathBuf);

impl Scratch {
    /// The copy `dst`'s scratch dir under `root`, emptied of what a killed
    /// run of the same copy left.
    fn fresh(root: &Path, dst: &str) -> Result<Scratch, CloneError> {
        let s = Scratch(scratch_dir(root, dst));
        let _ = std::fs::remove_dir_all(&s.0);
        std::fs::create_dir_all(&s.0)
            .map_err(|e| CloneError::Tool(format!("cannot make a scratch dir: {e}")))?;
        Ok(s)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_bytes(dir: &Path) -> Option<u64> {
    std::fs::create_dir_all(dir).ok()?;
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// What the snapshot copy's child processes share.
struct Tools<'a> {
    conn: &'a ConnInfo,
    dump: &'a Path,
    restore: &'a Path,
    src: &'a str,
    dst: &'a str,
    superuser: bool,
    /// The source's owner: what a plain role restores as, so objects stay its.
    owner: &'a str,
    /// The part of the progress gauge the data pipe fills; the indexes the rest.
    data_share: f64,
}

impl Tools<'_> {
    /// `pg_dump <args> -d <src>`, stderr piped, stdout to null unless the caller pipes it.
    fn dump_cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut d = tokio::process::Command::new(self.dump);
        d.args(args)
            .arg("-d")
            .arg(ConnInfo::conninfo_db(self.src))
            .envs(self.conn.child_env())
            .env(
                super::leftovers::MARKER,
                super::leftovers::tag(self.conn, self.dst),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        d
    }

    /// The default with `jobs` > 1: the schema through a pipe (`pg_dump
    /// --section=pre-data`), the rows on `jobs` pairs of sessions
    /// ([`rowcopy`], the big tables split), the sequence positions, then the
    /// indexes and constraints (`--section=post-data`, saved meanwhile)
    /// `jobs` at a time; all from one snapshot, exported on `source`.
    async fn rows(
        &self,
        source: &Client,
        copy: Snapshot<'_>,
        tables: i64,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<Rows, CloneError> {
        let Snapshot {
            jobs,
            major,
            scratch,
            ..
        } = copy;
        super::emit::pause_point("before:snapshot-dump").await;
        // Generated columns are left out by name: pg_attribute.attgenerated is 12+.
        if major < 12 {
            return Ok(Rows::NotHere);
        }
        // The holder stays idle in its transaction for the whole copy: a
        // server's timeouts must not end it (its locks keep the tables whole).
        source
            .batch_execute("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0")
            .await?;
        let Some(snapshot) = server::export_snapshot(source).await else {
            return Ok(Rows::NotHere);
        };
        let release = async || {
            let _ = source.batch_execute("ROLLBACK").await;
        };
        if let Some(why) = rowcopy::unsupported(source).await? {
            emit.log(format!("{why}: copied by pg_dump instead"));
            release().await;
            return Ok(Rows::NotHere);
        }
        let listed = match rowcopy::tables(source).await {
            Ok(t) => t,
            Err(e) if rowcopy::lock_not_granted(&e) => {
                emit.log(format!(
                    "a table of {:?} is held by another session ({}): copied by pg_dump, which waits for it",
                    self.src,
                    crate::pg::db_message(&e)
                ));
                release().await;
                return Ok(Rows::NotHere);
            }
            Err(e) => return Err(e.into()),
        };
        let positions = rowcopy::sequence_positions(source).await?;
        super::emit::pause_point("during:snapshot-locked").await;
        // The indexes and constraints' dump (a few kB) lives in the copy's
        // scratch dir: a run killed midway leaves it to the next one.
        let (_scratch, _tmp, post);
        match scratch {
            Some(root) => {
                let dir = Scratch::fresh(root, self.dst)?;
                post = dir.0.join("post-data.dump");
                (_scratch, _tmp) = (Some(dir), None);
            }
            None => {
                let tmp = tempfile::Builder::new()
                    .prefix("upgrade-pilot-post-data")
                    .tempdir()
                    .map_err(|e| CloneError::Tool(format!("cannot make a temp dir: {e}")))?;
                post = tmp.path().join("post-data.dump");
                (_scratch, _tmp) = (None, Some(tmp));
            }
        }
        let snap_arg = format!("--snapshot={snapshot}");
        // This session holds every table: a pg_dump lock queued behind someone
        // else's ACCESS EXCLUSIVE request would wait for it forever. Given up
        // on after a second; the stream (which holds nothing) copies instead.
        let wait = "--lock-wait-timeout=1000";
        let (schema, post_failed) = self
            .pipe_saving_post_data(
                &["--section=pre-data"],
                &[wait, &snap_arg],
                &post,
                tables,
                emit,
                cancel,
            )
            .await?;
        let failed = match schema {
            Err(CloneError::Tool(why)) => Some(why),
            Err(e) => return Err(e),
            Ok(()) => post_failed,
        };
        if let Some(why) = failed {
            release().await;
            return Ok(Rows::Again(why));
        }
        let role = (!self.superuser).then_some(self.owner);
        let mut sessions = Vec::new();
        for _ in 0..jobs {
            let (s, t) = tokio::join!(self.conn.connect(self.src), self.conn.connect(self.dst));
            let (s, t) = (
                s.map_err(|e| CloneError::Tool(e.to_string()))?,
                t.map_err(|e| CloneError::Tool(e.to_string()))?,
            );
            sessions.push(rowcopy::Session::open(s, t, &snapshot, role).await?);
        }
        let total = listed.iter().map(|t| t.bytes).sum::<i64>().max(1);
        let split = rowcopy::Split::for_rows(&listed, sessions.len(), major);
        emit.log(format!(
            "copying the rows of {} tables ({}) on {} sessions",
            listed.len(),
            crate::odoo::inspect::human_size(total),
            sessions.len()
        ));
        let moved = std::sync::atomic::AtomicU64::new(0);
        let copied = {
            let copying = rowcopy::copy(&sessions, &listed, split, &moved, cancel);
            tokio::pin!(copying);
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                tokio::select! {
                    r = &mut copying => break r,
                    _ = tick.tick() => {
                        let n = moved.load(std::sync::atomic::Ordering::Relaxed) as i64;
                        emit.fraction(
                            Some(self.data_share * (n as f64 / total as f64).min(1.0)),
                            format!("{} of about {} of rows copied", crate::odoo::inspect::human_size(n), crate::odoo::inspect::human_size(total)),
                        );
                    }
                }
            }
        };
        match copied {
            Ok(()) => {}
            Err(rowcopy::RowCopyError::Cancelled) => return Err(CloneError::Cancelled),
            Err(e) if e.is_lock_wait() => {
                // Released first, or the stream would queue behind the lock it waits for.
                release().await;
                return Ok(Rows::Again(e.to_string()));
            }
            Err(e) => return Err(CloneError::Tool(e.to_string())),
        }
        if let Some(s) = sessions.first() {
            if let Some(sql) = &positions {
                s.target.batch_execute(sql).await?;
            }
            // The rows' commits did not wait for the disk: one that does
            // makes them all durable (the WAL is flushed up to it).
            s.target
                .batch_execute(
                    "SET synchronous_commit = on; BEGIN; SELECT pg_catalog.txid_current(); COMMIT",
                )
                .await?;
        }
        drop(sessions);
        // Every row is read: the snapshot and its locks may go.
        release().await;
        super::emit::crash_point("during:snapshot-restore");
        self.restore_archive(
            &post,
            jobs,
            self.data_share,
            "indexes and constraints",
            emit,
            cancel,
        )
        .await?;
        Ok(Rows::Done)
    }

    /// The pipe of `sections`, while a second pg_dump saves the indexes and
    /// constraints (`--section=post-data`) into `post`; both with `extra`
    /// (the snapshot, a lock wait). The pipe's outcome, and why the second
    /// dump failed if it did.
    async fn pipe_saving_post_data(
        &self,
        sections: &[&str],
        extra: &[&str],
        post: &Path,
        tables: i64,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<(Result<(), CloneError>, Option<String>), CloneError> {
        let post_arg = post.display().to_string();
        let mut args = vec!["-Fc", "--section=post-data"];
        args.extend(extra);
        args.extend(["-f", &post_arg]);
        let post_dump = self
            .dump_cmd(&args)
            .spawn()
            .map_err(|e| CloneError::Tool(format!("cannot start {}: {e}", self.dump.display())))?
            .wait_with_output();
        let piped: Vec<&str> = sections.iter().chain(extra).copied().collect();
        let (piped, out) = tokio::join!(self.pipe(&piped, tables, emit, cancel), post_dump);
        let out = out.map_err(|e| CloneError::Tool(e.to_string()))?;
        let failed = (!out.status.success()).then(|| {
            format!(
                "pg_dump of {:?} (indexes and constraints) failed: {}",
                self.src,
                tools::why_failed(&String::from_utf8_lossy(&out.stderr))
            )
        });
        Ok((piped, failed))
    }

    /// `pg_dump -Fd -Z0 -j` into a scratch dir under `root`, then `pg_restore -j`.
    /// Ok(false): the dump failed (a lock pg_dump's workers could not get on
    /// a busy database) and nothing was restored, so the caller may stream.
    async fn through_dir(
        &self,
        root: &Path,
        jobs: u32,
        tables: i64,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<bool, CloneError> {
        // Named for the copy: a run killed midway leaves it to the next run
        // of the same job, which clears it first.
        let scratch = Scratch::fresh(root, self.dst)?;
        let dir = scratch.0.join("dump");
        super::emit::pause_point("before:snapshot-dump").await;
        // --no-sync: a scratch file, gone at the end; the copy itself is durable.
        let (jobs_arg, dir_arg) = (jobs.to_string(), dir.display().to_string());
        let mut d = self.dump_cmd(&[
            "-v",
            "-Fd",
            "-Z0",
            "--no-sync",
            "-j",
            &jobs_arg,
            "-f",
            &dir_arg,
        ]);
        let mut child = d
            .spawn()
            .map_err(|e| CloneError::Tool(format!("cannot start {}: {e}", self.dump.display())))?;
        let mut dumped = 0i64;
        let last = follow(&mut child, emit, cancel, |l| {
            if l.contains("dumping contents of table") {
                dumped += 1;
                emit.fraction(
                    Some(0.5 * (dumped as f64 / tables.max(1) as f64).min(1.0)),
                    format!("{dumped}/{tables} tables dumped"),
                );
            }
        })
        .await?;
        let status = child
            .wait()
            .await
            .map_err(|e| CloneError::Tool(e.to_string()))?;
        if !status.success() {
            emit.warn(format!(
                "the parallel dump of {:?} failed ({last}): copying again in one stream",
                self.src
            ))
            .await;
            return Ok(false);
        }
        super::emit::crash_point("during:snapshot-restore");
        self.restore_archive(
            &dir,
            jobs,
            0.5,
            "tables, indexes and constraints",
            emit,
            cancel,
        )
        .await?;
        Ok(true)
    }

    fn restore_cmd(&self) -> tokio::process::Command {
        let mut r = tokio::process::Command::new(self.restore);
        r.args(["-v", "--exit-on-error", "-d"])
            .arg(ConnInfo::conninfo_db(self.dst));
        if !self.superuser {
            // Objects owned by other roles cannot be given away by a plain owner.
            r.args(["--no-owner", "--no-privileges"])
                .arg(format!("--role={}", self.owner));
        }
        r.envs(self.conn.child_env())
            .env(
                super::leftovers::MARKER,
                super::leftovers::tag(self.conn, self.dst),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        r
    }

    /// `pg_dump -Fc -Z0 <extra> | pg_restore -v`, progress from the tables restored.
    async fn pipe(
        &self,
        extra: &[&str],
        tables: i64,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<(), CloneError> {
        let args: Vec<&str> = ["-Fc", "-Z0"].iter().chain(extra).copied().collect();
        let mut d = self.dump_cmd(&args);
        d.stdout(Stdio::piped());
        let mut dump_child = d
            .spawn()
            .map_err(|e| CloneError::Tool(format!("cannot start {}: {e}", self.dump.display())))?;
        let dump_out: Stdio = dump_child
            .stdout
            .take()
            .ok_or_else(|| CloneError::Tool("pg_dump has no stdout".into()))?
            .try_into()
            .map_err(|e: std::io::Error| CloneError::Tool(e.to_string()))?;
        let mut r = self.restore_cmd();
        r.stdin(dump_out);
        let mut restore_child = r.spawn().map_err(|e| {
            CloneError::Tool(format!("cannot start {}: {e}", self.restore.display()))
        })?;
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
        let mut done_tables = 0i64;
        let last = follow(&mut restore_child, emit, cancel, |l| {
            if l.contains("processing data for table") {
                done_tables += 1;
                emit.fraction(
                    Some(self.data_share * (done_tables as f64 / tables.max(1) as f64).min(1.0)),
                    format!("{done_tables}/{tables} tables"),
                );
            }
        })
        .await;
        let last = match last {
            Ok(l) => l,
            Err(e) => {
                let _ = dump_child.kill().await;
                return Err(e);
            }
        };
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
                "pg_dump of {:?} failed: {dump_last}",
                self.src
            )));
        }
        if !rs.success() {
            return Err(CloneError::Tool(format!(
                "pg_restore into {:?} failed: {last}",
                self.dst
            )));
        }
        Ok(())
    }

    /// Restores `archive`, `jobs` items at a time; the gauge goes from `from` to full.
    async fn restore_archive(
        &self,
        archive: &Path,
        jobs: u32,
        from: f64,
        what: &str,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<(), CloneError> {
        // How many items the archive holds, for the gauge.
        let items = tokio::process::Command::new(self.restore)
            .arg("-l")
            .arg(archive)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
                    .count()
            })
            .unwrap_or(0)
            .max(1);
        emit.fraction(Some(from), format!("{items} {what}, {jobs} at a time"));
        let mut r = self.restore_cmd();
        r.arg("-j").arg(jobs.to_string()).arg(archive);
        let mut child = r.spawn().map_err(|e| {
            CloneError::Tool(format!("cannot start {}: {e}", self.restore.display()))
        })?;
        // The items pg_restore runs before it forks its workers say nothing
        // here: the gauge may jump at the end.
        let mut done = 0u32;
        let last = follow(&mut child, emit, cancel, |l| {
            if l.contains("finished item") {
                done += 1;
                let share = (done as f64 / items as f64).min(1.0);
                emit.fraction(
                    Some(from + (1.0 - from) * share),
                    format!("{done}/{items} {what}"),
                );
            }
        })
        .await?;
        let status = child
            .wait()
            .await
            .map_err(|e| CloneError::Tool(e.to_string()))?;
        if !status.success() {
            return Err(CloneError::Tool(format!(
                "pg_restore of {what} into {:?} failed: {last}",
                self.dst
            )));
        }
        emit.fraction(Some(1.0), format!("{items} {what}"));
        Ok(())
    }
}

/// Logs a child's stderr line by line (each also to `seen`) until it closes;
/// returns the last line that mentions an error. Cancel kills the child.
async fn follow(
    child: &mut tokio::process::Child,
    emit: &Emitter,
    cancel: &CancellationToken,
    mut seen: impl FnMut(&str),
) -> Result<String, CloneError> {
    let mut lines = child.stderr.take().map(|e| BufReader::new(e).lines());
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
                    seen(&l);
                    if l.contains("error") { last = l.clone(); }
                    emit.log(l);
                }
                None => return Ok(last),
            },
            _ = cancel.cancelled() => {
                let _ = child.kill().await;
                return Err(CloneError::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_dirs_stay_under_the_root_and_apart() {
        let root = Path::new("/state/scratch");
        for name in ["..", "../../etc", "a/b", "a_b", "démo"] {
            let d = scratch_dir(root, name);
            assert_eq!(d.parent(), Some(root), "{name}: {}", d.display());
            assert!(
                !d.file_name().unwrap().to_string_lossy().contains(".."),
                "{name}"
            );
        }
        assert_ne!(scratch_dir(root, "a/b"), scratch_dir(root, "a_b"));
    }
}

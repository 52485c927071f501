//! The rows of every table, copied from one exported snapshot of a database
//! into another that already has the tables (a `pg_dump --section=pre-data`
//! restore): `jobs` sessions on each side, each streaming `COPY … TO STDOUT`
//! into `COPY … FROM STDIN` with no file between, the biggest tables split
//! into block ranges so that one table does not leave the other sessions idle
//! (PostgreSQL 14+ reads a `ctid` range without scanning the whole table).
//! What `pg_dump --section=data` would do, at the pace of the server's cores.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt, pin_mut};
use thiserror::Error;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::ident::quote_literal;

#[derive(Debug, Error)]
pub enum RowCopyError {
    #[error("copying the rows of {table}: {}", super::db_message(.source))]
    Table {
        table: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

impl RowCopyError {
    /// A table another session held so that a copy session could not read it
    /// at once (see [`Session`]): the copy may be made another way.
    pub fn is_lock_wait(&self) -> bool {
        match self {
            Self::Table { source, .. } => lock_not_granted(source),
            Self::Cancelled => false,
        }
    }
}

/// A lock the copy did not wait for (its lock timeout ran out).
pub fn lock_not_granted(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
}

/// The relations pg_dump dumps the data of, of kind `kind`, as `c` (with
/// `n`, its namespace): neither another session's temporary ones, nor the
/// catalogs', nor an extension's own.
fn dumped(kind: char) -> String {
    format!(
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = '{kind}' AND c.relpersistence <> 't'
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"
    )
}

/// A table whose rows are copied.
#[derive(Debug, Clone)]
pub struct Table {
    /// `schema.table`, quoted.
    pub name: String,
    /// The stored columns, quoted, comma-separated (no generated column: the
    /// target computes them).
    columns: String,
    /// Binary COPY when every column's type is built in: binary arrays and
    /// composites carry type oids, which a user-defined type (an enum,
    /// citext) does not keep in the copy.
    binary: bool,
    /// The main fork's size: the split and the progress go by it.
    pub bytes: i64,
    blocks: i64,
}

/// What the source holds that this copy does not carry (pg_dump's
/// `--section=data` does): large objects, extension configuration tables,
/// tables with no column COPY can name. None: the rows copy is complete.
pub async fn unsupported(holder: &Client) -> Result<Option<String>, tokio_postgres::Error> {
    let row = holder
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata),
                    EXISTS (SELECT 1 FROM pg_extension WHERE extconfig IS NOT NULL),
                    EXISTS (SELECT 1 {}
                       AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''))",
                dumped('r')
            ),
            &[],
        )
        .await?;
    Ok(match (row.get(0), row.get(1), row.get(2)) {
        (true, _, _) => Some("the database has large objects".into()),
        (_, true, _) => Some("an extension keeps configuration rows".into()),
        (_, _, true) => Some("a table has no column but generated ones".into()),
        _ => None,
    })
}

/// The tables pg_dump would dump the rows of, biggest first, read in the
/// holder's snapshot, and locked there as pg_dump locks them (ACCESS SHARE
/// until the snapshot is released), so that no table is rewritten under it.
/// A table someone holds or waits to hold alone is not waited for more than
/// a second (`LOCK_NOT_AVAILABLE`): the caller copies another way, which waits.
pub async fn tables(holder: &Client) -> Result<Vec<Table>, tokio_postgres::Error> {
    // pg_relation_size too takes a lock.
    holder
        .batch_execute("SET LOCAL lock_timeout = '1s'")
        .await?;
    let rows = holder
        .query(
            &format!(
                "SELECT format('%I.%I', n.nspname, c.relname),
                    (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
                    (SELECT coalesce(bool_and(a.atttypid < 16384), true) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                    coalesce(pg_relation_size(c.oid), 0) AS bytes,
                    current_setting('block_size')::bigint
               {} ORDER BY bytes DESC, 1",
                dumped('r')
            ),
            &[],
        )
        .await?;
    let tables: Vec<Table> = rows
        .iter()
        .map(|r| Table {
            name: r.get(0),
            columns: r.get::<_, Option<String>>(1).unwrap_or_default(),
            binary: r.get(2),
            bytes: r.get(3),
            blocks: r.get::<_, i64>(3) / r.get::<_, i64>(4).max(1),
        })
        .collect();
    for chunk in tables.chunks(500) {
        let names: Vec<&str> = chunk.iter().map(|t| t.name.as_str()).collect();
        holder
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                names.join(", ")
            ))
            .await?;
    }
    Ok(tables)
}

/// The statement that gives the target's sequences the positions they have
/// in the holder's snapshot (pg_dump's `SEQUENCE SET`), or None.
pub async fn sequence_positions(holder: &Client) -> Result<Option<String>, tokio_postgres::Error> {
    let names: Vec<String> = holder
        .query(
            &format!(
                "SELECT format('%I.%I', n.nspname, c.relname) {}",
                dumped('S')
            ),
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sql = String::new();
    for chunk in names.chunks(500) {
        let read: Vec<String> = chunk
            .iter()
            .map(|s| {
                format!(
                    "SELECT {}::text, last_value::text, is_called FROM {s}",
                    quote_literal(s)
                )
            })
            .collect();
        for r in holder.query(&read.join(" UNION ALL "), &[]).await? {
            let (seq, value, called): (String, String, bool) = (r.get(0), r.get(1), r.get(2));
            sql.push_str(&format!(
                "SELECT pg_catalog.setval({}, {}, {called});\n",
                quote_literal(&seq),
                quote_literal(&value)
            ));
        }
    }
    Ok((!sql.is_empty()).then_some(sql))
}

/// One piece of work: a whole table, or a range of its blocks.
#[derive(Debug, Clone, Copy)]
struct Part {
    table: usize,
    /// First block, and the block before which it ends (None: to the end).
    blocks: Option<(i64, Option<i64>)>,
}

/// How the rows are shared out.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    /// Tables whose main fork is bigger than this are cut in ranges of about it.
    pub bytes: i64,
    /// The server reads a ctid range without a full scan (14+).
    pub ranges: bool,
}

impl Split {
    /// Ranges of about an eighth of the rows per session, at least 32 MB.
    pub fn for_rows(tables: &[Table], sessions: usize, major: u32) -> Split {
        let total: i64 = tables.iter().map(|t| t.bytes).sum();
        Split {
            bytes: (total / (sessions.max(1) as i64 * 8)).max(32 << 20),
            ranges: major >= 14,
        }
    }
}

fn parts(tables: &[Table], split: Split) -> VecDeque<Part> {
    let mut out = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        // An empty main fork holds no row any snapshot sees.
        if t.bytes == 0 {
            continue;
        }
        if !split.ranges || t.bytes <= split.bytes * 3 / 2 || t.blocks < 2 {
            out.push((
                t.bytes,
                Part {
                    table: i,
                    blocks: None,
                },
            ));
            continue;
        }
        let n = (t.bytes + split.bytes - 1) / split.bytes;
        let step = (t.blocks + n - 1) / n;
        let mut from = 0;
        while from < t.blocks {
            let to = from + step;
            // The last range is open: rows the snapshot sees may lie past the
            // size read a moment ago.
            let end = (to < t.blocks).then_some(to);
            out.push((
                t.bytes / n,
                Part {
                    table: i,
                    blocks: Some((from, end)),
                },
            ));
            from = to;
        }
    }
    // The biggest pieces first: the sessions end together.
    out.sort_by_key(|p| std::cmp::Reverse(p.0));
    out.into_iter().map(|(_, p)| p).collect()
}

/// The sessions of one copy: `(source, target)` pairs. Each source session
/// reads in the holder's exported snapshot and waits a second at most for a lock (a table
/// someone queued for a rewrite after the holder locked it fails the copy,
/// as pg_dump's parallel workers do, rather than waiting behind it).
pub struct Session {
    pub source: Client,
    pub target: Client,
}

impl Session {
    /// Joins the snapshot on `source`; on `target`, commits that need not
    /// wait for the disk (the caller ends with one that does, which makes
    /// them all durable) and, for a plain role, the role owning the tables.
    pub async fn open(
        source: Client,
        target: Client,
        snapshot: &str,
        role: Option<&str>,
    ) -> Result<Session, tokio_postgres::Error> {
        // A second, not a millisecond: autovacuum truncating a TOAST table
        // holds it alone for a moment.
        source
            .batch_execute(
                "SET lock_timeout = '1s'; SET row_security = off; SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0",
            )
            .await?;
        super::server::join_snapshot(&source, snapshot).await?;
        let mut set = String::from(
            "SET synchronous_commit = off; SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;",
        );
        if let Some(r) = role {
            set.push_str(&format!("SET ROLE {};", super::ident::quote_ident(r)));
        }
        target.batch_execute(&set).await?;
        Ok(Session { source, target })
    }
}

/// Copies the rows of `tables` on `sessions`, each taking the next piece
/// when it is done with one; `moved` counts the bytes streamed.
pub async fn copy(
    sessions: &[Session],
    tables: &[Table],
    split: Split,
    moved: &AtomicU64,
    cancel: &CancellationToken,
) -> Result<(), RowCopyError> {
    let queue = Mutex::new(parts(tables, split));
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    };
    let work = sessions.iter().map(|s| async {
        while let Some(part) = next() {
            let t = &tables[part.table];
            copy_part(s, t, part, moved)
                .await
                .map_err(|source| RowCopyError::Table {
                    table: t.name.clone(),
                    source,
                })?;
        }
        Ok::<_, RowCopyError>(())
    });
    let all = futures_util::future::try_join_all(work);
    tokio::select! {
        r = all => r.map(|_| ()),
        _ = cancel.cancelled() => {
            for s in sessions {
                let _ = s.source.cancel_token().cancel_query(tokio_postgres::NoTls).await;
                let _ = s.target.cancel_token().cancel_query(tokio_postgres::NoTls).await;
            }
            Err(RowCopyError::Cancelled)
        }
    }
}

async fn copy_part(
    s: &Session,
    t: &Table,
    part: Part,
    moved: &AtomicU64,
) -> Result<(), tokio_postgres::Error> {
    let format = if t.binary {
        "FORMAT binary"
    } else {
        "FORMAT text"
    };
    let read = match part.blocks {
        None => format!("COPY {} ({}) TO STDOUT ({format})", t.name, t.columns),
        Some((from, to)) => format!(
            "COPY (SELECT {} FROM ONLY {} WHERE ctid >= '({from},0)'::tid{}) TO STDOUT ({format})",
            t.columns,
            t.name,
            to.map(|to| format!(" AND ctid < '({to},0)'::tid"))
                .unwrap_or_default()
        ),
    };
    // A whole table is loaded frozen, in the transaction that emptied it: its
    // rows need no later pass to set their hint bits (the index builds and
    // the first reads would otherwise write every page again).
    let whole = part.blocks.is_none();
    if whole {
        s.target
            .batch_execute(&format!("BEGIN; TRUNCATE ONLY {}", t.name))
            .await?;
    }
    let write = format!(
        "COPY {} ({}) FROM STDIN ({format}{})",
        t.name,
        t.columns,
        if whole { ", FREEZE" } else { "" }
    );
    let sink = s.target.copy_in::<_, bytes::Bytes>(write.as_str()).await?;
    let rows = s.source.copy_out(read.as_str()).await?;
    pin_mut!(sink);
    pin_mut!(rows);
    while let Some(chunk) = rows.next().await {
        let chunk = chunk?;
        moved.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        sink.feed(chunk).await?;
    }
    sink.as_mut().finish().await?;
    if whole {
        s.target.batch_execute("COMMIT").await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(bytes: i64) -> Table {
        Table {
            name: format!("t{bytes}"),
            columns: "id".into(),
            binary: true,
            bytes,
            blocks: bytes / 8192,
        }
    }

    #[test]
    fn big_tables_are_cut_in_ranges_that_cover_every_block_and_the_end() {
        let tables = [table(800 << 20), table(10 << 20), table(0)];
        let split = Split {
            bytes: 100 << 20,
            ranges: true,
        };
        let p = parts(&tables, split);
        let big: Vec<_> = p.iter().filter(|p| p.table == 0).collect();
        assert_eq!(big.len(), 8);
        let mut ranges: Vec<_> = big.iter().map(|p| p.blocks.unwrap()).collect();
        ranges.sort();
        assert_eq!(ranges[0].0, 0);
        for w in ranges.windows(2) {
            assert_eq!(w[0].1, Some(w[1].0), "ranges touch: {ranges:?}");
        }
        assert_eq!(ranges.last().unwrap().1, None, "the last range is open");
        // The small table whole, the empty one not at all, after the big pieces.
        assert_eq!(p.back().map(|p| (p.table, p.blocks)), Some((1, None)));
        assert!(p.iter().all(|p| p.table != 2));
        // Before 14 a range is a full scan: no split.
        let old = parts(
            &tables,
            Split {
                ranges: false,
                ..split
            },
        );
        assert_eq!(old.len(), 2);
    }
}

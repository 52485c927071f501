//! The rows of a live database copied on parallel sessions (`pg::rowcopy`),
//! a big table cut in block ranges: every row arrives once, as of the
//! snapshot, whatever its columns hold, and nothing written after the
//! snapshot does.

mod common;
use common::Env;

use std::sync::atomic::AtomicU64;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::pg::rowcopy::{self, Session, Split};

const SRC: &str = "rows_src";
const DST: &str = "rows_dst";

/// Odd columns: a dropped one, a generated one, NULLs, bytes, arrays (of a
/// type of the database's own, whose oid the copy does not keep), JSON,
/// text with tabs, newlines and backslashes; enough rows for many blocks.
const SHAPE: &str = r"
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE big (id serial PRIMARY KEY, gone int, body text, data bytea, tags text[], j jsonb,
  amount numeric(12,2), at timestamptz, twice int GENERATED ALWAYS AS (id * 2) STORED, moods mood[]);
ALTER TABLE big DROP COLUMN gone;
INSERT INTO big (body, data, tags, j, amount, at, moods)
  SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE repeat(E'a\tb\\c\n' || i, 20) END,
         decode(md5(i::text), 'hex'), ARRAY['x' || i, NULL], jsonb_build_object('i', i, 's', 'é'),
         i * 1.25, '2024-01-01'::timestamptz + i * interval '1 minute', ARRAY['calm', 'busy']::mood[]
  FROM generate_series(1, 20000) i;
CREATE TABLE small (k text PRIMARY KEY, v int);
INSERT INTO small VALUES ('a', 1), ('b', NULL);
CREATE TABLE empty (x int);
";

fn sums(env: &Env, db: &str) -> Vec<String> {
    ["big", "small", "empty"]
        .iter()
        .map(|t| {
            env.one::<String>(
                db,
                &format!("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {t} t"),
            )
        })
        .collect()
}

#[test]
fn a_table_cut_in_block_ranges_arrives_whole_and_as_of_the_snapshot() {
    let env = Env::new();
    env.exec("postgres", &format!("CREATE DATABASE {SRC}"));
    env.exec(SRC, SHAPE);
    env.exec("postgres", &format!("CREATE DATABASE {DST}"));
    let before = sums(&env, SRC);
    let blocks: i64 = env.one(SRC, "SELECT pg_relation_size('big') / 8192");
    assert!(blocks > 100, "{blocks} blocks");
    let conn = env.conn();
    let moved = AtomicU64::new(0);
    env.rt.block_on(async {
        let holder = conn.connect(SRC).await.unwrap();
        holder
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .unwrap();
        let snapshot: String = holder
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(rowcopy::unsupported(&holder).await.unwrap(), None);
        let tables = rowcopy::tables(&holder).await.unwrap();
        // Written after the snapshot: not in the copy.
        let odoo = conn.connect(SRC).await.unwrap();
        odoo.batch_execute(
            "INSERT INTO big (body) SELECT 'late' FROM generate_series(1, 500); UPDATE small SET v = 99; DELETE FROM big WHERE id <= 100",
        )
        .await
        .unwrap();
        // The tables as pg_dump would make them.
        let major = upgrade_pilot::pg::server::server_major(&holder).await.unwrap();
        let tool = |t| upgrade_pilot::pg::tools::client_tool(t, major).unwrap();
        let schema = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' --section=pre-data --snapshot={snapshot} -d {SRC} | '{}' -X -q -v ON_ERROR_STOP=1 -d {DST}",
                tool("pg_dump").display(),
                tool("psql").display()
            ))
            .envs(conn.child_env())
            .output()
            .unwrap();
        assert!(schema.status.success(), "{}", String::from_utf8_lossy(&schema.stderr));
        let mut sessions = Vec::new();
        for _ in 0..2 {
            let (s, t) = (conn.connect(SRC).await.unwrap(), conn.connect(DST).await.unwrap());
            sessions.push(Session::open(s, t, &snapshot, None).await.unwrap());
        }
        // Ranges of 16 blocks: the big table in many pieces on both sessions.
        let split = Split {
            bytes: 16 * 8192,
            ranges: true,
        };
        rowcopy::copy(
            &sessions,
            &tables,
            split,
            &moved,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    });
    assert!(moved.into_inner() > 0);
    assert_eq!(
        sums(&env, DST),
        before,
        "the copy is the source as of the snapshot"
    );
    assert_ne!(sums(&env, SRC), before, "the source did change meanwhile");
    assert_eq!(
        env.one::<i64>(DST, "SELECT count(*) FROM big WHERE twice <> id * 2"),
        0,
        "generated columns computed by the copy"
    );
}

#[test]
fn what_the_rows_copy_cannot_carry_is_named_so_that_pg_dump_copies_it() {
    let env = Env::new();
    env.exec("postgres", &format!("CREATE DATABASE {SRC}"));
    env.exec(SRC, "CREATE TABLE t (id int)");
    let conn = env.conn();
    let found = |sql: &str| {
        env.exec(SRC, sql);
        env.rt.block_on(async {
            let c = conn.connect(SRC).await.unwrap();
            rowcopy::unsupported(&c).await.unwrap()
        })
    };
    assert_eq!(found("SELECT 1"), None);
    // A table COPY cannot name a column of (no column, or only generated ones).
    assert!(found("CREATE TABLE bare (); INSERT INTO bare DEFAULT VALUES").is_some());
    env.exec(SRC, "DROP TABLE bare");
    assert!(found("SELECT lo_create(0)").is_some());
}

#[test]
fn another_sessions_temporary_sequence_is_not_read_nor_copied() {
    let env = Env::new();
    env.exec("postgres", &format!("CREATE DATABASE {SRC}"));
    env.exec(SRC, "CREATE TABLE t (id serial)");
    let conn = env.conn();
    let positions = env.rt.block_on(async {
        // Odoo's session with a temporary table of its own.
        let odoo = conn.connect(SRC).await.unwrap();
        odoo.batch_execute("CREATE TEMP TABLE scratch (id serial)")
            .await
            .unwrap();
        let holder = conn.connect(SRC).await.unwrap();
        rowcopy::sequence_positions(&holder).await
    });
    let sql = positions
        .expect("the positions read despite the temporary sequence")
        .unwrap_or_default();
    assert!(sql.contains("public.t_id_seq"), "{sql}");
    assert!(!sql.contains("scratch"), "{sql}");
}

//! The snapshot copy of a live database, each way it can be made: one pipe
//! (`jobs = 1`), the rows on parallel sessions (the default, with or without a
//! scratch dir), and, for what that cannot carry (a large object), a parallel
//! directory dump in the scratch dir or, without one, the pipe with indexes
//! built apart. Each copy has the source's rows, indexes, constraints, triggers
//! and sequence positions, the constraints hold, and no scratch file is left.

mod common;
use common::Env;

use tokio_util::sync::CancellationToken;
use upgrade_pilot::engine::clone::{self, Snapshot};
use upgrade_pilot::engine::emit::Emitter;
use upgrade_pilot::pg::server::server_major;

const SRC: &str = "live_src";

/// What Odoo puts beside its tables: foreign keys, unique and check
/// constraints, partial and expression indexes, a trigger, a view.
const EXTRA: &str = "
CREATE TABLE sale_order_line (id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES sale_order(id) ON DELETE CASCADE,
  name text NOT NULL, qty numeric CHECK (qty >= 0), code varchar, UNIQUE (order_id, code));
INSERT INTO sale_order_line (order_id, name, qty, code) SELECT id, 'line ' || id, id % 7, 'c' || id FROM sale_order;
CREATE INDEX sale_order_line_open_idx ON sale_order_line (order_id) WHERE qty > 0;
CREATE INDEX res_partner_lower_email_idx ON res_partner (lower(email));
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := NEW.name; RETURN NEW; END $$;
CREATE TRIGGER sale_order_line_touch BEFORE UPDATE ON sale_order_line FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW open_lines AS SELECT order_id, sum(qty) AS qty FROM sale_order_line GROUP BY order_id;
";

/// Everything but the rows that a copy must carry over, as sorted text.
fn shape(env: &Env, db: &str) -> Vec<String> {
    env.rt.block_on(async {
        let c = env.conn().connect(db).await.expect("connect");
        let mut out = Vec::new();
        for q in [
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
            "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            "SELECT tgname || ' ' || tgrelid::regclass FROM pg_trigger WHERE NOT tgisinternal",
            "SELECT viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'",
            "SELECT sequencename || ' ' || coalesce(last_value, 0) FROM pg_sequences WHERE schemaname = 'public'",
        ] {
            for r in c.query(q, &[]).await.expect(q) {
                out.push(r.get::<_, String>(0));
            }
        }
        out.sort();
        out
    })
}

#[test]
fn snapshot_copy_carries_every_index_constraint_and_row_whatever_the_jobs() {
    let env = Env::new();
    env.demo_db(SRC);
    env.exec(SRC, EXTRA);
    let conn = env.conn();
    let (src_shape, src_rows) = (shape(&env, SRC), env.data_checksums(SRC));
    assert!(
        src_shape.iter().filter(|s| s.contains("INDEX")).count() >= 10,
        "{src_shape:?}"
    );
    // A session stays on the source the whole time, as Odoo's pool would.
    let odoo = env.rt.block_on(async {
        let c = conn.connect(SRC).await.unwrap();
        c.batch_execute("SET application_name = 'odoo-worker-1'")
            .await
            .unwrap();
        c
    });
    let (tx, _rx) = tokio::sync::mpsc::channel(1 << 16);
    let (ptx, prx) = tokio::sync::watch::channel(Default::default());
    let emit = Emitter::new(tx, ptx, None);
    let maint = env.rt.block_on(conn.connect("postgres")).unwrap();
    let major = env.rt.block_on(server_major(&maint)).unwrap();
    let scratch = env.dir.path().join("scratch");
    let dir = Some(scratch.as_path());
    for (jobs, scratch, lo) in [
        (1, None, false),
        (2, dir, false),
        (2, None, false),
        (2, dir, true),
        (2, None, true),
    ] {
        if lo {
            env.exec(
                SRC,
                "SELECT lo_create(4242) WHERE NOT EXISTS (SELECT 1 FROM pg_largeobject_metadata)",
            );
        }
        let dst = format!("copy_jobs_{jobs}_{}_{lo}", scratch.is_some());
        env.rt
            .block_on(clone::snapshot_copy(
                &conn,
                &maint,
                Snapshot {
                    src: SRC,
                    dst: &dst,
                    major,
                    jobs,
                    scratch,
                },
                &emit,
                &CancellationToken::new(),
            ))
            .unwrap_or_else(|e| panic!("jobs {jobs}: {e}"));
        assert_eq!(shape(&env, &dst), src_shape, "jobs {jobs}");
        assert_eq!(env.data_checksums(&dst), src_rows, "jobs {jobs}");
        let (fraction, detail) = {
            let p = prx.borrow();
            (p.fraction, p.detail.clone())
        };
        assert_eq!(fraction, Some(1.0), "jobs {jobs}: {detail}");
        // Which way was taken shows in the last progress line: the pipe's
        // tables, the directory dump's items, or the indexes built after the rows.
        let expected = match (jobs, scratch, lo) {
            (1, _, _) => "tables",
            (_, Some(_), true) => "tables, indexes and constraints",
            _ => "indexes and constraints",
        };
        assert!(detail.ends_with(expected), "jobs {jobs}: {detail}");
        assert_eq!(
            env.one::<i64>(&dst, "SELECT count(*) FROM pg_largeobject_metadata"),
            i64::from(lo),
            "jobs {jobs}, large object {lo}"
        );
        if let Some(s) = scratch {
            assert_eq!(
                std::fs::read_dir(s).map(|d| d.count()).unwrap_or(0),
                0,
                "scratch files left in {}",
                s.display()
            );
        }
        // The constraints are real in the copy, not only listed.
        let refused = env.rt.block_on(async {
            let c = conn.connect(&dst).await.unwrap();
            c.batch_execute("INSERT INTO sale_order_line (order_id, name) VALUES (-1, 'orphan')")
                .await
                .is_err()
        });
        assert!(
            refused,
            "jobs {jobs}: a line without its order was accepted"
        );
    }
    // The source's own session was never touched.
    env.rt
        .block_on(odoo.batch_execute("SELECT 1"))
        .expect("the source session is still there");
}

//! A synthetic Odoo-shaped database of a chosen size: the demo seed (every table
//! neutralization touches) plus the tables that make a real Odoo database big,
//! with their Odoo indexes, filled in the proportions of a trading company:
//! per sale order, 3 order lines, an invoice with 4 journal items, 3 stock
//! moves, 5 chatter messages with 4 tracked values and 2 followers; a customer
//! every 4 orders. The filestore gets `files` attachments, each with its
//! `ir_attachment` row, as Odoo lays them out (`filestore/<db>/<xx>/<sha1>`).

use std::path::Path;

use sha2::{Digest, Sha256};
use upgrade_pilot::demo;
use upgrade_pilot::pg::conn::ConnInfo;

use crate::common::psql;

/// Orders per batch; the size is checked after each batch.
const BATCH: i64 = 20_000;

const SCHEMA: &str = "
CREATE TABLE account_account (id serial PRIMARY KEY, code varchar NOT NULL, name jsonb NOT NULL, account_type varchar, reconcile boolean, company_id integer);
CREATE TABLE product_product (id serial PRIMARY KEY, product_tmpl_id integer NOT NULL, default_code varchar, barcode varchar, active boolean DEFAULT true, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE sale_order_line (id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES sale_order(id) ON DELETE CASCADE, sequence integer, name text NOT NULL, product_id integer REFERENCES product_product(id), product_uom_qty numeric, price_unit numeric, discount numeric, price_subtotal numeric, price_tax double precision, price_total numeric, qty_delivered numeric, qty_invoiced numeric, state varchar, company_id integer, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE account_move_line (id serial PRIMARY KEY, move_id integer NOT NULL REFERENCES account_move(id) ON DELETE CASCADE, move_name varchar, date date, ref varchar, parent_state varchar, journal_id integer, company_id integer, account_id integer REFERENCES account_account(id), partner_id integer REFERENCES res_partner(id), product_id integer REFERENCES product_product(id), name varchar, display_type varchar, quantity numeric, price_unit numeric, discount numeric, debit numeric, credit numeric, balance numeric, amount_currency numeric, price_subtotal numeric, price_total numeric, amount_residual numeric, reconciled boolean, full_reconcile_id integer, currency_id integer, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE stock_move (id serial PRIMARY KEY, name varchar NOT NULL, sequence integer, priority varchar, date timestamp NOT NULL, company_id integer, product_id integer NOT NULL REFERENCES product_product(id), product_uom_qty numeric, quantity numeric, location_id integer NOT NULL, location_dest_id integer NOT NULL, partner_id integer, picking_id integer, state varchar, origin varchar, reference varchar, sale_line_id integer REFERENCES sale_order_line(id), create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE mail_message (id serial PRIMARY KEY, subject varchar, date timestamp, body text, model varchar, res_id integer, record_name varchar, message_type varchar NOT NULL, subtype_id integer, author_id integer REFERENCES res_partner(id), email_from varchar, message_id varchar, reply_to varchar, is_internal boolean, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE mail_tracking_value (id serial PRIMARY KEY, field_id integer, old_value_integer integer, new_value_integer integer, old_value_char varchar, new_value_char varchar, old_value_datetime timestamp, new_value_datetime timestamp, mail_message_id integer NOT NULL REFERENCES mail_message(id) ON DELETE CASCADE, create_date timestamp, write_date timestamp, create_uid integer, write_uid integer);
CREATE TABLE mail_followers (id serial PRIMARY KEY, res_model varchar NOT NULL, res_id integer, partner_id integer REFERENCES res_partner(id) ON DELETE CASCADE, UNIQUE (res_model, res_id, partner_id));
CREATE INDEX res_partner_display_name_index ON res_partner (display_name);
CREATE INDEX res_partner_email_index ON res_partner (email);
CREATE INDEX res_partner_company_id_index ON res_partner (company_id);
CREATE INDEX sale_order_partner_id_index ON sale_order (partner_id);
CREATE INDEX sale_order_date_order_index ON sale_order (date_order);
CREATE INDEX sale_order_name_index ON sale_order (name);
CREATE INDEX sale_order_state_index ON sale_order (state);
CREATE INDEX sale_order_line_order_id_index ON sale_order_line (order_id);
CREATE INDEX sale_order_line_product_id_index ON sale_order_line (product_id);
CREATE INDEX account_move_partner_id_index ON account_move (partner_id);
CREATE INDEX account_move_invoice_date_index ON account_move (invoice_date);
CREATE INDEX account_move_name_index ON account_move (name);
CREATE INDEX account_move_state_index ON account_move (state);
CREATE INDEX account_move_line_move_id_index ON account_move_line (move_id);
CREATE INDEX account_move_line_account_id_index ON account_move_line (account_id);
CREATE INDEX account_move_line_partner_id_index ON account_move_line (partner_id);
CREATE INDEX account_move_line_product_id_index ON account_move_line (product_id);
CREATE INDEX account_move_line_date_index ON account_move_line (date);
CREATE INDEX account_move_line_journal_id_index ON account_move_line (journal_id);
CREATE INDEX account_move_line_full_reconcile_id_index ON account_move_line (full_reconcile_id);
CREATE INDEX account_move_line_account_id_date_index ON account_move_line (account_id, date);
CREATE INDEX stock_move_product_id_index ON stock_move (product_id);
CREATE INDEX stock_move_location_id_index ON stock_move (location_id);
CREATE INDEX stock_move_location_dest_id_index ON stock_move (location_dest_id);
CREATE INDEX stock_move_state_index ON stock_move (state);
CREATE INDEX stock_move_date_index ON stock_move (date);
CREATE INDEX stock_move_reference_index ON stock_move (reference);
CREATE INDEX stock_move_sale_line_id_index ON stock_move (sale_line_id);
CREATE INDEX mail_message_model_res_id_idx ON mail_message (model, res_id);
CREATE INDEX mail_message_author_id_index ON mail_message (author_id);
CREATE INDEX mail_message_message_id_index ON mail_message (message_id);
CREATE INDEX mail_message_message_type_index ON mail_message (message_type);
CREATE INDEX mail_message_subtype_id_index ON mail_message (subtype_id);
CREATE INDEX mail_tracking_value_mail_message_id_index ON mail_tracking_value (mail_message_id);
CREATE INDEX mail_followers_res_id_res_model_idx ON mail_followers (res_model, res_id);
CREATE INDEX mail_followers_partner_id_index ON mail_followers (partner_id);
CREATE INDEX ir_attachment_res_idx ON ir_attachment (res_model, res_id);
CREATE INDEX ir_attachment_checksum_index ON ir_attachment (checksum);
CREATE INDEX ir_attachment_store_fname_index ON ir_attachment (store_fname);
INSERT INTO account_account (id, code, name, account_type, reconcile, company_id)
  SELECT g, (400000 + g)::text, jsonb_build_object('en_US', 'Account ' || g), (ARRAY['asset_receivable','income','liability_payable','expense','asset_current'])[1 + g % 5], g % 5 IN (0, 2), 1 FROM generate_series(1, 300) g;
INSERT INTO product_template (name, list_price, type, active, create_date, write_date, create_uid, write_uid)
  SELECT jsonb_build_object('en_US', 'Product ' || g, 'fr_BE', 'Produit ' || g), 5 + g % 500, (ARRAY['product','consu','service'])[1 + g % 3], true, now(), now(), 2, 2 FROM generate_series(1, 2000) g;
INSERT INTO product_product (product_tmpl_id, default_code, barcode, create_date, write_date, create_uid, write_uid)
  SELECT id, 'P' || lpad(id::text, 6, '0'), (5400000000000 + id)::text, now(), now(), 2, 2 FROM product_template;
";

/// One batch of orders `[lo, hi)` (multiples of 4). Ids start at 100000, past
/// the seed's, so rows refer to each other without lookups.
fn batch_sql(lo: i64, hi: i64) -> String {
    // Chatter bodies: HTML of distinct hex words, about as compressible as prose.
    let body = |g: &str| {
        format!(
            "'<p>' || md5({g}::text) || ' ' || md5(({g} * 3)::text) || ' ' || md5(({g} * 7)::text) || '</p><p>' || md5(({g} * 11)::text) || ' ' || md5(({g} * 13)::text) || ' ' || md5(({g} * 17)::text) || '</p>'"
        )
    };
    format!(
        "BEGIN;
INSERT INTO res_partner (id, name, display_name, email, phone, is_company, company_id, active, city, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + k, 'Customer ' || k, 'Customer ' || k, 'customer' || k || '@example.com', '+32 81 ' || lpad((k % 1000000)::text, 6, '0'), k % 5 = 0, 1, true, (ARRAY['Namur','Liège','Gent','Lyon','Porto'])[1 + k % 5], now() - (k % 1500) * interval '1 day', now(), 2, 2
  FROM generate_series({lo} / 4, {hi} / 4 - 1) k;
INSERT INTO sale_order (id, name, partner_id, state, date_order, amount_total, company_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + g, 'S' || lpad(g::text, 7, '0'), 100000 + g / 4, (ARRAY['sale','done','cancel','draft'])[1 + g % 4], now() - (g % 1500) * interval '1 day', (g % 9973) * 1.21, 1, now(), now(), 2, 2
  FROM generate_series({lo}, {hi} - 1) g;
INSERT INTO sale_order_line (id, order_id, sequence, name, product_id, product_uom_qty, price_unit, discount, price_subtotal, price_tax, price_total, qty_delivered, qty_invoiced, state, company_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + l, 100000 + l / 3, 10 + l % 3, '[P' || lpad((1 + l % 2000)::text, 6, '0') || '] Product ' || (1 + l % 2000) || E'\\n' || md5(l::text), 1 + l % 2000, 1 + l % 20, 5 + l % 500, 0, (1 + l % 20) * (5 + l % 500), 0.21 * (1 + l % 20) * (5 + l % 500), 1.21 * (1 + l % 20) * (5 + l % 500), 1 + l % 20, 1 + l % 20, 'sale', 1, now(), now(), 2, 2
  FROM generate_series({lo} * 3, {hi} * 3 - 1) l;
INSERT INTO account_move (id, name, move_type, state, partner_id, invoice_date, amount_total, to_check, company_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + g, 'INV/' || (2020 + g % 6) || '/' || lpad(g::text, 7, '0'), 'out_invoice', 'posted', 100000 + g / 4, (now() - (g % 1500) * interval '1 day')::date, (g % 9973) * 1.21, false, 1, now(), now(), 2, 2
  FROM generate_series({lo}, {hi} - 1) g;
INSERT INTO account_move_line (id, move_id, move_name, date, ref, parent_state, journal_id, company_id, account_id, partner_id, product_id, name, display_type, quantity, price_unit, discount, debit, credit, balance, amount_currency, price_subtotal, price_total, amount_residual, reconciled, full_reconcile_id, currency_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + j, 100000 + j / 4, 'INV/' || (2020 + (j / 4) % 6) || '/' || lpad((j / 4)::text, 7, '0'), (now() - ((j / 4) % 1500) * interval '1 day')::date, 'S' || lpad((j / 4)::text, 7, '0'), 'posted', 1 + j % 3, 1, 1 + j % 300, 100000 + j / 16, CASE WHEN j % 4 < 3 THEN 1 + j % 2000 END, 'Product ' || (1 + j % 2000), CASE WHEN j % 4 = 3 THEN 'payment_term' ELSE 'product' END, 1 + j % 20, 5 + j % 500, 0, CASE WHEN j % 4 = 3 THEN (j % 9973) * 1.21 ELSE 0 END, CASE WHEN j % 4 < 3 THEN (j % 997) * 1.0 ELSE 0 END, (j % 997) * 1.0, (j % 997) * 1.0, (j % 997) * 1.0, (j % 997) * 1.21, CASE WHEN j % 8 = 3 THEN (j % 997) * 1.0 ELSE 0 END, j % 8 <> 3, CASE WHEN j % 8 = 7 THEN j / 8 END, 1, now(), now(), 2, 2
  FROM generate_series({lo} * 4, {hi} * 4 - 1) j;
INSERT INTO stock_move (id, name, sequence, priority, date, company_id, product_id, product_uom_qty, quantity, location_id, location_dest_id, partner_id, picking_id, state, origin, reference, sale_line_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + l, 'Product ' || (1 + l % 2000), 10, '0', now() - ((l / 3) % 1500) * interval '1 day', 1, 1 + l % 2000, 1 + l % 20, 1 + l % 20, 8, 5, 100000 + l / 12, l / 3, 'done', 'S' || lpad((l / 3)::text, 7, '0'), 'WH/OUT/' || lpad((l / 3)::text, 7, '0'), 100000 + l, now(), now(), 2, 2
  FROM generate_series({lo} * 3, {hi} * 3 - 1) l;
INSERT INTO mail_message (id, subject, date, body, model, res_id, record_name, message_type, subtype_id, author_id, email_from, message_id, reply_to, is_internal, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + m, CASE WHEN m % 5 = 0 THEN 'Quotation S' || lpad((m / 5)::text, 7, '0') END, now() - ((m / 5) % 1500) * interval '1 day', {body_m}, 'sale.order', 100000 + m / 5, 'S' || lpad((m / 5)::text, 7, '0'), (ARRAY['notification','comment','email','notification','notification'])[1 + m % 5], 1 + m % 8, 100000 + m / 20, '\"Customer ' || (m / 20) || '\" <customer' || (m / 20) || '@example.com>', '<' || md5(m::text) || '@odoo.example>', NULL, m % 5 <> 1, now(), now(), 2, 2
  FROM generate_series({lo} * 5, {hi} * 5 - 1) m;
INSERT INTO mail_tracking_value (id, field_id, old_value_char, new_value_char, old_value_integer, new_value_integer, mail_message_id, create_date, write_date, create_uid, write_uid)
  SELECT 100000 + t, 100 + t % 40, (ARRAY['Quotation','Quotation Sent','Sales Order','Locked'])[1 + t % 4], (ARRAY['Quotation Sent','Sales Order','Locked','Cancelled'])[1 + t % 4], t % 100, t % 100 + 1, 100000 + t * 5 / 4, now(), now(), 2, 2
  FROM generate_series({lo} * 4, {hi} * 4 - 1) t;
INSERT INTO mail_followers (res_model, res_id, partner_id)
  SELECT 'sale.order', 100000 + f / 2, CASE WHEN f % 2 = 0 THEN 100000 + f / 8 ELSE 3 END
  FROM generate_series({lo} * 2, {hi} * 2 - 1) f;
COMMIT;",
        body_m = body("m"),
    )
}

pub struct Shape {
    pub orders: i64,
    pub bytes: i64,
}

/// Builds `db` up to about `size_mb` (at least one batch).
pub fn build(conn: &ConnInfo, db: &str, size_mb: u64, rt: &tokio::runtime::Runtime) -> Shape {
    rt.block_on(demo::load_seed(conn, db)).expect("demo seed");
    psql(conn, db, SCHEMA);
    let client = rt.block_on(conn.connect(db)).expect("connect");
    let size = || -> i64 {
        rt.block_on(client.query_one("SELECT pg_database_size(current_database())", &[]))
            .expect("size")
            .get(0)
    };
    let target = size_mb as i64 * 1024 * 1024;
    let mut orders = 0;
    while orders == 0 || size() < target {
        psql(conn, db, &batch_sql(orders, orders + BATCH));
        orders += BATCH;
    }
    psql(
        conn,
        db,
        "SELECT setval('res_partner_id_seq', (SELECT max(id) FROM res_partner));
         SELECT setval('sale_order_id_seq', (SELECT max(id) FROM sale_order));
         SELECT setval('sale_order_line_id_seq', (SELECT max(id) FROM sale_order_line));
         SELECT setval('account_move_id_seq', (SELECT max(id) FROM account_move));
         SELECT setval('account_move_line_id_seq', (SELECT max(id) FROM account_move_line));
         SELECT setval('stock_move_id_seq', (SELECT max(id) FROM stock_move));
         SELECT setval('mail_message_id_seq', (SELECT max(id) FROM mail_message));
         SELECT setval('mail_tracking_value_id_seq', (SELECT max(id) FROM mail_tracking_value));",
    );
    psql(conn, db, "VACUUM ANALYZE");
    psql(conn, "postgres", "CHECKPOINT");
    Shape {
        orders,
        bytes: size(),
    }
}

pub struct BigTable {
    pub bytes: i64,
    /// mail_message with its indexes and TOAST.
    pub big_table_bytes: i64,
}

/// The other shape of a real Odoo database: one table holds most of the data
/// (years of chatter, a log table). One batch of the Odoo shape, then
/// mail_message grows in batches of 200 000 messages until `pg_database_size`
/// reaches `size_mb`.
pub fn build_big_table(
    conn: &ConnInfo,
    db: &str,
    size_mb: u64,
    rt: &tokio::runtime::Runtime,
) -> BigTable {
    build(conn, db, 1, rt);
    let client = rt.block_on(conn.connect(db)).expect("connect");
    let one = |q: &str| -> i64 { rt.block_on(client.query_one(q, &[])).expect(q).get(0) };
    let size = || one("SELECT pg_database_size(current_database())");
    let target = size_mb as i64 * 1024 * 1024;
    // Past the shape's ids, on the same orders, as a long chatter history has.
    let mut lo: i64 = 100_000_000;
    while size() < target {
        let hi = lo + 200_000;
        psql(
            conn,
            db,
            &format!(
                "INSERT INTO mail_message (id, subject, date, body, model, res_id, record_name, message_type, subtype_id, author_id, email_from, message_id, is_internal, create_date, write_date, create_uid, write_uid)
  SELECT m, NULL, now() - (m % 3000) * interval '1 day', {body}, 'sale.order', 100000 + m % 20000, 'S' || lpad((m % 20000)::text, 7, '0'), (ARRAY['notification','comment','email'])[1 + m % 3], 1 + m % 8, 100000 + m % 5000, 'customer' || (m % 5000) || '@example.com', '<' || md5(m::text) || '@odoo.example>', m % 3 <> 1, now(), now(), 2, 2
  FROM generate_series({lo}, {hi} - 1) m",
                body = "'<p>' || md5(m::text) || ' ' || md5((m * 3)::text) || ' ' || md5((m * 7)::text) || '</p><p>' || md5((m * 11)::text) || ' ' || md5((m * 13)::text) || ' ' || md5((m * 17)::text) || ' ' || md5((m * 19)::text) || '</p>'"
            ),
        );
        lo = hi;
    }
    psql(
        conn,
        db,
        "SELECT setval('mail_message_id_seq', (SELECT max(id) FROM mail_message)); VACUUM ANALYZE mail_message",
    );
    psql(conn, "postgres", "CHECKPOINT");
    BigTable {
        bytes: size(),
        big_table_bytes: one("SELECT pg_total_relation_size('mail_message')"),
    }
}

/// `files` attachments of 2–30 kB in the filestore under `data_dir`, each with
/// its `ir_attachment` row on a sale order; returns the bytes written.
pub fn filestore(conn: &ConnInfo, db: &str, data_dir: &Path, files: usize) -> std::io::Result<u64> {
    let root = upgrade_pilot::odoo::filestore::path(data_dir, db);
    const INSERT: &str = "INSERT INTO ir_attachment (name, res_model, res_id, store_fname, checksum, file_size, mimetype, type, create_date, write_date, create_uid, write_uid) VALUES ";
    let mut rows: Vec<String> = Vec::new();
    let mut bytes = 0u64;
    for i in 0..files {
        let len = 2048 + (i * 7919) % 28_000;
        let mut body = format!("%PDF-1.4\n% invoice {i}\n").into_bytes();
        let mut h = Sha256::digest(i.to_le_bytes());
        while body.len() < len {
            body.extend_from_slice(hex::encode(h).as_bytes());
            h = Sha256::digest(h);
        }
        let sha = hex::encode(Sha256::digest(&body));
        let (dir, name) = (&sha[..2], &sha[..40]);
        std::fs::create_dir_all(root.join(dir))?;
        std::fs::write(root.join(dir).join(name), &body)?;
        bytes += body.len() as u64;
        rows.push(format!(
            "('INV_{i:07}.pdf', 'account.move', {}, '{dir}/{name}', '{name}', {}, 'application/pdf', 'binary', now(), now(), 2, 2)",
            100000 + i,
            body.len()
        ));
    }
    // In chunks: one psql argument may not exceed the kernel's 128 kB.
    for chunk in rows.chunks(500) {
        psql(conn, db, &format!("{INSERT}{}", chunk.join(",")));
    }
    Ok(bytes)
}

//! Custom fields (`x_…`, Studio's `x_studio_…`): which exist and how many
//! records hold a value in each, counted in the server in one query.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::odoo::schema::Schema;
use crate::pg::ident::{quote_ident, quote_literal};

pub const NAME: &str = "custom fields";

pub async fn custom_fields(
    client: &Client,
    schema: &Schema,
) -> Result<BTreeMap<String, i64>, tokio_postgres::Error> {
    let mut out = BTreeMap::new();
    if !schema.has_column("ir_model_fields", "name")
        || !schema.has_column("ir_model_fields", "model")
    {
        return Ok(out);
    }
    let rel = if schema.has_column("ir_model_fields", "relation_table") {
        "relation_table"
    } else {
        "NULL::text"
    };
    let rows = client
        .query(
            format!(
                "SELECT model::text, name::text, ttype::text, {rel}::text FROM ir_model_fields \
                 WHERE name LIKE 'x\\_%' ORDER BY model, name"
            )
            .as_str(),
            &[],
        )
        .await?;
    let mut parts = Vec::new();
    for r in rows {
        let (model, name, ttype, relation): (String, String, String, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let key = format!("{model}.{name}");
        // Odoo's table for a model is its name with dots as underscores.
        let table = model.replace('.', "_");
        let count = if ttype == "many2many" {
            match relation.filter(|t| schema.has_table(t)) {
                Some(t) => format!("(SELECT count(*) FROM {})", quote_ident(&t)),
                None => "0::bigint".to_string(),
            }
        } else if schema.has_column(&table, &name) {
            let c = quote_ident(&name);
            format!(
                "(SELECT count(*) FROM {} WHERE {c} IS NOT NULL AND {c}::text NOT IN ('', 'false', '{{}}'))",
                quote_ident(&table)
            )
        } else {
            // Not stored (computed) or one2many: it exists, with no column to count.
            "0::bigint".to_string()
        };
        parts.push(format!("SELECT {}, {count}", quote_literal(&key)));
    }
    // Bounded statements: a database with thousands of custom fields stays within limits.
    for chunk in parts.chunks(200) {
        for r in client
            .query(chunk.join(" UNION ALL ").as_str(), &[])
            .await?
        {
            out.insert(r.get(0), r.get(1));
        }
    }
    Ok(out)
}

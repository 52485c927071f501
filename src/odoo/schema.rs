//! Which tables and columns a database has, loaded in one query, so that every
//! Odoo action can be guarded by the existence of what it touches.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

#[derive(Debug, Default, Clone)]
pub struct Schema {
    tables: HashMap<String, HashMap<String, String>>,
}

impl Schema {
    pub async fn load<C: GenericClient>(client: &C) -> Result<Schema, tokio_postgres::Error> {
        let rows = client
            .query(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
                &[],
            )
            .await?;
        let mut tables: HashMap<String, HashMap<String, String>> = HashMap::new();
        for r in rows {
            tables
                .entry(r.get(0))
                .or_default()
                .insert(r.get(1), r.get(2));
        }
        Ok(Schema { tables })
    }

    pub fn has_table(&self, t: &str) -> bool {
        self.tables.contains_key(t)
    }

    pub fn has_column(&self, t: &str, c: &str) -> bool {
        self.tables.get(t).is_some_and(|cols| cols.contains_key(c))
    }

    pub fn column_type(&self, t: &str, c: &str) -> Option<&str> {
        self.tables.get(t)?.get(c).map(String::as_str)
    }

    pub fn columns(&self, t: &str) -> impl Iterator<Item = (&str, &str)> {
        self.tables
            .get(t)
            .into_iter()
            .flatten()
            .map(|(c, ty)| (c.as_str(), ty.as_str()))
    }

    /// SQL expression giving a readable name from a column that is plain text in
    /// some series and translated JSON (`{"en_US": …}`) in others.
    pub fn text_expr(&self, t: &str, c: &str, alias: &str) -> String {
        match self.column_type(t, c) {
            Some("jsonb") => format!("coalesce({alias}.{c}->>'en_US', {alias}.{c}::text)"),
            Some(_) => format!("{alias}.{c}::text"),
            None => "''".to_string(),
        }
    }

    pub fn table_count(&self) -> usize {
        self.tables.len()
    }
}

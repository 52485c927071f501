//! The checks as data (`assets/compare/checks.toml`): which queries run where,
//! and how their rows are compared.

use serde::Deserialize;

use crate::odoo::schema::Schema;

const CHECKS: &str = include_str!("../../../assets/compare/checks.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Equal,
    Kept,
    NotLess,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCheck {
    pub name: String,
    pub area: String,
    pub compare: Mode,
    pub values: Vec<String>,
    /// What the differing rows are, for the summary ("account(s)").
    pub what: String,
    #[serde(default)]
    pub only_before: Option<String>,
    #[serde(default)]
    pub note_added: bool,
    /// Production rows whose label starts with this and that the copy no longer
    /// has are the upgrade's own doing (a module's record its new version does
    /// not ship): counted in one note, not a difference.
    #[serde(default)]
    pub missing_is_note: Option<MissingNote>,
    #[serde(default)]
    pub query: Vec<Query>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingNote {
    /// The start of the labels it applies to.
    pub prefix: String,
    /// What the note says after the count.
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub unless: Vec<String>,
    /// What the values are read from, where series keep them differently
    /// ("valuation layers", "stock moves"): sides on other bases are not compared.
    #[serde(default)]
    pub basis: Option<String>,
    pub sql: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    pub model: String,
    pub table: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub requires: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub check: Vec<RowCheck>,
    pub records: Vec<Records>,
}

pub fn rules() -> Rules {
    // The file is part of the binary and checked by a unit test: it cannot be malformed here.
    toml::from_str(CHECKS).expect("assets/compare/checks.toml is valid (see the unit test)")
}

/// `table`, `table.column` or `table.column:type` holds in this database.
pub fn holds(schema: &Schema, req: &str) -> bool {
    let (path, ty) = match req.split_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (req, None),
    };
    match path.split_once('.') {
        None => schema.has_table(path),
        Some((t, c)) => match ty {
            None => schema.has_column(t, c),
            Some(ty) => schema.column_type(t, c) == Some(ty),
        },
    }
}

impl Query {
    pub fn applies(&self, schema: &Schema) -> bool {
        self.requires.iter().all(|r| holds(schema, r))
            && !self.unless.iter().any(|r| holds(schema, r))
    }

    /// The SQL with its `{text:table.column:alias}` placeholders expanded for this database.
    pub fn sql_for(&self, schema: &Schema) -> String {
        expand(&self.sql, schema)
    }
}

fn expand(sql: &str, schema: &Schema) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("{text:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let mut parts = after[..end].split(':');
        let (tc, alias) = (parts.next().unwrap_or(""), parts.next().unwrap_or("t"));
        let (t, c) = tc.split_once('.').unwrap_or((tc, "name"));
        out.push_str(&schema.text_expr(t, c, alias));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

impl Records {
    pub fn applies(&self, schema: &Schema) -> bool {
        schema.has_table(&self.table) && self.requires.iter().all(|r| holds(schema, r))
    }

    /// Per group: the islands of consecutive ids (min, max, count), at most `cap` + 1 rows.
    pub fn islands_sql(&self, cap: usize) -> String {
        let table = crate::pg::ident::quote_ident(&self.table);
        let group = self.group.as_deref().unwrap_or("''");
        format!(
            "SELECT grp, min(id)::bigint, max(id)::bigint, count(*)::bigint FROM \
             (SELECT t.id, coalesce(({group})::text, '') AS grp, \
              t.id - row_number() OVER (PARTITION BY coalesce(({group})::text, '') ORDER BY t.id) AS island \
              FROM {table} t) x GROUP BY grp, island LIMIT {}",
            cap + 1
        )
    }

    /// Per group: count and sum of ids (used when the ids are too scattered to list).
    pub fn counts_sql(&self) -> String {
        let table = crate::pg::ident::quote_ident(&self.table);
        let group = self.group.as_deref().unwrap_or("''");
        format!(
            "SELECT coalesce(({group})::text, ''), count(*)::bigint, coalesce(sum(t.id), 0)::text FROM {table} t GROUP BY 1"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_file_is_valid() {
        let r = rules();
        assert!(r.check.len() >= 10);
        assert!(r.records.len() >= 15);
        for c in &r.check {
            assert!(!c.query.is_empty(), "{} has no query", c.name);
            assert!(!c.values.is_empty(), "{} names no value", c.name);
        }
    }

    #[test]
    fn placeholders_expand_to_plain_text_when_the_schema_lacks_the_column() {
        let s = Schema::default();
        assert_eq!(expand("max({text:account_tax.name:t}) x", &s), "max('') x");
    }
}

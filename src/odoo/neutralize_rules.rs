//! Neutralization rules as data: one TOML file per Odoo module
//! (`assets/neutralize/<module>.toml`, embedded at build time; users add their own
//! through `[neutralize] extra_rules`). A rule names a table and the columns it
//! sets, the rows it deletes or inserts, or the `ir_config_parameter` keys it sets
//! or removes; it runs only when its module is installed, its series range holds
//! the database's series, and its table and columns exist. Each rule also gives
//! its post-condition, checked by verify.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::schema::Schema;
use super::version::Series;
use crate::pg::ident::quote_literal;

include!(concat!(env!("OUT_DIR"), "/neutralize_rules.rs"));

/// One module's rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// The Odoo module whose installation makes these rules run (default: the file name).
    pub module: Option<String>,
    /// The newest series these rules were checked against; a newer database gets
    /// them where its schema matches, and a note saying so.
    pub checked: Option<String>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `UPDATE table SET … WHERE …` (only rows that differ, so counts are honest).
    #[default]
    Update,
    /// `DELETE FROM table [WHERE …]`.
    Delete,
    /// One row, unless a row with the same literal values exists.
    Insert,
    /// Upsert `ir_config_parameter` key = value.
    SetParam,
    /// Update `ir_config_parameter` key = value only where the key exists.
    UpdateParam,
    /// Remove `ir_config_parameter` keys.
    DeleteParams,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The name `[neutralize] skip` takes; several modules may share one (all
    /// payment providers' key wipes are `payment`).
    pub name: String,
    /// One line a user reads in the report.
    pub reason: String,
    #[serde(default)]
    pub action: Action,
    /// `16.0..` (from), `..17.0` (up to), `18.0..19.0`, or one series `17.0`.
    pub series: Option<String>,
    pub table: Option<String>,
    /// Literal values: strings, booleans, numbers (a translated JSON column gets `{"en_US": …}`).
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// Columns set to NULL.
    #[serde(default)]
    pub null: Vec<String>,
    /// Columns set to an SQL expression.
    #[serde(default)]
    pub sql: BTreeMap<String, String>,
    /// Which rows (SQL condition); `{text:col}` reads a plain or translated column as text.
    #[serde(rename = "where")]
    pub where_: Option<String>,
    /// Further columns the condition or expressions use: `col` or `table.col`.
    #[serde(default)]
    pub requires: Vec<String>,
    /// set_param / update_param: the key and its value (literal or SQL).
    pub key: Option<String>,
    pub value: Option<String>,
    pub value_sql: Option<String>,
    /// delete_params: the keys.
    #[serde(default)]
    pub keys: Vec<String>,
    /// insert: skip when a row matching this condition exists (default: same literal values).
    pub unless: Option<String>,
    /// Post-condition: SQL counting offending rows (default: derived from the rule).
    pub check: Option<String>,
}

/// A rule with its module, ready to be matched against a database.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    pub module: String,
    pub checked: Option<Series>,
    pub rule: Rule,
    range: (Option<Series>, Option<Series>),
}

#[derive(Debug, Clone)]
pub struct Postcondition {
    pub module: String,
    pub rule: String,
    /// `SELECT count(*) …`: offending rows, zero when the rule holds.
    pub sql: String,
    pub what: String,
}

fn parse_range(s: &str) -> Result<(Option<Series>, Option<Series>), String> {
    let one = |p: &str| -> Result<Option<Series>, String> {
        let p = p.trim();
        if p.is_empty() {
            Ok(None)
        } else {
            p.parse::<Series>().map(Some).map_err(|e| e.to_string())
        }
    };
    match s.split_once("..") {
        Some((a, b)) => Ok((one(a)?, one(b)?)),
        None => {
            let x = one(s)?;
            Ok((x, x))
        }
    }
}

/// Parses one rules file; `origin` names it in errors.
pub fn parse_file(origin: &str, stem: &str, text: &str) -> Result<Vec<LoadedRule>, String> {
    let f: RulesFile = toml::from_str(text)
        .map_err(|e| format!("{origin}: {}", crate::text::one_line(&e.to_string())))?;
    let module = f.module.clone().unwrap_or_else(|| stem.to_string());
    let checked = match &f.checked {
        Some(c) => Some(
            c.parse::<Series>()
                .map_err(|e| format!("{origin}: checked: {e}"))?,
        ),
        None => None,
    };
    let mut out = Vec::new();
    for r in f.rules {
        let range = match &r.series {
            Some(s) => parse_range(s).map_err(|e| format!("{origin}: rule {}: {e}", r.name))?,
            None => (None, None),
        };
        validate(&r).map_err(|e| format!("{origin}: rule {}: {e}", r.name))?;
        out.push(LoadedRule {
            module: module.clone(),
            checked,
            rule: r,
            range,
        });
    }
    Ok(out)
}

fn validate(r: &Rule) -> Result<(), String> {
    let needs_table = matches!(r.action, Action::Update | Action::Delete | Action::Insert);
    if needs_table && r.table.is_none() {
        return Err("needs a table".into());
    }
    match r.action {
        Action::Update if r.set.is_empty() && r.null.is_empty() && r.sql.is_empty() => {
            Err("an update needs set, null or sql".into())
        }
        Action::Insert if r.set.is_empty() => Err("an insert needs set".into()),
        Action::SetParam | Action::UpdateParam
            if r.key.is_none() || (r.value.is_none() == r.value_sql.is_none()) =>
        {
            Err("needs key and one of value, value_sql".into())
        }
        Action::DeleteParams if r.keys.is_empty() => Err("needs keys".into()),
        _ => Ok(()),
    }
    .and_then(|_| {
        for v in r.set.values() {
            if !matches!(
                v,
                toml::Value::String(_)
                    | toml::Value::Boolean(_)
                    | toml::Value::Integer(_)
                    | toml::Value::Float(_)
            ) {
                return Err(format!("set value {v} is not a string, boolean or number"));
            }
        }
        Ok(())
    })
}

/// The built-in rules, in file order (base first: its mail server and crons
/// come before the modules').
pub fn builtin() -> Vec<LoadedRule> {
    let mut files: Vec<&(&str, &str)> = RULE_FILES.iter().collect();
    files.sort_by_key(|(name, _)| (*name != "base.toml", *name));
    files
        .into_iter()
        .flat_map(|(name, text)| {
            let stem = name.trim_end_matches(".toml");
            // Checked by the unit test below: a bad built-in file cannot ship.
            parse_file(name, stem, text).unwrap_or_default()
        })
        .collect()
}

impl LoadedRule {
    /// Whether the rule applies to `series`: past the series its file was checked
    /// against, the newest rules apply (the "where the schema matches" part is the guard).
    pub fn applies_to(&self, series: Series) -> bool {
        let s = match self.checked {
            Some(c) if series > c => c,
            _ => series,
        };
        self.range.0.is_none_or(|a| s >= a) && self.range.1.is_none_or(|b| s <= b)
    }

    /// Whether every table and column the rule names exists.
    pub fn guard(&self, s: &Schema) -> bool {
        let r = &self.rule;
        let table = match (&r.table, r.action) {
            (Some(t), _) => t.as_str(),
            (None, _) => "ir_config_parameter",
        };
        if !s.has_table(table) {
            return false;
        }
        let own = r
            .set
            .keys()
            .chain(r.null.iter())
            .chain(r.sql.keys())
            .all(|c| s.has_column(table, c));
        own && r.requires.iter().all(|req| match req.split_once('.') {
            Some((t, c)) => s.has_column(t, c),
            None => s.has_column(table, req),
        })
    }

    fn table(&self) -> &str {
        self.rule.table.as_deref().unwrap_or("ir_config_parameter")
    }

    /// The statements that apply the rule on this schema.
    pub fn statements(&self, s: &Schema) -> Vec<String> {
        let r = &self.rule;
        let t = self.table();
        let cond = r.where_.as_deref().map(|w| expand(s, t, w));
        match r.action {
            Action::Update => {
                let assigns = self.assignments(s);
                let set = assigns
                    .iter()
                    .map(|(c, v)| format!("{} = {v}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let differs = assigns
                    .iter()
                    .map(|(c, v)| format!("{} IS DISTINCT FROM {v}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let w = match &cond {
                    Some(c) => format!("({c}) AND ({differs})"),
                    None => differs,
                };
                vec![format!("UPDATE {} SET {set} WHERE {w}", ident(t))]
            }
            Action::Delete => vec![match &cond {
                Some(c) => format!("DELETE FROM {} WHERE {c}", ident(t)),
                None => format!("DELETE FROM {}", ident(t)),
            }],
            Action::Insert => {
                let cols = self.literals(s);
                let unless = match r.unless.as_deref().map(|u| expand(s, t, u)) {
                    Some(u) => u,
                    None => cols
                        .iter()
                        .map(|(c, v)| format!("{} = {v}", ident(c)))
                        .collect::<Vec<_>>()
                        .join(" AND "),
                };
                vec![insert_row(s, t, &cols, &unless)]
            }
            Action::SetParam | Action::UpdateParam => {
                let v = self.param_value();
                let k = quote_literal(r.key.as_deref().unwrap_or_default());
                let mut out = vec![format!(
                    "UPDATE ir_config_parameter SET value = {v} WHERE key = {k} AND value IS DISTINCT FROM {v}"
                )];
                if r.action == Action::SetParam {
                    out.push(insert_row(
                        s,
                        "ir_config_parameter",
                        &[("key".into(), k.clone()), ("value".into(), v)],
                        &format!("key = {k}"),
                    ));
                }
                out
            }
            Action::DeleteParams => vec![format!(
                "DELETE FROM ir_config_parameter WHERE key IN ({})",
                r.keys
                    .iter()
                    .map(|k| quote_literal(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        }
    }

    fn param_value(&self) -> String {
        match (&self.rule.value, &self.rule.value_sql) {
            (Some(v), _) => quote_literal(v),
            (None, Some(sql)) => format!("({sql})"),
            (None, None) => "NULL".into(),
        }
    }

    /// Literal assignments (set + null), as SQL.
    fn literals(&self, s: &Schema) -> Vec<(String, String)> {
        let t = self.table();
        let mut out: Vec<(String, String)> = self
            .rule
            .set
            .iter()
            .map(|(c, v)| (c.clone(), literal(s, t, c, v)))
            .collect();
        out.extend(self.rule.null.iter().map(|c| (c.clone(), "NULL".into())));
        out
    }

    fn assignments(&self, s: &Schema) -> Vec<(String, String)> {
        let t = self.table();
        let mut out = self.literals(s);
        out.extend(
            self.rule
                .sql
                .iter()
                .map(|(c, e)| (c.clone(), format!("({})", expand(s, t, e)))),
        );
        out
    }

    /// What must hold after the rule ran, as a count of offending rows; `None`
    /// when the rule's effect cannot be read back (a fresh random value).
    pub fn postcondition(&self, s: &Schema) -> Option<Postcondition> {
        let r = &self.rule;
        let t = self.table();
        let cond = r.where_.as_deref().map(|w| expand(s, t, w));
        let (sql, what) = if let Some(c) = &r.check {
            (
                expand(s, t, c),
                "row(s) failing the rule's check".to_string(),
            )
        } else {
            match r.action {
                Action::Update => {
                    let lits = self.literals(s);
                    if lits.is_empty() {
                        return None;
                    }
                    let differs = lits
                        .iter()
                        .map(|(c, v)| format!("{} IS DISTINCT FROM {v}", ident(c)))
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let w = match &cond {
                        Some(c) => format!("({c}) AND ({differs})"),
                        None => differs,
                    };
                    let cols = lits
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    (
                        format!("SELECT count(*) FROM {} WHERE {w}", ident(t)),
                        format!("{t} row(s) not neutralized ({cols})"),
                    )
                }
                Action::Delete => (
                    match &cond {
                        Some(c) => format!("SELECT count(*) FROM {} WHERE {c}", ident(t)),
                        None => format!("SELECT count(*) FROM {}", ident(t)),
                    },
                    format!("{t} row(s) left"),
                ),
                Action::Insert => return None,
                Action::SetParam | Action::UpdateParam => {
                    r.value.as_ref()?;
                    let v = self.param_value();
                    let k = quote_literal(r.key.as_deref().unwrap_or_default());
                    let missing = if r.action == Action::SetParam {
                        format!(
                            " + (SELECT count(*) FROM (SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM ir_config_parameter WHERE key = {k})) x)"
                        )
                    } else {
                        String::new()
                    };
                    (
                        format!(
                            "SELECT (SELECT count(*) FROM ir_config_parameter WHERE key = {k} AND value IS DISTINCT FROM {v}){missing}"
                        ),
                        format!(
                            "parameter {} not {}",
                            r.key.as_deref().unwrap_or_default(),
                            r.value.as_deref().unwrap_or_default()
                        ),
                    )
                }
                Action::DeleteParams => (
                    format!(
                        "SELECT count(*) FROM ir_config_parameter WHERE key IN ({})",
                        r.keys
                            .iter()
                            .map(|k| quote_literal(k))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "parameter(s) left".to_string(),
                ),
            }
        };
        Some(Postcondition {
            module: self.module.clone(),
            rule: r.name.clone(),
            sql,
            what,
        })
    }
}

/// A column or table name as SQL (Odoo has mixed-case ones such as `dhl_SiteID`).
fn ident(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn literal(s: &Schema, table: &str, col: &str, v: &toml::Value) -> String {
    match v {
        toml::Value::String(text) => {
            if s.column_type(table, col) == Some("jsonb") {
                format!("jsonb_build_object('en_US', {})", quote_literal(text))
            } else {
                quote_literal(text)
            }
        }
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        _ => "NULL".into(),
    }
}

/// Expands `{text:col}` into the column read as text (plain, or translated JSON).
pub fn expand(s: &Schema, table: &str, sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find("{text:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        match after.find('}') {
            Some(j) => {
                let col = &after[..j];
                if s.column_type(table, col) == Some("jsonb") {
                    out.push_str(&format!("({col}->>'en_US')"));
                } else {
                    out.push_str(col);
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// INSERT with Odoo's audit columns filled when the table has them.
fn insert_row(s: &Schema, table: &str, cols: &[(String, String)], unless: &str) -> String {
    let mut names: Vec<String> = cols.iter().map(|(c, _)| ident(c)).collect();
    let mut values: Vec<String> = cols.iter().map(|(_, v)| v.clone()).collect();
    for (c, v) in [
        ("create_date", "now() at time zone 'UTC'"),
        ("write_date", "now() at time zone 'UTC'"),
        ("create_uid", "1"),
        ("write_uid", "1"),
    ] {
        if s.has_column(table, c) && !cols.iter().any(|(n, _)| n == c) {
            names.push(c.into());
            values.push(v.into());
        }
    }
    format!(
        "INSERT INTO {t} ({}) SELECT {} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {unless})",
        names.join(", "),
        values.join(", "),
        t = ident(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_file_parses() {
        let mut n = 0;
        for (name, text) in RULE_FILES {
            let rules = parse_file(name, name.trim_end_matches(".toml"), text)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!rules.is_empty(), "{name} has no rule");
            n += rules.len();
        }
        assert_eq!(builtin().len(), n);
    }

    #[test]
    fn ranges_and_newer_series() {
        let rules = parse_file(
            "t",
            "m",
            "checked = \"19.0\"\n[[rule]]\nname = \"a\"\nreason = \"r\"\nseries = \"..17.0\"\ntable = \"t\"\nnull = [\"c\"]\n\
             [[rule]]\nname = \"b\"\nreason = \"r\"\nseries = \"18.0..\"\ntable = \"t\"\nnull = [\"c\"]\n",
        )
        .unwrap();
        let [old, new] = &rules[..] else { panic!() };
        assert!(old.applies_to(Series::new(16, 0)) && old.applies_to(Series::new(17, 0)));
        assert!(!old.applies_to(Series::new(17, 2)) && !old.applies_to(Series::new(18, 0)));
        assert!(new.applies_to(Series::new(19, 0)) && new.applies_to(Series::new(20, 0)));
        assert!(!new.applies_to(Series::new(17, 0)));
    }

    #[test]
    fn bad_rules_say_which() {
        let e = parse_file("x.toml", "x", "[[rule]]\nname = \"a\"\nreason = \"r\"\n").unwrap_err();
        assert!(e.contains("x.toml: rule a: needs a table"), "{e}");
        let e = parse_file(
            "x.toml",
            "x",
            "[[rule]]\nname = \"a\"\nreason = \"r\"\ntable = \"t\"\nset = { c = [1] }\n",
        )
        .unwrap_err();
        assert!(e.contains("not a string"), "{e}");
        let e = parse_file("x.toml", "x", "[[rule]]\nnam = \"a\"\n").unwrap_err();
        assert!(e.starts_with("x.toml: "), "{e}");
    }
}

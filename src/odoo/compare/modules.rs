//! Modules: every module installed in production is installed in the copy;
//! one that is not says why where it can be known — the series that renamed
//! or merged it (`assets/compare/modules.toml`), or the upgrade's own log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::{CheckResult, Snapshot, result};
use crate::odoo::schema::Schema;

pub const NAME: &str = "modules installed";
pub const AREA: &str = "modules";

const MOVES: &str = include_str!("../../../assets/compare/modules.toml");

/// The states in which a module's code is loaded.
const INSTALLED: [&str; 3] = ["installed", "to upgrade", "to remove"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Renamed,
    Merged,
}

/// Who says where a module went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The list of this series ("17.0") in `assets/compare/modules.toml`.
    Series(String),
    /// The upgrade's own log.
    Log,
}

/// Where a module went, and who says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub how: How,
    pub into: String,
    pub by: Source,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    series: BTreeMap<String, Series>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Series {
    #[serde(default)]
    renamed: BTreeMap<String, String>,
    #[serde(default)]
    merged: BTreeMap<String, String>,
}

fn table() -> Table {
    // Part of the binary, checked by a unit test: it cannot be malformed here.
    toml::from_str(MOVES).expect("assets/compare/modules.toml is valid (see the unit test)")
}

/// Every module and its state.
pub async fn read(
    client: &Client,
    schema: &Schema,
) -> Result<BTreeMap<String, String>, tokio_postgres::Error> {
    let mut out = BTreeMap::new();
    if !schema.has_column("ir_module_module", "state") {
        return Ok(out);
    }
    for r in client
        .query(
            "SELECT name::text, coalesce(state::text, '') FROM ir_module_module",
            &[],
        )
        .await?
    {
        out.insert(r.get(0), r.get(1));
    }
    Ok(out)
}

/// The major of a base version: "16.0.1.3" → 16.
fn major(version: Option<&str>) -> Option<u32> {
    version?.split('.').next()?.parse().ok()
}

/// Where `module` went between the two series, by the lists of each series
/// after `from` up to `to`, followed hop by hop (renamed in one, merged in a later one).
fn moved_by_series(module: &str, from: u32, to: u32) -> Option<Moved> {
    let t = table();
    let mut name = module.to_string();
    let mut found: Option<Moved> = None;
    for v in from + 1..=to {
        let Some(s) = t.series.get(&format!("{v}.0")) else {
            continue;
        };
        let (how, into) = if let Some(n) = s.merged.get(&name) {
            (How::Merged, n)
        } else if let Some(n) = s.renamed.get(&name) {
            (How::Renamed, n)
        } else {
            continue;
        };
        // Renamed then merged is merged.
        let how = match &found {
            Some(m) if m.how == How::Merged => How::Merged,
            _ => how,
        };
        name = into.clone();
        found = Some(Moved {
            how,
            into: name.clone(),
            by: Source::Series(format!("{v}.0")),
        });
    }
    found
}

/// Renames and merges the upgrade's log records. openupgradelib's
/// `update_module_names` runs them through `logged_query`, which logs each
/// statement at DEBUG ("1 rows affected after 0:00:00.0005 running UPDATE
/// ir_module_module SET name = 'new' WHERE name = 'old'"); an INFO log (the
/// default) holds none of them.
pub fn moves_in_log(log: impl std::io::BufRead) -> BTreeMap<String, Moved> {
    let mut out = BTreeMap::new();
    // A log may be large: read line by line; a line that is not text is no such statement.
    for line in log.split(b'\n') {
        let Ok(line) = line else { break };
        let Ok(line) = std::str::from_utf8(&line) else {
            continue;
        };
        if let Some(rest) = after(line, "UPDATE ir_module_module SET name = '") {
            if let (Some(new), Some(old)) = (quoted(rest), after(rest, "WHERE name = '")) {
                if let Some(old) = quoted(old) {
                    out.entry(old.to_string()).or_insert(Moved {
                        how: How::Renamed,
                        into: new.to_string(),
                        by: Source::Log,
                    });
                }
            }
        }
        // The merge keeps the old module's state on the one it goes into.
        if let (Some(new), Some(old)) = (after(line, "m1.name='"), after(line, "m2.name='")) {
            if let (Some(new), Some(old)) = (quoted(new), quoted(old)) {
                out.insert(
                    old.to_string(),
                    Moved {
                        how: How::Merged,
                        into: new.to_string(),
                        by: Source::Log,
                    },
                );
            }
        }
    }
    out
}

fn after<'a>(s: &'a str, pat: &str) -> Option<&'a str> {
    s.find(pat).map(|i| &s[i + pat.len()..])
}

/// The text up to the closing quote, when it is a module name.
fn quoted(s: &str) -> Option<&str> {
    let name = &s[..s.find('\'')?];
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(name)
}

fn installed(state: Option<&String>) -> bool {
    state.is_some_and(|s| INSTALLED.contains(&s.as_str()))
}

pub fn check(before: &Snapshot, after: &Snapshot) -> CheckResult {
    if before.modules.is_empty() && after.modules.is_empty() {
        return result(
            NAME,
            AREA,
            Vec::new(),
            String::new(),
            "not applicable: neither database has a module list".into(),
        )
        .skip();
    }
    let series = match (
        major(before.version.as_deref()),
        major(after.version.as_deref()),
    ) {
        (Some(a), Some(b)) if a < b => Some((a, b)),
        _ => None,
    };
    let was: Vec<&String> = before
        .modules
        .iter()
        .filter(|(_, s)| installed(Some(s)))
        .map(|(m, _)| m)
        .collect();
    // (a loss with no known reason sorts first, name, line)
    let mut lines: Vec<(bool, String)> = Vec::new();
    let mut moved_into: BTreeMap<String, &str> = BTreeMap::new();
    for m in &was {
        let now = after.modules.get(*m);
        if installed(now) {
            continue;
        }
        let moved = after
            .module_moves_logged
            .get(*m)
            .cloned()
            .or_else(|| series.and_then(|(a, b)| moved_by_series(m, a, b)));
        let line = match &moved {
            Some(mv) => {
                let how = match mv.how {
                    How::Renamed => "renamed to",
                    How::Merged => "merged into",
                };
                let by = match &mv.by {
                    Source::Series(v) => format!("by {v} (OpenUpgrade's list for {v})"),
                    Source::Log => "(the upgrade's log)".to_string(),
                };
                let target = if installed(after.modules.get(&mv.into)) {
                    format!("{} is installed in the copy", mv.into)
                } else {
                    format!("but {} is not installed in the copy", mv.into)
                };
                moved_into.insert(mv.into.clone(), m.as_str());
                format!("{m}: {how} {} {by}; {target}", mv.into)
            }
            None => match now {
                None => format!(
                    "{m}: installed in production, not in the copy's module list (no list of renamed or merged modules names it)"
                ),
                Some(s) => format!("{m}: installed in production, {s} in the copy"),
            },
        };
        lines.push((moved.is_some(), line));
    }
    lines.sort();
    let explained = lines.iter().filter(|(m, _)| *m).count();
    let notes: Vec<String> = after
        .modules
        .iter()
        .filter(|(m, s)| installed(Some(s)) && !installed(before.modules.get(*m)))
        .map(|(m, _)| match moved_into.get(m) {
            Some(old) => {
                format!("{m}: installed in the copy, not in production (it takes {old}'s place)")
            }
            None => format!("{m}: installed in the copy, not in production"),
        })
        .collect();
    let bad = lines.len();
    let mut summary = format!("{bad} module(s) no longer installed");
    if explained > 0 {
        summary.push_str(&format!(" ({explained} renamed or merged by the upgrade)"));
    }
    let mut r = result(
        NAME,
        AREA,
        lines.into_iter().map(|(_, l)| l).collect(),
        summary,
        format!("{} installed module(s), all still installed", was.len()),
    );
    r.notes = notes;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_valid_and_names_real_moves() {
        let t = table();
        assert!(t.series.len() >= 7);
        assert_eq!(t.series["16.0"].merged["fetchmail"], "mail");
        for (v, s) in &t.series {
            for (old, new) in s.renamed.iter().chain(&s.merged) {
                assert!(
                    quoted(&format!("{old}'")).is_some() && quoted(&format!("{new}'")).is_some(),
                    "{v}: {old} → {new}"
                );
                assert_ne!(old, new, "{v}");
            }
        }
    }

    #[test]
    fn moves_follow_each_series_after_production_up_to_the_copy() {
        // 14.0 renamed sale_coupon to coupon, 16.0 renamed coupon to loyalty.
        let m = moved_by_series("sale_coupon", 13, 16).unwrap();
        assert_eq!(
            (m.how, m.into.as_str(), m.by),
            (How::Renamed, "loyalty", Source::Series("16.0".into()))
        );
        // Renamed in 16.0, then merged in 17.0.
        let m = moved_by_series("website_sale_coupon_delivery", 15, 17).unwrap();
        assert_eq!(
            (m.how, m.into.as_str()),
            (How::Merged, "website_sale_loyalty")
        );
        // A hop outside the span does not count.
        assert_eq!(moved_by_series("fetchmail", 16, 17), None);
        assert_eq!(moved_by_series("sale", 12, 19), None);
    }

    #[test]
    fn the_debug_log_of_openupgradelib_names_renames_and_merges() {
        let log = "2026-12-01 06:00:00,001 1 DEBUG db openupgradelib.openupgrade: 1 rows affected after 0:00:00.000532 running UPDATE ir_module_module SET name = 'loyalty' WHERE name = 'coupon'\n\
                   2026-12-01 06:00:00,002 1 DEBUG db openupgradelib.openupgrade: 1 rows affected after 0:00:00.000210 running UPDATE ir_module_module m1 SET state=m2.state, latest_version=m2.latest_version FROM ir_module_module m2 WHERE m1.name='mail' AND m2.name='fetchmail' AND m1.state='uninstalled'\n\
                   2026-12-01 06:00:00,003 1 INFO db odoo.modules.loading: loading 1 modules...\n";
        let m = moves_in_log(log.as_bytes());
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m["coupon"].how, m["coupon"].into.as_str()),
            (How::Renamed, "loyalty")
        );
        assert_eq!(
            (m["fetchmail"].how, m["fetchmail"].into.as_str()),
            (How::Merged, "mail")
        );
        assert!(
            moves_in_log(&b"INFO odoo: UPDATE ir_module_module SET state = 'x'"[..]).is_empty()
        );
    }
}

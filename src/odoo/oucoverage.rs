//! What OpenUpgrade says it covers for a hop, from its own files (UPGRADE-ENGINES.md
//! B.3): `openupgrade_scripts/apriori.py` (modules renamed or merged into
//! another, which the base pre-migration moves first), the scripts folder
//! (`scripts/<module>/<T>.x.y/`), and the coverage table
//! `docsource/modules<prev><T>.rst` of a git checkout (the wheels lack it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::version::Series;

/// A module's row in the coverage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Done,
    NothingToDo,
    /// An empty status: "Not covered yet" in OpenUpgrade's legend.
    NotCovered,
    /// Any other wording, kept as written.
    Other(String),
}

/// `| |del| account_sequence | | Merged into account. |` rows, by module.
pub fn parse_table(text: &str) -> BTreeMap<String, Status> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        // The markers hold pipes themselves: off first, as OpenUpgrade's own tools do.
        let l = line.replace("|new|", "").replace("|del|", "");
        if !l.starts_with('|') {
            continue;
        }
        let mut cells = l.split('|').skip(1).map(str::trim);
        let (Some(name), Some(status)) = (cells.next(), cells.next()) else {
            continue;
        };
        // The header row ("Module | Status + Extra Information") and separators.
        if name.is_empty()
            || name == "Module"
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            continue;
        }
        let s = if status.is_empty() {
            Status::NotCovered
        } else if status.starts_with("Done") {
            Status::Done
        } else if status.to_ascii_lowercase().starts_with("nothing to do") {
            Status::NothingToDo
        } else {
            Status::Other(status.to_string())
        };
        out.insert(name.to_string(), s);
    }
    out
}

/// `renamed_modules` and `merged_modules` of apriori.py: old name → new name.
pub fn parse_apriori(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("renamed_modules") || t.starts_with("merged_modules") {
            inside = t.ends_with('{');
            continue;
        }
        if !inside {
            continue;
        }
        if t.starts_with('}') {
            inside = false;
            continue;
        }
        // `"old": "new",` (comments and other lines skipped).
        let mut quoted = t.split('"').skip(1).step_by(2);
        if let (Some(old), Some(new)) = (quoted.next(), quoted.next()) {
            if t.contains(':') {
                out.insert(old.to_string(), new.to_string());
            }
        }
    }
    out
}

/// OpenUpgrade's knowledge of one hop, read from its folder.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Modules apriori.py renames or merges, to their new name.
    pub moved: BTreeMap<String, String>,
    /// Modules with a scripts folder for this hop.
    pub scripted: Vec<String>,
    /// The coverage table, when the checkout has it.
    pub table: Option<BTreeMap<String, Status>>,
    pub table_path: PathBuf,
}

/// `docsource/modules160-170.rst` for the hop to 17.0.
pub fn table_name(to: Series) -> String {
    let code = |s: Series| format!("{}{}", s.major, s.minor * 10);
    format!(
        "modules{}-{}.rst",
        code(Series::new(to.major.saturating_sub(1), 0)),
        code(to)
    )
}

impl Coverage {
    /// Reads what is there under `openupgrade` (the folder holding
    /// openupgrade_scripts); missing files leave their part empty.
    pub fn load(openupgrade: &Path, to: Series) -> Coverage {
        let scripts = openupgrade.join("openupgrade_scripts");
        let moved = std::fs::read_to_string(scripts.join("apriori.py"))
            .map(|t| parse_apriori(&t))
            .unwrap_or_default();
        let mut scripted: Vec<String> = std::fs::read_dir(scripts.join("scripts"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        scripted.sort();
        let table_path = openupgrade.join("docsource").join(table_name(to));
        let table = std::fs::read_to_string(&table_path)
            .ok()
            .map(|t| parse_table(&t));
        Coverage {
            moved,
            scripted,
            table,
            table_path,
        }
    }

    pub fn has_script(&self, module: &str) -> bool {
        self.scripted
            .binary_search_by(|m| m.as_str().cmp(module))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coverage_table_as_openupgrade_writes_it() {
        let t = "\
+------------+--------+-----+
| Module     | Status + Extra Information |
+============+========+=====+
| account    |        |     |
+------------+--------+-----+
| |del| account_sequence|        |Merged into account. |
| |new| account_peppol | Nothing to do |  |
| base       | Done   |     |
| sale       | Partial (see PR) | |
";
        let m = parse_table(t);
        assert_eq!(m["account"], Status::NotCovered);
        assert_eq!(m["account_sequence"], Status::NotCovered);
        assert_eq!(m["account_peppol"], Status::NothingToDo);
        assert_eq!(m["base"], Status::Done);
        assert_eq!(m["sale"], Status::Other("Partial (see PR)".into()));
        assert!(!m.contains_key("Module"));
        assert_eq!(table_name(Series::new(17, 0)), "modules160-170.rst");
    }

    #[test]
    fn apriori_renames_and_merges() {
        let t = "\
renamed_modules = {
    # odoo
    \"note\": \"project_todo\",
}

merged_modules = {
    \"account_sequence\": \"account\",
    # OCA/x
    \"web_kanban_gauge\": \"web\",
}

renamed_models = {
    \"hr.plan\": \"mail.activity.plan\",
}
";
        let m = parse_apriori(t);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m["note"], "project_todo");
        assert_eq!(m["web_kanban_gauge"], "web");
        assert!(!m.contains_key("hr.plan"));
    }
}

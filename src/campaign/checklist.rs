//! The test checklist: item definitions (the default file plus the user's own)
//! and their state, kept in the campaign by item id.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const DEFAULT: &str = include_str!("../../assets/checklists/default.toml");

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub area: String,
    pub title: String,
    #[serde(default)]
    pub help: String,
    /// Automatic checks (by name) that cover part of this item.
    #[serde(default)]
    pub automatic: Vec<String>,
    /// Those checks cover all of it: nothing is left to test by hand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fully_automatic: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "item", default)]
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    pub mark: Option<Mark>,
    #[serde(default)]
    pub note: String,
    pub at: DateTime<Utc>,
    /// The test copy it was checked on; another one means "check again".
    #[serde(default)]
    pub test_db: Option<String>,
}

pub type States = BTreeMap<String, ItemState>;

pub fn parse(text: &str, origin: &str) -> Result<Vec<Item>, String> {
    let f: File = toml::from_str(text).map_err(|e| {
        format!(
            "checklist {origin}: {}",
            crate::text::one_line(&e.to_string())
        )
    })?;
    Ok(f.items)
}

/// The default items, then every `*.toml` of `<config dir>/checklists`, in name
/// order; a later item with an id already seen replaces it.
pub fn load(user_dir: Option<&Path>) -> Result<Vec<Item>, String> {
    let mut items = parse(DEFAULT, "default")?;
    if let Some(dir) = user_dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| format!("checklist {}: {e}", f.display()))?;
            for item in parse(&text, &f.display().to_string())? {
                match items.iter_mut().find(|i| i.id == item.id) {
                    Some(existing) => *existing = item,
                    None => items.push(item),
                }
            }
        }
    }
    Ok(items)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub todo: usize,
    /// Marked on an earlier test copy: to check again.
    pub stale: usize,
}

impl Summary {
    pub fn of(items: &[Item], states: &States, current_test_db: Option<&str>) -> Summary {
        let mut s = Summary::default();
        for i in items {
            match states.get(&i.id) {
                Some(st)
                    if st.mark.is_some()
                        && current_test_db.is_some()
                        && st.test_db.as_deref() != current_test_db =>
                {
                    s.stale += 1
                }
                Some(ItemState {
                    mark: Some(Mark::Pass),
                    ..
                }) => s.passed += 1,
                Some(ItemState {
                    mark: Some(Mark::Fail),
                    ..
                }) => s.failed += 1,
                Some(ItemState {
                    mark: Some(Mark::Skip),
                    ..
                }) => s.skipped += 1,
                _ => s.todo += 1,
            }
        }
        s
    }

    /// Every item passed or consciously skipped on the current copy.
    pub fn complete(&self) -> bool {
        self.failed == 0 && self.todo == 0 && self.stale == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_checklist_covers_odoo_test_guide_and_user_files_extend_it() {
        let items = load(None).unwrap();
        for id in [
            "views",
            "reports",
            "website",
            "create_records",
            "invoice_refund",
            "ecommerce",
            "accounting_reports",
            "integrations",
            "automations",
        ] {
            assert!(items.iter().any(|i| i.id == id), "{id}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mine.toml"),
            "[[item]]\nid = \"pos\"\narea = \"Shop\"\ntitle = \"Point of sale session closes\"\n",
        )
        .unwrap();
        let more = load(Some(dir.path())).unwrap();
        assert_eq!(more.len(), items.len() + 1);
        std::fs::write(dir.path().join("bad.toml"), "[[item]]\nid = \"x\"\n").unwrap();
        let e = load(Some(dir.path())).unwrap_err();
        assert!(e.contains("bad.toml") && e.contains("missing field"), "{e}");
    }

    #[test]
    fn summary_counts_stale_marks() {
        let items = load(None).unwrap();
        let mut st = States::new();
        let at = Utc::now();
        st.insert(
            "views".into(),
            ItemState {
                mark: Some(Mark::Pass),
                note: String::new(),
                at,
                test_db: Some("t1".into()),
            },
        );
        st.insert(
            "reports".into(),
            ItemState {
                mark: Some(Mark::Fail),
                note: String::new(),
                at,
                test_db: Some("t2".into()),
            },
        );
        let s = Summary::of(&items, &st, Some("t2"));
        assert_eq!(
            (s.passed, s.failed, s.stale, s.todo),
            (0, 1, 1, items.len() - 2)
        );
        assert!(!s.complete());
    }
}

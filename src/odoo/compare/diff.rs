//! Two snapshots in, one [`Comparison`] out: each check's differing rows, bounded.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::Utc;

use super::rules::{self, Mode, RowCheck};
use super::{CheckResult, Comparison, Group, Row, Side, Snapshot, fields, files, modules, result};

/// Ids named per line at most.
const MAX_IDS: usize = 12;

pub async fn compare(before: &Snapshot, after: &Snapshot, t0: Instant) -> Comparison {
    let rules = rules::rules();
    let mut checks = vec![records(before, after)];
    for c in &rules.check {
        checks.push(row_check(c, before, after));
    }
    checks.push(modules::check(before, after));
    checks.push(custom_fields(before, after));
    let (b, a) = (before.clone(), after.clone());
    let file_problems = tokio::task::spawn_blocking(move || {
        let problems = files::check(&b, &a);
        (problems, b.attachments.len(), a.filestore.is_some())
    })
    .await
    .unwrap_or_else(|_| (Vec::new(), 0, false));
    checks.push(files_result(file_problems));
    Comparison {
        production: before.db.clone(),
        copy: after.db.clone(),
        at: Utc::now(),
        seconds: t0.elapsed().as_secs_f64(),
        production_read_at: before.taken_at,
        checks,
    }
}

impl CheckResult {
    /// Not run: the data is absent, or not comparable between these series.
    pub(super) fn skip(mut self) -> CheckResult {
        self.skipped = true;
        self
    }
}

fn model_of(key: &str) -> &str {
    key.split(' ').next().unwrap_or(key)
}

fn records(before: &Snapshot, after: &Snapshot) -> CheckResult {
    let models_b: BTreeSet<&str> = before.records.keys().map(|k| model_of(k)).collect();
    let models_a: BTreeSet<&str> = after.records.keys().map(|k| model_of(k)).collect();
    let keys: BTreeSet<&String> = before.records.keys().chain(after.records.keys()).collect();
    // A group one side lacks holds no ids (not "ids unknown").
    let empty = Group {
        ranges: Some(Vec::new()),
        ..Group::default()
    };
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    for key in keys {
        let model = model_of(key);
        let (b, a) = (before.records.get(key), after.records.get(key));
        if b.is_none() && !models_b.contains(model) {
            // The model did not exist in production (its module came with the upgrade).
            notes.push(format!(
                "{key}: {} in the copy, none in production",
                a.map_or(0, |g| g.count)
            ));
            continue;
        }
        if a.is_none() && !models_a.contains(model) && !models_b.contains(model) {
            continue;
        }
        let (b, a) = (b.unwrap_or(&empty), a.unwrap_or(&empty));
        if b.count == a.count && b.id_sum == a.id_sum {
            continue;
        }
        let mut line = format!("{key}: {} → {}", b.count, a.count);
        match (&b.ranges, &a.ranges) {
            (Some(rb), Some(ra)) => {
                let gone = minus(rb, ra);
                let new = minus(ra, rb);
                let mut parts = Vec::new();
                if !gone.is_empty() {
                    parts.push(format!("{} gone: ids {}", span_len(&gone), ids(&gone)));
                }
                if !new.is_empty() {
                    parts.push(format!("{} new: ids {}", span_len(&new), ids(&new)));
                }
                if !parts.is_empty() {
                    line.push_str(&format!(" ({})", parts.join("; ")));
                }
            }
            _ => line.push_str(" (ids too scattered to list)"),
        }
        lines.push(line);
    }
    let n = before.records.len();
    let mut r = result(
        "records per business model",
        "records",
        lines,
        String::new(),
        format!("{n} model group(s) compared, same records"),
    );
    if !r.ok {
        r.summary = format!(
            "{} model group(s) with other records",
            r.differences.len() + r.more
        );
    }
    r.notes = notes;
    r
}

/// Ids in `a` not in `b`, as sorted runs.
fn minus(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut lo, hi) in a {
        while j < b.len() && b[j].1 < lo {
            j += 1;
        }
        let mut k = j;
        while lo <= hi {
            if k >= b.len() || b[k].0 > hi {
                out.push((lo, hi));
                break;
            }
            let (blo, bhi) = b[k];
            if blo > lo {
                out.push((lo, blo - 1));
            }
            lo = lo.max(bhi + 1);
            k += 1;
        }
    }
    out
}

fn span_len(r: &[(i64, i64)]) -> i64 {
    r.iter().map(|(a, b)| b - a + 1).sum()
}

fn ids(r: &[(i64, i64)]) -> String {
    let mut parts: Vec<String> = r
        .iter()
        .take(MAX_IDS)
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if r.len() > MAX_IDS {
        parts.push("…".to_string());
    }
    parts.join(", ")
}

fn row_check(c: &RowCheck, before: &Snapshot, after: &Snapshot) -> CheckResult {
    let side = |s: &Snapshot| match s.rows.get(&c.name) {
        Some(Side::Rows(r)) => Some(r.clone()),
        _ => None,
    };
    let (b, a) = match (side(before), side(after)) {
        (Some(b), Some(a)) => (b, a),
        (None, None) => {
            return result(
                &c.name,
                &c.area,
                Vec::new(),
                String::new(),
                "not applicable: neither database has this data".into(),
            )
            .skip();
        }
        (Some(_), None) | (None, Some(_)) => {
            let which = if side(before).is_none() {
                &before.db
            } else {
                &after.db
            };
            return result(
                &c.name,
                &c.area,
                Vec::new(),
                String::new(),
                format!("not compared: {which:?}'s version keeps this data elsewhere"),
            )
            .skip();
        }
    };
    if let (Some(pb), Some(ab)) = (before.bases.get(&c.name), after.bases.get(&c.name)) {
        if pb != ab {
            return result(
                &c.name,
                &c.area,
                Vec::new(),
                String::new(),
                format!("not compared: production's version keeps it in {pb}, the copy's in {ab}"),
            )
            .skip();
        }
    }
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    let show = |r: &Row| {
        c.values
            .iter()
            .zip(&r.values)
            .map(|(n, v)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let checked = |r: &Row| match &c.only_before {
        Some(v) => r.values.first() == Some(v),
        None => true,
    };
    let mut dropped = 0usize;
    for (k, rb) in b.iter().filter(|(_, r)| checked(r)) {
        match a.get(k) {
            None if c
                .missing_is_note
                .as_ref()
                .is_some_and(|m| rb.label.starts_with(&m.prefix)) =>
            {
                dropped += 1;
            }
            None => lines.push((
                rb.label.clone(),
                format!(
                    "{}: {} in production, missing in the copy",
                    rb.label,
                    show(rb)
                ),
            )),
            Some(ra) => {
                let changed: Vec<String> = c
                    .values
                    .iter()
                    .zip(rb.values.iter().zip(&ra.values))
                    .filter(|(_, (x, y))| match c.compare {
                        Mode::NotLess => lower(y, x),
                        _ => x != y,
                    })
                    .map(|(n, (x, y))| format!("{n} {x} → {y}"))
                    .collect();
                if !changed.is_empty() {
                    lines.push((
                        rb.label.clone(),
                        format!("{}: {}", rb.label, changed.join(", ")),
                    ));
                }
            }
        }
    }
    for (k, ra) in &a {
        if b.contains_key(k) {
            continue;
        }
        match c.compare {
            Mode::Equal => lines.push((
                ra.label.clone(),
                format!(
                    "{}: missing in production, {} in the copy",
                    ra.label,
                    show(ra)
                ),
            )),
            _ if c.note_added => notes.push(format!("{}: new in the copy", ra.label)),
            _ => {}
        }
    }
    // Customized views (and any label sorting first) lead the list.
    lines.sort();
    let n = b.len().max(a.len());
    let bad = lines.len();
    let mut r = result(
        &c.name,
        &c.area,
        lines.into_iter().map(|(_, l)| l).collect(),
        format!("{bad} {}", c.what),
        format!("{n} row(s) compared, all hold"),
    );
    if let Some(m) = c.missing_is_note.as_ref().filter(|_| dropped > 0) {
        notes.push(format!("{dropped} {}", m.note));
    }
    r.notes = notes;
    r
}

/// `after` is a lower number than `before`; text that is not a number must be equal.
fn lower(after: &str, before: &str) -> bool {
    match (after.parse::<f64>(), before.parse::<f64>()) {
        (Ok(a), Ok(b)) => a < b,
        _ => after != before,
    }
}

fn custom_fields(before: &Snapshot, after: &Snapshot) -> CheckResult {
    let mut lines = Vec::new();
    for (k, n) in &before.fields {
        match after.fields.get(k) {
            None => lines.push(format!(
                "{k}: missing in the copy ({n} value(s) in production)"
            )),
            Some(m) if m < n => lines.push(format!("{k}: {n} → {m} non-empty value(s)")),
            _ => {}
        }
    }
    let bad = lines.len();
    let ok = if before.fields.is_empty() {
        "no custom field in production".to_string()
    } else {
        format!(
            "{} custom field(s), all kept with their values",
            before.fields.len()
        )
    };
    result(
        fields::NAME,
        "customizations",
        lines,
        format!("{bad} custom field(s) missing or emptied"),
        ok,
    )
}

fn files_result(
    (problems, total, known): (Vec<(i64, String, files::Problem)>, usize, bool),
) -> CheckResult {
    if !known {
        return result(
            files::NAME,
            "files",
            Vec::new(),
            String::new(),
            "not checked: the copy's data dir is unknown (--data-dir or odoo.conf data_dir)".into(),
        )
        .skip();
    }
    let lines: Vec<String> = problems
        .iter()
        .map(|(id, name, p)| match p {
            files::Problem::Missing => {
                format!("attachment {id} {name:?}: file missing from the copy's filestore")
            }
            files::Problem::ChecksumDiffers { expected, found } => {
                format!(
                    "attachment {id} {name:?}: content differs (checksum {expected}, file {found})"
                )
            }
            files::Problem::RowChanged { was, now } => {
                format!("attachment {id} {name:?}: file {was} → {now}")
            }
        })
        .collect();
    let bad = lines.len();
    result(
        files::NAME,
        "files",
        lines,
        format!("{bad} of {total} file(s) missing or changed in the copy"),
        format!("{total} file(s), all present with their content"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_minus_ranges() {
        assert_eq!(minus(&[(1, 10)], &[(3, 4), (8, 20)]), vec![(1, 2), (5, 7)]);
        assert_eq!(minus(&[(1, 3), (5, 6)], &[]), vec![(1, 3), (5, 6)]);
        assert_eq!(minus(&[(1, 3)], &[(1, 3)]), vec![]);
        assert_eq!(minus(&[(5, 5), (9, 12)], &[(1, 9)]), vec![(10, 12)]);
    }

    fn side(db: &str, version: &str, basis: &str, value: &str) -> Snapshot {
        let check = "stock valuation per product".to_string();
        let row = Row {
            label: "company 1 · FURN_01".into(),
            values: vec!["5.0000".into(), value.into()],
        };
        Snapshot {
            db: db.into(),
            taken_at: Utc::now(),
            version: Some(version.into()),
            rows: [(check.clone(), Side::Rows([("1/7".to_string(), row)].into()))].into(),
            bases: [(check, basis.to_string())].into(),
            records: Default::default(),
            modules: Default::default(),
            module_moves_logged: Default::default(),
            fields: Default::default(),
            attachments: Default::default(),
            filestore: None,
        }
    }

    /// 18.0 values stock in layers, 19.0 on the moves: their sums are not compared.
    #[test]
    fn values_read_on_other_bases_are_not_compared() {
        let rules = rules::rules();
        let c = rules
            .check
            .iter()
            .find(|c| c.name == "stock valuation per product")
            .unwrap();
        let prod = side("prod", "18.0.1.3", "valuation layers", "500.00");
        let r = row_check(c, &prod, &side("copy", "19.0.1.3", "stock moves", "480.00"));
        assert!(r.ok && r.skipped, "{r:?}");
        assert!(r.summary.contains("valuation layers") && r.summary.contains("stock moves"));
        // On the same basis the values are compared.
        let r = row_check(
            c,
            &prod,
            &side("copy", "18.0.1.3", "valuation layers", "480.00"),
        );
        assert!(!r.ok && !r.skipped, "{r:?}");
        assert_eq!(
            r.differences,
            ["company 1 · FURN_01: value 500.00 → 480.00"]
        );
    }

    #[test]
    fn a_sequence_went_back_only_when_lower() {
        assert!(lower("99", "100"));
        assert!(!lower("101", "100"));
        assert!(!lower("100", "100"));
    }
}

//! Small text helpers for every layer (below `pg`: it uses nothing of the project).

/// toml errors span several lines (with a caret); our errors are one line.
pub fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && *l != "^")
        .collect::<Vec<_>>()
        .join(" ")
}

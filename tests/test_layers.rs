//! The dependencies between modules run one way: text → pg → odoo → campaign
//! (and config) → engine → tui, demo → cli; and no modules under one parent use
//! each other in a cycle (engine::job ↔ engine::compare, pg::conn ↔ pg::tls, …).
//! Read from the sources: every `crate::`/`super::`/`self::` path, `use` groups
//! expanded, comments, strings and `#[cfg(test)]` items left out. A parent's
//! `mod.rs` is its hub (it declares its modules, holds what they share): uses of
//! it from below are not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// The rank of each top-level module: a module may use only ranks at or below its own.
const LAYERS: &[(&str, u8)] = &[
    ("text", 0),
    ("pg", 1),
    ("odoo", 2),
    ("config", 3),
    ("campaign", 3),
    ("engine", 4),
    ("tui", 5),
    ("demo", 5),
    ("cli", 6),
];

fn rank(top: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == top).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        m.pop();
    }
    m
}

/// The code without comments, string and char literals (blanked to `""`).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        let after_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |j| j + 2);
        } else if !after_ident && (rest.starts_with("r\"") || rest.starts_with("r#")) {
            let hashes = rest[1..].bytes().take_while(|&c| c == b'#').count();
            let open = 1 + hashes;
            if rest.as_bytes().get(open) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let end = rest[open + 1..]
                .find(&close)
                .map_or(rest.len(), |j| open + 1 + j + close.len());
            out.push_str("\"\"");
            i += end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2 + rest[2..].find('\'').map_or(rest.len(), |j| j + 1);
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Drops each item under `#[cfg(test)]` (to its `;` or its matching `}`).
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at + "#[cfg(test)]".len()..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (j, c) in item.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = j + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let close = tree.rfind('}').unwrap_or(tree.len());
    let (prefix, inner) = (&tree[..open], &tree[open + 1..close]);
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (j, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| {
            expand_use(p)
                .into_iter()
                .map(move |e| format!("{prefix}{e}"))
        })
        .collect()
}

/// The paths a file's code names, from `use` trees and inline paths.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = String::new();
    let mut s = code;
    // `use` trees first (they hold the groups), then what is left.
    while let Some(at) = s.find("use ") {
        let word_start = at == 0 || !s[..at].ends_with(is_ident);
        let end = s[at..].find(';').map_or(s.len(), |j| at + j);
        if word_start {
            rest.push_str(&s[..at]);
            found.extend(expand_use(&s[at + 4..end].replace('\n', " ")));
            s = &s[end..];
        } else {
            rest.push_str(&s[..at + 4]);
            s = &s[at + 4..];
        }
    }
    rest.push_str(s);
    let b: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if is_ident(b[i]) && (i == 0 || !is_ident(b[i - 1])) {
            let mut j = i;
            while j < b.len() && (is_ident(b[j]) || (b[j] == ':' && b.get(j + 1) == Some(&':'))) {
                j += if b[j] == ':' { 2 } else { 1 };
            }
            let word: String = b[i..j].iter().collect();
            if ["crate::", "super::", "self::"]
                .iter()
                .any(|p| word.starts_with(p))
            {
                found.push(word);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// The module a path names: the longest prefix that is a module of the crate.
fn resolve(me: &Module, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segs = path
        .split("::")
        .map(|s| s.split(" as ").next().unwrap_or("").trim())
        .filter(|s| !s.is_empty())
        .peekable();
    let mut full: Module = match segs.peek().copied() {
        Some("crate") => {
            segs.next();
            Vec::new()
        }
        Some("super" | "self") => me.clone(),
        _ => return None,
    };
    for s in segs {
        match s {
            "super" => {
                full.pop();
            }
            "self" => {}
            _ => full.push(s.to_string()),
        }
    }
    (0..=full.len())
        .rev()
        .map(|k| full[..k].to_vec())
        .find(|m| modules.contains(m))
}

fn edges() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for f in &files {
        let me = module_of(&src, f);
        let code = without_tests(&code_only(&std::fs::read_to_string(f).unwrap()));
        for p in paths(&code) {
            if let Some(to) = resolve(&me, &p, &modules).filter(|to| *to != me) {
                out.entry(me.clone()).or_default().insert(to);
            }
        }
    }
    out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn layers_are_used_downwards_only() {
    let mut wrong = Vec::new();
    for (from, tos) in edges() {
        // The crate root (lib.rs, main.rs) wires the layers together.
        let Some(f) = from.first() else {
            continue;
        };
        let Some(rf) = rank(f) else {
            wrong.push(format!("{}: not in LAYERS", name(&from)));
            continue;
        };
        for to in tos {
            if let Some(rt) = to.first().and_then(|t| rank(t)) {
                if rt > rf {
                    wrong.push(format!("{} uses {}", name(&from), name(&to)));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Children of one parent that use each other round a cycle.
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let parents: BTreeSet<Module> = edges
        .keys()
        .chain(edges.values().flatten())
        .filter(|m| !m.is_empty())
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    let mut found = Vec::new();
    for p in parents {
        let d = p.len();
        let under = |m: &Module| m.len() > d && m[..d] == p[..];
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, bs) in edges.iter().filter(|(a, _)| under(a)) {
            for b in bs.iter().filter(|b| under(b) && b[d] != a[d]) {
                g.entry(a[d].clone()).or_default().insert(b[d].clone());
            }
        }
        // A child that reaches itself again is on a cycle.
        for start in g.keys() {
            let mut seen = BTreeSet::new();
            let mut todo: Vec<&String> = g[start].iter().collect();
            let mut back = false;
            while let Some(n) = todo.pop() {
                if n == start {
                    back = true;
                    break;
                }
                if seen.insert(n) {
                    todo.extend(g.get(n).into_iter().flatten());
                }
            }
            if back {
                let via: Vec<&String> = g[start]
                    .iter()
                    .filter(|n| *n == start || reaches(&g, n, start))
                    .collect();
                found.push(format!(
                    "{}::{start} → {} → … → {start}",
                    name(&p),
                    via.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
        }
    }
    found
}

fn reaches(g: &BTreeMap<String, BTreeSet<String>>, from: &String, to: &String) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n) {
            todo.extend(g.get(n).into_iter().flatten());
        }
    }
    false
}

#[test]
fn no_module_cycles() {
    let found = cycles(&edges());
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

/// The reader itself: a cycle and an upward use written the ways the code
/// writes them are found; comments, strings and tests are not read as uses.
#[test]
fn the_reader_sees_what_the_code_names() {
    let code = code_only(
        "use super::{job::{self, JobRecord}, plan};\n\
         // use crate::tui::App;\n\
         let s = \"crate::cli::run\";\n\
         fn f() { crate::pg::conn::connect(); }\n\
         #[cfg(test)]\nmod tests { use crate::tui::App; }\n",
    );
    let code = without_tests(&code);
    let mut p = paths(&code);
    p.sort();
    assert_eq!(
        p,
        [
            "crate::pg::conn::connect",
            "super::job::JobRecord",
            "super::job::self",
            "super::plan",
        ]
    );
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let modules: BTreeSet<Module> = ["engine", "engine::job", "engine::plan", "pg", "pg::conn"]
        .into_iter()
        .map(m)
        .collect();
    let me = m("engine::plan");
    assert_eq!(
        resolve(&me, "super::job::JobRecord", &modules),
        Some(m("engine::job"))
    );
    let mut e = BTreeMap::new();
    e.insert(m("engine::job"), [m("engine::plan")].into());
    e.insert(m("engine::plan"), [m("engine::job"), m("engine")].into());
    assert_eq!(cycles(&e).len(), 2, "{:?}", cycles(&e));
    e.insert(m("engine::plan"), [m("engine")].into());
    assert!(cycles(&e).is_empty());
}

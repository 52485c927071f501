//! `~/.pgpass` lookup, as libpq does it, so our own connections find the same
//! password the client tools (pg_dump, psql) will find.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Splits one `.pgpass` line on unescaped colons, undoing `\:` and `\\`.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), out.last_mut()) {
                    f.push(n);
                }
            }
            ':' if out.len() < 5 => out.push(String::new()),
            _ => {
                if let Some(f) = out.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    out
}

fn matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern == value
}

pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass"))
}

/// What lookups had to say (a file ignored for its mode), once each, for the
/// front end to show: libpq prints the same warning on stderr.
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The warnings gathered so far, emptied.
pub fn take_warnings() -> Vec<String> {
    WARNINGS
        .lock()
        .map(|mut w| std::mem::take(&mut *w))
        .unwrap_or_default()
}

/// The password for this host/port/db/user, if the file has one. A file readable
/// by group or others is ignored, as libpq ignores it.
pub fn lookup(file: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    if meta.permissions().mode() & 0o077 != 0 {
        let line = format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less: it is ignored (chmod 0600 {})",
            file.display(),
            file.display()
        );
        tracing::warn!("{line}");
        if let Ok(mut w) = WARNINGS.lock() {
            if !w.contains(&line) {
                w.push(line);
            }
        }
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    // A socket directory also matches the entry "localhost", as with libpq.
    let hosts: &[&str] = if host.starts_with('/') {
        &[host, "localhost"]
    } else {
        &[host]
    };
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(fields)
        .filter(|f| f.len() == 5)
        .find(|f| {
            hosts.iter().any(|h| matches(&f[0], h))
                && matches(&f[1], &port)
                && matches(&f[2], db)
                && matches(&f[3], user)
        })
        .map(|f| f[4].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn finds_first_matching_line_with_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pgpass");
        let mut f = std::fs::File::create(&p).unwrap();
        writeln!(
            f,
            "# comment\nother:5432:*:odoo:nope\nlocalhost:*:*:odoo:pa\\:ss\\\\w"
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&p, "/run/pg", 5432, "prod", "odoo").as_deref(),
            Some("pa:ss\\w")
        );
        assert_eq!(lookup(&p, "db.lan", 5432, "prod", "odoo"), None);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(lookup(&p, "/run/pg", 5432, "prod", "odoo"), None);
        assert_eq!(lookup(&p, "/run/pg", 5432, "*", "odoo"), None);
        let w = take_warnings();
        assert_eq!(w.len(), 1, "said once: {w:?}");
        assert!(w[0].contains("has group or world access"), "{w:?}");
    }
}

//! Identifier and literal quoting. Every database name that reaches SQL goes through here.

use thiserror::Error;

/// PostgreSQL truncates identifiers at NAMEDATALEN-1 bytes.
pub const MAX_IDENT_BYTES: usize = 63;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("a database name cannot be empty")]
    Empty,
    #[error(
        "database name {0:?} is {1} bytes; PostgreSQL allows at most 63: choose a shorter name"
    )]
    TooLong(String, usize),
    #[error("database name {0:?} contains a NUL byte, which PostgreSQL cannot store")]
    Nul(String),
    #[error(
        "database name {0:?} contains \"/\" or \"..\": files are named after databases (filestore, backups), so such a name is refused; rename the database (ALTER DATABASE … RENAME TO …)"
    )]
    PathLike(String),
}

/// Checks that `name` can be a database name exactly as given (no silent truncation).
pub fn check_db_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains('\0') {
        return Err(NameError::Nul(name.to_string()));
    }
    if name.len() > MAX_IDENT_BYTES {
        return Err(NameError::TooLong(name.to_string(), name.len()));
    }
    // Odoo's own rule refuses these too; a path made from one leaves its folder.
    if name.contains('/') || name.contains("..") {
        return Err(NameError::PathLike(name.to_string()));
    }
    Ok(())
}

/// A file name for a database: a database may be called ".." or "a/b", so
/// anything but ASCII letters, digits, `_` and `-` becomes `_`, and a hash of
/// the real name keeps two names apart.
pub fn file_name_for(db: &str) -> String {
    use sha2::{Digest, Sha256};
    let safe: String = db
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = hex::encode(Sha256::digest(db.as_bytes()));
    format!("{safe}-{}", &hash[..12])
}

/// `"name"` with inner quotes doubled: safe for any identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with inner quotes doubled, as an escape-free standard string.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Builds `<prefix><suffix>` within 63 bytes by shortening the prefix only (on a
/// character boundary), so the suffix that carries the meaning survives.
/// Returns the name and whether the prefix had to be shortened.
pub fn name_with_suffix(prefix: &str, suffix: &str) -> (String, bool) {
    let room = MAX_IDENT_BYTES.saturating_sub(suffix.len());
    if prefix.len() <= room {
        return (format!("{prefix}{suffix}"), false);
    }
    let mut cut = room;
    while cut > 0 && !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    (format!("{}{suffix}", &prefix[..cut]), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_names() {
        assert_eq!(
            quote_ident(r#"x"; DROP DATABASE y; --"#),
            r#""x""; DROP DATABASE y; --""#
        );
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn limits_are_bytes_not_chars() {
        assert!(check_db_name(&"é".repeat(31)).is_ok()); // 62 bytes
        assert!(matches!(
            check_db_name(&"é".repeat(32)),
            Err(NameError::TooLong(_, 64))
        ));
        assert!(check_db_name(&"a".repeat(63)).is_ok());
        assert_eq!(check_db_name(""), Err(NameError::Empty));
        for bad in ["a/b", "..", "../prod", "x..y", "/"] {
            assert!(
                matches!(check_db_name(bad), Err(NameError::PathLike(_))),
                "{bad}"
            );
        }
        assert!(check_db_name("prod.v2-2026_12").is_ok());
    }

    #[test]
    fn suffix_is_kept_and_prefix_cut_on_char_boundary() {
        let (n, cut) = name_with_suffix(&"ü".repeat(40), "_test_17.0_2026_11_23_19_49");
        assert!(cut);
        assert!(n.len() <= 63);
        assert!(n.ends_with("_test_17.0_2026_11_23_19_49"));
        let (n, cut) = name_with_suffix("prod", "_test_17.0");
        assert_eq!((n.as_str(), cut), ("prod_test_17.0", false));
    }
}

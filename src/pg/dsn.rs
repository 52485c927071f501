//! Parses libpq connection strings: `key=value` lists and `postgresql://` URIs,
//! into a plain key → value map using libpq's key names.

use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DsnError {
    #[error("connection string: {0}")]
    Syntax(String),
    /// libpq's own words ("invalid connection option"), then what to do.
    #[error("--dsn: invalid {what} {key:?}{hint}")]
    UnknownKey {
        what: &'static str,
        key: String,
        hint: String,
    },
    #[error(
        "--dsn: {key:?} is a libpq setting upgrade-pilot does not use: remove it (it uses {})",
        USED.join(", ")
    )]
    Unsupported { key: String },
}

/// The settings this tool reads (and hands to pg_dump, psql… through PG* variables).
/// `password` is read only to be refused with its own message.
const USED: [&str; 6] = ["host", "port", "dbname", "user", "sslmode", "sslrootcert"];

/// Every other libpq connection setting (PostgreSQL 18): accepted by libpq, so
/// a user may expect it to work; here it would be ignored, so it is refused.
const LIBPQ_OTHER: [&str; 40] = [
    "hostaddr",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslkeylogfile",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "min_protocol_version",
    "max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
];

/// Refuses what libpq refuses (a key it does not know) and what it knows but
/// this tool would ignore: never a setting silently dropped (`sslmod=require`
/// left the connection unencrypted).
fn check_key(key: &str, uri: bool) -> Result<(), DsnError> {
    if USED.contains(&key) || key == "password" {
        return Ok(());
    }
    if LIBPQ_OTHER.contains(&key) || key.starts_with("oauth_") {
        return Err(DsnError::Unsupported { key: key.into() });
    }
    let near = USED
        .iter()
        .chain(["password"].iter())
        .map(|k| (strsim::levenshtein(k, key), *k))
        .min()
        .filter(|(d, _)| *d <= 2);
    Err(DsnError::UnknownKey {
        what: if uri {
            "URI query parameter"
        } else {
            "connection option"
        },
        key: key.into(),
        hint: match near {
            Some((_, k)) => format!(": did you mean {k}?"),
            None => format!(": use {}", USED.join(", ")),
        },
    })
}

pub type Params = BTreeMap<String, String>;

pub fn parse(dsn: &str) -> Result<Params, DsnError> {
    let t = dsn.trim();
    if t.starts_with("postgresql://") || t.starts_with("postgres://") {
        parse_uri(t)
    } else {
        parse_kv(t)
    }
}

fn parse_kv(s: &str) -> Result<Params, DsnError> {
    let mut out = Params::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(DsnError::Syntax(format!("missing \"=\" after {key:?}")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(DsnError::Syntax("unterminated quoted value".into())),
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(DsnError::Syntax("trailing backslash".into())),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(DsnError::Syntax("empty key".into()));
        }
        check_key(&key, false)?;
        out.insert(key, value);
    }
}

fn percent_decode(s: &str) -> Result<String, DsnError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| DsnError::Syntax(format!("bad percent escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DsnError::Syntax("URI is not UTF-8 once decoded".into()))
}

fn parse_uri(s: &str) -> Result<Params, DsnError> {
    let mut out = Params::new();
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (user, pass) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.insert("user".into(), percent_decode(user)?);
            }
            if let Some(p) = pass {
                out.insert("password".into(), percent_decode(p)?);
            }
            hp
        }
        None => authority,
    };
    if !hostport.is_empty() {
        // [v6]:port, host:port, host
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| DsnError::Syntax("unclosed [ in host".into()))?;
            (h.to_string(), after.strip_prefix(':').map(str::to_string))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (hostport.to_string(), None),
            }
        };
        if !host.is_empty() {
            out.insert("host".into(), percent_decode(&host)?);
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            out.insert("port".into(), p);
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.insert("dbname".into(), percent_decode(db)?);
    }
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| DsnError::Syntax(format!("query parameter {pair:?} has no value")))?;
        let (k, v) = (percent_decode(k)?, percent_decode(v)?);
        // libpq's JDBC-style alias.
        if k == "ssl" && v == "true" {
            out.insert("sslmode".into(), "require".into());
            continue;
        }
        check_key(&k, true)?;
        out.insert(k, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_with_quotes() {
        let p =
            parse("host=/tmp/s port=5433 dbname='my db' user=o\\'k sslmode=verify-full").unwrap();
        assert_eq!(p["host"], "/tmp/s");
        assert_eq!(p["port"], "5433");
        assert_eq!(p["dbname"], "my db");
        assert_eq!(p["user"], "o'k");
        assert_eq!(p["sslmode"], "verify-full");
    }

    #[test]
    fn uri_forms() {
        let p = parse(
            "postgresql://odoo@db.example.com:6432/prod?sslmode=require&sslrootcert=%2Fca.pem",
        )
        .unwrap();
        assert_eq!(p["user"], "odoo");
        assert_eq!(p["host"], "db.example.com");
        assert_eq!(p["port"], "6432");
        assert_eq!(p["dbname"], "prod");
        assert_eq!(p["sslrootcert"], "/ca.pem");
        let p = parse("postgres://%2Fvar%2Frun%2Fpostgresql/x").unwrap();
        assert_eq!(p["host"], "/var/run/postgresql");
        let p = parse("postgresql://u:secret@[::1]:5432").unwrap();
        assert_eq!(p["host"], "::1");
        assert_eq!(p["password"], "secret");
    }

    #[test]
    fn unknown_and_unused_keys_are_refused_never_ignored() {
        let e = parse("host=db sslmod=require").unwrap_err().to_string();
        assert_eq!(
            e,
            "--dsn: invalid connection option \"sslmod\": did you mean sslmode?"
        );
        let e = parse("postgresql://db/prod?sslmode=require&sslrootcrt=/ca.pem")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--dsn: invalid URI query parameter \"sslrootcrt\": did you mean sslrootcert?"
        );
        let e = parse("host=db frobnicate=1").unwrap_err().to_string();
        assert!(e.contains("\"frobnicate\": use host, port"), "{e}");
        let e = parse("host=db hostaddr=10.0.0.1").unwrap_err().to_string();
        assert!(
            e.contains("\"hostaddr\" is a libpq setting upgrade-pilot does not use"),
            "{e}"
        );
        assert_eq!(
            parse("postgresql://db?ssl=true").unwrap()["sslmode"],
            "require"
        );
    }

    #[test]
    fn errors_are_reported() {
        assert!(parse("host").is_err());
        assert!(parse("host='x").is_err());
    }
}

//! What an imported plain SQL dump may not contain. psql runs the dump as a
//! role that owns production (or a superuser) while production is frozen,
//! and a frozen database can still be dropped: a line `DROP DATABASE prod;`,
//! `\connect postgres`, or a shell escape `\! …` would act outside the working
//! copy. pg_dump never writes these for one database (no `-C`, no
//! `pg_dumpall`), so the dump is cut off at the first one, before psql gets it.
//! Not a sandbox: SQL can still reach out in ways a line cannot show (an
//! extension such as dblink); a dump is trusted as code is.

use std::io::{self, BufRead, Read};

/// Statements that act on the cluster, not on the database being restored:
/// the first two words of a statement, upper case.
const CLUSTER_STATEMENTS: [(&str, &str); 9] = [
    ("DROP", "DATABASE"),
    ("ALTER", "DATABASE"),
    ("CREATE", "DATABASE"),
    ("ALTER", "SYSTEM"),
    ("DROP", "ROLE"),
    ("ALTER", "ROLE"),
    ("CREATE", "ROLE"),
    ("ALTER", "USER"),
    ("CREATE", "USER"),
];

/// psql meta-commands recent pg_dump versions write (16.10, 17.6 and later).
const ALLOWED_META: [&str; 2] = ["\\restrict", "\\unrestrict"];

/// A reader of a dump that fails (`InvalidData`, naming the line) at the first
/// line that is not for the database being restored; what comes before it is
/// passed through unchanged.
pub struct SqlGuard<R> {
    input: io::BufReader<R>,
    line: Vec<u8>,
    pos: usize,
    number: usize,
    in_copy: bool,
    /// The first two words of the statement being read (upper case).
    words: Vec<String>,
}

impl<R: Read> SqlGuard<R> {
    pub fn new(input: R) -> Self {
        SqlGuard {
            input: io::BufReader::with_capacity(1 << 16, input),
            line: Vec::new(),
            pos: 0,
            number: 0,
            in_copy: false,
            words: Vec::new(),
        }
    }
}

fn refused(number: usize, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("line {number}: {what}, which a pg_dump of one database never holds"),
    )
}

impl<R> SqlGuard<R> {
    /// Checks the next line in the reader's state; the reason it is refused.
    fn check(&mut self, raw: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_end_matches(['\n', '\r']);
        if self.in_copy {
            // COPY data: values, never commands, up to the end marker.
            self.in_copy = line != "\\.";
            return None;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('\\') {
            let cmd = trimmed.split_whitespace().next().unwrap_or(trimmed);
            if ALLOWED_META.contains(&cmd) {
                return None;
            }
            return Some(format!("the psql meta-command {cmd}"));
        }
        // Leading comments are no statement.
        let mut code = trimmed;
        while let Some(rest) = code.strip_prefix("/*") {
            code = rest
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        }
        if code.is_empty() || code.starts_with("--") {
            return None;
        }
        let upper = code.to_ascii_uppercase();
        let room = 2 - self.words.len().min(2);
        self.words.extend(
            upper
                .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
                .filter(|w| !w.is_empty())
                .take(room)
                .map(String::from),
        );
        let ends = code.trim_end().ends_with(';');
        let first = self.words.first().map(String::as_str);
        let mut why = None;
        if self.words.len() == 2 || ends {
            let pair = (
                first.unwrap_or(""),
                self.words.get(1).map_or("", |w| w.as_str()),
            );
            if CLUSTER_STATEMENTS.contains(&pair) {
                why = Some(format!("a {} {} statement", pair.0, pair.1));
            }
        }
        if first == Some("COPY") {
            if upper.split_whitespace().any(|w| w == "PROGRAM") {
                why = Some("a COPY to or from a program".into());
            }
            // pg_dump's data follows the statement that ends `FROM stdin;`.
            self.in_copy = ends && upper.contains("FROM STDIN");
        }
        if ends {
            self.words.clear();
        }
        why
    }
}

impl<R: Read> Read for SqlGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.line.len() {
            self.line.clear();
            self.pos = 0;
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(0);
            }
            self.number += 1;
            let raw = std::mem::take(&mut self.line);
            let why = self.check(&raw);
            self.line = raw;
            if let Some(why) = why {
                self.line.clear();
                return Err(refused(self.number, why));
            }
        }
        let n = buf.len().min(self.line.len() - self.pos);
        buf[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Result<String, String> {
        let mut out = String::new();
        SqlGuard::new(sql.as_bytes())
            .read_to_string(&mut out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_dump_passes_unchanged() {
        let dump = "\\restrict abc\nSET statement_timeout = 0;\nCREATE TABLE public.t (\n    id integer,\n    note text\n);\n\
                    COPY public.t (id, note) FROM stdin;\n1\t\\\\connect inside data\n2\t\\N\n\\.\n\
                    CREATE FUNCTION f() RETURNS void AS $$\nBEGIN\n  DROP TABLE x;\nEND $$ LANGUAGE plpgsql;\n\\unrestrict abc\n";
        assert_eq!(run(dump).unwrap(), dump);
    }

    /// The plain dumps among the real Odoo fixtures (pg_dump 13 to 18, with
    /// `\restrict`) go through whole.
    #[test]
    fn real_odoo_dumps_pass() {
        let Some(dir) = std::env::var_os("UPGRADE_PILOT_FIXTURES") else {
            eprintln!("skipped: UPGRADE_PILOT_FIXTURES is not set");
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let mut seen = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let input: Box<dyn Read> = if name.ends_with(".sql.gz") {
                Box::new(flate2::read::GzDecoder::new(
                    std::fs::File::open(&p).unwrap(),
                ))
            } else if name.ends_with("_backup.zip") {
                let mut z = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
                let mut sql = Vec::new();
                z.by_name("dump.sql")
                    .unwrap()
                    .read_to_end(&mut sql)
                    .unwrap();
                Box::new(std::io::Cursor::new(sql))
            } else {
                continue;
            };
            let n = std::io::copy(&mut SqlGuard::new(input), &mut std::io::sink())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(n > 0, "{name}");
            seen += 1;
        }
        assert!(seen >= 3, "the zips and the .sql.gz: {seen}");
    }

    #[test]
    fn cluster_statements_and_meta_commands_are_cut_off_before_them() {
        for (sql, line, what) in [
            ("SELECT 1;\nDROP DATABASE \"prod\";\n", 2, "DROP DATABASE"),
            ("select 1;\n  drop\n  database prod;\n", 3, "DROP DATABASE"),
            (
                "/* x */ ALTER DATABASE prod RENAME TO y;\n",
                1,
                "ALTER DATABASE",
            ),
            ("CREATE ROLE boss SUPERUSER;\n", 1, "CREATE ROLE"),
            ("\\! touch /tmp/x\n", 1, "\\!"),
            ("\\connect postgres\n", 1, "\\connect"),
            ("COPY t FROM PROGRAM 'sh -c id';\n", 1, "program"),
            ("COPY t FROM stdin;\n1\n\\.\n\\c postgres\n", 4, "\\c"),
        ] {
            let e = run(sql).unwrap_err();
            assert!(
                e.contains(&format!("line {line}:")) && e.contains(what),
                "{sql:?}: {e}"
            );
        }
    }
}

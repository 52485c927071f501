//! Plan SQL files cut into statements, as psql cuts them: semicolons inside
//! strings, quoted names, comments, dollar quotes, parentheses and SQL-standard
//! function bodies (`BEGIN ATOMIC … END`) do not end a statement. Each file runs
//! in one transaction, so a statement that ends or opens one (COMMIT, ROLLBACK,
//! BEGIN, SAVEPOINT…) is refused before anything runs; and a statement run
//! alone gives an error a line to point at.
//!
//! Hand-written rather than a SQL parser crate: a full parser refuses valid
//! PostgreSQL it does not know, while here only the lexical rules matter.

/// One statement of a file: its text (through the `;`), byte offset and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub text: &'a str,
    pub offset: usize,
    /// 1-based line where the statement's first word is.
    pub line: usize,
    /// Its first two words, lower case (for the transaction-control check).
    words: [String; 2],
}

impl Statement<'_> {
    /// The transaction-control command this statement is, if it is one.
    pub fn transaction_control(&self) -> Option<&'static str> {
        let [w1, w2] = &self.words;
        Some(match (w1.as_str(), w2.as_str()) {
            ("begin", _) => "BEGIN",
            ("start", "transaction") => "START TRANSACTION",
            ("commit", _) => "COMMIT",
            ("end", _) => "END",
            ("rollback", _) => "ROLLBACK",
            ("abort", _) => "ABORT",
            ("savepoint", _) => "SAVEPOINT",
            ("release", _) => "RELEASE",
            ("prepare", "transaction") => "PREPARE TRANSACTION",
            _ => return None,
        })
    }

    /// The file line of a 1-based character position in `text` (what the
    /// server reports), or the statement's line without one.
    pub fn line_at(&self, position: Option<usize>) -> usize {
        match position {
            Some(p) if p > 0 => {
                self.line + self.text.chars().take(p - 1).filter(|c| *c == '\n').count()
            }
            _ => self.line,
        }
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// `$tag$` starting at `i`, if there is one (`$1` is a parameter, not a quote).
fn dollar_tag(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < s.len() && s[j] == b'$' {
        return Some(2);
    }
    if j >= s.len() || !is_ident_start(s[j]) {
        return None;
    }
    while j < s.len() && (is_ident_start(s[j]) || s[j].is_ascii_digit()) {
        j += 1;
    }
    (j < s.len() && s[j] == b'$').then_some(j + 1 - i)
}

/// The file's statements, in order; empty ones (`;;`, comments only) left out.
pub fn split(text: &str) -> Vec<Statement<'_>> {
    let s = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // The statement being read.
    let mut start: Option<(usize, usize)> = None;
    let mut words: Vec<String> = Vec::new();
    let (mut parens, mut begins) = (0i32, 0i32);
    let newlines = |from: usize, to: usize| s[from..to].iter().filter(|b| **b == b'\n').count();
    while i < s.len() {
        let b = s[i];
        let next = s.get(i + 1).copied();
        if b.is_ascii_whitespace() {
            if b == b'\n' {
                line += 1;
            }
            i += 1;
            continue;
        }
        if b == b'-' && next == Some(b'-') {
            while i < s.len() && s[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b == b'/' && next == Some(b'*') {
            let (from, mut depth) = (i, 0);
            while i < s.len() {
                if s[i] == b'/' && s.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == b'*' && s.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += newlines(from, i.min(s.len()));
            continue;
        }
        if start.is_none() {
            start = Some((i, line));
        }
        let from = i;
        match b {
            b';' if parens <= 0 && begins <= 0 => {
                end_statement(&mut out, text, &mut start, &mut words, i + 1);
                parens = 0;
                begins = 0;
                i += 1;
            }
            b'(' => {
                parens += 1;
                i += 1;
            }
            b')' => {
                parens -= 1;
                i += 1;
            }
            b'\'' => i = skip_string(s, i, false),
            b'"' => {
                i += 1;
                while i < s.len() {
                    if s[i] == b'"' {
                        if s.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b'$' => match dollar_tag(s, i) {
                Some(n) => {
                    let tag = &s[i..i + n];
                    i += n;
                    while i < s.len() && !s[i..].starts_with(tag) {
                        i += 1;
                    }
                    i = (i + n).min(s.len());
                }
                None => i += 1,
            },
            b if b.is_ascii_digit() => {
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'.' || s[i] == b'_')
                {
                    i += 1;
                }
            }
            b if is_ident_start(b) => {
                while i < s.len() && is_ident_cont(s[i]) {
                    i += 1;
                }
                let word = text[from..i].to_ascii_lowercase();
                // E'…' is the one string with backslash escapes.
                if word == "e" && s.get(i) == Some(&b'\'') {
                    i = skip_string(s, i, true);
                } else {
                    words.push(word);
                    track_begin_end(&words, parens, &mut begins);
                }
            }
            _ => i += 1,
        }
        line += newlines(from, i.min(s.len()));
    }
    end_statement(&mut out, text, &mut start, &mut words, s.len());
    out
}

fn end_statement<'a>(
    out: &mut Vec<Statement<'a>>,
    text: &'a str,
    start: &mut Option<(usize, usize)>,
    words: &mut Vec<String>,
    end: usize,
) {
    if let Some((off, line)) = start.take() {
        let mut w = words.drain(..).take(2);
        let words = [w.next().unwrap_or_default(), w.next().unwrap_or_default()];
        out.push(Statement {
            text: &text[off..end],
            offset: off,
            line,
            words,
        });
    }
    words.clear();
}

/// psql's rule: in CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN (and CASE
/// inside it) opens a block that END closes, and `;` inside does not end it.
fn track_begin_end(words: &[String], parens: i32, begins: &mut i32) {
    let w = |n: usize| words.get(n).map(String::as_str);
    let routine = |n: usize| matches!(w(n), Some("function" | "procedure"));
    let is_routine = w(0) == Some("create")
        && (routine(1) || (w(1) == Some("or") && w(2) == Some("replace") && routine(3)));
    if !is_routine || parens != 0 || words.len() < 2 {
        return;
    }
    match words.last().map(String::as_str) {
        Some("begin") => *begins += 1,
        Some("case") if *begins >= 1 => *begins += 1,
        Some("end") if *begins > 0 => *begins -= 1,
        _ => {}
    }
}

/// Past the string opening at `i`: `''` is a quote; with `escapes`, so is `\'`.
fn skip_string(s: &[u8], mut i: usize, escapes: bool) -> usize {
    i += 1;
    while i < s.len() {
        match s[i] {
            b'\\' if escapes => i += 2,
            b'\'' if s.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// The first transaction-control statement of a file: (line, command).
pub fn find_transaction_control(text: &str) -> Option<(usize, &'static str)> {
    split(text)
        .iter()
        .find_map(|st| st.transaction_control().map(|k| (st.line, k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).iter().map(|s| s.text).collect()
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_bodies_do_not_split() {
        let sql = "SELECT 'a;b', \"x;y\", E'it\\'s;' -- c;\n;\n\
                   /* a /* nested; */ c; */ SELECT 2;\n\
                   DO $body$ BEGIN PERFORM 1; COMMIT; END $body$;\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n\
                   CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);\n\
                   SELECT $1, a$b FROM t";
        let t = texts(sql);
        assert_eq!(t.len(), 6, "{t:#?}");
        assert!(t[0].starts_with("SELECT 'a;b'") && t[0].ends_with(';'));
        assert_eq!(t[1], "SELECT 2;");
        assert!(t[2].starts_with("DO $body$") && t[2].ends_with("$body$;"));
        assert!(t[3].ends_with("SELECT 2; END;"));
        assert!(t[4].ends_with("SELECT 2);"));
        assert_eq!(t[5], "SELECT $1, a$b FROM t");
        assert_eq!(find_transaction_control(sql), None);
    }

    #[test]
    fn transaction_control_is_found_with_its_line() {
        let cases = [
            ("UPDATE t SET a = 1;\nCOMMIT;\n", 2, "COMMIT"),
            ("-- begin;\n/* commit; */\nbegin;", 3, "BEGIN"),
            (
                "SELECT 1;\n\n  Start   Transaction;",
                3,
                "START TRANSACTION",
            ),
            ("SELECT 'x\n;\n';\nEND;", 4, "END"),
            ("SAVEPOINT a;", 1, "SAVEPOINT"),
            ("SELECT 1; ROLLBACK TO SAVEPOINT a;", 1, "ROLLBACK"),
            ("RELEASE SAVEPOINT a;", 1, "RELEASE"),
            ("abort", 1, "ABORT"),
            ("PREPARE TRANSACTION 'x';", 1, "PREPARE TRANSACTION"),
            ("SELECT $$\n;$$;\ncommit", 3, "COMMIT"),
        ];
        for (sql, line, kw) in cases {
            assert_eq!(find_transaction_control(sql), Some((line, kw)), "{sql:?}");
        }
        for ok in [
            "PREPARE q AS SELECT 1;",
            "SELECT 'commit;'; -- rollback;",
            "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;",
            "SELECT 1 AS begin_at, e'\\';commit;' AS x;",
            "start_at;",
        ] {
            assert_eq!(find_transaction_control(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn an_error_position_becomes_a_file_line() {
        let sql = "-- header\nSELECT 1;\n\nUPDATE t\n   SET a = 1/0\n WHERE x;";
        let st = split(sql);
        assert_eq!(st.len(), 2);
        assert_eq!((st[0].line, st[1].line), (2, 4));
        let pos = st[1].text.find("1/0").unwrap() + 1;
        assert_eq!(st[1].line_at(Some(pos)), 5);
        assert_eq!(st[1].line_at(None), 4);
    }
}

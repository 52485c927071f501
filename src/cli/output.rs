//! Writing to stdout/stderr without ever panicking on a closed terminal (an SSH
//! drop must not kill a running job).

use std::io::Write;

pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
}

pub fn err(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

pub fn json(value: &serde_json::Value) {
    out(&serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into()));
}

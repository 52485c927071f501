//! Reading the log of an OpenUpgrade hop (`odoo-bin -u all` with the framework
//! loaded) as it streams: module progress, migration scripts, and the lines that
//! say something went wrong, grouped by the module being loaded at the time.
//!
//! Line format (all versions): `DATE TIME PID LEVEL DB LOGGER: MESSAGE`. Lines
//! that do not match (tracebacks, multi-line SQL) continue the previous entry.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub level: &'a str,
    pub db: &'a str,
    pub logger: &'a str,
    pub message: &'a str,
}

const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// `2026-12-01 05:59:56,311 32636 INFO u16copy odoo.modules.loading: Loading module base (1/1)`.
pub fn parse_line(line: &str) -> Option<Entry<'_>> {
    let mut rest = line;
    let mut field = || {
        let r = rest.trim_start_matches(' ');
        let end = r.find(' ')?;
        let (f, tail) = r.split_at(end);
        rest = tail;
        Some(f)
    };
    let date = field()?;
    let time = field()?;
    let pid = field()?;
    let level = field()?;
    let db = field()?;
    let ok = date.len() == 10
        && date.as_bytes()[4] == b'-'
        && time.contains(':')
        && pid.bytes().all(|b| b.is_ascii_digit())
        && LEVELS.contains(&level);
    if !ok {
        return None;
    }
    let r = rest.trim_start_matches(' ');
    let (logger, message) = r.split_once(": ")?;
    Some(Entry {
        level,
        db,
        logger,
        message: message.trim_end(),
    })
}

/// `Loading module sale (12/40)` → ("sale", 12, 40).
pub fn loading_module(message: &str) -> Option<(&str, u32, u32)> {
    let rest = message.strip_prefix("Loading module ")?;
    let (name, counts) = rest.split_once(" (")?;
    let (n, m) = counts.strip_suffix(')')?.split_once('/')?;
    let (n, m) = (n.trim().parse().ok()?, m.trim().parse().ok()?);
    (m > 0).then_some((name, n, m))
}

/// What went wrong while one module was loaded (or before any, `module` None).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub module: Option<String>,
    /// ERROR or CRITICAL.
    pub level: String,
    /// The log entry and its continuation lines (a traceback), capped.
    pub lines: Vec<String>,
}

/// Lines kept per issue: enough for a traceback's head and its last line.
const ISSUE_LINES: usize = 40;

/// The state of a hop as its log streams by.
#[derive(Debug, Clone)]
pub struct HopLog {
    started: Instant,
    /// The module being loaded now.
    pub module: Option<String>,
    /// Index and count of the last `Loading module` line of the main pass.
    pub done: u32,
    pub total: u32,
    main_pass_started: Option<(Instant, u32)>,
    pub migrations: u32,
    pub warnings: u32,
    pub errors: u32,
    pub modules_loaded: bool,
    /// `Failed to load registry`, `inconsistent states`, CRITICAL: the hop failed.
    pub fatal: Vec<String>,
    pub issues: Vec<Issue>,
    /// The previous entry was ERROR/CRITICAL: continuation lines belong to it.
    in_issue: bool,
}

/// What a line changed, for the front ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Nothing,
    Module { name: String, n: u32, m: u32 },
    Migration { module: String, stage: String },
    Issue,
}

impl Default for HopLog {
    fn default() -> Self {
        Self::new()
    }
}

impl HopLog {
    pub fn new() -> Self {
        HopLog {
            started: Instant::now(),
            module: None,
            done: 0,
            total: 0,
            main_pass_started: None,
            migrations: 0,
            warnings: 0,
            errors: 0,
            modules_loaded: false,
            fatal: Vec::new(),
            issues: Vec::new(),
            in_issue: false,
        }
    }

    pub fn feed(&mut self, line: &str) -> Seen {
        let Some(e) = parse_line(line) else {
            if (self.in_issue || line.starts_with("Traceback ")) && !line.trim().is_empty() {
                if !self.in_issue {
                    self.start_issue("ERROR", line);
                } else if let Some(last) = self.issues.last_mut() {
                    if last.lines.len() < ISSUE_LINES {
                        last.lines.push(line.trim_end().to_string());
                    } else if let Some(l) = last.lines.last_mut() {
                        // Keep the exception line, which comes last.
                        *l = line.trim_end().to_string();
                    }
                }
                return Seen::Issue;
            }
            return Seen::Nothing;
        };
        self.in_issue = false;
        if let Some((name, n, m)) = loading_module(e.message) {
            self.module = Some(name.to_string());
            // The first pass loads base alone (1/1); the main pass counts all.
            if m > 1 || self.total <= 1 {
                if self.main_pass_started.is_none() && m > 1 {
                    self.main_pass_started = Some((Instant::now(), n));
                }
                if m >= self.total || n >= self.done {
                    self.done = n;
                    self.total = m;
                }
            }
            return Seen::Module {
                name: name.to_string(),
                n,
                m,
            };
        }
        let fatal = e.message.contains("Failed to load registry")
            || e.message.contains("Some modules have inconsistent states")
            || e.message.starts_with("Failed to initialize database")
            || e.level == "CRITICAL";
        if fatal {
            self.fatal.push(e.message.chars().take(300).collect());
        }
        match e.level {
            "ERROR" | "CRITICAL" => {
                self.errors += 1;
                self.start_issue(e.level, line);
                return Seen::Issue;
            }
            "WARNING" => self.warnings += 1,
            _ => {}
        }
        if e.logger == "odoo.modules.loading" {
            if e.message.starts_with("Modules loaded.") {
                self.modules_loaded = true;
            }
            // `96 modules loaded in 65.2s`: the pass is over; what follows
            // (obsolete records' cleanup) belongs to no module.
            if e.message.split_once(" modules loaded in ").is_some() {
                self.module = None;
            }
        }
        if e.logger == "odoo.modules.migration" {
            // `module mail: Running migration [>17.0.1.15] pre-migration` (≤18),
            // `Running upgrade` from 19.0.
            if let Some(rest) = e.message.strip_prefix("module ") {
                if let Some((module, what)) = rest.split_once(": ") {
                    if what.starts_with("Running migration") || what.starts_with("Running upgrade")
                    {
                        self.migrations += 1;
                        let stage = what.rsplit(' ').next().unwrap_or_default().to_string();
                        return Seen::Migration {
                            module: module.to_string(),
                            stage,
                        };
                    }
                }
            }
        }
        Seen::Nothing
    }

    fn start_issue(&mut self, level: &str, line: &str) {
        self.in_issue = true;
        self.issues.push(Issue {
            module: self.module.clone(),
            level: level.to_string(),
            lines: vec![line.trim_end().to_string()],
        });
    }

    /// Fraction of the main pass done.
    pub fn fraction(&self) -> Option<f64> {
        (self.total > 1).then(|| self.done as f64 / self.total as f64)
    }

    /// Time left at the main pass's module rate so far.
    pub fn eta(&self) -> Option<Duration> {
        let (t0, n0) = self.main_pass_started?;
        let done = self.done.checked_sub(n0)?;
        if done == 0 || self.total <= self.done {
            return None;
        }
        let per = t0.elapsed().as_secs_f64() / done as f64;
        Some(Duration::from_secs_f64(
            per * (self.total - self.done) as f64,
        ))
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Issues grouped by module, in the order modules first went wrong.
    pub fn by_module(&self) -> Vec<(Option<String>, Vec<&Issue>)> {
        let mut out: Vec<(Option<String>, Vec<&Issue>)> = Vec::new();
        for i in &self.issues {
            match out.iter_mut().find(|(m, _)| *m == i.module) {
                Some((_, v)) => v.push(i),
                None => out.push((i.module.clone(), vec![i])),
            }
        }
        out
    }
}

/// `12m 05s`, `45s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_line_format() {
        let e = parse_line("2026-12-01 05:59:56,311 32636 INFO u16copy odoo.modules.loading: Loading module base (1/1) ").unwrap();
        assert_eq!(
            (e.level, e.db, e.logger, e.message),
            (
                "INFO",
                "u16copy",
                "odoo.modules.loading",
                "Loading module base (1/1)"
            )
        );
        assert_eq!(loading_module(e.message), Some(("base", 1, 1)));
        let e =
            parse_line("2026-12-01 05:59:55,498 32636 INFO ? odoo: Odoo version 17.0 ").unwrap();
        assert_eq!((e.db, e.logger), ("?", "odoo"));
        assert!(parse_line("        ALTER TABLE ir_act_server").is_none());
        assert!(parse_line("Running as user 'root' is a security risk.").is_none());
    }

    #[test]
    fn tracebacks_follow_their_error_and_group_by_module() {
        let mut h = HopLog::new();
        for l in [
            "2026-12-01 06:00:03,066 1 INFO db odoo.modules.loading: Loading module social_media (2/3)",
            "2026-12-01 06:00:03,124 1 INFO db odoo.modules.loading: Loading module acme_rules (3/3)",
            "2026-12-01 06:00:03,200 1 ERROR db OpenUpgrade: acme_rules: error in migration script post-migration.py: boom",
            "Traceback (most recent call last):",
            "  File \"x.py\", line 1, in <module>",
            "psycopg2.errors.UndefinedColumn: column \"x\" does not exist",
            "2026-12-01 06:00:03,300 1 ERROR db odoo.modules.registry: Failed to load registry",
            "2026-12-01 06:00:03,301 1 CRITICAL db odoo.service.server: Failed to initialize database `db`.",
        ] {
            h.feed(l);
        }
        assert_eq!((h.done, h.total), (3, 3));
        assert_eq!(h.errors, 3);
        assert_eq!(h.fatal.len(), 2, "{:?}", h.fatal);
        let g = h.by_module();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].0.as_deref(), Some("acme_rules"));
        assert_eq!(g[0].1[0].lines.len(), 4, "the traceback joins its error");
        assert!(g[0].1[0].lines[3].contains("UndefinedColumn"));
    }

    /// The real 16.0 → 17.0 hop (../shared/fixtures): 96 modules, migrations, no errors.
    #[test]
    fn the_real_hop_log() {
        let Some(dir) = std::env::var_os("UPGRADE_PILOT_FIXTURES") else {
            eprintln!("skipped: UPGRADE_PILOT_FIXTURES not set");
            return;
        };
        let path = std::path::Path::new(&dir).join("odoo16_real_openupgrade_17.log.gz");
        let f = std::fs::File::open(&path).expect("fixture log");
        let text = {
            use std::io::Read;
            let mut s = String::new();
            flate2::read::GzDecoder::new(f)
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        let mut h = HopLog::new();
        let mut modules = 0;
        for l in text.lines() {
            if let Seen::Module { .. } = h.feed(l) {
                modules += 1;
            }
        }
        assert_eq!(modules, 96);
        assert_eq!((h.done, h.total), (96, 96));
        assert!(h.modules_loaded);
        assert!(h.migrations > 50, "{}", h.migrations);
        assert!(h.warnings > 30, "{}", h.warnings);
        // Eight recoverable errors: demo partners OpenUpgrade could not delete
        // after loading (still referenced), each with PostgreSQL's detail.
        assert_eq!(h.errors, 8);
        assert!(h.fatal.is_empty());
        let g = h.by_module();
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].0, None, "after the loading pass, no module");
        assert_eq!(g[0].1.len(), 8);
        assert!(g[0].1[0].lines[0].contains("bad query: DELETE FROM \"res_partner\""));
        assert!(
            g[0].1[0].lines[2].starts_with("DETAIL:"),
            "{:?}",
            g[0].1[0].lines
        );
    }
}

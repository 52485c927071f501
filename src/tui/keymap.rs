//! The key table: one place that says which keys work on which screen. The
//! footer and the `?` help are generated from it, so they cannot disagree.

use super::app::Screen;

pub struct Binding {
    pub keys: &'static str,
    pub action: &'static str,
}

const fn b(keys: &'static str, action: &'static str) -> Binding {
    Binding { keys, action }
}

pub const GLOBAL: &[Binding] = &[
    b("?", "help"),
    b("i", "walkthrough"),
    b("Esc", "back"),
    b("q", "quit"),
];
/// The global keys the footer has room for; `?` lists them all.
pub const FOOTER_GLOBAL: &[Binding] = &[b("?", "help"), b("q", "quit")];
const REQUEST: &[Binding] = &[
    b("j/k", "db"),
    b("h/l", "target"),
    b("Enter", "test"),
    b("r", "reload"),
    b("c/a/f", "steps 4/5/7"),
];
const WAIT: &[Binding] = &[
    b("PgUp/PgDn", "scroll log"),
    b("c", "cancel job"),
    b("Esc", "request"),
];
const READY: &[Binding] = &[
    b("c", "checklist"),
    b("a", "anomalies"),
    b("t", "new test"),
    b("f", "freeze"),
    b("n", "request"),
];
const CHECKLIST: &[Binding] = &[
    b("Spc", "pass"),
    b("f", "fail"),
    b("s", "skip"),
    b("n", "note"),
    b("/", "find"),
    b("a", "anomaly"),
    b("t", "retest"),
];
const ANOMALIES: &[Binding] = &[
    b("n", "new"),
    b("Enter", "edit"),
    b("x", "status"),
    b("e", "export"),
    b("c", "checklist"),
    b("t", "retest"),
];
const FORM: &[Binding] = &[
    b("Tab", "next field"),
    b("Ctrl-S", "save"),
    b("Esc", "cancel"),
];
const FREEZE: &[Binding] = &[
    b("Enter", "freeze now / upgrade"),
    b("s", "schedule"),
    b("x", "unschedule"),
    b("r", "refresh"),
];
const RESTORE: &[Binding] = &[
    b("Enter", "swap into place"),
    b("R", "roll back"),
    b("r", "refresh"),
];

pub fn screen(s: Screen) -> &'static [Binding] {
    match s {
        Screen::Request => REQUEST,
        Screen::Wait => WAIT,
        Screen::Ready => READY,
        Screen::Checklist => CHECKLIST,
        Screen::Anomalies => ANOMALIES,
        Screen::AnomalyForm => FORM,
        Screen::Freeze => FREEZE,
        Screen::Restore => RESTORE,
    }
}

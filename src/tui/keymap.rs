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
    b("j/k", "database"),
    b("h/l", "target"),
    b("Enter", "start test"),
    b("r", "reload"),
];
const WAIT: &[Binding] = &[
    b("PgUp/PgDn", "scroll log"),
    b("c", "cancel job"),
    b("Esc", "request"),
];
const READY: &[Binding] = &[b("n/Enter", "new test request"), b("Esc", "job log")];

pub fn screen(s: Screen) -> &'static [Binding] {
    match s {
        Screen::Request => REQUEST,
        Screen::Wait => WAIT,
        Screen::Ready => READY,
    }
}

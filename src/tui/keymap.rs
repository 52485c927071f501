//! The key table: one place that says which keys work on which screen. The
//! footer and the `?` help are generated from it, so they cannot disagree.

pub struct Binding {
    pub keys: &'static str,
    pub action: &'static str,
}

impl Binding {
    pub const fn new(keys: &'static str, action: &'static str) -> Binding {
        Binding { keys, action }
    }
}

const fn b(keys: &'static str, action: &'static str) -> Binding {
    Binding::new(keys, action)
}

pub const GLOBAL: &[Binding] = &[
    b("?", "help"),
    b("i", "walkthrough"),
    b("Esc", "back"),
    b("q", "quit"),
];
/// The global keys the footer has room for; `?` lists them all.
pub const FOOTER_GLOBAL: &[Binding] = &[b("?", "help"), b("q", "quit")];

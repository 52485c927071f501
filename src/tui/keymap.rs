//! The key table: each screen (and the global keys, and each overlay) has
//! one table of entries. A key resolves to an action only through its table;
//! the footer, the `?` help and the key hints inside the screens are drawn
//! from the same entries, so what is shown is what works.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::text::{Line, Span};

use super::theme::Theme;

/// One key: a code, with or without Ctrl (Shift is in the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn ch(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }

    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// It types nothing: it still works while text is typed (F1, Ctrl-C, Esc).
    pub fn types_nothing(&self) -> bool {
        self.ctrl || !matches!(self.code, KeyCode::Char(_))
    }

    pub fn matches(&self, k: &KeyEvent) -> bool {
        self.code == k.code && self.ctrl == k.modifiers.contains(KeyModifiers::CONTROL)
    }

    /// How the help writes it.
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Spc".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Backspace => "Bksp".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{}", base.to_uppercase())
        } else {
            base
        }
    }
}

/// One line of a table: its keys and what each does, how the help and the
/// footer write them.
pub struct Entry<A: 'static> {
    /// Every key of the entry, as the help writes them ("j/k ↓/↑").
    pub keys: &'static str,
    /// What the entry does, as the help and the hints in a screen say it.
    pub desc: &'static str,
    /// The footer's short form ("j/k db"); empty: only in the help.
    pub foot: &'static str,
    pub bind: &'static [(Key, A)],
}

/// The action `k` stands for in `table`, if any.
pub fn resolve<A: Copy>(table: &[Entry<A>], k: &KeyEvent) -> Option<A> {
    table
        .iter()
        .flat_map(|e| e.bind.iter())
        .find(|(key, _)| key.matches(k))
        .map(|(_, a)| *a)
}

/// The entry that binds `action` (every action has one: a test checks it).
pub fn entry<A: PartialEq>(table: &'static [Entry<A>], action: A) -> Option<&'static Entry<A>> {
    table
        .iter()
        .find(|e| e.bind.iter().any(|(_, a)| *a == action))
}

/// The keys of `action` as the help writes them, for a hint in a screen.
pub fn keys_of<A: PartialEq>(table: &'static [Entry<A>], action: A) -> &'static str {
    entry(table, action).map(|e| e.keys).unwrap_or("")
}

/// A hint inside a screen: the keys of `action` and what the entry says.
pub fn hint_line<A: PartialEq>(
    table: &'static [Entry<A>],
    action: A,
    theme: &Theme,
) -> Line<'static> {
    let e = entry(table, action);
    Line::from(vec![
        Span::styled(e.map(|e| e.keys).unwrap_or(""), theme.key()),
        Span::raw(format!(" {}", e.map(|e| e.desc).unwrap_or(""))),
    ])
}

/// A table with its action type erased: what the footer and the help draw.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    pub keys: &'static str,
    pub desc: &'static str,
    pub foot: &'static str,
    /// None of its keys types a character: it works while text is typed.
    pub types_nothing: bool,
}

pub fn hints<A>(table: &'static [Entry<A>]) -> Vec<Hint> {
    table
        .iter()
        .map(|e| Hint {
            keys: e.keys,
            desc: e.desc,
            foot: e.foot,
            types_nothing: e.bind.iter().all(|(k, _)| k.types_nothing()),
        })
        .collect()
}

/// Every key bound in a table, with the entry's written keys (for the tests).
pub fn bound<A>(table: &'static [Entry<A>]) -> Vec<(Key, &'static str)> {
    table
        .iter()
        .flat_map(|e| e.bind.iter().map(move |(k, _)| (*k, e.keys)))
        .collect()
}

/// Keys that work on every screen (but while text is typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Global {
    Help,
    Walkthrough,
    Back,
    Quit,
    /// Go to step n (1–9) of the nine.
    Jump(usize),
}

pub const GLOBAL: &[Entry<Global>] = &[
    Entry {
        keys: "?",
        desc: "help: the keys of this screen",
        foot: "? help",
        bind: &[(Key::ch('?'), Global::Help)],
    },
    Entry {
        keys: "F1",
        desc: "help, also while typing",
        foot: "F1 help",
        bind: &[(Key::code(KeyCode::F(1)), Global::Help)],
    },
    Entry {
        keys: "i",
        desc: "walkthrough: what this step is, in plain words",
        foot: "",
        bind: &[(Key::ch('i'), Global::Walkthrough)],
    },
    Entry {
        keys: "Esc",
        desc: "back: to the screen you came from",
        foot: "",
        bind: &[(Key::code(KeyCode::Esc), Global::Back)],
    },
    Entry {
        keys: "1…9",
        desc: "go to that step (the stepper on top)",
        foot: "",
        bind: &[
            (Key::ch('1'), Global::Jump(1)),
            (Key::ch('2'), Global::Jump(2)),
            (Key::ch('3'), Global::Jump(3)),
            (Key::ch('4'), Global::Jump(4)),
            (Key::ch('5'), Global::Jump(5)),
            (Key::ch('6'), Global::Jump(6)),
            (Key::ch('7'), Global::Jump(7)),
            (Key::ch('8'), Global::Jump(8)),
            (Key::ch('9'), Global::Jump(9)),
        ],
    },
    Entry {
        keys: "q Ctrl-C",
        desc: "quit (asks first while a job runs here)",
        foot: "q quit",
        bind: &[(Key::ch('q'), Global::Quit), (Key::ctrl('c'), Global::Quit)],
    },
];

/// What is wrong with a table: an action of `A` with no key, a bound key
/// the help does not write, a key bound twice. Empty when the table is right
/// (a unit test runs it on every table).
pub fn problems<A>(table: &'static [Entry<A>]) -> Vec<String>
where
    A: strum::IntoEnumIterator + std::fmt::Debug,
{
    let mut out = Vec::new();
    for a in A::iter() {
        let d = std::mem::discriminant(&a);
        if !table
            .iter()
            .any(|e| e.bind.iter().any(|(_, b)| std::mem::discriminant(b) == d))
        {
            out.push(format!("the action {a:?} has no key"));
        }
    }
    let mut seen: Vec<Key> = Vec::new();
    for (k, written) in bound(table) {
        let n = k.name();
        let shown = written == n
            || written.split([' ', '/']).any(|w| w == n)
            || (written.contains('…') && matches!(k.code, KeyCode::Char('1'..='9')));
        if !shown {
            out.push(format!("{n} is bound but the help writes {written:?}"));
        }
        if seen.contains(&k) {
            out.push(format!("{n} is bound twice"));
        }
        seen.push(k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_keys_are_complete() {
        assert_eq!(problems(GLOBAL), Vec::<String>::new());
    }
}

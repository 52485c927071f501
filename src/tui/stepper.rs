//! The stepper on top: the nine steps, each marked done (✓), current (▶),
//! open or blocked (·: its digit says why). Names in full when the width
//! allows, short at 80 columns, numbers only below.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::App;
use super::screens::{self, Mark, STEPS};
use super::theme::Theme;

fn symbol(m: Mark) -> &'static str {
    match m {
        Mark::Done => "✓",
        Mark::Current => "▶",
        Mark::Open => " ",
        Mark::Blocked => "·",
    }
}

/// The labels of the nine steps that fit in `width` columns, with the separator.
pub fn labels(marks: &[Mark; 9], width: u16) -> (Vec<String>, &'static str) {
    let label = |n: usize, name: &str| format!("{}{} {name}", symbol(marks[n]), n + 1);
    let full: Vec<String> = STEPS
        .iter()
        .enumerate()
        .map(|(n, s)| label(n, s.0))
        .collect();
    let short: Vec<String> = STEPS
        .iter()
        .enumerate()
        .map(|(n, s)| label(n, s.1))
        .collect();
    let bare: Vec<String> = (0..9)
        .map(|n| match marks[n] {
            Mark::Current => label(n, STEPS[n].0),
            _ => format!("{}{}", symbol(marks[n]), n + 1),
        })
        .collect();
    let fits = |l: &[String], sep: &str| {
        let w: usize = l.iter().map(|s| s.chars().count()).sum::<usize>() + sep.len() * 8;
        w <= width as usize
    };
    for (l, sep) in [(&full, "  "), (&full, " "), (&short, "  "), (&short, " ")] {
        if fits(l, sep) {
            return (l.clone(), sep);
        }
    }
    (bare, " ")
}

pub fn view(app: &App, f: &mut Frame, area: Rect, theme: &Theme) {
    let marks: [Mark; 9] = std::array::from_fn(|i| screens::mark(app, i + 1));
    let (labels, sep) = labels(&marks, area.width);
    let mut spans = Vec::new();
    for (i, l) in labels.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(sep));
        }
        let style = match marks[i] {
            Mark::Done => theme.done(),
            Mark::Current => theme.current(),
            Mark::Open => Style::new(),
            Mark::Blocked => theme.todo(),
        };
        spans.push(Span::styled(l, style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_full_when_wide_short_at_80_numbers_below() {
        let mut marks = [Mark::Open; 9];
        marks[0] = Mark::Done;
        marks[3] = Mark::Current;
        marks[8] = Mark::Blocked;
        let line = |w| {
            let (l, sep) = labels(&marks, w);
            l.join(sep)
        };
        assert_eq!(
            line(110),
            "✓1 Request   2 Wait   3 Test db  ▶4 Checklist   5 Anomalies   6 Retest   7 Freeze   8 Production  ·9 Restore"
        );
        assert_eq!(
            line(80),
            "✓1 Req  2 Wait  3 Test ▶4 Check  5 Anom  6 Retest  7 Freeze  8 Prod ·9 Restore"
        );
        assert!(line(80).chars().count() <= 80);
        assert_eq!(line(40), "✓1  2  3 ▶4 Checklist  5  6  7  8 ·9");
    }
}

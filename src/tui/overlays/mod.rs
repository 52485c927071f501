//! What is drawn over a screen and takes the keys while it is up: the typed
//! prompt, the confirmations, the key help; and the walkthrough panel.

pub mod confirm;
pub mod help;
pub mod prompt;
pub mod walkthrough;

use ratatui::layout::Rect;

/// A `w`×`h` box in the middle of `area` (cut to fit).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

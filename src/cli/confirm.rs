//! Confirmation of destructive commands: asked on the terminal, refused without one.

use std::io::{BufRead, IsTerminal, Write};

use color_eyre::Result;
use color_eyre::eyre::bail;

pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} — no terminal to ask on: add --yes to confirm");
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        bail!("not confirmed: nothing was changed")
    }
}

//! Stop/start hooks around the freeze (e.g. `systemctl stop odoo`).

use std::process::Stdio;

use crate::engine::EngineError;

/// Runs `argv` (nothing when empty) and fails with its last output line.
pub async fn run(what: &str, argv: &[String]) -> Result<Option<String>, EngineError> {
    let Some((prog, args)) = argv.split_first() else {
        return Ok(None);
    };
    let out = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| EngineError::Preflight(format!("{what} hook {prog:?} cannot start: {e}")))?;
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    if !out.status.success() {
        return Err(EngineError::Preflight(format!(
            "{what} hook `{}` failed ({}): {last}",
            argv.join(" "),
            out.status
        )));
    }
    Ok(Some(argv.join(" ")))
}

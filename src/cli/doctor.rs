//! `upgrade-pilot doctor`: checks each configured Odoo (`[odoo."<series>"]`)
//! the way a hop would need it, one line per problem.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use color_eyre::Result;

use super::output::out;
use crate::engine::Engine;
use crate::engine::openupgrade::Install;

/// The Python packages OpenUpgrade's scripts import besides Odoo itself.
const PYTHON_PACKAGES: [&str; 1] = ["openupgradelib"];

pub async fn run(engine: &Engine) -> Result<i32> {
    let installs = &engine.config.odoo.installs;
    if installs.is_empty() {
        out(
            "no Odoo configured: add [odoo.\"<series>\"] with command, addons_path and openupgrade to the config (see config/upgrade-pilot.example.toml)",
        );
        return Ok(1);
    }
    let mut problems = 0;
    for (key, cfg) in installs {
        let install = match Install::resolve(key, cfg) {
            Ok(i) => i,
            Err(e) => {
                out(&format!("Odoo {key}: {e}"));
                problems += 1;
                continue;
            }
        };
        let mut found = install.static_problems(install.role(&engine.conn));
        found.extend(starts(&install).await);
        found.extend(python_packages(&install).await);
        for p in &found {
            out(&format!("Odoo {key}: {p}"));
        }
        if found.is_empty() {
            out(&format!(
                "Odoo {key}: ok ({} modules on {} addons folder(s), OpenUpgrade at {}, role {})",
                install.modules().len(),
                install.full_addons_path().len(),
                install
                    .openupgrade
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                install.role(&engine.conn)
            ));
        }
        problems += found.len();
    }
    Ok(if problems == 0 { 0 } else { 1 })
}

/// Runs `argv` with a time limit; (exit success, all output).
async fn output(argv: &[String], limit: Duration) -> std::result::Result<(bool, String), String> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(limit, cmd.output()).await {
        Err(_) => Err(format!("did not answer within {}s", limit.as_secs())),
        Ok(Err(e)) => Err(format!("cannot start: {e}")),
        Ok(Ok(o)) => Ok((
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )),
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// `odoo-bin --version` answers (it imports Odoo and its dependencies) with this series.
async fn starts(install: &Install) -> Vec<String> {
    let mut argv = install.command.clone();
    argv.push("--version".into());
    match output(&argv, Duration::from_secs(60)).await {
        Err(e) => vec![format!("{} {e}", argv.join(" "))],
        Ok((false, text)) => vec![format!("{} fails: {}", argv.join(" "), last_line(&text))],
        Ok((true, text)) => {
            // "Odoo Server 17.0"
            match text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Odoo Server "))
            {
                Some(v) if !v.trim().starts_with(&install.series.to_string()) => vec![format!(
                    "the program says it is Odoo {}, not {}",
                    v.trim(),
                    install.series
                )],
                _ => Vec::new(),
            }
        }
    }
}

/// The interpreter Odoo runs under: the command's python, or odoo-bin's shebang.
fn interpreter(install: &Install) -> Option<Vec<String>> {
    let first = install.command.first()?;
    let name = Path::new(first).file_name()?.to_string_lossy().into_owned();
    if name.starts_with("python") {
        return Some(vec![first.clone()]);
    }
    let text = std::fs::read(PathBuf::from(first)).ok()?;
    let line = text.split(|b| *b == b'\n').next()?;
    let shebang = std::str::from_utf8(line).ok()?.strip_prefix("#!")?;
    let parts: Vec<String> = shebang.split_whitespace().map(str::to_string).collect();
    (!parts.is_empty()).then_some(parts)
}

async fn python_packages(install: &Install) -> Vec<String> {
    let Some(py) = interpreter(install) else {
        return vec!["cannot tell which Python runs Odoo: give command = [\"<venv>/bin/python\", \"<odoo>/odoo-bin\"]".into()];
    };
    let mut out = Vec::new();
    for pkg in PYTHON_PACKAGES {
        let mut argv = py.clone();
        argv.extend(["-c".to_string(), format!("import {pkg}")]);
        match output(&argv, Duration::from_secs(30)).await {
            Ok((true, _)) => {}
            Ok((false, text)) => out.push(format!(
                "Python package {pkg} does not import in {} ({}): install it in Odoo's environment (pip install openupgradelib; OpenUpgrade advises its git master)",
                py.join(" "),
                last_line(&text)
            )),
            Err(e) => out.push(format!("{} {e}", py.join(" "))),
        }
    }
    out
}

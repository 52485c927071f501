//! `upgrade-pilot serve --db TESTDB`: the copy's Odoo on 127.0.0.1 until Ctrl-C.

use std::process::Stdio;
use std::time::Duration;

use color_eyre::Result;
use color_eyre::eyre::eyre;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::output::{err, out};
use crate::engine::Engine;

pub async fn run(engine: &Engine, db: &str, port: Option<u16>) -> Result<i32> {
    let plan = engine.serve_plan(db, port).await?;
    let mut cmd = tokio::process::Command::new(&plan.argv[0]);
    cmd.args(&plan.argv[1..])
        .envs(plan.env.iter().cloned())
        .stdin(Stdio::null());
    // Its own group: Ctrl-C reaches us, and we stop Odoo in order; a SIGKILL
    // of ours takes it along.
    crate::engine::child::die_with_us(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| eyre!("cannot start Odoo {} ({}): {e}", plan.series, plan.argv[0]))?;
    out(&format!(
        "serving {db:?} with Odoo {} at http://127.0.0.1:{}/web (Ctrl-C stops it)",
        plan.series, plan.port
    ));
    out(&format!(
        "  from your machine: {}",
        crate::engine::openupgrade::ssh_tunnel(plan.port)
    ));
    let pid = child.id().map(|p| Pid::from_raw(p as i32));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stop = tokio::select! {
        status = child.wait() => {
            let status = status?;
            err(&format!("Odoo stopped by itself ({status}): see its log above"));
            return Ok(if status.success() { 0 } else { 1 });
        }
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    };
    err(&format!("{stop}: stopping Odoo…"));
    if let Some(pid) = pid {
        let _ = killpg(pid, Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        if let Some(pid) = pid {
            let _ = killpg(pid, Signal::SIGKILL);
        }
        let _ = child.wait().await;
    }
    err("Odoo stopped");
    Ok(0)
}

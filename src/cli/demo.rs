use color_eyre::Result;
use tokio::signal::unix::{signal, SignalKind};

use super::output::err;
use super::GlobalArgs;
use crate::demo::Demo;

pub async fn run(_global: &GlobalArgs, keep: bool) -> Result<i32> {
    err("starting an embedded PostgreSQL with the demo database…");
    let demo = Demo::start(keep).await?;
    err(&format!(
        "demo ready: database {:?} on {} (plan {})",
        demo.db,
        demo.engine.conn.server(),
        demo.plan.display()
    ));
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    // Dropping the demo stops the server and removes its directory (unless --keep).
    drop(demo);
    Ok(0)
}

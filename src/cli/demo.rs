use color_eyre::Result;

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
    tokio::signal::ctrl_c().await?;
    Ok(0)
}

use color_eyre::Result;

use super::GlobalArgs;
use super::output::err;
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
    let res = crate::tui::run(demo.engine.clone()).await;
    // Dropping the demo stops the server and removes its directory (unless --keep).
    drop(demo);
    res.map(|()| 0)
}

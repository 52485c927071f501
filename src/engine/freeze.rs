//! Freezing production (docs/DESIGN.md, step 7): list the sessions, run the stop hook,
//! refuse new connections from every role, end the remaining sessions, check
//! none is left, and remember it in the campaign. Unfreeze reverses it.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tokio_postgres::Client;

use super::{Engine, EngineError, hook, lock};
use crate::campaign::{self, Freeze};
use crate::odoo::inspect;
use crate::pg::activity;
use crate::pg::ident::{check_db_name, quote_ident};
use crate::pg::server::{self, Session};

#[derive(Debug, Clone, Serialize)]
pub struct FreezeReport {
    pub db: String,
    pub sessions: Vec<Session>,
    pub ended: usize,
    pub hook: Option<String>,
    pub seconds: f64,
    /// It was frozen on the server already, unknown to this state dir, and taken over.
    pub adopted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnfreezeReport {
    pub hook: Option<String>,
    /// The start hook's failure: production accepts connections all the same.
    pub hook_error: Option<String>,
}

fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

/// Sets ALLOW_CONNECTIONS and ends every other session on `db`; fails when some
/// session does not go within 10 s.
pub(crate) async fn block_and_end_sessions(maint: &Client, db: &str) -> Result<usize, EngineError> {
    maint
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            quote_ident(db)
        ))
        .await?;
    // Not pg_terminate_backend(pid, timeout): the server then waits in 100 ms
    // steps, one backend after the other (measured: 2 s for 20 sessions).
    let ended = server::end_sessions(maint, db).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    // Backends end within milliseconds: poll fast first, then every 100 ms.
    let mut pause = Duration::from_millis(2);
    loop {
        let left = server::sessions(maint, db).await?;
        if left.is_empty() {
            return Ok(ended);
        }
        if Instant::now() > deadline {
            let list: Vec<String> = left.iter().map(|s| s.to_string()).collect();
            return Err(fail(format!(
                "{} session(s) on {db:?} would not end: {}",
                left.len(),
                list.join("; ")
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

pub(crate) async fn allow(maint: &Client, db: &str) -> Result<(), EngineError> {
    maint
        .batch_execute(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            quote_ident(db)
        ))
        .await?;
    Ok(())
}

/// Version and uuid of `db`, read while it accepts connections.
async fn identify(
    engine: &Engine,
    db: &str,
) -> Result<(String, String, Option<String>), EngineError> {
    let c = engine.conn.connect(db).await?;
    let (series, base, _) = inspect::base_version(&c, db).await?;
    let uuid = inspect::config_param(&c, "database.uuid").await?;
    Ok((series.to_string(), base, uuid))
}

/// The server's statistics of `db` now (after its sessions ended).
pub(crate) async fn activity_of(
    maint: &Client,
    db: &str,
) -> Result<Option<activity::DbActivity>, EngineError> {
    Ok(activity::read(maint, db).await?)
}

impl Engine {
    /// Sessions on `db` now (for the confirmation before freezing).
    pub async fn sessions_on(&self, db: &str) -> Result<Vec<Session>, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}: check --db",
                self.conn.server()
            )));
        }
        Ok(server::sessions(&maint, db).await?)
    }

    pub async fn freeze(&self, db: &str) -> Result<FreezeReport, EngineError> {
        let t0 = Instant::now();
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}: nothing to freeze",
                self.conn.server()
            )));
        }
        // A running test job holds the lock: its snapshot copy must not be cut.
        let _lock = lock::acquire(&self.conn, db).await?;
        self.refuse_half_done_swap(&maint, db).await?;
        let key = self.server_key().await?;
        let mut camp = campaign::load_or_new(&self.state_dir, &key, db)?;
        let adopted = !server::allows_connections(&maint, db).await?;
        if adopted {
            if let Some(f) = &camp.freeze {
                return Err(fail(format!(
                    "{db:?} is already frozen (since {}): go on with production, or unfreeze it first",
                    f.at.format("%Y-%m-%d %H:%M:%S UTC")
                )));
            }
        }
        let sessions = server::sessions(&maint, db).await?;
        let hook = hook::run("stop", &self.config.freeze.stop).await?;
        // Frozen on the server but unknown here (a freeze by hand, a killed
        // freeze, another state dir): its version can only be read while it
        // accepts connections, so it is opened for that moment; whoever
        // connects meanwhile is ended below, before the statistics are taken.
        if adopted {
            allow(&maint, db).await?;
        }
        let (series, base_version, uuid) = match identify(self, db).await {
            Ok(v) => v,
            Err(e) => {
                if adopted {
                    let _ = block_and_end_sessions(&maint, db).await;
                }
                return Err(e);
            }
        };
        let ended = match block_and_end_sessions(&maint, db).await {
            Ok(n) => n,
            Err(e) if !adopted => {
                // Not frozen after all: reopen rather than leave it half-done.
                let _ = allow(&maint, db).await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let activity = activity_of(&maint, db).await?;
        camp.uuid = uuid.clone().or(camp.uuid.take());
        camp.address = Some(self.conn.server());
        camp.freeze = Some(Freeze {
            at: Utc::now(),
            by: crate::campaign::who::os_user(),
            series,
            base_version,
            sessions_ended: ended,
            uuid,
            activity,
            adopted,
        });
        if let Err(e) = campaign::save_engine(&self.state_dir, &camp) {
            // A freeze the tool does not know of sends the user in circles:
            // undone, unless it was frozen before this run.
            if adopted {
                return Err(e.into());
            }
            allow(&maint, db).await?;
            let odoo = if hook.is_some() {
                " (the stop hook ran: start Odoo again)"
            } else {
                ""
            };
            return Err(fail(format!(
                "the freeze of {db:?} could not be recorded ({e}), so it was undone: {db:?} is reopened{odoo}; make room or fix the state dir, then freeze again"
            )));
        }
        tracing::info!(db, ended, adopted, "frozen");
        Ok(FreezeReport {
            db: db.to_string(),
            sessions,
            ended,
            hook,
            seconds: t0.elapsed().as_secs_f64(),
            adopted,
        })
    }

    /// A database a swap set aside (`_before_`, `_failed_`) stays frozen: open,
    /// Odoo (a db filter such as `^prod`) and its scheduled actions could run
    /// there beside production, sending mail twice.
    async fn refuse_set_aside(&self, db: &str) -> Result<(), EngineError> {
        let key = self.server_key().await?;
        // A damaged campaign file does not stand in the way of reopening production.
        for c in campaign::all_readable(&self.state_dir).0 {
            if c.server != key || c.db == db {
                continue;
            }
            if let Some(s) = c.history.iter().rev().find(|s| s.aside == db) {
                return Err(fail(format!(
                    "{db:?} is the database the {} of {:?} set aside at {} (kept for going back): open, Odoo and its scheduled actions could run on it beside production; it stays frozen (read it with upgrade-pilot compare, or reopen it by hand: ALTER DATABASE {} ALLOW_CONNECTIONS true)",
                    match s.kind {
                        campaign::SwapKind::Restore => "restore",
                        campaign::SwapKind::Rollback => "rollback",
                    },
                    c.db,
                    s.started_at.format("%Y-%m-%d %H:%M UTC"),
                    quote_ident(db)
                )));
            }
        }
        Ok(())
    }

    /// Reopens `db`; the start hook's failure is reported apart (the database
    /// accepts connections all the same). Refused while a swap is half done.
    pub async fn unfreeze(&self, db: &str) -> Result<UnfreezeReport, EngineError> {
        check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let maint = self.conn.connect_maintenance().await?;
        if !server::db_exists(&maint, db).await? {
            return Err(fail(format!(
                "database {db:?} does not exist on {}",
                self.conn.server()
            )));
        }
        let _lock = lock::acquire(&self.conn, db).await?;
        self.refuse_half_done_swap(&maint, db).await?;
        self.refuse_set_aside(db).await?;
        allow(&maint, db).await?;
        let key = self.server_key().await?;
        if let Some(mut camp) = campaign::load(&self.state_dir, &key, db)? {
            camp.freeze = None;
            campaign::save_engine(&self.state_dir, &camp)?;
        }
        tracing::info!(db, "unfrozen");
        let (hook, hook_error) = match hook::run("start", &self.config.freeze.start).await {
            Ok(h) => (h, None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(UnfreezeReport { hook, hook_error })
    }
}

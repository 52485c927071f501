//! The job engine. Knows nothing of the UI: a job is started from a request and
//! hands back a [`JobHandle`] that the TUI and the CLI consume alike.

pub mod backup;
pub mod child;
pub mod clone;
pub mod compare;
pub mod downtime;
pub mod emit;
pub mod estimate;
pub mod events;
pub mod execute;
pub mod freeze;
mod hook;
pub mod import;
pub mod leftovers;
pub mod lock;
pub mod openupgrade;
pub mod plan;
pub mod platform;
pub mod preflight;
pub mod production;
mod report;
mod runner;
pub mod sqlfile;
mod sqlguard;
pub mod swap;
pub mod test_job;

use std::path::PathBuf;

use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::campaign::StoreError;
use crate::config::Config;
use crate::pg::conn::{ConnError, ConnInfo};
pub use events::{Event, Progress};
// The job record and its steps are what a campaign remembers: they live in
// `campaign`, below the engine; the engine's modules name them from here.
pub use crate::campaign::job::{self, JobRecord};
pub use crate::campaign::step::{self, Step};

#[derive(Debug, Error)]
pub enum EngineError {
    /// A check before anything is created failed; the message says what to do.
    #[error("{0}")]
    Preflight(String),
    #[error(transparent)]
    Conn(#[from] ConnError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Clone(#[from] clone::CloneError),
    #[error(transparent)]
    Neutralize(#[from] crate::odoo::neutralize::NeutralizeError),
    #[error(transparent)]
    Inspect(#[from] crate::odoo::inspect::InspectError),
    #[error(transparent)]
    Compare(#[from] crate::odoo::compare::CompareError),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("cancelled: the half-made copy was dropped")]
    Cancelled,
    #[error("PostgreSQL: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Io(String),
    #[error("{0}; the job is saved: run the same command again to resume it")]
    Interrupted(String),
    #[error(transparent)]
    Platform(#[from] platform::PlatformError),
}

impl EngineError {
    /// Lost the server (restart, network): the job can be resumed by running it again.
    pub fn is_connection_loss(&self) -> bool {
        use crate::odoo::inspect::InspectError;
        use crate::odoo::neutralize::NeutralizeError;
        match self {
            EngineError::Pg(e)
            | EngineError::Plan(plan::PlanError::Pg(e))
            | EngineError::Clone(clone::CloneError::Pg(e))
            | EngineError::Inspect(InspectError::Pg(e))
            | EngineError::Neutralize(NeutralizeError::Pg(e))
            | EngineError::Neutralize(NeutralizeError::Sql { source: e, .. }) => pg_lost(e),
            // The platform out of reach mid-job: the request waits there.
            EngineError::Platform(platform::PlatformError::Rpc(
                platform::rpc::RpcError::Unreachable { .. },
            )) => true,
            EngineError::Conn(ConnError::Unreachable { .. })
            | EngineError::Plan(plan::PlanError::Conn(ConnError::Unreachable { .. }))
            | EngineError::Lock(lock::LockError::Conn(ConnError::Unreachable { .. })) => true,
            _ => false,
        }
    }
}

/// The session died under us: server shut down or restarted, network gone.
pub fn pg_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error().is_some_and(|d| {
            let c = d.code().code();
            c.starts_with("57P") || c.starts_with("08")
        })
        || e.as_db_error().is_none()
            && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// Everything a job needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct Engine {
    pub conn: ConnInfo,
    pub config: Config,
    pub state_dir: PathBuf,
    /// Odoo's data_dir (holds `filestore/<db>`), when known.
    pub data_dir: Option<PathBuf>,
}

impl Engine {
    /// The server's identity: the key of campaigns, freeze records, the swap
    /// journal and every guard. Campaigns an older version keyed by this run's
    /// address are moved under it first.
    pub async fn server_key(&self) -> Result<String, EngineError> {
        let key = self.conn.server_key().await?;
        crate::campaign::migrate(&self.state_dir, &self.conn.address_key(), &key)?;
        Ok(key)
    }
}

/// A running job, as front ends see it.
pub struct JobHandle {
    pub id: String,
    pub events: mpsc::Receiver<Event>,
    pub progress: watch::Receiver<Progress>,
    pub cancel: CancellationToken,
    pub join: JoinHandle<Result<JobRecord, EngineError>>,
}

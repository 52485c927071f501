//! `--engine odoo-platform`: Odoo's upgrade platform as the upgrade step of a
//! job. The working copy is dumped (directory format, parallel), a request is
//! created once per job and kept in the job file, the dump goes up by rsync,
//! the platform upgrades it while its state and log are followed, the result
//! comes down and replaces the working copy, and the returned `filestore/` is
//! merged over the copy's hard-linked filestore in the real data dir. Every
//! step asks the platform where the request stands first, so a killed run
//! resumes there and never makes a second request.

pub mod rpc;
mod steps;
pub mod transfer;

pub use steps::{PRODUCTION_STEPS, TEST_STEPS};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::emit::{Emitter, crash_point};
use super::job::{self, JobRecord};
use super::preflight::Level;
use super::{Engine, EngineError};
pub use crate::campaign::job::{PlatformJob, PlatformRequest as Request};
use crate::odoo::inspect::human_size;
use crate::odoo::oulog::{HopLog, human_duration};
pub use crate::odoo::platform::Secret;
use crate::odoo::platform::{
    self as odoo, Aim, Created, Processed, State, Status, Transfer, endpoint,
};
use rpc::{Rpc, RpcError};
use transfer::{Channel, Keys, Tick, TransferError};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "no Enterprise contract for {db:?}: it has no {} parameter; give the subscription code with --contract CODE",
        odoo::CONTRACT_PARAM
    )]
    NoContract { db: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error(
        "upgrade request {id} failed on Odoo's platform: {reason}; its log is in {log}; for help open Odoo's support ticket \"{}\" with request {id}",
        odoo::SUPPORT_TICKET
    )]
    Failed {
        id: String,
        reason: String,
        log: String,
    },
    #[error(
        "upgrade request {id} was cancelled on Odoo's platform: run the command again with --discard to make a new request"
    )]
    CancelledThere { id: String },
    #[error(
        "upgrade request {id} is archived on Odoo's platform and can no longer be resumed: run the command again with --discard to make a new request"
    )]
    Archived { id: String },
    #[error(
        "the upgraded database of request {id} needs a newer PostgreSQL than this server's {major}: it was downloaded to {dir} but not restored; restore it on a newer PostgreSQL (pg_restore -Fd --no-owner -j 4 -d NEWDB {dir})"
    )]
    PgIncompatible { id: String, major: u32, dir: String },
    #[error(
        "upgrade request {id}: the platform is in state {state:?}, which this version does not know"
    )]
    UnknownState { id: String, state: String },
    #[error("{0}")]
    Local(String),
}

fn local(e: impl std::fmt::Display) -> EngineError {
    EngineError::Platform(PlatformError::Local(e.to_string()))
}

impl From<RpcError> for EngineError {
    fn from(e: RpcError) -> Self {
        EngineError::Platform(PlatformError::Rpc(e))
    }
}

impl From<TransferError> for EngineError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Cancelled => EngineError::Cancelled,
            e => EngineError::Platform(PlatformError::Transfer(e)),
        }
    }
}

/// A request as `status` shows it (no token).
#[derive(Debug, Clone, Serialize)]
pub struct PlatformView {
    pub request_id: Option<String>,
    pub state: Option<State>,
    pub reason: Option<String>,
    /// Read from the platform just now (else: as last seen by the job).
    pub live: bool,
    pub note: Option<String>,
    /// Odoo's upgrade report, once downloaded.
    pub report: Option<PathBuf>,
}

impl PlatformView {
    /// `Odoo's upgrade platform: request 1001 progress (upgrading at Odoo)`.
    pub fn line(&self) -> String {
        let mut s = match (&self.request_id, &self.state) {
            (Some(id), Some(st)) => format!(
                "Odoo's upgrade platform: request {id} {} ({})",
                st.as_str(),
                st.describe()
            ),
            (Some(id), None) => format!("Odoo's upgrade platform: request {id}"),
            (None, _) => "Odoo's upgrade platform".to_string(),
        };
        if let Some(r) = self.reason.as_ref().filter(|r| !r.is_empty()) {
            s.push_str(&format!(": {r}"));
        }
        if let Some(n) = &self.note {
            s.push_str(&format!("; {n}"));
        }
        if let Some(p) = &self.report {
            s.push_str(&format!("; report {}", p.display()));
        }
        s
    }
}

/// Where a job's platform files live: key, host key, dumps, report and log.
pub fn dir(state: &Path, job_id: &str) -> PathBuf {
    state.join("platform").join(job_id)
}

/// The platform's report and log, kept with the job once downloaded.
pub fn report_path(state: &Path, job_id: &str) -> PathBuf {
    dir(state, job_id).join(odoo::REPORT_FILE)
}

pub fn platform_log_path(state: &Path, job_id: &str) -> PathBuf {
    dir(state, job_id).join(odoo::LOG_FILE)
}

/// The streamed log, while the request runs (the downloaded one replaces it).
fn live_log_path(state: &Path, job_id: &str) -> PathBuf {
    dir(state, job_id).join("platform-live.log")
}

impl PlatformJob {
    /// What cancelling or discarding the job does to the request at Odoo.
    pub fn on_cancel(&self) -> String {
        match &self.request {
            None => "no upgrade request was made at Odoo".into(),
            Some(r) => format!(
                "upgrade request {} stays on Odoo's platform as it is (the protocol has no cancel: it finishes or waits there, and Odoo deletes its dumps by its own rules); nothing more is sent",
                r.request_id
            ),
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request.as_ref().map(|r| r.request_id.as_str())
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.05, 3600.0))
}

fn write_private(path: &Path, text: &str) -> Result<(), EngineError> {
    crate::campaign::store::write_atomic(path, text.as_bytes()).map_err(|e| local(e.to_string()))
}

fn tree_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += tree_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// A resumed job keeps its engine: a platform request is never dropped by a
/// run without the engine, nor made for a job that began without it.
pub(super) fn same_engine(resume: Option<&JobRecord>, platform: bool) -> Result<(), EngineError> {
    match resume {
        Some(j) if j.platform.is_some() != platform => Err(EngineError::Preflight(format!(
            "the unfinished job {} {} Odoo's upgrade platform: run it again {} to resume it, or add --discard to start over",
            j.id,
            if platform { "does not use" } else { "uses" },
            if platform {
                "without --engine odoo-platform"
            } else {
                "with --engine odoo-platform"
            }
        ))),
        _ => Ok(()),
    }
}

/// A program the data channel needs, found in PATH.
fn in_path(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(d.join(prog))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

impl Engine {
    /// What must hold before a job of this engine makes anything: the
    /// platform's address and CA, the data channel's programs, a contract
    /// (`--contract`, else the database's; the database's wins, as in Odoo's
    /// script). `db_contract` is None when the database cannot be read (a
    /// frozen production: its copy is read later).
    pub(super) fn platform_preflight(
        &self,
        aim: Aim,
        db: &str,
        db_contract: Option<String>,
        readable: bool,
        notes: &mut Vec<super::preflight::Note>,
    ) -> Result<PlatformJob, EngineError> {
        let fail = |m: String| EngineError::Preflight(m);
        self.platform_rpc().map_err(|e| fail(e.to_string()))?;
        let missing: Vec<&str> = ["ssh", "ssh-keygen", "rsync"]
            .into_iter()
            .filter(|p| !in_path(p))
            .collect();
        if !missing.is_empty() {
            return Err(fail(format!(
                "Odoo's upgrade platform needs {} on this machine (the data channel is rsync over SSH): install openssh-client and rsync",
                missing.join(", ")
            )));
        }
        let given = self.config.odoo_platform.contract.clone();
        let db_contract = db_contract.filter(|c| !c.trim().is_empty());
        let contract = match (db_contract, given) {
            (Some(d), Some(g)) if d.trim() != g.expose() => {
                notes.push(super::preflight::Note {
                    level: Level::Warn,
                    text: format!(
                        "--contract differs from {db:?}'s {}: the database's is used",
                        odoo::CONTRACT_PARAM
                    ),
                });
                Some(Secret::new(d.trim()))
            }
            (Some(d), _) => Some(Secret::new(d.trim())),
            (None, g) => g,
        };
        if contract.is_none() && readable {
            return Err(EngineError::Platform(PlatformError::NoContract {
                db: db.into(),
            }));
        }
        notes.push(super::preflight::Note {
            level: Level::Info,
            text: format!(
                "Odoo's upgrade platform at {}: sent are the dump (without the filestore), the contract and a public SSH key made for this request",
                self.config.odoo_platform.url()
            ),
        });
        Ok(PlatformJob {
            aim,
            url: self.config.odoo_platform.url().to_string(),
            contract,
            request: None,
            upload_dir: None,
            upload_bytes: None,
            report: None,
        })
    }

    /// Odoo's platform when the campaign's last ready test used it: the
    /// production upgrade goes the same way (the TUI's `p`).
    pub async fn last_test_engine(&self, db: &str) -> Option<super::openupgrade::EngineChoice> {
        let key = self.server_key().await.ok()?;
        let c = crate::campaign::load(&self.state_dir, &key, db).ok()??;
        let last = self.last_ready_test(&c).ok()??;
        last.platform
            .is_some()
            .then_some(super::openupgrade::EngineChoice::OdooPlatform)
    }

    fn platform_rpc(&self) -> Result<Rpc, EngineError> {
        let c = &self.config.odoo_platform;
        Ok(Rpc::new(c.url(), c.ca_file.as_deref())?)
    }

    fn pinned(&self, r: &Request) -> Result<Rpc, EngineError> {
        Ok(self.platform_rpc()?.pinned(&r.host_uri))
    }

    fn poll(&self) -> Duration {
        secs(self.config.odoo_platform.poll_seconds)
    }

    /// Where the job's request stands at Odoo (`status`): read from the
    /// platform for a job not finished, else as the job last saw it.
    pub async fn platform_view(&self, record: &JobRecord) -> Option<PlatformView> {
        let p = record.platform.as_ref()?;
        let report = report_path(&self.state_dir, &record.id);
        let report = report.is_file().then_some(report);
        let Some(r) = &p.request else {
            return Some(PlatformView {
                request_id: None,
                state: None,
                reason: None,
                live: false,
                note: Some("no request made yet".into()),
                report,
            });
        };
        let unfinished = matches!(
            record.status,
            super::job::JobStatus::Running | super::job::JobStatus::Failed
        );
        let live = if unfinished {
            match self.pinned(r) {
                Ok(rpc) => Some(
                    rpc.call::<Status>(endpoint::STATUS, json!({"token": r.token.expose()}))
                        .await,
                ),
                Err(e) => Some(Err(RpcError::Config(e.to_string()))),
            }
        } else {
            None
        };
        let (state, reason, live, note) = match live {
            Some(Ok(s)) => (
                Some(s.state()),
                s.reason.clone(),
                true,
                s.archived
                    .then(|| "archived: it can no longer be resumed".to_string()),
            ),
            Some(Err(e)) => (
                r.state.clone(),
                r.reason.clone(),
                false,
                Some(format!("not reachable now ({e}); last seen state shown")),
            ),
            None => (r.state.clone(), r.reason.clone(), false, None),
        };
        Some(PlatformView {
            request_id: Some(r.request_id.clone()),
            state,
            reason,
            live,
            note,
            report,
        })
    }

    /// Reads the state, pins the node, records both; refuses an archived request.
    async fn refresh(&self, record: &mut JobRecord) -> Result<State, EngineError> {
        let r = request_of(record)?;
        let s: Status = self
            .pinned(&r)?
            .call(endpoint::STATUS, json!({"token": r.token.expose()}))
            .await?;
        if s.archived {
            return Err(EngineError::Platform(PlatformError::Archived {
                id: r.request_id.clone(),
            }));
        }
        let state = s.state();
        if let Some(req) = record.platform.as_mut().and_then(|p| p.request.as_mut()) {
            req.host_uri = s.host_uri.clone();
            req.state = Some(state.clone());
            req.reason = s.reason.clone();
            req.checked_at = Some(Utc::now());
        }
        job::save(&self.state_dir, record)?;
        Ok(state)
    }

    /// Dumps the working copy for the platform (a test job; a production job
    /// uploads its backup). Directory format, `[clone] jobs` tables at a time.
    pub(super) async fn platform_dump(
        &self,
        record: &mut JobRecord,
        major: u32,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let dest = dir(&self.state_dir, &record.id).join(odoo::UPLOAD_NAME);
        crate::campaign::store::ensure_dir(dest.parent().unwrap_or(&dest))
            .map_err(|e| local(e.to_string()))?;
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(local)?;
        }
        let pg_dump = crate::pg::tools::client_tool("pg_dump", major).map_err(local)?;
        let mut cmd = tokio::process::Command::new(&pg_dump);
        cmd.args([
            "--no-owner",
            "-Fd",
            "-j",
            &self.config.clone.jobs.max(1).to_string(),
            "-f",
        ])
        .arg(&dest)
        .arg("-d")
        .arg(crate::pg::conn::ConnInfo::conninfo_db(&record.work_db))
        .envs(self.conn.child_env())
        .env(
            super::leftovers::MARKER,
            super::leftovers::tag(&self.conn, &record.work_db),
        );
        super::backup::run(cmd, "pg_dump", cancel).await?;
        let bytes = tree_size(&dest);
        self.set_upload(record, dest, bytes)?;
        Ok(human_size(bytes as i64))
    }

    /// The dump the upload sends (a production job's backup, say).
    pub(super) fn set_upload(
        &self,
        record: &mut JobRecord,
        dir: PathBuf,
        bytes: u64,
    ) -> Result<(), EngineError> {
        let p = platform_mut(record)?;
        p.upload_bytes = Some(bytes);
        p.upload_dir = Some(dir);
        job::save(&self.state_dir, record)?;
        Ok(())
    }

    /// Creates the request, once per job: a job that has one keeps it.
    pub(super) async fn platform_request(
        &self,
        record: &mut JobRecord,
        emit: &Emitter,
    ) -> Result<String, EngineError> {
        let keys = Keys::at(&dir(&self.state_dir, &record.id));
        if let Some(r) = record.platform.as_ref().and_then(|p| p.request.clone()) {
            // The key registered with it must still be there.
            keys.public().await?;
            return Ok(format!("request {} (made before)", r.request_id));
        }
        let p = platform_mut(record)?.clone();
        // A frozen production's code is read on its copy (its identity).
        let from_copy = record
            .golive
            .production
            .as_ref()
            .and_then(|i| i.enterprise_code.clone())
            .filter(|c| !c.trim().is_empty())
            .map(|c| Secret::new(c.trim()));
        if from_copy.is_some() && p.contract.as_ref() != from_copy.as_ref() && p.contract.is_some()
        {
            emit.warn(format!(
                "--contract differs from {:?}'s {}: the database's is used",
                record.source_db,
                odoo::CONTRACT_PARAM
            ))
            .await;
        }
        let contract = from_copy.or(p.contract.clone()).ok_or_else(|| {
            EngineError::Platform(PlatformError::NoContract {
                db: record.source_db.clone(),
            })
        })?;
        crate::campaign::store::ensure_dir(&dir(&self.state_dir, &record.id))
            .map_err(|e| local(e.to_string()))?;
        let public = keys.ensure().await?;
        let rpc = self.platform_rpc()?;
        let created: Created = rpc
            .call(
                endpoint::CREATE,
                json!({
                    "contract": contract.expose(),
                    "target": record.target,
                    "aim": p.aim.as_str(),
                    "actuator": "cli",
                    "env_vars": [],
                    "ssh_key": public,
                    "api_version": odoo::API_VERSION,
                }),
            )
            .await
            .map_err(|e| match e {
                RpcError::Refused(m) => {
                    EngineError::Platform(PlatformError::Refused(odoo::create_refused(&m)))
                }
                e => e.into(),
            })?;
        let id = odoo::request_id_text(&created.request_id);
        platform_mut(record)?.request = Some(Request {
            request_id: id.clone(),
            token: Secret::new(created.token),
            host_uri: created.assigned_host_uri.clone(),
            created_at: Utc::now(),
            state: Some(State::New),
            reason: None,
            checked_at: Some(Utc::now()),
            pg_compatible: None,
            processing_since: None,
            log_offset: 0,
            dump_name: None,
        });
        // Saved before anything else: a run killed from here on resumes this request.
        job::save(&self.state_dir, record)?;
        crash_point("after:platform_create");
        emit.log(format!(
            "upgrade request {id} made at Odoo's platform (node {})",
            created.assigned_host_uri
        ));
        if let Some(info) = created.info.filter(|i| !i.trim().is_empty()) {
            emit.warn(format!("Odoo's platform: {info}")).await;
        }
        Ok(format!("request {id}"))
    }

    /// Opens a transfer and writes the host key it announces into the job's known_hosts.
    async fn open_transfer(
        &self,
        record: &JobRecord,
        kind: &str,
    ) -> Result<(Transfer, PathBuf), EngineError> {
        let r = request_of(record)?;
        let t: Transfer = self
            .pinned(&r)?
            .call(
                endpoint::TRANSFER_START,
                json!({"token": r.token.expose(), "transfer_type": kind}),
            )
            .await?;
        let kh = dir(&self.state_dir, &record.id).join("known_hosts");
        write_private(&kh, &transfer::known_hosts_text(&t.known_hosts, t.ssh_port))?;
        Ok((t, kh))
    }

    /// The data channel to the request's node, with the key and host key of the job.
    fn channel(
        &self,
        record: &JobRecord,
        t: &Transfer,
        kh: PathBuf,
    ) -> Result<Channel, EngineError> {
        let r = request_of(record)?;
        Ok(Channel {
            user: self.config.odoo_platform.data_user.clone(),
            host: odoo::ssh_host(&r.host_uri).to_string(),
            port: t.ssh_port,
            key: Keys::at(&dir(&self.state_dir, &record.id)).private,
            known_hosts: kh,
        })
    }

    async fn close_transfer(&self, record: &JobRecord) {
        if let Ok(r) = request_of(record) {
            if let Ok(rpc) = self.pinned(&r) {
                let _: Result<serde_json::Value, _> = rpc
                    .call(endpoint::TRANSFER_STOP, json!({"token": r.token.expose()}))
                    .await;
            }
        }
    }

    /// Sends the dump, unless the platform already has it (its state is past `new`).
    pub(super) async fn platform_upload(
        &self,
        record: &mut JobRecord,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let state = self.refresh(record).await?;
        if state != State::New {
            return Ok(format!("the platform has the dump ({})", state.describe()));
        }
        let p = platform_mut(record)?.clone();
        let src = p
            .upload_dir
            .clone()
            .filter(|d| d.join("toc.dat").is_file())
            .ok_or_else(|| {
                local("the dump to upload is gone: run the command again with --discard to start over")
            })?;
        let total = p.upload_bytes.unwrap_or_else(|| tree_size(&src));
        let (t, kh) = self.open_transfer(record, "upload").await?;
        let ch = self.channel(record, &t, kh)?;
        let host = ch.host.clone();
        emit.log(format!(
            "uploading {} to {host} (rsync over SSH, port {})",
            human_size(total as i64),
            t.ssh_port
        ));
        let mut tick = ticker(emit, Some(total), "up");
        let sent = ch.upload(&src, odoo::UPLOAD_NAME, &mut tick, cancel).await;
        self.close_transfer(record).await;
        sent?;
        crash_point("after:platform_upload");
        Ok(format!("{} sent", human_size(total as i64)))
    }

    /// Starts the upgrade at Odoo (unless started) and follows its state and
    /// log until it is done; a failure there ends the job with its reason.
    pub(super) async fn platform_process(
        &self,
        record: &mut JobRecord,
        major: u32,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let mut state = self.refresh(record).await?;
        if state == State::New {
            let r = request_of(record)?;
            let p: Processed = self
                .pinned(&r)?
                .call(endpoint::PROCESS, json!({"token": r.token.expose()}))
                .await?;
            if let Some(req) = request_mut(record) {
                req.pg_compatible = Some(p.is_pg_version_compatible);
                req.processing_since = Some(Utc::now());
            }
            job::save(&self.state_dir, record)?;
            if !p.is_pg_version_compatible {
                emit.warn(format!(
                    "Odoo's platform says this server's PostgreSQL {major} is too old to restore the upgraded database: it will be downloaded, not restored"
                ))
                .await;
            }
            emit.log(format!("upgrade request {} started at Odoo", r.request_id));
            state = self.refresh(record).await?;
        }
        if request_of(record)?.processing_since.is_none() {
            if let Some(req) = request_mut(record) {
                req.processing_since = Some(Utc::now());
            }
        }
        let mut hop = HopLog::new();
        let mut last_status = Instant::now();
        let mut last_saved_offset = request_of(record)?.log_offset;
        while state.is_processing() {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            if state == State::Progress {
                self.read_log(record, &mut hop, emit).await?;
            }
            let r = request_of(record)?;
            let since = r.processing_since.unwrap_or(r.created_at);
            let waited = (Utc::now() - since).to_std().unwrap_or_default();
            emit.fraction(hop.fraction(), wait_detail(&state, waited, &hop));
            if r.log_offset != last_saved_offset {
                job::save(&self.state_dir, record)?;
                last_saved_offset = r.log_offset;
            }
            if !transfer::pause(self.poll(), cancel).await {
                return Err(EngineError::Cancelled);
            }
            if last_status.elapsed() >= self.poll() {
                state = self.refresh(record).await?;
                last_status = Instant::now();
            }
        }
        // The last lines written before the state changed.
        if state == State::Done || state == State::Failed {
            let _ = self.read_log(record, &mut hop, emit).await;
            job::save(&self.state_dir, record)?;
        }
        let r = request_of(record)?;
        match state {
            State::Done => {
                let since = r.processing_since.unwrap_or(r.created_at);
                let took = (Utc::now() - since).to_std().unwrap_or_default();
                Ok(format!("upgraded at Odoo in {}", human_duration(took)))
            }
            State::Failed => Err(EngineError::Platform(PlatformError::Failed {
                id: r.request_id.clone(),
                reason: r.reason.clone().unwrap_or_else(|| "no reason given".into()),
                log: live_log_path(&self.state_dir, &record.id)
                    .display()
                    .to_string(),
            })),
            State::Cancelled => Err(EngineError::Platform(PlatformError::CancelledThere {
                id: r.request_id.clone(),
            })),
            State::New => Err(local(format!(
                "upgrade request {} is still waiting for its dump: run the command again",
                r.request_id
            ))),
            other => Err(EngineError::Platform(PlatformError::UnknownState {
                id: r.request_id.clone(),
                state: other.as_str().to_string(),
            })),
        }
    }

    /// New bytes of the platform's log: into the job's log, the live log file, the tracker.
    async fn read_log(
        &self,
        record: &mut JobRecord,
        hop: &mut HopLog,
        emit: &Emitter,
    ) -> Result<(), EngineError> {
        let r = request_of(record)?;
        let bytes = self
            .pinned(&r)?
            .logs(r.token.expose(), r.log_offset)
            .await?;
        if bytes.is_empty() {
            return Ok(());
        }
        // Only whole lines: a line cut by the range is read again next time.
        let upto = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => return Ok(()),
        };
        let text = String::from_utf8_lossy(&bytes[..upto]).into_owned();
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let path = live_log_path(&self.state_dir, &record.id);
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
            {
                let _ = f.write_all(&bytes[..upto]);
            }
        }
        for line in text.lines() {
            hop.feed(line);
            // The log tail shows what was said; the file keeps date and pid.
            emit.log(match crate::odoo::oulog::parse_line(line) {
                Some(e) => format!("odoo platform: {} {}: {}", e.level, e.logger, e.message),
                None => format!("odoo platform: {line}"),
            });
        }
        if let Some(req) = request_mut(record) {
            req.log_offset += upto as u64;
        }
        Ok(())
    }

    /// Fetches the upgraded dump, its filestore, the report and the log.
    pub(super) async fn platform_download(
        &self,
        record: &mut JobRecord,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let state = self.refresh(record).await?;
        if state != State::Done {
            return Err(local(format!(
                "upgrade request {} is {} at Odoo, not done: nothing to download yet",
                request_of(record)?.request_id,
                state.describe()
            )));
        }
        let (t, kh) = self.open_transfer(record, "download").await?;
        let dump_name = t
            .dump_name
            .clone()
            .filter(|n| !n.is_empty() && !n.contains('/') && n != "..")
            .ok_or_else(|| local("the platform named no valid upgraded dump to download"))?;
        if let Some(req) = request_mut(record) {
            req.dump_name = Some(dump_name.clone());
        }
        job::save(&self.state_dir, record)?;
        let ch = self.channel(record, &t, kh)?;
        let host = ch.host.clone();
        let dest = dir(&self.state_dir, &record.id).join("result");
        emit.log(format!("downloading {dump_name} from {host}"));
        let mut tick = ticker(emit, None, "down");
        let got = ch
            .download(
                &[
                    &dump_name,
                    odoo::FILESTORE_DIR,
                    odoo::REPORT_FILE,
                    odoo::LOG_FILE,
                ],
                &dest,
                &mut tick,
                cancel,
            )
            .await;
        self.close_transfer(record).await;
        got?;
        crash_point("after:platform_download");
        // Report and log are kept with the job; the rest goes after the restore.
        for name in [odoo::REPORT_FILE, odoo::LOG_FILE] {
            let from = dest.join(name);
            if from.is_file() {
                std::fs::rename(&from, dir(&self.state_dir, &record.id).join(name))
                    .map_err(local)?;
            }
        }
        let report = report_path(&self.state_dir, &record.id);
        if report.is_file() {
            platform_mut(record)?.report = Some(report);
            job::save(&self.state_dir, record)?;
        }
        let bytes = tree_size(&dest);
        Ok(format!("{} received", human_size(bytes as i64)))
    }

    /// The upgraded dump replaces the working copy; the returned filestore is
    /// merged over the copy's (hard links to production's are replaced, never
    /// written through).
    pub(super) async fn platform_restore(
        &self,
        record: &mut JobRecord,
        maint: &tokio_postgres::Client,
        major: u32,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let r = request_of(record)?;
        let jobdir = dir(&self.state_dir, &record.id);
        let result = jobdir.join("result");
        let dump = result.join(r.dump_name.clone().unwrap_or_default());
        if r.pg_compatible == Some(false) {
            return Err(EngineError::Platform(PlatformError::PgIncompatible {
                id: r.request_id.clone(),
                major,
                dir: dump.display().to_string(),
            }));
        }
        if !dump.join("toc.dat").is_file() {
            return Err(local(format!(
                "the downloaded dump {} is incomplete: run the command again to download it",
                dump.display()
            )));
        }
        let to = super::import::Target {
            conn: &self.conn,
            maint,
            major,
            work: &record.work_db,
            data_dir: None,
        };
        super::import::import(to, &dump, emit, cancel)
            .await
            .map_err(|e| match e {
                super::import::ImportError::Cancelled => EngineError::Cancelled,
                e => local(e.to_string()),
            })?;
        let mut detail = format!("restored as {:?}", record.work_db);
        if let Some(dd) = &self.data_dir {
            let fs = crate::odoo::filestore::path(dd, &record.work_db);
            let prod = crate::odoo::filestore::path(dd, &record.source_db);
            // The copy's hard-linked filestore, made again when a resumed run lost it.
            if !fs.exists() && prod.is_dir() {
                crate::odoo::filestore::link_tree(&prod, &fs).map_err(local)?;
            }
            let returned = result.join(odoo::FILESTORE_DIR);
            if returned.is_dir() {
                let n = crate::odoo::filestore::merge_over(&returned, &fs).map_err(|e| {
                    local(format!(
                        "merging the returned filestore into {}: {e}",
                        fs.display()
                    ))
                })?;
                emit.log(format!(
                    "filestore: {n} file(s) from the platform merged over {}",
                    fs.display()
                ));
                detail.push_str(&format!("; {n} filestore file(s) merged"));
            }
            record.filestore = Some(fs.display().to_string());
        }
        // The dumps are no longer needed; report and log stay with the job.
        let _ = std::fs::remove_dir_all(&result);
        if let Some(up) = record
            .platform
            .as_ref()
            .and_then(|p| p.upload_dir.clone())
            .filter(|d| d.starts_with(&jobdir))
        {
            let _ = std::fs::remove_dir_all(up);
        }
        job::save(&self.state_dir, record)?;
        Ok(detail)
    }
}

fn platform_mut(record: &mut JobRecord) -> Result<&mut PlatformJob, EngineError> {
    record
        .platform
        .as_deref_mut()
        .ok_or_else(|| local("this job does not use Odoo's upgrade platform"))
}

fn request_mut(record: &mut JobRecord) -> Option<&mut Request> {
    record
        .platform
        .as_deref_mut()
        .and_then(|p| p.request.as_mut())
}

fn request_of(record: &JobRecord) -> Result<Request, EngineError> {
    record
        .platform
        .as_ref()
        .and_then(|p| p.request.clone())
        .ok_or_else(|| local("no upgrade request was made for this job yet"))
}

/// The upload's and download's progress line: bytes, rate, time left.
fn ticker<'a>(emit: &'a Emitter, total: Option<u64>, dir: &'a str) -> impl FnMut(Tick) + Send + 'a {
    move |t: Tick| {
        let of = total
            .map(|n| format!(" of {}", human_size(n as i64)))
            .unwrap_or_default();
        emit.fraction(
            Some(f64::from(t.percent) / 100.0),
            format!(
                "{dir} {}{of} · {} · ETA {}",
                human_size(t.bytes as i64),
                t.rate,
                t.eta
            ),
        );
    }
}

/// What the Wait screen says while Odoo works: state, time waited, the
/// module being upgraded and the time left when the log tells them.
fn wait_detail(state: &State, waited: Duration, hop: &HopLog) -> String {
    let mut s = format!("{} for {}", state.describe(), human_duration(waited));
    if let Some(m) = &hop.module {
        s.push_str(&format!(" · module {m} ({}/{})", hop.done, hop.total));
    }
    match hop.eta() {
        Some(eta) => s.push_str(&format!(" · ETA {}", human_duration(eta))),
        None => s.push_str(" · Odoo's upgrades take 20–120 minutes"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: &str, token: &str) -> Request {
        Request {
            request_id: id.into(),
            token: Secret::new(token),
            host_uri: "h".into(),
            created_at: Utc::now(),
            state: None,
            reason: None,
            checked_at: None,
            pg_compatible: None,
            processing_since: None,
            log_offset: 0,
            dump_name: None,
        }
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let r = request("7", "tok-123");
        let d = format!("{r:?}");
        assert!(!d.contains("tok-123") && d.contains("<secret>"), "{d}");
        // The job file keeps it: a resumed run needs it.
        assert!(serde_json::to_string(&r).unwrap().contains("tok-123"));
    }

    #[test]
    fn cancelling_says_what_becomes_of_the_request() {
        let mut p = PlatformJob {
            aim: Aim::Test,
            url: odoo::DEFAULT_URL.into(),
            contract: None,
            request: None,
            upload_dir: None,
            upload_bytes: None,
            report: None,
        };
        assert!(p.on_cancel().contains("no upgrade request was made"));
        p.request = Some(request("42", "t"));
        assert!(
            p.on_cancel()
                .contains("upgrade request 42 stays on Odoo's platform")
        );
    }

    #[test]
    fn the_wait_line_names_the_module_and_the_time_left() {
        let mut hop = HopLog::new();
        let d = wait_detail(&State::Pending, Duration::from_secs(125), &hop);
        assert_eq!(
            d,
            "queued at Odoo for 2m 05s · Odoo's upgrades take 20–120 minutes"
        );
        hop.feed(
            "2026-12-01 05:59:56,311 7 INFO db odoo.modules.loading: Loading module sale (3/40)",
        );
        let d = wait_detail(&State::Progress, Duration::from_secs(60), &hop);
        assert!(
            d.starts_with("upgrading at Odoo for 1m 00s · module sale (3/40)"),
            "{d}"
        );
    }
}

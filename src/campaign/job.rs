//! The job file: every step's start, end and status, written atomically after
//! each change so that a killed run can be resumed or discarded.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::step::Step;
use super::store::{self, StoreError};
use crate::odoo::neutralize::{ByModule, Report};
use crate::odoo::verify::Check;
use crate::odoo::version::Series;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Test,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Ready,
    Failed,
    Cancelled,
    Discarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

/// A job's status as seen now ([`JobRecord::effective_status`]): what the
/// front ends show and decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SeenStatus {
    Running,
    /// Marked running, but its process is gone.
    Interrupted,
    Ready,
    Failed,
    Cancelled,
    Discarded,
}

impl SeenStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: Step,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub kind: JobKind,
    pub server: String,
    pub source_db: String,
    pub source_version: String,
    pub target: String,
    /// The database this job creates (test copy).
    pub work_db: String,
    pub plan: Option<PathBuf>,
    pub clone_method: Option<String>,
    pub status: JobStatus,
    pub pid: u32,
    pub os_user: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub neutralized: Report,
    #[serde(default)]
    pub neutralized_again: Report,
    /// The same changes grouped by module, and notes (boxed: the TUI passes
    /// records in messages; flattened: the fields sit beside `neutralized`).
    #[serde(flatten)]
    pub by_module: Box<ByModule>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub error: Option<String>,
    /// The source's database.uuid, to prove the copy got a new one.
    #[serde(default)]
    pub source_uuid: Option<String>,
    #[serde(default)]
    pub filestore: Option<String>,
    /// Production jobs: the backup of the working copy taken before the plan.
    #[serde(default)]
    pub backup: Option<Backup>,
    /// Production jobs: the server's statistics of the source when the copy
    /// was taken; `restore` refuses the copy if sessions were opened since.
    #[serde(default)]
    pub source_activity: Option<Box<crate::pg::activity::DbActivity>>,
    /// Production jobs: who production is, and what the user allowed.
    #[serde(default)]
    pub golive: Box<GoLive>,
    /// The last step's comparison with production (findings, not failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Box<crate::odoo::compare::Comparison>>,
    /// Production jobs: the comparison's differences accepted before the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_acknowledged: Option<Box<Acknowledged>>,
    /// The derived OpenUpgrade plan (`--engine openupgrade`), hop by hop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openupgrade: Vec<HopSpec>,
    /// How each hop went: duration, counts, log file, verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<HopOutcome>,
    /// Anomaly drafts this job added to the campaign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomaly_drafts: Vec<crate::campaign::anomaly::Draft>,
    /// Odoo's own `neutralize` on the test copy, when that series' Odoo is configured.
    #[serde(default)]
    pub odoo_neutralize: Option<String>,
    /// `--engine odoo-platform`: the request at Odoo (its token: only here, 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Box<PlatformJob>>,
    /// The source's size when the job started: estimates scale by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<i64>,
    /// Production jobs: when production was frozen (the downtime starts there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_at: Option<DateTime<Utc>>,
}

/// What a production result is checked against (before `restore` too).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GoLive {
    /// Production's identity, read on the fresh copy before the plan runs.
    pub production: Option<crate::odoo::golive::Identity>,
    /// `--allow-other-database`: the result may be another database.
    pub allow_other_database: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Backup {
    pub dump: PathBuf,
    pub filestore_tar: Option<PathBuf>,
    pub bytes: u64,
}

/// Who accepted the production comparison's differences before the restore.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Acknowledged {
    pub by: String,
    pub at: chrono::DateTime<Utc>,
    pub differences: usize,
}

/// One derived hop, as recorded in the job (no secret in it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopSpec {
    pub from: Series,
    pub to: Series,
    pub argv: Vec<String>,
    /// Variables set for the program (the password is added at run time, never recorded).
    pub env: Vec<(String, String)>,
    /// Odoo connects as our role: it gets our password (PGPASSWORD) at run time.
    #[serde(default)]
    pub our_password: bool,
}

/// How one hop went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HopOutcome {
    pub from: String,
    pub to: String,
    pub ok: bool,
    pub exit_code: Option<i32>,
    pub seconds: f64,
    pub modules: u32,
    pub migrations: u32,
    pub warnings: u32,
    pub errors: u32,
    pub base_version: Option<String>,
    #[serde(default)]
    pub pending: Vec<String>,
    pub log: Option<PathBuf>,
    /// Why it failed, when it did.
    #[serde(default)]
    pub verdict: String,
    #[serde(default)]
    pub issues: Vec<crate::odoo::oulog::Issue>,
}

/// The platform side of a job, saved with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlatformJob {
    pub aim: crate::odoo::platform::Aim,
    /// The platform's address the request was made at.
    pub url: String,
    /// The subscription code (from `--contract`, else the database).
    #[serde(default)]
    pub contract: Option<crate::odoo::platform::Secret>,
    #[serde(default)]
    pub request: Option<PlatformRequest>,
    /// The dump to upload: made by the job (test) or its backup (production).
    #[serde(default)]
    pub upload_dir: Option<PathBuf>,
    /// Bytes of the dump, for the upload's progress.
    #[serde(default)]
    pub upload_bytes: Option<u64>,
    /// Odoo's `upgrade-report.html`, kept with the job once downloaded.
    #[serde(default)]
    pub report: Option<PathBuf>,
}

/// One upgrade request on the platform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlatformRequest {
    pub request_id: String,
    pub token: crate::odoo::platform::Secret,
    /// The node that holds the request: API and data channel go there.
    pub host_uri: String,
    pub created_at: DateTime<Utc>,
    /// The state as last read, and when.
    #[serde(default)]
    pub state: Option<crate::odoo::platform::State>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub checked_at: Option<DateTime<Utc>>,
    /// `process` answered: can this server's PostgreSQL restore the result?
    #[serde(default)]
    pub pg_compatible: Option<bool>,
    #[serde(default)]
    pub processing_since: Option<DateTime<Utc>>,
    /// Bytes of the platform's log already read.
    #[serde(default)]
    pub log_offset: u64,
    #[serde(default)]
    pub dump_name: Option<String>,
}

/// What a new job is about; the rest of its record starts empty.
pub struct NewJob<'a> {
    pub kind: JobKind,
    pub server: &'a str,
    pub source_db: &'a str,
    pub source_version: &'a str,
    pub target: &'a str,
    pub work_db: String,
    pub plan: &'a Path,
    pub clone_method: &'a str,
    pub steps: &'a [Step],
    pub source_uuid: Option<String>,
}

impl JobRecord {
    pub fn start(n: NewJob<'_>) -> JobRecord {
        let now = Utc::now();
        let kind = match n.kind {
            JobKind::Test => "test",
            JobKind::Production => "production",
        };
        JobRecord {
            id: format!(
                "{}-{kind}-{}",
                now.format("%Y%m%dT%H%M%S%3f"),
                std::process::id()
            ),
            kind: n.kind,
            server: n.server.to_string(),
            source_db: n.source_db.to_string(),
            source_version: n.source_version.to_string(),
            target: n.target.to_string(),
            work_db: n.work_db,
            plan: Some(n.plan.to_path_buf()),
            clone_method: Some(n.clone_method.to_string()),
            status: JobStatus::Running,
            pid: std::process::id(),
            os_user: super::who::os_user(),
            created_at: now,
            finished_at: None,
            steps: steps(n.steps),
            neutralized: Default::default(),
            neutralized_again: Default::default(),
            by_module: Default::default(),
            checks: Vec::new(),
            error: None,
            source_uuid: n.source_uuid,
            filestore: None,
            backup: None,
            source_activity: None,
            golive: Box::default(),
            comparison: None,
            comparison_acknowledged: None,
            openupgrade: Vec::new(),
            hops: Vec::new(),
            anomaly_drafts: Vec::new(),
            odoo_neutralize: None,
            platform: None,
            source_bytes: None,
            frozen_at: None,
        }
    }

    /// An interrupted or failed job taken up again by this process.
    pub fn restart(mut self, plan: &Path) -> JobRecord {
        self.status = JobStatus::Running;
        self.pid = std::process::id();
        self.error = None;
        self.finished_at = None;
        self.plan = Some(plan.to_path_buf());
        self
    }

    pub fn step(&self, name: Step) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.name == name)
    }

    pub fn step_mut(&mut self, name: Step) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| s.name == name)
    }

    /// The status as seen now: a running job whose process is gone was
    /// interrupted (kill -9, reboot).
    pub fn effective_status(&self) -> SeenStatus {
        match self.status {
            JobStatus::Running if self.process_alive() => SeenStatus::Running,
            JobStatus::Running => SeenStatus::Interrupted,
            JobStatus::Ready => SeenStatus::Ready,
            JobStatus::Failed => SeenStatus::Failed,
            JobStatus::Cancelled => SeenStatus::Cancelled,
            JobStatus::Discarded => SeenStatus::Discarded,
        }
    }

    pub fn process_alive(&self) -> bool {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), None).is_ok()
    }

    pub fn is_done(&self, name: Step) -> bool {
        self.step(name)
            .is_some_and(|s| s.status == StepStatus::Done)
    }
}

pub fn jobs_dir(state: &Path) -> PathBuf {
    state.join("jobs")
}

pub fn path(state: &Path, id: &str) -> PathBuf {
    jobs_dir(state).join(format!("{id}.json"))
}

pub fn log_path(state: &Path, id: &str) -> PathBuf {
    state.join("logs").join(format!("{id}.log"))
}

pub fn save(state: &Path, job: &JobRecord) -> Result<(), StoreError> {
    store::write_json(&path(state, &job.id), job)
}

pub fn load(state: &Path, id: &str) -> Result<Option<JobRecord>, StoreError> {
    store::read_json(&path(state, id))
}

pub fn steps(names: &[Step]) -> Vec<StepRecord> {
    names
        .iter()
        .map(|&name| StepRecord {
            name,
            status: StepStatus::Pending,
            started_at: None,
            finished_at: None,
            seconds: None,
            detail: String::new(),
        })
        .collect()
}

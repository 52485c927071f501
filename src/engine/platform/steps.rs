//! Where the platform's steps sit in the two jobs: the test job dumps its
//! fresh copy before neutralizing it (Odoo gets production's data as it is),
//! then request → upload → Odoo's upgrade → download → import take the
//! plan's place; the production job uploads its backup. Each step done
//! before is skipped; the others ask the platform where the request stands.

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::super::emit::Emitter;
use super::super::events::Event;
use super::super::job::JobRecord;
use super::super::{Engine, EngineError};

/// The steps a test job of this engine records, in order.
pub const TEST_STEPS: [&str; 12] = [
    "preflight",
    "clone",
    DUMP,
    "neutralize",
    REQUEST,
    UPLOAD,
    UPGRADE,
    DOWNLOAD,
    IMPORT,
    "neutralize_again",
    "verify",
    crate::engine::compare::STEP,
];

/// The steps a production job of this engine records: its backup is the upload.
pub const PRODUCTION_STEPS: [&str; 10] = [
    "preflight",
    "clone",
    "backup",
    REQUEST,
    UPLOAD,
    UPGRADE,
    DOWNLOAD,
    IMPORT,
    "verify",
    crate::engine::compare::STEP,
];

pub const DUMP: &str = "dump";
pub const REQUEST: &str = "request";
pub const UPLOAD: &str = "upload";
pub const UPGRADE: &str = "odoo_upgrade";
pub const DOWNLOAD: &str = "download";
pub const IMPORT: &str = "import";

impl Engine {
    async fn platform_step<F>(
        &self,
        record: &mut JobRecord,
        name: &str,
        skip: Option<String>,
        emit: &Emitter,
        current: &mut String,
        body: F,
    ) -> Result<(), EngineError>
    where
        F: AsyncFnOnce(&mut JobRecord) -> Result<String, EngineError>,
    {
        *current = name.into();
        if let Some(why) = skip {
            emit.event(Event::StepSkipped {
                step: name.into(),
                why,
            })
            .await;
            return Ok(());
        }
        let t0 = self.begin(record, name, emit)?;
        emit.event(Event::StepStarted { step: name.into() }).await;
        let detail = body(record).await?;
        self.finish(record, name, t0, detail, emit).await
    }

    /// The test job's dump of its fresh copy, before it is neutralized.
    pub(in crate::engine) async fn platform_dump_step(
        &self,
        record: &mut JobRecord,
        major: u32,
        fresh_copy: bool,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<(), EngineError> {
        let have = record
            .platform
            .as_ref()
            .and_then(|p| p.upload_dir.as_ref())
            .is_some_and(|d| d.join("toc.dat").is_file());
        // Not needed once the platform has it; made again over a new copy.
        let skip = if record.is_done(UPLOAD) {
            Some("the platform has the dump".to_string())
        } else if record.is_done(DUMP) && have && !fresh_copy {
            Some("dumped before".to_string())
        } else {
            None
        };
        self.platform_step(record, DUMP, skip, emit, current, async |r| {
            self.platform_dump(r, major, cancel).await
        })
        .await
    }

    /// Request → upload → Odoo's upgrade → download → import, in the plan's place.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::engine) async fn platform_steps(
        &self,
        record: &mut JobRecord,
        maint: &Client,
        major: u32,
        emit: &Emitter,
        cancel: &CancellationToken,
        current: &mut String,
    ) -> Result<(), EngineError> {
        // A production job uploads its backup: the same dump, -Fd.
        if record
            .platform
            .as_ref()
            .is_some_and(|p| p.upload_dir.is_none())
        {
            if let Some(b) = record.backup.clone() {
                let bytes = b.bytes;
                self.set_upload(record, b.dump, bytes)?;
            }
        }
        let made = record
            .platform
            .as_ref()
            .and_then(|p| p.request.as_ref())
            .map(|r| format!("request {} made before", r.request_id));
        self.platform_step(record, REQUEST, made, emit, current, async |r| {
            self.platform_request(r, emit).await
        })
        .await?;
        let done = |r: &JobRecord, s: &str| r.is_done(s).then(|| "done before".to_string());
        let skip = done(record, UPLOAD);
        self.platform_step(record, UPLOAD, skip, emit, current, async |r| {
            self.platform_upload(r, emit, cancel).await
        })
        .await?;
        let skip = done(record, UPGRADE);
        self.platform_step(record, UPGRADE, skip, emit, current, async |r| {
            self.platform_process(r, major, emit, cancel).await
        })
        .await?;
        let result = super::dir(&self.state_dir, &record.id).join("result");
        let downloaded = record
            .platform
            .as_ref()
            .and_then(|p| p.request.as_ref())
            .and_then(|r| r.dump_name.as_ref())
            .is_some_and(|n| result.join(n).join("toc.dat").is_file());
        let skip = (record.is_done(DOWNLOAD) && (downloaded || record.is_done(IMPORT)))
            .then(|| "downloaded before".to_string());
        self.platform_step(record, DOWNLOAD, skip, emit, current, async |r| {
            self.platform_download(r, emit, cancel).await
        })
        .await?;
        let skip = done(record, IMPORT);
        self.platform_step(record, IMPORT, skip, emit, current, async |r| {
            self.platform_restore(r, maint, major, emit, cancel).await
        })
        .await?;
        let report = super::report_path(&self.state_dir, &record.id);
        if report.is_file() {
            emit.log(format!(
                "Odoo's upgrade report: {} (and {})",
                report.display(),
                super::platform_log_path(&self.state_dir, &record.id).display()
            ));
        }
        Ok(())
    }
}

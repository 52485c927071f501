//! Where the platform's steps sit in the two jobs: the test job dumps its
//! fresh copy before neutralizing it (Odoo gets production's data as it is),
//! then request → upload → Odoo's upgrade → download → import take the
//! plan's place; the production job uploads its backup. Each step done
//! before is skipped; the others ask the platform where the request stands.

use super::super::job::JobRecord;
use super::super::runner::{JobCtx, Runner};
use super::super::step::Step;
use super::super::{Engine, EngineError};

/// The steps a test job of this engine records, in order.
pub const TEST_STEPS: [Step; 12] = [
    Step::Preflight,
    Step::Clone,
    Step::Dump,
    Step::Neutralize,
    Step::Request,
    Step::Upload,
    Step::OdooUpgrade,
    Step::Download,
    Step::Import,
    Step::NeutralizeAgain,
    Step::Verify,
    Step::Compare,
];

/// The steps a production job of this engine records: its backup is the upload.
pub const PRODUCTION_STEPS: [Step; 10] = [
    Step::Preflight,
    Step::Clone,
    Step::Backup,
    Step::Request,
    Step::Upload,
    Step::OdooUpgrade,
    Step::Download,
    Step::Import,
    Step::Verify,
    Step::Compare,
];

impl Engine {
    /// The test job's dump of its fresh copy, before it is neutralized.
    pub(in crate::engine) async fn platform_dump_step(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
        fresh_copy: bool,
    ) -> Result<(), EngineError> {
        let JobCtx { major, cancel, .. } = run.cx;
        let have = record
            .platform
            .as_ref()
            .and_then(|p| p.upload_dir.as_ref())
            .is_some_and(|d| d.join("toc.dat").is_file());
        // Not needed once the platform has it; made again over a new copy.
        let skip = if record.is_done(Step::Upload) {
            Some("the platform has the dump")
        } else if record.is_done(Step::Dump) && have && !fresh_copy {
            Some("dumped before")
        } else {
            None
        };
        run.step(record, Step::Dump, skip, async |r| {
            self.platform_dump(r, major, cancel).await
        })
        .await?;
        Ok(())
    }

    /// Request → upload → Odoo's upgrade → download → import, in the plan's place.
    pub(in crate::engine) async fn platform_steps(
        &self,
        record: &mut JobRecord,
        run: &mut Runner<'_>,
    ) -> Result<(), EngineError> {
        let JobCtx {
            maint,
            major,
            emit,
            cancel,
            ..
        } = run.cx;
        // A production job uploads its backup: the same dump, -Fd.
        if record
            .platform
            .as_ref()
            .is_some_and(|p| p.upload_dir.is_none())
        {
            if let Some(b) = record.backup.clone() {
                self.set_upload(record, b.dump, b.bytes)?;
            }
        }
        let made = record
            .platform
            .as_ref()
            .and_then(|p| p.request.as_ref())
            .map(|r| format!("request {} made before", r.request_id));
        run.step(record, Step::Request, made.as_deref(), async |r| {
            self.platform_request(r, emit).await
        })
        .await?;
        let done = |r: &JobRecord, s: Step| r.is_done(s).then_some("done before");
        let skip = done(record, Step::Upload);
        run.step(record, Step::Upload, skip, async |r| {
            self.platform_upload(r, emit, cancel).await
        })
        .await?;
        let skip = done(record, Step::OdooUpgrade);
        run.step(record, Step::OdooUpgrade, skip, async |r| {
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
        let skip = (record.is_done(Step::Download) && (downloaded || record.is_done(Step::Import)))
            .then_some("downloaded before");
        run.step(record, Step::Download, skip, async |r| {
            self.platform_download(r, emit, cancel).await
        })
        .await?;
        let skip = done(record, Step::Import);
        run.step(record, Step::Import, skip, async |r| {
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

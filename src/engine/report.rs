//! Gathers what the anomaly report needs and writes it.

use std::path::Path;

use super::job::{self, JobStatus};
use super::{Engine, EngineError};
use crate::campaign::{self, checklist, report};
use crate::odoo::inspect;

impl Engine {
    pub fn checklist_items(&self) -> Result<Vec<checklist::Item>, EngineError> {
        let dir = crate::config::config_dir().map(|d| d.join("checklists"));
        checklist::load(dir.as_deref()).map_err(EngineError::Preflight)
    }

    /// Odoo's upgrade platform's request and files of a job that used it.
    pub fn platform_files(&self, j: &job::JobRecord) -> Option<report::PlatformFiles> {
        let p = j.platform.as_ref()?;
        let files = [
            super::platform::report_path(&self.state_dir, &j.id),
            super::platform::platform_log_path(&self.state_dir, &j.id),
        ]
        .into_iter()
        .filter(|f| f.is_file())
        .collect();
        Some(report::PlatformFiles {
            request_id: p.request_id().map(str::to_string),
            files,
        })
    }

    /// The last test job of the campaign that reached "ready", if any.
    pub fn last_ready_test(
        &self,
        c: &campaign::Campaign,
    ) -> Result<Option<job::JobRecord>, EngineError> {
        for id in c.test_jobs.iter().rev() {
            if let Some(j) = job::load(&self.state_dir, id)? {
                if j.status == JobStatus::Ready {
                    return Ok(Some(j));
                }
            }
        }
        Ok(None)
    }

    pub async fn report(&self, db: &str, out: &Path) -> Result<report::Written, EngineError> {
        let c = campaign::load(&self.state_dir, &self.server_key().await?, db)?.ok_or_else(|| {
            EngineError::Preflight(format!(
                "no campaign for {db:?}: run a test upgrade first (upgrade-pilot test --db {db:?})"
            ))
        })?;
        let items = self.checklist_items()?;
        let last = self.last_ready_test(&c)?;
        // Production may be frozen: the report then goes without the module list.
        let inspection = match self.conn.connect(db).await {
            Ok(client) => inspect::inspect(&client, db, &self.config.odoo.custom_modules)
                .await
                .ok(),
            Err(_) => None,
        };
        let log_tail: Vec<String> = last
            .as_ref()
            .and_then(|j| std::fs::read_to_string(job::log_path(&self.state_dir, &j.id)).ok())
            .map(|t| {
                let lines: Vec<&str> = t.lines().collect();
                lines[lines.len().saturating_sub(60)..]
                    .iter()
                    .map(|l| l.chars().take(400).collect())
                    .collect()
            })
            .unwrap_or_default();
        // The comparisons the tester must see: last test copy's, and production's.
        let mut comparisons = Vec::new();
        if let Some(cmp) = last.as_ref().and_then(|j| j.comparison.as_deref().cloned()) {
            comparisons.push((format!("test copy {}", cmp.copy), cmp));
        }
        if let Some(cmp) = self
            .production_comparison(db)
            .await?
            .and_then(|j| j.comparison)
        {
            let cmp = *cmp;
            comparisons.push((format!("production copy {}", cmp.copy), cmp));
        }
        let platform = last.as_ref().and_then(|j| self.platform_files(j));
        report::write(
            out,
            &report::Input {
                campaign: &c,
                items: &items,
                last_test: last.as_ref(),
                inspection: inspection.as_ref(),
                log_tail: &log_tail,
                comparisons: &comparisons,
                platform: platform.as_ref(),
                downtime: self.last_downtime(&c)?.map(|d| report::DowntimeText {
                    headline: d.headline(),
                    spent_on: d.spent_on(),
                    json: serde_json::to_value(&d).unwrap_or_default(),
                }),
            },
        )
        .map_err(EngineError::Preflight)
    }
}

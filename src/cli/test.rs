use color_eyre::Result;
use serde_json::json;

use super::confirm::confirm;
use super::output::{err, json as print_json, out};
use super::progress::follow;
use crate::engine::Engine;
use crate::engine::test_job::TestRequest;

pub async fn run(engine: &Engine, req: TestRequest, yes: bool, as_json: bool) -> Result<i32> {
    if req.discard {
        confirm(
            &format!(
                "Discard the earlier unfinished test job of {:?} and drop its copy?",
                req.db
            ),
            yes,
        )?;
    }
    let prepared = engine.prepare_test(&req).await?;
    if !as_json {
        let verb = if prepared.resumed {
            "resuming"
        } else {
            "creating"
        };
        err(&format!(
            "{verb} test copy {:?} of {:?} ({} → {}), {}",
            prepared.record.work_db,
            req.db,
            prepared.inspection.series,
            prepared.target,
            prepared.why
        ));
        for n in &prepared.notes {
            err(&format!("  [{}] {}", n.level, n.text));
        }
    }
    let handle = engine.start_test(prepared);
    let record = follow(handle, as_json).await?;
    if as_json {
        let steps: Vec<_> = record
            .steps
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status, "seconds": s.seconds}))
            .collect();
        print_json(&json!({
            "job": record.id,
            "test_db": record.work_db,
            "source_db": record.source_db,
            "source_version": record.source_version,
            "target_version": record.target,
            "clone_method": record.clone_method,
            "neutralized": record.neutralized.0,
            "neutralized_again": record.neutralized_again.0,
            "neutralized_by_module": record.neutralized_by_module,
            "neutralized_again_by_module": record.neutralized_again_by_module,
            "neutralize_notes": record.neutralize_notes,
            "checks": record.checks,
            "steps": steps,
            "filestore": record.filestore,
        }));
    } else {
        out(&format!(
            "test database {:?} is ready: neutralized, upgraded to {}, verified",
            record.work_db, record.target
        ));
        out(&format!(
            "  connect: {}",
            engine.conn.psql_line(&record.work_db)
        ));
        out("  nothing done in the test copy reaches production: it has no link to it");
    }
    Ok(0)
}

//! `--detach`: the job runs in a process of its own, in its own process group,
//! with its output in a file, so that closing the terminal cannot stop it. We
//! wait until its preflight has passed (or failed) before returning.

use std::process::Stdio;
use std::time::{Duration, Instant};

use color_eyre::Result;
use color_eyre::eyre::{bail, eyre};
use std::os::unix::process::CommandExt;

use super::output::{json, out};
use crate::engine::Engine;

/// Marker the child prints once its job is under way (see test.rs/production.rs).
pub const STARTED: &str = "test copy";
pub const STARTED_PRODUCTION: &str = "the upgraded copy";

pub fn run(engine: &Engine, db: &str, as_json: bool) -> Result<i32> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--detach" && a != "--json")
        .collect();
    let dir = engine.state_dir.join("logs");
    crate::campaign::store::ensure_dir(&dir)?;
    let outfile = dir.join(format!(
        "detached-{}.out",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3f")
    ));
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&outfile)?
    };
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .map_err(|e| eyre!("cannot start the background job: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = std::fs::read_to_string(&outfile).unwrap_or_default();
        if text.contains(STARTED) || text.contains(STARTED_PRODUCTION) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            let last = text
                .lines()
                .rev()
                .find(|l| l.starts_with("upgrade-pilot:"))
                .unwrap_or("the job stopped before it started");
            if status.success() {
                break;
            }
            bail!("{}", last.trim_start_matches("upgrade-pilot: "));
        }
        if Instant::now() > deadline {
            bail!(
                "the background job did not start within 5 minutes; see {}",
                outfile.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if as_json {
        json(
            &serde_json::json!({ "detached": true, "pid": child.id(), "db": db, "output": outfile }),
        );
    } else {
        out(&format!(
            "running in the background (pid {}), output in {}",
            child.id(),
            outfile.display()
        ));
        out(&format!(
            "  follow it: upgrade-pilot status --db {db:?}, or open upgrade-pilot (it attaches)"
        ));
    }
    Ok(0)
}

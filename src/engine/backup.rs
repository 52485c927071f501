//! Backups of a working copy: `pg_dump -Fd -Z1 -j N` (production is frozen
//! while it runs: the fastest format that still compresses, measured in
//! docs/PERFORMANCE.md), the filestore as a tar, checked readable with
//! `pg_restore --list`. A failed backup leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::job::Backup;
use crate::pg::conn::ConnInfo;
use crate::pg::tools;

fn err(msg: impl Into<String>) -> EngineError {
    EngineError::Io(msg.into())
}

pub(super) async fn run(
    mut cmd: tokio::process::Command,
    what: &str,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| err(format!("cannot start {what}: {e}")))?;
    let out = tokio::select! {
        o = child.wait_with_output() => o.map_err(|e| err(format!("{what}: {e}")))?,
        _ = cancel.cancelled() => return Err(EngineError::Cancelled),
    };
    if !out.status.success() {
        let why = tools::why_failed(&String::from_utf8_lossy(&out.stderr));
        return Err(err(format!("{what} failed: {why}")));
    }
    Ok(())
}

fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Dumps `db` to the directory `<dir>/<db>-<hash>.dumpdir` (`jobs` tables at a
/// time) and its filestore to `<dir>/<db>-<hash>.filestore.tar`.
pub async fn backup(
    conn: &ConnInfo,
    major: u32,
    db: &str,
    dir: &Path,
    filestore: Option<(&Path, &Path)>,
    jobs: u32,
    cancel: &CancellationToken,
) -> Result<(Backup, Vec<String>), EngineError> {
    crate::campaign::store::ensure_dir(dir).map_err(|e| err(e.to_string()))?;
    let file = crate::pg::ident::file_name_for(db);
    let dump = dir.join(format!("{file}.dumpdir"));
    // pg_dump -Fd refuses a directory that exists: one left by an interrupted run goes.
    if dump.exists() {
        std::fs::remove_dir_all(&dump).map_err(|e| {
            err(format!(
                "cannot remove the unfinished backup {}: {e}",
                dump.display()
            ))
        })?;
    }
    let tar = filestore.map(|_| dir.join(format!("{file}.filestore.tar")));
    let result = async {
        let pg_dump = tools::client_tool("pg_dump", major).map_err(err)?;
        let mut cmd = tokio::process::Command::new(&pg_dump);
        // -Z1: compressed, at a fraction of the default level's time; -Fd -j:
        // the tables compressed in parallel.
        cmd.args(["-Fd", "-Z1", "-j", &jobs.max(1).to_string(), "-f"])
            .arg(&dump)
            .arg("-d")
            .arg(ConnInfo::conninfo_db(db))
            .envs(conn.child_env())
            .env(super::leftovers::MARKER, super::leftovers::tag(conn, db));
        run(cmd, "pg_dump", cancel).await?;
        let pg_restore = tools::client_tool("pg_restore", major).map_err(err)?;
        let mut list = tokio::process::Command::new(&pg_restore);
        list.arg("--list").arg(&dump);
        run(list, "pg_restore --list (backup check)", cancel).await?;
        if let (Some((root, name)), Some(tar)) = (filestore, &tar) {
            return tar_filestore(root, name, tar, cancel).await;
        }
        Ok::<Vec<String>, EngineError>(Vec::new())
    }
    .await;
    let notes = match result {
        Ok(n) => n,
        Err(e) => {
            // Disk full or cancelled: no partial backup that looks usable.
            let _ = std::fs::remove_dir_all(&dump);
            if let Some(t) = &tar {
                let _ = std::fs::remove_file(t);
            }
            // The job's own folder, when nothing else is in it.
            let _ = std::fs::remove_dir(dir);
            return Err(e);
        }
    };
    let bytes = dir_size(&dump) + tar.as_deref().map(size_of).unwrap_or(0);
    Ok((
        Backup {
            dump,
            filestore_tar: tar,
            bytes,
        },
        notes,
    ))
}

/// The scratch copy production's backup is dumped from, named after the
/// job's working copy: `<db>_backup_<target>_<time>` for `<db>_upgrade_…`.
pub fn scratch_name(work_db: &str) -> String {
    match work_db.rfind("_upgrade_") {
        Some(i) => format!(
            "{}_backup_{}",
            &work_db[..i],
            &work_db[i + "_upgrade_".len()..]
        ),
        None => crate::pg::ident::name_with_suffix(work_db, "_backup").0,
    }
}

/// Where production's backup is taken from while the plan runs.
pub struct Frozen<'a> {
    /// The frozen production: nothing writes it, nobody may connect to it.
    pub original: &'a str,
    /// A template copy of it made for the dump (a frozen database takes no
    /// connection, not even pg_dump's), dropped once dumped.
    pub scratch: &'a str,
    /// Odoo's `filestore` folder, holding `<original>`.
    pub filestore_root: Option<&'a Path>,
    /// The job's backup folder.
    pub dir: &'a Path,
    /// pg_dump's parallel workers.
    pub jobs: u32,
}

/// The backup of frozen production, alongside the plan: a template copy of
/// the original (the state production was frozen in, as the working copy
/// started from), dumped and checked as [`backup`] does, the original's
/// filestore tarred; the scratch copy is dropped however it ends.
/// `beside` runs on the scratch copy while it is dumped (the comparison's
/// reading of production as frozen: it too is then off the production window).
pub async fn backup_frozen(
    conn: &ConnInfo,
    maint: &tokio_postgres::Client,
    major: u32,
    from: Frozen<'_>,
    emit: &super::emit::Emitter,
    cancel: &CancellationToken,
    beside: impl AsyncFnOnce(&str),
) -> Result<(Backup, Vec<String>), EngineError> {
    if from.scratch == from.original {
        return Err(err(format!(
            "refusing to use {:?} as the backup's scratch copy: it is production",
            from.scratch
        )));
    }
    // A killed run's copy or pg_dump of the scratch copy may still run.
    super::leftovers::end(maint, conn, from.scratch, emit).await?;
    crate::pg::server::drop_db(maint, from.scratch, major).await?;
    super::clone::template_copy(maint, from.original, from.scratch, major, cancel).await?;
    let fs = from
        .filestore_root
        .filter(|r| r.join(from.original).is_dir())
        .map(|r| (r, Path::new(from.original)));
    let dump = async {
        super::emit::crash_point("during:backup");
        super::emit::pause_point("during:backup").await;
        backup(conn, major, from.scratch, from.dir, fs, from.jobs, cancel).await
    };
    let (result, ()) = tokio::join!(dump, beside(from.scratch));
    let dropped = crate::pg::server::drop_db(maint, from.scratch, major).await;
    let out = result?;
    dropped?;
    Ok(out)
}

/// Tars `<root>/<name>` as `<name>/…` through symbolic links, so that a part
/// of the filestore moved to another disk is in the backup (a top folder
/// that is a link too). Links pointing nowhere hold no file: left out, and
/// returned so that the caller says so.
async fn tar_filestore(
    root: &Path,
    name: &Path,
    tar: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<String>, EngineError> {
    let listing = crate::odoo::filestore::list(&root.join(name)).map_err(|e| {
        err(format!(
            "reading the filestore {}: {e}",
            root.join(name).display()
        ))
    })?;
    let mut cmd = tokio::process::Command::new("tar");
    // Exclusions are literal names, anchored at the archive's top.
    cmd.arg("-C")
        .arg(root)
        .args(["--dereference", "--no-wildcards", "--anchored"]);
    for d in &listing.dead_links {
        let mut ex = std::ffi::OsString::from("--exclude=");
        ex.push(name.join(d));
        cmd.arg(ex);
    }
    cmd.arg("-cf").arg(tar).arg(name);
    run(cmd, "tar of the filestore", cancel).await?;
    Ok(if listing.dead_links.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} symbolic link(s) of the filestore point nowhere (or to a folder above them) and are not in the backup: {}",
            listing.dead_links.len(),
            listing
                .dead_links
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )]
    })
}

/// Whether production job `job`'s backup lets its copy be restored: taken,
/// finished, still there and readable (`pg_restore --list` again: a backup
/// damaged or removed since the job checked it is no way back). Err: why not,
/// and what to do, in one line.
pub async fn restorable(job: &super::job::JobRecord, major: u32) -> Result<(), String> {
    use super::job::StepStatus;
    use super::step::Step;
    let again = format!(
        "run upgrade-pilot production --db {:?} again to take it",
        job.source_db
    );
    let step = job.step(Step::Backup);
    let b = match (step.map(|s| s.status), &job.backup) {
        (Some(StepStatus::Done), Some(b)) => b,
        (Some(StepStatus::Running), _) if job.process_alive() => {
            return Err(format!(
                "the backup of production is still being taken by production job {}: restore is allowed once it is finished and checked (upgrade-pilot status shows it)",
                job.id
            ));
        }
        (Some(StepStatus::Failed), _) => {
            return Err(format!(
                "the backup of production failed ({}): {again}",
                step.map(|s| s.detail.as_str()).unwrap_or_default()
            ));
        }
        _ => {
            return Err(format!(
                "production job {} has no finished backup of production: {again}",
                job.id
            ));
        }
    };
    if !b.dump.join("toc.dat").is_file() {
        return Err(format!(
            "the backup {} is gone or incomplete: {again}",
            b.dump.display()
        ));
    }
    let pg_restore = tools::client_tool("pg_restore", major)?;
    let mut list = tokio::process::Command::new(&pg_restore);
    list.arg("--list").arg(&b.dump);
    run(list, "pg_restore --list", &CancellationToken::new())
        .await
        .map_err(|e| {
            format!(
                "the backup {} is not readable ({e}): {again}",
                b.dump.display()
            )
        })
}

pub fn default_dir(state: &Path) -> PathBuf {
    state.join("backups")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// Odoo's backup zip: dump.sql, filestore/, manifest.json.
    Zip,
    /// pg_dump custom format (+ `<out>.filestore.tar`).
    Dump,
    /// pg_dump directory format, parallel (+ `<out>/filestore.tar`).
    Dir,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zip" => Ok(Self::Zip),
            "dump" => Ok(Self::Dump),
            "dir" => Ok(Self::Dir),
            o => Err(format!(
                "backup format {o:?} is unknown: use zip, dump or dir"
            )),
        }
    }
}

/// `upgrade-pilot backup`: a backup of `db` at `out` in the chosen format.
pub async fn backup_db(
    conn: &ConnInfo,
    db: &str,
    format: Format,
    out: &Path,
    data_dir: Option<&Path>,
    jobs: u32,
) -> Result<(u64, Vec<String>), EngineError> {
    if out.exists() {
        return Err(EngineError::Preflight(format!(
            "{} already exists: choose another --out",
            out.display()
        )));
    }
    let c = conn.connect(db).await?;
    let major = crate::pg::server::server_major(&c).await?;
    let fs_root = data_dir
        .map(|d| d.join("filestore"))
        .filter(|r| r.join(db).is_dir());
    let never = CancellationToken::new();
    let result = match format {
        Format::Dump => {
            let pg_dump = tools::client_tool("pg_dump", major).map_err(err)?;
            let mut cmd = tokio::process::Command::new(&pg_dump);
            cmd.args(["-Fc", "-Z1", "-f"])
                .arg(out)
                .arg("-d")
                .arg(ConnInfo::conninfo_db(db))
                .envs(conn.child_env());
            run(cmd, "pg_dump", &never).await?;
            match &fs_root {
                Some(root) => {
                    tar_filestore(
                        root,
                        Path::new(db),
                        &out.with_extension("filestore.tar"),
                        &never,
                    )
                    .await
                }
                None => Ok(Vec::new()),
            }
        }
        Format::Dir => {
            let pg_dump = tools::client_tool("pg_dump", major).map_err(err)?;
            let mut cmd = tokio::process::Command::new(&pg_dump);
            cmd.args(["-Fd", "-Z1", "-j", &jobs.max(1).to_string(), "-f"])
                .arg(out)
                .arg("-d")
                .arg(ConnInfo::conninfo_db(db))
                .envs(conn.child_env());
            run(cmd, "pg_dump", &never).await?;
            match &fs_root {
                Some(root) => {
                    tar_filestore(root, Path::new(db), &out.join("filestore.tar"), &never).await
                }
                None => Ok(Vec::new()),
            }
        }
        Format::Zip => {
            let manifest = odoo_manifest(&c, db).await?;
            let pg_dump = tools::client_tool("pg_dump", major).map_err(err)?;
            let (conn, db, out, fs) = (
                conn.clone(),
                db.to_string(),
                out.to_path_buf(),
                fs_root.map(|r| r.join(db)),
            );
            tokio::task::spawn_blocking(move || {
                write_zip(&conn, &pg_dump, &db, &out, fs.as_deref(), &manifest)
            })
            .await
            .map_err(|e| err(e.to_string()))?
        }
    };
    let notes = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = if out.is_dir() {
                std::fs::remove_dir_all(out)
            } else {
                std::fs::remove_file(out)
            };
            return Err(e);
        }
    };
    let bytes = if out.is_dir() {
        dir_size(out)
    } else {
        size_of(out)
    };
    Ok((bytes, notes))
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                dir_size(&e.path())
            } else {
                size_of(&e.path())
            }
        })
        .sum()
}

/// manifest.json as Odoo's database manager writes it.
async fn odoo_manifest(
    c: &tokio_postgres::Client,
    db: &str,
) -> Result<serde_json::Value, EngineError> {
    let (series, version, _) = crate::odoo::inspect::base_version(c, db).await?;
    let pg_version: String = c.query_one("SHOW server_version", &[]).await?.get(0);
    let modules: serde_json::Map<String, serde_json::Value> = c
        .query("SELECT name::text, coalesce(latest_version, '') FROM ir_module_module WHERE state = 'installed' ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), serde_json::Value::String(r.get(1))))
        .collect();
    Ok(serde_json::json!({
        "odoo_dump": "1",
        "db_name": db,
        "version": series.to_string(),
        "version_info": [series.major, series.minor, 0, "final", 0, ""],
        "major_version": series.to_string(),
        "base_version": version,
        "pg_version": pg_version.split_whitespace().next().unwrap_or(""),
        "modules": modules,
    }))
}

fn write_zip(
    conn: &ConnInfo,
    pg_dump: &Path,
    db: &str,
    out: &Path,
    filestore: Option<&Path>,
    manifest: &serde_json::Value,
) -> Result<Vec<String>, EngineError> {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| err(format!("{}: {e}", out.display())))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("dump.sql", opts)
        .map_err(|e| err(e.to_string()))?;
    // Odoo restores dump.sql with psql as its own role: no owner statements.
    let mut child = std::process::Command::new(pg_dump)
        .args(["--no-owner", "-d"])
        .arg(ConnInfo::conninfo_db(db))
        .envs(conn.child_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot start pg_dump: {e}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| err("pg_dump has no stdout"))?;
    std::io::copy(&mut stdout, &mut zip).map_err(|e| err(format!("writing dump.sql: {e}")))?;
    let outp = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !outp.status.success() {
        return Err(err(format!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&outp.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )));
    }
    let mut notes = Vec::new();
    if let Some(root) = filestore {
        // Through symbolic links: the files they point to are the attachments.
        let listing = crate::odoo::filestore::list(root)
            .map_err(|e| err(format!("reading the filestore {}: {e}", root.display())))?;
        for (rel, real) in &listing.files {
            zip.start_file(format!("filestore/{}", rel.display()), opts)
                .map_err(|e| err(e.to_string()))?;
            let mut f =
                std::fs::File::open(real).map_err(|e| err(format!("{}: {e}", real.display())))?;
            std::io::copy(&mut f, &mut zip).map_err(|e| err(e.to_string()))?;
        }
        if !listing.dead_links.is_empty() {
            notes.push(format!(
                "{} symbolic link(s) of the filestore point nowhere (or to a folder above them) and are not in the zip: {}",
                listing.dead_links.len(),
                listing.dead_links.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    zip.start_file("manifest.json", opts)
        .map_err(|e| err(e.to_string()))?;
    zip.write_all(
        serde_json::to_string_pretty(manifest)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(|e| err(e.to_string()))?;
    let f = zip.finish().map_err(|e| err(e.to_string()))?;
    f.sync_all().map_err(|e| err(e.to_string()))?;
    Ok(notes)
}

//! Imported upgrades: an upgraded database produced elsewhere (Odoo's upgrade
//! platform, another machine) becomes the working copy. Formats: pg_dump custom
//! (`.dump`) or directory dumps, plain SQL (`.sql`, `.sql.gz`), and Odoo backup
//! zips (`dump.sql`, `filestore/`, `manifest.json`). The zip's filestore is
//! merged over the copy of the original one, as Odoo's upgrade script does.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use crate::pg::conn::ConnInfo;
use crate::pg::ident::quote_ident;
use crate::pg::{server, tools};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("import {path}: {detail}")]
    Bad { path: PathBuf, detail: String },
    #[error("cancelled")]
    Cancelled,
    #[error("import: {}", crate::pg::db_message(.0))]
    Pg(#[from] tokio_postgres::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Custom,
    Directory,
    Sql,
    SqlGz,
    OdooZip,
}

fn bad(path: &Path, detail: impl Into<String>) -> ImportError {
    ImportError::Bad {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Recognises the file by its first bytes (names lie).
pub fn detect(path: &Path) -> Result<Format, ImportError> {
    if path.is_dir() {
        return if path.join("toc.dat").is_file() {
            Ok(Format::Directory)
        } else {
            Err(bad(
                path,
                "a folder without toc.dat is not a pg_dump directory dump",
            ))
        };
    }
    let mut head = [0u8; 5];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| bad(path, e.to_string()))?;
    match &head[..n] {
        [b'P', b'G', b'D', b'M', b'P'] => Ok(Format::Custom),
        [b'P', b'K', 3, 4, ..] => Ok(Format::OdooZip),
        [0x1f, 0x8b, ..] => Ok(Format::SqlGz),
        _ if n > 0 => Ok(Format::Sql),
        _ => Err(bad(path, "the file is empty")),
    }
}

/// Checks what can be checked before anything is dropped: readable, complete
/// archive, a dump inside, no path escaping the filestore.
pub fn check(path: &Path, pg_restore: &Path) -> Result<Format, ImportError> {
    let format = detect(path)?;
    match format {
        Format::Custom | Format::Directory => {
            let out = std::process::Command::new(pg_restore)
                .arg("--list")
                .arg(path)
                .output()
                .map_err(|e| bad(path, e.to_string()))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(bad(
                    path,
                    format!(
                        "not a readable pg_dump archive: {}",
                        err.lines().next().unwrap_or("").trim()
                    ),
                ));
            }
        }
        Format::OdooZip => {
            let mut zip = zip::ZipArchive::new(
                std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?,
            )
            .map_err(|e| bad(path, format!("not a readable zip: {e}")))?;
            if zip.by_name("dump.sql").is_err() {
                return Err(bad(
                    path,
                    "the zip has no dump.sql: it is not an Odoo backup",
                ));
            }
            let mut names = Vec::new();
            let mut links = Vec::new();
            for i in 0..zip.len() {
                let mut f = zip.by_index(i).map_err(|e| bad(path, e.to_string()))?;
                let Some(rel) = f.enclosed_name() else {
                    return Err(bad(
                        path,
                        format!(
                            "refusing entry {:?}: its path leaves the archive",
                            entry_name(&f)
                        ),
                    ));
                };
                if f.is_symlink() {
                    let mut target = String::new();
                    let _ = (&mut f).take(4096).read_to_string(&mut target);
                    links.push((rel.clone(), entry_name(&f), target));
                }
                names.push((rel, entry_name(&f)));
            }
            check_links(path, &names, &links)?;
        }
        Format::Sql | Format::SqlGz => {}
    }
    Ok(format)
}

/// The entry's name as stored in the archive.
fn entry_name<R: Read>(f: &zip::read::ZipFile<'_, R>) -> String {
    f.name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "(unreadable name)".into())
}

/// A link in an archive could point anywhere (`/etc`): an entry under one
/// would be written there, and a link in the filestore would serve any file
/// of the server as an attachment. Odoo's backups hold plain files only.
fn check_links(
    path: &Path,
    names: &[(PathBuf, String)],
    links: &[(PathBuf, String, String)],
) -> Result<(), ImportError> {
    for (rel, name) in names {
        if let Some((_, link, target)) = links
            .iter()
            .find(|(l, _, _)| rel != l && rel.starts_with(l))
        {
            return Err(bad(
                path,
                format!(
                    "refusing entry {name:?}: it lies under {link:?}, a symbolic link (to {target:?}) in the archive; nothing was made"
                ),
            ));
        }
    }
    if let Some((_, link, target)) = links.first() {
        return Err(bad(
            path,
            format!(
                "refusing entry {link:?}: a symbolic link (to {target:?}); an Odoo backup holds plain files only"
            ),
        ));
    }
    Ok(())
}

/// Errors a plain dump from another server may raise that change nothing of
/// the data: settings or meta-commands a newer pg_dump writes, foreign roles.
fn harmless(line: &str) -> bool {
    line.contains("transaction_timeout")
        || line.contains("invalid command \\restrict")
        || line.contains("invalid command \\unrestrict")
        || (line.contains("role \"") && line.contains("does not exist"))
}

/// Feeds SQL to psql; fails on any error that is not harmless.
async fn psql_stream(
    conn: &ConnInfo,
    major: u32,
    db: &str,
    owner: &str,
    input: impl Read + Send + 'static,
    path: &Path,
    cancel: &CancellationToken,
) -> Result<(), ImportError> {
    // Cut off at the first line that would act outside the working copy.
    let mut input = super::sqlguard::SqlGuard::new(input);
    let psql = tools::client_tool("psql", major).map_err(|e| bad(path, e))?;
    let mut child = tokio::process::Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-d"])
        .arg(ConnInfo::conninfo_db(db))
        .envs(conn.child_env())
        .env(super::leftovers::MARKER, super::leftovers::tag(conn, db))
        .env(
            "PGOPTIONS",
            format!("-c role={}", owner.replace(' ', "\\ ")),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| bad(path, format!("cannot start psql: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| bad(path, "psql has no stdin"))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(8);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stderr = child.stderr.take();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut e, &mut text).await;
        }
        text
    });
    loop {
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(Ok(bytes)) => if stdin.write_all(&bytes).await.is_err() { break },
                Some(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => return Err(bad(path, format!("refused at {e}: nothing after it was run, and production was not touched; import a dump pg_dump made of one database"))),
                Some(Err(e)) => return Err(bad(path, format!("reading the dump: {e} (truncated or corrupt?)"))),
                None => break,
            },
            _ = cancel.cancelled() => return Err(ImportError::Cancelled),
        }
    }
    drop(stdin);
    let status = child.wait().await.map_err(|e| bad(path, e.to_string()))?;
    let text = errors.await.unwrap_or_default();
    let real: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && !harmless(l))
        .collect();
    if !status.success() || !real.is_empty() {
        return Err(bad(
            path,
            format!(
                "{} error(s) restoring the dump, first: {}",
                real.len(),
                real.first().copied().unwrap_or("psql failed").trim()
            ),
        ));
    }
    Ok(())
}

/// Where an import goes: the working copy on its server.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub conn: &'a ConnInfo,
    pub maint: &'a tokio_postgres::Client,
    pub major: u32,
    pub work: &'a str,
    /// Odoo's data dir, for the zip's filestore.
    pub data_dir: Option<&'a Path>,
}

/// Replaces the working copy `work` with the imported database and merges the
/// zip's filestore over `<data_dir>/filestore/<work>`.
pub async fn import(
    to: Target<'_>,
    path: &Path,
    emit: &Emitter,
    cancel: &CancellationToken,
) -> Result<(), ImportError> {
    let Target {
        conn,
        maint,
        major,
        work,
        data_dir,
    } = to;
    let pg_restore = tools::client_tool("pg_restore", major).map_err(|e| bad(path, e))?;
    let format = check(path, &pg_restore)?;
    emit.log(format!("import {} ({format:?})", path.display()));
    // A killed run's psql or pg_restore may still be writing into the copy.
    super::leftovers::end(maint, conn, work, emit).await?;
    // The working copy has production's owner and rights: the import keeps them.
    let rights = super::clone::Rights::of(maint, work).await?;
    let owner = rights.owner.clone();
    server::drop_db(maint, work, major).await?;
    maint
        .batch_execute(&format!(
            "CREATE DATABASE {} OWNER {} TEMPLATE template0 ENCODING 'UTF8'",
            quote_ident(work),
            quote_ident(&owner)
        ))
        .await?;
    rights
        .apply(maint, work)
        .await
        .map_err(|e| bad(path, e.to_string()))?;
    match format {
        Format::Custom | Format::Directory => {
            let out = tokio::process::Command::new(&pg_restore)
                .args(["--no-owner", "--no-privileges", "--exit-on-error", "-d"])
                .arg(ConnInfo::conninfo_db(work))
                .arg(path)
                .envs(conn.child_env())
                .env(super::leftovers::MARKER, super::leftovers::tag(conn, work))
                .env(
                    "PGOPTIONS",
                    format!("-c role={}", owner.replace(' ', "\\ ")),
                )
                .stdin(Stdio::null())
                .output();
            let out = tokio::select! {
                o = out => o.map_err(|e| bad(path, e.to_string()))?,
                _ = cancel.cancelled() => return Err(ImportError::Cancelled),
            };
            if !out.status.success() {
                let last = tools::why_failed(&String::from_utf8_lossy(&out.stderr));
                return Err(bad(
                    path,
                    format!("pg_restore failed: {last} (truncated or corrupt dump?)"),
                ));
            }
        }
        Format::Sql => {
            let f = std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?;
            psql_stream(conn, major, work, &owner, f, path, cancel).await?;
        }
        Format::SqlGz => {
            let f = std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?;
            psql_stream(
                conn,
                major,
                work,
                &owner,
                flate2::read::GzDecoder::new(f),
                path,
                cancel,
            )
            .await?;
        }
        Format::OdooZip => {
            let tmp = tempfile::Builder::new()
                .prefix("upgrade-pilot-import-")
                .tempdir()
                .map_err(|e| bad(path, e.to_string()))?;
            let sql = tmp.path().join("dump.sql");
            let mut zip = zip::ZipArchive::new(
                std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?,
            )
            .map_err(|e| bad(path, e.to_string()))?;
            {
                let mut entry = zip
                    .by_name("dump.sql")
                    .map_err(|e| bad(path, e.to_string()))?;
                let mut out = std::fs::File::create(&sql).map_err(|e| bad(path, e.to_string()))?;
                std::io::copy(&mut entry, &mut out)
                    .map_err(|e| bad(path, format!("dump.sql: {e} (truncated zip?)")))?;
                out.flush().map_err(|e| bad(path, e.to_string()))?;
            }
            let f = std::fs::File::open(&sql).map_err(|e| bad(path, e.to_string()))?;
            psql_stream(conn, major, work, &owner, f, path, cancel).await?;
            if let Some(dd) = data_dir {
                let n = merge_filestore(&mut zip, &crate::odoo::filestore::path(dd, work), path)?;
                emit.log(format!(
                    "filestore: {n} file(s) from the archive merged over the original"
                ));
            }
        }
    }
    Ok(())
}

/// Writes the zip's `filestore/…` entries under `dest`. Each file is written to a
/// temporary name and renamed, so a hard link shared with production's
/// filestore is replaced, never written through.
fn merge_filestore(
    zip: &mut zip::ZipArchive<std::fs::File>,
    dest: &Path,
    path: &Path,
) -> Result<usize, ImportError> {
    let mut n = 0;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| bad(path, e.to_string()))?;
        let Some(rel) = f.enclosed_name() else {
            return Err(bad(
                path,
                format!(
                    "refusing entry {:?}: its path leaves the archive",
                    entry_name(&f)
                ),
            ));
        };
        if f.is_symlink() {
            return Err(bad(
                path,
                format!("refusing entry {:?}: a symbolic link", entry_name(&f)),
            ));
        }
        let Ok(rel) = rel.strip_prefix("filestore") else {
            continue;
        };
        if f.is_dir()
            || rel.as_os_str().is_empty()
            || rel.components().any(|c| !matches!(c, Component::Normal(_)))
        {
            continue;
        }
        let to = dest.join(rel);
        let dir = to.parent().unwrap_or(dest);
        std::fs::create_dir_all(dir).map_err(|e| bad(path, e.to_string()))?;
        let tmp = dir.join(format!(
            ".{}.import",
            to.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let mut out = std::fs::File::create(&tmp).map_err(|e| bad(path, e.to_string()))?;
        std::io::copy(&mut f, &mut out)
            .map_err(|e| bad(path, format!("{}: {e}", rel.display())))?;
        std::fs::rename(&tmp, &to).map_err(|e| bad(path, e.to_string()))?;
        n += 1;
    }
    Ok(n)
}

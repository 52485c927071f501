//! Atomic JSON files: written to a temp file, fsynced, renamed over the old one,
//! mode 0600 in 0700 directories. A file that does not parse is never silently
//! replaced: it is copied aside and the caller gets an error that says where.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not trusted: {why}, so another user could have written what it says: check it, then chown it to yourself and chmod 600"
    )]
    Untrusted { path: PathBuf, why: String },
    #[error(
        "{path} is damaged ({detail}); a copy is kept at {backup}: repair or remove it, then run again"
    )]
    Corrupt {
        path: PathBuf,
        backup: PathBuf,
        detail: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let written = f.write_all(bytes).and_then(|_| f.sync_all());
    drop(f);
    if let Err(e) = written {
        // A partial temp file would hold room on a disk that is already full.
        let _ = fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    // The rename is durable only once the directory is synced.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads a JSON file; `Ok(None)` when it does not exist. A file another user
/// owns, or that others may write, is refused: a journal says which databases
/// to rename, and this process may be a superuser's.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = f.metadata().map_err(io(path))?;
    let me = nix::unistd::geteuid().as_raw();
    let why = if meta.uid() != me {
        Some(format!(
            "it belongs to uid {}, not to you (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "its mode {:o} lets others write it",
            meta.mode() & 0o777
        ))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(StoreError::Untrusted {
            path: path.to_path_buf(),
            why,
        });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes).map_err(io(path))?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
            let backup = path.with_extension(format!("corrupt-{stamp}"));
            if !backup.exists() {
                fs::copy(path, &backup).map_err(io(&backup))?;
                fs::set_permissions(&backup, fs::Permissions::from_mode(0o600))
                    .map_err(io(&backup))?;
            }
            Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                backup,
                detail: e.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_mode_and_corrupt_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let v: serde_json::Value = read_json(&p).unwrap().unwrap();
        assert_eq!(v["a"], 1);
        fs::write(&p, b"{\"a\": 1").unwrap();
        let err = read_json::<serde_json::Value>(&p).unwrap_err();
        let StoreError::Corrupt { backup, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(fs::read(backup).unwrap(), b"{\"a\": 1");
        assert_eq!(
            fs::read(&p).unwrap(),
            b"{\"a\": 1",
            "the bad file is left as it was"
        );
        assert!(
            read_json::<serde_json::Value>(&dir.path().join("none.json"))
                .unwrap()
                .is_none()
        );
    }
}

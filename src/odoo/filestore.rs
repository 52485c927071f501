//! Odoo's filestore: `<data_dir>/filestore/<db>`. Files are named by content hash
//! and never rewritten, so a tree of hard links is a safe, instant copy on the
//! same filesystem; elsewhere we copy.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub fn path(data_dir: &Path, db: &str) -> PathBuf {
    data_dir.join("filestore").join(db)
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CopyStats {
    pub files: u64,
    pub bytes: u64,
    pub linked: u64,
    pub copied: u64,
}

/// Copies `src` to `dst` (which must not exist) as hard links where possible.
/// Ownership follows the source when running as root, so Odoo can still write.
pub fn link_tree(src: &Path, dst: &Path) -> io::Result<CopyStats> {
    if dst.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dst.display()),
        ));
    }
    let mut stats = CopyStats::default();
    let mut can_link = true;
    copy_dir(src, dst, &mut stats, &mut can_link)?;
    Ok(stats)
}

fn copy_dir(src: &Path, dst: &Path, stats: &mut CopyStats, can_link: &mut bool) -> io::Result<()> {
    let meta = fs::metadata(src)?;
    fs::create_dir(dst)?;
    fs::set_permissions(dst, meta.permissions())?;
    if nix::unistd::geteuid().is_root() {
        let _ = std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid()));
    }
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type()?;
        if ft.is_dir() {
            copy_dir(&from, &to, stats, can_link)?;
        } else if ft.is_file() {
            stats.files += 1;
            stats.bytes += entry.metadata()?.len();
            if *can_link {
                match fs::hard_link(&from, &to) {
                    Ok(()) => {
                        stats.linked += 1;
                        continue;
                    }
                    // Another filesystem or links not allowed: copy from here on.
                    Err(_) => *can_link = false,
                }
            }
            fs::copy(&from, &to)?;
            stats.copied += 1;
        }
    }
    Ok(())
}

/// Removes a filestore copy we made; refuses anything outside `<data_dir>/filestore`.
pub fn remove(data_dir: &Path, db: &str) -> io::Result<()> {
    let p = path(data_dir, db);
    // A database may be named ".." or "a/b": never a path out of the filestore.
    if db.contains('/')
        || db == "."
        || db == ".."
        || p.parent() != Some(&data_dir.join("filestore"))
    {
        return Err(io::Error::other(
            "refusing to remove a path outside the filestore",
        ));
    }
    match fs::remove_dir_all(&p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_a_tree() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("filestore/prod");
        fs::create_dir_all(src.join("ab")).unwrap();
        fs::write(src.join("ab/abcdef"), b"hello").unwrap();
        fs::write(src.join("top"), b"x").unwrap();
        let dst = d.path().join("filestore/test");
        let s = link_tree(&src, &dst).unwrap();
        assert_eq!((s.files, s.bytes, s.linked), (2, 6, 2));
        assert_eq!(fs::read(dst.join("ab/abcdef")).unwrap(), b"hello");
        assert_eq!(
            fs::metadata(dst.join("top")).unwrap().ino(),
            fs::metadata(src.join("top")).unwrap().ino()
        );
        assert!(
            link_tree(&src, &dst).is_err(),
            "never over an existing tree"
        );
        remove(d.path(), "test").unwrap();
        assert!(!dst.exists() && src.exists());
    }

    #[test]
    fn remove_never_leaves_the_filestore_whatever_the_db_name() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("filestore/prod")).unwrap();
        fs::write(d.path().join("odoo.conf"), b"x").unwrap();
        for name in ["..", ".", "../filestore", "prod/..", "a/b"] {
            assert!(remove(d.path(), name).is_err(), "{name}");
        }
        assert!(d.path().join("odoo.conf").exists() && d.path().join("filestore/prod").exists());
    }
}

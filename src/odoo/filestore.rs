//! Odoo's filestore: `<data_dir>/filestore/<db>`. Files are named by content hash
//! and never rewritten, so a tree of hard links is a safe, instant copy on the
//! same filesystem; elsewhere we copy.

use std::collections::HashSet;
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
    /// Symbolic links copied as what they point to (a file or a folder).
    pub followed: u64,
    /// Links kept as links, relative paths: they point nowhere, or to a
    /// folder above them (a loop).
    pub kept_links: Vec<String>,
    /// Neither file, folder nor link (a socket, a fifo): not copied.
    pub skipped: Vec<String>,
    /// Where the copy really is, when the source's top folder is a link
    /// (the copy is made beside what it points to, and `dst` links to it).
    pub placed_at: Option<PathBuf>,
}

impl CopyStats {
    /// What the log says about links and odd entries; empty when there were none.
    pub fn link_notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.placed_at {
            out.push(format!(
                "the filestore's folder is a symbolic link: the copy is made beside what it points to, at {}, and linked from the filestore",
                p.display()
            ));
        }
        if self.followed > 0 {
            out.push(format!(
                "{} symbolic link(s) copied as what they point to",
                self.followed
            ));
        }
        if !self.kept_links.is_empty() {
            out.push(format!(
                "{} symbolic link(s) pointing nowhere (or to a folder above them) kept as links: {}",
                self.kept_links.len(),
                self.kept_links.join(", ")
            ));
        }
        if !self.skipped.is_empty() {
            out.push(format!(
                "{} entry(ies) neither file nor folder not copied: {}",
                self.skipped.len(),
                self.skipped.join(", ")
            ));
        }
        out
    }
}

/// Copies `src` to `dst` (which must not exist) as hard links where possible.
/// Ownership follows the source when running as root, so Odoo can still write.
/// Symbolic links inside are copied as what they point to: a link shared
/// with production would let the copy's Odoo delete production's files
/// (its garbage collector unlinks files it no longer references). When `src`
/// itself is a link (the filestore on another disk), the copy goes beside
/// what it points to, on that disk, and `dst` becomes a link to it.
pub fn link_tree(src: &Path, dst: &Path) -> io::Result<CopyStats> {
    if fs::symlink_metadata(dst).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dst.display()),
        ));
    }
    let mut stats = CopyStats::default();
    let real = fs::canonicalize(src)?;
    let target = if fs::symlink_metadata(src)?.file_type().is_symlink() {
        let name = dst
            .file_name()
            .ok_or_else(|| io::Error::other("the copy has no name"))?;
        let beside = real
            .parent()
            .ok_or_else(|| io::Error::other("the filestore's link points to /"))?
            .join(name);
        if fs::symlink_metadata(&beside).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", beside.display()),
            ));
        }
        // The link first: whatever happens next, remove() finds the copy.
        std::os::unix::fs::symlink(&beside, dst)?;
        stats.placed_at = Some(beside.clone());
        beside
    } else {
        dst.to_path_buf()
    };
    let mut walk = Walk {
        stats,
        no_link_devs: HashSet::new(),
        chain: vec![real.clone()],
    };
    walk.copy_dir(&real, &target, Path::new(""))?;
    walk.stats.kept_links.sort();
    walk.stats.skipped.sort();
    Ok(walk.stats)
}

struct Walk {
    stats: CopyStats,
    /// Source devices where a hard link failed (another filesystem): copy.
    no_link_devs: HashSet<u64>,
    /// The real folders being copied, to see a link that loops.
    chain: Vec<PathBuf>,
}

impl Walk {
    fn copy_dir(&mut self, src: &Path, dst: &Path, rel: &Path) -> io::Result<()> {
        let meta = fs::metadata(src)?;
        fs::create_dir(dst)?;
        fs::set_permissions(dst, meta.permissions())?;
        own_like(dst, &meta);
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            let from = entry.path();
            let to = dst.join(entry.file_name());
            let rel = rel.join(entry.file_name());
            let ft = entry.file_type()?;
            if ft.is_symlink() {
                match fs::metadata(&from) {
                    Ok(m) if m.is_dir() => {
                        let real = fs::canonicalize(&from)?;
                        if self.chain.iter().any(|c| c.starts_with(&real)) {
                            self.keep_link(&from, &to, &rel)?;
                        } else {
                            self.stats.followed += 1;
                            self.chain.push(real.clone());
                            self.copy_dir(&real, &to, &rel)?;
                            self.chain.pop();
                        }
                    }
                    Ok(m) if m.is_file() => {
                        self.stats.followed += 1;
                        self.copy_file(&fs::canonicalize(&from)?, &to, &m)?;
                    }
                    Ok(_) => self.stats.skipped.push(rel.display().to_string()),
                    // Points nowhere: the link is all there is to keep.
                    Err(_) => self.keep_link(&from, &to, &rel)?,
                }
            } else if ft.is_dir() {
                self.chain.push(from.clone());
                self.copy_dir(&from, &to, &rel)?;
                self.chain.pop();
            } else if ft.is_file() {
                self.copy_file(&from, &to, &entry.metadata()?)?;
            } else {
                self.stats.skipped.push(rel.display().to_string());
            }
        }
        Ok(())
    }

    fn copy_file(&mut self, from: &Path, to: &Path, meta: &fs::Metadata) -> io::Result<()> {
        self.stats.files += 1;
        self.stats.bytes += meta.len();
        if !self.no_link_devs.contains(&meta.dev()) {
            match fs::hard_link(from, to) {
                Ok(()) => {
                    self.stats.linked += 1;
                    return Ok(());
                }
                // Another filesystem or links not allowed: copy from that device on.
                Err(_) => {
                    self.no_link_devs.insert(meta.dev());
                }
            }
        }
        fs::copy(from, to)?;
        own_like(to, meta);
        self.stats.copied += 1;
        Ok(())
    }

    fn keep_link(&mut self, from: &Path, to: &Path, rel: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        self.stats.kept_links.push(rel.display().to_string());
        Ok(())
    }
}

fn own_like(p: &Path, meta: &fs::Metadata) {
    if nix::unistd::geteuid().is_root() {
        let _ = std::os::unix::fs::lchown(p, Some(meta.uid()), Some(meta.gid()));
    }
}

/// What a backup of a filestore holds: every file, reached through links too.
#[derive(Debug, Default)]
pub struct Listing {
    /// (path inside the filestore, real path) of each file.
    pub files: Vec<(PathBuf, PathBuf)>,
    /// Links pointing nowhere, or to a folder above them: nothing to back up.
    pub dead_links: Vec<PathBuf>,
}

/// Lists the files under `root`, following symbolic links (not in loops).
pub fn list(root: &Path) -> io::Result<Listing> {
    let mut out = Listing::default();
    let real = fs::canonicalize(root)?;
    let mut stack = vec![(real.clone(), PathBuf::new(), vec![real])];
    while let Some((dir, rel, chain)) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let rel = rel.join(e.file_name());
            let Ok(m) = fs::metadata(e.path()) else {
                out.dead_links.push(rel);
                continue;
            };
            let real = fs::canonicalize(e.path())?;
            if m.is_dir() {
                if chain.iter().any(|c| c.starts_with(&real)) {
                    out.dead_links.push(rel);
                } else {
                    let mut chain = chain.clone();
                    chain.push(real.clone());
                    stack.push((real, rel, chain));
                }
            } else if m.is_file() {
                out.files.push((rel, real));
            }
        }
    }
    out.files.sort();
    Ok(out)
}

/// Removes a filestore copy we made; refuses anything outside `<data_dir>/filestore`.
/// A copy made beside a filestore that lives elsewhere is a link to a folder
/// bearing the copy's name: both go.
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
    match fs::symlink_metadata(&p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_symlink() => {
            if let Ok(t) = fs::canonicalize(&p) {
                // Only a folder named as the copy is ours (link_tree made it).
                if t.file_name() == Some(std::ffi::OsStr::new(db)) && t.is_dir() {
                    fs::remove_dir_all(&t)?;
                }
            }
            fs::remove_file(&p)
        }
        Ok(_) => fs::remove_dir_all(&p),
    }
}

/// Merges the files under `src` over `dst` (what Odoo's upgrade platform
/// returns over the copy of production's filestore). Each file is copied to a
/// temporary name in its folder and renamed: a hard link that `dst` shares
/// with production is replaced, never written through. Links in `src` are
/// refused (a returned tree holds plain files). Returns the files merged.
pub fn merge_over(src: &Path, dst: &Path) -> io::Result<u64> {
    fs::create_dir_all(dst)?;
    let mut n = 0;
    for e in fs::read_dir(src)? {
        let e = e?;
        let ft = e.file_type()?;
        let to = dst.join(e.file_name());
        if ft.is_symlink() {
            return Err(io::Error::other(format!(
                "{} is a symbolic link: refused",
                e.path().display()
            )));
        } else if ft.is_dir() {
            n += merge_over(&e.path(), &to)?;
        } else if ft.is_file() {
            let tmp = dst.join(format!(".{}.merge", e.file_name().to_string_lossy()));
            fs::copy(e.path(), &tmp)?;
            fs::rename(&tmp, &to)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_replaces_linked_files_without_touching_the_original() {
        let d = tempfile::tempdir().unwrap();
        let prod = d.path().join("filestore/prod");
        fs::create_dir_all(prod.join("ab")).unwrap();
        fs::write(prod.join("ab/kept"), b"prod").unwrap();
        fs::write(prod.join("ab/same"), b"prod").unwrap();
        let copy = d.path().join("filestore/copy");
        link_tree(&prod, &copy).unwrap();
        let ret = d.path().join("returned");
        fs::create_dir_all(ret.join("ab")).unwrap();
        fs::create_dir_all(ret.join("cd")).unwrap();
        fs::write(ret.join("ab/same"), b"upgraded").unwrap();
        fs::write(ret.join("cd/new"), b"new").unwrap();
        assert_eq!(merge_over(&ret, &copy).unwrap(), 2);
        assert_eq!(fs::read(copy.join("ab/same")).unwrap(), b"upgraded");
        assert_eq!(fs::read(copy.join("cd/new")).unwrap(), b"new");
        assert_eq!(fs::read(copy.join("ab/kept")).unwrap(), b"prod");
        // Production's own file is untouched.
        assert_eq!(fs::read(prod.join("ab/same")).unwrap(), b"prod");
        assert!(!prod.join("cd").exists());
    }

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
    fn links_are_copied_as_what_they_point_to_and_loops_kept() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("disk2/ab");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("abfile"), b"moved away").unwrap();
        fs::write(d.path().join("disk2/single"), b"one file").unwrap();
        let src = d.path().join("filestore/prod");
        fs::create_dir_all(src.join("cd")).unwrap();
        symlink(&other, src.join("ab")).unwrap();
        symlink(d.path().join("disk2/single"), src.join("cd/single")).unwrap();
        symlink("/nonexistent/x", src.join("cd/dead")).unwrap();
        symlink("..", src.join("cd/up")).unwrap();
        let dst = d.path().join("filestore/copy");
        let s = link_tree(&src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("ab/abfile")).unwrap(), b"moved away");
        assert!(
            !fs::symlink_metadata(dst.join("ab"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(dst.join("cd/single")).unwrap(), b"one file");
        assert_eq!((s.files, s.followed), (2, 2));
        assert_eq!(s.kept_links, vec!["cd/dead", "cd/up"]);
        assert_eq!(fs::read_link(dst.join("cd/up")).unwrap(), Path::new(".."));
        let l = list(&src).unwrap();
        let names: Vec<_> = l
            .files
            .iter()
            .map(|(r, _)| r.display().to_string())
            .collect();
        assert_eq!(names, vec!["ab/abfile", "cd/single"]);
        assert_eq!(l.dead_links.len(), 2);
        // Production's files are left alone by the removal of the copy.
        remove(d.path(), "copy").unwrap();
        assert!(other.join("abfile").exists() && !dst.exists());
    }

    #[test]
    fn a_linked_filestore_is_copied_where_it_lives() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("disk2/prod");
        fs::create_dir_all(real.join("ab")).unwrap();
        fs::write(real.join("ab/f"), b"x").unwrap();
        fs::create_dir_all(d.path().join("filestore")).unwrap();
        std::os::unix::fs::symlink(&real, d.path().join("filestore/prod")).unwrap();
        let dst = d.path().join("filestore/copy");
        let s = link_tree(&d.path().join("filestore/prod"), &dst).unwrap();
        let beside = d.path().join("disk2/copy");
        assert_eq!(s.placed_at.as_deref(), Some(beside.as_path()));
        assert_eq!(fs::read_link(&dst).unwrap(), beside);
        assert_eq!(s.linked, 1, "same disk: hard links");
        remove(d.path(), "copy").unwrap();
        assert!(!beside.exists() && fs::symlink_metadata(&dst).is_err());
        assert!(real.join("ab/f").exists());
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

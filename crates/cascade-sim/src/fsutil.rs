//! Whole files or none: atomic writes.
//!
//! Every output file is written under a temporary name in the same directory and renamed into
//! place when complete, so an interrupted command leaves either the old file or the new one,
//! never half of one. The temporary name carries the writer's own tag,
//! `<name>.cascade-<pid>.tmp`: a writer removes its own temporary files when a write fails, and
//! nothing else is ever taken for one of cascade's (a user's `notes.tmp` is not).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

/// The tag between a file's name and `.tmp` in the temporary names this process writes.
pub fn temp_tag() -> String {
    format!("cascade-{}", std::process::id())
}

/// The temporary name used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.tmp", temp_tag()));
    path.with_file_name(name)
}

/// If `name` is a cascade temporary file name (`<base>.cascade-<pid>.tmp`), its base name and
/// the writer's process id.
pub fn parse_temp_name(name: &str) -> Option<(&str, u32)> {
    let rest = name.strip_suffix(".tmp")?;
    let (base, tag) = rest.rsplit_once(".cascade-")?;
    if base.is_empty() || tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, tag.parse().ok()?))
}

/// `path` made absolute, with `.` and `..` resolved and every symbolic link of its longest
/// existing ancestor followed; the part that does not exist yet is appended as written. Two
/// paths that name the same place resolve to the same value, whether or not it exists yet.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    // Lexical normalization first, so `a/missing/../b` does not depend on `missing`.
    let mut norm = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                norm.pop();
            }
            other => norm.push(other.as_os_str()),
        }
    }
    let mut existing = norm.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(c) => {
                let mut out = c;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return Ok(norm),
            },
        }
    }
}

/// Whether `inner` is `outer` or lies under it (both as [`resolve`]d).
pub fn is_within(inner: &Path, outer: &Path) -> io::Result<bool> {
    Ok(resolve(inner)?.starts_with(resolve(outer)?))
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A file that appears at its final path only on [`AtomicFile::commit`]; dropped uncommitted,
/// it removes its temporary file.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir)?;
        }
        let tmp = temp_path(path);
        let f = File::create(&tmp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            out: Some(BufWriter::new(f)),
        })
    }

    /// Flush, sync and rename into place; on failure (a full disk, say) the temporary file is
    /// removed and the final path is left as it was.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let r = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .and_then(|()| fs::rename(&self.tmp, &self.path));
        if r.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        r
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("cascade-fsutil-{}", std::process::id()));
        let p = dir.join("a.txt");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!p.exists());
        assert!(!temp_path(&p).exists());
        write_atomic(&p, b"whole").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_carry_the_writer() {
        let t = temp_path(Path::new("runs/3.bin"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_temp_name(name), Some(("3.bin", std::process::id())));
        for other in [
            "notes.tmp",
            "3.bin.999.tmp",
            "x.cascade-.tmp",
            "x.cascade-12a.tmp",
            ".cascade-1.tmp",
        ] {
            assert_eq!(parse_temp_name(other), None, "{other}");
        }
    }

    #[test]
    fn resolve_names_one_place_one_way() {
        let dir = std::env::temp_dir().join(format!("cascade-resolve-{}", std::process::id()));
        fs::create_dir_all(dir.join("a")).unwrap();
        let a = resolve(&dir.join("a")).unwrap();
        assert_eq!(resolve(&dir.join("a/./b/../")).unwrap(), a);
        assert_eq!(resolve(&dir.join("missing/../a")).unwrap(), a);
        assert_eq!(resolve(&dir.join("a/new/x")).unwrap(), a.join("new/x"));
        assert!(is_within(&dir.join("a/new"), &dir.join("a")).unwrap());
        assert!(!is_within(&dir.join("ab"), &dir.join("a")).unwrap());
        assert!(!is_within(&dir, &dir.join("a")).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}

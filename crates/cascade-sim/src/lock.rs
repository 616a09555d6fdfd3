//! One writer per store: an advisory lock on `<store>/cascade.lock`.
//!
//! Every command that writes into a store (sweep, resume, `--force`, merge, report, plot,
//! export and replay into the store) holds the lock while it writes; a second writer is
//! refused with an error that names the holder (process id, host, start time and command line,
//! written into the lock file by the holder). The lock is the operating system's (`flock` on
//! Unix, through `std::fs::File::try_lock`), so it ends with its process however that process
//! ends: a killed sweep leaves no stale lock. The lock file itself stays in the store; it is
//! empty when nobody holds it.
//!
//! Because every writer holds the lock, a cascade temporary file found in a store by the lock's
//! holder was left by a writer that is gone (killed mid-write); only then is it removed.

use crate::store::StoreError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in a store directory.
pub const LOCK_FILE: &str = "cascade.lock";

/// Why a store could not be locked.
#[derive(Debug, Clone, PartialEq)]
pub enum LockError {
    /// Another process holds the lock (the message names it).
    Busy(StoreError),
    /// The directory cannot hold a store: it is a file, or a non-empty directory without a
    /// store in it.
    NotAStore(StoreError),
    /// The lock file cannot be created or read.
    Io(StoreError),
}

impl LockError {
    pub fn store_error(&self) -> &StoreError {
        match self {
            LockError::Busy(e) | LockError::NotAStore(e) | LockError::Io(e) => e,
        }
    }
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.store_error())
    }
}

impl std::error::Error for LockError {}

/// A held store lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StoreLock {
    dir: PathBuf,
    file: Option<File>,
}

/// This machine's host name, for the lock file (best effort).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether `dir` may become a store: absent, empty, or already a store (its manifest or its
/// lock file is there).
fn check_store_dir(dir: &Path) -> Result<(), LockError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(LockError::Io(StoreError::new(
                dir,
                format!("cannot be read: {e}"),
            )));
        }
        Ok(_) if !dir.is_dir() => {
            return Err(LockError::NotAStore(StoreError::new(
                dir,
                "exists and is not a directory; choose another output directory",
            )));
        }
        Ok(_) => {}
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LockError::Io(StoreError::new(dir, format!("cannot be read: {e}"))))?;
    let mut others = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "manifest.json" || name == LOCK_FILE {
            return Ok(());
        }
        others.push(name);
    }
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    let shown: Vec<&str> = others.iter().take(3).map(String::as_str).collect();
    Err(LockError::NotAStore(StoreError::new(
        dir,
        format!(
            "is not empty ({}{}) and holds no cascade store (no manifest.json); cascade writes a new store only into an absent or empty directory and never touches files it did not write: choose another output directory",
            shown.join(", "),
            if others.len() > 3 {
                format!(" and {} more", others.len() - 3)
            } else {
                String::new()
            }
        ),
    )))
}

impl StoreLock {
    /// Lock the store at `dir` for `command` (recorded in the lock file). With `create`, `dir`
    /// may be absent (it is created) or empty; otherwise it must exist. A directory that holds
    /// other files but no store is refused either way, before anything is written.
    pub fn acquire(dir: &Path, command: &str, create: bool) -> Result<StoreLock, LockError> {
        check_store_dir(dir)?;
        if create {
            std::fs::create_dir_all(dir).map_err(|e| {
                LockError::Io(StoreError::new(dir, format!("cannot be created: {e}")))
            })?;
        } else if !dir.is_dir() {
            return Err(LockError::NotAStore(StoreError::new(
                dir,
                "is not a directory",
            )));
        }
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LockError::Io(StoreError::new(&path, format!("cannot be opened: {e}"))))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let field = |k: &str| {
                    holder
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{k}=")))
                        .unwrap_or("?")
                        .to_string()
                };
                let who = if holder.trim().is_empty() {
                    "another cascade process (it has not recorded itself yet)".to_string()
                } else {
                    format!(
                        "another cascade process: pid {} on host {} since {}, running `{}`",
                        field("pid"),
                        field("host"),
                        field("since"),
                        field("command")
                    )
                };
                return Err(LockError::Busy(StoreError::new(
                    dir,
                    format!(
                        "is in use by {who}; one writer at a time: wait for it to finish (its lock, {}, ends with its process)",
                        path.display()
                    ),
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                // A file system without locks (some network file systems): go on unlocked
                // rather than refuse every command, and say so.
                eprintln!(
                    "warning: {}: cannot be locked ({e}); concurrent writers to this store will not be detected",
                    path.display()
                );
            }
        }
        let since = crate::store::now_rfc3339();
        let text = format!(
            "pid={}\nhost={}\nsince={since}\ncommand={}\n",
            std::process::id(),
            host_name(),
            command.replace('\n', " ")
        );
        let wrote = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush());
        if let Err(e) = wrote {
            return Err(LockError::Io(StoreError::new(
                &path,
                format!("cannot be written: {e}"),
            )));
        }
        Ok(StoreLock {
            dir: dir.to_path_buf(),
            file: Some(file),
        })
    }

    /// The locked directory, as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            // Leave the lock file empty: nobody holds it. Closing the file releases the lock.
            let _ = f.set_len(0);
            let _ = f.unlock();
        }
    }
}

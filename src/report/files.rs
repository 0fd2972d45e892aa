//! Report files are never half-written: each goes to a temporary name in its folder and is
//! renamed into place once complete (a `summary.json` is whole or absent), and the folder is
//! probed before the run so an unwritable `--out` is refused before any traffic.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` through `path.tmp-PID` + fsync + rename. On failure the temporary
/// file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_name(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Create the report folder and check that a file can be written in it (a probe file of a few
/// KiB is created, synced and removed), so a run never goes its whole length only to lose
/// its report.
pub fn probe_dir(dir: &Path) -> Result<(), ReportDirError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportDirError::Create {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let probe = dir.join(format!(".stampede-probe-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(&[b'\n'; 4096])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    result.map_err(|e| ReportDirError::Write {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The report folder cannot be used: the run is refused before it sends anything (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ReportDirError {
    #[error("cannot create report folder {}: {reason}", .dir.display())]
    Create {
        dir: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot write in report folder {}: {reason} (nothing was sent; pick another --out)", .dir.display())]
    Write {
        dir: std::path::PathBuf,
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-sub").join("summary.json");
        assert!(write_atomic(&target, b"{}").is_err());
        assert!(!target.exists());
        let ok = dir.path().join("summary.json");
        write_atomic(&ok, b"{}").unwrap();
        assert_eq!(std::fs::read(&ok).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn probing_a_file_as_folder_fails() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert!(probe_dir(&f).is_err());
        probe_dir(&dir.path().join("new")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("new")).unwrap().count(),
            0
        );
    }
}

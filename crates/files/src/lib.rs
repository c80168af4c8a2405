//! File helpers shared by every stage: writes that never leave a half-written file
//! looking complete, and errors that name the path and what was expected.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("hello.txt");
//! files::write_atomic(&path, b"hello").unwrap();
//! assert_eq!(files::read_string(&path, "greeting").unwrap(), "hello");
//! ```

use anyhow::{Context, Result, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: into a temporary file beside it, flushed to disk,
/// then renamed over `path`. A crash or an error leaves either the old file or none,
/// never a truncated one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("cannot write `{}`: expected a file path", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write `{}`", path.display()));
    }
    Ok(())
}

/// Put the complete directory `new` in the place of `dir`: the old `dir` (if any) is moved
/// aside first, `new` renamed into its place, and the old one removed only afterwards. If
/// the second rename fails, the old directory is moved back: an error or a crash never
/// leaves `dir` missing while its replacement is incomplete.
pub fn replace_dir(new: &Path, dir: &Path) -> Result<()> {
    if !new.is_dir() {
        bail!(
            "cannot replace `{}`: the new directory `{}` does not exist",
            dir.display(),
            new.display()
        );
    }
    let (parent, name) = parent_and_name(dir, "replace")?;
    let old = parent.join(format!(".{name}.old{}", std::process::id()));
    let _ = fs::remove_dir_all(&old);
    let had_old = dir.exists();
    if had_old {
        fs::rename(dir, &old).with_context(|| format!("cannot replace `{}`", dir.display()))?;
    }
    if let Err(e) = fs::rename(new, dir) {
        if had_old {
            let _ = fs::rename(&old, dir);
        }
        return Err(e).with_context(|| format!("cannot write `{}`", dir.display()));
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// The directory `dir` is in (`.` for a bare name) and its own name; `verb` says what
/// could not be done in the error.
fn parent_and_name(dir: &Path, verb: &str) -> Result<(PathBuf, String)> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .with_context(|| {
            format!(
                "cannot {verb} `{}`: expected a directory path",
                dir.display()
            )
        })?
        .to_string_lossy()
        .into_owned();
    Ok((parent, name))
}

/// Write a whole directory atomically: `fill` writes it under a temporary name beside
/// `dir` (its parent is created if needed), which then takes `dir`'s place
/// ([`replace_dir`]). If `fill` fails, the temporary directory is removed and `dir` is left
/// as it was.
pub fn write_dir_atomic(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let (parent, name) = parent_and_name(dir, "write")?;
    ensure_dir(&parent, "parent")?;
    let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).with_context(|| format!("cannot create `{}`", tmp.display()))?;
    if let Err(e) = fill(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    replace_dir(&tmp, dir)
}

/// [`write_atomic`] for text.
pub fn write_string_atomic(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, text.as_bytes())
}

/// Make sure `dir` is a directory we can write into, creating it (and its parents) if needed.
/// `what` names the input in the error, e.g. `"--out"`.
pub fn ensure_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{what} `{}` is a file, expected a directory (or a path that does not exist yet)",
            dir.display()
        );
    }
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create {what} directory `{}`", dir.display()))
}

/// Read a file; `what` names it in the error, e.g. `"weights"`.
pub fn read_bytes(path: &Path, what: &str) -> Result<Vec<u8>> {
    if path.is_dir() {
        bail!(
            "{what} `{}` is a directory, expected a file",
            path.display()
        );
    }
    fs::read(path).with_context(|| format!("cannot read {what} `{}`", path.display()))
}

/// Read a UTF-8 text file; `what` names it in the error, e.g. `"corpus"`.
pub fn read_string(path: &Path, what: &str) -> Result<String> {
    let bytes = read_bytes(path, what)?;
    String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{what} `{}` is not valid UTF-8: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_that_fails_to_fill_leaves_the_old_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ckpt");
        write_dir_atomic(&dir, |d| write_string_atomic(&d.join("a"), "old")).unwrap();
        let err = write_dir_atomic(&dir, |d| {
            write_string_atomic(&d.join("a"), "new")?;
            bail!("disk full")
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"));
        assert_eq!(read_string(&dir.join("a"), "a").unwrap(), "old");
        let left: Vec<_> = fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary directory is left behind");
        write_dir_atomic(&dir, |d| write_string_atomic(&d.join("b"), "new")).unwrap();
        assert!(!dir.join("a").exists() && dir.join("b").is_file());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_string_atomic(&p, "one").unwrap();
        write_string_atomic(&p, "two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }

    #[test]
    fn failed_write_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("a.txt");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("missing-dir"), "{err:#}");
    }

    #[test]
    fn ensure_dir_rejects_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, "x").unwrap();
        let err = ensure_dir(&f, "--out").unwrap_err().to_string();
        assert!(err.contains("--out") && err.contains("is a file"), "{err}");
        ensure_dir(&dir.path().join("x/y"), "--out").unwrap();
    }

    #[test]
    fn read_string_names_the_input() {
        let err = read_string(Path::new("/no/such/corpus.txt"), "corpus").unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("corpus") && msg.contains("/no/such/corpus.txt"),
            "{msg}"
        );
    }
}

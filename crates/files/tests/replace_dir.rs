//! Replacing a directory never loses the old one before the new one is in place.

use std::fs;

#[test]
fn replace_dir_swaps_in_the_new_directory_and_removes_the_old() {
    let root = tempfile::tempdir().unwrap();
    let (dir, new) = (
        root.path().join("checkpoint"),
        root.path().join(".checkpoint.tmp"),
    );
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("model.safetensors"), "old").unwrap();
    fs::create_dir(&new).unwrap();
    fs::write(new.join("model.safetensors"), "new").unwrap();
    files::replace_dir(&new, &dir).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("model.safetensors")).unwrap(),
        "new"
    );
    assert!(!new.exists());
    let left: Vec<_> = fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["checkpoint"],
        "nothing but the new checkpoint is left behind"
    );
}

#[test]
fn replace_dir_creates_a_missing_directory() {
    let root = tempfile::tempdir().unwrap();
    let (dir, new) = (root.path().join("checkpoint"), root.path().join("tmp"));
    fs::create_dir(&new).unwrap();
    files::replace_dir(&new, &dir).unwrap();
    assert!(dir.is_dir() && !new.exists());
}

#[test]
fn a_failed_replace_leaves_the_previous_directory_intact() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("checkpoint");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("model.safetensors"), "old").unwrap();
    // The new directory was never completed (here: never created).
    let err = files::replace_dir(&root.path().join("missing"), &dir).unwrap_err();
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
    assert_eq!(
        fs::read_to_string(dir.join("model.safetensors")).unwrap(),
        "old"
    );
    // The rename into place fails (the target's parent is a file): an error, and the new
    // directory is still there to retry with.
    let new = root.path().join("new");
    fs::create_dir(&new).unwrap();
    let blocker = root.path().join("file");
    fs::write(&blocker, "not a directory").unwrap();
    assert!(files::replace_dir(&new, &blocker.join("checkpoint")).is_err());
    assert!(new.is_dir(), "the new directory is not lost either");
}

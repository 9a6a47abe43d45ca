//! Finding the shared conformance material: skipped with a message when absent, a failure under `CI=true`.

use std::path::{Path, PathBuf};

/// The folder `../shared/<relative>` from the repository root, or `None` (after saying why) when it is absent.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(relative);
    if path.is_dir() {
        return Some(path);
    }
    let message = format!("skipped: the shared folder `{}` is absent", path.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}, and CI=true requires it");
    }
    eprintln!("{message}");
    None
}

/// Every file under `dir` whose name ends with one of `extensions`, sorted, recursively.
pub fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if extensions.iter().any(|ext| path.to_string_lossy().ends_with(ext)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

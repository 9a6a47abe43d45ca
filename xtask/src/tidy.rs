//! Tidy checks over the source tree, run as tests: module docs, no `mod.rs`, no stubs, runnable bins say how to run.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "snapshots" {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn all_files() -> Vec<PathBuf> {
        let root = crate::root();
        let mut files = Vec::new();
        rust_files(&root.join("crates"), &mut files);
        rust_files(&root.join("xtask"), &mut files);
        assert!(files.len() > 20, "tidy found too few files under {}", root.display());
        files
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc() {
        let missing: Vec<String> = all_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                !text.trim_start().starts_with("//!")
            })
            .map(|path| path.display().to_string())
            .collect();
        assert!(
            missing.is_empty(),
            "these files do not open with a `//!` doc saying what they own:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn no_mod_rs_and_no_stubs() {
        let stubs = [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("not yet ", "implemented")];
        for path in all_files() {
            assert_ne!(
                path.file_name().and_then(|n| n.to_str()),
                Some("mod.rs"),
                "{}: use `foo.rs` + `foo/`",
                path.display()
            );
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for stub in stubs {
                if path.ends_with("tidy.rs") {
                    continue;
                }
                assert!(!text.contains(stub), "{} contains a stub `{stub}`", path.display());
            }
        }
    }

    #[test]
    fn binaries_say_how_to_run_them() {
        for path in all_files() {
            let is_bin = path.components().any(|c| c.as_os_str() == "bin") || path.ends_with("xtask/src/main.rs");
            if is_bin {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(text.contains("Run with"), "{} should open with a `//! Run with` line", path.display());
            }
        }
    }
}

//! Project automation. Run with `cargo xtask <task>`:
//!
//! - `ci`: formatting, clippy with warnings denied, the whole test suite, and the dependency-boundary checks.
//! - `codegen`: regenerates `docs/errors.md` from the API's error table.
//! - `boundaries`: only the dependency-boundary checks.
//! - `test-pg`: the PostgreSQL tests (`kuaidi-store-pg`, and the CLI's several-servers tests) against a throwaway
//!   cluster that `scripts/with-pg` installs when missing, starts on a free loopback port and removes afterwards.
//!
//! The tidy checks (every `.rs` file opens with `//!`, no `mod.rs`, no stubs) are `#[test]`s in this crate, so they
//! run with the suite.

#![allow(clippy::print_stdout)]

mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The repository root. `cargo run` sets `CARGO_MANIFEST_DIR` at run time; it is preferred over the compile-time value
/// so a binary built from another checkout sharing the target directory still works on this one.
fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|err| format!("cannot run `{program}`: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed with {status}", args.join(" ")))
    }
}

/// Crates that must stay free of IO runtimes, SQL drivers and HTTP: the domain is pure.
const PURE_CRATES: &[&str] = &["kuaidi-model", "kuaidi-formats", "kuaidi-rules"];
const FORBIDDEN_IN_PURE: &[&str] = &["tokio", "rusqlite", "libsqlite3-sys", "axum", "hyper", "sqlx", "postgres"];

fn boundaries() -> Result<(), String> {
    for krate in PURE_CRATES {
        eprintln!("$ cargo tree -p {krate} -e normal");
        let output = Command::new("cargo")
            .args(["tree", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}"])
            .current_dir(root())
            .output()
            .map_err(|err| format!("cannot run cargo tree: {err}"))?;
        if !output.status.success() {
            return Err(format!("cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&output.stderr)));
        }
        let tree = String::from_utf8_lossy(&output.stdout);
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if FORBIDDEN_IN_PURE.contains(&name) {
                return Err(format!("{krate} depends on {name}, but it must stay free of IO runtimes, SQL and HTTP"));
            }
        }
    }
    eprintln!("boundaries ok: {} pull in none of {}", PURE_CRATES.join(", "), FORBIDDEN_IN_PURE.join(", "));
    Ok(())
}

fn ci() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"], &[])?;
    boundaries()?;
    run("cargo", &["test", "--workspace", "--locked"], &[])?;
    Ok(())
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let res = match task.as_str() {
        "ci" => ci(),
        "boundaries" => boundaries(),
        "test-pg" => run(
            "bash",
            &["scripts/with-pg", "cargo", "test", "--locked", "-p", "kuaidi-store-pg", "-p", "kuaidi-cli"],
            &[],
        ),
        "codegen" => run("cargo", &["test", "-p", "kuaidi-api", "--test", "it", "docs"], &[("UPDATE_EXPECT", "1")]),
        _ => Err(format!("unknown task `{task}`; the tasks are: ci, test-pg, codegen, boundaries")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

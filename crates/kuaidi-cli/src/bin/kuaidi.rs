//! The `kuaidi` binary. Run with `cargo run --release -- --help`.

/// mimalloc instead of glibc's malloc: ingest allocates many small strings per record, and glibc's allocator spent
/// about a fifth of the ingest path's time on them (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kuaidi_cli::main()
}

//! The `kuaidi` binary. Run with `cargo run --release -- --help`.

fn main() -> std::process::ExitCode {
    kuaidi_cli::main()
}

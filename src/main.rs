//! The `lockdrill` command; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    lockdrill::cli::main()
}

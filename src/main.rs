//! The `jmb` binary: everything lives in the library; see `jmb::cli`.

fn main() -> std::process::ExitCode {
    jmb::cli::main()
}

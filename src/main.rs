//! The `jmb` binary: everything lives in the library; see `jmb::cli`.

/// mimalloc returns freed memory to the system promptly; with glibc's per-thread arenas, the
/// temporary allocations of rendering a large calendar on a blocking thread stayed resident
/// (measured by `bench/calendar.sh`: resident memory after the run went from ~45 MB to the figure in
/// the closing note of the calendar issue).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    jmb::cli::main()
}

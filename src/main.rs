//! The `jmb` binary: everything lives in the library; see `jmb::cli`.

// jemalloc rather than glibc's allocator: cold calendars are rendered on several blocking threads, each
// of which got a glibc arena of its own that kept freed pages (ten arenas of 6 to 8 MiB for a 32 MiB
// cache); jemalloc returns them (see .cargo/config.toml) and was faster on the site benchmark too. It also
// serves C code's `malloc` (SQLite's caches), see Cargo.toml.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    jmb::cli::main()
}

//! `signalbox`: see `signalbox --help`.

fn main() -> std::process::ExitCode {
    tune_malloc();
    signalbox_server::cli::main()
}

/// Blocks of at least this size get pages of their own from the kernel (and give them back when
/// freed), see [`tune_malloc`].
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Two glibc malloc settings that keep the resident memory of ingest down (an explicit
/// `MALLOC_ARENA_MAX` / `MALLOC_MMAP_THRESHOLD_` still wins):
///
/// - at most two arenas: glibc gives every thread that allocates under contention an arena of
///   its own (up to eight per core) and returns little of them: under ingest load the tokio
///   workers and SQLite's thread kept ~25 MiB more resident than two arenas do, at the same
///   speed (Railway backlog bench: 113 → 90 MiB peak);
/// - a fixed mmap threshold of 256 KiB: by default glibc raises the threshold to the size of
///   each large block freed, so after the first batch a page of a backlog (a response body,
///   a vector of a few thousand events) is carved out of an arena, where the small blocks
///   allocated around it keep its pages resident after it is freed. Served by mmap, its pages
///   go back to the kernel when it is freed (Railway backlog bench: peak RSS 86-88 → 67-68 MiB,
///   at the same speed).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: called first thing in main, before any other thread exists; mallopt only
        // sets an allocator parameter and has no memory-safety preconditions.
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
        }
    }
}

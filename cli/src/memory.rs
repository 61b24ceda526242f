//! The orchestrator's memory when it collects many hosts at once (a fleet sweep).
//!
//! glibc gives each thread that allocates its own malloc arena, up to eight per CPU, and an
//! arena keeps the memory freed in it for reuse by its threads: a sweep's collecting threads,
//! their compression workers and watchdogs spread the same short-lived buffers over a dozen
//! or more arenas, and the process holds the high-water mark of every one of them (measured:
//! 460 MiB peak RSS for a 30-host lab sweep at `-j 8`, 300 MiB with two arenas). A sweep
//! therefore caps the arenas before it starts its threads.

/// Most malloc arenas a sweep uses: one per CPU, at least two, at most eight.
pub fn arenas() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

/// Caps glibc's malloc arenas at [`arenas`] (nothing elsewhere): called before the sweep's
/// threads start, it bounds what freed memory the process keeps whatever the number of
/// threads allocating.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let n = i32::try_from(arenas()).unwrap_or(8);
        // SAFETY: `mallopt` only sets a parameter of the allocator (under its own lock); no
        // memory is passed or returned, and M_ARENA_MAX is a valid parameter of glibc's.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, n);
        }
    }
}

//! The orchestrator's memory when it collects many hosts at once (a fleet sweep).
//!
//! glibc gives each thread that allocates its own malloc arena, up to eight per CPU, and an
//! arena keeps the memory freed in it for reuse by its threads: a sweep's collecting threads,
//! their compression workers and watchdogs spread the same short-lived buffers over a dozen
//! or more arenas, and the process holds the high-water mark of every one of them (measured:
//! 460 MiB peak RSS for a 30-host lab sweep at `-j 8`, 300 MiB with two arenas). Buffers of
//! a quarter MiB and more (file heads, records, package lists) would also move into the
//! arenas once glibc raised its mmap threshold, and leave holes there between a host's
//! long-lived data and the next host's. A sweep therefore caps the arenas and fixes the mmap
//! threshold before it starts its threads, and hands the freed pages back after each host.

/// Most malloc arenas a sweep uses: one per CPU, at least two, at most eight.
pub fn arenas() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

/// Allocations at least this large are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 256 << 10;

/// Caps glibc's malloc arenas at [`arenas`] and fixes its mmap threshold at
/// [`MMAP_THRESHOLD`] (nothing elsewhere): called before the sweep's threads start, it
/// bounds what freed memory the process keeps whatever the number of threads allocating.
pub fn limit_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let n = i32::try_from(arenas()).unwrap_or(8);
        let mmap = i32::try_from(MMAP_THRESHOLD).unwrap_or(i32::MAX);
        // SAFETY: `mallopt` only sets parameters of the allocator (under its own lock); no
        // memory is passed or returned, and both are valid parameters of glibc's.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, n);
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        }
    }
}

/// Hands the free pages of every arena back to the system: called when a host is done, so
/// that what its collection freed is not kept as the holes of the next hosts' arenas.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free memory of the allocator to the system (under
    // the arenas' locks); no memory is passed and no allocation is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}

//! The machine under a benchmark: pinning the bench's main thread to one CPU (every thread
//! and process it starts while pinned inherits that, and `available_parallelism` then says
//! 1, so dossier's compression pool has one worker), and dropping the page cache for
//! cold-cache runs.

use std::mem::{size_of, zeroed};

/// The CPUs the calling thread may run on.
fn affinity() -> Result<libc::cpu_set_t, String> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(format!(
                "sched_getaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(set)
    }
}

fn set_affinity(set: &libc::cpu_set_t) -> Result<(), String> {
    // SAFETY: `set` is a valid cpu_set_t of the size given.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), set) } != 0 {
        return Err(format!(
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The calling thread pinned to one CPU until dropped (then its former CPUs are restored).
pub struct Pinned {
    saved: libc::cpu_set_t,
}

/// Pins the calling thread to the first CPU it may run on now.
pub fn pin_to_one_cpu() -> Result<Pinned, String> {
    let saved = affinity()?;
    let max = 8 * size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads a bit of a valid set, for an index below its size.
    let cpu = (0..max)
        .find(|&c| unsafe { libc::CPU_ISSET(c, &saved) })
        .ok_or("no CPU in this thread's affinity mask")?;
    // SAFETY: as above; CPU_ZERO and CPU_SET write into a set we own.
    let one = unsafe {
        let mut one: libc::cpu_set_t = zeroed();
        libc::CPU_ZERO(&mut one);
        libc::CPU_SET(cpu, &mut one);
        one
    };
    set_affinity(&one)?;
    Ok(Pinned { saved })
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Err(e) = set_affinity(&self.saved) {
            eprintln!("dossier-bench: restoring the CPU affinity: {e}");
        }
    }
}

/// Writes dirty pages back (`sync`), then drops the page cache, dentries and inodes
/// (`echo 3 > /proc/sys/vm/drop_caches`). Err(why) when that is not allowed here (not root,
/// or a container without a writable `/proc/sys`).
pub fn drop_caches() -> Result<(), String> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3")
        .map_err(|e| format!("cannot write /proc/sys/vm/drop_caches: {e}"))
}

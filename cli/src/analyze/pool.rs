//! The worker pool of an analysis run: bundles are verified and analyzed on a few threads,
//! and their results are handed back in bundle order, so whatever writes (on the main
//! thread) does so in the same order whatever the timing.

use std::collections::BTreeMap;
use std::sync::{Mutex, mpsc};

/// Most worker threads verifying and analyzing bundles.
pub const MAX_WORKERS: usize = 8;

/// Runs `work` on every item of `items` on a pool of worker threads and hands each result to
/// `take` in the order of `items`, with at most two items per worker in flight (memory stays
/// flat however many items there are).
pub(crate) fn in_order<I: Sync, R: Send>(
    items: &[I],
    work: impl Fn(&I) -> R + Sync,
    mut take: impl FnMut(&I, R),
) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS)
        .min(items.len().max(1));
    if workers == 1 {
        for it in items {
            take(it, work(it));
        }
        return;
    }
    let window = 2 * workers;
    let (task_tx, task_rx) = mpsc::channel::<usize>();
    let task_rx = Mutex::new(task_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (task_rx, work) = (&task_rx, &work);
            scope.spawn(move || {
                loop {
                    let next = task_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(i) = next else { break };
                    if done_tx.send((i, work(&items[i]))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut sent = 0;
        while sent < items.len() && sent < window {
            task_tx.send(sent).expect("workers alive");
            sent += 1;
        }
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        for i in 0..items.len() {
            let r = loop {
                if let Some(r) = waiting.remove(&i) {
                    break r;
                }
                let (j, r) = done_rx.recv().expect("a worker panicked");
                waiting.insert(j, r);
            };
            take(&items[i], r);
            if sent < items.len() {
                task_tx.send(sent).expect("workers alive");
                sent += 1;
            }
        }
        drop(task_tx);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_results_are_taken_in_item_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut got = Vec::new();
        in_order(
            &items,
            |&i| {
                // Uneven work so results come back out of order.
                std::thread::sleep(std::time::Duration::from_micros((i * 37) % 500));
                i * 2
            },
            |&i, r| got.push((i, r)),
        );
        assert_eq!(got, items.iter().map(|&i| (i, i * 2)).collect::<Vec<_>>());
        let mut none = Vec::new();
        in_order(&[] as &[u64], |&i| i, |_, r| none.push(r));
        assert!(none.is_empty());
    }
}

//! Runs independent evaluator forwards (calibration and check samples) on scoped threads, one
//! per core, and returns the results in input order, so the statistics built from them do not
//! depend on the number of threads.

use std::num::NonZeroUsize;

/// Threads to use for `n` independent jobs.
pub fn threads(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map(NonZeroUsize::get).unwrap_or(1);
    cores.min(n).max(1)
}

/// `f(i, &items[i])` for every item, on up to [`threads`] threads; results in item order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let nt = threads(items.len());
    if nt <= 1 {
        return items.iter().enumerate().map(|(i, x)| f(i, x)).collect();
    }
    let f = &f;
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..nt)
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(nt)
                        .map(|(i, x)| (i, edgeport_eval::single_threaded_products(|| f(i, x))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all: Vec<(usize, R)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let xs: Vec<u64> = (0..37).collect();
        let ys = super::map(&xs, |i, x| (i as u64) * 100 + x * x);
        let want: Vec<u64> = (0..37).map(|i| i * 100 + i * i).collect();
        assert_eq!(ys, want);
    }
}

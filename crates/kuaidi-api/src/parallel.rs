//! Order-keeping parallel map for the CPU work of one large request (checking and hashing the events of an EPCIS
//! document), on scoped threads: nothing is spawned for small inputs, and the threads end with the call.

use std::num::NonZeroUsize;

/// Inputs below this many items are mapped on the calling thread: a thread costs more than it saves.
const MIN_PER_THREAD: usize = 64;

/// Maps `f` over `items` (each with its position) on up to as many threads as the machine has cores, and answers in
/// the input's order. A panic in `f` is a panic of the caller.
pub fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(usize, T) -> U + Sync) -> Vec<U> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.into_iter().enumerate().map(|(idx, item)| f(idx, item)).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<(usize, T)>> = Vec::with_capacity(threads);
    let mut items = items.into_iter().enumerate().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(per_thread).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(|(idx, item)| f(idx, item)).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_and_the_positions_at_every_size() {
        for n in [0, 1, 63, 64, 200, 1_001] {
            let items: Vec<u64> = (0..n).map(|i| i * 3).collect();
            let mapped = map(items, |idx, item| (idx, item + 1));
            let expected: Vec<(usize, u64)> = (0..n).map(|i| (i as usize, i * 3 + 1)).collect();
            assert_eq!(mapped, expected, "n = {n}");
        }
    }

    #[test]
    #[should_panic(expected = "item 150")]
    fn a_panic_in_a_thread_reaches_the_caller() {
        let _ = map((0..300).collect::<Vec<u32>>(), |_, item| if item == 150 { panic!("item {item}") } else { item });
    }
}

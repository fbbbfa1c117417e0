//! Helpers shared by the unit tests (compiled for tests only): timing checks that an operation's cost
//! grows linearly with its input. They compare two sizes by ratio, best of several runs, with a bound
//! far from both linear and quadratic growth, so a loaded machine cannot make them flake; absolute
//! speed is measured by `bench/` and `scripts/abuse`, never by tests.

/// Best of five runs of `f`, in seconds (the minimum filters out scheduling noise).
pub(crate) fn best_time(mut f: impl FnMut() -> usize) -> f64 {
    (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Asserts that `work(n)` takes time linear in `n`: ten times the input may take at most 35 times as
/// long (linear is about 10, quadratic about 100). `small` should make `work` take a millisecond or
/// more, so that timer resolution does not matter.
pub(crate) fn assert_linear(what: &str, small: usize, mut work: impl FnMut(usize) -> usize) {
    let t_small = best_time(|| work(small));
    let t_large = best_time(|| work(small * 10));
    let ratio = t_large / t_small.max(1e-9);
    assert!(ratio < 35.0, "{what}: 10x the input took {ratio:.1}x the time ({t_small:.6}s → {t_large:.6}s)");
}

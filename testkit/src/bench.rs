//! The entry point the benchmarks share (`benches/*.rs`, `harness = false`).

use std::future::Future;

/// Runs benchmark `name`'s `run` on a two-thread tokio runtime when `cargo bench` started the
/// binary (it passes `--bench`). `cargo test --all-targets` runs benchmark binaries too,
/// without `--bench`: a benchmark is not a test, so then it only says where it is measured.
///
/// Panics: the tokio runtime cannot be built (a benchmark stops there).
pub fn main<F: Future<Output = ()>>(name: &str, run: impl FnOnce() -> F) {
    if !std::env::args().any(|a| a == "--bench") {
        println!("{name}: measured only under `cargo bench --bench {name}`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

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

/// The machine a benchmark ran on, for its printout: `2 CPUs, AMD EPYC …, 23.5 GB RAM`
/// (CPUs this process may use, the CPU model from `/proc/cpuinfo`, total RAM from
/// `/proc/meminfo`; `unknown` where a file cannot be read).
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown".into(),
            |kb| format!("{:.1} GB", kb as f64 / 1024.0 / 1024.0),
        );
    format!("{cpus} CPUs, {model}, {ram} RAM")
}

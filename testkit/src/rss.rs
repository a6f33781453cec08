//! Process memory and CPU time, for the benchmarks that print RSS (Linux `/proc`): this
//! process's peak, and another process's current and peak RSS and CPU ticks.

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`, proc(5)), KB;
/// 0 where it cannot be read.
pub fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux ≥ 4.0); false
/// when the kernel refused.
pub fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Resident set size and its peak of process `pid` (`VmRSS` and `VmHWM` in
/// `/proc/<pid>/status`, proc(5)), KB; `None` when the process is gone or the file cannot be
/// read.
pub fn process_rss_kb(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time process `pid` has used so far (user plus system, fields 14 and 15 of
/// `/proc/<pid>/stat`, proc(5)), in clock ticks (usually 1/100 s); `None` when it cannot be
/// read.
pub fn process_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): fields 14 and 15 are at 11 and 12.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

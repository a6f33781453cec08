//! The console behaves like a terminal program: `claimdesk serve` with the console surface
//! (no Slack, no Discord) and stdin left open stops within 2 s of Ctrl-C (SIGINT) or SIGTERM,
//! and its log lines go to the log file (`log.file`), not through the cards on stdout.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::harness::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The promise: stopped within this long of the signal.
const STOP_WITHIN: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_console_stops_within_two_seconds_of_a_signal_and_logs_to_the_file() {
    // Given a desk with no chat platform (the console surface) and a real mailbox.
    let env = env(Platforms {
        slack: false,
        discord: false,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = env.write_config(dir.path());
    let log_file = dir.path().join("logs").join("claimdesk.log");

    for (name, signal) in [("SIGINT", libc::SIGINT), ("SIGTERM", libc::SIGTERM)] {
        let _ = std::fs::remove_file(&log_file);
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
            .env("CLAIMDESK__LOG__FILE", &log_file)
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn serve");
        // Stdin stays open, as a terminal's does: the console waits for a line.
        let _stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr_text = tokio::spawn(async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            s
        });

        // When the console is up and the desk has logged that it runs ...
        let mut shown = String::new();
        let prompt = tokio::time::timeout(Duration::from_secs(60), async {
            let mut line = String::new();
            while stdout.read_line(&mut line).await.unwrap_or(0) > 0 {
                shown.push_str(&line);
                if line.contains("claimdesk console") {
                    return true;
                }
                line.clear();
            }
            false
        })
        .await;
        assert!(
            matches!(prompt, Ok(true)),
            "{name}: no console prompt; stdout so far:\n{shown}"
        );
        eventually(30, "the running line in the log file", || async {
            std::fs::read_to_string(&log_file)
                .ok()
                .filter(|t| t.contains("claimdesk running"))
        })
        .await;

        // ... a signal stops it, promptly.
        let pid = child.id().expect("pid") as libc::pid_t;
        let sent = Instant::now();
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "{name}: kill");
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        let took = sent.elapsed();
        eprintln!("{name}: serve stopped {took:?} after the signal");
        let status = status
            .unwrap_or_else(|_| panic!("{name}: serve still running 10 s after the signal"))
            .expect("wait");
        assert!(
            took < STOP_WITHIN,
            "{name}: serve took {took:?} to stop (promise: {STOP_WITHIN:?})"
        );
        assert!(
            status.success(),
            "{name}: a graceful stop exits 0, got {status}"
        );

        // Log lines went to the file, not through the cards on stdout (nor to stderr).
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest).await;
        shown.push_str(&rest);
        let errors = stderr_text.await.expect("stderr reader");
        let log = std::fs::read_to_string(&log_file).expect("log file");
        assert!(
            log.contains("claimdesk running"),
            "{name}: log file:\n{log}"
        );
        assert!(log.contains("stopping"), "{name}: log file:\n{log}");
        assert!(
            !log.contains('\u{1b}'),
            "{name}: terminal colours in the log file:\n{log}"
        );
        assert!(
            !shown.contains("claimdesk running") && !shown.contains(" INFO "),
            "{name}: log lines among the cards on stdout:\n{shown}"
        );
        // Lines logged before the console starts (opening the database) may go to stderr,
        // above the prompt; nothing from the running desk does.
        assert!(
            !errors.contains("claimdesk running"),
            "{name}: log lines on stderr:\n{errors}"
        );
    }
}

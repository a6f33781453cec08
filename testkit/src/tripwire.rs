//! A loopback port that stands where a service was not started: whoever connects is answered
//! with one line (the protocol's refusal, naming why) and counted. A test environment without
//! mail servers points its IMAP and SMTP settings at two of these, so a test that reaches for
//! mail fails quickly and says so, instead of waiting on a closed port or passing unnoticed.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A listening loopback port that refuses every connection with `greeting` and counts them.
/// Stops listening on `Drop`.
pub struct Tripwire {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tripwire {
    /// Listens on a free loopback port; every connection gets `greeting` (send a whole line,
    /// e.g. `"* BYE no IMAP here\r\n"` or `"554 no SMTP here\r\n"`) and is closed.
    ///
    /// Errors: no loopback socket could be bound.
    pub fn start(greeting: &'static str) -> std::io::Result<Tripwire> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (hits, stop) = (hits.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("tripwire-{port}"))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(mut conn) = conn {
                            hits.fetch_add(1, Ordering::SeqCst);
                            let _ = conn.write_all(greeting.as_bytes());
                        }
                    }
                })?
        };
        Ok(Tripwire {
            port,
            hits,
            stop,
            thread: Some(thread),
        })
    }

    /// How many connections it has refused so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread; it sees `stop` and ends without counting this one.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_connection_is_answered_with_the_greeting_and_counted() {
        let wire = Tripwire::start("554 nothing here\r\n").expect("tripwire");
        assert_eq!(wire.hits(), 0);
        for n in 1..=2 {
            let mut conn = TcpStream::connect((Ipv4Addr::LOCALHOST, wire.port)).expect("connect");
            let mut said = String::new();
            conn.read_to_string(&mut said).expect("read");
            assert_eq!(said, "554 nothing here\r\n");
            assert_eq!(wire.hits(), n);
        }
    }

    #[test]
    fn dropping_it_stops_listening() {
        let wire = Tripwire::start("554 nothing here\r\n").expect("tripwire");
        let port = wire.port;
        drop(wire);
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }
}

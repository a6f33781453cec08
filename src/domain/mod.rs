//! Types and rules of the desk, with no I/O: tickets, the status machine, permissions and
//! threading keys. `src/desk` applies these; no surface re-implements them.

pub mod assignment;
pub mod classify;
pub mod limits;
pub mod permissions;
pub mod quoting;
pub mod status;
pub mod threading;
pub mod ticket;

pub use permissions::{Action, Policy, ReopenPolicy, Role};
pub use status::{Event, Status};
pub use ticket::{Priority, TicketNumber};

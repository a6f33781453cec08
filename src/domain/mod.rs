//! Types and rules of the desk, with no I/O: tickets, the status machine, permissions and
//! threading keys. `src/desk` applies these; no surface re-implements them.

pub mod actions;
pub mod assignment;
pub mod auth_results;
pub mod classify;
pub mod limits;
pub mod links;
pub mod notify;
pub mod permissions;
pub mod quoting;
pub mod rating;
pub mod report;
pub mod search;
pub mod sla;
pub mod status;
pub mod tags;
pub mod templates;
pub mod threading;
pub mod ticket;
pub mod trust;

pub use permissions::{Action, Policy, ReopenPolicy, ReplyPolicy, Role};
pub use status::{Event, Status};
pub use ticket::{Priority, TicketNumber};

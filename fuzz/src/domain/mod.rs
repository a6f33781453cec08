//! claimdesk's `domain` modules that the intake path uses, from the main crate's sources.

#[path = "../../../src/domain/classify.rs"]
pub mod classify;
#[path = "../../../src/domain/threading.rs"]
pub mod threading;
#[path = "../../../src/domain/ticket.rs"]
pub mod ticket;

pub use ticket::{Priority, TicketNumber};

//! The ticket status machine. Every status change in claimdesk is decided here.

use std::fmt;
use std::str::FromStr;

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// New or released: nobody holds it.
    Open,
    /// Someone holds it and has not answered yet.
    Claimed,
    /// The holder has answered the customer.
    InProgress,
    /// Waiting on the customer.
    Waiting,
    /// Solved; a customer answer reopens it.
    Resolved,
    /// Done for good.
    Closed,
    /// Auto-assignment found nobody eligible.
    PendingAssignment,
    /// Joined into another ticket when a late message connected two threads.
    Merged,
}

/// Something that happens to a ticket and may move its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An agent takes the ticket.
    Claim,
    /// The holder (or an admin) lets it go.
    Unclaim,
    /// An agent's reply was queued to the customer.
    AgentReply,
    /// The customer wrote again. `assigned`: whether someone holds the ticket.
    CustomerReply { assigned: bool },
}

/// A status change the machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} ticket cannot take {event:?}")]
pub struct IllegalTransition {
    /// Status the ticket was in.
    pub from: Status,
    /// What was attempted.
    pub event: Event,
}

impl Status {
    /// Every status, for exhaustive tests and listings.
    pub const ALL: [Status; 8] = [
        Status::Open,
        Status::Claimed,
        Status::InProgress,
        Status::Waiting,
        Status::Resolved,
        Status::Closed,
        Status::PendingAssignment,
        Status::Merged,
    ];

    /// The stored name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::InProgress => "in_progress",
            Status::Waiting => "waiting",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::PendingAssignment => "pending_assignment",
            Status::Merged => "merged",
        }
    }

    /// The name people read on a card (`In progress`).
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::Claimed => "Claimed",
            Status::InProgress => "In progress",
            Status::Waiting => "Waiting on customer",
            Status::Resolved => "Resolved",
            Status::Closed => "Closed",
            Status::PendingAssignment => "Pending assignment",
            Status::Merged => "Merged",
        }
    }

    /// Applies `event`: the status after it, or [`IllegalTransition`].
    ///
    /// - Claim: open / pending_assignment → claimed.
    /// - Unclaim: claimed / in_progress / waiting → open.
    /// - AgentReply: open / claimed / in_progress / waiting / resolved → in_progress
    ///   (a reply claims an unclaimed ticket, see `desk::reply`).
    /// - CustomerReply: waiting / resolved → in_progress when assigned, else open; closed stays
    ///   closed (reopening is a policy decision); everything else keeps its status.
    pub fn apply(self, event: Event) -> Result<Status, IllegalTransition> {
        use Status::*;
        let illegal = Err(IllegalTransition { from: self, event });
        match (self, event) {
            (Open | PendingAssignment, Event::Claim) => Ok(Claimed),
            (_, Event::Claim) => illegal,
            (Claimed | InProgress | Waiting, Event::Unclaim) => Ok(Open),
            (_, Event::Unclaim) => illegal,
            (Open | Claimed | InProgress | Waiting | Resolved, Event::AgentReply) => Ok(InProgress),
            (_, Event::AgentReply) => illegal,
            (Waiting | Resolved, Event::CustomerReply { assigned: true }) => Ok(InProgress),
            (Waiting | Resolved, Event::CustomerReply { assigned: false }) => Ok(Open),
            (Merged, Event::CustomerReply { .. }) => illegal,
            (s, Event::CustomerReply { .. }) => Ok(s),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status name that claimdesk does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown ticket status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// Every status × event, as a table: `None` means illegal.
    #[test]
    fn transition_table() {
        let claim = Event::Claim;
        let unclaim = Event::Unclaim;
        let reply = Event::AgentReply;
        let cust_a = Event::CustomerReply { assigned: true };
        let cust_u = Event::CustomerReply { assigned: false };
        #[rustfmt::skip]
        let table: [(Status, [Option<Status>; 5]); 8] = [
            //                   claim            unclaim     reply              cust(assigned)     cust(unassigned)
            (Open,              [Some(Claimed),   None,       Some(InProgress),  Some(Open),        Some(Open)]),
            (Claimed,           [None,            Some(Open), Some(InProgress),  Some(Claimed),     Some(Claimed)]),
            (InProgress,        [None,            Some(Open), Some(InProgress),  Some(InProgress),  Some(InProgress)]),
            (Waiting,           [None,            Some(Open), Some(InProgress),  Some(InProgress),  Some(Open)]),
            (Resolved,          [None,            None,       Some(InProgress),  Some(InProgress),  Some(Open)]),
            (Closed,            [None,            None,       None,              Some(Closed),      Some(Closed)]),
            (PendingAssignment, [Some(Claimed),   None,       None,              Some(PendingAssignment), Some(PendingAssignment)]),
            (Merged,            [None,            None,       None,              None,              None]),
        ];
        for (from, expected) in table {
            for (event, want) in [claim, unclaim, reply, cust_a, cust_u]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(from.apply(event).ok(), want, "{from} + {event:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("bogus".parse::<Status>().is_err());
    }
}

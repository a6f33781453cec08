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
    /// An agent takes an unheld ticket (or auto-assignment gives it to one).
    Claim,
    /// The holder (or an admin) lets it go; also auto-release after inactivity.
    Unclaim,
    /// An admin gives the ticket to someone, or moves it from one holder to another.
    Assign,
    /// Auto-assignment found nobody eligible.
    NoAgentAvailable,
    /// An agent's reply was queued to the customer.
    AgentReply,
    /// The customer wrote again. `assigned`: whether someone holds the ticket.
    CustomerReply { assigned: bool },
    /// The holder now waits on the customer.
    Wait,
    /// The holder resumes work (`waiting` → `in_progress`).
    Resume,
    /// Solved.
    Resolve,
    /// Done for good.
    Close,
    /// A resolved or closed ticket is opened again. `assigned`: whether someone holds it.
    Reopen { assigned: bool },
}

impl Event {
    /// Every event, with both values of each flag, for exhaustive tests.
    pub const ALL: [Event; 13] = [
        Event::Claim,
        Event::Unclaim,
        Event::Assign,
        Event::NoAgentAvailable,
        Event::AgentReply,
        Event::CustomerReply { assigned: true },
        Event::CustomerReply { assigned: false },
        Event::Wait,
        Event::Resume,
        Event::Resolve,
        Event::Close,
        Event::Reopen { assigned: true },
        Event::Reopen { assigned: false },
    ];
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
    /// | from \ event      | claim   | unclaim | assign  | no agent | agent reply | customer reply        | wait    | resume  | resolve  | close  | reopen          |
    /// |--------------------|---------|---------|---------|----------|-------------|-----------------------|---------|---------|----------|--------|-----------------|
    /// | open               | claimed | –       | claimed | pending  | in_progress | open                  | –       | –       | resolved | closed | –               |
    /// | pending_assignment | claimed | –       | claimed | pending  | –           | pending               | –       | –       | resolved | closed | –               |
    /// | claimed            | –       | open    | claimed | –        | in_progress | claimed               | waiting | –       | resolved | closed | –               |
    /// | in_progress        | –       | open    | =       | –        | in_progress | in_progress           | waiting | –       | resolved | closed | –               |
    /// | waiting            | –       | open    | =       | –        | in_progress | in_progress / open    | –       | in_progress | resolved | closed | –           |
    /// | resolved           | –       | –       | –       | –        | in_progress | in_progress / open    | –       | –       | –        | closed | in_progress / open |
    /// | closed             | –       | –       | –       | –        | –           | closed                | –       | –       | –        | –      | in_progress / open |
    /// | merged             | –       | –       | –       | –        | –           | –                     | –       | –       | –        | –      | –               |
    ///
    /// "/ open" is the unassigned case; "=" keeps the status. Whether a *closed* ticket may be
    /// reopened, and by whom, is a policy (`permissions::Policy`), not a transition rule.
    pub fn apply(self, event: Event) -> Result<Status, IllegalTransition> {
        use Status::*;
        let illegal = Err(IllegalTransition { from: self, event });
        let after_customer = |assigned: bool| if assigned { InProgress } else { Open };
        match (self, event) {
            (Merged, _) => illegal,
            (Open | PendingAssignment, Event::Claim) => Ok(Claimed),
            (_, Event::Claim) => illegal,
            (Claimed | InProgress | Waiting, Event::Unclaim) => Ok(Open),
            (_, Event::Unclaim) => illegal,
            (Open | PendingAssignment | Claimed, Event::Assign) => Ok(Claimed),
            (s @ (InProgress | Waiting), Event::Assign) => Ok(s),
            (_, Event::Assign) => illegal,
            (Open | PendingAssignment, Event::NoAgentAvailable) => Ok(PendingAssignment),
            (_, Event::NoAgentAvailable) => illegal,
            (Open | Claimed | InProgress | Waiting | Resolved, Event::AgentReply) => Ok(InProgress),
            (_, Event::AgentReply) => illegal,
            (Waiting | Resolved, Event::CustomerReply { assigned }) => Ok(after_customer(assigned)),
            (s, Event::CustomerReply { .. }) => Ok(s),
            (Claimed | InProgress, Event::Wait) => Ok(Waiting),
            (_, Event::Wait) => illegal,
            (Waiting, Event::Resume) => Ok(InProgress),
            (_, Event::Resume) => illegal,
            (Open | PendingAssignment | Claimed | InProgress | Waiting, Event::Resolve) => {
                Ok(Resolved)
            }
            (_, Event::Resolve) => illegal,
            (Closed, Event::Close) => illegal,
            (_, Event::Close) => Ok(Closed),
            (Resolved | Closed, Event::Reopen { assigned }) => Ok(after_customer(assigned)),
            (_, Event::Reopen { .. }) => illegal,
        }
    }

    /// Whether the ticket counts as done (resolved, closed or merged).
    pub fn is_done(self) -> bool {
        matches!(self, Status::Resolved | Status::Closed | Status::Merged)
    }
}

/// Whether a customer email asks to close its ticket: its first non-empty body line is
/// `close` or `#close` (case-insensitive, trailing punctuation ignored). Only honoured when the
/// `desk.requester_may_close` policy is on and the sender is the ticket's requester.
pub fn is_close_request(body: &str) -> bool {
    body.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.trim_end_matches(['.', '!']).to_ascii_lowercase())
        .is_some_and(|l| l == "close" || l == "#close")
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

    /// Every status × every event, as a table: `None` means illegal.
    #[test]
    fn transition_table() {
        let events = Event::ALL;
        let (o, c, i, w, r, x, p) = (
            Some(Open),
            Some(Claimed),
            Some(InProgress),
            Some(Waiting),
            Some(Resolved),
            Some(Closed),
            Some(PendingAssignment),
        );
        #[rustfmt::skip]
        let table: [(Status, [Option<Status>; 13]); 8] = [
            //                   claim unclaim assign noagent reply cust(a) cust(u) wait resume resolve close reopen(a) reopen(u)
            (Open,              [c,    None,   c,     p,      i,    o,      o,      None, None, r,      x,    None,     None]),
            (PendingAssignment, [c,    None,   c,     p,      None, p,      p,      None, None, r,      x,    None,     None]),
            (Claimed,           [None, o,      c,     None,   i,    c,      c,      w,    None, r,      x,    None,     None]),
            (InProgress,        [None, o,      i,     None,   i,    i,      i,      w,    None, r,      x,    None,     None]),
            (Waiting,           [None, o,      w,     None,   i,    i,      o,      None, i,    r,      x,    None,     None]),
            (Resolved,          [None, None,   None,  None,   i,    i,      o,      None, None, None,   x,    i,        o]),
            (Closed,            [None, None,   None,  None,   None, x,      x,      None, None, None,   None, i,        o]),
            (Merged,            [None, None,   None,  None,   None, None,   None,   None, None, None,   None, None,     None]),
        ];
        for (from, expected) in table {
            for (event, want) in events.into_iter().zip(expected) {
                assert_eq!(from.apply(event).ok(), want, "{from} + {event:?}");
            }
        }
        // The table covers every status.
        assert_eq!(table.len(), Status::ALL.len());
        for s in Status::ALL {
            assert!(
                table.iter().any(|(t, _)| *t == s),
                "{s} missing from the table"
            );
        }
    }

    #[test]
    fn recognises_close_requests() {
        assert!(is_close_request("\n  #close\nthanks"));
        assert!(is_close_request("Close."));
        assert!(!is_close_request("please close my account"));
        assert!(!is_close_request(""));
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("bogus".parse::<Status>().is_err());
    }
}

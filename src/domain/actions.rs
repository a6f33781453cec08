//! Which actions a ticket's card offers, in each status and to each role: one answer for
//! every surface (Slack buttons, Discord buttons, the console's hints), decided from the
//! status machine (`super::status`) and the permission table (`super::permissions`).
//!
//! | status             | unheld card                   | held card                          |
//! |--------------------|-------------------------------|------------------------------------|
//! | open               | Claim, Reply, Note, Resolve   | –                                  |
//! | pending_assignment | Claim, Note, Resolve          | –                                  |
//! | claimed            | Reply, Note, Resolve          | Unclaim, Reply, Note, Resolve      |
//! | in_progress        | Reply, Note, Resolve          | Unclaim, Reply, Note, Resolve      |
//! | waiting            | Reply, Note, Resolve          | Unclaim, Reply, Note, Resolve      |
//! | resolved           | Reply, Note, Reopen           | Reply, Note, Reopen                |
//! | closed             | Note                          | Note                               |
//! | merged             | –                             | –                                  |
//!
//! Reply is offered only where an agent reply is a legal transition (never on
//! `pending_assignment`, `closed` or `merged`); Note wherever a ticket still exists as itself
//! (closed included, merged not: its notes belong on the ticket it went into). Reopening a
//! *closed* ticket depends on a policy, so shared cards do not offer it; [`offered_to`] does
//! where the policy lets the viewer.

use super::permissions::{allows, Action, Policy, Role};
use super::status::{Event, Status};

/// A card action. Each is also a command of the chat catalogue, named [`CardAction::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardAction {
    /// Take the ticket.
    Claim,
    /// Give it back to the queue.
    Unclaim,
    /// Email the customer (opens a form naming the recipient).
    Reply,
    /// Add an internal note (opens a form).
    Note,
    /// Mark it solved.
    Resolve,
    /// Open a resolved (or closed) ticket again.
    Reopen,
}

impl CardAction {
    /// Every action, in the order cards show them.
    pub const ALL: [CardAction; 6] = [
        CardAction::Claim,
        CardAction::Unclaim,
        CardAction::Reply,
        CardAction::Note,
        CardAction::Resolve,
        CardAction::Reopen,
    ];

    /// The command it runs (`claim`), also the button's action ID prefix on each platform.
    pub fn name(self) -> &'static str {
        match self {
            CardAction::Claim => "claim",
            CardAction::Unclaim => "unclaim",
            CardAction::Reply => "reply",
            CardAction::Note => "note",
            CardAction::Resolve => "resolve",
            CardAction::Reopen => "reopen",
        }
    }

    /// The button's label (`Claim`).
    pub fn label(self) -> &'static str {
        match self {
            CardAction::Claim => "Claim",
            CardAction::Unclaim => "Unclaim",
            CardAction::Reply => "Reply",
            CardAction::Note => "Note",
            CardAction::Resolve => "Resolve",
            CardAction::Reopen => "Reopen",
        }
    }

    /// The action named `name` ([`CardAction::name`]).
    pub fn from_name(name: &str) -> Option<CardAction> {
        CardAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether it opens a form for text rather than acting at once.
    pub fn opens_form(self) -> bool {
        matches!(self, CardAction::Reply | CardAction::Note)
    }
}

/// Who holds a ticket, seen from the agent looking at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Nobody.
    Nobody,
    /// The viewer.
    Viewer,
    /// Another agent.
    Other,
}

/// The actions a card shared by everyone offers for a ticket in `status`, held by someone
/// (`held`) or not: those legal in that status that some agent may take, in
/// [`CardAction::ALL`]'s order (see the module's table). Who clicks is checked when the
/// command runs.
pub fn offered(status: Status, held: bool) -> Vec<CardAction> {
    let legal = |e: Event| status.apply(e).is_ok();
    CardAction::ALL
        .into_iter()
        .filter(|a| match a {
            CardAction::Claim => !held && legal(Event::Claim),
            CardAction::Unclaim => held && legal(Event::Unclaim),
            CardAction::Reply => legal(Event::AgentReply),
            CardAction::Note => status != Status::Merged,
            CardAction::Resolve => legal(Event::Resolve),
            CardAction::Reopen => status == Status::Resolved,
        })
        .collect()
}

/// The actions `role` may take on a ticket in `status` held by `holder`, under `policy`:
/// [`offered`] less what the permission table refuses them, plus reopening a closed ticket
/// where the policy allows it.
pub fn offered_to(status: Status, holder: Holder, role: Role, policy: Policy) -> Vec<CardAction> {
    let holds_it = holder == Holder::Viewer;
    let shared = offered(status, holder != Holder::Nobody);
    CardAction::ALL
        .into_iter()
        .filter(|a| match a {
            CardAction::Reopen if status == Status::Closed => {
                allows(role, Action::ReopenClosed, policy)
            }
            _ => shared.contains(a),
        })
        .filter(|a| {
            let needs = match a {
                CardAction::Claim => Action::Claim,
                CardAction::Unclaim => Action::Unclaim { holds_it },
                CardAction::Reply => Action::Reply {
                    held_by_other: holder == Holder::Other,
                },
                CardAction::Note => Action::Note,
                CardAction::Resolve => Action::ChangeStatus { holds_it },
                CardAction::Reopen if status == Status::Closed => Action::ReopenClosed,
                CardAction::Reopen => Action::ReopenResolved { holds_it },
            };
            allows(role, needs, policy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use CardAction::*;
    use Status::*;

    /// Every status × held or not, as the module's table.
    #[test]
    fn shared_card_table() {
        #[rustfmt::skip]
        let table: [(Status, &[CardAction], &[CardAction]); 8] = [
            //                 unheld                              held
            (Open,              &[Claim, Reply, Note, Resolve],    &[Reply, Note, Resolve]),
            (PendingAssignment, &[Claim, Note, Resolve],           &[Note, Resolve]),
            (Claimed,           &[Reply, Note, Resolve],           &[Unclaim, Reply, Note, Resolve]),
            (InProgress,        &[Reply, Note, Resolve],           &[Unclaim, Reply, Note, Resolve]),
            (Waiting,           &[Reply, Note, Resolve],           &[Unclaim, Reply, Note, Resolve]),
            (Resolved,          &[Reply, Note, Reopen],            &[Reply, Note, Reopen]),
            (Closed,            &[Note],                           &[Note]),
            (Merged,            &[],                               &[]),
        ];
        assert_eq!(table.len(), Status::ALL.len());
        for (status, unheld, held) in table {
            assert_eq!(offered(status, false), unheld, "{status} unheld");
            assert_eq!(offered(status, true), held, "{status} held");
        }
    }

    #[test]
    fn a_member_is_offered_only_what_they_may_do() {
        let p = Policy::default();
        let member = |s, h| offered_to(s, h, Role::Member, p);
        assert_eq!(member(Claimed, Holder::Other), vec![Note]);
        assert_eq!(
            member(Claimed, Holder::Viewer),
            vec![Unclaim, Reply, Note, Resolve]
        );
        assert_eq!(member(Open, Holder::Nobody), vec![Claim, Reply, Note]);
        assert_eq!(member(Closed, Holder::Viewer), vec![Note]);
        assert_eq!(
            offered_to(Claimed, Holder::Other, Role::Admin, p),
            vec![Unclaim, Reply, Note, Resolve]
        );
        // Reopening a closed ticket follows the policy.
        assert_eq!(
            offered_to(Closed, Holder::Nobody, Role::Admin, p),
            vec![Note, Reopen]
        );
        let nobody = Policy {
            reopen_closed: crate::domain::ReopenPolicy::Nobody,
            ..p
        };
        assert_eq!(
            offered_to(Closed, Holder::Nobody, Role::Owner, nobody),
            vec![Note]
        );
    }

    #[test]
    fn whatever_a_viewer_is_offered_the_shared_card_or_the_policy_allows() {
        for status in Status::ALL {
            for holder in [Holder::Nobody, Holder::Viewer, Holder::Other] {
                let shared = offered(status, holder != Holder::Nobody);
                for role in Role::ALL {
                    for a in offered_to(status, holder, role, Policy::default()) {
                        assert!(
                            shared.contains(&a) || (a == Reopen && status == Closed),
                            "{status} {holder:?} {role} {a:?}"
                        );
                    }
                }
            }
        }
        for a in CardAction::ALL {
            assert_eq!(CardAction::from_name(a.name()), Some(a));
        }
    }
}

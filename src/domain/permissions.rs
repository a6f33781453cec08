//! Who may do what: one table for every surface.

use std::fmt;
use std::str::FromStr;

/// An agent's role on the desk.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Claims, replies to, notes and changes the status of tickets they hold.
    Member,
    /// Also assigns, reassigns, releases anyone's claim, bulk-releases, reopens closed tickets.
    Admin,
    /// Also manages agents and their departments.
    Owner,
}

impl Role {
    /// Every role, for exhaustive tests.
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored role name claimdesk does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}` (expected member, admin or owner)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// Who may reopen a closed ticket (config `desk.reopen_closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReopenPolicy {
    /// Nobody: a closed ticket stays closed; the customer's next mail opens a new one.
    Nobody,
    /// Admins and owners (the default).
    #[default]
    Admins,
    /// Every agent.
    Members,
}

/// Who may email the customer of a ticket another agent holds (config
/// `desk.reply_to_held_tickets`). Admins and owners always may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplyPolicy {
    /// Only the holder (the default): a member asks the holder or an admin to unclaim or
    /// reassign the ticket first.
    #[default]
    Holder,
    /// Every agent; a reply on an unheld ticket still claims it for the replier.
    Anyone,
}

/// Desk-wide policies the permission table consults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Who may reopen closed tickets.
    pub reopen_closed: ReopenPolicy,
    /// Who may reply on a ticket another agent holds.
    pub reply_to_held: ReplyPolicy,
}

/// Something an agent asks to do. `holds_it`: the actor is the ticket's current holder;
/// `held_by_other`: another agent holds it (an unheld ticket is held by nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take an unheld ticket.
    Claim,
    /// Release a claim.
    Unclaim { holds_it: bool },
    /// Send an answer to the customer (on an unheld ticket this claims it).
    Reply { held_by_other: bool },
    /// Add an internal note.
    Note,
    /// Change status (waiting, in progress, resolved, closed) or priority.
    ChangeStatus { holds_it: bool },
    /// Reopen a resolved ticket.
    ReopenResolved { holds_it: bool },
    /// Reopen a closed ticket.
    ReopenClosed,
    /// Give a ticket to someone, or move it from one holder to another.
    Assign,
    /// Release or reassign every ticket of one agent (vacation).
    BulkUnclaim,
    /// Mark oneself away or back.
    SetOwnAvailability,
    /// Mark another agent away or back.
    SetOthersAvailability,
    /// Add, remove or change agents and their departments.
    ManageAgents,
}

impl Action {
    /// Every action with both values of each flag, for exhaustive tests.
    pub const ALL: [Action; 16] = [
        Action::Claim,
        Action::Unclaim { holds_it: true },
        Action::Unclaim { holds_it: false },
        Action::Reply {
            held_by_other: false,
        },
        Action::Reply {
            held_by_other: true,
        },
        Action::Note,
        Action::ChangeStatus { holds_it: true },
        Action::ChangeStatus { holds_it: false },
        Action::ReopenResolved { holds_it: true },
        Action::ReopenResolved { holds_it: false },
        Action::ReopenClosed,
        Action::Assign,
        Action::BulkUnclaim,
        Action::SetOwnAvailability,
        Action::SetOthersAvailability,
        Action::ManageAgents,
    ];
}

/// Whether `role` may do `action` under `policy`.
///
/// | action                         | member | admin | owner |
/// |--------------------------------|--------|-------|-------|
/// | claim, note                    | yes    | yes   | yes   |
/// | reply, unheld or own           | yes    | yes   | yes   |
/// | reply, held by another         | policy: holder (default, no) / anyone (yes) | yes | yes |
/// | unclaim / change status, own   | yes    | yes   | yes   |
/// | unclaim / change status, other | no     | yes   | yes   |
/// | reopen resolved, own           | yes    | yes   | yes   |
/// | reopen resolved, other         | no     | yes   | yes   |
/// | reopen closed                  | policy: nobody / admins (default) / members |
/// | assign, reassign, bulk unclaim | no     | yes   | yes   |
/// | set own availability           | yes    | yes   | yes   |
/// | set others' availability       | no     | yes   | yes   |
/// | manage agents and departments  | no     | no    | yes   |
pub fn allows(role: Role, action: Action, policy: Policy) -> bool {
    let admin = role >= Role::Admin;
    match action {
        Action::Claim | Action::Note | Action::SetOwnAvailability => true,
        Action::Reply { held_by_other } => {
            !held_by_other || admin || policy.reply_to_held == ReplyPolicy::Anyone
        }
        Action::Unclaim { holds_it }
        | Action::ChangeStatus { holds_it }
        | Action::ReopenResolved { holds_it } => holds_it || admin,
        Action::ReopenClosed => match policy.reopen_closed {
            ReopenPolicy::Nobody => false,
            ReopenPolicy::Admins => admin,
            ReopenPolicy::Members => true,
        },
        Action::Assign | Action::BulkUnclaim | Action::SetOthersAvailability => admin,
        Action::ManageAgents => role == Role::Owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every role × every action under the default policy, as a table.
    #[test]
    fn permission_table() {
        #[rustfmt::skip]
        let table = [
            //                                              member admin owner
            (Action::Claim,                                  [true,  true,  true]),
            (Action::Unclaim { holds_it: true },             [true,  true,  true]),
            (Action::Unclaim { holds_it: false },            [false, true,  true]),
            (Action::Reply { held_by_other: false },         [true,  true,  true]),
            (Action::Reply { held_by_other: true },          [false, true,  true]),
            (Action::Note,                                   [true,  true,  true]),
            (Action::ChangeStatus { holds_it: true },        [true,  true,  true]),
            (Action::ChangeStatus { holds_it: false },       [false, true,  true]),
            (Action::ReopenResolved { holds_it: true },      [true,  true,  true]),
            (Action::ReopenResolved { holds_it: false },     [false, true,  true]),
            (Action::ReopenClosed,                           [false, true,  true]),
            (Action::Assign,                                 [false, true,  true]),
            (Action::BulkUnclaim,                            [false, true,  true]),
            (Action::SetOwnAvailability,                     [true,  true,  true]),
            (Action::SetOthersAvailability,                  [false, true,  true]),
            (Action::ManageAgents,                           [false, false, true]),
        ];
        for action in Action::ALL {
            assert!(
                table.iter().any(|(a, _)| *a == action),
                "{action:?} missing from the table"
            );
        }
        for (action, expected) in table {
            for (role, want) in Role::ALL.into_iter().zip(expected) {
                assert_eq!(
                    allows(role, action, Policy::default()),
                    want,
                    "{role} {action:?}"
                );
            }
        }
    }

    #[test]
    fn reopening_closed_tickets_follows_the_policy() {
        for (policy, expected) in [
            (ReopenPolicy::Nobody, [false, false, false]),
            (ReopenPolicy::Admins, [false, true, true]),
            (ReopenPolicy::Members, [true, true, true]),
        ] {
            for (role, want) in Role::ALL.into_iter().zip(expected) {
                let p = Policy {
                    reopen_closed: policy,
                    ..Policy::default()
                };
                assert_eq!(
                    allows(role, Action::ReopenClosed, p),
                    want,
                    "{policy:?} {role}"
                );
            }
        }
    }

    #[test]
    fn replying_on_a_ticket_someone_else_holds_follows_the_policy() {
        #[rustfmt::skip]
        let table = [
            //                                        member admin owner
            (ReplyPolicy::Holder, false,             [true,  true,  true]),
            (ReplyPolicy::Holder, true,              [false, true,  true]),
            (ReplyPolicy::Anyone, false,             [true,  true,  true]),
            (ReplyPolicy::Anyone, true,              [true,  true,  true]),
        ];
        for (reply_to_held, held_by_other, expected) in table {
            let p = Policy {
                reply_to_held,
                ..Policy::default()
            };
            for (role, want) in Role::ALL.into_iter().zip(expected) {
                assert_eq!(
                    allows(role, Action::Reply { held_by_other }, p),
                    want,
                    "{reply_to_held:?} held_by_other={held_by_other} {role}"
                );
            }
        }
        // The reply policy is about replies only: status changes stay the holder's.
        let anyone = Policy {
            reply_to_held: ReplyPolicy::Anyone,
            ..Policy::default()
        };
        assert!(!allows(
            Role::Member,
            Action::ChangeStatus { holds_it: false },
            anyone
        ));
    }
}

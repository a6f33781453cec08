//! Who may do what: one table for every surface.

use std::fmt;
use std::str::FromStr;

/// An agent's role on the desk.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Claims, replies to and releases their own tickets.
    Member,
    /// Also releases anyone's claim.
    Admin,
    /// Also manages agents.
    Owner,
}

impl Role {
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

/// Something an agent asks to do to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Take an unclaimed ticket.
    Claim,
    /// Release a claim. `holds_it`: the actor is the current holder.
    Unclaim { holds_it: bool },
    /// Send an answer to the customer.
    Reply,
}

/// Whether `role` may do `action`.
///
/// | action                 | member | admin | owner |
/// |------------------------|--------|-------|-------|
/// | claim                  | yes    | yes   | yes   |
/// | unclaim own claim      | yes    | yes   | yes   |
/// | unclaim someone else's | no     | yes   | yes   |
/// | reply                  | yes    | yes   | yes   |
pub fn allows(role: Role, action: Action) -> bool {
    match action {
        Action::Claim | Action::Reply => true,
        Action::Unclaim { holds_it: true } => true,
        Action::Unclaim { holds_it: false } => role >= Role::Admin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table() {
        #[rustfmt::skip]
        let table = [
            (Action::Claim,                      [true,  true, true]),
            (Action::Unclaim { holds_it: true }, [true,  true, true]),
            (Action::Unclaim { holds_it: false },[false, true, true]),
            (Action::Reply,                      [true,  true, true]),
        ];
        for (action, expected) in table {
            for (role, want) in [Role::Member, Role::Admin, Role::Owner]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(allows(role, action), want, "{role} {action:?}");
            }
        }
    }
}

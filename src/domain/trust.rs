//! Whom threading trusts: which sender may use a subject tag or plus-address, which tickets a
//! message that names several may merge, and who may merge tickets by hand. Pure rules;
//! `desk::ingest`, `desk::noise` and `desk::merge` apply them.

use super::auth_results::Dmarc;
use super::Role;

/// The form addresses are compared in: trimmed, lower case. (Local parts are case-sensitive
/// in theory, RFC 5321 §2.4, but no mailbox provider in use treats them so.)
pub fn normalise(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}

/// Whether two addresses are the same requester ([`normalise`]d).
pub fn same_requester(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

/// Whether a subject tag or plus-address naming a ticket may put the message on that ticket.
///
/// `on_thread`: the sender is the ticket's requester or a participant. `dmarc`: `None` when
/// `intake.trust_authentication_results` is not set (the From is taken as written); else our
/// receiving server's verdict, and only [`Dmarc::Pass`] proves the From — a failed DMARC check
/// and a message our server said nothing about are not proof.
pub fn may_follow_tag(on_thread: bool, dmarc: Option<Dmarc>) -> bool {
    on_thread && dmarc.is_none_or(|d| d == Dmarc::Pass)
}

/// A ticket a message's msg-ids lead to, as [`plan_thread`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Ticket id; older tickets have lower ids.
    pub id: i64,
    /// Its requester's address.
    pub requester: String,
    /// Whether the message's sender is on its thread (requester or participant).
    pub sender_on_thread: bool,
}

/// Where a message whose msg-ids lead to several tickets goes, see [`plan_thread`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The ticket the message joins; `None`: it opens a ticket of its own.
    pub target: Option<i64>,
    /// Tickets merged into `target` (same requester as `target`).
    pub merge: Vec<i64>,
    /// Tickets linked to the message's ticket, not merged (another requester).
    pub link: Vec<i64>,
}

/// The threading decision for a message from `sender` whose trusted msg-ids lead to `known`
/// (sorted by id, oldest first):
///
/// - none: a new ticket; one: that ticket (a msg-id the message carries is on its thread);
/// - several with one requester: the oldest, the others merged into it (as before);
/// - several requesters: the message joins the oldest ticket whose requester is the sender,
///   else the oldest whose thread the sender is on, else opens its own; tickets of the
///   target's requester are merged into it, all others only linked, so no agent's reply ever
///   goes to a requester who did not write the ticket.
pub fn plan_thread(sender: &str, known: &[Known]) -> Plan {
    let Some(first) = known.first() else {
        return Plan::default();
    };
    let one_requester = known
        .iter()
        .all(|k| same_requester(&k.requester, &first.requester));
    let target = if one_requester {
        Some(first)
    } else {
        known
            .iter()
            .find(|k| same_requester(&k.requester, sender))
            .or_else(|| known.iter().find(|k| k.sender_on_thread))
    };
    let mut plan = Plan {
        target: target.map(|t| t.id),
        ..Plan::default()
    };
    for k in known {
        match target {
            Some(t) if t.id == k.id => {}
            Some(t) if same_requester(&t.requester, &k.requester) => plan.merge.push(k.id),
            _ => plan.link.push(k.id),
        }
    }
    plan
}

/// Whether an agent may merge one ticket into another by hand (`merge <ticket> <into>`).
///
/// As in Zammad (merging needs `change` permission on both tickets) and Zendesk (an agent
/// must be able to edit both): admins and owners may merge any two tickets; a member only two
/// tickets they hold both of.
pub fn may_merge(role: Role, holds_from: bool, holds_into: bool) -> bool {
    role >= Role::Admin || (holds_from && holds_into)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(id: i64, requester: &str, on: bool) -> Known {
        Known {
            id,
            requester: requester.into(),
            sender_on_thread: on,
        }
    }

    #[test]
    fn plans_merges_only_within_one_requester() {
        let dana = "dana@customer.example";
        let eve = "eve@evil.example";
        // Nothing known, one known.
        assert_eq!(plan_thread(eve, &[]), Plan::default());
        assert_eq!(
            plan_thread(eve, &[k(1, dana, false)]).target,
            Some(1),
            "a msg-id it carries puts it on that one thread"
        );
        // One requester, whoever writes: merged into the oldest, as before.
        assert_eq!(
            plan_thread(
                "col@customer.example",
                &[k(1, dana, true), k(4, "DANA@Customer.example ", false)]
            ),
            Plan {
                target: Some(1),
                merge: vec![4],
                link: vec![]
            }
        );
        // Eve names Dana's thread and her own: her own ticket, Dana's linked.
        assert_eq!(
            plan_thread(eve, &[k(1, dana, false), k(2, eve, true)]),
            Plan {
                target: Some(2),
                merge: vec![],
                link: vec![1]
            }
        );
        // Dana names her own and Erin's thread: hers; Erin's linked; Dana's other merged.
        assert_eq!(
            plan_thread(
                dana,
                &[
                    k(1, dana, true),
                    k(2, "erin@other.example", false),
                    k(3, dana, true)
                ]
            ),
            Plan {
                target: Some(1),
                merge: vec![3],
                link: vec![2]
            }
        );
        // A participant of one of them: that one.
        assert_eq!(
            plan_thread(
                "carol@customer.example",
                &[k(1, dana, false), k(2, eve, true)]
            ),
            Plan {
                target: Some(2),
                merge: vec![],
                link: vec![1]
            }
        );
        // A stranger to both: a ticket of their own, both linked.
        assert_eq!(
            plan_thread(
                "mallory@evil.example",
                &[k(1, dana, false), k(2, eve, false)]
            ),
            Plan {
                target: None,
                merge: vec![],
                link: vec![1, 2]
            }
        );
    }

    #[test]
    fn tags_need_the_thread_and_a_passing_dmarc_when_asked() {
        for (on, dmarc, want) in [
            (true, None, true),
            (false, None, false),
            (true, Some(Dmarc::Pass), true),
            (true, Some(Dmarc::Fail), false),
            (true, Some(Dmarc::NotProven), false),
            (false, Some(Dmarc::Pass), false),
        ] {
            assert_eq!(may_follow_tag(on, dmarc), want, "{on} {dmarc:?}");
        }
    }

    #[test]
    fn merging_by_hand_needs_admin_or_both_tickets() {
        for role in Role::ALL {
            for (a, b) in [(false, false), (true, false), (false, true), (true, true)] {
                let want = role != Role::Member || (a && b);
                assert_eq!(may_merge(role, a, b), want, "{role} {a} {b}");
            }
        }
    }
}

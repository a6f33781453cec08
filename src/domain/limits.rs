//! Limits on the sender-controlled values that become database keys, so that no email can
//! make a row that does not fit its btree index (PostgreSQL refuses index entries over about
//! 2,700 bytes: "index row size … exceeds btree version 4 maximum 2704").
//!
//! The keys concerned (migrations/*.sql): `tickets.requester_email`,
//! `ticket_participants.email`, `acknowledgements.sender`, `loop_flags.sender` (addresses);
//! `messages.message_id`, `thread_keys.msg_id`, `noise_messages.message_id`,
//! `duplicate_copies.message_id` (msg-ids). Subjects, names, bodies and the raw message are
//! not in any btree index and are kept whole.
//!
//! The choices:
//! - An **address** longer than [`MAX_ADDRESS_OCTETS`] cannot be delivered to (RFC 5321
//!   §4.5.3.1.3: a path is at most 256 octets with its angle brackets), so no reply could
//!   reach it: a From that long is quarantined with [`sender_too_long`] as the reason (the
//!   quarantine keeps the raw message whole), and recipients that long are left out of the
//!   participants ([`address_fits`]).
//! - A **msg-id** longer than [`MAX_MSG_ID_OCTETS`] cannot be written on one 998-octet line
//!   (RFC 5322 §2.1.1; a msg-id has no place to fold, §3.6.4), so no conforming agent made it.
//!   It is replaced by a fixed-length digest ([`fit_msg_id`]) wherever it is a key: the same
//!   long id always maps to the same key, so threading on it still works, and the raw message
//!   keeps the original.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// Longest address kept as a key, in octets: RFC 5321 §4.5.3.1.3 limits a path to 256
/// octets including the angle brackets.
pub const MAX_ADDRESS_OCTETS: usize = 254;

/// Longest msg-id (without angle brackets) kept as it is, in octets: a continuation line
/// holding ` <id>` must fit in RFC 5322 §2.1.1's 998 octets.
pub const MAX_MSG_ID_OCTETS: usize = 995;

/// Whether `address` fits the address keys (at most [`MAX_ADDRESS_OCTETS`] octets).
pub fn address_fits(address: &str) -> bool {
    address.len() <= MAX_ADDRESS_OCTETS
}

/// The quarantine reason for a From address that does not fit (`None` when it does):
/// names its length and the RFC 5321 limit, never the address itself (that stays in the
/// quarantined raw message).
pub fn sender_too_long(address: &str) -> Option<String> {
    (!address_fits(address)).then(|| {
        format!(
            "sender address (From) is {} octets long; RFC 5321 §4.5.3.1.3 allows at most {} \
             for a deliverable address, so no reply could reach it",
            address.len(),
            MAX_ADDRESS_OCTETS
        )
    })
}

/// `id` as a key: itself when it is at most [`MAX_MSG_ID_OCTETS`] octets, otherwise
/// `sha256-<64 hex digits of the id>@long-id.claimdesk.invalid` (88 octets; `.invalid` is
/// reserved, RFC 2606 §2, so it names no real message).
pub fn fit_msg_id(id: &str) -> Cow<'_, str> {
    if id.len() <= MAX_MSG_ID_OCTETS {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(format!(
            "sha256-{}@long-id.claimdesk.invalid",
            hex::encode(Sha256::digest(id.as_bytes()))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_kept_long_ones_become_a_stable_digest() {
        let ok = "a".repeat(MAX_MSG_ID_OCTETS);
        assert_eq!(fit_msg_id(&ok), ok.as_str());
        let long = format!("{}@x", "b".repeat(10_000));
        let key = fit_msg_id(&long);
        assert!(key.len() < 100, "{key}");
        assert_eq!(key, fit_msg_id(&long), "the same id maps to the same key");
        assert_ne!(key, fit_msg_id(&format!("{}@y", "b".repeat(10_000))));
        // Multi-byte characters count in octets, as the index does.
        let wide = "é".repeat(MAX_MSG_ID_OCTETS / 2 + 1);
        assert!(wide.chars().count() < MAX_MSG_ID_OCTETS);
        assert_ne!(fit_msg_id(&wide), wide.as_str());
    }

    #[test]
    fn addresses_over_rfc_5321_limit_do_not_fit() {
        let at_limit = format!("{}@example.com", "a".repeat(MAX_ADDRESS_OCTETS - 12));
        assert_eq!(at_limit.len(), MAX_ADDRESS_OCTETS);
        assert!(address_fits(&at_limit));
        assert!(sender_too_long(&at_limit).is_none());
        let over = format!("a{at_limit}");
        assert!(!address_fits(&over));
        let reason = sender_too_long(&over).unwrap_or_default();
        assert!(reason.contains("255 octets"), "{reason}");
        assert!(
            !reason.contains(&over),
            "the reason does not repeat the address"
        );
    }
}

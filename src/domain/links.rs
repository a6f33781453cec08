//! The signed per-ticket token of the customer's links (`/status/<token>`, `/rate/<token>`),
//! with no I/O.
//!
//! A token is `<ticket id>-<sig>`: the ticket's row id in decimal, a hyphen, and the first
//! [`TOKEN_SIG_HEX`] lowercase hex characters (128 bits) of HMAC-SHA256 (RFC 2104) under the
//! link secret over `claimdesk-customer-link:<ticket id>`. Ticket ids are sequential, so the
//! id alone is guessable; without the secret nobody can make the signature of another ticket,
//! and a token opens one ticket only. Checking compares in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex characters of the signature in a token (128 bits).
pub const TOKEN_SIG_HEX: usize = 32;

/// Longest token [`ticket_of`] reads (an `i64` in decimal, the hyphen, the signature); longer
/// input is refused before any work.
pub const MAX_TOKEN_LEN: usize = 20 + 1 + TOKEN_SIG_HEX;

/// Shortest secret accepted (bytes): a shorter one could be guessed offline from one token.
pub const MIN_SECRET_LEN: usize = 16;

fn mac(secret: &[u8], ticket_id: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"claimdesk-customer-link:");
    mac.update(ticket_id.to_string().as_bytes());
    mac
}

/// The token of ticket row `ticket_id` under `secret`.
pub fn token(secret: &[u8], ticket_id: i64) -> String {
    let tag = mac(secret, ticket_id).finalize().into_bytes();
    format!("{ticket_id}-{}", hex::encode(&tag[..TOKEN_SIG_HEX / 2]))
}

/// The ticket row id a token names, when its signature is valid under `secret`; `None` for
/// anything else (malformed, too long, forged, signed under another secret). The same
/// answer for every kind of bad token, so a caller cannot tell them apart.
pub fn ticket_of(secret: &[u8], token: &str) -> Option<i64> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (id, sig) = token.split_once('-')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || sig.len() != TOKEN_SIG_HEX {
        return None;
    }
    let ticket_id: i64 = id.parse().ok()?;
    // Only the canonical decimal form (no leading zeros) is the ticket's token.
    if ticket_id.to_string() != id {
        return None;
    }
    let given = hex::decode(sig).ok()?;
    if sig.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    mac(secret, ticket_id)
        .verify_truncated_left(&given)
        .ok()
        .map(|()| ticket_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_opens_its_ticket_only() {
        let t = token(KEY, 42);
        assert!(t.starts_with("42-"), "{t}");
        assert_eq!(t.len(), 3 + TOKEN_SIG_HEX);
        assert_eq!(ticket_of(KEY, &t), Some(42));
        // The same signature with another id is refused: no walking the ids.
        let other = t.replacen("42-", "43-", 1);
        assert_eq!(ticket_of(KEY, &other), None);
        assert_ne!(token(KEY, 43), other);
    }

    #[test]
    fn every_kind_of_bad_token_is_refused() {
        let good = token(KEY, 7);
        let sig = good
            .split_once('-')
            .map(|(_, s)| s.to_string())
            .unwrap_or_default();
        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        let cases = [
            String::new(),
            "-".into(),
            "7".into(),
            "7-".into(),
            format!("-{sig}"),
            format!("07-{sig}"),
            format!("+7-{sig}"),
            format!("7-{}", sig.to_uppercase()),
            format!("7-{}", &sig[..TOKEN_SIG_HEX - 2]),
            format!("7-{sig}00"),
            format!("7-{}zz", &sig[..TOKEN_SIG_HEX - 2]),
            format!("99999999999999999999999-{sig}"),
            format!("7-{sig}-{sig}"),
            flipped,
            token(b"another secret, not ours at all", 7),
            "x".repeat(10_000),
            format!("７-{sig}"),
        ];
        for c in &cases {
            assert_eq!(ticket_of(KEY, c), None, "accepted {c:?}");
        }
        assert_eq!(ticket_of(KEY, &good), Some(7));
    }

    #[test]
    fn tokens_differ_per_ticket_and_per_secret() {
        let mut seen = std::collections::HashSet::new();
        for id in 1..500 {
            assert!(seen.insert(token(KEY, id)));
            assert_ne!(
                token(KEY, id),
                token(b"fedcba9876543210fedcba9876543210", id)
            );
        }
    }
}

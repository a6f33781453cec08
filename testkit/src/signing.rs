//! Signers for inbound requests, as Slack and Discord sign what they send to the app.

use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Slack request signing v0: "v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}")).
pub fn slack_signature(signing_secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Current Unix time in seconds, as Slack and Discord put it in their timestamp headers.
pub fn unix_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string()
}

/// The headers Slack sends with a signed request:
/// `X-Slack-Request-Timestamp` and `X-Slack-Signature`.
pub fn slack_headers(
    signing_secret: &str,
    timestamp: &str,
    body: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("X-Slack-Request-Timestamp", timestamp.to_string()),
        (
            "X-Slack-Signature",
            slack_signature(signing_secret, timestamp, body),
        ),
    ]
}

/// Signs interaction requests like Discord: Ed25519 over `timestamp || body`.
pub struct DiscordSigner {
    key: SigningKey,
}

impl DiscordSigner {
    /// A fresh random key pair.
    pub fn generate() -> DiscordSigner {
        DiscordSigner::from_seed(rand::random::<[u8; 32]>())
    }

    /// A deterministic key pair (same seed, same key).
    pub fn from_seed(seed: [u8; 32]) -> DiscordSigner {
        DiscordSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// 64 hex chars: the application's "public key" the app is configured with.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Hex Ed25519 signature of `timestamp || body`, as sent in `X-Signature-Ed25519`.
    pub fn sign(&self, timestamp: &str, body: &str) -> String {
        self.sign_bytes(timestamp, body.as_bytes())
    }

    pub fn sign_bytes(&self, timestamp: &str, body: &[u8]) -> String {
        let mut msg = Vec::with_capacity(timestamp.len() + body.len());
        msg.extend_from_slice(timestamp.as_bytes());
        msg.extend_from_slice(body);
        hex::encode(self.key.sign(&msg).to_bytes())
    }

    /// The headers Discord sends with an interaction:
    /// `X-Signature-Ed25519` and `X-Signature-Timestamp`.
    pub fn headers(&self, timestamp: &str, body: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-Signature-Ed25519", self.sign(timestamp, body)),
            ("X-Signature-Timestamp", timestamp.to_string()),
        ]
    }
}

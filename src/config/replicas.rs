//! `[replicas]`: running several `claimdesk serve` processes on one database (`crate::replicas`).
//!
//! ```toml
//! [replicas]
//! name = "desk-a"        # this replica's identity in leases and logs; default <hostname>:<pid>
//! lease_retry_secs = 2   # how often a standby tries to take a lease
//! ```

use serde::{Deserialize, Serialize};

/// Replica settings. Every replica shares the whole configuration except `name`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct ReplicaSettings {
    /// This process's identity in the `leases` table and the log (`holder`); unique per
    /// replica. Unset: `<hostname>:<pid>` ([`ReplicaSettings::identity`]).
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds between a standby's attempts to take a lease (and so the largest part of a
    /// failover once the holder's connection is gone). Default 2; 1 to
    /// [`LEASE_RETRY_SECS_MAX`] (checked when the settings load). `None` reads as the default.
    #[serde(default)]
    pub lease_retry_secs: Option<u64>,
}

/// Default `replicas.lease_retry_secs`.
pub const LEASE_RETRY_SECS_DEFAULT: u64 = 2;

/// Largest `replicas.lease_retry_secs` accepted: one minute (failover must stay ≤ 30 s with
/// the default; a longer retry only delays it).
pub const LEASE_RETRY_SECS_MAX: u64 = 60;

impl ReplicaSettings {
    /// Checks the settings.
    ///
    /// Errors: text naming `replicas.lease_retry_secs` when it is 0 or over
    /// [`LEASE_RETRY_SECS_MAX`], or `replicas.name` when it is blank or longer than 200 bytes.
    pub fn check(&self) -> Result<(), String> {
        if let Some(s) = self.lease_retry_secs {
            if s == 0 || s > LEASE_RETRY_SECS_MAX {
                return Err(format!(
                    "replicas.lease_retry_secs = {s} is out of range: use 1 to {LEASE_RETRY_SECS_MAX} seconds"
                ));
            }
        }
        if let Some(n) = &self.name {
            if n.trim().is_empty() || n.len() > 200 {
                return Err("replicas.name must be 1 to 200 bytes and not blank".into());
            }
        }
        Ok(())
    }

    /// The standby retry interval: `lease_retry_secs` clamped to 1..=[`LEASE_RETRY_SECS_MAX`]
    /// even for settings built without [`ReplicaSettings::check`].
    pub fn lease_retry(&self) -> std::time::Duration {
        let s = self
            .lease_retry_secs
            .unwrap_or(LEASE_RETRY_SECS_DEFAULT)
            .clamp(1, LEASE_RETRY_SECS_MAX);
        std::time::Duration::from_secs(s)
    }

    /// This replica's identity: `name` when set, else `<hostname>:<pid>` (hostname from
    /// `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `localhost`).
    pub fn identity(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{}", std::process::id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_is_bounded_and_defaults_to_two_seconds() {
        let d = ReplicaSettings::default();
        assert_eq!(d.lease_retry(), std::time::Duration::from_secs(2));
        assert!(d.check().is_ok());
        for bad in [0, LEASE_RETRY_SECS_MAX + 1] {
            let s = ReplicaSettings {
                lease_retry_secs: Some(bad),
                ..Default::default()
            };
            let e = s.check().expect_err("out of range");
            assert!(e.contains("replicas.lease_retry_secs"), "{e}");
        }
    }

    #[test]
    fn identity_is_the_name_or_host_and_pid() {
        let named = ReplicaSettings {
            name: Some("desk-a".into()),
            ..Default::default()
        };
        assert_eq!(named.identity(), "desk-a");
        let id = ReplicaSettings::default().identity();
        assert!(id.ends_with(&format!(":{}", std::process::id())), "{id}");
    }
}

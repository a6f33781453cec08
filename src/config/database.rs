//! `[database]`: the Postgres connections (the app's, and the one that migrates).

use serde::{Deserialize, Serialize};

/// Postgres connection settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DatabaseSettings {
    /// The app's connection, `postgres://user@host:port/db`. Best as a role that owns
    /// nothing (e.g. `claimdesk_app`): it then gets `SELECT, INSERT, UPDATE, DELETE` on the
    /// tables and only `SELECT, INSERT` on `audit_events`. Without `migrate_url`, this
    /// connection also creates the database if missing and applies the migrations (and
    /// `claimdesk doctor` warns that the app can then rewrite its own audit trail).
    pub url: String,
    /// The connection that creates the database if missing and applies the migrations, as
    /// the role that owns the tables (e.g. `claimdesk_owner`). After migrating, it grants
    /// the role `url` logs in as what the app needs (`store::open`). Optional; see `url`.
    #[serde(default)]
    pub migrate_url: Option<String>,
    /// Pool size.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

fn default_max_connections() -> u32 {
    10
}

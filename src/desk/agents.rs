//! Managing the team: owners add, remove and re-department agents, from chat or from the
//! shell. The shell's `claimdesk agent …` acts as [`Actor::cli_operator`] (surface `cli`,
//! owner-level), so it goes through the same checks and leaves the same audit events.

use serde_json::json;

use crate::config::AgentSettings;
use crate::domain::{Action, Role};
use crate::store::{self, agents::AgentListing};

use super::{Actor, Desk, DeskError, Surface};

/// Handle of [`Actor::cli_operator`], as the audit trail names it.
pub const CLI_OPERATOR: &str = "operator";

impl Actor {
    /// Whoever runs `claimdesk` at the shell: the local operator, owner-level (they could
    /// edit the config file and the database anyway), surface `cli`, handle
    /// [`CLI_OPERATOR`]. Not an agent row (id 0): it can manage agents but holds no tickets.
    pub fn cli_operator() -> Actor {
        Actor {
            agent: store::agents::Agent {
                id: 0,
                handle: CLI_OPERATOR.to_string(),
                name: "claimdesk CLI operator".to_string(),
                email: String::new(),
                role: Role::Owner,
                slack_user_id: None,
                discord_user_id: None,
            },
            surface: Surface::Cli,
        }
    }
}

/// `handle` without surrounding blanks and a leading `@`.
///
/// Errors: [`DeskError::BadInput`] when what is left is empty or holds anything but ASCII
/// letters, digits, `-`, `_` and `.`.
fn valid_handle(handle: &str) -> Result<String, DeskError> {
    let handle = handle.trim().trim_start_matches('@').to_string();
    if handle.is_empty()
        || !handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(DeskError::BadInput(
            "a handle is letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    Ok(handle)
}

impl Desk {
    fn require_owner(&self, actor: &Actor) -> Result<(), DeskError> {
        if crate::domain::permissions::allows(actor.agent.role, Action::ManageAgents, self.policy) {
            Ok(())
        } else {
            Err(DeskError::Forbidden("an owner".into()))
        }
    }

    fn check_departments(&self, departments: &[String]) -> Result<(), DeskError> {
        for d in departments {
            if !self.departments.contains_key(d) {
                let mut known: Vec<&String> = self.departments.keys().collect();
                known.sort();
                let known: Vec<&str> = known.into_iter().map(String::as_str).collect();
                return Err(DeskError::BadInput(format!(
                    "unknown department `{d}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    async fn record_agent_change(
        &self,
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        action: &str,
        after: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        store::audit::record(
            conn,
            store::audit::AuditEvent {
                ticket_id: None,
                actor: &actor.agent.handle,
                surface: actor.surface.as_str(),
                action,
                before: None,
                after: Some(after),
            },
        )
        .await
    }

    /// Adds (or updates) agent `handle` with `role` in `departments` (all when empty); owners only.
    pub async fn add_agent(
        &self,
        actor: &Actor,
        handle: &str,
        role: Role,
        departments: &[String],
    ) -> Result<String, DeskError> {
        self.require_owner(actor)?;
        self.check_departments(departments)?;
        let handle = valid_handle(handle)?;
        let a = AgentSettings {
            handle: handle.clone(),
            name: handle.clone(),
            email: String::new(),
            role,
            slack_user_id: None,
            discord_user_id: None,
            departments: departments.to_vec(),
            capacity: None,
        };
        self.store_agent(actor, &a).await?;
        Ok(handle)
    }

    /// Adds (or updates, by handle) the agent `agent` with every field it gives — name,
    /// email, role, chat user IDs, departments (all when empty), capacity; owners only. This
    /// is `claimdesk agent add`; the handle is checked as chat's `agent add` checks it (a
    /// leading `@` is dropped) and the change is audited as `agent.added`. Returns the
    /// stored handle.
    ///
    /// Errors: [`DeskError::Forbidden`] when `actor` is not an owner,
    /// [`DeskError::BadInput`] for an unknown department or a handle that is not letters,
    /// digits, `-`, `_` or `.` (nothing is written then), [`DeskError::Store`] when the
    /// database fails.
    pub async fn save_agent(
        &self,
        actor: &Actor,
        agent: &AgentSettings,
    ) -> Result<String, DeskError> {
        self.require_owner(actor)?;
        self.check_departments(&agent.departments)?;
        let handle = valid_handle(&agent.handle)?;
        let a = AgentSettings {
            handle: handle.clone(),
            ..agent.clone()
        };
        self.store_agent(actor, &a).await?;
        Ok(handle)
    }

    /// Every agent (active or removed), by handle, with role, availability, capacity,
    /// departments and source (`config` or `cli`). Read-only; anyone may ask.
    ///
    /// Errors: [`DeskError::Store`] when the database fails.
    pub async fn list_agents(&self) -> Result<Vec<AgentListing>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::agents::list(&mut conn).await?)
    }

    /// Upserts `a` (source `cli`, as every agent not from the config file) and audits
    /// `agent.added`, in one transaction.
    async fn store_agent(&self, actor: &Actor, a: &AgentSettings) -> Result<(), DeskError> {
        let mut all: Vec<String> = self.departments.keys().cloned().collect();
        all.sort();
        let mut tx = self.pool.begin().await?;
        store::agents::upsert(&mut tx, a, "cli", &all).await?;
        self.record_agent_change(
            &mut tx,
            actor,
            "agent.added",
            json!({"agent": a.handle, "role": a.role.as_str(), "departments": a.departments}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes agent `handle` (kept inactive for history); owners only.
    pub async fn remove_agent(&self, actor: &Actor, handle: &str) -> Result<String, DeskError> {
        self.require_owner(actor)?;
        let h = handle.trim().trim_start_matches('@').to_string();
        let mut tx = self.pool.begin().await?;
        if !store::agents::deactivate(&mut tx, &h).await? {
            return Err(DeskError::NoSuchAgent(h));
        }
        self.record_agent_change(&mut tx, actor, "agent.removed", json!({"agent": h}))
            .await?;
        tx.commit().await?;
        Ok(h)
    }

    /// Puts agent `handle` in exactly `departments`; owners only.
    pub async fn set_agent_departments(
        &self,
        actor: &Actor,
        handle: &str,
        departments: &[String],
    ) -> Result<String, DeskError> {
        self.require_owner(actor)?;
        self.check_departments(departments)?;
        let mut tx = self.pool.begin().await?;
        let h = handle.trim().trim_start_matches('@');
        let agent = store::agents::find(&mut tx, store::agents::Identity::Handle(h))
            .await?
            .ok_or_else(|| DeskError::NoSuchAgent(h.to_string()))?;
        store::agents::set_departments(&mut tx, agent.id, departments).await?;
        self.record_agent_change(
            &mut tx,
            actor,
            "agent.departments",
            json!({"agent": agent.handle, "departments": departments}),
        )
        .await?;
        tx.commit().await?;
        Ok(agent.handle)
    }
}

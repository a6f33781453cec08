//! Managing the team from chat: owners add, remove and re-department agents. (The shell's
//! `claimdesk agent …` is the local operator and needs no role.)

use serde_json::json;

use crate::config::AgentSettings;
use crate::domain::{Action, Role};
use crate::store;

use super::{Actor, Desk, DeskError};

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
        let mut all: Vec<String> = self.departments.keys().cloned().collect();
        all.sort();
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
        let mut tx = self.pool.begin().await?;
        store::agents::upsert(&mut tx, &a, "cli", &all).await?;
        self.record_agent_change(
            &mut tx,
            actor,
            "agent.added",
            json!({"agent": handle, "role": role.as_str(), "departments": departments}),
        )
        .await?;
        tx.commit().await?;
        Ok(handle)
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

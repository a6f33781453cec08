//! Canned replies: the templates of the config file (read-only) and those admins manage from
//! chat (`template add|edit|remove`, stored in `reply_templates`, every change audited), and
//! the draft a template fills for one ticket. A draft is only shown: the agent sees the filled
//! text and the recipient, may edit it, and sends it through the normal reply use case
//! ([`Desk::reply`]) — nothing here sends anything.

use serde_json::json;

use crate::domain::templates::{self as rules, FillValues, Template};
use crate::domain::{Action, Event};
use crate::store::{self, audit::AuditEvent};

use super::messages::templates as words;
use super::{Actor, Desk, DeskError};

/// Where a template comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSource {
    /// `[[templates]]` in the config file: read-only from chat.
    Config,
    /// Added from chat (`template add`), stored in `reply_templates`.
    Chat,
}

/// One template, as `template list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateEntry {
    /// Its name.
    pub name: String,
    /// Its body as written (placeholders unfilled).
    pub body: String,
    /// Config file or chat.
    pub source: TemplateSource,
    /// For a chat template, the handle of whoever changed it last.
    pub updated_by: Option<String>,
}

/// A reply filled from a template for one ticket, shown to the agent before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The ticket number.
    pub number: String,
    /// The customer address the reply goes to.
    pub to: String,
    /// The ticket's subject (the reply's is `Re: <subject> [<number>]`).
    pub subject: String,
    /// The template's name.
    pub template: String,
    /// The filled text, at most `domain::templates::FILLED_MAX` characters.
    pub text: String,
}

impl Desk {
    /// Every template, config and chat, by name (a config template hides a stored one of the
    /// same name, which `template add` never makes).
    ///
    /// Errors: [`DeskError::Store`].
    pub async fn templates(&self) -> Result<Vec<TemplateEntry>, DeskError> {
        let mut conn = self.pool.acquire().await?;
        let stored = store::templates::all(&mut conn).await?;
        let mut out: Vec<TemplateEntry> = self
            .config_templates
            .iter()
            .map(|t| TemplateEntry {
                name: t.name().to_string(),
                body: t.body().to_string(),
                source: TemplateSource::Config,
                updated_by: None,
            })
            .collect();
        for s in stored {
            if out.iter().any(|e| e.name == s.name) {
                continue;
            }
            out.push(TemplateEntry {
                name: s.name,
                body: s.body,
                source: TemplateSource::Chat,
                updated_by: Some(s.updated_by),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The template called `name` (any case), parsed; `None` when there is none.
    async fn template_named(&self, name: &str) -> Result<Option<Template>, DeskError> {
        let name = name.trim().trim_start_matches('/').to_lowercase();
        Ok(self
            .templates()
            .await?
            .into_iter()
            .find(|e| e.name == name)
            .and_then(|e| match Template::parse(&e.name, &e.body) {
                Ok(t) => Some(t),
                Err(err) => {
                    tracing::warn!(template = %e.name, error = %err, "stored template no longer parses; skipped");
                    None
                }
            }))
    }

    fn require_template_admin(&self, actor: &Actor) -> Result<(), DeskError> {
        if rules::may_manage(actor.agent.role) {
            Ok(())
        } else {
            Err(DeskError::Forbidden("an admin".into()))
        }
    }

    /// Checks `name` and `body` for saving from chat: an admin, valid rules, not a config
    /// template's name. Returns the parsed template.
    fn checked_for_chat(
        &self,
        actor: &Actor,
        name: &str,
        body: &str,
    ) -> Result<Template, DeskError> {
        self.require_template_admin(actor)?;
        let name = name.trim().trim_start_matches('/');
        let t = Template::parse(name, body.trim())
            .map_err(|e| DeskError::BadInput(words::not_saved(name, &e)))?;
        if self.config_templates.iter().any(|c| c.name() == t.name()) {
            return Err(DeskError::BadInput(words::from_config(t.name())));
        }
        Ok(t)
    }

    /// `template add <name> <body>`: stores a new template (admins). The body is checked
    /// first (`domain::templates`): an unknown or malformed placeholder is refused here, never
    /// when the template is used. Audited as `template.added`.
    ///
    /// Errors: [`DeskError::Forbidden`] (not an admin), [`DeskError::BadInput`] (bad name or
    /// body, the name of a config template, a template of that name exists),
    /// [`DeskError::Store`].
    pub async fn add_template(
        &self,
        actor: &Actor,
        name: &str,
        body: &str,
    ) -> Result<String, DeskError> {
        let t = self.checked_for_chat(actor, name, body)?;
        let mut tx = self.pool.begin().await?;
        if !store::templates::insert(&mut tx, t.name(), t.body(), &actor.agent.handle).await? {
            return Err(DeskError::BadInput(words::exists(t.name())));
        }
        self.record_template_change(
            &mut tx,
            actor,
            "template.added",
            None,
            Some(json!({"name": t.name(), "body": t.body()})),
        )
        .await?;
        tx.commit().await?;
        Ok(t.name().to_string())
    }

    /// `template edit <name> <body>`: replaces a chat template's body (admins), checked as
    /// for [`Desk::add_template`]. Audited as `template.edited` with the body before and after.
    ///
    /// Errors: as [`Desk::add_template`], and [`DeskError::BadInput`] when there is no chat
    /// template of that name.
    pub async fn edit_template(
        &self,
        actor: &Actor,
        name: &str,
        body: &str,
    ) -> Result<String, DeskError> {
        let t = self.checked_for_chat(actor, name, body)?;
        let mut tx = self.pool.begin().await?;
        let Some(old) = store::templates::lock(&mut tx, t.name()).await? else {
            return Err(DeskError::BadInput(words::no_such(t.name())));
        };
        store::templates::update(&mut tx, t.name(), t.body(), &actor.agent.handle).await?;
        self.record_template_change(
            &mut tx,
            actor,
            "template.edited",
            Some(json!({"name": old.name, "body": old.body})),
            Some(json!({"name": t.name(), "body": t.body()})),
        )
        .await?;
        tx.commit().await?;
        Ok(t.name().to_string())
    }

    /// `template remove <name>`: deletes a chat template (admins). Audited as
    /// `template.removed` with the body it had.
    ///
    /// Errors: [`DeskError::Forbidden`], [`DeskError::BadInput`] (a config template, or none
    /// of that name), [`DeskError::Store`].
    pub async fn remove_template(&self, actor: &Actor, name: &str) -> Result<String, DeskError> {
        self.require_template_admin(actor)?;
        let name = name.trim().trim_start_matches('/').to_lowercase();
        if self.config_templates.iter().any(|c| c.name() == name) {
            return Err(DeskError::BadInput(words::from_config(&name)));
        }
        let mut tx = self.pool.begin().await?;
        let Some(old) = store::templates::lock(&mut tx, &name).await? else {
            return Err(DeskError::BadInput(words::no_such(&name)));
        };
        store::templates::delete(&mut tx, &name).await?;
        self.record_template_change(
            &mut tx,
            actor,
            "template.removed",
            Some(json!({"name": old.name, "body": old.body})),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(name)
    }

    async fn record_template_change(
        &self,
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), sqlx::Error> {
        self.sink(conn)
            .event(AuditEvent {
                ticket_id: None,
                actor: &actor.agent.handle,
                surface: actor.surface.as_str(),
                action,
                before,
                after,
            })
            .await
    }

    /// The reply template `name` fills for ticket `number`, written by `actor`: the filled
    /// text and the recipient, to show before anything is sent. The ticket must take a reply
    /// from `actor` now (as [`Desk::reply`] checks), so nobody edits a reply they cannot send.
    /// Nothing is written.
    ///
    /// Errors: [`DeskError::BadInput`] naming the templates there are when `name` is none of
    /// them; the ticket's lookup errors, [`DeskError::Illegal`] (closed, merged),
    /// [`DeskError::HeldByOther`] / [`DeskError::NotAllowed`] as for a reply.
    pub async fn template_draft(
        &self,
        actor: &Actor,
        number: &str,
        name: &str,
    ) -> Result<Draft, DeskError> {
        let Some(template) = self.template_named(name).await? else {
            let names: Vec<String> = self
                .templates()
                .await?
                .into_iter()
                .map(|e| e.name)
                .collect();
            return Err(DeskError::BadInput(words::unknown(name, &names)));
        };
        let mut conn = self.pool.acquire().await?;
        let t = self.ticket_by_number(&mut conn, number).await?;
        t.status
            .apply(Event::AgentReply)
            .map_err(|source| DeskError::Illegal {
                number: t.number.clone(),
                source,
            })?;
        let held_by_other = t.assignee_id.is_some_and(|id| id != actor.agent.id);
        self.require(actor, Action::Reply { held_by_other }, &t)?;
        let text = template.fill(&FillValues {
            customer_name: t.requester_name.as_deref(),
            customer_email: &t.requester_email,
            ticket: &t.number,
            agent_name: &actor.agent.name,
            agent_handle: &actor.agent.handle,
            subject: &t.subject,
        });
        Ok(Draft {
            number: t.number,
            to: t.requester_email,
            subject: t.subject,
            template: template.name().to_string(),
            text,
        })
    }
}

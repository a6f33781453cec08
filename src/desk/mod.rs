//! The use cases: ingest, claim, unclaim, reply and the read-only queries. This is the one
//! place the rules of `crate::domain` are applied; every surface (Slack, Discord, console,
//! CLI) calls these and none re-implements them.
//!
//! Each use case runs in one Postgres transaction and writes its side effects (card posts
//! and edits, thread messages, outgoing mail, audit events) through one [`Sink`]
//! ([`Desk::sink`] on its connection, [`Desk::queued`] in ingest's unit of work) to the
//! outbox and the audit trail in that same transaction.

pub mod agents;
pub mod assign;
pub mod channels;
pub mod chart;
pub mod claim;
pub mod content;
pub mod customer;
pub mod digest;
pub mod effects;
pub mod escape;
pub mod ingest;
pub mod merge;
pub mod messages;
pub mod noise;
pub mod note;
pub mod notify;
pub mod query;
pub mod release;
pub mod reply;
pub mod report;
pub mod search;
pub mod sla;
pub mod stats;
pub mod status;
pub mod tags;
pub mod templates;
pub mod webview;
pub mod workload;

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};

use crate::config::Settings;
use crate::domain::status::IllegalTransition;
use crate::store::{self, agents::Agent, batch::Work, outbox::Effect};

pub use claim::ClaimOutcome;
pub use effects::Sink;
pub use ingest::{Fetched, Ingested, Source};
pub use merge::MergeOutcome;
pub use query::{CardView, TicketDetail, TicketSummary};
pub use reply::ReplyOutcome;

/// Where a request came from; recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Slack interaction or slash command.
    Slack,
    /// Discord interaction.
    Discord,
    /// The terminal surface.
    Console,
    /// A `claimdesk` subcommand.
    Cli,
    /// The web view (`crate::web::ui`), by a signed-in agent.
    Web,
}

impl Surface {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Slack => "slack",
            Surface::Discord => "discord",
            Surface::Console => "console",
            Surface::Cli => "cli",
            Surface::Web => "web",
        }
    }
}

/// An agent acting through a surface.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who.
    pub agent: Agent,
    /// Through what.
    pub surface: Surface,
}

/// Why a use case refused. Every variant is an answer for the person who asked;
/// `desk::messages` words them.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The chat user is not a configured agent.
    #[error("not a member of this desk")]
    NotAMember,
    /// The text is not a ticket number.
    #[error("`{0}` is not a ticket number")]
    BadTicketNumber(String),
    /// No ticket has that number.
    #[error("no ticket {0}")]
    NoSuchTicket(String),
    /// The ticket was merged into another.
    #[error("{number} was merged into {into}")]
    Merged {
        /// The merged ticket.
        number: String,
        /// Where it went.
        into: String,
    },
    /// Someone else holds it.
    #[error("{number} is already claimed by @{by}")]
    AlreadyClaimed {
        /// Ticket.
        number: String,
        /// Holder's handle.
        by: String,
    },
    /// The actor already holds it.
    #[error("you already hold {0}")]
    AlreadyYours(String),
    /// Nobody holds it.
    #[error("{0} is not claimed")]
    NotClaimed(String),
    /// The role does not allow it.
    #[error("only {holder_or_admin} may do that to {number}")]
    NotAllowed {
        /// Ticket.
        number: String,
        /// Who may: e.g. "@ben or an admin".
        holder_or_admin: String,
    },
    /// Another agent holds the ticket and the role does not allow acting on it; the holder
    /// or an admin can `unclaim` or `assign` it.
    #[error("{number} is held by @{holder}")]
    HeldByOther {
        /// Ticket.
        number: String,
        /// The holder's handle.
        holder: String,
    },
    /// The status machine does not allow it.
    #[error("{number}: {source}")]
    Illegal {
        /// Ticket.
        number: String,
        /// The refused transition.
        source: IllegalTransition,
    },
    /// A reply or note with no text.
    #[error("the text is empty")]
    EmptyReply,
    /// No active agent has that handle.
    #[error("no agent @{0}")]
    NoSuchAgent(String),
    /// The role does not allow an action that concerns no single ticket.
    #[error("only {0} may do that")]
    Forbidden(String),
    /// A value typed in a command is not valid.
    #[error("{0}")]
    BadInput(String),
    /// The database failed; nothing was changed.
    #[error("storage error: {0}")]
    Store(#[from] sqlx::Error),
}

/// The desk: the use cases over one Postgres pool.
#[derive(Clone)]
pub struct Desk {
    pool: PgPool,
    prefix: String,
    message_id_domain: String,
    preview_chars: usize,
    platforms: Vec<String>,
    mailbox_addresses: HashMap<String, String>,
    default_from: String,
    policy: crate::domain::Policy,
    departments: HashMap<String, crate::domain::assignment::Mode>,
    mailbox_departments: HashMap<String, String>,
    admins_everywhere: bool,
    count_waiting: bool,
    requester_may_close: bool,
    auto_release: crate::config::AutoReleaseSettings,
    acknowledge: HashMap<String, bool>,
    noise: crate::config::NoiseSettings,
    clock: Clock,
    max_message_bytes: u64,
    batch_max_bytes: u64,
    attachments: crate::config::AttachmentSettings,
    /// `intake.trust_authentication_results`: our receiving server's authserv-id.
    trust_authentication_results: Option<String>,
    /// HMAC key for our Message-IDs: from the environment, or loaded (made once) from
    /// `desk_secrets` on first use.
    message_id_key: std::sync::Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// When an acknowledgement was last skipped for `noise.max_acks_per_hour` and that was
    /// logged (see `noise.rs`).
    acks_capped_at: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// `[reports]`: the weekly digest's time and channels.
    reports: crate::config::ReportsSettings,
    /// `[sla]`: policies, working hours, alerts (see `desk::sla`).
    sla: std::sync::Arc<crate::config::SlaSettings>,
    /// `[notify]`: personal notifications (see `desk::notify`).
    notify: crate::config::NotifySettings,
    /// `[[templates]]`: the canned replies of the config file, checked when it loaded.
    config_templates: std::sync::Arc<Vec<crate::domain::templates::Template>>,
    /// `[tags]`: the allowed list, the limit per ticket, the intake rules (see `desk::tags`).
    tags: std::sync::Arc<crate::config::TagSettings>,
    /// The customer's signed status and rating links (`desk::customer`); `None`: off.
    customer_links: Option<customer::CustomerLinks>,
}

/// The desk's source of the current time (tests move it to check year rollover).
pub type Clock = std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

impl Desk {
    /// A desk over `pool` posting cards to `platforms` (`slack`, `discord`, `console`).
    pub fn new(pool: PgPool, settings: &Settings, platforms: Vec<String>) -> Desk {
        let mailbox_addresses: HashMap<String, String> = settings
            .mailboxes
            .iter()
            .map(|m| (m.name.clone(), m.address.clone()))
            .collect();
        let default_from = settings
            .mailboxes
            .first()
            .map(|m| m.address.clone())
            .unwrap_or_else(|| format!("support@{}", settings.desk.message_id_domain));
        Desk {
            pool,
            prefix: settings.desk.ticket_prefix.clone(),
            message_id_domain: settings.desk.message_id_domain.clone(),
            preview_chars: settings.desk.preview_chars,
            platforms,
            mailbox_addresses,
            default_from,
            policy: crate::domain::Policy {
                reopen_closed: settings.desk.reopen_closed,
                reply_to_held: settings.desk.reply_to_held_tickets,
            },
            departments: settings
                .departments
                .iter()
                .map(|d| (d.name.clone(), d.assignment))
                .collect(),
            mailbox_departments: settings
                .mailboxes
                .iter()
                .map(|m| (m.name.clone(), settings.department_of_mailbox(&m.name)))
                .collect(),
            admins_everywhere: settings.desk.admins_eligible_everywhere,
            count_waiting: settings.desk.count_waiting_as_load,
            requester_may_close: settings.desk.requester_may_close,
            auto_release: settings.desk.auto_release.clone(),
            acknowledge: settings
                .mailboxes
                .iter()
                .map(|m| (m.name.clone(), m.acknowledge))
                .collect(),
            noise: settings.noise.clone(),
            clock: std::sync::Arc::new(chrono::Utc::now),
            max_message_bytes: settings.intake.max_message_bytes,
            batch_max_bytes: settings.intake.batch_max_bytes,
            attachments: settings.intake.attachments.clone(),
            trust_authentication_results: settings.intake.trust_authentication_results.clone(),
            message_id_key: std::sync::Arc::new(
                match Settings::secret(&settings.desk.message_id_key_env) {
                    Some(k) => tokio::sync::OnceCell::new_with(Some(
                        secrecy::ExposeSecret::expose_secret(&k).as_bytes().to_vec(),
                    )),
                    None => tokio::sync::OnceCell::new(),
                },
            ),
            acks_capped_at: std::sync::Arc::default(),
            reports: settings.reports.clone(),
            sla: std::sync::Arc::new(settings.sla.clone()),
            notify: settings.notify.clone(),
            config_templates: std::sync::Arc::new(
                settings
                    .templates
                    .iter()
                    .filter_map(|t| {
                        crate::domain::templates::Template::parse(&t.name, &t.body).ok()
                    })
                    .collect(),
            ),
            tags: std::sync::Arc::new(settings.tags.clone()),
            customer_links: None,
        }
    }

    /// The key that signs and checks our Message-IDs (see `desk.message_id_key_env`): the
    /// environment variable's bytes, else a random 32-byte key made once and kept in
    /// `desk_secrets` (so it survives restarts and is shared by every process on the
    /// database). Never logged.
    async fn message_id_key(&self, conn: &mut PgConnection) -> Result<&[u8], sqlx::Error> {
        let key = self
            .message_id_key
            .get_or_try_init(|| {
                store::secrets::get_or_create(conn, "message_id_key", || {
                    use rand::RngCore;
                    let mut k = vec![0u8; 32];
                    rand::rngs::OsRng.fill_bytes(&mut k);
                    k
                })
            })
            .await?;
        Ok(key.as_slice())
    }

    /// Our own addresses: every configured mailbox's `address`.
    fn our_addresses(&self) -> Vec<&str> {
        self.mailbox_addresses
            .values()
            .map(String::as_str)
            .collect()
    }

    /// The same desk reading the time from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Desk {
        self.clock = clock;
        self
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }

    /// The department tickets of `mailbox` go to.
    fn department_of(&self, mailbox: &str) -> String {
        self.mailbox_departments
            .get(mailbox)
            .cloned()
            .or_else(|| self.departments.keys().min().cloned())
            .unwrap_or_else(|| "support".into())
    }

    /// The pool, for workers and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Chat platforms cards go to.
    pub fn platforms(&self) -> &[String] {
        &self.platforms
    }

    /// The address replies for tickets of `mailbox` are sent from.
    pub fn from_address(&self, mailbox: &str) -> &str {
        self.mailbox_addresses
            .get(mailbox)
            .map(String::as_str)
            .unwrap_or(&self.default_from)
    }

    /// The agent behind a chat identity, or [`DeskError::NotAMember`].
    pub async fn agent(&self, who: store::agents::Identity<'_>) -> Result<Agent, DeskError> {
        let mut conn = self.pool.acquire().await?;
        store::agents::find(&mut conn, who)
            .await?
            .ok_or(DeskError::NotAMember)
    }

    /// Every active agent (for rendering mentions).
    pub async fn all_agents(&self) -> Result<Vec<Agent>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        store::agents::all_active(&mut conn).await
    }

    /// Queues a private answer to one chat user (used where the platform cannot answer in the
    /// request itself, e.g. a Slack button click).
    pub async fn queue_ephemeral(
        &self,
        platform: &str,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        self.sink(&mut conn)
            .effect(
                None,
                &Effect::Ephemeral {
                    platform: platform.to_string(),
                    channel: channel.to_string(),
                    user: user.to_string(),
                    text: text.to_string(),
                },
            )
            .await
    }

    /// The effect sink of a use case running on `conn` (inside its transaction): each
    /// audit event and outbox effect is written at once.
    pub(crate) fn sink<'s>(&'s self, conn: &'s mut PgConnection) -> Sink<'s, 'static, 'static> {
        Sink::direct(&self.platforms, conn)
    }

    /// The effect sink of ingest's unit of work: effects are queued and written at its flush.
    pub(crate) fn queued<'s, 'c, 'a>(&'s self, work: &'s mut Work<'c, 'a>) -> Sink<'s, 'c, 'a> {
        Sink::queued(&self.platforms, work)
    }

    /// The ticket as typed, locked for the rest of the transaction.
    ///
    /// Errors: as [`Desk::ticket_by_number`]; [`DeskError::Merged`] also when the ticket was
    /// merged while this call waited for its lock (checked again once it holds the lock).
    async fn locked_ticket(
        &self,
        conn: &mut PgConnection,
        typed: &str,
    ) -> Result<store::tickets::Ticket, DeskError> {
        let found = self.ticket_by_number(conn, typed).await?;
        let t = store::tickets::lock(conn, found.id).await?.unwrap_or(found);
        if let Some(into) = t.merged_into {
            let into = store::tickets::by_id(conn, into)
                .await?
                .map(|i| i.number)
                .unwrap_or_default();
            return Err(DeskError::Merged {
                number: t.number,
                into,
            });
        }
        Ok(t)
    }

    /// Refuses unless `actor` may do `action` to `t` (`domain::permissions::allows`): with
    /// [`DeskError::HeldByOther`] when another agent holds `t` and the action is one the
    /// holder may do (reply, unclaim, status, priority, reopen), naming the holder; else with
    /// [`DeskError::NotAllowed`].
    fn require(
        &self,
        actor: &Actor,
        action: crate::domain::Action,
        t: &store::tickets::Ticket,
    ) -> Result<(), DeskError> {
        if crate::domain::permissions::allows(actor.agent.role, action, self.policy) {
            return Ok(());
        }
        if let (Some(holder), Some(id)) = (&t.assignee_handle, t.assignee_id) {
            use crate::domain::Action as A;
            let on_the_holders_ticket = matches!(
                action,
                A::Reply { .. }
                    | A::Unclaim { .. }
                    | A::ChangeStatus { .. }
                    | A::ReopenResolved { .. }
            );
            if id != actor.agent.id && on_the_holders_ticket {
                return Err(DeskError::HeldByOther {
                    number: t.number.clone(),
                    holder: holder.clone(),
                });
            }
        }
        let who = match (&t.assignee_handle, action) {
            (_, crate::domain::Action::ReopenClosed) => {
                "those the reopen policy allows".to_string()
            }
            (_, crate::domain::Action::Assign | crate::domain::Action::BulkUnclaim) => {
                "an admin".to_string()
            }
            (Some(h), _) => format!("@{h} or an admin"),
            (None, _) => "the holder or an admin".to_string(),
        };
        Err(DeskError::NotAllowed {
            number: t.number.clone(),
            holder_or_admin: who,
        })
    }

    /// The ticket with the number as typed, merged or not (for read-only views).
    async fn any_ticket_by_number(
        &self,
        conn: &mut PgConnection,
        typed: &str,
    ) -> Result<store::tickets::Ticket, DeskError> {
        let number: crate::domain::TicketNumber = typed
            .parse()
            .map_err(|_| DeskError::BadTicketNumber(typed.trim().to_string()))?;
        store::tickets::by_number(conn, &number.to_string())
            .await?
            .ok_or_else(|| DeskError::NoSuchTicket(number.to_string()))
    }

    /// Looks up a ticket by the number as typed, following merges is left to the caller.
    async fn ticket_by_number(
        &self,
        conn: &mut PgConnection,
        typed: &str,
    ) -> Result<store::tickets::Ticket, DeskError> {
        let number: crate::domain::TicketNumber = typed
            .parse()
            .map_err(|_| DeskError::BadTicketNumber(typed.trim().to_string()))?;
        let number = number.to_string();
        let t = store::tickets::by_number(conn, &number)
            .await?
            .ok_or_else(|| DeskError::NoSuchTicket(number.clone()))?;
        if let Some(into) = t.merged_into {
            let into = store::tickets::by_id(conn, into)
                .await?
                .map(|t| t.number)
                .unwrap_or_default();
            return Err(DeskError::Merged { number, into });
        }
        // The use case's span (`desk.claim` …), when it declares them, names the ticket.
        tracing::Span::current()
            .record("ticket", t.number.as_str())
            .record("ticket_id", t.id);
        Ok(t)
    }
}

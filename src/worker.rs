//! The outbox worker: delivers queued side effects (cards, thread messages, email,
//! ephemeral answers) with retries. A row is marked delivered in the same transaction that
//! locked it, after the call succeeded; a crash before that leaves it pending, so nothing is
//! lost (see the residual-risk note on [`Deliverer::deliver_one`]).

use std::time::Duration;

use rand::Rng;
use sqlx::PgConnection;

use crate::chat::{ChatError, Once, Platform, UploadFile};
use crate::config::OutboxSettings;
use crate::desk::Desk;
use crate::outbound::smtp::{Mailer, SendError};
use crate::store::{self, outbox::Effect};

/// What the worker needs to deliver.
#[derive(Clone)]
pub struct Deliverer {
    /// The desk (for state and the pool).
    pub desk: Desk,
    /// Active chat platforms.
    pub platforms: Vec<Platform>,
    /// SMTP.
    pub mailer: Mailer,
    /// Retry timing.
    pub retry: OutboxSettings,
}

/// Result of one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// An item was attempted (delivered or rescheduled).
    Worked,
    /// Nothing is due.
    Idle,
}

#[derive(Debug)]
enum Failure {
    /// Try again after this long.
    Retry(String, Option<Duration>),
    /// The platform refused the call and will refuse it again ([`ChatError::Refused`]).
    Refused(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Retry(format!("database: {e}"), None)
    }
}

impl From<ChatError> for Failure {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::RateLimited(d) => Failure::Retry("rate limited".into(), Some(d)),
            ChatError::Failed(m) => Failure::Retry(m, None),
            ChatError::Refused(m) => Failure::Refused(m),
        }
    }
}

/// Attempts after which an upload into a card's thread (`thread_file`) is given up, about
/// 8 minutes with the default backoff (2 s doubling): the file stays listed on the card.
pub const UPLOAD_MAX_ATTEMPTS: i32 = 8;

impl Deliverer {
    /// Takes one due item and attempts it.
    ///
    /// Residual risk: if the process dies after a platform or SMTP server accepted the call but
    /// before the commit, the item is attempted again. Discord posts carry a nonce with
    /// `enforce_nonce`, so Discord drops the repeat; emails carry the same Message-ID, which
    /// mail clients de-duplicate; Slack posts carry their key as metadata and are looked for
    /// before the repeat (`chat::slack::once`); Slack uploads and ephemeral answers can
    /// repeat (README, "Exactly once").
    pub async fn deliver_one(&self) -> Result<Pass, sqlx::Error> {
        let mut tx = self.desk.pool().begin().await?;
        let Some(item) = store::outbox::take_due(&mut tx).await? else {
            return Ok(Pass::Idle);
        };
        self.deliver_item(tx, item).await?;
        Ok(Pass::Worked)
    }

    /// Attempts `item` (locked by `tx`, which this commits) in a span `outbox.deliver` with
    /// fields `item` (outbox row id), `ticket_id` and `kind` (the effect's kind); once
    /// committed, counts it in [`crate::metrics::DELIVERIES`] by platform (`slack`,
    /// `discord`, `console`, or `smtp` for email), kind and result (`ok`, `retry`,
    /// `given_up`).
    ///
    /// Errors: the database's (nothing is counted then).
    #[tracing::instrument(name = "outbox.deliver", skip_all, fields(
        item = item.id,
        ticket_id = item.ticket_id,
        kind = effect_kind(&item.effect),
    ))]
    async fn deliver_item(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        item: store::outbox::Item,
    ) -> Result<(), sqlx::Error> {
        let limit = Duration::from_secs(self.retry.call_timeout_secs.max(1));
        let result = match &item.effect {
            Ok(effect) => {
                tokio::time::timeout(limit, self.apply(&mut tx, item.id, item.ticket_id, effect))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failure::Retry(format!("no answer within {limit:?}"), None))
                    })
            }
            Err(raw) => {
                tracing::error!(id = item.id, payload = %raw, "unreadable outbox item; parked");
                Err(Failure::Retry(
                    format!("unreadable payload {raw}"),
                    Some(Duration::from_secs(86_400)),
                ))
            }
        };
        let is_upload = matches!(item.effect, Ok(Effect::ThreadFile { .. }));
        let is_dm = matches!(item.effect, Ok(Effect::DirectMessage { .. }));
        let result = match result {
            // Only a DM is given up at once: it is a courtesy to one agent, and the user it
            // names cannot be reached (no DMs from the bot, unknown user, missing scope). Other
            // effects keep their order on the ticket and are retried.
            Err(Failure::Refused(msg)) if !is_dm => Err(Failure::Retry(msg, None)),
            other => other,
        };
        let outcome = match result {
            Ok(()) => {
                store::outbox::mark_delivered(&mut tx, item.id).await?;
                // The attempt's mark (Slack lookups, accepted emails) goes with the delivery.
                store::outbox_tries::clear(&mut tx, item.id).await?;
                "ok"
            }
            Err(Failure::Refused(msg)) => {
                tracing::warn!(id = item.id, attempts = item.attempts + 1, error = %msg,
                    "direct message refused by the platform; given up");
                store::outbox::mark_given_up(&mut tx, item.id, &msg).await?;
                store::outbox_tries::clear(&mut tx, item.id).await?;
                "given_up"
            }
            // An upload is an extra (the card lists the file, the store keeps it): one the
            // platform keeps refusing (a missing scope, a file it will not take) must not hold
            // up the ticket's later effects on that platform, which are delivered in order.
            Err(Failure::Retry(msg, _))
                if is_upload && item.attempts + 1 >= UPLOAD_MAX_ATTEMPTS =>
            {
                tracing::warn!(id = item.id, attempts = item.attempts + 1, error = %msg,
                    "upload given up; the file stays listed on the card");
                store::outbox::mark_given_up(&mut tx, item.id, &msg).await?;
                store::outbox_tries::clear(&mut tx, item.id).await?;
                "given_up"
            }
            Err(Failure::Retry(msg, after)) => {
                let wait = after.unwrap_or_else(|| self.backoff(item.attempts));
                tracing::warn!(id = item.id, attempt = item.attempts + 1, error = %msg, retry_in = ?wait, "delivery failed");
                store::outbox::mark_failed(&mut tx, item.id, &msg, wait).await?;
                "retry"
            }
        };
        tx.commit().await?;
        metrics::counter!(crate::metrics::DELIVERIES,
            "platform" => effect_platform(&item.effect),
            "kind" => effect_kind(&item.effect),
            "result" => outcome)
        .increment(1);
        Ok(())
    }

    /// Delivers until nothing is due; returns how many items were attempted. Items that fail
    /// are rescheduled, so this ends even when a platform is down.
    pub async fn drain(&self) -> Result<usize, sqlx::Error> {
        let mut n = 0;
        while self.deliver_one().await? == Pass::Worked {
            n += 1;
        }
        Ok(n)
    }

    /// Runs forever: delivers what is due, then waits for a NOTIFY on `claimdesk_outbox` or a
    /// one-second tick.
    pub async fn run(self) {
        let mut listener = match store::outbox::listen(self.desk.pool()).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN failed; polling the outbox");
                None
            }
        };
        loop {
            match self.drain().await {
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox worker: database error"),
            }
            let tick = tokio::time::sleep(Duration::from_secs(1));
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        r = l.recv() => { if let Err(e) = r { tracing::warn!(error = %e, "outbox listener"); } }
                        _ = tick => {}
                    }
                }
                None => tick.await,
            }
        }
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
        let base = self
            .retry
            .retry_base_secs
            .max(1)
            .saturating_mul(1u64 << exp);
        let capped = base.min(self.retry.retry_max_secs.max(1));
        let jitter = rand::thread_rng().gen_range(0.0..0.25);
        Duration::from_secs_f64(capped as f64 * (1.0 + jitter))
    }

    /// The ticket, its posted card on `platform` and its number, for posting into the thread.
    async fn thread_target(
        &self,
        conn: &mut PgConnection,
        ticket_id: Option<i64>,
        platform: &str,
    ) -> Result<(i64, crate::store::chat_posts::ChatPost, String), Failure> {
        let tid = ticket_id.ok_or_else(|| {
            Failure::Retry(
                "thread post without ticket".into(),
                Some(Duration::from_secs(86_400)),
            )
        })?;
        let post = store::chat_posts::get(conn, tid, platform)
            .await?
            .ok_or_else(|| Failure::Retry("card not posted yet".into(), None))?;
        let number = store::tickets::by_id(conn, tid)
            .await?
            .map(|t| t.number)
            .unwrap_or_default();
        Ok((tid, post, number))
    }

    fn platform(&self, name: &str) -> Result<&Platform, Failure> {
        self.platforms
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                Failure::Retry(
                    format!("platform {name} is not configured"),
                    Some(Duration::from_secs(3600)),
                )
            })
    }

    /// The [`Once`] of outbox row `item_id` (key `<prefix><item_id>`) about to create a
    /// message on `p`. On a platform that needs a lookup to avoid a repeat (Slack), an
    /// attempt is first marked in `outbox_tries` on a connection of its own (committed at
    /// once, so the mark outlives a crash), and the delivery is unsure when an earlier
    /// attempt was counted (`attempts > 0`: it failed without a clear answer) or left its
    /// mark (the process died before the outbox commit). [`Deliverer::deliver_item`] clears the
    /// mark in the delivering transaction when the row is delivered or given up.
    async fn once(
        &self,
        conn: &mut PgConnection,
        p: &Platform,
        item_id: i64,
        prefix: &str,
    ) -> Result<Once, Failure> {
        let key = format!("{prefix}{item_id}");
        if !p.finds_earlier_attempts() {
            return Ok(Once::first(key));
        }
        let mut own = self.desk.pool().acquire().await?;
        let marked_before = store::outbox_tries::begin(&mut own, item_id).await?;
        drop(own);
        let (attempts, created_at) = store::outbox::attempts_and_created_at(conn, item_id)
            .await?
            .unwrap_or((0, chrono::Utc::now()));
        Ok(Once {
            key,
            unsure_since: (marked_before || attempts > 0).then_some(created_at),
        })
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        item_id: i64,
        ticket_id: Option<i64>,
        effect: &Effect,
    ) -> Result<(), Failure> {
        match effect {
            Effect::Card { platform } => {
                let p = self.platform(platform)?;
                let tid = ticket_id.ok_or_else(|| {
                    Failure::Retry(
                        "card without ticket".into(),
                        Some(Duration::from_secs(86_400)),
                    )
                })?;
                // Every card request queued so far is answered by this one edit: the card is
                // rendered from the ticket's state now, so a burst of changes becomes one call.
                let upto = store::outbox::latest_card_item(conn, tid, platform).await?;
                let Some(card) = self.desk.card_view(tid).await? else {
                    return Ok(());
                };
                match store::chat_posts::get(conn, tid, platform).await? {
                    Some(post) => p.update_card(&post, &card).await?,
                    None => {
                        let once = self.once(conn, p, item_id, "cd").await?;
                        let post = p.post_card(&card, &once).await?;
                        store::chat_posts::insert(conn, tid, &post).await?;
                        // The files of the message the card shows go into its thread; later
                        // messages bring theirs with their thread post.
                        let files = store::attachments::kept_for_first_inbound(conn, tid).await?;
                        queue_uploads(conn, tid, p, files).await?;
                    }
                }
                store::outbox::mark_cards_coalesced(conn, tid, platform, item_id, upto).await?;
                Ok(())
            }
            Effect::ThreadMessage {
                platform,
                message_id,
            } => {
                let p = self.platform(platform)?;
                let tid = ticket_id.ok_or_else(|| {
                    Failure::Retry(
                        "thread message without ticket".into(),
                        Some(Duration::from_secs(86_400)),
                    )
                })?;
                let post = store::chat_posts::get(conn, tid, platform)
                    .await?
                    .ok_or_else(|| Failure::Retry("card not posted yet".into(), None))?;
                let Some(msg) = self.desk.message(*message_id).await? else {
                    return Ok(());
                };
                let number = store::tickets::by_id(conn, tid)
                    .await?
                    .map(|t| t.number)
                    .unwrap_or_default();
                let once = self.once(conn, p, item_id, "ct").await?;
                let thread = p.post_in_thread(&post, &number, &msg, &once).await?;
                if let Some(thread) = thread {
                    store::chat_posts::set_thread(conn, tid, platform, &thread).await?;
                }
                if !msg.outbound {
                    let files = store::attachments::kept_for_message(conn, msg.id).await?;
                    queue_uploads(conn, tid, p, files).await?;
                }
                Ok(())
            }
            Effect::Email {
                message_id,
                auto_submitted,
            } => {
                let Some(msg) = self.desk.message(*message_id).await? else {
                    return Ok(());
                };
                if msg.sent_at.is_some() {
                    return Ok(());
                }
                // The process died after the server's 250 and before the commit: the server
                // has it; record the send (and its chat copy) without sending again.
                if store::outbox_tries::was_accepted(conn, item_id).await? {
                    tracing::info!(
                        id = item_id,
                        "email accepted by the server before a crash; not sent again"
                    );
                    self.desk.record_sent(conn, msg.ticket_id, msg.id).await?;
                    return Ok(());
                }
                match self.mailer.send(&msg, auto_submitted.as_deref()).await {
                    Ok(()) => {
                        // At once, outside the delivering transaction: the window in which a
                        // crash repeats the email shrinks to this one round trip.
                        match self.desk.pool().acquire().await {
                            Ok(mut own) => {
                                if let Err(e) =
                                    store::outbox_tries::accepted(&mut own, item_id).await
                                {
                                    tracing::warn!(id = item_id, error = %e, "cannot stamp the accepted email");
                                }
                            }
                            Err(e) => {
                                tracing::warn!(id = item_id, error = %e, "cannot stamp the accepted email")
                            }
                        }
                        self.desk.record_sent(conn, msg.ticket_id, msg.id).await?;
                        Ok(())
                    }
                    Err(e @ SendError::Build(_)) => Err(Failure::Retry(
                        e.to_string(),
                        Some(Duration::from_secs(86_400)),
                    )),
                    Err(e) => Err(Failure::Retry(e.to_string(), None)),
                }
            }
            Effect::SigninLink {
                to,
                name,
                link,
                minutes,
            } => {
                if link.is_empty() {
                    return Ok(());
                }
                let body = crate::desk::messages::web::signin_email(name, link, *minutes);
                let from = self.desk.from_address("");
                let subject = crate::desk::messages::web::SIGNIN_EMAIL_SUBJECT;
                match self.mailer.send_text(from, to, subject, &body).await {
                    Ok(()) => {
                        store::outbox::scrub_link(conn, item_id).await?;
                        Ok(())
                    }
                    Err(e @ SendError::Build(_)) => Err(Failure::Retry(
                        e.to_string(),
                        Some(Duration::from_secs(86_400)),
                    )),
                    Err(e) => Err(Failure::Retry(e.to_string(), None)),
                }
            }
            Effect::ThreadNote { platform, note_id } => {
                let p = self.platform(platform)?;
                let (tid, post, number) = self.thread_target(conn, ticket_id, platform).await?;
                let mut c = self.desk.pool().acquire().await?;
                let Some(note) = store::notes::by_id(&mut c, *note_id).await? else {
                    return Ok(());
                };
                let text = crate::desk::messages::note_entry(&number, &note, p.mention_style());
                let once = self.once(conn, p, item_id, "ct").await?;
                let thread = p
                    .post_text_in_thread(&post, &number, &text, &[], &once)
                    .await?;
                if let Some(thread) = thread {
                    store::chat_posts::set_thread(conn, tid, platform, &thread).await?;
                }
                Ok(())
            }
            Effect::ThreadNotice { platform, text } => {
                let p = self.platform(platform)?;
                let (tid, post, number) = self.thread_target(conn, ticket_id, platform).await?;
                let agents = self.desk.all_agents().await?;
                let n = crate::desk::messages::notice(text, &agents, p.mention_style());
                let once = self.once(conn, p, item_id, "ct").await?;
                let thread = p
                    .post_text_in_thread(&post, &number, &n.text, &n.mentions, &once)
                    .await?;
                if let Some(thread) = thread {
                    store::chat_posts::set_thread(conn, tid, platform, &thread).await?;
                }
                Ok(())
            }
            Effect::ThreadFile {
                platform,
                attachment_id,
            } => {
                let p = self.platform(platform)?;
                let (tid, post, number) = self.thread_target(conn, ticket_id, platform).await?;
                let Some((file, data)) = self.desk.attachment_file(*attachment_id).await? else {
                    return Ok(());
                };
                // The limit may have been lowered since the upload was queued.
                if u64::try_from(data.len()).map_or(true, |n| n > p.upload_max_bytes()) {
                    return Ok(());
                }
                let name = crate::chat::upload_file_name(file.name.as_deref(), file.position);
                // Only harmless kinds go into chat, with our Content-Type; the rest stays
                // listed on the card (chat::UPLOADABLE).
                let Some(content_type) = crate::chat::upload_content_type(&name) else {
                    return Ok(());
                };
                let upload = UploadFile {
                    name: &name,
                    content_type,
                    data: &data,
                };
                let key = format!("cf{item_id}");
                if let Some(thread) = p.upload_in_thread(&post, &number, &upload, &key).await? {
                    store::chat_posts::set_thread(conn, tid, platform, &thread).await?;
                }
                Ok(())
            }
            Effect::ChannelNotice { platform, text } => {
                let p = self.platform(platform)?;
                let agents = self.desk.all_agents().await?;
                let n = crate::desk::messages::notice(text, &agents, p.mention_style());
                // The notice goes where the ticket's department posts its cards.
                let department = match ticket_id {
                    Some(tid) => store::tickets::by_id(conn, tid)
                        .await?
                        .map(|t| t.department),
                    None => None,
                };
                let once = self.once(conn, p, item_id, "cx").await?;
                p.post_in_channel(&n.text, &n.mentions, department.as_deref(), &once)
                    .await?;
                Ok(())
            }
            Effect::ChannelChart {
                platform,
                channel,
                comment,
                chart,
            } => {
                let p = self.platform(platform)?;
                let data = crate::desk::chart::render_png(chart).map_err(|e| {
                    Failure::Retry(e.to_string(), Some(Duration::from_secs(86_400)))
                })?;
                let upload = UploadFile {
                    name: "claimdesk-stats.png",
                    content_type: "image/png",
                    data: &data,
                };
                p.upload_in_channel(
                    channel.as_deref(),
                    &upload,
                    comment.as_deref(),
                    &format!("cc{item_id}"),
                )
                .await?;
                Ok(())
            }
            Effect::DirectMessage {
                platform,
                user,
                text,
            } => {
                // The row id keys the message across retries (Discord nonce, Slack metadata).
                let p = self.platform(platform)?;
                let once = self.once(conn, p, item_id, "cn").await?;
                p.direct_message(user, text, &once).await?;
                Ok(())
            }
            Effect::Ephemeral {
                platform,
                channel,
                user,
                text,
            } => {
                self.platform(platform)?
                    .ephemeral(channel, user, text)
                    .await?;
                Ok(())
            }
        }
    }
}

/// The `kind` of an outbox item ([`Effect::kind`]), `unreadable` for a payload that no longer
/// parses.
fn effect_kind(effect: &Result<Effect, String>) -> &'static str {
    effect.as_ref().map_or("unreadable", Effect::kind)
}

/// The `platform` label of [`crate::metrics::DELIVERIES`]: the chat platform an effect goes
/// to (`slack`, `discord`, `console`; `other` for a name no build knows), `smtp` for email.
fn effect_platform(effect: &Result<Effect, String>) -> &'static str {
    let chat = match effect {
        Ok(Effect::Email { .. } | Effect::SigninLink { .. }) => return "smtp",
        Err(_) => return "unknown",
        Ok(
            Effect::Card { platform }
            | Effect::ThreadMessage { platform, .. }
            | Effect::ThreadNote { platform, .. }
            | Effect::ThreadNotice { platform, .. }
            | Effect::ThreadFile { platform, .. }
            | Effect::ChannelNotice { platform, .. }
            | Effect::ChannelChart { platform, .. }
            | Effect::DirectMessage { platform, .. }
            | Effect::Ephemeral { platform, .. },
        ) => platform.as_str(),
    };
    match chat {
        "slack" => "slack",
        "discord" => "discord",
        "console" => "console",
        _ => "other",
    }
}

/// Queues an upload into the card's thread on `platform` for each of `files`
/// (`(attachments.id, size in bytes)`, kept attachments of one message) within the
/// platform's upload limit (larger ones are only listed on the card), in the caller's
/// transaction: they are queued exactly when the post that shows the message is recorded as
/// delivered.
async fn queue_uploads(
    conn: &mut PgConnection,
    ticket_id: i64,
    platform: &Platform,
    files: Vec<(i64, i64)>,
) -> Result<(), sqlx::Error> {
    let max = platform.upload_max_bytes();
    if max == 0 {
        return Ok(());
    }
    for (id, size) in files {
        if u64::try_from(size).is_ok_and(|s| s <= max) {
            let effect = Effect::ThreadFile {
                platform: platform.name().to_string(),
                attachment_id: id,
            };
            store::outbox::enqueue(conn, Some(ticket_id), &effect).await?;
        }
    }
    Ok(())
}

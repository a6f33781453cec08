//! Gateway mode (no public URL needed): a serenity client holds one gateway connection and
//! every `INTERACTION_CREATE` goes through [`super::routes::handle`], answered with
//! [`super::routes::answer_by_callback`]. The gateway URL comes from `GET /gateway`, so with an API proxy
//! set (tests) the connection goes to the proxy's gateway too.
//! <https://discord.com/developers/docs/events/gateway>

use secrecy::{ExposeSecret, SecretString};
use serenity::all::{Context, EventHandler, GatewayIntents, Ready};
use serenity::http::HttpBuilder;

use crate::chat::discord::DiscordChat;
use crate::desk::Desk;

use super::routes::{answer_by_callback, first_time, handle, Interaction};

struct Handler {
    desk: Desk,
    client: DiscordChat,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "Discord gateway ready");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: serenity::all::Interaction) {
        // serenity's model → the fields claimdesk reads, exactly as over HTTP. serenity
        // keeps the interaction type in the enum variant, not in the serialised fields.
        let kind = u8::from(interaction.kind());
        let parsed = serde_json::to_value(&interaction).and_then(|mut v| {
            v["type"] = kind.into();
            serde_json::from_value::<Interaction>(v)
        });
        let i = match parsed {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable Discord interaction (gateway)");
                return;
            }
        };
        let (Some(id), Some(app), Some(token)) =
            (i.id.clone(), i.application_id.clone(), i.token.clone())
        else {
            tracing::warn!("gateway interaction without id, application_id or token");
            return;
        };
        // The gateway does not replay, but a resumed session could redeliver: each id is
        // handled once, as over HTTP.
        match first_time(&self.desk, Some(&id)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %id, "Discord interaction delivered twice; ignored");
                return;
            }
            Err(why) => {
                tracing::error!(reason = %why, "cannot record a Discord interaction");
                return;
            }
        }
        match handle(&self.desk, i).await {
            Ok(outcome) => {
                if let Err(e) =
                    answer_by_callback(&self.desk, &self.client, &id, &app, &token, outcome).await
                {
                    tracing::error!(error = %e, "answering a Discord interaction");
                }
            }
            Err(e) => tracing::warn!(reason = e.0, "unanswerable Discord interaction"),
        }
    }
}

/// Connects to the gateway with bot token `token` and serves interactions until the
/// connection ends for good (serenity reconnects and resumes on its own).
///
/// Errors: the client cannot be built, or every shard stopped (bad token, intents).
pub async fn run(
    desk: Desk,
    client: DiscordChat,
    token: SecretString,
    proxy: Option<String>,
) -> anyhow::Result<()> {
    let mut b = HttpBuilder::new(token.expose_secret());
    if let Some(p) = proxy {
        // serenity's ratelimiter would ignore the proxy and call discord.com.
        b = b.proxy(p).ratelimiter_disabled(true);
    }
    // Interactions arrive whatever the intents; GUILDS is the smallest useful set.
    let mut c = serenity::all::ClientBuilder::new_with_http(b.build(), GatewayIntents::GUILDS)
        .event_handler(Handler { desk, client })
        .await?;
    // When this future is dropped (the replica lost lease `discord:gateway`), the shard
    // runners serenity spawned must close their connection too.
    let _shutdown = ShutdownOnDrop(c.shard_manager.clone());
    c.start().await?;
    Ok(())
}

/// Shuts serenity's shards down when dropped (their tasks outlive the client's future).
struct ShutdownOnDrop(std::sync::Arc<serenity::all::ShardManager>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        let manager = self.0.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { manager.shutdown_all().await });
        }
    }
}

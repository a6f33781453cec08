//! Slack Socket Mode (<https://api.slack.com/apis/socket-mode>): claimdesk calls
//! `apps.connections.open` with the app-level token, connects to the WebSocket URL it gets,
//! and receives `slash_commands`, `interactive` and `events_api` envelopes there instead of
//! HTTP requests — no public URL needed. slack-morphism's `SlackClientSocketModeListener`
//! keeps the connection (reconnects, pings) and sends each envelope's acknowledgement
//! (`{"envelope_id": …, "payload": …}`) when our callback returns.
//!
//! Envelopes from another workspace or app than `slack.team_id` / `slack.api_app_id` are
//! acknowledged and dropped.
//!
//! The callbacks hand the payload to the same handlers as HTTP (`super::routes::on_command`,
//! `on_interaction`, `on_event`), which answer within `super::routes::ACK_BUDGET`.

use std::sync::Arc;

use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;

use crate::chat::slack::SlackChat;

use super::routes::{on_command, on_event, on_interaction, payload_origin, SlashCommand};
use crate::web::WebState;

type Connector = SlackClientHyperHttpsConnector;
type Listener = SlackClientSocketModeListener<Connector>;

/// A running Socket Mode connection; dropping it closes the WebSocket.
pub struct SocketMode {
    listener: Arc<Listener>,
}

impl Drop for SocketMode {
    fn drop(&mut self) {
        let listener = self.listener.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { listener.shutdown().await });
        }
    }
}

/// Opens Socket Mode for `state` through `chat`'s Web API base with app-level token
/// `app_token` (`xapp-…`): one connection, reconnecting after 5 s when it drops.
///
/// Errors: the token could not be registered (slack-morphism's client error, as text). A
/// failing `apps.connections.open` is retried by the listener and logged, not returned.
pub async fn start(
    chat: &SlackChat,
    app_token: &SecretString,
    state: WebState,
) -> Result<SocketMode, String> {
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(chat.client())
            .with_error_handler(on_error)
            .with_user_state(state),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(command_cb)
        .with_interaction_events(interaction_cb)
        .with_push_events(push_cb);
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(1)
        .with_reconnect_timeout_in_seconds(5);
    let listener = Arc::new(SlackClientSocketModeListener::new(&config, env, callbacks));
    let token = SlackApiToken::new(SlackApiTokenValue::new(
        app_token.expose_secret().to_string(),
    ));
    listener
        .listen_for(&token)
        .await
        .map_err(|e| format!("Socket Mode: {e}"))?;
    listener.start().await;
    Ok(SocketMode { listener })
}

/// Logs a listener error and acknowledges anyway: an envelope we cannot handle is not
/// better on redelivery.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _state: SlackClientEventsUserState,
) -> StatusCode {
    tracing::warn!(error = %err, "Slack Socket Mode error");
    StatusCode::OK
}

async fn web_state(
    st: &SlackClientEventsUserState,
) -> Result<WebState, Box<dyn std::error::Error + Send + Sync>> {
    st.read()
        .await
        .get_user_state::<WebState>()
        .cloned()
        .ok_or_else(|| "Socket Mode listener has no state".into())
}

/// [`super::routes::Origin::check`] with the configured workspace and app (none when Slack
/// inbound is off).
fn origin_check(state: &WebState, team: Option<&str>, app: Option<&str>) -> Result<(), String> {
    match state.slack.as_ref() {
        Some(inbound) => inbound.origin().check(team, app),
        None => Ok(()),
    }
}

async fn command_cb(
    ev: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    st: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let state = web_state(&st).await?;
    // slack-morphism's model has no api_app_id for commands; the connection is the app's own.
    if let Err(why) = origin_check(&state, Some(ev.team_id.0.as_str()), None) {
        tracing::warn!(reason = %why, "rejected Slack Socket Mode command");
        return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
    }
    let c = SlashCommand {
        command: ev.command.to_string(),
        text: ev.text.unwrap_or_default(),
        user_id: ev.user_id.to_string(),
        channel_id: ev.channel_id.to_string(),
        trigger_id: Some(ev.trigger_id.to_string()),
    };
    let content = match on_command(&state, c).await {
        Some(text) => SlackMessageContent::new().with_text(text),
        None => SlackMessageContent::new(),
    };
    Ok(SlackCommandEventResponse::new(content)
        .with_response_type(SlackMessageResponseType::Ephemeral))
}

async fn interaction_cb(
    ev: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    st: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let state = web_state(&st).await?;
    let payload = serde_json::to_value(&ev)?;
    let team = payload_origin(&payload).0;
    let app = payload.get("api_app_id").and_then(|a| a.as_str());
    if let Err(why) = origin_check(&state, Some(team), app) {
        tracing::warn!(reason = %why, "rejected Slack Socket Mode interaction");
        return Ok(SlackInteractionResponse::Empty);
    }
    Ok(match on_interaction(&state, payload).await {
        Some(answer) => serde_json::from_value::<SlackViewSubmissionResponse>(answer)?.into(),
        None => SlackInteractionResponse::Empty,
    })
}

async fn push_cb(
    ev: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    st: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let state = web_state(&st).await?;
    if let Err(why) = origin_check(
        &state,
        Some(ev.team_id.0.as_str()),
        Some(ev.api_app_id.0.as_str()),
    ) {
        tracing::warn!(reason = %why, "rejected Slack Socket Mode event");
        return Ok(());
    }
    // Socket Mode never carries url_verification; events are acknowledged and ignored.
    let _ = on_event(&serde_json::to_value(&ev)?);
    Ok(())
}

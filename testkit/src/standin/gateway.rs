//! The Discord gateway stand-in: a loopback WebSocket speaking as much of the gateway as a bot
//! needs, every payload first read with serenity's own models.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::discord::discord_bot_user;
use super::DISCORD_GUILD_ID;

// ====================================================================================
// Discord gateway stand-in
// ====================================================================================

/// A loopback WebSocket server speaking as much of Discord's gateway (v10, JSON, no
/// compression) as a bot needs: HELLO (op 10) on connect, IDENTIFY (op 2) checked (token,
/// intents, properties), READY (op 0) in answer, heartbeats (op 1) acknowledged (op 11),
/// then whatever [`GatewayStandin::dispatch`] is given as op 0 events with increasing `s`.
/// Every payload it sends is first parsed with serenity's own models, so a payload serenity
/// would drop fails the test here with the reason.
/// <https://discord.com/developers/docs/events/gateway#connection-lifecycle>
pub struct GatewayStandin {
    /// `ws://127.0.0.1:PORT` — what `GET /gateway` should answer.
    pub url: String,
    events: tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    identified: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<()>,
}

impl GatewayStandin {
    pub async fn start() -> anyhow::Result<GatewayStandin> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(String, Value)>();
        let identified = Arc::new(Mutex::new(Vec::new()));
        let ids = identified.clone();
        let task = tokio::spawn(async move {
            // One bot connection at a time; events wait for it.
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            while let Ok((tcp, _)) = listener.accept().await {
                let rx = rx.clone();
                let ids = ids.clone();
                tokio::spawn(async move {
                    if let Err(e) = gateway_session(tcp, rx, ids).await {
                        eprintln!("[gateway stand-in] session ended: {e}");
                    }
                });
            }
        });
        Ok(GatewayStandin {
            url,
            events: tx,
            identified,
            task,
        })
    }

    /// Sends event `name` (`INTERACTION_CREATE`) with payload `d` to the connected bot.
    pub fn dispatch(&self, name: &str, d: Value) {
        let _ = self.events.send((name.to_string(), d));
    }

    /// The IDENTIFY payloads (`d`) received so far.
    pub fn identifies(&self) -> Vec<Value> {
        self.identified.lock().unwrap().clone()
    }
}

impl Drop for GatewayStandin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// READY as Discord sends it (`d`).
fn gateway_ready() -> Value {
    let mut user = discord_bot_user();
    user["mfa_enabled"] = json!(false);
    user["verified"] = json!(true);
    user["email"] = Value::Null;
    json!({
        "v": 10, "user": user, "guilds": [{"id": DISCORD_GUILD_ID, "unavailable": true}],
        "session_id": "standin-session-1", "resume_gateway_url": "ws://127.0.0.1:1",
        "shard": [0, 1], "application": {"id": "400000000000000001", "flags": 0},
        "private_channels": [], "relationships": [], "presences": [], "geo_ordered_rtc_regions": [],
        "guild_join_requests": [], "user_settings": {}, "_trace": ["standin"]
    })
}

/// Checks that serenity can read a gateway event, as the bot under test will.
fn check_with_serenity(name: &str, d: &Value) {
    use serenity::all::{Interaction, Ready};
    let r = match name {
        "READY" => serde_json::from_value::<Ready>(d.clone()).map(|_| ()),
        "INTERACTION_CREATE" => serde_json::from_value::<Interaction>(d.clone()).map(|_| ()),
        _ => Ok(()),
    };
    if let Err(e) = r {
        panic!("gateway stand-in: serenity cannot read {name}: {e}\n{d}");
    }
}

async fn gateway_session(
    tcp: tokio::net::TcpStream,
    events: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, Value)>>>,
    identified: Arc<Mutex<Vec<Value>>>,
) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null}),
    ))
    .await?;
    let mut seq: u64 = 0;
    let mut ready = false;
    let mut events = events.lock().await;
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let text = match msg? {
                    Message::Text(t) => t,
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                let v: Value = serde_json::from_str(text.as_str())?;
                match v["op"].as_u64() {
                    Some(1) => ws.send(send(json!({"op": 11}))).await?,
                    Some(2) => {
                        let d = &v["d"];
                        anyhow::ensure!(
                            d["token"].as_str().is_some_and(|t| !t.is_empty())
                                && d["intents"].is_u64()
                                && d["properties"]["os"].is_string(),
                            "bad IDENTIFY: {v}"
                        );
                        identified.lock().unwrap().push(d.clone());
                        seq += 1;
                        let r = gateway_ready();
                        check_with_serenity("READY", &r);
                        ws.send(send(json!({"op": 0, "t": "READY", "s": seq, "d": r}))).await?;
                        ready = true;
                    }
                    other => anyhow::bail!("unexpected gateway op {other:?}: {v}"),
                }
            }
            ev = events.recv(), if ready => {
                let Some((name, d)) = ev else { return Ok(()) };
                check_with_serenity(&name, &d);
                seq += 1;
                ws.send(send(json!({"op": 0, "t": name, "s": seq, "d": d}))).await?;
            }
        }
    }
}

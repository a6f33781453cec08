//! One claimdesk per test: a fresh database, its own Dovecot, SMTP sink and platform
//! stand-ins, and settings pointing at them ([`env`]); or, for a test that needs no mail
//! server, the database and stand-ins only ([`db_only`]).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use claimdesk::app::{App, Secrets};
use claimdesk::config::Settings;
use secrecy::SecretString;

use super::services::{Dovecot, SmtpSink, TestDb};
use super::signing::{slack_signature, DiscordSigner};
use super::standin::{DiscordStandin, SlackStandin};
use claimdesk_testkit::tripwire::Tripwire;

/// Slack signing secret used by every test.
pub const SLACK_SECRET: &str = "test-slack-signing-secret";
/// Secret signing the customers' status links in every test (`web.link_secret_env`).
pub const LINK_SECRET: &str = "test-link-secret-0123456789abcdef";
/// Slack channel the cards go to.
pub const SLACK_CHANNEL: &str = "C0TESTDESK";
/// Discord channel the cards go to.
pub const DISCORD_CHANNEL: &str = "300000000000000001";
/// The support address.
pub const SUPPORT: &str = "support@claimdesk.test";
/// Ana (admin): Slack and Discord ids.
pub const ANA_SLACK: &str = "U000000ANA";
pub const ANA_DISCORD: &str = "200000000000000001";
/// Ben (member).
pub const BEN_SLACK: &str = "U000000BEN";
pub const BEN_DISCORD: &str = "200000000000000002";
/// Cy (member).
pub const CY_SLACK: &str = "U0000000CY";
pub const CY_DISCORD: &str = "200000000000000003";

/// Which platforms a test wants.
#[derive(Debug, Clone, Copy)]
pub struct Platforms {
    pub slack: bool,
    pub discord: bool,
}

/// Everything one test runs against.
pub struct TestEnv {
    pub db: TestDb,
    pub dovecot: Service<Dovecot>,
    pub smtp: Service<SmtpSink>,
    pub slack: Option<SlackStandin>,
    pub discord: Option<DiscordStandin>,
    pub discord_signer: DiscordSigner,
    pub settings: Settings,
    pub secrets: Secrets,
}

pub fn repo_path(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A mail server of a [`TestEnv`]: started by [`env`], or not started by [`db_only`], whose
/// settings then point at a [`Tripwire`] that refuses and counts every connection.
///
/// Reads as the server itself (`env.dovecot.append(…)`, `&env.smtp`); doing so on one that was
/// not started panics, naming the fix. A test that connected to a tripwire (intake, an email
/// delivered) fails when its `TestEnv` is dropped.
pub enum Service<T> {
    Started(T),
    NotStarted(NotStarted),
}

/// Where a mail server would be in a [`db_only`] environment.
pub struct NotStarted {
    what: &'static str,
    tripwire: Tripwire,
}

impl<T> Service<T> {
    /// The server, if this environment started it.
    pub fn started(&self) -> Option<&T> {
        match self {
            Service::Started(t) => Some(t),
            Service::NotStarted(_) => None,
        }
    }
}

impl<T> std::ops::Deref for Service<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Service::Started(t) => t,
            Service::NotStarted(n) => panic!(
                "this test was set up with harness::db_only(), which starts no {}: use harness::env()",
                n.what
            ),
        }
    }
}

impl<T> std::ops::DerefMut for Service<T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            Service::Started(t) => t,
            Service::NotStarted(n) => panic!(
                "this test was set up with harness::db_only(), which starts no {}: use harness::env()",
                n.what
            ),
        }
    }
}

impl NotStarted {
    fn new(what: &'static str, greeting: &'static str) -> NotStarted {
        NotStarted {
            what,
            tripwire: Tripwire::start(greeting).expect("tripwire"),
        }
    }
}

impl Drop for NotStarted {
    fn drop(&mut self) {
        let hits = self.tripwire.hits();
        if hits > 0 && !std::thread::panicking() {
            panic!(
                "this test was set up with harness::db_only() but connected {hits} time(s) to \
                 its {}, which was not started: use harness::env()",
                self.what
            );
        }
    }
}

/// Starts the services (a database, Dovecot, an SMTP sink and the platform stand-ins `p`
/// asks for) and builds settings for them (from `config/default.toml`).
pub async fn env(p: Platforms) -> TestEnv {
    build(p, true).await
}

/// As [`env`] but for a test that needs no mail server: starts the database and the stand-ins
/// only. The mailbox and SMTP settings point at tripwires (see [`Service`]), so intake or an
/// email delivery fails the test instead of passing unnoticed.
pub async fn db_only(p: Platforms) -> TestEnv {
    build(p, false).await
}

async fn build(p: Platforms, mail: bool) -> TestEnv {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new().await.expect("test database");
    let (dovecot, smtp) = if mail {
        (
            Service::Started(Dovecot::start().await.expect("dovecot")),
            Service::Started(SmtpSink::start().await.expect("smtp sink")),
        )
    } else {
        (
            Service::NotStarted(NotStarted::new(
                "Dovecot",
                "* BYE no IMAP server in this test (harness::db_only)\r\n",
            )),
            Service::NotStarted(NotStarted::new(
                "SMTP sink",
                "554 no SMTP server in this test (harness::db_only)\r\n",
            )),
        )
    };
    let (imap_port, imap_user, imap_password) = match &dovecot {
        Service::Started(d) => (d.port, d.user.clone(), d.password.clone()),
        Service::NotStarted(n) => (n.tripwire.port, "support".into(), "unused".into()),
    };
    let smtp_port = match &smtp {
        Service::Started(s) => s.port,
        Service::NotStarted(n) => n.tripwire.port,
    };
    let slack = if p.slack {
        Some(SlackStandin::start().await.expect("slack stand-in"))
    } else {
        None
    };
    let discord = if p.discord {
        Some(DiscordStandin::start().await.expect("discord stand-in"))
    } else {
        None
    };
    let discord_signer = DiscordSigner::generate();

    let mut settings =
        Settings::load(&repo_path("config/default.toml")).expect("default settings load");
    // The app connects as a role that owns nothing; the admin role migrates (store::open).
    settings.database.url = db.app_url.clone();
    settings.database.migrate_url = Some(db.url.clone());
    settings.database.max_connections = 8;
    settings.web.bind = "127.0.0.1:0".into();
    settings.intake.poll_interval_secs = 1;
    settings.outbox.retry_base_secs = 1;
    settings.outbox.retry_max_secs = 2;
    let mb = &mut settings.mailboxes[0];
    mb.address = SUPPORT.into();
    mb.host = "127.0.0.1".into();
    mb.port = imap_port;
    mb.username = imap_user;
    // Acknowledgement emails are on by default in config/default.toml; tests that count mail
    // or messages expect only what they send themselves, so they are off unless a test (see
    // tests/noise.rs) turns them on.
    mb.acknowledge = false;
    settings.smtp.host = "127.0.0.1".into();
    settings.smtp.port = smtp_port;
    if let Some(s) = settings.slack.as_mut() {
        s.channel = SLACK_CHANNEL.into();
        if let Some(st) = &slack {
            s.api_url = st.api_url.clone();
        }
    }
    if let Some(d) = settings.discord.as_mut() {
        d.channel_id = DISCORD_CHANNEL.into();
        if let Some(st) = &discord {
            d.api_proxy = Some(st.proxy_url.clone());
        }
    }
    settings.agents = vec![
        agent("ana", "admin", ANA_SLACK, ANA_DISCORD),
        agent("ben", "member", BEN_SLACK, BEN_DISCORD),
        agent("cy", "member", CY_SLACK, CY_DISCORD),
    ];
    settings.console.agent = Some("ana".into());
    settings.validate().expect("test settings valid");

    let mut imap_passwords = HashMap::new();
    imap_passwords.insert(
        settings.mailboxes[0].name.clone(),
        SecretString::from(imap_password),
    );
    let secrets = Secrets {
        imap_passwords,
        smtp_password: None,
        slack_bot_token: p.slack.then(|| SecretString::from("xoxb-test-token")),
        slack_signing_secret: p.slack.then(|| SecretString::from(SLACK_SECRET)),
        slack_app_token: None,
        discord_bot_token: p.discord.then(|| SecretString::from("discord-test-token")),
        discord_public_key: p
            .discord
            .then(|| SecretString::from(discord_signer.public_key_hex())),
        admin_token: None,
        link_secret: Some(SecretString::from(LINK_SECRET)),
    };
    TestEnv {
        db,
        dovecot,
        smtp,
        slack,
        discord,
        discord_signer,
        settings,
        secrets,
    }
}

fn agent(handle: &str, role: &str, slack: &str, discord: &str) -> claimdesk::config::AgentSettings {
    claimdesk::config::AgentSettings {
        handle: handle.into(),
        name: handle.to_uppercase(),
        email: format!("{handle}@claimdesk.test"),
        role: role.parse().expect("role"),
        slack_user_id: Some(slack.into()),
        discord_user_id: Some(discord.into()),
        departments: vec![],
        capacity: None,
    }
}

impl TestEnv {
    pub async fn app(&self) -> App {
        App::build(self.settings.clone(), self.secrets.clone())
            .await
            .expect("app builds")
    }

    /// Writes the settings as a TOML file the binary can read (secrets stay in the env).
    pub fn write_config(&self, dir: &Path) -> std::path::PathBuf {
        let s = &self.settings;
        let mb = &s.mailboxes[0];
        let mut t = format!(
            "[database]\nurl = \"{}\"\n{}\n[desk]\nticket_prefix = \"TICK\"\nmessage_id_domain = \"claimdesk.test\"\n\n\
             [intake]\npoll_interval_secs = 1\n\n\
             [[mailboxes]]\nname = \"{}\"\naddress = \"{}\"\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_env = \"TEST_IMAP_PASSWORD\"\nacknowledge = {}\n\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\n[web]\nbind = \"127.0.0.1:0\"\n\n[outbox]\nretry_base_secs = 1\nretry_max_secs = 1\n\n",
            s.database.url,
            s.database
                .migrate_url
                .as_ref()
                .map(|m| format!("migrate_url = \"{m}\"\n"))
                .unwrap_or_default(),
            mb.name,
            mb.address, mb.port, mb.username, mb.acknowledge, s.smtp.port
        );
        if let Some(st) = &self.slack {
            t.push_str(&format!(
                "[slack]\nchannel = \"{SLACK_CHANNEL}\"\napi_url = \"{}\"\nbot_token_env = \"TEST_SLACK_TOKEN\"\nsigning_secret_env = \"TEST_SLACK_SECRET\"\n\n",
                st.api_url
            ));
        }
        for a in &s.agents {
            t.push_str(&format!(
                "[[agents]]\nhandle = \"{}\"\nname = \"{}\"\nemail = \"{}\"\nrole = \"{}\"\nslack_user_id = \"{}\"\ndiscord_user_id = \"{}\"\n\n",
                a.handle,
                a.name,
                a.email,
                a.role,
                a.slack_user_id.as_deref().unwrap_or(""),
                a.discord_user_id.as_deref().unwrap_or("")
            ));
        }
        let path = dir.join("claimdesk.toml");
        std::fs::write(&path, t).expect("write config");
        path
    }
}

/// Posts a Slack-signed form body to `path` on the app at `addr`; `ts_offset` shifts the
/// signed timestamp (negative = in the past).
pub async fn slack_post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &str,
    secret: &str,
    ts_offset: i64,
) -> (u16, String) {
    signed_slack_post(
        addr,
        path,
        "application/x-www-form-urlencoded",
        body,
        secret,
        ts_offset,
    )
    .await
}

/// POSTs `body` as `content_type`, signed with Slack's v0 HMAC at now + `ts_offset` seconds;
/// returns the status and the response text.
async fn signed_slack_post(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: &str,
    secret: &str,
    ts_offset: i64,
) -> (u16, String) {
    let ts = (chrono::Utc::now().timestamp() + ts_offset).to_string();
    let sig = slack_signature(secret, &ts, body);
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("slack post reaches the app");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// Posts a Slack-signed JSON body (Events API) to `path`.
pub async fn slack_post_json(
    addr: std::net::SocketAddr,
    path: &str,
    body: &str,
    secret: &str,
) -> (u16, String) {
    signed_slack_post(addr, path, "application/json", body, secret, 0).await
}

/// A slash command body as Slack sends it (form-encoded).
pub fn slash_command(command: &str, text: &str, user: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "legacy-verification-token")
        .append_pair("team_id", "T0TEST")
        .append_pair("team_domain", "claimdesk-test")
        .append_pair("channel_id", SLACK_CHANNEL)
        .append_pair("channel_name", "support")
        .append_pair("user_id", user)
        .append_pair("user_name", "someone")
        .append_pair("command", command)
        .append_pair("text", text)
        .append_pair(
            "response_url",
            "https://hooks.slack.com/commands/T0TEST/1/x",
        )
        .append_pair("trigger_id", "1.2.3")
        .finish()
}

/// A `block_actions` interaction body: Bolt's real test body with our user, channel and
/// button swapped in, form-encoded as `payload=`.
pub fn block_action(user: &str, action_id: &str, value: &str) -> String {
    let path = repo_path("../shared/specs/slack/bolt-bodies/test_block_actions__body.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("bolt body"))
            .expect("bolt body json");
    v["user"]["id"] = user.into();
    v["channel"]["id"] = SLACK_CHANNEL.into();
    v["container"]["channel_id"] = SLACK_CHANNEL.into();
    v["actions"][0]["action_id"] = action_id.into();
    v["actions"][0]["value"] = value.into();
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &v.to_string())
        .finish()
}

/// Posts a Discord-signed interaction to the app; returns status and JSON body. Like
/// Discord, every call is a new interaction: its `id` is replaced by a fresh snowflake (the
/// app refuses an id it has handled). To replay a request, use [`discord_post_signed`].
pub async fn discord_post(
    addr: std::net::SocketAddr,
    signer: &DiscordSigner,
    body: &serde_json::Value,
    tamper: bool,
) -> (u16, serde_json::Value) {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "id".into(),
            ((rand::random::<u64>() >> 2) + 1).to_string().into(),
        );
    }
    let text = body.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    discord_post_signed(addr, signer, &text, &ts, tamper).await
}

/// Posts `text` as is, signed by `signer` with timestamp `ts` (Unix seconds as text);
/// `tamper` changes the body after signing. Returns status and JSON body.
pub async fn discord_post_signed(
    addr: std::net::SocketAddr,
    signer: &DiscordSigner,
    text: &str,
    ts: &str,
    tamper: bool,
) -> (u16, serde_json::Value) {
    let sig = signer.sign(ts, text);
    let sent = if tamper {
        format!("{text} ")
    } else {
        text.to_string()
    };
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", sig)
        .header("x-signature-timestamp", ts)
        .body(sent)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("discord post reaches the app");
    let status = r.status().as_u16();
    let json = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// A component (button) interaction: discord-interactions-js's body with a guild member added.
pub fn discord_button(user: &str, custom_id: &str) -> serde_json::Value {
    let mut v = discord_body("messageComponentRequestBody.json");
    v["data"]["custom_id"] = custom_id.into();
    v["member"] = serde_json::json!({"user": {"id": user, "username": "someone", "discriminator": "0", "avatar": null}, "roles": []});
    v["channel_id"] = DISCORD_CHANNEL.into();
    v
}

/// An application command interaction with string options.
pub fn discord_command(user: &str, name: &str, options: &[(&str, &str)]) -> serde_json::Value {
    let mut v = discord_body("applicationCommandRequestBody.json");
    v["data"]["name"] = name.into();
    v["data"]["type"] = 1.into();
    v["data"]["options"] = options
        .iter()
        .map(|(n, val)| serde_json::json!({"name": n, "type": 3, "value": val}))
        .collect();
    v["member"] = serde_json::json!({"user": {"id": user, "username": "someone", "discriminator": "0", "avatar": null}, "roles": []});
    v["channel_id"] = DISCORD_CHANNEL.into();
    v
}

fn discord_body(name: &str) -> serde_json::Value {
    let path = repo_path(&format!(
        "../shared/specs/discord/interaction-bodies/{name}"
    ));
    serde_json::from_str(&std::fs::read_to_string(path).expect("discord body"))
        .expect("discord body json")
}

/// A customer email written for these tests.
pub fn customer_email(
    message_id: &str,
    subject: &str,
    body: &str,
    in_reply_to: Option<&str>,
) -> Vec<u8> {
    let mut h = format!(
        "From: Dana Customer <dana@customer.example>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Date: Sun, 22 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(parent) = in_reply_to {
        h.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    format!("{h}\r\n{body}\r\n").into_bytes()
}

/// Ingests one customer email (as if fetched at `uid` of mailbox `support`) straight into the
/// desk and returns the number of the ticket it opened.
pub async fn open_ticket(
    app: &App,
    uid: u32,
    message_id: &str,
    subject: &str,
    body: &str,
) -> String {
    let raw = customer_email(message_id, subject, body, None);
    let src = claimdesk::desk::Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    };
    match app.desk.ingest(src, &raw).await.expect("ingest") {
        claimdesk::desk::Ingested::Created(number) => number,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

/// The configured agent `handle`, acting through `surface`.
pub async fn actor(
    app: &App,
    handle: &str,
    surface: claimdesk::desk::Surface,
) -> claimdesk::desk::Actor {
    let mut conn = app.desk.pool().acquire().await.expect("conn");
    let agent = claimdesk::store::agents::find(
        &mut conn,
        claimdesk::store::agents::Identity::Handle(handle),
    )
    .await
    .expect("query")
    .expect("agent exists");
    claimdesk::desk::Actor { agent, surface }
}

/// Polls `f` until it returns `Some`, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A modal submit interaction: the component body turned into type 5 with the text input
/// `text` holding `value`, as Discord sends it.
pub fn discord_modal_submit(user: &str, custom_id: &str, value: &str) -> serde_json::Value {
    let mut v = discord_button(user, custom_id);
    v["type"] = 5.into();
    v["data"] = serde_json::json!({
        "custom_id": custom_id,
        "components": [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": value}]}]
    });
    v
}

/// An autocomplete interaction for `/command`, with `option` focused and holding `typed`.
pub fn discord_autocomplete(
    user: &str,
    command: &str,
    option: &str,
    typed: &str,
) -> serde_json::Value {
    let mut v = discord_body("autocompleteRequestBody.json");
    v["data"]["name"] = command.into();
    v["data"]["options"] =
        serde_json::json!([{"type": 3, "name": option, "value": typed, "focused": true}]);
    v["member"] = serde_json::json!({"user": {"id": user, "username": "someone", "discriminator": "0", "avatar": null}, "roles": []});
    v["application_id"] = "400000000000000001".into();
    v
}

/// Switches the test's Slack to Socket Mode with an app-level token (before `app()`).
pub fn use_slack_socket_mode(env: &mut TestEnv) {
    if let Some(s) = env.settings.slack.as_mut() {
        s.mode = claimdesk::config::SlackMode::Socket;
    }
    env.secrets.slack_app_token = Some(SecretString::from("xapp-1-A0STANDIN1-1-test-app-token"));
}

/// Reads one of Bolt's real request bodies from `shared/specs/slack/bolt-bodies/`.
pub fn bolt_body(name: &str) -> serde_json::Value {
    let path = repo_path(&format!("../shared/specs/slack/bolt-bodies/{name}"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("bolt body"))
        .expect("bolt body json")
}

/// A `block_actions` payload (Bolt's real body, our user, channel, button and `trigger_id`).
pub fn block_action_payload(
    user: &str,
    action_id: &str,
    value: &str,
    trigger_id: &str,
) -> serde_json::Value {
    let mut v = bolt_body("test_block_actions__body.json");
    v["user"]["id"] = user.into();
    v["channel"]["id"] = SLACK_CHANNEL.into();
    v["container"]["channel_id"] = SLACK_CHANNEL.into();
    v["actions"][0]["action_id"] = action_id.into();
    v["actions"][0]["value"] = value.into();
    v["trigger_id"] = trigger_id.into();
    v
}

/// Form-encodes an interaction payload as Slack POSTs it (`payload=<JSON>`).
pub fn interaction_form(payload: &serde_json::Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// The `view_submission` Slack sends when `user` submits `view` (as the app opened it with
/// `views.open`) with `text` typed into its input `block_id`/`action_id`: Bolt's real body
/// with the view's callback_id, private_metadata and the typed state swapped in.
pub fn view_submission_payload(
    user: &str,
    view: &serde_json::Value,
    block_id: &str,
    action_id: &str,
    text: &str,
) -> serde_json::Value {
    let mut v = bolt_body("test_view_submission__body.json");
    v["user"]["id"] = user.into();
    v["view"]["callback_id"] = view["callback_id"].clone();
    v["view"]["private_metadata"] = view["private_metadata"].clone();
    v["view"]["blocks"] = view["blocks"].clone();
    v["view"]["title"] = view["title"].clone();
    v["view"]["state"] = serde_json::json!({"values": {block_id: {action_id: {"type": "plain_text_input", "value": text}}}});
    v
}

/// What [`count`] can run a query on: an app's pool, or a pool.
pub trait HasPool {
    /// The connection pool to query.
    fn pg_pool(&self) -> &sqlx::PgPool;
}

impl HasPool for App {
    fn pg_pool(&self) -> &sqlx::PgPool {
        self.desk.pool()
    }
}

impl HasPool for sqlx::PgPool {
    fn pg_pool(&self) -> &sqlx::PgPool {
        self
    }
}

/// The one number a `SELECT count(*) …` (or any one-`bigint` query) returns; panics with the
/// query and the error when it fails.
pub async fn count(db: &impl HasPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(db.pg_pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

/// Where a test's email came from: `uid` of mailbox `support` (UIDVALIDITY 1).
pub fn src(uid: u32) -> claimdesk::desk::Source<'static> {
    claimdesk::desk::Source {
        mailbox: "support",
        uidvalidity: 1,
        uid,
    }
}

/// The value of header `name` (case-insensitive) in the head of the raw message `raw`,
/// unfolded and trimmed.
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_string())
}

/// The application ID the Discord tests register and sign interactions for.
pub const DISCORD_APP_ID: &str = "400000000000000001";

/// An interaction from `../shared/specs/discord/interaction-bodies/{file}` completed with the
/// fields the gateway carries (application, channel, guild member `user`, locale,
/// entitlements …); `id` also names its token, `token-{id}`.
pub fn gateway_interaction(file: &str, id: &str, user: &str) -> serde_json::Value {
    use serde_json::json;
    let path = repo_path(&format!(
        "../shared/specs/discord/interaction-bodies/{file}"
    ));
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("body")).expect("json");
    let guild = super::standin::DISCORD_GUILD_ID;
    v["id"] = id.into();
    v["token"] = format!("token-{id}").into();
    v["application_id"] = DISCORD_APP_ID.into();
    v["channel_id"] = DISCORD_CHANNEL.into();
    v["guild_id"] = guild.into();
    v["member"] = json!({
        "user": {"id": user, "username": "agent", "discriminator": "0", "avatar": null, "global_name": null},
        "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false,
        "flags": 0, "pending": false, "permissions": "0", "nick": null, "avatar": null,
        "premium_since": null, "communication_disabled_until": null
    });
    v["locale"] = "en-US".into();
    v["guild_locale"] = "en-US".into();
    v["entitlements"] = json!([]);
    v["authorizing_integration_owners"] = json!({"0": guild});
    v["context"] = 0.into();
    v["attachment_size_limit"] = 26_214_400.into();
    v["app_permissions"] = "0".into();
    v
}

/// The `claimdesk` binary with `--config <config>` and `args`, given the test's secrets through
/// the environment (Dovecot's password, the Slack token and signing secret), quiet, killed
/// when dropped: for tests that run, kill and restart the real process.
pub fn claimdesk(env: &TestEnv, config: &Path, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_claimdesk"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("TEST_IMAP_PASSWORD", &env.dovecot.password)
        .env("TEST_SLACK_TOKEN", "xoxb-test-token")
        .env("TEST_SLACK_SECRET", SLACK_SECRET)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

/// As [`slack_post`] (a Slack-signed form POST to `path` on `addr`, signed now), but an
/// unreachable or dying app is an `Err` instead of a panic: for tests that kill processes.
/// Gives up after `timeout`. `Ok((status, body))` otherwise.
pub async fn try_slack_post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, String), reqwest::Error> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = slack_signature(SLACK_SECRET, &ts, body);
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_string())
        .timeout(timeout)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.text().await?))
}

/// As [`discord_post`] (a fresh interaction id, signed by `signer`), but an unreachable or
/// dying app is an `Err` instead of a panic. Gives up after `timeout`. `Ok((status, JSON))`
/// otherwise (`Null` when the body is not JSON).
pub async fn try_discord_post(
    addr: std::net::SocketAddr,
    signer: &DiscordSigner,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "id".into(),
            ((rand::random::<u64>() >> 2) + 1).to_string().into(),
        );
    }
    let text = body.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = signer.sign(&ts, &text);
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", sig)
        .header("x-signature-timestamp", ts)
        .body(text)
        .timeout(timeout)
        .send()
        .await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    ))
}

//! Building and running claimdesk: `App::build` wires settings and secrets into the desk,
//! the platforms, the outbox worker and the web server; `main` only parses the command line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use secrecy::SecretString;

use crate::chat::discord::routes::DiscordInbound;
use crate::chat::slack::routes::SlackInbound;
use crate::chat::{console, discord::DiscordChat, slack::SlackChat, Platform};
use crate::config::{DiscordMode, Settings, SlackMode};
use crate::desk::{Actor, Desk, Surface};
use crate::intake::pipeline::{self, FetchReport};
use crate::intake::supervisor;
use crate::outbound::smtp::Mailer;
use crate::replicas::Lease;
use crate::store;
use crate::web::{self, WebState};
use crate::worker::Deliverer;

/// Every secret, read from the environment variables the settings name. Never logged.
#[derive(Clone, Default)]
pub struct Secrets {
    /// IMAP password per mailbox name.
    pub imap_passwords: HashMap<String, SecretString>,
    /// SMTP password.
    pub smtp_password: Option<SecretString>,
    /// Slack bot token; Slack is active when set.
    pub slack_bot_token: Option<SecretString>,
    /// Slack signing secret (HTTP mode).
    pub slack_signing_secret: Option<SecretString>,
    /// Slack app-level token (`xapp-…`), for Socket Mode.
    pub slack_app_token: Option<SecretString>,
    /// Discord bot token; Discord is active when set.
    pub discord_bot_token: Option<SecretString>,
    /// Discord application public key (hex).
    pub discord_public_key: Option<SecretString>,
    /// Bearer token for `/metrics` and `/healthz/details` (`web.admin_token_env`).
    pub admin_token: Option<SecretString>,
    /// Secret signing the customer's status and rating links (`web.link_secret_env`).
    pub link_secret: Option<SecretString>,
}

impl Secrets {
    /// Refuses a platform that is half-configured: a Slack bot token in HTTP mode without the
    /// signing secret, Slack Socket Mode without the app-level token, a Discord bot token in
    /// HTTP mode without the public key. A platform whose bot token is unset is off, not half
    /// configured. Used by `App::build` and `claimdesk config check`; the error names the
    /// environment variables, never a value.
    pub fn check(&self, settings: &Settings) -> anyhow::Result<()> {
        if let (Some(s), Some(_)) = (&settings.slack, &self.slack_bot_token) {
            match s.mode {
                SlackMode::Socket if self.slack_app_token.is_none() => {
                    return Err(anyhow!(
                        "slack.mode = \"socket\" but {} is not set",
                        s.app_token_env
                    ));
                }
                SlackMode::Http if self.slack_signing_secret.is_none() => {
                    return Err(anyhow!(
                        "{} is set but {} is not",
                        s.bot_token_env,
                        s.signing_secret_env
                    ));
                }
                _ => {}
            }
        }
        if let (Some(d), Some(_)) = (&settings.discord, &self.discord_bot_token) {
            if d.mode == DiscordMode::Http && self.discord_public_key.is_none() {
                return Err(anyhow!(
                    "{} is set but {} is not (or set discord.mode = \"gateway\")",
                    d.bot_token_env,
                    d.public_key_env
                ));
            }
        }
        Ok(())
    }

    /// Reads every secret `settings` names from the environment.
    pub fn from_env(settings: &Settings) -> Secrets {
        Secrets {
            imap_passwords: settings
                .mailboxes
                .iter()
                .filter_map(|m| Settings::secret(&m.password_env).map(|p| (m.name.clone(), p)))
                .collect(),
            smtp_password: Settings::secret(&settings.smtp.password_env),
            slack_bot_token: settings
                .slack
                .as_ref()
                .and_then(|s| Settings::secret(&s.bot_token_env)),
            slack_signing_secret: settings
                .slack
                .as_ref()
                .and_then(|s| Settings::secret(&s.signing_secret_env)),
            slack_app_token: settings
                .slack
                .as_ref()
                .filter(|s| s.mode == crate::config::SlackMode::Socket)
                .and_then(|s| Settings::secret(&s.app_token_env)),
            discord_bot_token: settings
                .discord
                .as_ref()
                .and_then(|d| Settings::secret(&d.bot_token_env)),
            discord_public_key: settings
                .discord
                .as_ref()
                .and_then(|d| Settings::secret(&d.public_key_env)),
            admin_token: Settings::secret(&settings.web.admin_token_env),
            link_secret: Settings::secret(&settings.web.link_secret_env),
        }
    }
}

/// A built claimdesk, ready to fetch, deliver and serve.
#[derive(Clone)]
pub struct App {
    /// Settings it was built from.
    pub settings: Settings,
    /// The use cases.
    pub desk: Desk,
    /// The outbox worker.
    pub deliverer: Deliverer,
    /// Web handler state.
    pub web: WebState,
    secrets: Secrets,
}

impl App {
    /// Connects to Postgres (creating the database and applying migrations), syncs agents
    /// from settings, and builds the active platforms: Slack and/or Discord when their bot
    /// tokens are set, else the console.
    ///
    /// Errors: a Message-ID signing key shorter than 32 bytes
    /// (`config::MIN_MESSAGE_ID_KEY_BYTES`), database unreachable, a platform half-configured
    /// (token without signing secret or public key), a bad channel id or SMTP host, SMTP
    /// credentials that would go in clear text to a host that is not loopback.
    pub async fn build(settings: Settings, secrets: Secrets) -> anyhow::Result<App> {
        use secrecy::ExposeSecret;
        // Refuse a short Message-ID signing key or a half-configured platform before
        // touching anything.
        settings.message_id_key()?;
        secrets.check(&settings)?;
        let customer_links = crate::desk::customer::CustomerLinks::from_settings(
            &settings.web,
            secrets.link_secret.clone(),
        )?;
        let pool = store::open(&settings.database).await?;
        {
            let mut conn = pool.acquire().await?;
            let departments: Vec<String> = settings
                .departments
                .iter()
                .map(|d| d.name.clone())
                .collect();
            store::agents::sync_from_config(&mut conn, &settings.agents, &departments).await?;
        }
        let mut platforms: Vec<Platform> = Vec::new();
        let mut slack_in = None;
        let mut discord_in = None;
        if let (Some(s), Some(token)) = (&settings.slack, &secrets.slack_bot_token) {
            let chat = SlackChat::new(&s.api_url, token, &s.channel)
                .with_channels(crate::desk::channels::Channels::slack(
                    &s.channel,
                    &settings.departments,
                ))
                .with_upload_max_bytes(s.upload_max_bytes);
            // Secrets::check made sure HTTP mode has its signing secret.
            let inbound = secrets
                .slack_signing_secret
                .as_ref()
                .map(SlackInbound::new)
                .unwrap_or_else(SlackInbound::socket_only);
            let origin = crate::chat::slack::routes::Origin {
                team_id: s.team_id.clone(),
                api_app_id: s.api_app_id.clone(),
            };
            slack_in = Some(Arc::new(
                inbound.with_chat(chat.clone()).with_origin(origin),
            ));
            platforms.push(Platform::Slack(chat));
        }
        if let (Some(d), Some(token)) = (&settings.discord, &secrets.discord_bot_token) {
            let chat = DiscordChat::new(
                token,
                &d.channel_id,
                d.application_id.as_deref(),
                d.api_proxy.as_deref(),
            )?
            .with_channels(&crate::desk::channels::Channels::discord(
                &d.channel_id,
                &settings.departments,
            ))?
            .with_upload_max_bytes(d.upload_max_bytes);
            // The HTTP endpoint needs the public key (Secrets::check); the gateway does not.
            if let Some(key) = &secrets.discord_public_key {
                discord_in = Some(Arc::new(
                    DiscordInbound::new(key.expose_secret())?.with_client(chat.clone()),
                ));
            }
            platforms.push(Platform::Discord(chat));
        }
        if platforms.is_empty() {
            platforms.push(Platform::Console(
                console::ConsoleChat::default().with_chart_dir(settings.reports.chart_dir.clone()),
            ));
        }
        let names = platforms.iter().map(|p| p.name().to_string()).collect();
        let desk = Desk::new(pool, &settings, names).with_customer_links(customer_links);
        let mailer =
            Mailer::new(&settings.smtp, secrets.smtp_password.as_ref()).context("SMTP settings")?;
        let deliverer = Deliverer {
            desk: desk.clone(),
            platforms,
            mailer,
            retry: settings.outbox.clone(),
        };
        let web = WebState {
            desk: desk.clone(),
            slack: slack_in,
            discord: discord_in,
            admin_token: secrets.admin_token.clone().map(Arc::new),
            web: Arc::new(settings.web.clone()),
            live: web::ui::live::Hub::new(desk.pool().clone()),
        };
        Ok(App {
            settings,
            desk,
            deliverer,
            web,
            secrets,
        })
    }

    /// Fetches everything new from every mailbox (one after another), then delivers the
    /// outbox once. Returns each mailbox's report or error; one failing mailbox does not stop
    /// the others.
    pub async fn intake_once(&self) -> anyhow::Result<Vec<(String, anyhow::Result<FetchReport>)>> {
        let mut out = Vec::new();
        for mb in &self.settings.mailboxes {
            let r = pipeline::fetch_mailbox(
                &self.desk,
                mb,
                self.secrets.imap_passwords.get(&mb.name),
                self.settings.intake.fetch_batch,
            )
            .await;
            out.push((mb.name.clone(), r));
        }
        self.deliverer.drain().await?;
        Ok(out)
    }

    /// Starts the mailbox supervisors (IDLE push or polling, see `intake::supervisor`), the
    /// outbox worker and the web server in the background and returns the bound web address.
    /// The tasks stop when the returned [`Running`] is dropped.
    pub async fn start(&self) -> anyhow::Result<Running> {
        let mut running = self.start_web().await?;
        let addr = running.addr;
        let tasks = &mut running.tasks;
        tasks.push(tokio::spawn(self.deliverer.clone().run()));
        tasks.extend(self.start_discord_gateway());
        // Personal notifications: folds pending notices into DMs (see `desk::notify`); on
        // every replica (per-agent locks keep one agent's notices in one DM).
        tasks.push(tokio::spawn(self.desk.clone().notify_loop()));
        // The sweeps run in one replica at a time (lease `sweeps`, see `crate::replicas`).
        let desk = self.desk.clone();
        let lease = Lease::new(
            self.desk.pool().clone(),
            crate::replicas::SWEEPS,
            &self.settings.replicas,
        );
        tasks.push(tokio::spawn(lease.run(move |_held| sweeps(desk.clone()))));
        let names: Vec<String> = self
            .settings
            .mailboxes
            .iter()
            .map(|m| m.name.clone())
            .collect();
        match self.desk.pool().acquire().await {
            Ok(mut c) => {
                if let Err(e) = store::mailbox_status::forget_others(&mut c, &names).await {
                    tracing::warn!(error = %e, "cannot prune the status of removed mailboxes");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot prune the status of removed mailboxes"),
        }
        // One supervisor per mailbox: a failing mailbox never delays the others.
        for mb in &self.settings.mailboxes {
            tasks.push(tokio::spawn(supervisor::supervise(
                self.desk.clone(),
                mb.clone(),
                self.secrets.imap_passwords.get(&mb.name).cloned(),
                self.settings.intake.clone(),
                self.settings.replicas.clone(),
            )));
        }
        tracing::info!(%addr, platforms = ?self.desk.platforms(), mailboxes = self.settings.mailboxes.len(), "claimdesk running");
        Ok(running)
    }

    /// Starts only the web server (Slack/Discord endpoints, health, metrics) and, with
    /// `web.admin_bind`, the admin listener, and returns their addresses; mail is then fetched and the outbox delivered by explicit calls.
    pub async fn start_web(&self) -> anyhow::Result<Running> {
        let listener = tokio::net::TcpListener::bind(&self.settings.web.bind)
            .await
            .with_context(|| format!("cannot listen on {}", self.settings.web.bind))?;
        let addr = listener.local_addr()?;
        self.register_discord_commands().await;
        // With the client's address (`ConnectInfo`): the web view's sign-in limits count it.
        let mut state = self.web.clone();
        if state.web.public_url.is_none() {
            // Links in emails name the address really bound (`bind` may say port 0).
            let mut w = (*state.web).clone();
            w.public_url = Some(format!("http://{addr}"));
            state.web = Arc::new(w);
        }
        let router =
            web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "web server stopped");
            }
        });
        let mut tasks = vec![task];
        let mut admin_addr = None;
        if let Some(bind) = &self.settings.web.admin_bind {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} (web.admin_bind)"))?;
            admin_addr = Some(listener.local_addr()?);
            let router = web::admin_router(self.web.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "admin web server stopped");
                }
            }));
        }
        if let Some(t) = self.start_slack_socket().await? {
            tasks.push(t);
        }
        Ok(Running {
            addr,
            admin_addr,
            tasks,
        })
    }

    /// With `slack.mode = "socket"`: opens Socket Mode (`chat::slack::socket`) and returns the
    /// task that keeps it open (aborting it closes the connection).
    async fn start_slack_socket(&self) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(s) = self
            .settings
            .slack
            .as_ref()
            .filter(|s| s.mode == SlackMode::Socket)
        else {
            return Ok(None);
        };
        let (Some(token), Some(chat)) = (
            self.secrets.slack_app_token.as_ref(),
            self.web.slack.as_ref().and_then(|i| i.chat()),
        ) else {
            return Ok(None);
        };
        let socket = crate::chat::slack::socket::start(chat, token, self.web.clone())
            .await
            .map_err(|e| anyhow!("{e} (token from {})", s.app_token_env))?;
        Ok(Some(tokio::spawn(async move {
            let _open = socket;
            std::future::pending::<()>().await
        })))
    }

    /// In Discord gateway mode, starts the gateway client (`chat::discord::gateway`) in the
    /// background while this replica holds lease `discord:gateway` (`crate::replicas`);
    /// `None` when Discord is off or in HTTP mode. When the connection fails for good (logged)
    /// the lease is given up and competed for again.
    pub fn start_discord_gateway(&self) -> Option<tokio::task::JoinHandle<()>> {
        let d = self.settings.discord.as_ref()?;
        if d.mode != DiscordMode::Gateway {
            return None;
        }
        let token = self.secrets.discord_bot_token.clone()?;
        let chat = self.deliverer.platforms.iter().find_map(|p| match p {
            Platform::Discord(c) => Some(c.clone()),
            _ => None,
        })?;
        let desk = self.desk.clone();
        let proxy = d.api_proxy.clone();
        // One connection per bot token: from one replica at a time (lease `discord:gateway`).
        let lease = Lease::new(
            desk.pool().clone(),
            crate::replicas::DISCORD_GATEWAY,
            &self.settings.replicas,
        );
        Some(tokio::spawn(lease.run(move |_held| {
            let (desk, chat, token, proxy) =
                (desk.clone(), chat.clone(), token.clone(), proxy.clone());
            async move {
                if let Err(e) = crate::chat::discord::gateway::run(desk, chat, token, proxy).await {
                    tracing::error!(error = %e, "Discord gateway stopped");
                }
            }
        })))
    }

    /// Registers the Discord slash commands when Discord is active with an
    /// `application_id` and `register_commands` is on. A failure is logged, not fatal: the
    /// commands registered last time keep working and mail keeps flowing.
    pub async fn register_discord_commands(&self) {
        let Some(d) = self.settings.discord.as_ref() else {
            return;
        };
        if !d.register_commands || d.application_id.is_none() {
            return;
        }
        for p in self.deliverer.platforms.iter() {
            if let Platform::Discord(chat) = p {
                match chat.register_commands(d.guild_id.as_deref()).await {
                    Ok(()) => {
                        tracing::info!(guild = ?d.guild_id, "Discord slash commands registered")
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot register the Discord slash commands")
                    }
                }
            }
        }
    }

    /// The agent the console acts as: `console.agent`, else the first admin.
    pub async fn console_actor(&self) -> anyhow::Result<Actor> {
        let mut conn = self.desk.pool().acquire().await?;
        let agent = match &self.settings.console.agent {
            Some(h) => store::agents::find(&mut conn, store::agents::Identity::Handle(h)).await?,
            None => store::agents::first_admin(&mut conn).await?,
        }
        .ok_or_else(|| {
            anyhow!("no agent for the console: set console.agent or configure an admin")
        })?;
        Ok(Actor {
            agent,
            surface: Surface::Console,
        })
    }

    /// Runs everything until Ctrl-C (SIGINT) or SIGTERM, then stops the background tasks and
    /// returns. With the console surface active, log lines go to `log.file` from here on
    /// (stdout belongs to the cards and the prompt) and commands are read from stdin.
    ///
    /// Errors: the log file cannot be opened, the web listener cannot bind, no console agent,
    /// or the signal handlers cannot be installed.
    pub async fn serve(self) -> anyhow::Result<()> {
        let stop = ShutdownSignal::install()?;
        let console = self.desk.platforms().iter().any(|p| p == "console");
        if console {
            log_to_file(&self.settings.log.file)?;
            println!(
                "claimdesk: log lines go to {} (console mode)",
                self.settings.log.file.display()
            );
        }
        let running = self.start().await?;
        println!(
            "claimdesk is running: web on http://{}, cards to {:?}; Ctrl-C stops it",
            running.addr,
            self.desk.platforms()
        );
        if console {
            let actor = self.console_actor().await?;
            tokio::spawn(console::run(self.desk.clone(), actor));
        }
        let signal = stop.wait().await?;
        tracing::info!(signal, "stopping");
        drop(running);
        Ok(())
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from [`ShutdownSignal::install`] on: a signal that
/// arrives while `serve` is still starting is kept and ends [`ShutdownSignal::wait`] at once.
struct ShutdownSignal {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers (from then on neither signal kills the process outright).
    ///
    /// Errors: a handler cannot be installed.
    fn install() -> anyhow::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignal {
                int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Waits for either signal and returns its name.
    ///
    /// Errors: (not on unix) Ctrl-C cannot be waited for.
    async fn wait(mut self) -> anyhow::Result<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => Ok("SIGINT"),
                _ = self.term.recv() => Ok("SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            Ok("Ctrl-C")
        }
    }
}

/// The file log lines go to once [`log_to_file`] was called; stderr until then.
static LOG_FILE: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Sends every later log line written through [`LogOut`] to `path` (appended; its directory
/// is created when missing) instead of stderr.
///
/// Errors: the directory cannot be created or the file cannot be opened (the message names
/// the path).
pub fn log_to_file(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {} (log.file)", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {} (log.file)", path.display()))?;
    let mut slot = LOG_FILE.lock().unwrap_or_else(|p| p.into_inner());
    *slot = Some(file);
    Ok(())
}

/// `text` without ANSI escape sequences (`ESC [ … final-byte`, the colours of a terminal log):
/// the log file is read with pagers and grep, not a terminal.
fn strip_ansi(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0x1b && text.get(i + 1) == Some(&b'[') {
            i += 2;
            // Parameters and intermediates (0x20..=0x3f), then one final byte (0x40..=0x7e).
            while i < text.len() && (0x20..=0x3f).contains(&text[i]) {
                i += 1;
            }
            i += 1;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// The writer of the log subscriber (`main`): stderr, or the file [`log_to_file`] chose.
/// Each formatted event arrives as one write, so lines from several threads do not mix.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogOut;

impl std::io::Write for LogOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut slot = LOG_FILE.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some(f) => f.write_all(&strip_ansi(buf)).map(|()| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let mut slot = LOG_FILE.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some(f) => f.write_all(&strip_ansi(buf)),
            None => std::io::stderr().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut slot = LOG_FILE.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some(f) => f.flush(),
            None => std::io::stderr().flush(),
        }
    }
}

/// The periodic sweeps, run by the holder of lease `sweeps`: the weekly digest (when
/// `[reports] digest_at` is set), the SLA scheduler (when SLA is on), and every 60 s the
/// pending-queue drain, the auto-release sweep and the purge of ended web sessions. Each is
/// also safe to run twice (scheduled_runs, row locks, an idempotent warning), the lease only
/// saves the work. Never returns.
async fn sweeps(desk: Desk) {
    let digest = desk.clone().run_digest_loop();
    let sla = {
        let desk = desk.clone();
        async move {
            if desk.sla_enabled() {
                // Sleeps until the earliest SLA moment, not a sweep (see `desk::sla`).
                desk.sla_scheduler().await;
            }
        }
    };
    let tick = async move {
        // Safety net for the assignment queues, and the auto-release clock.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = desk.drain_all_pending().await {
                tracing::error!(error = %e, "draining pending assignments");
            }
            if let Err(e) = desk.auto_release_sweep().await {
                tracing::error!(error = %e, "auto-release sweep");
            }
            if let Err(e) = crate::web::ui::auth::purge_expired(desk.pool()).await {
                tracing::warn!(error = %e, "purging ended web sessions");
            }
        }
    };
    futures::join!(digest, sla, tick);
}

/// Background tasks of a started [`App`]; aborted on drop.
pub struct Running {
    /// Where the web server listens.
    pub addr: SocketAddr,
    /// Where the admin listener (`web.admin_bind`) listens, when configured.
    pub admin_addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Largest allocation glibc's malloc serves from its heap arenas, bytes; anything bigger is
/// its own `mmap` and goes back to the system when freed. glibc's default threshold grows
/// with each large buffer freed (up to 32 MiB), after which freed message buffers stay in the
/// heap: a backlog of 25 MB messages then holds ~340 MB instead of ~200 MB (issue 10).
pub const MALLOC_MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Sets glibc's mmap threshold to [`MALLOC_MMAP_THRESHOLD_BYTES`], which also turns its
/// dynamic adjustment off (mallopt(3), `M_MMAP_THRESHOLD`). Call first thing in `main`,
/// before other threads exist. Does nothing on other C libraries; on failure the default
/// stays (mallopt's result needs no handling).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter and is called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn log_file_lines_lose_terminal_colours_and_keep_their_text() {
        let coloured = b"\x1b[2m2026-01-01T00:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m \x1b[2mclaimdesk::app\x1b[0m: claimdesk running\n";
        assert_eq!(
            String::from_utf8_lossy(&strip_ansi(coloured)),
            "2026-01-01T00:00:00Z  INFO claimdesk::app: claimdesk running\n"
        );
        assert_eq!(
            strip_ansi(b"plain \xe2\x94\x80 text"),
            b"plain \xe2\x94\x80 text"
        );
    }
}

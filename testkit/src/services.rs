//! Real services for the integration tests: a fresh Postgres database, a Dovecot IMAP server and an
//! SMTP server that keeps what it receives. Everything listens on 127.0.0.1 only.
//!
//! Needs (see `scripts/setup-services.sh`): a Postgres at `CLAIMDESK_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, trust auth), Debian `dovecot-imapd`
//! (`/usr/sbin/dovecot`) and Debian `python3-aiosmtpd` (for `/usr/bin/python3`).
//!
//! Processes are stopped on `Drop`. If the test process dies without unwinding (SIGKILL, Ctrl-C),
//! a small watchdog stops Dovecot and the SMTP sink exits, both noticing a closed stdin pipe.
//! Set `CLAIMDESK_TEST_KEEP_DB=1` to keep test databases around for inspection.

use std::collections::HashSet;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::TryStreamExt;
use sqlx::Connection as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

const DOVECOT_BIN: &str = "/usr/sbin/dovecot";
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
const INSTALL_HINT: &str =
    "run scripts/setup-services.sh as root, or: apt-get install dovecot-imapd python3-aiosmtpd";
const DEFAULT_ADMIN_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// free_port

/// A free loopback TCP port. Never hands out the same port twice within one test process.
pub fn free_port() -> u16 {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..1000 {
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
            Ok(l) => l,
            Err(e) => panic!("free_port: cannot bind a TCP socket on 127.0.0.1: {e}"),
        };
        let port = match listener.local_addr() {
            Ok(addr) => addr.port(),
            Err(e) => panic!("free_port: no local address for a bound socket: {e}"),
        };
        let mut seen = handed_out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if seen.insert(port) {
            return port;
        }
    }
    panic!("free_port: no unused loopback port found after 1000 tries");
}

// ---------------------------------------------------------------------------------------------
// Postgres

/// A fresh, empty Postgres database for one test (random name `claimdesk_t_<uuid-simple>`),
/// created on the server named by env `CLAIMDESK_TEST_DATABASE_URL` (default
/// `postgres://postgres@127.0.0.1:5432/postgres`). No migrations are run.
///
/// On `Drop` the database is dropped (`WITH (FORCE)`, best-effort) unless
/// `CLAIMDESK_TEST_KEEP_DB` is set.
///
/// `url` connects as the admin role (a superuser: it migrates, and tests read and write
/// anything with it); `app_url` connects as [`APP_ROLE`], a login role that owns nothing,
/// which the app gets what it needs granted (`store::open`) — or equals `url` when that role
/// cannot log in on this server (say a password-only server named by
/// `CLAIMDESK_TEST_DATABASE_URL`).
pub struct TestDb {
    pub url: String,
    pub app_url: String,
    pub name: String,
    admin_url: String,
}

/// The cluster-wide role the app connects as in tests (as in scripts/run-local.sh).
pub const APP_ROLE: &str = "claimdesk_app";

impl TestDb {
    pub async fn new() -> Result<TestDb> {
        let admin_url = std::env::var("CLAIMDESK_TEST_DATABASE_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ADMIN_DATABASE_URL.to_string());
        let name = format!("claimdesk_t_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(&admin_url).with_context(|| {
            format!(
                "CLAIMDESK_TEST_DATABASE_URL is not a URL: {}",
                redact(&admin_url)
            )
        })?;
        url.set_path(&format!("/{name}"));

        let mut conn = admin_connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .with_context(|| format!("CREATE DATABASE {name} on {}", redact(&admin_url)))?;
        // Roles are cluster-wide and tests run in parallel: a concurrent creator may win.
        sqlx::query(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                     CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
                 END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$"
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("create role {APP_ROLE}"))?;
        let _ = conn.close().await;

        let mut app = url.clone();
        let _ = app.set_username(APP_ROLE);
        let _ = app.set_password(None);
        let app_url = match sqlx::PgConnection::connect(app.as_str()).await {
            Ok(c) => {
                let _ = c.close().await;
                app.to_string()
            }
            Err(e) => {
                eprintln!("TestDb: {APP_ROLE} cannot log in ({e}); the app connects as admin");
                url.to_string()
            }
        };
        Ok(TestDb {
            url: url.to_string(),
            app_url,
            name,
            admin_url,
        })
    }

    /// A small connection pool on this database.
    pub async fn pool(&self) -> Result<sqlx::PgPool> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&self.url)
            .await
            .with_context(|| format!("connect to test database {}", redact(&self.url)))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("CLAIMDESK_TEST_KEEP_DB").is_some() {
            eprintln!("CLAIMDESK_TEST_KEEP_DB: keeping test database {}", self.url);
            return;
        }
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Own thread and runtime: Drop may run inside (or after) the test's runtime.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let work = async {
                    let mut conn = admin_connect(&admin_url).await?;
                    let forced = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    if sqlx::query(&forced).execute(&mut conn).await.is_err() {
                        // Postgres < 13 has no FORCE.
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                            .execute(&mut conn)
                            .await?;
                    }
                    let _ = conn.close().await;
                    anyhow::Ok(())
                };
                let _ = tokio::time::timeout(Duration::from_secs(15), work).await;
            });
        });
        let _ = handle.join();
    }
}

async fn admin_connect(admin_url: &str) -> Result<sqlx::PgConnection> {
    let hint = || {
        format!(
            "cannot connect to Postgres at {} (set CLAIMDESK_TEST_DATABASE_URL, or run \
             scripts/setup-services.sh to get one on 127.0.0.1:5432 with trust auth)",
            redact(admin_url)
        )
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect(admin_url),
    )
    .await
    .map_err(|_| anyhow!("timed out after 10s"))
    .with_context(hint)?
    .with_context(hint)
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Dovecot

/// One message read back from a Dovecot mailbox.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    pub uid: u32,
    /// e.g. `\Seen`, `\Flagged`, or a keyword.
    pub flags: Vec<String>,
    /// The full message (`BODY[]`).
    pub raw: Vec<u8>,
}

/// A real Dovecot (Debian `dovecot-imapd`) on 127.0.0.1:`port`, plaintext IMAP (no TLS), with a
/// temporary Maildir and one passwd-file user. Advertises IDLE, UIDPLUS, MOVE.
pub struct Dovecot {
    pub port: u16,
    pub user: String,
    pub password: String,
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// `sh` that runs `dovecot stop` once our end of its stdin closes (also when we die).
    watchdog: Option<Child>,
    /// When set, an oauth2 passdb (XOAUTH2, OAUTHBEARER) introspecting tokens at this URL.
    oauth2_introspection: Option<String>,
    /// When set, TLS: STARTTLS on `port` and implicit TLS on `imaps_port`.
    tls: Option<DovecotTls>,
}

/// The TLS side of a [`Dovecot`] after [`Dovecot::enable_tls`]: a throwaway CA (made with
/// `openssl` at test time) and a server certificate it signed for `localhost` and 127.0.0.1.
#[derive(Debug, Clone)]
pub struct DovecotTls {
    /// The CA certificate (PEM) a client must trust.
    pub ca_file: PathBuf,
    /// The implicit-TLS (IMAPS) port; STARTTLS is offered on `Dovecot::port`.
    pub imaps_port: u16,
    cert: PathBuf,
    key: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot and waits until it greets and accepts a LOGIN.
    pub async fn start() -> Result<Dovecot> {
        if !Path::new(DOVECOT_BIN).exists() {
            bail!("Dovecot is not installed ({DOVECOT_BIN} missing): {INSTALL_HINT}");
        }
        let dir = tempfile::Builder::new()
            .prefix("claimdesk-dovecot-")
            .tempdir()
            .context("create Dovecot temp dir")?;
        let mut dovecot = Dovecot {
            port: 0,
            user: "support".to_string(),
            password: format!("pw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            conf: dir.path().join("dovecot.conf"),
            dir,
            watchdog: None,
            oauth2_introspection: None,
            tls: None,
        };
        dovecot.prepare_dir()?;

        let mut last_err = None;
        for _ in 0..5 {
            dovecot.port = free_port();
            dovecot.write_config()?;
            match dovecot.launch_and_wait().await {
                Ok(()) => {
                    last_err = None;
                    break;
                }
                Err(e) => {
                    let busy = dovecot.log().contains("Address already in use")
                        || format!("{e:#}").contains("Address already in use");
                    dovecot.stop().await.ok();
                    if !busy {
                        return Err(e);
                    }
                    last_err = Some(e);
                }
            }
        }
        if let Some(e) = last_err {
            return Err(e.context("Dovecot: no free port after 5 tries"));
        }
        dovecot.watchdog = spawn_watchdog(&dovecot.conf).ok();
        Ok(dovecot)
    }

    /// A logged-in IMAP session (plaintext, as `user`).
    pub async fn session(&self) -> Result<async_imap::Session<TcpStream>> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connect to Dovecot at {addr}: timed out"))?
            .with_context(|| format!("connect to Dovecot at {addr}"))?;
        let mut client = async_imap::Client::new(stream);
        let greeting = tokio::time::timeout(Duration::from_secs(10), client.read_response())
            .await
            .map_err(|_| anyhow!("Dovecot at {addr}: no greeting within 10s"))?
            .with_context(|| format!("Dovecot at {addr}: reading greeting"))?;
        if greeting.is_none() {
            bail!("Dovecot at {addr} closed the connection before its greeting");
        }
        let session = tokio::time::timeout(
            Duration::from_secs(10),
            client.login(&self.user, &self.password),
        )
        .await
        .map_err(|_| anyhow!("Dovecot at {addr}: LOGIN timed out"))?
        .map_err(|(e, _client)| e)
        .with_context(|| format!("Dovecot at {addr}: LOGIN as {}", self.user))?;
        Ok(session)
    }

    /// IMAP LOGIN + APPEND of one message to `folder` (created first if it is not INBOX).
    pub async fn append(&self, folder: &str, raw: &[u8]) -> Result<()> {
        self.append_all(folder, std::iter::once(raw)).await
    }

    /// Like `append`, for several messages over one connection, in order.
    pub async fn append_many(&self, folder: &str, raws: &[Vec<u8>]) -> Result<()> {
        self.append_all(folder, raws.iter().map(|r| r.as_slice()))
            .await
    }

    /// Like `append_many`, each message with the INTERNALDATE given (RFC 3501 §6.3.11: the
    /// APPEND date-time argument), as if it had reached the server then.
    pub async fn append_dated(
        &self,
        folder: &str,
        messages: &[(Vec<u8>, chrono::DateTime<chrono::Utc>)],
    ) -> Result<()> {
        let mut session = self.session().await?;
        if !folder.eq_ignore_ascii_case("INBOX") {
            let _ = session.create(folder).await;
        }
        for (i, (raw, at)) in messages.iter().enumerate() {
            // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
            let date = at.format("\"%e-%b-%Y %H:%M:%S +0000\"").to_string();
            session
                .append(folder, None, Some(&date), raw)
                .await
                .with_context(|| format!("IMAP APPEND of message #{i} to {folder:?} at {date}"))?;
        }
        let _ = session.logout().await;
        Ok(())
    }

    async fn append_all<'a>(
        &self,
        folder: &str,
        raws: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<()> {
        let mut session = self.session().await?;
        if !folder.eq_ignore_ascii_case("INBOX") {
            // Fails harmlessly when it exists already.
            let _ = session.create(folder).await;
        }
        for (i, raw) in raws.into_iter().enumerate() {
            session
                .append(folder, None, None, raw)
                .await
                .with_context(|| format!("IMAP APPEND of message #{i} to {folder:?}"))?;
        }
        let _ = session.logout().await;
        Ok(())
    }

    /// Every message in `folder` (read-only EXAMINE, `UID FETCH 1:* (UID FLAGS BODY.PEEK[])`),
    /// in UID order.
    pub async fn fetch_all(&self, folder: &str) -> Result<Vec<FetchedMessage>> {
        let mut session = self.session().await?;
        let mailbox = session
            .examine(folder)
            .await
            .with_context(|| format!("IMAP EXAMINE {folder:?}"))?;
        let mut out = Vec::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID FLAGS BODY.PEEK[])")
                .await
                .with_context(|| format!("IMAP UID FETCH in {folder:?}"))?
                .try_collect()
                .await
                .with_context(|| format!("IMAP UID FETCH in {folder:?}"))?;
            for f in &fetches {
                out.push(FetchedMessage {
                    uid: f
                        .uid
                        .ok_or_else(|| anyhow!("UID FETCH response without UID"))?,
                    flags: f.flags().map(|flag| flag_name(&flag)).collect(),
                    raw: f.body().map(|b| b.to_vec()).unwrap_or_default(),
                });
            }
        }
        let _ = session.logout().await;
        out.sort_by_key(|m| m.uid);
        Ok(out)
    }

    /// Dovecot's log so far (useful in assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM to the master, as `dovecot stop` does) and waits until it is gone.
    pub async fn stop(&mut self) -> Result<()> {
        let Some(pid) = self.master_pid() else {
            return Ok(());
        };
        send_signal(pid, "TERM");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while process_is_dovecot(pid) {
            if Instant::now() > deadline {
                send_signal(pid, "KILL");
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = fs::remove_file(self.pid_file());
                bail!("Dovecot (pid {pid}) did not stop within {STOP_TIMEOUT:?}; killed it");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Adds Dovecot's oauth2 passdb (SASL XOAUTH2 and OAUTHBEARER) next to the password one,
    /// validating bearer tokens at `introspection_url` (`introspection_mode = auth`: a GET
    /// with `Authorization: Bearer <token>`, answered with JSON whose `email` is the user
    /// name), and restarts the server. The password user keeps working.
    pub async fn enable_oauth2(&mut self, introspection_url: &str) -> Result<()> {
        self.oauth2_introspection = Some(introspection_url.to_string());
        self.write_config()?;
        self.restart().await
    }

    /// Turns TLS on: makes a CA and a server certificate for `localhost` / 127.0.0.1 with
    /// `openssl`, offers STARTTLS on `port` and implicit TLS on a new `imaps_port`, and
    /// restarts the server. Plain LOGIN on `port` keeps working (for the test's own session).
    pub async fn enable_tls(&mut self) -> Result<DovecotTls> {
        let d = self.dir.path().join("tls");
        fs::create_dir_all(&d).context("mkdir tls")?;
        let p = |n: &str| d.join(n).display().to_string();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let run = |args: &[&str]| command_output("openssl", args).map(|_| ());
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        let (ca_key, ca_pem) = (p("ca.key"), p("ca.pem"));
        ca.extend(["-keyout", &ca_key, "-out", &ca_pem, "-days", "2"]);
        ca.extend(["-subj", "/CN=claimdesk test CA"]);
        run(&ca)?;
        let mut csr = vec!["req"];
        csr.extend(ec);
        let (key, csr_path) = (p("key.pem"), p("leaf.csr"));
        csr.extend(["-keyout", &key, "-out", &csr_path, "-subj", "/CN=localhost"]);
        run(&csr)?;
        let ext = p("leaf.ext");
        fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .context("write leaf.ext")?;
        let cert = p("cert.pem");
        run(&[
            "x509",
            "-req",
            "-in",
            &csr_path,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ])?;
        let tls = DovecotTls {
            ca_file: PathBuf::from(ca_pem),
            imaps_port: free_port(),
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        };
        self.tls = Some(tls.clone());
        self.write_config()?;
        self.restart().await?;
        Ok(tls)
    }

    /// Kills this Dovecot abruptly, as a crash would: SIGKILL to the master and every process
    /// it started (its `imap` and `imap-login` children too, which a graceful stop lets finish
    /// what they are serving for about a second), then waits until the master is gone. Start
    /// it again with [`Dovecot::restart`].
    ///
    /// Errors: the master did not go within the stop timeout.
    pub async fn kill(&mut self) -> Result<()> {
        let Some(pid) = self.master_pid() else {
            return Ok(());
        };
        // Every descendant, collected before any dies (an orphan is re-parented and could not
        // be found again), so none is left serving a session or holding the port; then the
        // master.
        let mut all = Vec::new();
        let mut next = vec![pid];
        while let Some(p) = next.pop() {
            for c in children_of(p) {
                all.push(c);
                next.push(c);
            }
        }
        for p in all {
            send_signal(p, "KILL");
        }
        send_signal(pid, "KILL");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while process_is_dovecot(pid) {
            if Instant::now() > deadline {
                bail!("Dovecot (pid {pid}) survived SIGKILL for {STOP_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = fs::remove_file(self.pid_file());
        // Until nothing answers on the port any more.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        while TcpStream::connect(addr).await.is_ok() {
            if Instant::now() > deadline {
                bail!("port {} still answers after killing Dovecot", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops and starts the server again: same port, same user, same mail.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        // Just-exited children may still hold the listening socket (TCP) or a service's UNIX
        // socket (`Socket already exists`: a child forked just before the kill, e.g. anvil,
        // that exits once it sees the master gone) for a moment.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.launch_and_wait().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let text = format!("{}\n{e:#}", self.log());
                    let busy = text.contains("Address already in use")
                        || text.contains("Socket already exists");
                    self.stop().await.ok();
                    if !busy || Instant::now() > deadline {
                        return Err(e.context(format!("restart Dovecot on port {}", self.port)));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("run/master.pid")
    }

    fn master_pid(&self) -> Option<u32> {
        fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn prepare_dir(&self) -> Result<()> {
        let d = self.dir.path();
        // Dovecot's unprivileged processes (auth as `dovecot`, imap as the mail user) must reach it.
        fs::set_permissions(d, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 755 {}", d.display()))?;
        for sub in ["run", "state", "mail"] {
            fs::create_dir_all(d.join(sub))
                .with_context(|| format!("mkdir {}/{sub}", d.display()))?;
        }
        let users = format!("{}:{{PLAIN}}{}::::::\n", self.user, self.password);
        fs::write(d.join("users"), users).context("write Dovecot users file")?;
        if fs::metadata(d).context("stat Dovecot dir")?.uid() == 0 {
            std::os::unix::fs::chown(d.join("mail"), Some(65534), Some(65534))
                .context("chown Dovecot mail dir to 65534:65534")?;
        }
        Ok(())
    }

    fn write_config(&self) -> Result<()> {
        let d = self.dir.path();
        let meta = fs::metadata(d).context("stat Dovecot dir")?;
        let (identity, mail_uid, mail_gid) = if meta.uid() == 0 {
            (
                "default_internal_user = dovecot\ndefault_login_user = dovenull\n".to_string(),
                65534,
                65534,
            )
        } else {
            let user = command_output("id", &["-un"])?;
            let group = command_output("id", &["-gn"])?;
            (
                format!(
                    "default_internal_user = {user}\ndefault_login_user = {user}\n\
                     default_internal_group = {group}\n"
                ),
                meta.uid(),
                meta.gid(),
            )
        };
        let dir = d.display();
        let port = self.port;
        let instance = format!(
            "claimdesk-test-{port}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let (mechanisms, oauth2_passdb) = match &self.oauth2_introspection {
            None => ("plain login", String::new()),
            Some(url) => {
                let ext = d.join("dovecot-oauth2.conf.ext");
                fs::write(
                    &ext,
                    format!(
                        "introspection_mode = auth\nintrospection_url = {url}\n\
                         force_introspection = yes\nusername_attribute = email\n\
                         active_attribute = active\nactive_value = true\n"
                    ),
                )
                .context("write dovecot-oauth2.conf.ext")?;
                (
                    "plain login xoauth2 oauthbearer",
                    format!(
                        "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
                        ext.display()
                    ),
                )
            }
        };
        let (ssl, imaps) = match &self.tls {
            None => ("ssl = no".to_string(), "port = 0".to_string()),
            Some(t) => (
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}",
                    t.cert.display(),
                    t.key.display()
                ),
                format!("address = 127.0.0.1\n    port = {}", t.imaps_port),
            ),
        };
        let conf = format!(
            "# generated by tests/support/services.rs
instance_name = {instance}
base_dir = {dir}/run
state_dir = {dir}/state
protocols = imap
listen = 127.0.0.1
log_path = {dir}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
{identity}first_valid_uid = 1
mail_location = maildir:{dir}/mail/%u/Maildir
# A throwaway mailbox: no fsync per message (as the test Postgres runs with fsync=off).
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
{oauth2_passdb}userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
  default_fields = uid={mail_uid} gid={mail_gid} home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"
        );
        fs::write(&self.conf, conf).context("write dovecot.conf")
    }

    /// `dovecot -c CONF` (it daemonizes), then wait for a greeting and a successful LOGIN.
    async fn launch_and_wait(&self) -> Result<()> {
        let out_path = self.dir.path().join("start.out");
        let out = fs::File::create(&out_path).context("create start.out")?;
        let err = out.try_clone().context("dup start.out")?;
        // Output to a file, not a pipe: the daemon must not keep our pipe open.
        let status = Command::new(DOVECOT_BIN)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .with_context(|| format!("run {DOVECOT_BIN}: {INSTALL_HINT}"))?;
        if !status.success() {
            bail!(
                "`{DOVECOT_BIN} -c {}` failed ({status}): {}\n--- dovecot.log ---\n{}",
                self.conf.display(),
                fs::read_to_string(&out_path).unwrap_or_default().trim(),
                self.log()
            );
        }

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let last;
            match read_first_line(addr).await {
                Ok(line) if line.starts_with("* OK") => match self.session().await {
                    Ok(mut s) => {
                        let _ = s.logout().await;
                        return Ok(());
                    }
                    Err(e) => last = format!("{e:#}"),
                },
                Ok(line) => last = format!("unexpected greeting {line:?}"),
                Err(e) => last = format!("{e:#}"),
            }
            let master_alive = self.master_pid().is_some_and(process_is_dovecot);
            if !master_alive || Instant::now() > deadline {
                bail!(
                    "Dovecot on 127.0.0.1:{} did not become ready ({}; last: {last})\n--- dovecot.log ---\n{}",
                    self.port,
                    if master_alive { "timed out" } else { "master process exited" },
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    fn stop_blocking(&mut self) {
        let Some(pid) = self.master_pid() else {
            return;
        };
        send_signal(pid, "TERM");
        let deadline = Instant::now() + STOP_TIMEOUT;
        while process_is_dovecot(pid) {
            if Instant::now() > deadline {
                send_signal(pid, "KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop_blocking();
        if let Some(mut w) = self.watchdog.take() {
            // Kill the waiting `sh` first so it does not run its own `dovecot stop`; dropping the
            // Child then closes the pipe and its `cat` exits.
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

fn spawn_watchdog(conf: &Path) -> Result<Child> {
    let script = format!(
        "trap '' INT TERM HUP; cat >/dev/null 2>&1; exec {DOVECOT_BIN} -c '{}' stop >/dev/null 2>&1",
        conf.display()
    );
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn Dovecot watchdog")
}

fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(c) => c.to_string(),
    }
}

/// True while `pid` is a live (not zombie) process named `dovecot`.
fn process_is_dovecot(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "<pid> (<comm>) <state> ..."
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next().unwrap_or('?');
    comm == "dovecot" && state != 'Z' && state != 'X'
}

/// The processes whose parent is `pid` (from `/proc/<pid>/stat`, field 4).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn command_output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Connects and reads the server's first line (greeting).
async fn read_first_line(addr: SocketAddr) -> Result<String> {
    let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))?
        .with_context(|| format!("connect to {addr}"))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .map_err(|_| anyhow!("no greeting from {addr} within 5s"))?
        .with_context(|| format!("read greeting from {addr}"))?;
    Ok(line.trim_end().to_string())
}

// ---------------------------------------------------------------------------------------------
// SMTP sink

/// One message received by the SMTP sink, with its envelope.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA content as received (dot-unstuffed, CRLF line ends as sent).
    pub raw: Vec<u8>,
    /// When the sink stored it (the file's modification time): just after the end of DATA,
    /// before the sink answers 250.
    pub received_at: Option<std::time::SystemTime>,
}

/// A real SMTP server process (Debian python3-aiosmtpd under /usr/bin/python3) on
/// 127.0.0.1:`port` that stores each received message as its own file, in arrival order.
/// No TLS; accepts any AUTH PLAIN/LOGIN, any sender and recipient, SMTPUTF8.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Mutex<Child>,
}

/// The SMTP sink program, shared with `scripts/run-local.sh` (this crate sits in `testkit/`).
const SMTP_SINK_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smtp-sink.py");

impl SmtpSink {
    /// Starts the sink and waits until it answers `220`.
    pub async fn start() -> Result<SmtpSink> {
        if !Path::new(SYSTEM_PYTHON).exists() {
            bail!("{SYSTEM_PYTHON} is missing (needed for the SMTP sink): {INSTALL_HINT}");
        }
        let dir = tempfile::Builder::new()
            .prefix("claimdesk-smtp-")
            .tempdir()
            .context("create SMTP sink temp dir")?;
        let script = std::path::Path::new(SMTP_SINK_PY);
        if !script.is_file() {
            bail!("{SMTP_SINK_PY} is missing");
        }
        let messages = dir.path().join("messages");
        fs::create_dir_all(&messages).context("create SMTP sink messages dir")?;

        let mut last_err = anyhow!("not started");
        for _ in 0..5 {
            let port = free_port();
            let log_path = dir.path().join(format!("sink-{port}.log"));
            let log = fs::File::create(&log_path).context("create SMTP sink log")?;
            let log2 = log.try_clone().context("dup SMTP sink log")?;
            let mut child = Command::new(SYSTEM_PYTHON)
                .arg(script)
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--dir"])
                .arg(&messages)
                .arg("--exit-on-stdin-eof")
                .stdin(Stdio::piped()) // kept open by `child`; closes if this process dies
                .stdout(log)
                .stderr(log2)
                .spawn()
                .with_context(|| format!("spawn {SYSTEM_PYTHON} (SMTP sink): {INSTALL_HINT}"))?;

            match wait_for_smtp_greeting(&mut child, port, &log_path).await {
                Ok(()) => {
                    return Ok(SmtpSink {
                        port,
                        dir,
                        child: Mutex::new(child),
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = fs::read_to_string(&log_path).unwrap_or_default();
                    if text.contains("aiosmtpd is missing") {
                        bail!(
                            "python3-aiosmtpd is not installed for {SYSTEM_PYTHON}: {INSTALL_HINT}"
                        );
                    }
                    if !text.contains("Address already in use") {
                        return Err(e);
                    }
                    last_err = e;
                }
            }
        }
        Err(last_err.context("SMTP sink: no free port after 5 tries"))
    }

    /// Every message received so far (raw DATA bytes), in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.message_files()
            .iter()
            .filter_map(|p| fs::read(p).ok())
            .collect()
    }

    /// Every message received so far with its envelope, in arrival order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.message_files()
            .iter()
            .filter_map(|p| {
                let raw = fs::read(p).ok()?;
                let received_at = fs::metadata(p).and_then(|m| m.modified()).ok();
                let meta: serde_json::Value =
                    serde_json::from_slice(&fs::read(p.with_extension("json")).ok()?).ok()?;
                Some(ReceivedMail {
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_to: meta["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                    raw,
                    received_at,
                })
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns all of them; an error on timeout.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return Ok(messages);
            }
            if let Ok(mut child) = self.child.lock() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "SMTP sink on port {} exited ({status}) after {} message(s): {}",
                        self.port,
                        messages.len(),
                        self.log()
                    );
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "SMTP sink on port {}: got {} message(s), expected at least {n} within {timeout:?}",
                    self.port,
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join(format!("sink-{}.log", self.port)))
            .unwrap_or_default()
    }

    fn message_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.dir.path().join("messages")) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "eml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        files
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let child = match self.child.get_mut() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = child.kill();
        let _ = child.wait();
    }
}

async fn wait_for_smtp_greeting(child: &mut Child, port: u16, log_path: &Path) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().context("SMTP sink: wait")? {
            bail!(
                "SMTP sink ({SYSTEM_PYTHON}) exited at startup ({status}): {}",
                fs::read_to_string(log_path).unwrap_or_default().trim()
            );
        }
        match read_first_line(addr).await {
            Ok(line) if line.starts_with("220") => return Ok(()),
            Ok(line) => bail!("SMTP sink on {addr}: unexpected greeting {line:?}"),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            Err(e) => {
                return Err(e.context(format!(
                    "SMTP sink did not answer 220 within {START_TIMEOUT:?}: {}",
                    fs::read_to_string(log_path).unwrap_or_default().trim()
                )))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A Postgres cluster a test may stop and start

/// A throwaway Postgres cluster (Debian `postgresql`: `initdb` + `pg_ctl` from
/// `/usr/lib/postgresql/<newest>/bin`, or `$CLAIMDESK_TEST_PG_BIN`) on 127.0.0.1:`port`, trust
/// auth, user `postgres`, `fsync=off`, its data in a temporary directory — for tests that
/// restart the database under a running claimdesk. Run as the `postgres` OS user (via
/// `runuser`) when the tests run as root, since the server refuses to run as root.
///
/// Stopped (`pg_ctl stop -m immediate`) on `Drop`.
pub struct PgCluster {
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub url: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    /// `initdb` and start; waits until the server accepts connections.
    pub async fn start() -> Result<PgCluster> {
        let bin = pg_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("claimdesk-pg-")
            .tempdir()
            .context("create Postgres temp dir")?;
        let as_postgres = fs::metadata(dir.path()).context("stat Postgres dir")?.uid() == 0;
        if as_postgres {
            let uid: u32 = command_output("id", &["-u", "postgres"])?
                .parse()
                .context("uid of postgres")?;
            let gid: u32 = command_output("id", &["-g", "postgres"])?
                .parse()
                .context("gid of postgres")?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("chown Postgres dir to postgres")?;
        }
        let port = free_port();
        let cluster = PgCluster {
            port,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        };
        let data = cluster.data_dir();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            )
            .await?;
        cluster.start_server().await?;
        Ok(cluster)
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs `<bin>/<program> args…` (as `postgres` when we are root); an error with its
    /// output when it fails.
    async fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = tokio::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            tokio::process::Command::new(&path)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("run {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "{} {args:?} failed ({}): {}{}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// `pg_ctl start -w` on this cluster's port and directory.
    pub async fn start_server(&self) -> Result<()> {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log").display().to_string();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "30", "start",
            ],
        )
        .await
        .with_context(|| format!("start Postgres on port {}: {}", self.port, self.log()))
    }

    /// `pg_ctl stop -m fast -w`: open transactions are rolled back, connections dropped.
    pub async fn stop_server(&self) -> Result<()> {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
            .await
    }

    /// Stops (fast) and starts the server again: same port, same data.
    pub async fn restart(&self) -> Result<()> {
        self.stop_server().await?;
        self.start_server().await
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let path = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory with `initdb` and `pg_ctl`: `$CLAIMDESK_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn pg_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CLAIMDESK_TEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .with_context(|| format!("no /usr/lib/postgresql: {INSTALL_HINT}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| anyhow!("no initdb under /usr/lib/postgresql/*/bin: {INSTALL_HINT}"))
}

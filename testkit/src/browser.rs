//! A real headless Chromium for browser tests, driven over WebDriver (W3C) by `fantoccini`.
//!
//! [`Browser::start`] runs Debian's `chromedriver` (package `chromium-driver`) on a free
//! loopback port and opens one session of Debian's `chromium` (`--headless=new`, a temporary
//! profile, `--no-sandbox` when running as root as CI does, every host name but the loopback
//! ones resolving to nothing so a page can reach only this machine). Helpers wait for an
//! element or a text, and [`Browser::screenshot`] saves a PNG under `target/screenshots/` for
//! review. Dropping the [`Browser`] kills chromedriver and the Chromium it started (the whole
//! process group) and deletes the profile.
//!
//! Paths: `CLAIMDESK_CHROMIUM` (default `/usr/bin/chromium`) and `CLAIMDESK_CHROMEDRIVER`
//! (default `/usr/bin/chromedriver`); `scripts/setup-services.sh` installs both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::services::free_port;

/// The WebDriver client crate, for tests that need more than the helpers here.
pub use fantoccini;
/// Special keys for [`Browser::press`] (Tab, Enter, …).
pub use fantoccini::key::Key;

/// How long the helpers wait by default for an element or a text (seconds).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// What to install when the browser is missing.
const HINT: &str =
    "run scripts/setup-services.sh as root, or: apt-get install chromium chromium-driver";

/// One headless Chromium session behind its own chromedriver.
pub struct Browser {
    /// The WebDriver client: navigate, find, click, type (see `fantoccini::Client`).
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    log: PathBuf,
}

fn binary(var: &str, default: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    if !path.exists() {
        bail!("{} not found ({var}): {HINT}", path.display());
    }
    Ok(path)
}

/// Where screenshots go: `<target dir>/screenshots/` (the workspace's `target/`, or
/// `CARGO_TARGET_DIR` when set).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session, 1280×900.
    ///
    /// Errors: the binaries are missing (the message says what to install), chromedriver does
    /// not answer within 20 s, or the session cannot be created (chromedriver's log is named).
    pub async fn start() -> Result<Browser> {
        let chromium = binary("CLAIMDESK_CHROMIUM", "/usr/bin/chromium")?;
        let driver_bin = binary("CLAIMDESK_CHROMEDRIVER", "/usr/bin/chromedriver")?;
        let profile = tempfile::Builder::new()
            .prefix("claimdesk-chromium-")
            .tempdir()
            .context("temporary browser profile")?;
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let mut cmd = Command::new(&driver_bin);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        {
            // Its own process group, so Drop can end chromedriver and every Chromium process
            // it started at once.
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let driver = cmd
            .spawn()
            .with_context(|| format!("start {}: {HINT}", driver_bin.display()))?;
        // From here on, Drop cleans up whatever fails.
        let mut partial = Partial {
            driver: Some(driver),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!(
                    "chromedriver did not listen on 127.0.0.1:{port} within 20 s; log: {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-extensions".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-default-apps".into(),
            "--window-size=1280,900".into(),
            "--lang=en-US".into(),
            // Only this machine: every name but the loopback ones resolves to nothing.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            // Chromium's sandbox refuses to run as root (CI runs as root).
            args.push("--no-sandbox".into());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium.display().to_string(),
                "args": args,
            }),
        );
        caps.insert("pageLoadStrategy".into(), "normal".into());
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| {
                anyhow!(
                    "open a Chromium session: {e}; chromedriver log: {}",
                    log.display()
                )
            })?;
        let driver = partial
            .driver
            .take()
            .ok_or_else(|| anyhow!("chromedriver handle lost"))?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
            log,
        })
    }

    /// Where chromedriver writes its log (for failure messages).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("open {url}"))
    }

    /// The element matching the CSS selector `css`, waiting up to [`DEFAULT_WAIT`] for it.
    pub async fn wait_for(&self, css: &str) -> Result<Element> {
        self.wait_for_within(css, DEFAULT_WAIT).await
    }

    /// The element matching `css`, waiting up to `timeout`.
    pub async fn wait_for_within(&self, css: &str, timeout: Duration) -> Result<Element> {
        self.client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("no element `{css}` within {timeout:?}"))
    }

    /// Waits up to `timeout` until the page's visible text (`document.body.innerText`)
    /// contains `text`; returns that text.
    pub async fn wait_for_text(&self, text: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let body = self.body_text().await.unwrap_or_default();
            if body.contains(text) {
                return Ok(body);
            }
            if Instant::now() > deadline {
                bail!("the page did not show {text:?} within {timeout:?}; it shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn body_text(&self) -> Result<String> {
        let v = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .context("read the page text")?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Presses and releases `key` (WebDriver key actions) on whatever has the focus.
    pub async fn press(&self, key: Key) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let value: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        self.client
            .perform_actions(keys)
            .await
            .context("press a key")?;
        Ok(())
    }

    /// Presses Tab from the top of the page until the focused element matches `css`, at
    /// most `max_tabs` times; returns how many presses it took (what a keyboard user does).
    ///
    /// Errors: never reached within `max_tabs`.
    pub async fn tab_to(&self, css: &str, max_tabs: usize) -> Result<usize> {
        self.client
            .execute(
                "if (document.activeElement) { document.activeElement.blur(); } window.scrollTo(0, 0);",
                vec![],
            )
            .await
            .context("reset the focus")?;
        for n in 1..=max_tabs {
            self.press(Key::Tab).await?;
            let hit = self
                .client
                .execute(
                    "return !!document.activeElement && document.activeElement.matches(arguments[0]);",
                    vec![css.into()],
                )
                .await
                .context("read the focus")?;
            if hit.as_bool() == Some(true) {
                return Ok(n);
            }
        }
        bail!("`{css}` was not reached with {max_tabs} presses of Tab")
    }

    /// The name a screen reader announces for the element matching `css`, by the main steps
    /// of the accessible-name computation: `aria-label`, else `aria-labelledby`, else its
    /// `<label>`s, else its text or value. Empty when it has none.
    pub async fn label_of(&self, css: &str) -> Result<String> {
        let v = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return null;\n\
                 if (e.getAttribute('aria-label')) return e.getAttribute('aria-label');\n\
                 const by = e.getAttribute('aria-labelledby');\n\
                 if (by) return by.split(/\\s+/).map(i => (document.getElementById(i) || {}).innerText || '').join(' ');\n\
                 if (e.labels && e.labels.length) return Array.from(e.labels).map(l => l.innerText).join(' ');\n\
                 return (e.innerText || e.value || '').trim();",
                vec![css.into()],
            )
            .await
            .context("read a label")?;
        v.as_str()
            .map(|s| s.trim().to_string())
            .ok_or_else(|| anyhow!("no element `{css}`"))
    }

    /// The current URL.
    pub async fn url(&self) -> Result<url::Url> {
        self.client.current_url().await.context("current URL")
    }

    /// Saves a PNG of the viewport as `target/screenshots/<name>.png` and returns its path.
    /// `name` is reduced to `[A-Za-z0-9_-]`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self
            .client
            .screenshot()
            .await
            .context("take a screenshot")?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.png"));
        std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// Ends the WebDriver session (Chromium exits), then chromedriver.
    pub async fn close(self) -> Result<()> {
        self.client
            .clone()
            .close()
            .await
            .context("close the session")?;
        Ok(())
    }
}

/// chromedriver while [`Browser::start`] is still setting up: killed if setup fails.
struct Partial {
    driver: Option<Child>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(child) = self.driver.as_mut() {
            kill_group(child);
        }
    }
}

/// Kills the process group led by `child` (chromedriver and the Chromium it started) and
/// reaps `child`.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

//! The console surface: cards and thread entries print to the terminal, and commands (every
//! command of `super::catalogue`) are read from stdin, acting as one agent.
//! This is how claimdesk runs on a machine with neither Slack nor Discord.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::desk::{Actor, CardView, Desk};
use crate::store::chat_posts::ChatPost;

use super::commands;
use crate::desk::messages::{self, Mention};
use crate::domain::actions::offered;

/// Prints cards to stdout.
#[derive(Clone, Default)]
pub struct ConsoleChat {
    next_ref: Arc<AtomicU64>,
    /// Where charts are written (`reports.chart_dir`); the system temp dir when `None`.
    chart_dir: Option<std::path::PathBuf>,
}

impl ConsoleChat {
    /// The same console writing charts into `dir` (`None`: the system temp dir).
    pub fn with_chart_dir(mut self, dir: Option<std::path::PathBuf>) -> ConsoleChat {
        self.chart_dir = dir;
        self
    }

    /// Writes `file` into the chart directory as `<key>-<name>` (a fixed name per outbox
    /// row, so a retry overwrites instead of adding a copy), prints `comment` if any and the
    /// path, and returns the path.
    ///
    /// Errors: the directory cannot be made or the file written.
    pub(super) fn write_file(
        &self,
        file: &super::UploadFile<'_>,
        comment: Option<&str>,
        key: &str,
    ) -> Result<std::path::PathBuf, super::ChatError> {
        let dir = self.chart_dir.clone().unwrap_or_else(std::env::temp_dir);
        let fail = |e: std::io::Error| super::ChatError::Failed(format!("console file: {e}"));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let path = dir.join(format!("claimdesk-{key}-{}", file.name));
        std::fs::write(&path, file.data).map_err(fail)?;
        if let Some(c) = comment {
            self.print(c);
        }
        self.print(&format!("Chart written to {}", path.display()));
        Ok(path)
    }

    pub(super) fn post_card(&self, card: &CardView) -> ChatPost {
        let n = self.next_ref.fetch_add(1, Ordering::SeqCst) + 1;
        self.print(&render(card, "New ticket"));
        ChatPost {
            platform: "console".into(),
            channel: "console".into(),
            message_ref: format!("console-{}-{n}", card.number),
            thread_ref: None,
        }
    }

    pub(super) fn update_card(&self, card: &CardView) {
        self.print(&render(card, "Updated"));
    }

    /// Prints `text` cleaned for the terminal ([`crate::desk::escape::terminal`]).
    pub(super) fn print(&self, text: &str) {
        println!("{}\n", crate::desk::escape::terminal(text));
    }
}

/// The card as text: headline, status, sender, facts, preview, and one line per action the
/// domain offers ([`offered`]) saying what to type.
pub fn render(card: &CardView, what: &str) -> String {
    let rule = "─".repeat(60);
    let mut out = format!(
        "{rule}\n[{what}] {}\n{}\n{}\n",
        messages::headline(card, Mention::Plain),
        messages::status_line(card, Mention::Plain),
        messages::from_line(card, Mention::Plain)
    );
    let facts: Vec<String> = messages::card_facts(card, Mention::Plain)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    out.push_str(&format!("{}\n", facts.join(" · ")));
    for line in messages::preview(card, Mention::Plain).lines() {
        out.push_str(&format!("  │ {line}\n"));
    }
    for a in offered(card.status, card.assignee.is_some()) {
        let text = if a.opens_form() { " <text>" } else { "" };
        out.push_str(&format!(
            "  [{}]  → type: {} {}{text}\n",
            a.label(),
            a.name(),
            card.number
        ));
    }
    out.push_str(&rule);
    out
}

/// Reads commands from stdin until it closes, running each as `actor` and printing the answer
/// (through one [`Session`], so a reply drafted from a template waits for `send`).
///
/// Stdin is read on a dedicated OS thread ([`stdin_lines`]), never on the runtime's blocking
/// pool: a read that waits for a line the user never types must not keep the runtime (and
/// so `serve`) from stopping on Ctrl-C.
pub async fn run(desk: Desk, actor: Actor) {
    println!(
        "claimdesk console — acting as @{} ({}). {}",
        actor.agent.handle,
        actor.agent.role,
        messages::USAGE
    );
    let mut session = Session::new(desk, actor);
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        if line.trim().is_empty() {
            continue;
        }
        let answer = session.line(&line).await;
        println!("» {}\n", crate::desk::escape::terminal(&answer));
    }
}

/// One agent's console: runs each typed line as its catalogue command, and keeps the reply
/// a template filled (`reply <ticket> /<template>`) until the agent sends, edits or drops it
/// — the console's way to show the filled text and the recipient before anything is sent.
pub struct Session {
    desk: Desk,
    actor: Actor,
    draft: Option<crate::desk::templates::Draft>,
}

impl Session {
    /// A console session acting as `actor`.
    pub fn new(desk: Desk, actor: Actor) -> Session {
        Session {
            desk,
            actor,
            draft: None,
        }
    }

    /// The draft waiting to be sent, if any.
    pub fn draft(&self) -> Option<&crate::desk::templates::Draft> {
        self.draft.as_ref()
    }

    /// Runs one typed line and returns the answer to print (not yet cleaned for the terminal).
    ///
    /// - `reply <ticket> /<template>`: the filled draft, its recipient and subject; it waits.
    /// - `send`: the draft goes through the reply use case (exactly like `reply <ticket>
    ///   <text>`); `edit <text>` replaces its text and shows it again; `cancel` drops it.
    /// - `reply <ticket>` alone: who the reply goes to and the templates to start from.
    /// - anything else: its catalogue command (a waiting draft stays).
    pub async fn line(&mut self, line: &str) -> String {
        use crate::chat::commands::Command;
        use crate::desk::messages::templates as words;
        let line = line.trim();
        let (name, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match name.to_ascii_lowercase().as_str() {
            "send" if args.trim().is_empty() => {
                let Some(d) = self.draft.take() else {
                    return words::CONSOLE_NO_DRAFT.into();
                };
                match commands::run(
                    &self.desk,
                    &self.actor,
                    Command::Reply(d.number.clone(), d.text.clone()),
                )
                .await
                {
                    Ok(done) => done,
                    Err(refusal) => {
                        // Kept, so a refusal (someone claimed it meanwhile) loses no text.
                        self.draft = Some(d);
                        refusal
                    }
                }
            }
            "edit" => {
                let Some(d) = self.draft.as_mut() else {
                    return words::CONSOLE_NO_DRAFT.into();
                };
                if args.trim().is_empty() {
                    return words::CONSOLE_EDIT_EMPTY.into();
                }
                d.text = args.trim().to_string();
                words::console_draft(d)
            }
            "cancel" if args.trim().is_empty() => match self.draft.take() {
                Some(_) => words::CONSOLE_CANCELLED.into(),
                None => words::CONSOLE_NO_DRAFT.into(),
            },
            _ => {
                if let Some((super::catalogue::Form::Reply, ticket)) =
                    super::catalogue::form_request(name, args)
                {
                    return self.picker(&ticket).await;
                }
                match commands::parse(name, args) {
                    Ok(Command::ReplyTemplate(n, template)) => {
                        match self.desk.template_draft(&self.actor, &n, &template).await {
                            Ok(d) => {
                                let shown = words::console_draft(&d);
                                self.draft = Some(d);
                                shown
                            }
                            Err(e) => messages::error(&e),
                        }
                    }
                    Ok(cmd) => commands::execute(&self.desk, &self.actor, cmd).await,
                    Err(usage) => usage.0,
                }
            }
        }
    }

    /// `reply <ticket>` with no text: the recipient and the templates to start from.
    async fn picker(&self, ticket: &str) -> String {
        let t = match self.desk.show(ticket).await {
            Ok(t) => t,
            Err(e) => return messages::error(&e),
        };
        let names: Vec<String> = match self.desk.templates().await {
            Ok(l) => l.into_iter().map(|e| e.name).collect(),
            Err(e) => return messages::error(&e),
        };
        crate::desk::messages::templates::console_picker(
            &t.summary.number,
            &t.summary.requester,
            &names,
        )
    }
}

/// The lines typed on stdin, read by a detached OS thread (`claimdesk-stdin`) and handed over
/// one at a time. The channel closes when stdin ends (EOF) or fails (logged); the thread also
/// ends once the receiver is dropped and the next line arrives. At shutdown the thread may
/// still be blocked in `read`: nothing waits for it, and it ends with the process.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let spawned = std::thread::Builder::new()
        .name("claimdesk-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) => {
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "stdin closed");
                        break;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the console's stdin reader");
    }
    rx
}

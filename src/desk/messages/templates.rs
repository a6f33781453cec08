//! The words of canned replies: `template list` and its confirmations and refusals, the
//! draft a template fills (console, and the answer where no form can open), and the labels
//! of the template pickers on Slack and Discord.

use super::{typed_word, Mention};
use crate::desk::templates::{Draft, TemplateEntry, TemplateSource};
use crate::domain::templates::TemplateError;

/// How many characters of a body `template list` shows per template.
const LIST_PREVIEW_CHARS: usize = 80;

/// A template that could not be saved, and why (naming the bad placeholder).
pub fn not_saved(name: &str, e: &TemplateError) -> String {
    // What was typed is echoed by name characters only (the answer goes to any surface).
    let e = match e {
        TemplateError::BadName(n) => TemplateError::BadName(typed_word(n)),
        TemplateError::UnknownPlaceholder(p) => TemplateError::UnknownPlaceholder(typed_word(p)),
        other => other.clone(),
    };
    let name = typed_word(name);
    format!("Template `{name}` not saved: {e}.")
}

/// `name` is a config template: read-only from chat.
pub fn from_config(name: &str) -> String {
    let name = typed_word(name);
    format!("`{name}` comes from the config file ([[templates]]); change it there.")
}

/// `template add` of a name already taken.
pub fn exists(name: &str) -> String {
    let name = typed_word(name);
    format!("There is already a template `{name}`; use `template edit {name} <text>` to change it.")
}

/// `template edit|remove` of a name that is not a chat template.
pub fn no_such(name: &str) -> String {
    let name = typed_word(name);
    format!("There is no template `{name}` added from chat. `template list` shows them all.")
}

/// `reply <ticket> /<name>` with no such template: what there is instead. Nothing was sent.
pub fn unknown(name: &str, names: &[String]) -> String {
    let name = typed_word(name.trim().trim_start_matches('/'));
    if names.is_empty() {
        return format!(
            "There is no template `{name}`, and none are set up yet; nothing was sent. \
             An admin adds one with `template add <name> <text>`."
        );
    }
    let list: Vec<String> = names.iter().map(|n| format!("/{n}")).collect();
    format!(
        "There is no template `{name}`; nothing was sent. Templates: {}.",
        list.join(", ")
    )
}

/// `template add` done.
pub fn added(name: &str) -> String {
    format!("Template `{name}` added. Use it with `reply <ticket> /{name}`.")
}

/// `template edit` done.
pub fn edited(name: &str) -> String {
    format!("Template `{name}` updated.")
}

/// `template remove` done.
pub fn removed(name: &str) -> String {
    format!("Template `{name}` removed.")
}

/// `template list`: one line per template with where it comes from and the start of its
/// text (escaped for `style`).
pub fn list(entries: &[TemplateEntry], style: Mention) -> String {
    if entries.is_empty() {
        return "No templates yet. An admin adds one with `template add <name> <text>`; \
                placeholders: {customer_name}, {ticket}, {agent_name}, {subject}."
            .into();
    }
    let mut out = String::from("Templates (use as `reply <ticket> /<name>`):");
    for e in entries {
        let from = match (e.source, &e.updated_by) {
            (TemplateSource::Config, _) => "config file".to_string(),
            (TemplateSource::Chat, Some(by)) => format!("by @{by}"),
            (TemplateSource::Chat, None) => "chat".to_string(),
        };
        let one_line = e.body.split_whitespace().collect::<Vec<_>>().join(" ");
        let preview = crate::desk::query::truncate(&one_line, LIST_PREVIEW_CHARS);
        out.push_str(&format!(
            "\n• /{} ({from}): {}",
            e.name,
            style.escape(&preview)
        ));
    }
    out
}

/// Where no form can open (or on a surface that cannot show one): the filled draft, not
/// sent, and how to send it.
pub fn draft_preview(d: &Draft, style: Mention) -> String {
    format!(
        "Not sent yet. Template `{}` on {} would go to {}:\n{}\n\nTo send it, open the reply \
         form (`reply {}` without text) and pick `{}`, or type `reply {} <text>`.",
        d.template,
        d.number,
        style.escape(&d.to),
        quoted(&style.escape(&d.text)),
        d.number,
        d.template,
        d.number
    )
}

fn quoted(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The console's draft: recipient, subject, the filled text, and what to type next.
pub fn console_draft(d: &Draft) -> String {
    let mut out = format!(
        "Reply on {} from template `{}` (not sent yet)\nTo: {}\nSubject: Re: {} [{}]\n",
        d.number, d.template, d.to, d.subject, d.number
    );
    for line in d.text.lines() {
        out.push_str(&format!("  │ {line}\n"));
    }
    out.push_str(CONSOLE_DRAFT_HINT);
    out
}

/// What the console accepts while a draft is waiting.
pub const CONSOLE_DRAFT_HINT: &str =
    "Type `send` to send it, `edit <text>` to replace the text, or `cancel`.";

/// `send`, `edit` or `cancel` on the console with no draft waiting.
pub const CONSOLE_NO_DRAFT: &str =
    "No reply is waiting to be sent. Start one with `reply <ticket> /<template>`.";

/// `cancel` on the console.
pub const CONSOLE_CANCELLED: &str = "Draft dropped; nothing was sent.";

/// `edit` with no text.
pub const CONSOLE_EDIT_EMPTY: &str = "Type the new text after `edit`; the draft is unchanged.";

/// The console's answer to `reply <ticket>` without text: who it goes to and the templates
/// to start from.
pub fn console_picker(number: &str, to: &str, names: &[String]) -> String {
    let mut out = format!("A reply on {number} goes to {to}. Type `reply {number} <text>`");
    if names.is_empty() {
        out.push('.');
    } else {
        let list: Vec<String> = names
            .iter()
            .map(|n| format!("`reply {number} /{n}`"))
            .collect();
        out.push_str(&format!(
            ", or start from a template (shown before it is sent): {}.",
            list.join(", ")
        ));
    }
    out
}

/// Label of the template picker in Slack's reply modal.
pub const SLACK_PICKER_LABEL: &str = "Start from a template";
/// Placeholder of that picker.
pub const SLACK_PICKER_PLACEHOLDER: &str = "Pick a template";
/// Hint under it.
pub const SLACK_PICKER_HINT: &str = "Fills the reply below; you can edit it before sending.";

/// The ephemeral picker Discord shows for Reply when templates exist (a modal cannot change
/// its text when a select in it changes, so the choice comes first).
pub fn discord_picker(number: &str, to: &str, more: usize) -> String {
    let mut out = format!(
        "A reply on {number} goes to {}. Start from a template (you see and can edit the \
         text before it is sent), or write your own.",
        Mention::Discord.escape(to)
    );
    if more > 0 {
        out.push_str(&format!(
            " {more} more template(s) than fit here: type `/reply {number} /<name>`."
        ));
    }
    out
}

/// Placeholder of Discord's template select.
pub const DISCORD_PICKER_PLACEHOLDER: &str = "Start from a template…";
/// Label of Discord's button for a blank reply.
pub const DISCORD_WRITE_OWN: &str = "Write my own";

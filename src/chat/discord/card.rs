//! A ticket's card as a Discord message: one embed (title, status and preview, the facts as
//! fields, the attachment list) within Discord's embed limits, and the buttons the domain
//! offers (`crate::domain::actions::offered`).
//! <https://discord.com/developers/docs/resources/message#embed-object>

use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter};

use super::{EMBED_DESCRIPTION_MAX, EMBED_TITLE_MAX};
use crate::desk::messages::{self, Mention};
use crate::desk::query::truncate;
use crate::desk::CardView;
use crate::domain::actions::{offered, CardAction};
use crate::domain::Status;

/// Discord's limit on an embed's footer text, characters.
pub const EMBED_FOOTER_MAX: usize = 2048;
/// Discord's limit on the number of fields in an embed.
pub const EMBED_FIELDS_MAX: usize = 25;
/// Discord's limit on an embed field's name, characters.
pub const EMBED_FIELD_NAME_MAX: usize = 256;
/// Discord's limit on an embed field's value, characters.
pub const EMBED_FIELD_VALUE_MAX: usize = 1024;
/// Discord's limit on the sum of an embed's title, description, field names and values,
/// footer and author name, characters.
/// <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>
pub const EMBED_TOTAL_MAX: usize = 6000;

/// The text of the card's embed, each part already within Discord's embed limits
/// (see [`EMBED_TOTAL_MAX`]); the description (status line and preview) is the part cut,
/// with `…`, when the whole would not fit. The full text stays stored with the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedParts {
    /// `TICK-2026-0001 · Subject`, at most [`EMBED_TITLE_MAX`] characters.
    pub title: String,
    /// Status line and preview, at most [`EMBED_DESCRIPTION_MAX`] characters.
    pub description: String,
    /// `(name, value)` pairs shown inline: status, assignee, priority, last customer message,
    /// message count; at most [`EMBED_FIELDS_MAX`].
    pub fields: Vec<(String, String)>,
    /// `From … · n message(s)`, at most [`EMBED_FOOTER_MAX`] characters.
    pub footer: String,
}

impl EmbedParts {
    /// Characters Discord counts towards [`EMBED_TOTAL_MAX`].
    pub fn total_chars(&self) -> usize {
        let n = |s: &str| s.chars().count();
        n(&self.title)
            + n(&self.description)
            + n(&self.footer)
            + self.fields.iter().map(|(k, v)| n(k) + n(v)).sum::<usize>()
    }
}

/// The card's embed text, trimmed to Discord's limits.
pub fn embed_parts(card: &CardView) -> EmbedParts {
    let preview = messages::preview(card, Mention::Discord);
    let fields: Vec<(String, String)> = messages::card_facts(card, Mention::Discord)
        .into_iter()
        .take(EMBED_FIELDS_MAX)
        .map(|(k, v)| {
            (
                truncate(k, EMBED_FIELD_NAME_MAX),
                truncate(&v, EMBED_FIELD_VALUE_MAX),
            )
        })
        .collect();
    let files = messages::attachment_lines(card, Mention::Discord);
    let mut fields = fields;
    if !files.is_empty() && fields.len() < EMBED_FIELDS_MAX {
        fields.push((
            "Attachments".to_string(),
            truncate(&files.join("\n"), EMBED_FIELD_VALUE_MAX),
        ));
    }
    let mut parts = EmbedParts {
        title: truncate(&messages::headline(card, Mention::Discord), EMBED_TITLE_MAX),
        description: String::new(),
        fields,
        footer: String::new(),
    };
    // The footer gives way before the description's first thousand characters do.
    let footer_room = EMBED_TOTAL_MAX
        .saturating_sub(parts.total_chars() + 1000)
        .clamp(1, EMBED_FOOTER_MAX);
    // Footers show no markdown and ping nobody: the requester is only cleaned of controls.
    parts.footer = truncate(&messages::from_line(card, Mention::Plain), footer_room);
    let room = EMBED_TOTAL_MAX
        .saturating_sub(parts.total_chars())
        .clamp(1, EMBED_DESCRIPTION_MAX);
    parts.description = truncate(
        &format!(
            "**{}**\n\n{preview}",
            messages::status_line(card, Mention::Discord)
        ),
        room,
    );
    parts
}

/// The card as an embed: [`embed_parts`] with a colour for the status.
pub fn embed(card: &CardView) -> CreateEmbed {
    let colour = match card.status {
        Status::Open | Status::PendingAssignment => 0xE0_8A_00,
        Status::Claimed | Status::InProgress => 0x2D_7F_F9,
        Status::Waiting => 0x99_99_99,
        Status::Resolved | Status::Closed => 0x2E_A0_43,
        Status::Merged => 0x66_66_66,
    };
    let p = embed_parts(card);
    CreateEmbed::new()
        .title(p.title)
        .description(p.description)
        .fields(p.fields.into_iter().map(|(k, v)| (k, v, true)))
        .footer(CreateEmbedFooter::new(p.footer))
        .colour(colour)
}

/// The card's buttons: the actions the domain offers ([`offered`]), each with custom id
/// `{action}:{ticket}` ([`CardAction::name`], which is also the command it runs).
pub fn components(card: &CardView) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = offered(card.status, card.assignee.is_some())
        .into_iter()
        .map(|a| {
            let style = match a {
                CardAction::Claim => ButtonStyle::Primary,
                CardAction::Reply => ButtonStyle::Success,
                _ => ButtonStyle::Secondary,
            };
            CreateButton::new(format!("{}:{}", a.name(), card.number))
                .label(a.label())
                .style(style)
        })
        .collect();
    if buttons.is_empty() {
        Vec::new()
    } else {
        vec![CreateActionRow::Buttons(buttons)]
    }
}

//! A ticket's card as Block Kit (<https://api.slack.com/reference/block-kit/blocks>): the
//! headline and status, the facts as fields, sender and preview, the attachment list, and the
//! buttons the domain offers (`crate::domain::actions::offered`).

use slack_morphism::prelude::*;

use super::{MESSAGE_BLOCKS_MAX, SECTION_FIELDS_MAX, SECTION_FIELD_MAX, SECTION_TEXT_MAX};
use crate::desk::messages::{self, Mention};
use crate::desk::query::truncate;
use crate::desk::CardView;
use crate::domain::actions::{offered, CardAction};

pub(super) fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(
            truncate(text, SECTION_TEXT_MAX),
        )))
        .into()
}

fn button(label: &str, action_id: &str, value: &str, primary: bool) -> SlackActionBlockElement {
    let b = SlackBlockButtonElement::new(SlackBlockPlainText::new(label.to_string()).into())
        .with_action_id(action_id.to_string().into())
        .with_value(value.to_string());
    let b = if primary {
        b.with_style(SlackBlockButtonStyle::Primary)
    } else {
        b
    };
    SlackActionBlockElement::Button(b)
}

/// The card's facts (status, assignee with time since the claim, priority, when the
/// customer last wrote, message count) as a section block's `fields`, each `*Label*\nvalue`
/// within Slack's field limits.
fn facts(card: &CardView) -> SlackBlock {
    let fields: Vec<SlackBlockText> = messages::card_facts(card, Mention::Slack)
        .into_iter()
        .take(SECTION_FIELDS_MAX)
        .map(|(k, v)| {
            SlackBlockText::MarkDown(SlackBlockMarkDownText::new(truncate(
                &format!("*{k}*\n{v}"),
                SECTION_FIELD_MAX,
            )))
        })
        .collect();
    SlackSectionBlock::new().with_fields(fields).into()
}

/// The card as Block Kit: headline and status, the facts as fields, sender and preview, and
/// the buttons the domain offers ([`offered`]); at most [`MESSAGE_BLOCKS_MAX`] blocks, every text within
/// its limit (long previews end in `…`; the full text stays stored).
pub fn card_content(card: &CardView) -> SlackMessageContent {
    let status = messages::status_line(card, Mention::Slack);
    let mut blocks = vec![
        section(&format!(
            "*{}*\n{status}",
            messages::headline(card, Mention::Slack)
        )),
        facts(card),
        section(&format!(
            "{}\n>>> {}",
            messages::from_line(card, Mention::Slack),
            messages::preview(card, Mention::Slack)
        )),
    ];
    let files = messages::attachment_lines(card, Mention::Slack);
    if !files.is_empty() {
        blocks.push(section(&format!("*Attachments*\n{}", files.join("\n"))));
    }
    let buttons: Vec<SlackActionBlockElement> = offered(card.status, card.assignee.is_some())
        .into_iter()
        .map(|a| button(a.label(), a.name(), &card.number, a == CardAction::Claim))
        .collect();
    if !buttons.is_empty() {
        blocks.push(SlackActionsBlock::new(buttons).into());
    }
    blocks.truncate(MESSAGE_BLOCKS_MAX);
    SlackMessageContent::new()
        .with_text(truncate(
            &format!("{} — {status}", messages::headline(card, Mention::Slack)),
            SECTION_TEXT_MAX,
        ))
        .with_blocks(blocks)
}

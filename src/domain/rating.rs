//! A customer's rating of a resolved ticket (good or bad, with an optional comment), with no
//! I/O: the two values, when a ticket may be rated, and how a typed comment is cleaned.

use crate::domain::Status;

/// Longest comment kept, in characters (the `ticket_ratings.comment` check, migration 0022).
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Good or bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rating {
    /// The customer was helped.
    Good,
    /// The customer was not.
    Bad,
}

impl Rating {
    /// Stored name (`ticket_ratings.rating`) and the `r` of a rating link: `good` or `bad`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::Bad => "bad",
        }
    }

    /// `good` or `bad` (exactly, as the links and forms send them); `None` for anything else.
    pub fn parse(s: &str) -> Option<Rating> {
        match s {
            "good" => Some(Rating::Good),
            "bad" => Some(Rating::Bad),
            _ => None,
        }
    }
}

/// Whether a ticket in `status` may be rated (or its rating changed): once it is resolved or
/// closed. A reopened ticket keeps the rating it had but takes no new one until it is done.
pub fn may_rate(status: Status) -> bool {
    matches!(status, Status::Resolved | Status::Closed)
}

/// Why a comment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// Longer than [`MAX_COMMENT_CHARS`] after cleaning.
    #[error("the comment has {0} characters; at most {MAX_COMMENT_CHARS} are kept")]
    TooLong(usize),
}

/// The comment as it is stored: control characters (but newline and tab) and Unicode bidi
/// overrides removed, `\r\n` made `\n`, surrounding white space trimmed; `None` when nothing
/// is left.
///
/// Errors: [`CommentError::TooLong`] past [`MAX_COMMENT_CHARS`] (nothing is cut silently).
pub fn clean_comment(typed: &str) -> Result<Option<String>, CommentError> {
    let kept: String = typed
        .replace("\r\n", "\n")
        .chars()
        .filter(|&c| {
            (c == '\n' || c == '\t' || !c.is_control())
                && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let kept = kept.trim();
    if kept.is_empty() {
        return Ok(None);
    }
    let n = kept.chars().count();
    if n > MAX_COMMENT_CHARS {
        return Err(CommentError::TooLong(n));
    }
    Ok(Some(kept.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_words_are_ratings() {
        assert_eq!(Rating::parse("good"), Some(Rating::Good));
        assert_eq!(Rating::parse("bad"), Some(Rating::Bad));
        for s in [
            "", "Good", "GOOD", " good", "good ", "1", "5", "neutral", "bad\0",
        ] {
            assert_eq!(Rating::parse(s), None, "{s:?}");
        }
        for r in [Rating::Good, Rating::Bad] {
            assert_eq!(Rating::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn only_done_tickets_are_rated() {
        for s in Status::ALL {
            assert_eq!(
                may_rate(s),
                matches!(s, Status::Resolved | Status::Closed),
                "{s:?}"
            );
        }
    }

    #[test]
    fn comments_are_cleaned_and_bounded() {
        assert_eq!(clean_comment(""), Ok(None));
        assert_eq!(clean_comment(" \r\n\t "), Ok(None));
        assert_eq!(
            clean_comment("  Thanks!\r\nFast.\u{0007}\u{202E}  "),
            Ok(Some("Thanks!\nFast.".into()))
        );
        assert_eq!(
            clean_comment("<script>alert(1)</script>"),
            Ok(Some("<script>alert(1)</script>".into())),
            "kept as typed; escaped where shown"
        );
        let max = "é".repeat(MAX_COMMENT_CHARS);
        assert_eq!(clean_comment(&max), Ok(Some(max.clone())));
        assert_eq!(
            clean_comment(&format!("{max}x")),
            Err(CommentError::TooLong(MAX_COMMENT_CHARS + 1))
        );
    }
}

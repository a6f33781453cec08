//! Words of the web view (`crate::web::ui`) and of its emails: page titles, the sign-in
//! pages and email, flash messages after actions. Shared by the web helpers: add functions,
//! keep the others' in place. Text we did not write is placed by the page templates, which
//! escape it (maud); nothing here is HTML.

use crate::domain::rating::Rating;
use crate::domain::Status;

/// The product name shown in titles and the navigation.
pub const PRODUCT: &str = "claimdesk";

/// The `<title>` of a page: `<what> · claimdesk`.
pub fn title(what: &str) -> String {
    format!("{what} · {PRODUCT}")
}

/// Title of the sign-in page.
pub const SIGNIN_TITLE: &str = "Sign in";

/// What the sign-in page asks.
pub const SIGNIN_PROMPT: &str =
    "Enter your agent email address. We will send you a link that signs you in.";

/// Label of the email field on the sign-in page.
pub const SIGNIN_EMAIL_LABEL: &str = "Agent email address";

/// The sign-in form's button.
pub const SIGNIN_SEND: &str = "Send me a sign-in link";

/// What the sign-in page says after a link was requested — the same for every address, so
/// it does not tell who is an agent.
pub fn signin_sent(minutes: i64) -> String {
    format!(
        "If that address belongs to an agent of this desk, a sign-in link is on its way. \
         It works once, within {minutes} minutes."
    )
}

/// Shown when too many sign-in attempts came from one address or one client.
pub fn signin_rate_limited(minutes: i64) -> String {
    format!("Too many sign-in attempts. Please wait {minutes} minutes and try again.")
}

/// The link page (GET `/signin/{token}`): a button, so a mail scanner opening the link does
/// not use it up.
pub const SIGNIN_LINK_PROMPT: &str = "Press the button to finish signing in to the desk.";

/// The link page's button.
pub const SIGNIN_LINK_BUTTON: &str = "Sign in";

/// A sign-in link that is unknown, used or expired.
pub const SIGNIN_LINK_INVALID: &str =
    "This sign-in link has expired or was already used. Request a new one below.";

/// The subject of the sign-in email.
pub const SIGNIN_EMAIL_SUBJECT: &str = "Your claimdesk sign-in link";

/// The body of the sign-in email for agent `name`.
pub fn signin_email(name: &str, link: &str, minutes: i64) -> String {
    format!(
        "Hello {name},\n\nOpen this link to sign in to the help desk:\n\n{link}\n\n\
         It works once, within {minutes} minutes. If you did not ask to sign in, ignore this \
         email: nobody can sign in without the link.\n"
    )
}

/// Flash after signing out.
pub const SIGNED_OUT: &str = "You are signed out.";

/// A form posted without the session's CSRF token.
pub const CSRF_REFUSED: &str =
    "This form has expired or did not come from this desk. Reload the page and try again.";

/// The skip link at the top of every page.
pub const SKIP_TO_CONTENT: &str = "Skip to content";

/// Navigation labels: My tickets, Unassigned, All, Search, Workload, Sign out.
pub const NAV: [&str; 5] = ["My tickets", "Unassigned", "All", "Search", "Workload"];

/// The sign-out button.
pub const SIGN_OUT: &str = "Sign out";

/// Title of list `which` (`mine`, `unassigned`, `all`).
pub fn list_title(which: &str) -> &'static str {
    match which {
        "mine" => "My tickets",
        "unassigned" => "Unassigned",
        _ => "All tickets",
    }
}

/// An empty list.
pub const LIST_EMPTY: &str = "No tickets match.";

/// The link to the next page of a list.
pub const NEXT_PAGE: &str = "Next page";

/// A filter value in a query string that is not one the page knows.
pub fn bad_filter(name: &str, value: &str, known: &str) -> String {
    format!("Unknown {name} “{value}”: use one of {known}.")
}

/// Flash after a successful action on ticket `number`: `what` is claim, unclaim, reply, note,
/// status, priority, assign.
pub fn action_done(what: &str, number: &str, detail: &str) -> String {
    match what {
        "claim" => format!("You claimed {number}."),
        "unclaim" => format!("{number} is back in the queue."),
        "reply" => format!("Reply to {detail} queued for sending on {number}."),
        "note" => format!("Internal note added to {number}."),
        "status" => format!("{number} is now {detail}."),
        "priority" => format!("{number} has priority {detail} now."),
        "assign" => format!("{number} is assigned to @{detail}."),
        _ => format!("Done: {what} on {number}."),
    }
}

/// The label of an internal note on the ticket page.
pub const NOTE_LABEL: &str = "Internal note — never emailed";

/// The label of a customer message.
pub const CUSTOMER_LABEL: &str = "Customer";

/// The label of one of our replies.
pub const REPLY_LABEL: &str = "Our reply";

/// Shown above the reply box: who the reply goes to.
pub fn reply_recipient(to: &str) -> String {
    format!("The reply is emailed to {to}.")
}

/// A ticket page for a ticket that does not exist (or a number that is not one).
pub const NO_SUCH_PAGE: &str = "There is no such page.";

/// The attachment whose content was not kept.
pub const ATTACHMENT_NOT_KEPT: &str = "This attachment's content was not kept.";

// ---------------------------------------------------------------------------------------------
// Customer status page and ratings (webcustomer)

/// The line the acknowledgement email adds for the customer's status page (`url` is ours,
/// signed: `<public_url>/status/<token>`).
pub fn status_link_line(url: &str) -> String {
    format!(
        "\nYou can follow your request online, without signing in: {url}\n\
         (Keep this link to yourself: anyone who has it can read the conversation.)\n"
    )
}

/// The status page's title and heading: "Your request TICK-2026-0001".
pub fn status_title(number: &str) -> String {
    format!("Your request {number}")
}

/// A status as the customer reads it (no internal words such as "claimed").
pub fn customer_status(s: Status) -> &'static str {
    match s {
        Status::PendingAssignment | Status::Open => "Received — waiting for a member of our team",
        Status::Claimed | Status::InProgress => "In progress — a member of our team is on it",
        Status::Waiting => "Waiting for your answer",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
        Status::Merged => "Merged into another request",
    }
}

/// Label of the status line.
pub const STATUS_LABEL: &str = "Status";
/// Label of the subject line.
pub const SUBJECT_LABEL: &str = "Subject";
/// Label of the opened line.
pub const OPENED_LABEL: &str = "Opened";
/// Heading of the conversation.
pub const CONVERSATION_HEADING: &str = "Messages";
/// Shown instead of the conversation when there is none yet.
pub const NO_MESSAGES: &str = "No messages yet.";
/// Who wrote a message, for the customer: ours.
pub const FROM_US: &str = "Our team";
/// Who wrote a message, for the customer: theirs (followed by the sender).
pub const FROM_YOU: &str = "You";
/// How to add to the conversation (the page is read-only).
pub const REPLY_BY_EMAIL: &str = "To add something, reply to any of our emails about this request.";

/// A merged ticket's page: where the conversation went.
pub fn merged_into(number: &str) -> String {
    format!("This request was joined with {number}; our answers continue there by email.")
}

/// Heading of the rating section.
pub const RATE_HEADING: &str = "How did we do?";
/// The question above the two rating buttons.
pub const RATE_QUESTION: &str = "Was your request handled well?";

/// The one-click link's or button's words for a rating (words, not emoji: a customer's
/// browser may have no emoji font).
pub fn rate_button(r: Rating) -> &'static str {
    match r {
        Rating::Good => "Good — my request was handled well",
        Rating::Bad => "Bad — it was not",
    }
}

/// The rating as the customer reads it back.
pub fn rating_word(r: Rating) -> &'static str {
    match r {
        Rating::Good => "good",
        Rating::Bad => "bad",
    }
}

/// What the status page says once rated.
pub fn you_rated(r: Rating) -> String {
    format!(
        "You rated this request {}. Thank you! You can change your rating at any time.",
        rating_word(r)
    )
}

/// The rating page's title.
pub fn rate_title(number: &str) -> String {
    format!("Rate your request {number}")
}

/// The rating page (GET) before anything is recorded: the one-click link opened this page,
/// and only the button below records (link scanners that prefetch emails do not vote).
pub fn rate_confirm(r: Rating) -> String {
    format!(
        "You are rating this request {}. Press the button to send your rating; you may add a comment.",
        rating_word(r)
    )
}

/// Label of the rating choice (radio buttons) on the rating page.
pub const RATE_CHOICE_LABEL: &str = "Your rating";
/// Label of the comment box on the rating page.
pub const COMMENT_LABEL: &str = "Comment (optional)";
/// The rating page's submit button.
pub const RATE_SUBMIT: &str = "Send rating";
/// Link back to the status page.
pub const BACK_TO_STATUS: &str = "Back to your request";

/// After the rating was recorded (POST).
pub fn rated(r: Rating, changed: bool) -> String {
    if changed {
        format!(
            "Your rating is changed to {}. Thank you for telling us.",
            rating_word(r)
        )
    } else {
        format!("Thank you — your rating ({}) is recorded.", rating_word(r))
    }
}

/// A ticket that is not resolved or closed cannot be rated (yet).
pub fn not_ratable(number: &str) -> String {
    format!("{number} is not resolved yet. You can rate it once it is.")
}

/// A rating form sent without a valid rating (neither `good` nor `bad`).
pub const RATE_PICK_ONE: &str = "Please choose good or bad.";

/// A comment that is too long (the error says by how much); the typed text is shown again.
pub fn comment_refused(why: &str) -> String {
    format!("Your comment was not saved: {why}. Please shorten it and send again.")
}

/// Title of the page every bad, forged or unknown link gets (404), and of links that are
/// turned off.
pub const LINK_NOT_FOUND_TITLE: &str = "Link not found";
/// Body of that page.
pub const LINK_NOT_FOUND: &str = "This link is not valid. Please use the link in the latest \
     email about your request, or reply to that email.";
/// When the desk could not read or store (500): nothing was changed.
pub const CUSTOMER_TRY_AGAIN: &str =
    "Something went wrong on our side and nothing was changed. Please try again in a moment.";

// Agents' side of ratings (chat `ticket`, the web ticket page, `stats`).

/// Label of the rating on the web ticket page.
pub const CUSTOMER_RATING_LABEL: &str = "Customer rating";

/// A customer rating for agents: "👍 good", or "👎 bad — “too slow”". The comment is the
/// customer's text: the caller escapes it for its surface (a web page's template does).
pub fn rating_summary(r: Rating, comment: Option<&str>) -> String {
    let face = match r {
        Rating::Good => "👍",
        Rating::Bad => "👎",
    };
    match comment {
        Some(c) => format!("{face} {} — “{c}”", rating_word(r)),
        None => format!("{face} {}", rating_word(r)),
    }
}

/// One line with a ticket's customer rating for agents: "Customer rating: 👍 good" (see
/// [`rating_summary`] for the comment).
pub fn agent_rating_line(r: Rating, escaped_comment: Option<&str>) -> String {
    format!(
        "{CUSTOMER_RATING_LABEL}: {}",
        rating_summary(r, escaped_comment)
    )
}

/// `stats`' ratings line: counts and the share of good ratings (none: says so).
pub fn ratings_stats_line(good: i64, bad: i64) -> String {
    let total = good + bad;
    if total == 0 {
        return "Customer ratings: none in this range".into();
    }
    let pct = 100.0 * good as f64 / total as f64;
    format!("Customer ratings: {good} good · {bad} bad ({pct:.0}% good)")
}

// --- Search (`/search`) and the live feed (`/assets/live.js`), websearch's part. ---

/// Title of the search page.
pub const SEARCH_TITLE: &str = "Search";

/// Label of the search box.
pub const SEARCH_LABEL: &str = "Words, a ticket number, a Message-ID or a customer's email address";

/// The search button.
pub const SEARCH_BUTTON: &str = "Search";

/// How the search box can be used (shown under it).
pub const SEARCH_HINT: &str = "Words are matched in subjects and messages. \
     Use \"quotes\" for a phrase, or for either word, and -word to leave out \
     subjects and messages with that word.";

/// Nothing matched `query`.
pub fn search_none(query: &str) -> String {
    format!("Nothing matches “{query}”.")
}

/// `query` has nothing that can be searched for.
pub fn search_no_words(query: &str) -> String {
    format!("“{query}” has no words to search for. Try a word from the subject or the mail.")
}

/// How many tickets matched `query`, on page `page` (results `first..=last` of `total`).
pub fn search_count(query: &str, total: i64, first: i64, last: i64) -> String {
    match total {
        1 => format!("1 ticket matches “{query}”."),
        _ => format!("{total} tickets match “{query}”; showing {first}–{last}."),
    }
}

/// When the search did not rank every match (`store::search::Hits::capped`): more than
/// `window` messages or subjects matched, or the words are so common that only the latest
/// messages were read.
pub fn search_capped(window: i64) -> String {
    format!(
        "These words are common: only the most recent messages were searched, and the best \
         of at most {window} matches are shown. Add a word to narrow the search."
    )
}

/// No match, but the search was capped: common words that seldom meet were looked for in
/// the latest `rows` messages and subjects only.
pub fn search_none_capped(query: &str, rows: i64) -> String {
    format!(
        "No ticket among the latest {rows} messages matches “{query}”; older ones were not \
         searched because these words are common. Add a rarer word or search a phrase."
    )
}

/// Heading of a requester's tickets.
pub fn search_requester(address: &str) -> String {
    format!("Tickets from {address}, newest first")
}

/// Column headings of the search results: ticket, subject and snippet, status, requester,
/// holder, opened.
pub const SEARCH_COLUMNS: [&str; 6] = [
    "Ticket",
    "Subject",
    "Status",
    "Requester",
    "Holder",
    "Opened",
];

/// Shown for a ticket nobody holds.
pub const SEARCH_UNHELD: &str = "—";

/// Label of the snippet of the best matching message.
pub const SEARCH_SNIPPET_LABEL: &str = "In a message:";

/// Link to the previous page of results.
pub const SEARCH_PREVIOUS: &str = "Previous page";

/// Link to the next page of results.
pub const SEARCH_NEXT: &str = "Next page";

/// Accessible name of the results' page navigation.
pub const SEARCH_PAGES: &str = "Result pages";

/// Announced (aria-live) when a list page was refreshed by the live feed.
pub const LIVE_LIST_UPDATED: &str = "The list was updated.";

/// Announced when one new ticket appeared on a list page.
pub const LIVE_NEW_ONE: &str = "1 new ticket in the list.";

/// Announced when several new tickets appeared: `{n}` is replaced by the count.
pub const LIVE_NEW_MANY: &str = "{n} new tickets in the list.";

/// Announced when the open ticket changed.
pub const LIVE_TICKET_UPDATED: &str = "This ticket was updated.";

#[cfg(test)]
mod customer_tests {
    use super::*;

    #[test]
    fn stats_line_counts_and_rounds() {
        assert_eq!(
            ratings_stats_line(0, 0),
            "Customer ratings: none in this range"
        );
        assert_eq!(
            ratings_stats_line(3, 1),
            "Customer ratings: 3 good · 1 bad (75% good)"
        );
        assert_eq!(
            ratings_stats_line(2, 1),
            "Customer ratings: 2 good · 1 bad (67% good)"
        );
        assert_eq!(
            ratings_stats_line(0, 4),
            "Customer ratings: 0 good · 4 bad (0% good)"
        );
    }

    #[test]
    fn every_status_has_a_customer_word_without_internal_terms() {
        for s in Status::ALL {
            let w = customer_status(s).to_lowercase();
            assert!(!w.contains("claim") && !w.contains("pending"), "{s:?}: {w}");
        }
    }
}

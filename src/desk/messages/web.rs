//! Words of the web view (`crate::web::ui`) and of its emails: page titles, the sign-in
//! pages and email, flash messages after actions. Shared by the web helpers: add functions,
//! keep the others' in place. Text we did not write is placed by the page templates, which
//! escape it (maud); nothing here is HTML.

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

/// When more than `window` messages or subjects matched: only the latest were ranked.
pub fn search_capped(window: i64) -> String {
    format!(
        "Many messages match: the best of the latest {window} matches are shown. \
         Add a word to narrow the search."
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

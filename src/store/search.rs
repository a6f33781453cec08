//! Search (the web view's `/search`, issue 12): PostgreSQL full-text search over ticket
//! subjects (`tickets.search_vector`) and message bodies (`messages.search_vector`), both
//! generated columns with GIN indexes (migrations/0021_search.sql, which explains the
//! 'simple' configuration and the NFKC normalisation), and the exact lookups by Message-ID and
//! requester address. Reads only.
//!
//! Ranking at scale: a word in a quarter of five million messages cannot be ranked in full
//! within 100 ms. So each source contributes its [`WINDOW`] most recent matches (newest rows
//! first: PostgreSQL then walks the primary key backwards and stops early for a common word,
//! or reads the GIN index for a rare one), and those candidates are ranked with `ts_rank`
//! (a subject match counts double, a ticket's best message counts) and paged. When a source
//! fills its window, [`Hits::capped`] says so and the page says that only the latest matches
//! were ranked. Snippets (`ts_headline`) are made for the rows of the page only, from the
//! first [`HEADLINE_CHARS`] characters of the text, with [`MARK_START`]/[`MARK_END`] around
//! matches: the caller escapes the text and then turns the markers into `<mark>`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::search::{MARK_END, MARK_START};

/// Most recent matches taken from each source (subjects, message bodies) before ranking.
pub const WINDOW: i64 = 1000;

/// Characters of a subject or body that `ts_headline` reads for a snippet (it parses the
/// whole text it is given: 64 K characters take ~7 ms, 16 K under 2 ms).
pub const HEADLINE_CHARS: i32 = 16_384;

/// A ticket as a result row shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Listed {
    /// Row id.
    pub id: i64,
    /// `TICK-2026-0001`.
    pub number: String,
    /// Subject as stored (for a full-text hit: with highlight markers).
    pub subject: String,
    /// Stored status name.
    pub status: String,
    /// Stored priority name.
    pub priority: String,
    /// Department.
    pub department: String,
    /// Requester address.
    pub requester: String,
    /// Holder's handle.
    pub assignee: Option<String>,
    /// When its first message reached our server.
    pub opened_at: DateTime<Utc>,
    /// When it was stored (the requester list's keyset).
    pub created_at: DateTime<Utc>,
}

/// One full-text result: a ticket, its score and a snippet.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The ticket; `subject` carries highlight markers around matched words.
    pub ticket: Listed,
    /// Score: 2 × `ts_rank` of the subject + `ts_rank` (length-normalised, flag 1) of the
    /// best matching message; higher first.
    pub rank: f32,
    /// Row id of the best matching message, when a body matched.
    pub message_id: Option<i64>,
    /// Fragments of that message's body around the matches, with highlight markers
    /// (`None` when only the subject matched).
    pub snippet: Option<String>,
}

/// A page of full-text results.
#[derive(Debug, Clone, PartialEq)]
pub struct Hits {
    /// The page, best first (ties: newest ticket first).
    pub hits: Vec<Hit>,
    /// Tickets among the candidates (the number of results that can be paged through).
    pub total: i64,
    /// Whether a source had more than [`WINDOW`] matches, so only the latest were ranked.
    pub capped: bool,
}

/// `text` as a tsquery for [`full_text`] (`websearch_to_tsquery('simple', …)` over the same
/// normalisation as the indexed text), in its text form; `None` when it has no searchable
/// word (only punctuation, `-`, `or`). Never a syntax error: websearch_to_tsquery reads any
/// text. `text` must not contain NUL (see `domain::search::clean`).
///
/// Errors: the database's.
pub async fn tsquery(conn: &mut PgConnection, text: &str) -> Result<Option<String>, sqlx::Error> {
    let (q, nodes): (String, i32) = sqlx::query_as(
        "SELECT q::text, numnode(q) FROM \
         (SELECT websearch_to_tsquery('simple', claimdesk_search_text($1)) AS q) s",
    )
    .bind(text)
    .fetch_one(&mut *conn)
    .await?;
    Ok((nodes > 0).then_some(q))
}

/// The `ts_headline` options: markers, fragments of up to 30 words around matches.
fn headline_options(all: bool) -> String {
    if all {
        format!("StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true")
    } else {
        format!(
            "StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, ShortWord=2, \
             MaxFragments=2, FragmentDelimiter=\" … \""
        )
    }
}

/// The full-text query: candidates, scores, the page, snippets for the page's rows only.
/// `$1` tsquery text, `$2` window, `$3` offset, `$4` limit, `$5`/`$6` headline options
/// (body, subject), `$7` headline characters.
const FULL_TEXT: &str = "
WITH subj AS (
    SELECT t.id AS ticket_id, ts_rank(t.search_vector, $1::tsquery) AS rank
    FROM tickets t
    WHERE t.search_vector @@ $1::tsquery AND t.merged_into IS NULL
    ORDER BY t.id DESC LIMIT $2
), body AS (
    SELECT m.ticket_id, m.id AS message_id, ts_rank(m.search_vector, $1::tsquery, 1) AS rank
    FROM messages m
    WHERE m.search_vector @@ $1::tsquery
    ORDER BY m.id DESC LIMIT $2
), best AS (
    SELECT DISTINCT ON (ticket_id) ticket_id, message_id, rank
    FROM body ORDER BY ticket_id, rank DESC, message_id DESC
), scored AS (
    SELECT COALESCE(s.ticket_id, b.ticket_id) AS ticket_id, b.message_id,
           (2 * COALESCE(s.rank, 0) + COALESCE(b.rank, 0))::real AS score
    FROM subj s FULL JOIN best b ON b.ticket_id = s.ticket_id
), page AS (
    SELECT * FROM scored ORDER BY score DESC, ticket_id DESC OFFSET $3 LIMIT $4
)
SELECT t.id, t.number,
       ts_headline('simple',
           replace(replace(claimdesk_search_text(left(t.subject, $7)), U&'\\E000', ''), U&'\\E001', ''),
           $1::tsquery, $6) AS subject,
       t.status, t.priority, t.department, t.requester_email AS requester, a.handle AS assignee,
       COALESCE(t.opened_at, t.created_at) AS opened_at, t.created_at,
       p.score, p.message_id,
       CASE WHEN m.id IS NOT NULL THEN ts_headline('simple',
           replace(replace(claimdesk_search_text(left(m.body_text, $7)), U&'\\E000', ''), U&'\\E001', ''),
           $1::tsquery, $5) END AS snippet,
       (SELECT count(*) FROM scored) AS total,
       (SELECT count(*) FROM subj) >= $2 OR (SELECT count(*) FROM body) >= $2 AS capped
FROM page p
JOIN tickets t ON t.id = p.ticket_id
LEFT JOIN agents a ON a.id = t.assignee_id
LEFT JOIN messages m ON m.id = p.message_id
ORDER BY p.score DESC, p.ticket_id DESC";

#[derive(sqlx::FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    ticket: Listed,
    score: f32,
    message_id: Option<i64>,
    snippet: Option<String>,
    total: i64,
    capped: bool,
}

/// Page `offset..offset + limit` of the tickets matching `tsquery` (from [`tsquery`]),
/// ranked as the module says. An offset past the end gives an empty page (`total` is then 0
/// too: it is read from the page's rows).
///
/// Planned for the query's own words every time (an unnamed statement: PostgreSQL then
/// estimates how common each word is and picks the primary key or the GIN index per query).
///
/// Errors: the database's (a malformed `tsquery` text is one).
pub async fn full_text(
    conn: &mut PgConnection,
    tsquery: &str,
    offset: i64,
    limit: i64,
) -> Result<Hits, sqlx::Error> {
    let rows: Vec<HitRow> = sqlx::query_as(FULL_TEXT)
        .bind(tsquery)
        .bind(WINDOW)
        .bind(offset.max(0))
        .bind(limit.clamp(1, 200))
        .bind(headline_options(false))
        .bind(headline_options(true))
        .bind(HEADLINE_CHARS)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let capped = rows.first().is_some_and(|r| r.capped);
    Ok(Hits {
        hits: rows
            .into_iter()
            .map(|r| Hit {
                ticket: r.ticket,
                rank: r.score,
                message_id: r.message_id,
                snippet: r.snippet,
            })
            .collect(),
        total,
        capped,
    })
}

/// The ticket holding the message whose Message-ID (without angle brackets, as stored; see
/// `domain::limits::fit_msg_id` for long ones) is `msg_id`, or that a message named in
/// In-Reply-To/References (`thread_keys`): its number. Exact, case-sensitive (the local part
/// of a msg-id is).
///
/// Errors: the database's.
pub async fn ticket_of_msg_id(
    conn: &mut PgConnection,
    msg_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = $1
         UNION ALL
         SELECT t.number FROM thread_keys k JOIN tickets t ON t.id = k.ticket_id WHERE k.msg_id = $1
         LIMIT 1",
    )
    .bind(msg_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Where a page of a requester's tickets starts: after the ticket stored at `created_at`
/// with row id `id` (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequesterCursor {
    /// `tickets.created_at` of the last row shown.
    pub created_at: DateTime<Utc>,
    /// Its row id.
    pub id: i64,
}

/// Up to `limit` tickets of requester `address` (exact, as stored: lower-case ASCII), newest
/// first, after `after`. Keyset-paged on `tickets_requester_created_idx`.
///
/// Errors: the database's.
pub async fn by_requester(
    conn: &mut PgConnection,
    address: &str,
    after: Option<RequesterCursor>,
    limit: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.number, t.subject, t.status, t.priority, t.department,
                t.requester_email AS requester, a.handle AS assignee,
                COALESCE(t.opened_at, t.created_at) AS opened_at, t.created_at
         FROM tickets t LEFT JOIN agents a ON a.id = t.assignee_id
         WHERE t.requester_email = $1
           AND ($2::timestamptz IS NULL OR (t.created_at, t.id) < ($2, $3))
         ORDER BY t.created_at DESC, t.id DESC
         LIMIT $4",
    )
    .bind(address)
    .bind(after.map(|c| c.created_at))
    .bind(after.map_or(0, |c| c.id))
    .bind(limit.clamp(1, 200))
    .fetch_all(&mut *conn)
    .await
}

/// What [`explain`] shows.
#[derive(Debug, Clone, Copy)]
pub enum Explained<'a> {
    /// [`full_text`] of a tsquery text, first page of `limit`.
    FullText(&'a str, i64),
    /// [`by_requester`], first page of `limit`.
    Requester(&'a str, i64),
    /// [`ticket_of_msg_id`].
    MsgId(&'a str),
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of a search query as [`full_text`], [`by_requester`] and
/// [`ticket_of_msg_id`] run it (for the web bench): the plan's lines.
///
/// Errors: the database's.
pub async fn explain(
    conn: &mut PgConnection,
    what: Explained<'_>,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = match what {
        Explained::FullText(q, limit) => {
            sqlx::query_as(&format!("EXPLAIN (ANALYZE, BUFFERS) {FULL_TEXT}"))
                .bind(q)
                .bind(WINDOW)
                .bind(0i64)
                .bind(limit)
                .bind(headline_options(false))
                .bind(headline_options(true))
                .bind(HEADLINE_CHARS)
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?
        }
        Explained::Requester(address, limit) => {
            sqlx::query_as(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT t.id, t.number FROM tickets t \
                 LEFT JOIN agents a ON a.id = t.assignee_id WHERE t.requester_email = $1 \
                 ORDER BY t.created_at DESC, t.id DESC LIMIT $2",
            )
            .bind(address)
            .bind(limit)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?
        }
        Explained::MsgId(id) => {
            sqlx::query_as(
                "EXPLAIN (ANALYZE, BUFFERS) \
                 SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = $1 \
                 UNION ALL \
                 SELECT t.number FROM thread_keys k JOIN tickets t ON t.id = k.ticket_id WHERE k.msg_id = $1 \
                 LIMIT 1",
            )
            .bind(id)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    Ok(rows.into_iter().map(|r| r.0).collect())
}

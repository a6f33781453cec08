//! Search (the web view's `/search`, issue 12): PostgreSQL full-text search over ticket
//! subjects (`tickets.search_vector`) and message bodies (`messages.search_vector`), both
//! generated columns with GIN indexes (migrations/0021_search.sql, which explains the
//! 'simple' configuration and the NFKC normalisation), and the exact lookups by Message-ID and
//! requester address. Reads only.
//!
//! Ranking at scale: a word in a quarter of five million messages cannot be ranked in full
//! within 100 ms. So each source contributes its [`WINDOW`] most recent matches, and those
//! candidates are ranked with `ts_rank` (a subject match counts double, a ticket's best
//! message counts) and paged. Snippets (`ts_headline`) are made for the rows of the page only,
//! from the first [`HEADLINE_CHARS`] characters of the text, with [`MARK_START`]/[`MARK_END`]
//! around matches: the caller escapes the text and then turns the markers into `<mark>`.
//!
//! Finding the latest matches of a source takes one of two paths, chosen per query and source
//! from the column statistics (`pg_stats.most_common_elems`: the share of rows holding each
//! frequent lexeme), because the planner cannot choose well itself — it guesses 0.5 % of rows
//! for a word it has no statistics for, and multiplies shares for `a & b`, so a rare word made
//! it walk 5,000,000 rows (1.3–2 s) and two common words that never meet likewise:
//! - **index** ([`Path::Index`]): a GIN bitmap scan of every match, sorted newest first. Its
//!   cost is the posting lists it reads plus the rows it fetches (for a phrase every row
//!   holding all its words, which are rechecked); estimated by `domain::search::gin_cost`
//!   and taken when under [`INDEX_BUDGET_US`] — rare and absent words, a rare word with common
//!   ones.
//! - **walk** ([`Path::Walk`]): the newest rows by primary key, backwards, filtered, stopping
//!   at [`WINDOW`] matches — immediate for a common word — but after at most [`WALK_ROWS`]
//!   rows. A query whose index scan would be dear and that matches less than one row in
//!   [`WALK_ROWS`] / [`WINDOW`] (two common words that seldom meet, a phrase of common words)
//!   is then answered from the latest [`WALK_ROWS`] rows only, and [`Hits::capped`] says so.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection};

use crate::domain::search::{gin_cost, lexemes, parse_tsquery, MARK_END, MARK_START};

/// Most recent matches taken from each source (subjects, message bodies) before ranking.
pub const WINDOW: i64 = 1000;

/// Most rows of a source the walk path examines (newest first): 1–4 µs a row, 10–40 ms.
pub const WALK_ROWS: i64 = 10_000;

/// Most estimated work, µs, for which a source is searched through its GIN index.
pub const INDEX_BUDGET_US: f64 = 30_000.0;

/// Estimated cost of one posting-list entry read by a GIN scan, µs (measured: 5,000,000
/// entries in ~440 ms, 2 CPUs, Intel Xeon).
const POSTING_US: f64 = 0.1;

/// Estimated cost of one row fetched (and rechecked) by a bitmap heap scan, µs.
const HEAP_ROW_US: f64 = 3.0;

/// The share of rows assumed for a lexeme the statistics do not list when the list is not
/// full (every lexeme seen often enough in ANALYZE's sample is listed then, so one missing
/// is rare): ANALYZE's lossy-counting error at the default statistics target.
const UNLISTED_SHARE: f64 = 1e-4;

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
    /// Whether not every match was ranked: a source had more than [`WINDOW`] matches, so only
    /// the latest were, or a source was searched in its latest [`WALK_ROWS`] rows only (see
    /// the module).
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

/// Where full-text matches are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `tickets.search_vector` (subjects), merged tickets left out.
    Subjects,
    /// `messages.search_vector` (bodies).
    Bodies,
}

/// How a source's latest matches are found (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// GIN bitmap scan of every match, newest [`WINDOW`] kept.
    Index,
    /// Primary key backwards, at most [`WALK_ROWS`] rows, stopping at [`WINDOW`] matches.
    Walk,
}

/// The candidate query of a source and path: rows `(ticket_id, message_id, rank)`, newest
/// first. `$1` tsquery text, `$2` window, `$3` (walk only) rows to examine.
fn source_sql(source: Source, path: Path) -> &'static str {
    match (source, path) {
        (Source::Subjects, Path::Index) => {
            "SELECT s.id AS ticket_id, NULL::bigint AS message_id,
                    ts_rank(s.search_vector, $1::tsquery) AS rank
             FROM (SELECT t.id, t.search_vector FROM tickets t
                   WHERE t.search_vector @@ $1::tsquery AND t.merged_into IS NULL
                   ORDER BY t.id DESC LIMIT $2) s
             ORDER BY s.id DESC"
        }
        (Source::Subjects, Path::Walk) => {
            "SELECT s.id AS ticket_id, NULL::bigint AS message_id,
                    ts_rank(s.search_vector, $1::tsquery) AS rank
             FROM (SELECT t.id, t.search_vector, t.merged_into FROM tickets t
                   ORDER BY t.id DESC LIMIT $3) s
             WHERE s.search_vector @@ $1::tsquery AND s.merged_into IS NULL
             ORDER BY s.id DESC LIMIT $2"
        }
        (Source::Bodies, Path::Index) => {
            "SELECT s.ticket_id, s.id AS message_id, ts_rank(s.search_vector, $1::tsquery, 1) AS rank
             FROM (SELECT m.id, m.ticket_id, m.search_vector FROM messages m
                   WHERE m.search_vector @@ $1::tsquery
                   ORDER BY m.id DESC LIMIT $2) s
             ORDER BY s.id DESC"
        }
        (Source::Bodies, Path::Walk) => {
            "SELECT s.ticket_id, s.id AS message_id, ts_rank(s.search_vector, $1::tsquery, 1) AS rank
             FROM (SELECT m.id, m.ticket_id, m.search_vector FROM messages m
                   ORDER BY m.id DESC LIMIT $3) s
             WHERE s.search_vector @@ $1::tsquery
             ORDER BY s.id DESC LIMIT $2"
        }
    }
}

/// `sql` (a [`source_sql`] text, maybe behind `EXPLAIN`) with its parameters bound.
fn source_query<'q, O>(
    sql: &'q str,
    tsquery: &'q str,
    path: Path,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let q = sqlx::query_as(sql)
        .bind(tsquery)
        .bind(WINDOW)
        .persistent(false);
    match path {
        Path::Index => q,
        Path::Walk => q.bind(WALK_ROWS),
    }
}

/// What the statistics say of a source's `search_vector` for the lexemes of one query.
#[derive(Debug, Clone, Default)]
struct SourceStats {
    /// Rows in the table (`pg_class.reltuples`; 0 when never analysed).
    rows: f64,
    /// Share of rows holding each listed lexeme of the query.
    shares: HashMap<String, f64>,
    /// Share assumed for a lexeme not listed.
    unlisted: f64,
}

impl SourceStats {
    fn rows_with(&self, lexeme: &str) -> f64 {
        self.shares.get(lexeme).copied().unwrap_or(self.unlisted) * self.rows
    }
}

/// Per source: table rows, lexemes listed, the rarest listed share, the statistics target,
/// and the shares of `$1`'s lexemes that are listed.
const STATS: &str = "
SELECT c.relname::text AS tbl,
       GREATEST(c.reltuples, 0)::float8 AS rows,
       COALESCE(array_length(s.most_common_elems::text::text[], 1), 0) AS listed,
       s.most_common_elem_freqs[array_length(s.most_common_elems::text::text[], 1) + 1]::float8
           AS rarest,
       COALESCE(NULLIF(a.attstattarget::int, -1),
                current_setting('default_statistics_target')::int) AS target,
       ARRAY(SELECT e.elem FROM unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)
                 AS e(elem, share) WHERE e.elem = ANY($1)) AS elems,
       ARRAY(SELECT e.share::float8 FROM unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)
                 AS e(elem, share) WHERE e.elem = ANY($1)) AS shares
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'search_vector'
LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = c.relname
                     AND s.attname = 'search_vector'
WHERE c.oid IN ('tickets'::regclass, 'messages'::regclass)";

#[derive(sqlx::FromRow)]
struct StatsRow {
    tbl: String,
    rows: f64,
    listed: i32,
    rarest: Option<f64>,
    target: i32,
    elems: Vec<String>,
    shares: Vec<f64>,
}

async fn stats(
    conn: &mut PgConnection,
    lexemes: &[String],
) -> Result<(SourceStats, SourceStats), sqlx::Error> {
    let rows: Vec<StatsRow> = sqlx::query_as(STATS)
        .bind(lexemes)
        .fetch_all(&mut *conn)
        .await?;
    let (mut subjects, mut bodies) = (SourceStats::default(), SourceStats::default());
    for r in rows {
        let unlisted = match r.rarest {
            // No statistics yet: the planner's default share for a tsquery match.
            None => 0.005,
            // A full list (ANALYZE keeps 10 × the target): unlisted lexemes are below the
            // rarest listed one.
            Some(rarest) if i64::from(r.listed) >= 10 * i64::from(r.target.max(1)) => rarest,
            Some(rarest) => rarest.min(UNLISTED_SHARE),
        };
        let st = SourceStats {
            rows: r.rows,
            shares: r.elems.into_iter().zip(r.shares).collect(),
            unlisted,
        };
        match r.tbl.as_str() {
            "tickets" => subjects = st,
            _ => bodies = st,
        }
    }
    Ok((subjects, bodies))
}

/// The path for a source: the index when its estimated cost is under the budget.
fn choose(tree: Option<&crate::domain::search::QueryTree>, st: &SourceStats) -> Path {
    let Some(tree) = tree else {
        return Path::Walk;
    };
    let c = gin_cost(tree, &|l| st.rows_with(l));
    let us = c.postings * POSTING_US + c.rows.min(st.rows) * HEAP_ROW_US;
    if !c.full && us <= INDEX_BUDGET_US {
        Path::Index
    } else {
        Path::Walk
    }
}

/// The paths [`full_text`] takes for `tsquery` (subjects, bodies), from the statistics.
///
/// Errors: the database's.
pub async fn paths(conn: &mut PgConnection, tsquery: &str) -> Result<(Path, Path), sqlx::Error> {
    let tree = parse_tsquery(tsquery);
    let words = tree.as_ref().map(lexemes).unwrap_or_default();
    let (subjects, bodies) = stats(conn, &words).await?;
    Ok((
        choose(tree.as_ref(), &subjects),
        choose(tree.as_ref(), &bodies),
    ))
}

/// The candidates of one source: ticket ids, message ids, ranks; and whether capped.
#[derive(Default)]
struct Candidates {
    tickets: Vec<i64>,
    messages: Vec<i64>,
    ranks: Vec<f32>,
    capped: bool,
}

async fn candidates(
    conn: &mut PgConnection,
    tsquery: &str,
    source: Source,
    path: Path,
    table_rows: f64,
) -> Result<Candidates, sqlx::Error> {
    let rows: Vec<(i64, Option<i64>, f32)> = source_query(source_sql(source, path), tsquery, path)
        .fetch_all(&mut *conn)
        .await?;
    let full = rows.len() as i64 >= WINDOW;
    let mut c = Candidates {
        capped: full || (path == Path::Walk && table_rows > WALK_ROWS as f64),
        ..Candidates::default()
    };
    for (t, m, r) in rows {
        c.tickets.push(t);
        c.messages.push(m.unwrap_or(0));
        c.ranks.push(r);
    }
    Ok(c)
}

/// Runs `f` in a transaction that keeps the planner to bitmap scans (an index path must not
/// turn into a primary-key walk or a sequential scan whatever the estimates) and without JIT
/// (compiling costs more than these queries).
async fn index_settings(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('enable_seqscan', 'off', true), \
                set_config('enable_indexscan', 'off', true), set_config('jit', 'off', true)",
    )
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// The ranking query over the candidates: scores, the page, snippets for the page's rows
/// only. `$1` tsquery text, `$2`/`$3` subject candidates (ticket ids, ranks), `$4`/`$5`/`$6`
/// body candidates (ticket ids, message ids, ranks), `$7` offset, `$8` limit, `$9`/`$10`
/// headline options (body, subject), `$11` headline characters.
const RANKED: &str = "
WITH subj AS (
    SELECT * FROM unnest($2::bigint[], $3::real[]) AS s(ticket_id, rank)
), body AS (
    SELECT * FROM unnest($4::bigint[], $5::bigint[], $6::real[]) AS b(ticket_id, message_id, rank)
), best AS (
    SELECT DISTINCT ON (ticket_id) ticket_id, message_id, rank
    FROM body ORDER BY ticket_id, rank DESC, message_id DESC
), scored AS (
    SELECT COALESCE(s.ticket_id, b.ticket_id) AS ticket_id, b.message_id,
           (2 * COALESCE(s.rank, 0) + COALESCE(b.rank, 0))::real AS score
    FROM subj s FULL JOIN best b ON b.ticket_id = s.ticket_id
), page AS (
    SELECT * FROM scored ORDER BY score DESC, ticket_id DESC OFFSET $7 LIMIT $8
)
SELECT t.id, t.number,
       ts_headline('simple',
           replace(replace(claimdesk_search_text(left(t.subject, $11)), U&'\\E000', ''), U&'\\E001', ''),
           $1::tsquery, $10) AS subject,
       t.status, t.priority, t.department, t.requester_email AS requester, a.handle AS assignee,
       COALESCE(t.opened_at, t.created_at) AS opened_at, t.created_at,
       p.score, p.message_id,
       CASE WHEN m.id IS NOT NULL THEN ts_headline('simple',
           replace(replace(claimdesk_search_text(left(m.body_text, $11)), U&'\\E000', ''), U&'\\E001', ''),
           $1::tsquery, $9) END AS snippet,
       (SELECT count(*) FROM scored) AS total
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
}

/// Both sources' candidates, each by its path (index paths inside one transaction with
/// [`index_settings`]).
async fn all_candidates(
    conn: &mut PgConnection,
    tsquery: &str,
) -> Result<(Candidates, Candidates, (Path, Path)), sqlx::Error> {
    let tree = parse_tsquery(tsquery);
    let words = tree.as_ref().map(lexemes).unwrap_or_default();
    let (sst, bst) = stats(conn, &words).await?;
    let chosen = (choose(tree.as_ref(), &sst), choose(tree.as_ref(), &bst));
    let mut tx = conn.begin().await?;
    if chosen.0 == Path::Index || chosen.1 == Path::Index {
        index_settings(&mut tx).await?;
    }
    let subjects = candidates(&mut tx, tsquery, Source::Subjects, chosen.0, sst.rows).await?;
    let bodies = candidates(&mut tx, tsquery, Source::Bodies, chosen.1, bst.rows).await?;
    tx.commit().await?;
    Ok((subjects, bodies, chosen))
}

/// Page `offset..offset + limit` of the tickets matching `tsquery` (from [`tsquery`]),
/// ranked as the module says. An offset past the end gives an empty page (`total` is then 0
/// too: it is read from the page's rows).
///
/// Each source's latest matches are found by the path the module describes (a walk of at
/// most [`WALK_ROWS`] rows or a GIN scan estimated under [`INDEX_BUDGET_US`]), then ranked
/// in one query that reads only the page's rows in full.
///
/// Errors: the database's (a malformed `tsquery` text is one).
pub async fn full_text(
    conn: &mut PgConnection,
    tsquery: &str,
    offset: i64,
    limit: i64,
) -> Result<Hits, sqlx::Error> {
    let (subjects, bodies, _) = all_candidates(conn, tsquery).await?;
    let rows: Vec<HitRow> = sqlx::query_as(RANKED)
        .bind(tsquery)
        .bind(&subjects.tickets)
        .bind(&subjects.ranks)
        .bind(&bodies.tickets)
        .bind(&bodies.messages)
        .bind(&bodies.ranks)
        .bind(offset.max(0))
        .bind(limit.clamp(1, 200))
        .bind(headline_options(false))
        .bind(headline_options(true))
        .bind(HEADLINE_CHARS)
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?;
    let total = rows.first().map_or(0, |r| r.total);
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
        capped: subjects.capped || bodies.capped,
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
            let (sp, bp) = paths(&mut *conn, q).await?;
            let mut out = Vec::new();
            for (source, path) in [(Source::Subjects, sp), (Source::Bodies, bp)] {
                out.push((format!("-- {source:?}: {path:?} path"),));
                let mut tx = conn.begin().await?;
                if path == Path::Index {
                    index_settings(&mut tx).await?;
                }
                let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", source_sql(source, path));
                let plan: Vec<(String,)> = source_query(&sql, q, path).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                out.extend(plan);
            }
            let (subjects, bodies, _) = all_candidates(&mut *conn, q).await?;
            out.push(("-- ranking and snippets of the first page".to_string(),));
            let plan: Vec<(String,)> =
                sqlx::query_as(&format!("EXPLAIN (ANALYZE, BUFFERS) {RANKED}"))
                    .bind(q)
                    .bind(&subjects.tickets)
                    .bind(&subjects.ranks)
                    .bind(&bodies.tickets)
                    .bind(&bodies.messages)
                    .bind(&bodies.ranks)
                    .bind(0i64)
                    .bind(limit)
                    .bind(headline_options(false))
                    .bind(headline_options(true))
                    .bind(HEADLINE_CHARS)
                    .persistent(false)
                    .fetch_all(&mut *conn)
                    .await?;
            out.extend(plan);
            out
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

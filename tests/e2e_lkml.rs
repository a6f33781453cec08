//! End to end on real mail: every message of `../shared/corpus/threads-lkml/` is APPENDed to
//! a real Dovecot — in reverse order, so replies arrive before their parents — and intake
//! runs. The expectation is computed here from the files themselves: one stored message per
//! unique Message-ID, one ticket per connected component of the RFC 5322 msg-id graph, one
//! card per ticket, and nothing new on a second run or after a full re-read.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use support::harness::*;

/// The msg-ids in a header value: `<left@right>` with both sides visible ASCII other than
/// `<`, `>`, `@` — RFC 5322 §3.6.4 without the obsolete forms.
fn ids(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in value.match_indices('<') {
        let rest = &value[i + 1..];
        let Some(end) = rest.find('>') else { continue };
        let inner = &rest[..end];
        let valid_part = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && !b"<>@".contains(&b))
        };
        if let Some((l, r)) = inner.split_once('@') {
            if !inner.contains('<')
                && valid_part(l)
                && valid_part(r)
                && !out.contains(&inner.to_string())
            {
                out.push(inner.to_string());
            }
        }
    }
    out
}

/// The first occurrence of each header, unfolded.
fn headers(raw: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("");
    let mut out: HashMap<String, String> = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = current.take() {
            out.entry(k).or_insert(v);
        }
        if let Some((k, v)) = line.split_once(':') {
            current = Some((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    if let Some((k, v)) = current {
        out.entry(k).or_insert(v);
    }
    out
}

struct Corpus {
    /// (file, raw bytes), in APPEND order.
    files: Vec<(PathBuf, Vec<u8>)>,
    /// Each file's own id (Message-ID, or the file path when it has none) and linked ids.
    nodes: Vec<(String, Vec<String>)>,
}

fn load() -> Corpus {
    let dir = repo_path("../shared/corpus/threads-lkml");
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("corpus readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("COPYING"))
            {
                paths.push(p);
            }
        }
    }
    paths.sort();
    paths.reverse();
    let files: Vec<(PathBuf, Vec<u8>)> = paths
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(&p).expect("read corpus file");
            (p, raw)
        })
        .collect();
    let nodes = files
        .iter()
        .map(|(p, raw)| {
            let h = headers(raw);
            let own = h
                .get("message-id")
                .and_then(|v| ids(v).into_iter().next())
                .unwrap_or_else(|| format!("file:{}", p.display()));
            let mut links = Vec::new();
            for k in ["in-reply-to", "references"] {
                links.extend(h.get(k).map(|v| ids(v)).unwrap_or_default());
            }
            (own, links)
        })
        .collect();
    Corpus { files, nodes }
}

/// Connected components over msg-ids (union-find); returns id → component root.
fn components(nodes: &[(String, Vec<String>)]) -> HashMap<String, String> {
    fn find(parent: &mut HashMap<String, String>, x: &str) -> String {
        let p = parent.get(x).cloned().unwrap_or_else(|| x.to_string());
        if p == x {
            parent.insert(x.to_string(), p.clone());
            return p;
        }
        let root = find(parent, &p);
        parent.insert(x.to_string(), root.clone());
        root
    }
    let mut parent: HashMap<String, String> = HashMap::new();
    for (own, links) in nodes {
        find(&mut parent, own);
        for l in links {
            let a = find(&mut parent, own);
            let b = find(&mut parent, l);
            if a != b {
                parent.insert(a, b);
            }
        }
    }
    let keys: Vec<String> = parent.keys().cloned().collect();
    keys.into_iter()
        .map(|k| {
            let r = find(&mut parent, &k);
            (k, r)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lkml_threads_become_one_ticket_each_with_one_card_and_no_duplicates() {
    let corpus = load();
    assert!(
        corpus.files.len() >= 200,
        "corpus present: {}",
        corpus.files.len()
    );
    // The APPEND order really puts replies before their parents.
    let position: HashMap<&str, usize> = corpus
        .nodes
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let early_replies = corpus
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, (_, links))| {
            links
                .iter()
                .any(|l| position.get(l.as_str()).is_some_and(|p| p > i))
        })
        .count();
    assert!(
        early_replies > 10,
        "only {early_replies} replies precede their parents"
    );

    let unique_ids: BTreeSet<&str> = corpus.nodes.iter().map(|(id, _)| id.as_str()).collect();
    let comp = components(&corpus.nodes);
    let expected_threads: BTreeSet<&str> = unique_ids.iter().map(|id| comp[*id].as_str()).collect();

    let env = env(Platforms {
        slack: true,
        discord: false,
    })
    .await;
    let slack = env.slack.as_ref().expect("slack");
    let raws: Vec<Vec<u8>> = corpus.files.iter().map(|(_, r)| r.clone()).collect();
    env.dovecot
        .append_many("INBOX", &raws)
        .await
        .expect("append corpus");
    let app = env.app().await;

    let runs = app.intake_once().await.expect("intake");
    let list = app.desk.list().await.expect("list");
    let r = runs[0].1.as_ref().expect("fetched");
    assert_eq!(r.fetched, corpus.files.len());
    assert_eq!(r.quarantined, 0, "every LKML post has a sender");
    assert_eq!(r.created + r.joined, unique_ids.len(), "{r:?}");
    assert_eq!(r.duplicates, corpus.files.len() - unique_ids.len());

    // Tickets of one thread that a late message names together are merged when they have
    // one requester, else linked (issue 10: a merge must not send agents' replies to
    // another requester); an agent merges linked ones with `merge`.
    let links: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.number, b.number FROM ticket_links l
         JOIN tickets a ON a.id = l.low_id JOIN tickets b ON b.id = l.high_id",
    )
    .fetch_all(app.desk.pool())
    .await
    .expect("links");
    let merged = list.iter().filter(|t| t.status == "merged").count();
    eprintln!(
        "lkml: {} files, {} unique Message-IDs, {} threads, {} early replies, {} tickets opened, {} merged and {} linked by a late message",
        corpus.files.len(), unique_ids.len(), expected_threads.len(), early_replies, list.len(), merged, links.len()
    );

    // One stored message per unique Message-ID
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM messages")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(stored as usize, unique_ids.len());

    // One live ticket per thread, or several linked to one another; every thread's messages
    // in those tickets
    let live: Vec<_> = list.iter().filter(|t| t.status != "merged").collect();
    assert_eq!(
        live.len(),
        expected_threads.len() + links.len(),
        "tickets vs threads and links"
    );
    let mut ticket_of: HashMap<&str, &str> = HashMap::new();
    for t in &live {
        for m in &t.message_ids {
            ticket_of.insert(m.as_str(), t.number.as_str());
        }
    }
    let mut by_thread: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (own, _) in &corpus.nodes {
        if own.starts_with("file:") {
            continue; // no Message-ID: stored under a content hash, checked by count above
        }
        let t = ticket_of
            .get(own.as_str())
            .copied()
            .unwrap_or_else(|| panic!("{own} not in a live ticket"));
        by_thread.entry(comp[own].as_str()).or_default().insert(t);
    }
    for (thread, tickets) in &by_thread {
        // The thread's tickets, connected by links: grow from one of them.
        let mut reached: BTreeSet<&str> = tickets.iter().take(1).copied().collect();
        loop {
            let before = reached.len();
            for (a, b) in &links {
                if reached.contains(a.as_str()) || reached.contains(b.as_str()) {
                    reached.insert(a.as_str());
                    reached.insert(b.as_str());
                }
            }
            if reached.len() == before {
                break;
            }
        }
        assert!(
            tickets.is_subset(&reached) && reached.is_subset(tickets),
            "thread {thread} split over {tickets:?}, linked: {reached:?}"
        );
    }

    // One card per ticket ever opened, each posted once
    let cards: Vec<String> = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body.get("thread_ts").is_none())
        .map(|c| c.body.to_string())
        .collect();
    assert_eq!(cards.len(), list.len(), "cards vs tickets");
    for t in &list {
        assert_eq!(
            cards
                .iter()
                .filter(|c| c.contains(&format!("*{} ·", t.number)))
                .count(),
            1,
            "card of {}",
            t.number
        );
    }
    assert_eq!(slack.violations(), Vec::<String>::new());

    // A second run fetches nothing; a full re-read (cursor lost) stores nothing new
    let again = app.intake_once().await.expect("intake again");
    assert_eq!(again[0].1.as_ref().expect("ok").fetched, 0);
    sqlx::query("DELETE FROM mailbox_cursors")
        .execute(app.desk.pool())
        .await
        .expect("reset cursor");
    let reread = app.intake_once().await.expect("re-read");
    let rr = reread[0].1.as_ref().expect("ok");
    assert_eq!(
        (rr.fetched, rr.created, rr.joined),
        (corpus.files.len(), 0, 0)
    );
    let (stored_again,): (i64,) = sqlx::query_as("SELECT count(*) FROM messages")
        .fetch_one(app.desk.pool())
        .await
        .expect("count");
    assert_eq!(stored_again, stored);
    assert_eq!(app.desk.list().await.expect("list").len(), list.len());
    let cards_again = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.body.get("thread_ts").is_none())
        .count();
    assert_eq!(cards_again, cards.len(), "no card posted twice");
}

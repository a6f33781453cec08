//! Issue 11, sealed layers: SQL lives only in `src/store/`. Reads the source tree; needs no
//! database or mail server.

use std::path::{Path, PathBuf};

/// What running SQL through sqlx looks like in source: the query builders and the raw forms.
const SQL_CALLS: [&str; 7] = [
    "sqlx::query",
    "query_as",
    "query_scalar",
    "raw_sql",
    "QueryBuilder",
    // LISTEN, and a raw string run on an executor (`use sqlx::{query, …}`: see below).
    "PgListener",
    ".execute(\"",
];

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// `path:line: text` for every line of a file outside `src/store/` that runs SQL.
fn sql_outside_store(src: &Path) -> Vec<String> {
    let store = src.join("store");
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&store)) {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let imports_query = line.contains("use sqlx") && line.contains("query");
            if imports_query || SQL_CALLS.iter().any(|call| line.contains(call)) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn sql_is_only_written_in_the_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = sql_outside_store(&src);
    assert!(
        found.is_empty(),
        "SQL outside src/store/ (move it into a store file and call that):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_seal_check_sees_sql_in_a_file_outside_the_store() {
    let dir = std::env::temp_dir().join(format!("claimdesk-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("store")).expect("temp store dir");
    std::fs::create_dir_all(dir.join("web")).expect("temp web dir");
    std::fs::write(
        dir.join("store/ok.rs"),
        "fn f() { sqlx::query(\"SELECT 1\"); }\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("web/leak.rs"),
        "fn g() {}\nfn h() { let r: (i64,) = sqlx::query_as(\"SELECT 1\"); }\n\
         use sqlx::{query, Row};\nuse sqlx::PgPool;\n\
         async fn l(p: &PgPool) { sqlx::postgres::PgListener::connect_with(p).await; }\n\
         async fn e(c: &mut PgConnection) { c.execute(\"DELETE FROM tickets\").await; }\n",
    )
    .expect("write");
    let found = sql_outside_store(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<&str> = found
        .iter()
        .filter_map(|f| f.split("web/leak.rs:").nth(1)?.split(':').next())
        .collect();
    assert_eq!(lines, ["2", "3", "5", "6"], "{found:?}");
}

//! claimdesk's `intake::parse` and the modules it calls (`html`, `signals`), from the main crate's sources.

#[path = "../../../src/intake/html.rs"]
pub mod html;
#[path = "../../../src/intake/parse.rs"]
pub mod parse;
#[path = "../../../src/intake/signals.rs"]
pub mod signals;

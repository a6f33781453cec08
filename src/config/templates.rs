//! `[[templates]]`: canned replies from the config file (read-only; admins add more from
//! chat with `template add`). Each is checked when the settings load
//! ([`super::Settings::validate`]): a bad name or an unknown or malformed placeholder stops
//! the load, naming the template and the placeholder.

use serde::{Deserialize, Serialize};

/// One configured template.
///
/// ```toml
/// [[templates]]
/// name = "refund"
/// body = "Hi {customer_name},\n\nyour refund for {ticket} is on its way.\n\n{agent_name}"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TemplateSettings {
    /// A lower-case word (`refund`), used as `reply <ticket> /refund`.
    pub name: String,
    /// The text, with placeholders `{customer_name}`, `{ticket}`, `{agent_name}`,
    /// `{subject}` (`{{` and `}}` for literal braces); see `domain::templates`.
    pub body: String,
}

/// Checks every template (rules of `domain::templates`) and that no name is used twice.
///
/// Errors: the first bad template, by name and what is wrong with it.
pub fn check(templates: &[TemplateSettings]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for t in templates {
        crate::domain::templates::Template::parse(&t.name, &t.body)
            .map_err(|e| format!("templates: `{}`: {e}", t.name))?;
        if !seen.insert(t.name.as_str()) {
            return Err(format!("templates: `{}` is defined twice", t.name));
        }
    }
    Ok(())
}

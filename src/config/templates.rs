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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Only {
        templates: Vec<TemplateSettings>,
    }

    fn load(toml: &str) -> Vec<TemplateSettings> {
        ::config::Config::builder()
            .add_source(::config::File::from_str(toml, ::config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize::<Only>())
            .map(|o| o.templates)
            .expect("templates parse")
    }

    #[test]
    fn the_readme_example_loads_and_fills() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("## Canned replies")
            .nth(1)
            .and_then(|s| s.split("```toml").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("README has a Canned replies section with a toml block");
        let t = load(block);
        check(&t).expect("the README example is valid");
        let parsed =
            crate::domain::templates::Template::parse(&t[0].name, &t[0].body).expect("parses");
        assert_eq!(parsed.placeholders().len(), 4);
    }

    #[test]
    fn duplicates_and_bad_placeholders_are_named() {
        let two = load(
            "[[templates]]\nname = \"a\"\nbody = \"x\"\n[[templates]]\nname = \"a\"\nbody = \"y\"\n",
        );
        assert_eq!(
            check(&two),
            Err("templates: `a` is defined twice".to_string())
        );
        let bad = load("[[templates]]\nname = \"a\"\nbody = \"Hi {nom}\"\n");
        let e = check(&bad).expect_err("refused");
        assert!(e.contains("`a`") && e.contains("{nom}"), "{e}");
    }
}

//! Discord's slash command registration, generated from the command catalogue
//! (`crate::chat::catalogue`): the body of a bulk overwrite
//! (<https://discord.com/developers/docs/interactions/application-commands#bulk-overwrite-guild-application-commands>).

use crate::desk::query::truncate;

/// Discord's limit on a command's or option's description, characters.
pub const DESCRIPTION_MAX: usize = 100;

/// The slash commands, as the body of a bulk overwrite, generated from the catalogue
/// ([`crate::chat::catalogue::CATALOGUE`]): one command per name (a command with
/// subcommands, `agent`, gets `SUB_COMMAND` options), one option per argument — a ticket
/// is a string that autocompletes open ticket numbers, an agent a user, a status, priority
/// or role a string with choices. The text of a command with a form (`/reply`, `/note`) is
/// optional: without it, the form opens.
/// <https://discord.com/developers/docs/interactions/application-commands#application-command-object>
pub fn command_definitions() -> serde_json::Value {
    use crate::chat::catalogue::{self, ArgKind};
    use serde_json::json;
    const SUB_COMMAND: u8 = 1;
    const STRING: u8 = 3;
    const USER: u8 = 6;
    let describe = |t: &str| truncate(t, DESCRIPTION_MAX);
    let options = |spec: &catalogue::Spec| -> Vec<serde_json::Value> {
        spec.args
            .iter()
            .map(|a| {
                let required = a.required && !(a.kind == ArgKind::Text && spec.form.is_some());
                let mut o =
                    json!({"name": a.name, "description": describe(a.help), "required": required});
                match a.kind {
                    ArgKind::Agent => o["type"] = USER.into(),
                    ArgKind::Ticket => {
                        o["type"] = STRING.into();
                        o["autocomplete"] = true.into();
                        o["max_length"] = 40.into();
                    }
                    ArgKind::Text => {
                        o["type"] = STRING.into();
                        o["max_length"] = 4000.into();
                    }
                    ArgKind::Date => {
                        o["type"] = STRING.into();
                        o["max_length"] = 10.into();
                    }
                    ArgKind::Handle => {
                        o["type"] = STRING.into();
                        o["max_length"] = 64.into();
                    }
                    ArgKind::Departments => {
                        o["type"] = STRING.into();
                        o["max_length"] = 200.into();
                    }
                    ArgKind::Range => {
                        o["type"] = STRING.into();
                        o["max_length"] = 22.into();
                    }
                    ArgKind::Department => {
                        o["type"] = STRING.into();
                        o["max_length"] = 64.into();
                    }
                    ArgKind::Template => {
                        o["type"] = STRING.into();
                        o["max_length"] = 33.into();
                    }
                    ArgKind::Tags | ArgKind::TagFilter => {
                        o["type"] = STRING.into();
                        o["max_length"] = 200.into();
                    }
                    kind @ (ArgKind::Status | ArgKind::Priority | ArgKind::Role) => {
                        o["type"] = STRING.into();
                        o["choices"] = kind
                            .choices()
                            .iter()
                            .map(|n| json!({"name": n.replace('_', " "), "value": n}))
                            .collect();
                    }
                }
                o
            })
            .collect()
    };
    let commands: Vec<serde_json::Value> = catalogue::names()
        .into_iter()
        .map(|name| {
            let specs = catalogue::named(name);
            match specs.as_slice() {
                [one] if one.sub.is_none() => json!({
                    "name": name, "type": 1, "description": describe(one.help),
                    "options": options(one),
                }),
                several => {
                    let subs: Vec<serde_json::Value> = several
                        .iter()
                        .map(|s| {
                            json!({
                                "type": SUB_COMMAND, "name": s.sub.unwrap_or(s.name),
                                "description": describe(s.help), "options": options(s),
                            })
                        })
                        .collect();
                    let roles: Vec<&str> = several.iter().map(|s| s.role.as_str()).collect();
                    json!({
                        "name": name, "type": 1,
                        "description": describe(&format!("{name}: {} ({}s)",
                            several.iter().filter_map(|s| s.sub).collect::<Vec<_>>().join(", "),
                            roles.first().copied().unwrap_or("owner"))),
                        "options": subs,
                    })
                }
            }
        })
        .collect();
    serde_json::Value::Array(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_names_every_catalogue_command_within_discord_limits() {
        let defs = command_definitions();
        let defs = defs.as_array().expect("array");
        let names: Vec<&str> = defs.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, crate::chat::catalogue::names());
        for spec in crate::chat::catalogue::CATALOGUE {
            let cmd = defs
                .iter()
                .find(|c| c["name"] == spec.name)
                .expect("registered");
            let opts = match spec.sub {
                Some(sub) => cmd["options"]
                    .as_array()
                    .and_then(|o| o.iter().find(|o| o["name"] == sub))
                    .map(|o| o["options"].clone())
                    .expect("subcommand registered"),
                None => cmd["options"].clone(),
            };
            let opts = opts.as_array().expect("options");
            assert_eq!(opts.len(), spec.args.len(), "{}", spec.usage());
            for (o, a) in opts.iter().zip(spec.args) {
                assert_eq!(o["name"], a.name);
                if a.kind == crate::chat::catalogue::ArgKind::Ticket {
                    assert_eq!(o["autocomplete"], true, "{}", spec.usage());
                }
            }
        }
        fn descriptions_fit(v: &serde_json::Value) {
            if let Some(d) = v.get("description").and_then(|d| d.as_str()) {
                assert!((1..=DESCRIPTION_MAX).contains(&d.chars().count()), "{d}");
            }
            for o in v["options"].as_array().into_iter().flatten() {
                descriptions_fit(o);
            }
        }
        defs.iter().for_each(descriptions_fit);
    }
}

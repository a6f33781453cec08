//! Which chat channel a department's cards and channel notices (admin pings, loop notices) go
//! to on each platform: the department's own channel when `[[departments]]` names one
//! (`slack_channel`, `discord_channel`), else the platform's channel (`slack.channel`,
//! `discord.channel_id`). Thread posts and card edits do not ask: they follow the card, whose
//! channel is stored in `chat_posts`.

use std::collections::HashMap;

use crate::config::DepartmentSettings;

/// The channels of one platform: a default and the departments that name their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    default: String,
    by_department: HashMap<String, String>,
}

impl Channels {
    /// Every department's channel on Slack: `slack_channel`, else `default`.
    pub fn slack(default: &str, departments: &[DepartmentSettings]) -> Channels {
        Channels::from_pairs(
            default,
            departments
                .iter()
                .filter_map(|d| Some((d.name.clone(), d.slack_channel.clone()?))),
        )
    }

    /// Every department's channel on Discord: `discord_channel`, else `default` (both still
    /// unchecked strings; the Discord client checks they are snowflakes).
    pub fn discord(default: &str, departments: &[DepartmentSettings]) -> Channels {
        Channels::from_pairs(
            default,
            departments
                .iter()
                .filter_map(|d| Some((d.name.clone(), d.discord_channel.clone()?))),
        )
    }

    /// `default` plus `(department, channel)` pairs; blank channels are ignored (the
    /// department then uses `default`).
    pub fn from_pairs(
        default: &str,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Channels {
        Channels {
            default: default.trim().to_string(),
            by_department: pairs
                .into_iter()
                .map(|(d, c)| (d, c.trim().to_string()))
                .filter(|(_, c)| !c.is_empty())
                .collect(),
        }
    }

    /// The channel for `department`; the default for `None` or a department without its own.
    pub fn for_department(&self, department: Option<&str>) -> &str {
        department
            .and_then(|d| self.by_department.get(d))
            .map(String::as_str)
            .unwrap_or(&self.default)
    }

    /// The default channel.
    pub fn default_channel(&self) -> &str {
        &self.default
    }

    /// `(department, channel)` of the departments with their own channel, in no order.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_department
            .iter()
            .map(|(d, c)| (d.as_str(), c.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(name: &str, slack: Option<&str>, discord: Option<&str>) -> DepartmentSettings {
        DepartmentSettings {
            name: name.into(),
            assignment: Default::default(),
            slack_channel: slack.map(str::to_string),
            discord_channel: discord.map(str::to_string),
        }
    }

    #[test]
    fn a_department_uses_its_own_channel_else_the_platforms() {
        let ds = [
            dept("support", None, None),
            dept("billing", Some("C0BILLING"), Some("400000000000000002")),
            dept("sales", Some("  "), None),
        ];
        let slack = Channels::slack("C0DEFAULT", &ds);
        let discord = Channels::discord("400000000000000001", &ds);
        let cases = [
            (Some("support"), "C0DEFAULT", "400000000000000001"),
            (Some("billing"), "C0BILLING", "400000000000000002"),
            (Some("sales"), "C0DEFAULT", "400000000000000001"),
            (Some("unknown"), "C0DEFAULT", "400000000000000001"),
            (None, "C0DEFAULT", "400000000000000001"),
        ];
        for (d, s, di) in cases {
            assert_eq!(slack.for_department(d), s, "{d:?}");
            assert_eq!(discord.for_department(d), di, "{d:?}");
        }
        assert_eq!(slack.overrides().count(), 1);
    }
}

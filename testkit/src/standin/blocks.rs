//! Block Kit checks beyond the Slack spec's JSON-string parameters: block and element types,
//! text object limits, modal views (<https://api.slack.com/reference/block-kit>).

use std::collections::HashSet;

use serde_json::Value;

const SLACK_BLOCK_TYPES: &[&str] = &[
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
    "table",
    "context_actions",
];

fn check_text_object(v: &Value, at: &str, max: usize, plain_only: bool, errs: &mut Vec<String>) {
    let Some(o) = v.as_object() else {
        return errs.push(format!("{at} must be a text object {{type, text}}"));
    };
    match o.get("type").and_then(Value::as_str) {
        Some("plain_text") => {}
        Some("mrkdwn") if !plain_only => {}
        other => errs.push(format!(
            "{at}.type must be {}, got {other:?}",
            if plain_only {
                "plain_text"
            } else {
                "plain_text or mrkdwn"
            }
        )),
    }
    match o.get("text").and_then(Value::as_str) {
        Some("") => errs.push(format!("{at}.text must not be empty")),
        Some(t) if t.chars().count() > max => errs.push(format!(
            "{at}.text is {} characters (limit {max})",
            t.chars().count()
        )),
        Some(_) => {}
        None => errs.push(format!("{at}.text is missing or not a string")),
    }
}

fn check_element(e: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(o) = e.as_object() else {
        return errs.push(format!("{at} is not an object"));
    };
    let Some(t) = o.get("type").and_then(Value::as_str) else {
        return errs.push(format!("{at}.type is missing"));
    };
    if let Some(a) = o.get("action_id") {
        match a.as_str() {
            Some(s) if s.chars().count() <= 255 && !s.is_empty() => {}
            _ => errs.push(format!(
                "{at}.action_id must be a string of 1..=255 characters"
            )),
        }
    }
    if t == "static_select" {
        check_static_select(o, at, errs);
    }
    if t == "button" {
        match o.get("text") {
            Some(txt) => check_text_object(txt, &format!("{at}.text"), 75, true, errs),
            None => errs.push(format!("{at}.text is required for a button")),
        }
        if let Some(v) = o.get("value") {
            if v.as_str().map(|s| s.chars().count() > 2000).unwrap_or(true) {
                errs.push(format!(
                    "{at}.value must be a string of at most 2000 characters"
                ));
            }
        }
        if let Some(u) = o.get("url") {
            if u.as_str().map(|s| s.chars().count() > 3000).unwrap_or(true) {
                errs.push(format!(
                    "{at}.url must be a string of at most 3000 characters"
                ));
            }
        }
        if let Some(s) = o.get("style") {
            if !matches!(s.as_str(), Some("primary") | Some("danger")) {
                errs.push(format!(
                    "{at}.style must be \"primary\" or \"danger\", got {s}"
                ));
            }
        }
    }
}

/// A `static_select` (<https://api.slack.com/reference/block-kit/block-elements#static_select>):
/// `options` (1..=100) or `option_groups`; each option's `text` plain_text ≤ 75 and `value`
/// a string ≤ 150, values unique; `placeholder` plain_text ≤ 150; `initial_option` one of
/// the options.
fn check_static_select(o: &serde_json::Map<String, Value>, at: &str, errs: &mut Vec<String>) {
    if let Some(p) = o.get("placeholder") {
        check_text_object(p, &format!("{at}.placeholder"), 150, true, errs);
    }
    let options: Vec<&Value> = match (o.get("options"), o.get("option_groups")) {
        (Some(Value::Array(opts)), None) => opts.iter().collect(),
        (None, Some(Value::Array(groups))) => groups
            .iter()
            .flat_map(|g| g["options"].as_array().into_iter().flatten())
            .collect(),
        _ => {
            errs.push(format!(
                "{at}: a static_select needs options or option_groups (not both)"
            ));
            return;
        }
    };
    if options.is_empty() || options.len() > 100 {
        errs.push(format!("{at} has {} options (1..=100)", options.len()));
    }
    let mut values = HashSet::new();
    for (j, opt) in options.iter().enumerate() {
        let oat = format!("{at}.options[{j}]");
        match opt.get("text") {
            Some(t) => check_text_object(t, &format!("{oat}.text"), 75, true, errs),
            None => errs.push(format!("{oat}.text is required")),
        }
        match opt.get("value").and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v.chars().count() <= 150 => {
                if !values.insert(v.to_string()) {
                    errs.push(format!("{oat}.value {v:?} is repeated"));
                }
            }
            _ => errs.push(format!(
                "{oat}.value must be a string of 1..=150 characters"
            )),
        }
    }
    if let Some(init) = o.get("initial_option") {
        if !options.contains(&init) {
            errs.push(format!("{at}.initial_option is not one of its options"));
        }
    }
}

/// blocks: an array of ≤ 50 objects, each with a known `type`; a few per-type limits.
pub(super) fn check_blocks(blocks: &Value, errs: &mut Vec<String>) {
    let Some(arr) = blocks.as_array() else {
        return errs.push("blocks is not an array".into());
    };
    if arr.len() > 50 {
        errs.push(format!(
            "blocks has {} blocks (limit 50 per message)",
            arr.len()
        ));
    }
    let mut block_ids = HashSet::new();
    for (i, b) in arr.iter().enumerate() {
        let at = format!("blocks[{i}]");
        let Some(o) = b.as_object() else {
            errs.push(format!("{at} is not an object"));
            continue;
        };
        let Some(t) = o.get("type").and_then(Value::as_str) else {
            errs.push(format!("{at}.type is missing or not a string"));
            continue;
        };
        if !SLACK_BLOCK_TYPES.contains(&t) {
            errs.push(format!("{at}.type {t:?} is not a Block Kit block type"));
        }
        if let Some(id) = o.get("block_id") {
            match id.as_str() {
                Some(s) if s.chars().count() <= 255 => {
                    if !block_ids.insert(s.to_string()) {
                        errs.push(format!("{at}.block_id {s:?} is repeated"));
                    }
                }
                _ => errs.push(format!(
                    "{at}.block_id must be a string of at most 255 characters"
                )),
            }
        }
        match t {
            "section" => {
                let has_text = o.contains_key("text");
                if let Some(txt) = o.get("text") {
                    check_text_object(txt, &format!("{at}.text"), 3000, false, errs);
                }
                match o.get("fields") {
                    Some(Value::Array(f)) => {
                        if f.len() > 10 {
                            errs.push(format!("{at}.fields has {} items (limit 10)", f.len()));
                        }
                        for (j, fv) in f.iter().enumerate() {
                            check_text_object(fv, &format!("{at}.fields[{j}]"), 2000, false, errs);
                        }
                    }
                    Some(_) => errs.push(format!("{at}.fields is not an array")),
                    None if !has_text => errs.push(format!("{at}: a section needs text or fields")),
                    None => {}
                }
                if let Some(acc) = o.get("accessory") {
                    check_element(acc, &format!("{at}.accessory"), errs);
                }
            }
            "header" => match o.get("text") {
                Some(txt) => check_text_object(txt, &format!("{at}.text"), 150, true, errs),
                None => errs.push(format!("{at}.text is required for a header")),
            },
            "actions" => {
                match o.get("elements").and_then(Value::as_array) {
                    Some(els) => {
                        if els.is_empty() || els.len() > 25 {
                            errs.push(format!("{at}.elements has {} items (1..=25)", els.len()));
                        }
                        let mut ids = HashSet::new();
                        for (j, e) in els.iter().enumerate() {
                            check_element(e, &format!("{at}.elements[{j}]"), errs);
                            if let Some(a) = e.get("action_id").and_then(Value::as_str) {
                                if !ids.insert(a.to_string()) {
                                    errs.push(format!("{at}.elements[{j}].action_id {a:?} is repeated in the block"));
                                }
                            }
                        }
                    }
                    None => errs.push(format!("{at}.elements is required for an actions block")),
                }
            }
            "context" => match o.get("elements").and_then(Value::as_array) {
                Some(els) => {
                    if els.is_empty() || els.len() > 10 {
                        errs.push(format!("{at}.elements has {} items (1..=10)", els.len()));
                    }
                    for (j, e) in els.iter().enumerate() {
                        if e.get("type").and_then(Value::as_str) != Some("image") {
                            check_text_object(e, &format!("{at}.elements[{j}]"), 3000, false, errs);
                        }
                    }
                }
                None => errs.push(format!("{at}.elements is required for a context block")),
            },
            "image" => {
                if !o.contains_key("image_url") && !o.contains_key("slack_file") {
                    errs.push(format!(
                        "{at}: an image block needs image_url or slack_file"
                    ));
                }
                if o.get("alt_text").and_then(Value::as_str).is_none() {
                    errs.push(format!("{at}.alt_text is required for an image block"));
                }
            }
            _ => {}
        }
    }
}

/// A modal or Home tab view (<https://api.slack.com/reference/surfaces/views>): `type`,
/// `title` (plain_text ≤ 24), `submit`/`close` (plain_text ≤ 24; `submit` required when an
/// input block is present), ≤ 100 blocks checked like message blocks (inputs: `label`
/// plain_text ≤ 2000 and an `element`), `callback_id` ≤ 255, `private_metadata` ≤ 3000.
pub(super) fn check_view(v: &Value, errs: &mut Vec<String>) {
    let Some(o) = v.as_object() else {
        return errs.push("view is not an object".into());
    };
    let kind = o.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("modal") | Some("home")) {
        errs.push(format!("view.type must be modal or home, got {kind:?}"));
    }
    let known = [
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    ];
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            errs.push(format!("view.{k} is not a view field"));
        }
    }
    if kind == Some("modal") {
        match o.get("title") {
            Some(t) => check_text_object(t, "view.title", 24, true, errs),
            None => errs.push("view.title is required for a modal".into()),
        }
    }
    for k in ["submit", "close"] {
        if let Some(t) = o.get(k) {
            check_text_object(t, &format!("view.{k}"), 24, true, errs);
        }
    }
    for (k, max) in [
        ("callback_id", 255),
        ("private_metadata", 3000),
        ("external_id", 255),
    ] {
        if let Some(x) = o.get(k) {
            match x.as_str() {
                Some(s) if s.chars().count() <= max => {}
                _ => errs.push(format!(
                    "view.{k} must be a string of at most {max} characters"
                )),
            }
        }
    }
    let Some(blocks) = o.get("blocks").and_then(Value::as_array) else {
        return errs.push("view.blocks is required and must be an array".into());
    };
    if blocks.len() > 100 {
        errs.push(format!(
            "view.blocks has {} blocks (limit 100)",
            blocks.len()
        ));
    }
    let mut block_errs = vec![];
    // Message limits (50 blocks) do not apply to views; check the first 50 like message blocks.
    check_blocks(
        &Value::Array(blocks.iter().take(50).cloned().collect()),
        &mut block_errs,
    );
    errs.extend(block_errs.into_iter().map(|e| format!("view.{e}")));
    let mut has_input = false;
    for (i, b) in blocks.iter().enumerate() {
        if b.get("type").and_then(Value::as_str) != Some("input") {
            continue;
        }
        has_input = true;
        let at = format!("view.blocks[{i}]");
        match b.get("label") {
            Some(l) => check_text_object(l, &format!("{at}.label"), 2000, true, errs),
            None => errs.push(format!("{at}.label is required for an input block")),
        }
        match b.get("element") {
            Some(e) => {
                let et = e.get("type").and_then(Value::as_str).unwrap_or("");
                let inputs = [
                    "plain_text_input",
                    "static_select",
                    "multi_static_select",
                    "external_select",
                    "multi_external_select",
                    "users_select",
                    "multi_users_select",
                    "conversations_select",
                    "multi_conversations_select",
                    "channels_select",
                    "multi_channels_select",
                    "datepicker",
                    "timepicker",
                    "datetimepicker",
                    "checkboxes",
                    "radio_buttons",
                    "email_text_input",
                    "url_text_input",
                    "number_input",
                    "rich_text_input",
                    "file_input",
                ];
                if !inputs.contains(&et) {
                    errs.push(format!("{at}.element.type {et:?} is not an input element"));
                }
                if et == "plain_text_input" {
                    if let Some(m) = e.get("max_length") {
                        if !m.as_u64().is_some_and(|m| (1..=3000).contains(&m)) {
                            errs.push(format!("{at}.element.max_length must be 1..=3000"));
                        }
                    }
                    if let Some(v) = e.get("initial_value") {
                        let max = e.get("max_length").and_then(Value::as_u64).unwrap_or(3000);
                        match v.as_str() {
                            Some(t) if t.chars().count() as u64 <= max => {}
                            _ => errs.push(format!(
                                "{at}.element.initial_value must be a string of at most {max} characters"
                            )),
                        }
                    }
                }
                if et == "static_select" {
                    if let Some(o) = e.as_object() {
                        check_static_select(o, &format!("{at}.element"), errs);
                    }
                }
                if let Some(d) = b.get("dispatch_action") {
                    if !d.is_boolean() {
                        errs.push(format!("{at}.dispatch_action must be a boolean"));
                    }
                }
                if let Some(a) = e.get("action_id") {
                    if !a
                        .as_str()
                        .is_some_and(|s| !s.is_empty() && s.chars().count() <= 255)
                    {
                        errs.push(format!("{at}.element.action_id must be 1..=255 characters"));
                    }
                }
            }
            None => errs.push(format!("{at}.element is required for an input block")),
        }
    }
    if kind == Some("modal") && has_input && !o.contains_key("submit") {
        errs.push("view.submit is required when a modal has input blocks".into());
    }
}

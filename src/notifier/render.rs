//! A [`Message`] as the exact HTTP request of a preset. Pure.
//!
//! Every text that came from outside (targets, label values in proofs, pause
//! reasons) is escaped for the format it lands in: Slack mrkdwn (`&`, `<`,
//! `>` as entities, Slack's rule), Markdown for Mattermost and Teams cards
//! (backslash before its punctuation), JSON by serde everywhere. The shapes,
//! and the documents they follow, are in docs/integrations.md.

use serde_json::{Value, json};

use super::{Message, Notice, Tally};
use crate::rules::{NotifyOn, NotifyPreset, NotifyTemplate};

/// One HTTP request to a receiver. The URL is whole (secrets resolved):
/// never log it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub body: Value,
}

/// PagerDuty refuses a change event whose summary is longer.
const PAGERDUTY_SUMMARY_CHARS: usize = 1024;
/// Slack's limit on a section block's text.
const SLACK_SECTION_CHARS: usize = 3000;

/// What a request needs besides the message.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub preset: NotifyPreset,
    /// The notifier's URL, resolved. For `grafana-annotations`, Grafana's base.
    pub url: &'a str,
    /// `pagerduty-change`: the routing key, resolved.
    pub routing_key: Option<&'a str>,
    /// `grafana-annotations`: the region this event's fire created, if any.
    pub annotation: Option<u64>,
    /// The notifier's own text, if it has one.
    pub template: Option<&'a NotifyTemplate>,
}

/// `s` escaped for where a preset puts text (the template formatter's rule).
pub fn escape_for(preset: NotifyPreset, s: &str) -> String {
    match preset {
        NotifyPreset::Slack => SlackMrkdwn.escape(s),
        NotifyPreset::Mattermost | NotifyPreset::Teams => Markdown.escape(s),
        // JSON fields: serde escapes; Grafana and PagerDuty show plain text.
        NotifyPreset::Webhook
        | NotifyPreset::GrafanaAnnotations
        | NotifyPreset::PagerdutyChange => s.to_owned(),
    }
}

fn format_of(preset: NotifyPreset) -> &'static dyn Format {
    match preset {
        NotifyPreset::Slack => &SlackMrkdwn,
        NotifyPreset::Mattermost | NotifyPreset::Teams => &Markdown,
        _ => &Plain,
    }
}

/// The message text: the user's template when it renders, else ours (a
/// template that fails at run time must not lose the notification).
fn text(target: &Target<'_>, msg: &Message) -> String {
    let f = format_of(target.preset);
    let Some(t) = target.template else {
        return lines(msg, f);
    };
    let n = &msg.notice;
    let ctx = minijinja::context! {
        on => n.on.clone(),
        at => n.at.to_string(),
        remediation => n.remediation.clone(),
        target => n.target.clone(),
        event => n.event.clone(),
        verdict => n.verdict.map(|v| v.as_str()),
        reason => n.reason.clone(),
        why => n.why.clone(),
        outcome => n.outcome.clone(),
        started => n.started.map(|s| s.to_string()),
        link => n.link.clone(),
        headline => minijinja::Value::from_safe_string(headline(n, f)),
        more => summary(&msg.more, f).map(minijinja::Value::from_safe_string),
    };
    match t.render(&ctx) {
        Ok(text) => text,
        Err(_) => lines(msg, f),
    }
}

pub fn request(target: Target<'_>, msg: &Message) -> Request {
    let n = &msg.notice;
    let post = |body: Value| Request {
        method: "POST",
        url: target.url.to_owned(),
        body,
    };
    match target.preset {
        NotifyPreset::Slack => post(slack(&text(&target, msg))),
        NotifyPreset::Mattermost => post(json!({ "text": text(&target, msg) })),
        NotifyPreset::Teams => post(teams(msg, target.template.map(|_| text(&target, msg)))),
        NotifyPreset::Webhook => post(webhook(msg, &text(&target, msg))),
        NotifyPreset::PagerdutyChange => post(pagerduty(
            msg,
            target.routing_key.unwrap_or(""),
            &text(&target, msg),
        )),
        NotifyPreset::GrafanaAnnotations => grafana(target, n, &text(&target, msg)),
    }
}

/// How one format writes text from outside, emphasis and links.
trait Format {
    fn escape(&self, s: &str) -> String;
    fn bold(&self, s: &str) -> String;
    fn link(&self, url: &str, text: &str) -> String;
}

struct Plain;
struct SlackMrkdwn;
struct Markdown;

impl Format for Plain {
    fn escape(&self, s: &str) -> String {
        s.to_owned()
    }
    fn bold(&self, s: &str) -> String {
        s.to_owned()
    }
    fn link(&self, url: &str, text: &str) -> String {
        format!("{text}: {url}")
    }
}

impl Format for SlackMrkdwn {
    /// https://api.slack.com/reference/surfaces/formatting#escaping: these
    /// three only; anything else would show as typed.
    fn escape(&self, s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    fn bold(&self, s: &str) -> String {
        format!("*{s}*")
    }
    fn link(&self, url: &str, text: &str) -> String {
        // `|` and `>` end the link: the URL is ours, but escape it all the same.
        format!("<{}|{text}>", self.escape(url).replace('|', "%7C"))
    }
}

impl Format for Markdown {
    /// CommonMark: a backslash makes any ASCII punctuation literal, so label
    /// text cannot open a link, emphasis or an HTML tag.
    fn escape(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            // Only what opens markup in running text: `(` is literal once
            // `[` is escaped, `#`, `-` and `+` only matter at a line start,
            // which is always our own word.
            if matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&'
            ) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
    fn bold(&self, s: &str) -> String {
        format!("**{s}**")
    }
    fn link(&self, url: &str, text: &str) -> String {
        format!("[{text}]({})", url.replace(')', "%29").replace(' ', "%20"))
    }
}

/// What happened, in a few words: "restart-api rescued api/api-1".
fn headline(n: &Notice, f: &dyn Format) -> String {
    let r = f.bold(&f.escape(&n.remediation));
    let t = f.bold(&f.escape(&n.target));
    match n.on() {
        Some(NotifyOn::Fire) if n.reason.as_deref() == Some("shadow") => {
            format!("{r} would fire on {t} (shadow: not called)")
        }
        Some(NotifyOn::Fire) => format!("{r} fired on {t}"),
        Some(NotifyOn::Collapse) => format!("{r} on {t}: already being fixed, joined"),
        Some(NotifyOn::Defer) => format!("{r} deferred on {t}"),
        Some(NotifyOn::Escalate) => format!("{r} escalated on {t}"),
        Some(NotifyOn::AwaitingApproval) => format!("{r} on {t} awaits approval"),
        Some(NotifyOn::Rescued) => format!("{r} rescued {t}"),
        Some(NotifyOn::NotRescued) => format!("{r} ran on {t}, the alert did not resolve"),
        Some(NotifyOn::Failed) => format!("{r} failed on {t}"),
        Some(NotifyOn::TimedOut) => format!("{r} timed out on {t}"),
        Some(NotifyOn::Expired) => format!("{r} on {t} expired unapproved"),
        None => format!("{r} on {t}: {}", f.escape(&n.on)),
    }
}

/// Why, with the verdict and reason when there is one.
fn why(n: &Notice, f: &dyn Format) -> String {
    let mut s = String::from("why: ");
    if let Some(v) = n.verdict {
        s.push_str(v.as_str());
        if let Some(r) = &n.reason {
            s.push_str(&format!(" ({})", f.escape(r)));
        }
        s.push_str(": ");
    }
    s.push_str(&f.escape(&n.why));
    s
}

/// "14 more restart-api deferred: concurrency; 3 restart-api rescued".
fn summary(more: &[Tally], f: &dyn Format) -> Option<String> {
    if more.is_empty() {
        return None;
    }
    let parts: Vec<String> = more
        .iter()
        .map(|t| {
            let what = match NotifyOn::parse(&t.on) {
                Some(NotifyOn::Fire) => "fired".to_owned(),
                Some(NotifyOn::Collapse) => "joined a running fix".to_owned(),
                Some(NotifyOn::Defer) => "deferred".to_owned(),
                Some(NotifyOn::Escalate) => "escalated".to_owned(),
                Some(NotifyOn::AwaitingApproval) => "awaiting approval".to_owned(),
                Some(NotifyOn::NotRescued) => "not rescued".to_owned(),
                Some(NotifyOn::TimedOut) => "timed out".to_owned(),
                Some(other) => other.as_str().to_owned(),
                None => f.escape(&t.on),
            };
            let reason = t
                .reason
                .as_ref()
                .map(|r| format!(": {}", f.escape(r)))
                .unwrap_or_default();
            format!("{} {} {what}{reason}", t.count, f.escape(&t.remediation))
        })
        .collect();
    Some(format!("and {} more: {}", total(more), parts.join("; ")))
}

fn total(more: &[Tally]) -> u64 {
    more.iter().fold(0u64, |a, t| a.saturating_add(t.count))
}

/// The message as lines of text in a format.
fn lines(msg: &Message, f: &dyn Format) -> String {
    let n = &msg.notice;
    let mut out = vec![headline(n, f), why(n, f)];
    if let Some(o) = &n.outcome {
        out.push(format!("ended: {}", f.escape(o)));
    }
    if let (Some(e), Some(url)) = (&n.event, &n.link) {
        out.push(f.link(url, &format!("event {}", f.escape(e))));
    } else if let Some(e) = &n.event {
        out.push(format!("event {}", f.escape(e)));
    }
    out.extend(summary(&msg.more, f));
    out.join("\n")
}

/// Slack incoming webhook: `text` (the notification's fallback) plus blocks
/// (https://api.slack.com/messaging/webhooks).
fn slack(text: &str) -> Value {
    let section = truncate(text, SLACK_SECTION_CHARS);
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section}}
        ]
    })
}

/// Teams Workflows webhook: a message with one Adaptive Card attachment.
fn teams(msg: &Message, own: Option<String>) -> Value {
    let f = Markdown;
    let n = &msg.notice;
    let mut body = vec![
        json!({"type": "TextBlock", "text": headline(n, &f), "weight": "Bolder", "wrap": true}),
        json!({"type": "TextBlock", "text": why(n, &f), "wrap": true}),
    ];
    if let Some(o) = &n.outcome {
        body.push(
            json!({"type": "TextBlock", "text": format!("ended: {}", f.escape(o)), "wrap": true}),
        );
    }
    if let Some(s) = summary(&msg.more, &f) {
        body.push(json!({"type": "TextBlock", "text": s, "wrap": true, "isSubtle": true}));
    }
    if let Some(own) = own {
        body = vec![json!({"type": "TextBlock", "text": own, "wrap": true})];
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let (Some(url), Some(e)) = (&n.link, &n.event) {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": format!("event {e}"), "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

/// The `webhook` preset: the notice itself (docs/integrations.md documents
/// the fields), plus its text.
fn webhook(msg: &Message, text: &str) -> Value {
    let n = &msg.notice;
    json!({
        "version": 1,
        "key": n.key,
        "on": n.on,
        "at": n.at,
        "remediation": n.remediation,
        "target": n.target,
        "event": n.event,
        "verdict": n.verdict,
        "reason": n.reason,
        "why": n.why,
        "outcome": n.outcome,
        "started": n.started,
        "link": n.link,
        "text": text,
        "more": msg.more,
    })
}

/// PagerDuty Events API v2 change event.
fn pagerduty(msg: &Message, routing_key: &str, text: &str) -> Value {
    let n = &msg.notice;
    let summary = truncate(&text.replace('\n', " · "), PAGERDUTY_SUMMARY_CHARS);
    let mut details = json!({
        "on": n.on,
        "remediation": n.remediation,
        "target": n.target,
        "why": n.why,
        "resgate_key": n.key,
    });
    for (k, v) in [
        ("event", n.event.as_deref()),
        ("reason", n.reason.as_deref()),
        ("outcome", n.outcome.as_deref()),
    ] {
        if let Some(v) = v {
            details[k] = json!(v);
        }
    }
    if let Some(v) = n.verdict {
        details["verdict"] = json!(v);
    }
    if let Some(s) = summary_plain(msg) {
        details["more"] = json!(s);
    }
    let mut body = json!({
        "routing_key": routing_key,
        "payload": {
            "summary": summary,
            "timestamp": n.at.to_string(),
            "source": format!("resgate/{}", n.remediation),
            "custom_details": details,
        },
    });
    if let (Some(url), Some(e)) = (&n.link, &n.event) {
        body["links"] = json!([{"href": url, "text": format!("resgate event {e}")}]);
    }
    body
}

fn summary_plain(msg: &Message) -> Option<String> {
    summary(&msg.more, &Plain)
}

/// Grafana: a region per event. The fire creates it (`POST /api/annotations`
/// with `time`); the end closes it (`PATCH /api/annotations/{id}` with
/// `timeEnd`). An end whose fire made no annotation (not in `on`, or it
/// failed) posts the whole region at once, so the dashboard still shows it.
fn grafana(target: Target<'_>, n: &Notice, text: &str) -> Request {
    let base = target.url.trim_end_matches('/');
    let at = n.at.as_millisecond();
    let start = n.started.map_or(at, |s| s.as_millisecond());
    let tags = json!(["resgate", n.remediation, n.target]);
    let ends = n.on().is_some_and(NotifyOn::ends_event);
    match (ends, target.annotation) {
        (true, Some(id)) => Request {
            method: "PATCH",
            url: format!("{base}/api/annotations/{id}"),
            body: json!({"timeEnd": at, "text": text, "tags": tags}),
        },
        (true, None) => Request {
            method: "POST",
            url: format!("{base}/api/annotations"),
            body: json!({"time": start, "timeEnd": at, "tags": tags, "text": text}),
        },
        (false, _) => Request {
            method: "POST",
            url: format!("{base}/api/annotations"),
            body: json!({"time": at, "tags": tags, "text": text}),
        },
    }
}

/// At most `max` characters, ending in `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_label_text_from_becoming_markup() {
        assert_eq!(
            SlackMrkdwn.escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
        assert_eq!(
            Markdown.escape("[x](http://e) *b*"),
            "\\[x\\](http://e) \\*b\\*"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}

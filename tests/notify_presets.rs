//! Notification presets over real HTTP on loopback (DESIGN.md §9, issue 21):
//! rules with `notifiers:` → plan → render → one delivery, received by fakes
//! that check the request shape each receiver documents and answer as it
//! documents. Which document each fake follows is also in docs/integrations.md.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use jiff::Timestamp;
use resgate::engine::{Decision, EventState, Output, Proof, Transition, Verdict};
use resgate::notifier::render::{self, Target};
use resgate::notifier::send::{Delivery, Sender, grafana_annotation_id};
use resgate::notifier::{Message, Notice, Tally, plan};
use resgate::rules::{self, RuleSet};
use serde_json::Value;

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Answer = Box<dyn Fn(&Received) -> (u16, String) + Send + Sync>;

/// A receiver on 127.0.0.1:0 that records every request and answers with
/// `answer`.
struct Fake {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    fn start(answer: Answer) -> Fake {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = server.server_addr().to_ip().map_or(0, |a| a.port());
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let received = Received {
                    method: request.method().to_string(),
                    path: request.url().to_owned(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect(),
                    body: serde_json::from_str(&text).unwrap_or(Value::Null),
                };
                let (status, body) = answer(&received);
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(received);
                let _ = request
                    .respond(tiny_http::Response::from_string(body).with_status_code(status));
            }
        });
        Fake {
            url: format!("http://127.0.0.1:{port}"),
            got,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn rules_for(notifier_yaml: &str) -> RuleSet {
    let text = format!(
        r#"
remediators:
  runner: {{url: "https://runner.example/run"}}
notifiers:
{notifier_yaml}
notify: {{to: [n], on: [fire, defer, rescued, not_rescued, failed]}}
remediations:
  restart-api:
    match: {{alertname: ApiDown, service: "=~.+"}}
    target: "{{{{ service }}}}"
    remediator: runner
    budget: {{attempts: 3, within: 1h}}
"#
    );
    let loaded = rules::load_texts(vec![("rules.yaml".into(), text)]);
    let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded.rules.unwrap_or_else(|| panic!("rules refused"))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A fire on a target whose label text is hostile to every markup.
const TARGET: &str = "api <!channel> & [x](http://evil) *b*";

fn fire_and_rescue() -> Output {
    let fired = ts("2026-12-07T10:00:00Z");
    Output {
        decisions: vec![Decision {
            at: fired,
            alert: "fp1".into(),
            remediation: Some("restart-api".into()),
            target: Some(TARGET.into()),
            verdict: Verdict::Fire,
            reason: None,
            event: Some("ev-7".into()),
            proof: Proof::Fire {
                matched: vec!["alertname=ApiDown".into()],
                guards_checked: vec!["deploying".into()],
            },
        }],
        transitions: vec![Transition {
            at: ts("2026-12-07T10:06:00Z"),
            event: "ev-7".into(),
            remediation: "restart-api".into(),
            target: TARGET.into(),
            from: Some(EventState::Warming),
            to: EventState::Rescued,
        }],
    }
}

fn messages(rules: &RuleSet, out: &Output) -> Vec<Message> {
    let fired = ts("2026-12-07T10:00:00Z");
    plan::notices(
        rules,
        &out.decisions,
        &out.transitions,
        Some("https://resgate.example/"),
        &|_| Some(fired),
    )
    .into_iter()
    .map(|(_, notice)| Message {
        notice,
        more: Vec::new(),
    })
    .collect()
}

fn deliver(rules: &RuleSet, msg: &Message, annotation: Option<u64>) -> Delivery {
    let n = &rules.notifiers[0];
    let no_file = |_: &str| Err(std::io::Error::other("no files in this test"));
    let url = n
        .url
        .resolve(|_| None, no_file)
        .unwrap_or_else(|e| panic!("{e}"));
    let key = n.routing_key.as_ref().map(|k| {
        k.resolve(
            |v| (v == "PD_KEY").then(|| "0123456789abcdef0123456789abcdef".into()),
            no_file,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    });
    let headers: Vec<(String, String)> = n
        .headers
        .iter()
        .map(|(k, v)| {
            let v = v
                .resolve(
                    |v| (v == "GRAFANA_TOKEN").then(|| "glsa_token".into()),
                    no_file,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            (k.clone(), v)
        })
        .collect();
    let req = render::request(
        Target {
            preset: n.preset,
            url: &url,
            routing_key: key.as_deref(),
            annotation,
            template: n.template.as_ref(),
        },
        msg,
    );
    Sender::new().deliver(
        &req,
        &headers,
        &msg.notice.key,
        Duration::from_secs(5),
        msg.notice.at,
    )
}

fn sent(d: &Delivery) -> &[u8] {
    match d {
        Delivery::Sent { answer, .. } => answer,
        other => panic!("not sent: {other:?}"),
    }
}

/// Slack incoming webhooks, https://api.slack.com/messaging/webhooks: a JSON
/// POST with `text` (the fallback for notifications) and `blocks`; a section
/// block's text object is `{"type": "mrkdwn", "text": ...}`
/// (https://api.slack.com/reference/block-kit/blocks#section). Escaping per
/// https://api.slack.com/reference/surfaces/formatting#escaping: `&`, `<`,
/// `>` as `&amp;`, `&lt;`, `&gt;`. Slack answers `200` with the body `ok`.
#[test]
fn slack_gets_text_and_blocks_with_mrkdwn_escaped() {
    let fake = Fake::start(Box::new(|_| (200, "ok".into())));
    let rules = rules_for(&format!(
        "  n: {{preset: slack, url: \"{}/services/T000/B000/XXXX\"}}",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    assert_eq!(msgs.len(), 2, "fire and rescued, each once");
    for m in &msgs {
        sent(&deliver(&rules, m, None));
    }
    let got = fake.received();
    assert_eq!(got.len(), 2);
    let fire = &got[0];
    assert_eq!(fire.method, "POST");
    assert_eq!(fire.path, "/services/T000/B000/XXXX");
    assert!(
        fire.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_eq!(
        fire.header("idempotency-key"),
        Some(msgs[0].notice.key.as_str())
    );
    let text = fire.body["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {}", fire.body));
    let block = &fire.body["blocks"][0];
    assert_eq!(block["type"], "section");
    assert_eq!(block["text"]["type"], "mrkdwn");
    assert_eq!(block["text"]["text"].as_str(), Some(text));
    // What, where, why, and the event page.
    assert!(text.contains("*restart-api* fired on"), "{text}");
    assert!(
        text.contains("matched alertname=ApiDown; no guard held (deploying)"),
        "{text}"
    );
    assert!(
        text.contains("<https://resgate.example/events/ev%2D7|event ev-7>"),
        "{text}"
    );
    // The label text cannot ping a channel or forge a link.
    assert!(
        text.contains("api &lt;!channel&gt; &amp; [x](http://evil)"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    let rescued = got[1].body["text"].as_str().unwrap_or("");
    assert!(
        rescued.contains("rescued") && rescued.contains("ended: rescued"),
        "{rescued}"
    );
}

/// Mattermost incoming webhooks,
/// https://developers.mattermost.com/integrate/webhooks/incoming/: a JSON
/// POST with `text` in Markdown; Mattermost answers `200` `ok` (text/plain).
#[test]
fn mattermost_gets_markdown_text_with_label_text_escaped() {
    let fake = Fake::start(Box::new(|_| (200, "ok".into())));
    let rules = rules_for(&format!(
        "  n: {{preset: mattermost, url: \"{}/hooks/xxx-generatedkey-xxx\"}}",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    sent(&deliver(&rules, &msgs[0], None));
    let got = fake.received();
    assert_eq!(got[0].path, "/hooks/xxx-generatedkey-xxx");
    let body = got[0]
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not an object"));
    assert_eq!(body.keys().collect::<Vec<_>>(), ["text"]);
    let text = body["text"].as_str().unwrap_or("");
    assert!(text.contains("**restart-api** fired on"), "{text}");
    assert!(text.contains("\\[x\\](http://evil) \\*b\\*"), "{text}");
    assert!(
        text.contains("[event ev-7](https://resgate.example/events/ev%2D7)"),
        "{text}"
    );
}

/// Teams Workflows ("Send webhook alerts to a channel"): a message whose one
/// attachment is an Adaptive Card, as in
/// https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
/// (`{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{...}}]}`);
/// the card per https://adaptivecards.io/explorer/AdaptiveCard.html. The
/// workflow answers 202 Accepted with an empty body.
#[test]
fn teams_gets_an_adaptive_card_envelope() {
    let fake = Fake::start(Box::new(|_| (202, String::new())));
    let rules = rules_for(&format!(
        "  n: {{preset: teams, url: \"{}/workflows/abc/triggers/manual/paths/invoke\"}}",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    sent(&deliver(&rules, &msgs[1], None));
    let body = &fake.received()[0].body;
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().map_or(0, Vec::len);
    assert_eq!(attachments, 1);
    let a = &body["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &a["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert!(card["version"].as_str().is_some());
    let blocks = card["body"].as_array().cloned().unwrap_or_default();
    assert!(blocks.iter().all(|b| b["type"] == "TextBlock"));
    let all: String = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
    assert!(
        all.contains("rescued") && all.contains("ended: rescued"),
        "{all}"
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "https://resgate.example/events/ev%2D7"
    );
}

/// Grafana's annotations API,
/// https://grafana.com/docs/grafana/latest/developer-resources/api-reference/http-api/api-legacy/annotations/:
/// `POST /api/annotations` with `time` (epoch ms), `tags`, `text`, answered
/// `{"message":"Annotation added","id":1}`; `PATCH /api/annotations/:id`
/// updates `text`, `tags`, `time`, `timeEnd`, answered
/// `{"message":"Annotation patched"}`.
#[test]
fn grafana_gets_one_region_per_event_opened_at_fire_closed_at_the_end() {
    let fake = Fake::start(Box::new(|r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/grafana/api/annotations") => {
            (200, r#"{"message":"Annotation added","id":1145}"#.into())
        }
        ("PATCH", "/grafana/api/annotations/1145") => {
            (200, r#"{"message":"Annotation patched"}"#.into())
        }
        _ => (404, r#"{"message":"Not found"}"#.into()),
    }));
    let rules = rules_for(&format!(
        "  n:\n    preset: grafana-annotations\n    url: \"{}/grafana/\"\n    headers: {{Authorization: \"Bearer ${{env:GRAFANA_TOKEN}}\"}}",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    let id = grafana_annotation_id(sent(&deliver(&rules, &msgs[0], None)));
    assert_eq!(id, Some(1145));
    sent(&deliver(&rules, &msgs[1], id));
    let got = fake.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("authorization"), Some("Bearer glsa_token"));
    let open = &got[0].body;
    assert_eq!(open["time"], ts("2026-12-07T10:00:00Z").as_millisecond());
    assert!(open.get("timeEnd").is_none());
    assert_eq!(
        open["tags"],
        serde_json::json!(["resgate", "restart-api", TARGET])
    );
    assert!(open["text"].as_str().is_some_and(|t| t.contains("fired")));
    assert_eq!(got[1].method, "PATCH");
    assert_eq!(
        got[1].body["timeEnd"],
        ts("2026-12-07T10:06:00Z").as_millisecond()
    );
    assert!(
        got[1].body["text"]
            .as_str()
            .is_some_and(|t| t.contains("ended: rescued"))
    );

    // An end whose fire made no annotation still gets its whole region.
    sent(&deliver(&rules, &msgs[1], None));
    let whole = &fake.received()[2];
    assert_eq!(whole.method, "POST");
    assert_eq!(
        whole.body["time"],
        ts("2026-12-07T10:00:00Z").as_millisecond()
    );
    assert_eq!(
        whole.body["timeEnd"],
        ts("2026-12-07T10:06:00Z").as_millisecond()
    );
}

/// PagerDuty Events API v2 change events,
/// https://developer.pagerduty.com/docs/send-change-event (PagerDuty/developer-docs,
/// docs/events-API-v2/03-Change-Events.md): `POST /v2/change/enqueue` with
/// `routing_key`, `payload.summary` (required, at most 1024 characters),
/// `payload.timestamp`, `payload.source`, `payload.custom_details`, and
/// `links` of `{href, text}`. Answered `202` with
/// `{"status":"success","message":"Change event processed"}`.
#[test]
fn pagerduty_gets_a_change_event() {
    let fake = Fake::start(Box::new(|r| {
        let ok = r.path == "/v2/change/enqueue"
            && r.body["routing_key"]
                .as_str()
                .is_some_and(|k| k.len() == 32)
            && r.body["payload"]["summary"]
                .as_str()
                .is_some_and(|s| !s.is_empty() && s.chars().count() <= 1024);
        if ok {
            (
                202,
                r#"{"status":"success","message":"Change event processed"}"#.into(),
            )
        } else {
            (
                400,
                r#"{"status":"invalid event","message":"Event object is invalid"}"#.into(),
            )
        }
    }));
    let rules = rules_for(&format!(
        "  n: {{preset: pagerduty-change, url: \"{}/v2/change/enqueue\", routing_key: \"${{env:PD_KEY}}\"}}",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    let d = deliver(&rules, &msgs[0], None);
    assert!(matches!(d, Delivery::Sent { status: 202, .. }), "{d:?}");
    let body = &fake.received()[0].body;
    let p = &body["payload"];
    assert_eq!(p["timestamp"], "2026-12-07T10:00:00Z");
    assert_eq!(p["source"], "resgate/restart-api");
    assert_eq!(p["custom_details"]["on"], "fire");
    assert_eq!(p["custom_details"]["event"], "ev-7");
    assert_eq!(
        p["custom_details"]["resgate_key"],
        msgs[0].notice.key.as_str()
    );
    assert_eq!(
        body["links"][0]["href"],
        "https://resgate.example/events/ev%2D7"
    );
    // A long story is cut to PagerDuty's limit, not refused.
    let mut long = msgs[0].clone();
    long.notice.why = "x".repeat(5000);
    let d = deliver(&rules, &long, None);
    assert!(matches!(d, Delivery::Sent { .. }), "{d:?}");
}

/// The `webhook` preset: the notice as JSON (schema in docs/integrations.md),
/// with the digest's tally.
#[test]
fn webhook_gets_the_notice_and_what_was_summed_into_it() {
    let fake = Fake::start(Box::new(|_| (204, String::new())));
    let rules = rules_for(&format!(
        "  n: {{preset: webhook, url: \"{}/hook\"}}",
        fake.url
    ));
    let mut msg = messages(&rules, &fire_and_rescue()).remove(0);
    msg.more = vec![
        Tally {
            remediation: "restart-api".into(),
            on: "defer".into(),
            reason: Some("concurrency".into()),
            count: 14,
        },
        Tally {
            remediation: "restart-api".into(),
            on: "rescued".into(),
            reason: None,
            count: 3,
        },
    ];
    sent(&deliver(&rules, &msg, None));
    let body = &fake.received()[0].body;
    assert_eq!(body["version"], 1);
    assert_eq!(body["on"], "fire");
    assert_eq!(body["verdict"], "fire");
    assert_eq!(body["event"], "ev-7");
    assert_eq!(body["target"], TARGET);
    assert_eq!(body["more"][0]["count"], 14);
    let text = body["text"].as_str().unwrap_or("");
    assert!(
        text.contains("and 17 more: 14 restart-api deferred: concurrency; 3 restart-api rescued"),
        "{text}"
    );
}

/// `on` decides what is sent; a fire that only awaits approval is told as
/// `awaiting_approval`, and a refused call as `failed`.
#[test]
fn only_the_listed_events_are_planned() {
    let rules = rules_for("  n: {preset: webhook, url: \"http://127.0.0.1:9/hook\"}");
    let mut out = fire_and_rescue();
    out.decisions.push(Decision {
        verdict: Verdict::Collapse,
        ..out.decisions[0].clone()
    });
    out.decisions.push(Decision {
        verdict: Verdict::Fire,
        reason: Some("awaiting_approval".into()),
        ..out.decisions[0].clone()
    });
    out.transitions.push(Transition {
        to: EventState::Refused,
        ..out.transitions[0].clone()
    });
    out.transitions.push(Transition {
        to: EventState::Running,
        ..out.transitions[0].clone()
    });
    let words: Vec<String> =
        plan::notices(&rules, &out.decisions, &out.transitions, None, &|_| None)
            .into_iter()
            .map(|(_, n): (usize, Notice)| n.on)
            .collect();
    assert_eq!(words, ["fire", "rescued", "failed"]);
}

/// Errors never quote the URL: a Slack webhook URL is a secret.
#[test]
fn a_receiver_that_is_down_is_retryable_and_its_url_is_not_quoted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map_or(0, |a| a.port());
    drop(listener);
    let rules = rules_for(&format!(
        "  n: {{preset: slack, url: \"http://127.0.0.1:{port}/services/SECRET/TOKEN\"}}"
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    match deliver(&rules, &msgs[0], None) {
        Delivery::Retry { reason, .. } => assert!(!reason.contains("SECRET"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
}

/// 429 with `Retry-After` and 5xx are retried later; other 4xx are not.
#[test]
fn answers_are_sorted_into_retry_and_refused() {
    let fake = Fake::start(Box::new(|r| match r.path.as_str() {
        "/busy" => (429, "slow down".into()),
        "/broken" => (500, "<html>oops</html>".into()),
        _ => (404, "no_team".into()),
    }));
    for (path, retry) in [("/busy", true), ("/broken", true), ("/gone", false)] {
        let rules = rules_for(&format!(
            "  n: {{preset: slack, url: \"{}{path}\"}}",
            fake.url
        ));
        let msgs = messages(&rules, &fire_and_rescue());
        let d = deliver(&rules, &msgs[0], None);
        assert_eq!(matches!(d, Delivery::Retry { .. }), retry, "{path}: {d:?}");
        assert_eq!(
            matches!(d, Delivery::Refused { .. }),
            !retry,
            "{path}: {d:?}"
        );
    }
}

/// A user template replaces the preset's text; every value it prints is
/// escaped for the format (Slack mrkdwn here), the ready-made `headline` is
/// not escaped twice.
#[test]
fn a_template_replaces_the_text_and_its_values_are_escaped() {
    let fake = Fake::start(Box::new(|_| (200, "ok".into())));
    let rules = rules_for(&format!(
        "  n:\n    preset: slack\n    url: \"{}/hook\"\n    template: \"{{{{ headline }}}} | target={{{{ target }}}} | {{{{ on }}}} {{{{ event }}}}\"",
        fake.url
    ));
    let msgs = messages(&rules, &fire_and_rescue());
    sent(&deliver(&rules, &msgs[0], None));
    let text = fake.received()[0].body["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(
        text,
        "*restart-api* fired on *api &lt;!channel&gt; &amp; [x](http://evil) *b** | \
         target=api &lt;!channel&gt; &amp; [x](http://evil) *b* | fire ev-7"
    );
}

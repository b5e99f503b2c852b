//! The read-only status page of `resgate serve` (`GET /`): over plain HTTP
//! for its content and escaping, then in a real headless Chromium for what a
//! person sees: text laid out, nothing overlapping, no script, a screenshot.
//! The robo-hammer picture of the README gets the same browser check.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::browser::{Browser, assert_laid_out_apart, boxes_script, png_size, text_boxes};
use common::daemon::{API_DOWN, Daemon, alertmanager_payload, api_down_on, rig};
use common::fake_remediator::{Behaviour, FakeRemediator};

const WAIT: Duration = Duration::from_secs(30);
const HOSTILE: &str = r#"<script>alert("pwned")</script>&'"#;
const HOSTILE_REASON: &str = "<img src=x onerror=alert(1)> freeze";

/// A daemon with two events running (one on a target whose name is hostile
/// markup), a collapse, a paused deferral and a pause whose reason is markup.
struct Scene {
    _fake: FakeRemediator,
    _dir: tempfile::TempDir,
    daemon: Daemon,
}

fn scene() -> Scene {
    let (fake, dir, rules) = rig(
        Behaviour {
            // Polled every 100 ms: the events stay running for the whole test.
            running_polls: 100_000,
            ..Behaviour::default()
        },
        "",
    );
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);

    let pause = serde_json::json!({
        "remediation": "restart-api", "target": "api/api-9", "reason": HOSTILE_REASON, "for": "2h",
    });
    let (status, body) = d.request("POST", "/api/v1/pauses", &[], pause.to_string().as_bytes());
    assert_eq!(status, 201, "{body}");

    let post = |labels: &[(&str, &str)], starts_at: &str| {
        let body = alertmanager_payload("firing", labels, starts_at);
        let (status, answer) = d.post("/webhook/alertmanager", &body);
        assert_eq!(status, 200, "{answer}");
    };
    post(API_DOWN, "2026-11-25T10:00:00Z");
    post(&api_down_on(HOSTILE), "2026-11-25T10:00:00Z");
    d.wait_for("two running events", WAIT, |d| {
        let events = d.events();
        events.len() == 2 && events.iter().all(|e| e["state"] == "running")
    });
    post(API_DOWN, "2026-11-25T10:05:00Z");
    post(&api_down_on("api-9"), "2026-11-25T10:00:00Z");
    d.wait_for("a collapse and a paused deferral", WAIT, |d| {
        let decisions = d.decisions();
        decisions.iter().any(|x| x["verdict"] == "collapse")
            && decisions.iter().any(|x| x["reason"] == "paused")
    });
    Scene {
        _fake: fake,
        _dir: dir,
        daemon: d,
    }
}

/// GET with the raw answer: status line, headers and body.
fn get_raw(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (head.to_owned(), body.to_owned())
}

#[test]
fn the_status_page_shows_events_decisions_pauses_and_escapes_sender_text() {
    let scene = scene();
    let d = &scene.daemon;
    let (head, html) = get_raw(&d.addr, "/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let head_lower = head.to_ascii_lowercase();
    assert!(
        head_lower.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head_lower.contains("content-security-policy: default-src 'none'"),
        "scripts are forbidden by policy: {head}"
    );

    for expected in [
        "In flight (2)",
        r#"<a href="/events/ev-1">ev-1</a>"#,
        r#"<a href="/events/ev-2">ev-2</a>"#,
        "api/api-1:8080",
        // The hostile instance label, in the target, as text.
        "api/&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;&apos;",
        "&lt;img src=x onerror=alert(1)&gt; freeze",
        r#"<span class="verdict collapse">collapse</span>"#,
        "<td>paused</td>",
        "Pauses (1)",
        r#"<section id="timeline"><h2>Timeline, last 6 h</h2>"#,
    ] {
        assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
    }
    assert!(
        !html.contains("<script"),
        "markup from a label reached the page"
    );
    assert!(
        !html.contains("<img"),
        "markup from a pause reason reached the page"
    );

    let version = html
        .split_once(r#"<code id="rules-version">"#)
        .and_then(|(_, rest)| rest.split_once("</code>"))
        .map(|(v, _)| v)
        .expect("a rules version");
    assert!(
        version.len() == 12 && version.chars().all(|c| c.is_ascii_hexdigit()),
        "{version:?}"
    );

    // The timeline is inline SVG, well-formed, with the decisions drawn.
    let svg_start = html.find("<svg").expect("an inline picture");
    let svg_end = html.find("</svg>").expect("the picture ends") + "</svg>".len();
    let svg = &html[svg_start..svg_end];
    let doc = roxmltree::Document::parse(svg).expect("the inline SVG is XML");
    let verdicts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("decision"))
        .filter_map(|n| n.attribute("data-verdict"))
        .collect();
    assert_eq!(
        verdicts.iter().filter(|v| **v == "fire").count(),
        2,
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&"collapse") && verdicts.contains(&"defer"),
        "{verdicts:?}"
    );
    let running_bars = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("event"))
        .count();
    assert_eq!(running_bars, 2, "one bar per event");

    // The decisions API reads the same window through the time index.
    let all = d.decisions().len();
    assert!(all >= 4, "{all}");
    let recent = d.get_json("/api/v1/decisions?since=1h")["decisions"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(recent, all, "every decision is from the last hour");
    let future = d.get_json("/api/v1/decisions?since=2099-01-01T00:00:00Z")["decisions"]
        .as_array()
        .map_or(usize::MAX, Vec::len);
    assert_eq!(future, 0);

    // Only GET; a bad `hours` falls back to the default window.
    assert_eq!(d.request("POST", "/", &[], b"").0, 405);
    let (head, html) = get_raw(&d.addr, "/?hours=lots");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(html.contains("Timeline, last 6 h"));
    let (_, html) = get_raw(&d.addr, "/?hours=100000");
    assert!(
        html.contains("Timeline, last 168 h"),
        "the window is capped at a week"
    );
}

/// Each event has a page of its own (DESIGN.md §9, `/events/{id}`), which the
/// status page links to instead of raw JSON (issue 18 item 8): the story
/// `explain` tells and its picture, every sender's value escaped.
#[test]
fn an_event_page_tells_its_story_escaped() {
    let scene = scene();
    let d = &scene.daemon;
    let events = d.events();
    let hostile = events
        .iter()
        .find(|e| e["target"].as_str().is_some_and(|t| t.contains("<script>")))
        .and_then(|e| e["id"].as_str())
        .expect("the event on the hostile target")
        .to_owned();
    let (head, html) = get_raw(&d.addr, &format!("/events/{hostile}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let head_lower = head.to_ascii_lowercase();
    assert!(
        head_lower.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head_lower.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    for expected in [
        format!("<title>resgate event {hostile}</title>"),
        format!(
            "event {hostile}: restart-api on api/&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;&apos;, running"
        ),
        "fire restart-api api/&lt;script&gt;".to_owned(),
        format!(r#"<a href="/api/v1/events/{hostile}/explain">"#),
        "<svg".to_owned(),
    ] {
        assert!(html.contains(&expected), "no {expected:?} in\n{html}");
    }
    assert!(!html.contains("<script>"), "{html}");
    let (head, _) = get_raw(&d.addr, "/events/ev-404");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn a_new_daemon_shows_an_empty_page() {
    let (_fake, dir, rules) = rig(Behaviour::default(), "");
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);
    let (head, html) = get_raw(&d.addr, "/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for expected in [
        "In flight (0)",
        "Nothing was decided in this window.",
        "No decision yet.",
        "Nothing is paused.",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
    }
    assert!(!html.contains("<svg"));
}

/// The size of the browser's viewport: what a screenshot covers.
fn viewport(browser: &Browser) -> (u32, u32) {
    let size = browser.eval("return [window.innerWidth, window.innerHeight];");
    let side = |i: usize| {
        size[i]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .expect("a size")
    };
    (side(0), side(1))
}

/// Where screenshots go, for a person to look at after the run.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn a_real_browser_renders_the_status_page_with_its_timeline() {
    let (width, height) = (1280, 1600);
    let Some(browser) = Browser::start(width, height) else {
        return;
    };
    let scene = scene();
    browser.open(&format!("http://{}/", scene.daemon.addr));

    assert_eq!(browser.eval("return document.title;"), "resgate status");
    assert_eq!(
        browser.eval("return document.querySelectorAll('script, img').length;"),
        0,
        "markup from labels or reasons became elements"
    );
    let text = browser.eval("return document.body.innerText;");
    let text = text.as_str().expect("page text");
    for expected in [
        "In flight (2)",
        "ev-1",
        // Shown as text, exactly as the sender wrote it.
        HOSTILE,
        HOSTILE_REASON,
        "Recent decisions",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let svg_text = text_boxes(&browser.eval(&boxes_script("#timeline svg text")));
    assert_laid_out_apart(&svg_text, "timeline");
    let markers = text_boxes(&browser.eval(&boxes_script(
        "#timeline svg g.decision[data-verdict='fire']",
    )));
    assert_eq!(markers.len(), 2, "{markers:?}");
    assert!(
        markers.iter().all(|m| m.w > 0.0 && m.h > 0.0),
        "{markers:?}"
    );
    let cells = text_boxes(&browser.eval(&boxes_script(
        "#in-flight td:not(:empty), #decisions td:not(:empty)",
    )));
    assert_laid_out_apart(&cells, "tables");

    let png = browser.screenshot();
    assert_eq!(png_size(&png), viewport(&browser));
    std::fs::write(screenshot_path("status-page.png"), &png).expect("save the screenshot");
}

/// The event page (DESIGN.md §9: "checked in headless Chromium like the
/// status page"), for the event on the target whose name is markup: the
/// browser shows the sender's text as text, makes no element of it, and lays
/// out the story's picture without overlapping labels.
#[test]
fn a_real_browser_renders_an_event_page() {
    let (width, height) = (1280, 1200);
    let Some(browser) = Browser::start(width, height) else {
        return;
    };
    let scene = scene();
    let d = &scene.daemon;
    let hostile = d
        .events()
        .iter()
        .find(|e| e["target"].as_str().is_some_and(|t| t.contains("<script>")))
        .and_then(|e| e["id"].as_str())
        .expect("the event on the hostile target")
        .to_owned();
    browser.open(&format!("http://{}/events/{hostile}", d.addr));

    assert_eq!(
        browser.eval("return document.title;"),
        format!("resgate event {hostile}").as_str()
    );
    assert_eq!(
        browser.eval("return document.querySelectorAll('script, img, iframe').length;"),
        0,
        "markup from the target became elements"
    );
    let text = browser.eval("return document.body.innerText;");
    let text = text.as_str().expect("page text");
    for expected in [hostile.as_str(), "restart-api", HOSTILE] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let svg_text = text_boxes(&browser.eval(&boxes_script("svg text")));
    assert!(
        !svg_text.is_empty(),
        "no picture on the event page:\n{text}"
    );
    assert_laid_out_apart(&svg_text, "event picture");

    let png = browser.screenshot();
    assert_eq!(png_size(&png), viewport(&browser));
    std::fs::write(screenshot_path("event-page.png"), &png).expect("save the screenshot");
}

#[test]
fn a_real_browser_renders_the_robo_hammer_picture() {
    let (width, height) = (1100, 700);
    let Some(browser) = Browser::start(width, height) else {
        return;
    };
    let picture = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/robo-hammer.svg");
    browser.open(&format!("file://{}", picture.display()));
    let texts = text_boxes(&browser.eval(&boxes_script("text")));
    assert_laid_out_apart(&texts, "robo-hammer picture");
    let fires = browser
        .eval("return document.querySelectorAll(\"g.decision[data-verdict='fire']\").length;");
    assert_eq!(fires, 1, "one deploy fired");
    let png = browser.screenshot();
    assert_eq!(png_size(&png), viewport(&browser));
    std::fs::write(screenshot_path("robo-hammer.png"), &png).expect("save the screenshot");
}

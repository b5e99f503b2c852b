//! The read-only status page at `/`: plain server-rendered HTML, no script.
//!
//! [`render`] is pure: the route gathers a [`StatusPage`] from the journal and
//! this module only writes it. Every value that reaches the page goes through
//! [`escape`]: labels, targets, reasons and pause reasons are other people's
//! input. The page refreshes itself with a `<meta>` tag, so it needs no
//! JavaScript, and the route forbids scripts with a Content-Security-Policy.

use std::fmt::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;

use crate::timeline::svg::escape;

/// Everything the page shows, read from the journal and the daemon's state.
pub struct StatusPage<'a> {
    pub now: Timestamp,
    pub instance: &'a str,
    /// With a shared journal: `leader` or `standby` (`None`: the one daemon
    /// of a SQLite journal, which always leads).
    pub role: Option<&'a str>,
    pub rules: &'a super::RulesRecord,
    /// The window the timeline covers, in hours.
    pub hours: u32,
    /// Events not in a final state (journal JSON of `/api/v1/events`).
    pub in_flight: &'a [Value],
    /// The newest decisions first (journal JSON of `/api/v1/decisions`).
    pub decisions: &'a [Value],
    /// Pauses in force.
    pub pauses: &'a [Value],
    /// The timeline picture of the window; `None` when nothing happened in it.
    pub timeline: Option<&'a str>,
    /// The window held more decisions than the picture draws.
    pub truncated: bool,
    /// Per notifier: `notifier`, `sent`, `failed`, `queued`,
    /// `oldest_queued`, `last_error` (DESIGN.md §9). Empty: no section.
    pub notifications: &'a [Value],
    /// Fact relations with no good refresh within `stale_after`, with their
    /// last good refresh: decisions reading them defer (DESIGN.md §8).
    pub stale_facts: &'a [(String, Option<Timestamp>)],
}

/// Seconds between automatic reloads of the page.
pub const REFRESH_SECS: u32 = 30;

/// The page's size is bounded whatever the journal holds (issue 19: one
/// 850 KB webhook made it 2.5 MB and 38 ms of CPU per view, and 80 views
/// slowed every other client). Each table stops at this many bytes, with a
/// line saying how many rows it left out and where the API lists them all...
pub const TABLE_BYTES: usize = 96 * 1024;
/// ...the timeline picture is left out, with a note, beyond this...
pub const PICTURE_BYTES: usize = 384 * 1024;
/// ...and every value shown (a label, a target, a reason) is cut to this
/// many characters with an ellipsis, so that one row cannot fill a table.
pub const CELL_CHARS: usize = 120;
/// What the page can weigh at most: the tables, the picture, and the head,
/// style and notes around them (a few KiB, with room to spare).
pub const PAGE_BYTES: usize = 3 * TABLE_BYTES + PICTURE_BYTES + 32 * 1024;

/// A rendered page is served again for this long: however many browsers
/// (or a reload loop) ask, the journal is read and the page drawn at most
/// once a second per `?hours=`; the page says `at` when it was drawn.
pub const CACHE_FOR: Duration = Duration::from_secs(1);

/// The last page rendered, and for which `?hours=`.
#[derive(Default)]
pub struct Cache {
    last: Mutex<Option<(Instant, u32, Arc<str>)>>,
}

impl Cache {
    /// The page for `hours`: the one rendered less than [`CACHE_FOR`] ago, or
    /// a new one. Viewers arriving during a render wait for it rather than
    /// render too.
    pub fn get<E>(
        &self,
        hours: u32,
        render: impl FnOnce() -> Result<String, E>,
    ) -> Result<Arc<str>, E> {
        let mut last = match self.last.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((at, h, page)) = last.as_ref()
            && *h == hours
            && at.elapsed() < CACHE_FOR
        {
            return Ok(page.clone());
        }
        let page: Arc<str> = render()?.into();
        *last = Some((Instant::now(), hours, page.clone()));
        Ok(page)
    }
}

pub fn render(page: &StatusPage) -> String {
    let picture = page.timeline.map_or(0, |t| t.len().min(PICTURE_BYTES));
    let mut out = String::with_capacity(16 * 1024 + picture);
    // Writing to a String cannot fail.
    let _ = write_page(&mut out, page);
    out
}

fn write_page(out: &mut String, page: &StatusPage) -> fmt::Result {
    write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resgate status</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>resgate</h1>
<p class="meta">instance <code>{instance}</code>{role} · at {now} · rules <code id="rules-version">{version}</code> loaded {loaded}{refused}</p>{stale}
</header>
"#,
        stale = if page.stale_facts.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = page
                .stale_facts
                .iter()
                .map(|(name, at)| {
                    format!(
                        "<code>{}</code> ({})",
                        cut(name),
                        at.map_or("never refreshed".to_owned(), |t| format!(
                            "last good refresh {}",
                            time(t)
                        ))
                    )
                })
                .collect();
            format!(
                r#"
<p class="warn" id="stale-facts">stale fact sources: {}; decisions reading them defer (<code>stale_facts</code>)</p>"#,
                list.join(", ")
            )
        },
        instance = escape(page.instance),
        role = page
            .role
            .map(|r| format!(r#" · <strong id="role">{}</strong>"#, escape(r)))
            .unwrap_or_default(),
        now = time(page.now),
        version = escape(&page.rules.version),
        loaded = time(page.rules.loaded_at),
        refused = match page.rules.last_refused {
            Some(at) => format!(
                r#" · <span class="warn">last reload refused at {} (they fail lint or use unresolved secrets; the log says which; the version above is still live)</span>"#,
                time(at)
            ),
            None => String::new(),
        },
    )?;

    write_in_flight(out, page.in_flight)?;
    write_timeline(out, page)?;
    write_decisions(out, page.decisions)?;
    write_pauses(out, page.pauses)?;
    write_notifications(out, page.notifications)?;
    out.push_str("</body>\n</html>\n");
    Ok(())
}

fn write_in_flight(out: &mut String, events: &[Value]) -> fmt::Result {
    writeln!(
        out,
        r#"<section id="in-flight"><h2>In flight ({})</h2>"#,
        events.len()
    )?;
    if events.is_empty() {
        out.push_str("<p class=\"empty\">No event is pending, running or warming up.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>event</th><th>remediation</th><th>target</th><th>state</th>\
             <th>remote ID</th><th>fired</th><th>last change</th></tr></thead><tbody>\n",
        );
        let start = out.len();
        for (i, e) in events.iter().enumerate() {
            if out.len() - start > TABLE_BYTES {
                more(out, events.len() - i, 7, "/api/v1/events")?;
                break;
            }
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><span class=\"state {state}\">{state}</span></td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                event_link(text(e, "id")),
                cell(e, "remediation"),
                cell(e, "target"),
                cell(e, "remote_id"),
                stored_time(e, "fired_at"),
                stored_time(e, "updated_at"),
                state = cell(e, "state"),
            )?;
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn write_timeline(out: &mut String, page: &StatusPage) -> fmt::Result {
    writeln!(
        out,
        r#"<section id="timeline"><h2>Timeline, last {} h</h2>"#,
        page.hours
    )?;
    match page.timeline {
        Some(svg) if svg.len() > PICTURE_BYTES => {
            writeln!(
                out,
                "<p class=\"warn\">The picture of this window is too large to show ({} KiB). \
                 Ask for fewer hours with <code>?hours=</code>, or read \
                 <a href=\"/api/v1/decisions\">/api/v1/decisions</a>.</p>",
                svg.len() / 1024
            )?;
        }
        Some(svg) => {
            if page.truncated {
                out.push_str(
                    "<p class=\"warn\">Too many decisions in this window: the picture starts \
                     at the oldest one it could draw. Ask for fewer hours with <code>?hours=</code>.</p>\n",
                );
            }
            // The picture is as wide as it needs; the box scrolls, rows never squeeze.
            writeln!(out, "<div class=\"picture\">{svg}</div>")?;
        }
        None => out.push_str("<p class=\"empty\">Nothing was decided in this window.</p>\n"),
    }
    out.push_str("</section>\n");
    Ok(())
}

fn write_decisions(out: &mut String, decisions: &[Value]) -> fmt::Result {
    writeln!(
        out,
        r#"<section id="decisions"><h2>Recent decisions ({})</h2>"#,
        decisions.len()
    )?;
    if decisions.is_empty() {
        out.push_str("<p class=\"empty\">No decision yet.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>at</th><th>verdict</th><th>reason</th><th>remediation</th>\
             <th>target</th><th>alert</th><th>event</th></tr></thead><tbody>\n",
        );
        let start = out.len();
        for (i, d) in decisions.iter().enumerate() {
            if out.len() - start > TABLE_BYTES {
                more(out, decisions.len() - i, 7, "/api/v1/decisions")?;
                break;
            }
            writeln!(
                out,
                "<tr><td>{}</td><td><span class=\"verdict {verdict}\">{verdict}</span></td><td>{}</td>\
                 <td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                stored_time(d, "at"),
                cell(d, "reason"),
                cell(d, "remediation"),
                cell(d, "target"),
                cell(d, "alert"),
                event_link(text(d, "event")),
                verdict = cell(d, "verdict"),
            )?;
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn write_pauses(out: &mut String, pauses: &[Value]) -> fmt::Result {
    writeln!(
        out,
        r#"<section id="pauses"><h2>Pauses ({})</h2>"#,
        pauses.len()
    )?;
    if pauses.is_empty() {
        out.push_str("<p class=\"empty\">Nothing is paused.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>remediation</th><th>target</th><th>reason</th><th>until</th>\
             <th>since</th></tr></thead><tbody>\n",
        );
        let start = out.len();
        for (i, p) in pauses.iter().enumerate() {
            if out.len() - start > TABLE_BYTES {
                more(out, pauses.len() - i, 5, "/api/v1/pauses")?;
                break;
            }
            let target = match text(p, "target") {
                "" => "<em>every target</em>".to_owned(),
                _ => cell(p, "target"),
            };
            let until = match text(p, "until") {
                "" => "<em>until unpaused</em>".to_owned(),
                _ => stored_time(p, "until"),
            };
            writeln!(
                out,
                "<tr><td>{}</td><td>{target}</td><td>{}</td><td>{until}</td><td>{}</td></tr>",
                cell(p, "remediation"),
                cell(p, "reason"),
                stored_time(p, "created_at"),
            )?;
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

/// Notifiers and what became of their messages: a receiver that refuses
/// them shows here, with why, not only in the log.
fn write_notifications(out: &mut String, rows: &[Value]) -> fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    out.push_str(
        "<section id=\"notifications\"><h2>Notifications</h2>\n<table><thead><tr><th>notifier</th>\
         <th>sent</th><th>failed</th><th>queued</th><th>oldest queued</th><th>last failure</th>\
         </tr></thead><tbody>\n",
    );
    // One row per notifier of the rules: bounded by the rules, not by traffic.
    for r in rows {
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        let failed = n("failed");
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td{}>{failed}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            cell(r, "notifier"),
            n("sent"),
            if failed > 0 { " class=\"warn\"" } else { "" },
            n("queued"),
            stored_time(r, "oldest_queued"),
            cell(r, "last_error"),
        )?;
    }
    out.push_str("</tbody></table>\n</section>\n");
    Ok(())
}

/// A string field of a journal row, or "" when absent or null.
fn text<'a>(row: &'a Value, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A string field, cut to [`CELL_CHARS`] with an ellipsis, then escaped.
fn cell(row: &Value, key: &str) -> String {
    cut(text(row, key))
}

/// `raw` cut to [`CELL_CHARS`] with an ellipsis, then escaped.
fn cut(raw: &str) -> String {
    match raw.char_indices().nth(CELL_CHARS) {
        Some((end, _)) => format!("{}…", escape(&raw[..end])),
        None => escape(raw).into_owned(),
    }
}

/// The last row of a table cut at [`TABLE_BYTES`]: how many rows it left out.
fn more(out: &mut String, left: usize, columns: usize, api: &str) -> fmt::Result {
    writeln!(
        out,
        "<tr><td colspan=\"{columns}\" class=\"warn\">{left} more not shown: \
         see <a href=\"{api}\">{api}</a></td></tr>"
    )
}

/// `2026-11-25 10:00:00 UTC`, in a `<time>` element carrying the exact instant.
fn time(t: Timestamp) -> String {
    format!(
        r#"<time datetime="{t:.0}">{}</time>"#,
        t.strftime("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// A journal timestamp as [`time`]; text that does not parse is shown as is.
fn stored_time(row: &Value, key: &str) -> String {
    match text(row, key).parse::<Timestamp>() {
        Ok(t) => time(t),
        Err(_) => cell(row, key),
    }
}

/// An event ID linking to its page, `/events/{id}` (empty for no event). IDs
/// are resgate's own (`ev-N`); one that is not is shown cut, as any cell.
fn event_link(id: &str) -> String {
    if id.is_empty() {
        return String::new();
    }
    let shown = cut(id);
    format!(
        r#"<a href="/events/{}">{shown}</a>"#,
        escape(&percent_encode(id)),
    )
}

/// The page of one event (DESIGN.md §9, `/events/{id}`): the story
/// `resgate explain` tells, as preformatted text, under its timeline
/// picture, with links to the same as JSON. `story` is that text (values from
/// outside already escaped for a terminal); here it is escaped for HTML.
pub fn render_event(id: &str, story: &str, picture: Option<&str>) -> String {
    let id_html = escape(id);
    let id_url = escape(&percent_encode(id)).into_owned();
    let mut out = String::with_capacity(story.len() * 2 + picture.map_or(0, str::len) + 2048);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>resgate event {id_html}</title>
<style>{STYLE} pre {{ white-space: pre-wrap; }}</style>
</head>
<body>
<header>
<h1>event {id_html}</h1>
<p class="meta"><a href="/">status</a> · as JSON: <a href="/api/v1/events/{id_url}">the event</a>, <a href="/api/v1/events/{id_url}/explain">its story</a></p>
</header>
"#
    );
    if let Some(svg) = picture {
        let _ = writeln!(out, "<section id=\"timeline\">{svg}</section>");
    }
    out.push_str("<section id=\"story\"><pre>");
    for (i, line) in story.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&escape(line));
    }
    out.push_str("</pre></section>\n</body>\n</html>\n");
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { margin: 0; font-size: 1.6em; }
h2 { font-size: 1.15em; margin: 1.5em 0 .5em; }
.meta { color: #555; margin: .3em 0 0; }
.warn { color: #8a4b00; }
.empty { color: #666; font-style: italic; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #ddd; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f4f4f4; }
code { font-size: .95em; }
.picture { overflow: auto; max-height: 70vh; border: 1px solid #ddd; }
.verdict, .state { padding: 0 .4em; border-radius: 3px; border: 1px solid currentColor; }
.verdict.fire { color: #b34700; } .verdict.collapse { color: #005a8c; }
.verdict.defer { color: #6b5a00; } .verdict.escalate { color: #9c2f6b; }
.verdict.discard { color: #555; }
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::RulesRecord;
    use serde_json::json;

    fn rules() -> RulesRecord {
        RulesRecord {
            version: "0123456789ab".into(),
            loaded_at: "2026-11-25T10:00:00Z".parse().unwrap(),
            last_refused: None,
        }
    }

    fn page<'a>(
        rules: &'a RulesRecord,
        in_flight: &'a [Value],
        decisions: &'a [Value],
        pauses: &'a [Value],
    ) -> StatusPage<'a> {
        StatusPage {
            now: "2026-11-25T10:30:00Z".parse().unwrap(),
            instance: "abc",
            role: None,
            rules,
            hours: 6,
            in_flight,
            decisions,
            pauses,
            timeline: None,
            truncated: false,
            notifications: &[],
            stale_facts: &[],
        }
    }

    #[test]
    fn stale_fact_sources_are_named() {
        let rules = rules();
        let mut p = page(&rules, &[], &[], &[]);
        assert!(!render(&p).contains("stale-facts"));
        let stale = [
            (
                "queue_depth".to_owned(),
                Some("2026-11-25T10:03:30Z".parse().unwrap()),
            ),
            ("<b>x</b>".to_owned(), None),
        ];
        p.stale_facts = &stale;
        let html = render(&p);
        assert!(
            html.contains("<code>queue_depth</code> (last good refresh"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b&gt;x&lt;/b&gt;</code> (never refreshed)"),
            "{html}"
        );
    }

    #[test]
    fn sender_text_is_escaped_everywhere() {
        let hostile = r#"<script>alert("x")</script>&'"#;
        let rules = rules();
        let events = [
            json!({"id": "ev-1\"><b>", "remediation": hostile, "target": hostile,
            "state": "running", "remote_id": hostile, "fired_at": hostile, "updated_at": "2026-11-25T10:01:00Z"}),
        ];
        let decisions = [
            json!({"at": "2026-11-25T10:00:00Z", "verdict": "defer", "reason": hostile,
            "remediation": hostile, "target": hostile, "alert": hostile, "event": hostile}),
        ];
        let pauses = [
            json!({"remediation": hostile, "target": hostile, "reason": hostile,
            "until": null, "created_at": "2026-11-25T09:00:00Z"}),
        ];
        let html = render(&page(&rules, &events, &decisions, &pauses));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&apos;"));
        assert!(
            html.contains(r#"href="/events/ev-1%22%3E%3Cb%3E""#),
            "an ID in a link is percent-encoded: {html}"
        );
    }

    #[test]
    fn empty_sections_say_so_and_a_refused_reload_is_shown() {
        let mut rules = rules();
        rules.last_refused = Some("2026-11-25T10:20:00Z".parse().unwrap());
        let html = render(&page(&rules, &[], &[], &[]));
        for expected in [
            "In flight (0)",
            "No event is pending",
            "Nothing was decided in this window.",
            "No decision yet.",
            "Nothing is paused.",
            "last reload refused at <time datetime=\"2026-11-25T10:20:00Z\">2026-11-25 10:20:00 UTC</time>",
            "<code id=\"rules-version\">0123456789ab</code>",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in {html}");
        }
    }

    /// Whatever the journal holds (here 10,000 of each row, every value
    /// 100 KiB of characters that escaping makes six times longer, and a
    /// picture of 10 MB), the page stays under [`PAGE_BYTES`].
    #[test]
    fn the_page_is_bounded_whatever_the_input() {
        let rules = rules();
        let huge = "\"".repeat(100 * 1024);
        let events: Vec<Value> = (0..10_000)
            .map(|i| {
                json!({"id": format!("ev-{i}"), "remediation": huge, "target": huge,
                "state": huge, "remote_id": huge, "fired_at": huge, "updated_at": huge})
            })
            .collect();
        let decisions: Vec<Value> = (0..10_000)
            .map(|_| {
                json!({"at": huge, "verdict": huge, "reason": huge, "remediation": huge,
                "target": huge, "alert": huge, "event": "ev-1"})
            })
            .collect();
        let pauses: Vec<Value> = (0..10_000)
            .map(|_| {
                json!({"remediation": huge, "target": huge, "reason": huge,
                "until": huge, "created_at": huge})
            })
            .collect();
        let picture = "<svg>".repeat(2 * 1024 * 1024);
        let mut page = page(&rules, &events, &decisions, &pauses);
        page.timeline = Some(&picture);
        let html = render(&page);
        assert!(html.len() < PAGE_BYTES, "{} bytes", html.len());
        assert!(html.contains("more not shown"));
        assert!(html.contains("too large to show"));
        assert!(
            html.contains("&quot;…"),
            "a long value is cut with an ellipsis"
        );
        // And a small page is whole.
        let few = &events[..1];
        let html = render(&page_with(&rules, few));
        assert!(!html.contains("more not shown"));
    }

    fn page_with<'a>(rules: &'a RulesRecord, in_flight: &'a [Value]) -> StatusPage<'a> {
        page(rules, in_flight, &[], &[])
    }

    /// However often it is asked, a page is drawn at most once per
    /// [`CACHE_FOR`] (counted against the time the asking took, so a slow
    /// machine cannot fail it).
    #[test]
    fn the_page_is_drawn_at_most_once_a_second() {
        let cache = Cache::default();
        let renders = std::cell::Cell::new(0u64);
        let started = Instant::now();
        for _ in 0..1_000 {
            let page = cache.get(6, || {
                renders.set(renders.get() + 1);
                Ok::<_, ()>("page".to_owned())
            });
            assert_eq!(page.as_deref(), Ok("page"));
        }
        let allowed = started.elapsed().as_secs() / CACHE_FOR.as_secs() + 1;
        assert!(renders.get() <= allowed, "{} renders", renders.get());
        // Another window is another page.
        assert_eq!(
            cache
                .get(1, || Ok::<_, ()>("one hour".to_owned()))
                .as_deref(),
            Ok("one hour")
        );
    }

    #[test]
    fn a_pause_on_every_target_without_end_reads_so() {
        let rules = rules();
        let pauses = [
            json!({"remediation": "restart-api", "target": null, "reason": "maintenance",
            "until": null, "created_at": "2026-11-25T09:00:00Z"}),
        ];
        let html = render(&page(&rules, &[], &[], &pauses));
        assert!(html.contains("<td>restart-api</td><td><em>every target</em></td><td>maintenance</td><td><em>until unpaused</em></td>"), "{html}");
    }
}

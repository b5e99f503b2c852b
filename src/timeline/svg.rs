//! Draws a [`Timeline`] as one SVG document, written by hand.
//!
//! Layout: a fixed width, one fixed-height row per target (so labels can never
//! overlap and the picture grows downwards with the number of targets), a time
//! axis with round steps at the top and bottom, and a legend. Each decision is
//! a marker whose shape *and* colour say the verdict (Okabe–Ito palette, safe
//! for colour-blind readers); details live in `<title>` tooltips.
//!
//! Every piece of text that reaches the document (title, labels, reasons, IDs,
//! alert names) goes through [`escape`]: alert labels are sender input.
//! The output is deterministic: the same timeline gives the same bytes, so a
//! picture can be checked in and compared.

use std::borrow::Cow;
use std::fmt::{self, Write};

use jiff::{SignedDuration, Timestamp};

use crate::engine::{EventState, Verdict};
use crate::source::AlertStatus;

use super::{EventBar, Mark, Row, Timeline};

/// The document's width; the height follows the number of rows.
pub const WIDTH: f64 = 1000.0;
/// Every row is this tall, whatever it holds.
pub const ROW_HEIGHT: f64 = 32.0;
/// The label column: each row's label box starts here and is this wide.
pub const LABEL_X: f64 = 8.0;
pub const LABEL_WIDTH: f64 = 252.0;
/// Label boxes leave this much room above and below inside their row.
pub const LABEL_GAP: f64 = 1.0;
/// The plot (time axis) spans these x coordinates.
pub const PLOT_LEFT: f64 = 276.0;
pub const PLOT_RIGHT: f64 = 960.0;
/// The first row's top.
pub const TOP: f64 = 148.0;
/// Advance of one character of the 12 px monospace label font (0.6 em, with a
/// margin for fonts slightly wider than DejaVu Sans Mono).
const CHAR_WIDTH: f64 = 7.3;
/// Labels longer than this many characters are cut, with an ellipsis.
pub const LABEL_CHARS: usize = ((LABEL_WIDTH - 10.0) / CHAR_WIDTH) as usize;

// Okabe & Ito (2008), "Color Universal Design".
const ORANGE: &str = "#E69F00";
const SKY_BLUE: &str = "#56B4E9";
const BLUISH_GREEN: &str = "#009E73";
const YELLOW: &str = "#F0E442";
const BLUE: &str = "#0072B2";
const VERMILLION: &str = "#D55E00";
const REDDISH_PURPLE: &str = "#CC79A7";
const BLACK: &str = "#000000";

/// Styles by class, so each element carries only its geometry.
fn style() -> String {
    format!(
        "
text{{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:12px;fill:#222}}
.title{{font-size:16px;font-weight:bold}}
.sub{{fill:#555}}
.label text,.axis{{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}}
.axis{{font-size:11px;fill:#444;text-anchor:middle}}
.label-box{{fill:none}}
.stripe{{fill:#f3f3f3}}
.grid{{stroke:#d8d8d8;stroke-width:1}}
.run-end{{stroke:#888;stroke-width:1;stroke-dasharray:4 3}}
.firing{{fill:{VERMILLION};fill-opacity:.3}}
.tick{{stroke:#222;stroke-width:1.3}}
.tick.resolved{{stroke:#777;stroke-dasharray:2 1.5}}
.phase{{stroke:#333;stroke-width:.5}}
.phase.pending,.phase.accepted{{fill:{SKY_BLUE}}}
.phase.running{{fill:{BLUE}}}
.phase.warming{{fill:{YELLOW}}}
.phase.awaiting_approval{{fill:#fff;stroke:{BLUE};stroke-dasharray:3 2}}
.marker{{stroke:#fff;stroke-width:.8}}
.marker.cross{{fill:none;stroke:{BLACK};stroke-width:2.4;stroke-linecap:round}}
.mark{{fill:none;stroke-width:2.4;stroke-linecap:round;stroke-linejoin:round}}
"
    )
}

/// The SVG document for `timeline`.
pub fn render(timeline: &Timeline) -> String {
    let decisions: usize = timeline.rows.iter().map(|r| r.decisions.len()).sum();
    let mut out = String::with_capacity(4096 + timeline.rows.len() * 1024 + decisions * 240);
    // Writing to a String cannot fail.
    let _ = Picture::new(timeline).write(&mut out);
    out
}

/// Escapes text for XML element content and attribute values: the five
/// specials, line breaks and tabs (so attribute values keep them), and
/// characters XML 1.0 cannot carry at all (replaced by U+FFFD).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    push_escaped(&mut out, s);
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '<' | '>' | '&' | '"' | '\'')
        || (c as u32) < 0x20
        || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Escaped text as a `Display` value, for `write!`.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

/// A coordinate: one decimal at most, no `-0`, no exponent.
struct N(f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        if tenths % 10 == 0 {
            write!(f, "{}", tenths / 10)
        } else {
            let sign = if tenths < 0 { "-" } else { "" };
            let abs = tenths.unsigned_abs();
            write!(f, "{sign}{}.{}", abs / 10, abs % 10)
        }
    }
}

/// `label` cut to `max` characters, the last of them an ellipsis.
pub fn truncate(label: &str, max: usize) -> Cow<'_, str> {
    if label.chars().count() <= max {
        return Cow::Borrowed(label);
    }
    let mut cut: String = label.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    Cow::Owned(cut)
}

/// Candidate axis steps, in seconds: 1/2/5/10/15/30 s, 1/2/5/10/15/30 min,
/// 1/2/3/6/12 h, 1/2 days, a week.
const STEPS: &[i64] = &[
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];

/// At most this many intervals on the axis (so at most 12 ticks).
const MAX_INTERVALS: i64 = 11;

/// The smallest round step that cuts `span_secs` into at most 11 intervals
/// (12 ticks). Consecutive candidates differ by at most 3.5×, so whenever a
/// smaller candidate exists the axis still gets at least 4 intervals (5 ticks).
pub fn nice_step(span_secs: i64) -> i64 {
    let span = span_secs.max(1);
    for &step in STEPS {
        if ceil_div(span, step) <= MAX_INTERVALS {
            return step;
        }
    }
    // Longer than 11 weeks: whole weeks.
    let week = 604_800;
    ceil_div(ceil_div(span, week), MAX_INTERVALS) * week
}

/// An offset from the start as the rules write durations: `0`, `45s`, `5m`,
/// `1h30m`, `2d`.
pub fn offset(secs: i64) -> String {
    if secs == 0 {
        return "0".to_owned();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= len {
            let _ = write!(out, "{}{unit}", rest / len);
            rest %= len;
        }
    }
    out
}

/// The verdicts in the order the legend and the summary list them.
const VERDICTS: [Verdict; 5] = [
    Verdict::Fire,
    Verdict::Collapse,
    Verdict::Defer,
    Verdict::Escalate,
    Verdict::Discard,
];

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Fire => VERMILLION,
        Verdict::Collapse => BLUE,
        Verdict::Defer => ORANGE,
        Verdict::Escalate => REDDISH_PURPLE,
        Verdict::Discard => BLACK,
    }
}

/// The shape name of a verdict's marker (also written as `data-shape`).
pub fn verdict_shape(v: Verdict) -> &'static str {
    match v {
        Verdict::Fire => "triangle",
        Verdict::Collapse => "circle",
        Verdict::Defer => "square",
        Verdict::Escalate => "diamond",
        Verdict::Discard => "cross",
    }
}

/// Where each part of a row sits, relative to the row's top.
const BAND_Y: f64 = 3.0;
const BAND_H: f64 = 6.0;
const TICK_Y1: f64 = 1.0;
const TICK_Y2: f64 = 11.0;
const MARK_Y: f64 = 16.0;
const BAR_Y: f64 = 22.0;
const BAR_H: f64 = 7.0;

struct Picture<'t> {
    t: &'t Timeline,
    /// The axis: from the timeline's start to a whole number of steps.
    step: i64,
    axis_secs: i64,
    height: f64,
}

impl<'t> Picture<'t> {
    fn new(t: &'t Timeline) -> Self {
        let span = secs(t.end.duration_since(t.start)).max(60);
        let step = nice_step(span);
        let axis_secs = ceil_div(span, step) * step;
        let rows_bottom = TOP + t.rows.len() as f64 * ROW_HEIGHT;
        Picture {
            t,
            step,
            axis_secs,
            height: rows_bottom + 28.0,
        }
    }

    fn x(&self, at: Timestamp) -> f64 {
        let s = at.duration_since(self.t.start).as_secs_f64();
        let frac = (s / self.axis_secs as f64).clamp(0.0, 1.0);
        PLOT_LEFT + frac * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn off(&self, at: Timestamp) -> String {
        offset(secs(at.duration_since(self.t.start)))
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        let (w, h) = (N(WIDTH), N(self.height));
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
        )?;
        let title = self.t.title.as_deref().unwrap_or("resgate timeline");
        writeln!(out, "<title>{}</title>", Esc(title))?;
        writeln!(out, "<style>{}</style>", style())?;
        writeln!(
            out,
            r#"<defs><clipPath id="label-clip"><rect x="{}" y="0" width="{}" height="{h}"/></clipPath></defs>"#,
            N(LABEL_X),
            N(LABEL_WIDTH)
        )?;
        writeln!(out, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##)?;
        self.header(out, title)?;
        self.legend(out)?;
        self.axis(out)?;
        for (i, row) in self.t.rows.iter().enumerate() {
            self.row(out, i, row)?;
        }
        out.push_str("</svg>\n");
        Ok(())
    }

    fn header(&self, out: &mut String, title: &str) -> fmt::Result {
        writeln!(
            out,
            r#"<text class="title" x="{}" y="24">{}</text>"#,
            N(LABEL_X),
            Esc(title)
        )?;
        let summary: Vec<String> = VERDICTS
            .iter()
            .map(|v| (v, self.t.decisions().filter(|d| d.verdict == *v).count()))
            .filter(|(_, n)| *n > 0)
            .map(|(v, n)| format!("{n} {v}"))
            .collect();
        let events = self.t.events().count();
        writeln!(
            out,
            r#"<text class="sub" x="{}" y="44">start {} · ran {} · {} target{} · decisions: {} · {} event{}</text>"#,
            N(LABEL_X),
            Esc(&self.t.start.to_string()),
            Esc(&self.off(self.t.end)),
            self.t.rows.len(),
            plural(self.t.rows.len()),
            Esc(&if summary.is_empty() {
                "none".to_owned()
            } else {
                summary.join(", ")
            }),
            events,
            plural(events),
        )
    }

    fn legend(&self, out: &mut String) -> fmt::Result {
        out.push_str("<g class=\"legend\">\n");
        let text = |out: &mut String, x: f64, y: f64, s: &str| -> Result<f64, fmt::Error> {
            writeln!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                N(x),
                N(y + 4.0),
                Esc(s)
            )?;
            // 7 px a character is generous for 12 px sans-serif text.
            Ok(x + s.chars().count() as f64 * 7.0 + 18.0)
        };
        // One line each for decisions, alerts and events; items start in a column.
        let items = LABEL_X + 84.0;
        let y = 68.0;
        text(out, LABEL_X, y, "decisions")?;
        let mut x = items;
        for v in VERDICTS {
            shape(out, v, x + 6.0, y)?;
            x = text(out, x + 16.0, y, v.as_str())?;
        }
        let y = 90.0;
        text(out, LABEL_X, y, "alerts")?;
        let mut x = items;
        writeln!(
            out,
            r#"<rect class="firing" x="{}" y="{}" width="22" height="{}"/>"#,
            N(x),
            N(y - BAND_H / 2.0),
            N(BAND_H)
        )?;
        x = text(out, x + 28.0, y, "firing")?;
        tick(out, x + 2.0, y - 5.0, y + 5.0, AlertStatus::Firing)?;
        x = text(out, x + 10.0, y, "notification")?;
        tick(out, x + 2.0, y - 5.0, y + 5.0, AlertStatus::Resolved)?;
        text(out, x + 10.0, y, "resolved notification")?;
        let y = 112.0;
        text(out, LABEL_X, y, "events")?;
        let mut x = items;
        for (state, name) in [
            (EventState::Accepted, "accepted"),
            (EventState::Running, "running"),
            (EventState::Warming, "warming"),
        ] {
            writeln!(
                out,
                r#"<rect class="phase {}" x="{}" y="{}" width="22" height="{}"/>"#,
                state.as_str(),
                N(x),
                N(y - BAR_H / 2.0),
                N(BAR_H)
            )?;
            x = text(out, x + 28.0, y, name)?;
        }
        for (state, name) in [
            (EventState::Rescued, "rescued"),
            (EventState::NotRescued, "not rescued"),
            (EventState::Failed, "failed / timed out / refused"),
        ] {
            end_mark(out, state, x + 5.0, y)?;
            x = text(out, x + 16.0, y, name)?;
        }
        out.push_str("</g>\n");
        Ok(())
    }

    fn axis(&self, out: &mut String) -> fmt::Result {
        let bottom = TOP + self.t.rows.len() as f64 * ROW_HEIGHT;
        out.push_str("<g class=\"time-axis\">\n");
        let mut s = 0;
        while s <= self.axis_secs {
            let x = PLOT_LEFT + s as f64 / self.axis_secs as f64 * (PLOT_RIGHT - PLOT_LEFT);
            let label = offset(s);
            writeln!(
                out,
                r#"<line class="grid" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
                N(TOP - 6.0),
                N(bottom),
                x = N(x)
            )?;
            for y in [TOP - 10.0, bottom + 16.0] {
                writeln!(
                    out,
                    r#"<text class="axis" x="{}" y="{}">{}</text>"#,
                    N(x),
                    N(y),
                    Esc(&label)
                )?;
            }
            s += self.step;
        }
        // Where the virtual clock stopped: open bars and spans end there.
        let end = self.x(self.t.end);
        writeln!(
            out,
            r#"<line class="run-end" x1="{x}" y1="{}" x2="{x}" y2="{}"><title>the run ended at {}</title></line>"#,
            N(TOP - 6.0),
            N(bottom),
            Esc(&self.off(self.t.end)),
            x = N(end)
        )?;
        out.push_str("</g>\n");
        Ok(())
    }

    fn row(&self, out: &mut String, i: usize, row: &Row) -> fmt::Result {
        let y = TOP + i as f64 * ROW_HEIGHT;
        writeln!(out, r#"<g class="row" data-row="{i}">"#)?;
        if i % 2 == 1 {
            writeln!(
                out,
                r#"<rect class="stripe" x="0" y="{}" width="{}" height="{}"/>"#,
                N(y),
                N(WIDTH),
                N(ROW_HEIGHT)
            )?;
        }
        let label = row.label();
        writeln!(
            out,
            r#"<g class="label"><title>{}</title><rect class="label-box" x="{}" y="{}" width="{}" height="{}"/><text x="{}" y="{}" clip-path="url(#label-clip)">{}</text></g>"#,
            Esc(&label),
            N(LABEL_X),
            N(y + LABEL_GAP),
            N(LABEL_WIDTH),
            N(ROW_HEIGHT - 2.0 * LABEL_GAP),
            N(LABEL_X + 2.0),
            N(y + ROW_HEIGHT / 2.0 + 4.0),
            Esc(&truncate(&label, LABEL_CHARS))
        )?;
        for span in &row.firing {
            let (x1, x2) = (self.x(span.from), self.x(span.to.unwrap_or(self.t.end)));
            let until = match span.to {
                Some(to) => format!("resolved at {}", self.off(to)),
                None => "still firing at the end".to_owned(),
            };
            writeln!(
                out,
                r#"<rect class="firing" x="{}" y="{}" width="{}" height="{}"><title>{} firing from {}, {}</title></rect>"#,
                N(x1),
                N(y + BAND_Y),
                N((x2 - x1).max(1.0)),
                N(BAND_H),
                Esc(&span.name),
                Esc(&self.off(span.from)),
                Esc(&until)
            )?;
        }
        for n in &row.notifications {
            let x = self.x(n.at);
            let status = match n.status {
                AlertStatus::Firing => "firing",
                AlertStatus::Resolved => "resolved",
            };
            write!(
                out,
                r#"<line class="tick {status}" x1="{x}" y1="{}" x2="{x}" y2="{}">"#,
                N(y + TICK_Y1),
                N(y + TICK_Y2),
                x = N(x)
            )?;
            writeln!(
                out,
                "<title>{} notification {} ({status}, alert {})</title></line>",
                Esc(&self.off(n.at)),
                Esc(&n.name),
                Esc(short(&n.alert))
            )?;
        }
        for bar in &row.events {
            self.event(out, y, bar)?;
        }
        for mark in &row.decisions {
            self.decision(out, y, mark)?;
        }
        out.push_str("</g>\n");
        Ok(())
    }

    fn event(&self, out: &mut String, y: f64, bar: &EventBar) -> fmt::Result {
        let end = bar.outcome.map_or("open", |(_, s)| s.as_str());
        let mut story: Vec<String> = bar
            .phases
            .iter()
            .map(|p| format!("{} {}–{}", p.state, self.off(p.from), self.off(p.to)))
            .collect();
        story.push(match bar.outcome {
            Some((at, s)) => format!("{s} at {}", self.off(at)),
            None => "still open when the run ended".to_owned(),
        });
        writeln!(
            out,
            r#"<g class="event" data-event="{}" data-end="{end}"><title>{}: {}</title>"#,
            Esc(&bar.id),
            Esc(&bar.id),
            Esc(&story.join(", "))
        )?;
        for p in &bar.phases {
            let (x1, x2) = (self.x(p.from), self.x(p.to));
            if x2 - x1 < 0.05 {
                continue; // nothing to see; the event's title still names it
            }
            writeln!(
                out,
                r#"<rect class="phase {}" x="{}" y="{}" width="{}" height="{}"><title>{} {} {}–{} ({})</title></rect>"#,
                p.state.as_str(),
                N(x1),
                N(y + BAR_Y),
                N(x2 - x1),
                N(BAR_H),
                Esc(&bar.id),
                p.state,
                Esc(&self.off(p.from)),
                Esc(&self.off(p.to)),
                Esc(&offset(secs(p.to.duration_since(p.from))))
            )?;
        }
        if let Some((at, state)) = bar.outcome {
            end_mark(out, state, self.x(at) + 7.0, y + BAR_Y + BAR_H / 2.0)?;
        }
        out.push_str("</g>\n");
        Ok(())
    }

    fn decision(&self, out: &mut String, y: f64, m: &Mark) -> fmt::Result {
        let v = m.verdict;
        write!(
            out,
            r#"<g class="decision" data-verdict="{v}" data-shape="{}"><title>{} {v}"#,
            verdict_shape(v),
            Esc(&self.off(m.at))
        )?;
        if let Some(reason) = &m.reason {
            write!(out, " ({})", Esc(reason))?;
        }
        if let Some(event) = &m.event {
            write!(out, " → {}", Esc(event))?;
        }
        writeln!(out, "&#10;alert {}</title>", Esc(short(&m.alert)))?;
        shape(out, v, self.x(m.at), y + MARK_Y)?;
        out.push_str("</g>\n");
        Ok(())
    }
}

/// A verdict's marker centred on (x, y).
fn shape(out: &mut String, v: Verdict, x: f64, y: f64) -> fmt::Result {
    let c = verdict_colour(v);
    let kind = verdict_shape(v);
    match v {
        Verdict::Fire => writeln!(
            out,
            r#"<path class="marker {kind}" fill="{c}" d="M{} {}L{} {}L{} {}Z"/>"#,
            N(x),
            N(y - 6.5),
            N(x + 6.0),
            N(y + 4.5),
            N(x - 6.0),
            N(y + 4.5)
        ),
        Verdict::Collapse => writeln!(
            out,
            r#"<circle class="marker {kind}" fill="{c}" cx="{}" cy="{}" r="5"/>"#,
            N(x),
            N(y)
        ),
        Verdict::Defer => writeln!(
            out,
            r#"<rect class="marker {kind}" fill="{c}" x="{}" y="{}" width="9" height="9"/>"#,
            N(x - 4.5),
            N(y - 4.5)
        ),
        Verdict::Escalate => writeln!(
            out,
            r#"<path class="marker {kind}" fill="{c}" d="M{} {}L{} {}L{} {}L{} {}Z"/>"#,
            N(x),
            N(y - 6.0),
            N(x + 6.0),
            N(y),
            N(x),
            N(y + 6.0),
            N(x - 6.0),
            N(y)
        ),
        Verdict::Discard => cross(out, &format!("marker {kind}"), c, x, y, 4.0),
    }
}

/// How an event ended, drawn just after its bar: a check for rescued, a
/// vermillion cross for not rescued, a black stop bar for failed, timed out or
/// refused (a black cross is already a discard).
fn end_mark(out: &mut String, state: EventState, x: f64, y: f64) -> fmt::Result {
    let class = format!("mark end {}", state.as_str());
    match state {
        EventState::Rescued => writeln!(
            out,
            r#"<path class="{class}" stroke="{BLUISH_GREEN}" d="M{} {}L{} {}L{} {}"/>"#,
            N(x - 4.5),
            N(y),
            N(x - 1.5),
            N(y + 3.5),
            N(x + 4.5),
            N(y - 4.5)
        ),
        EventState::NotRescued => cross(out, &class, VERMILLION, x, y, 4.0),
        _ => writeln!(
            out,
            r#"<rect class="end {}" fill="{BLACK}" x="{}" y="{}" width="3.5" height="12"/>"#,
            state.as_str(),
            N(x - 5.5),
            N(y - 6.0)
        ),
    }
}

fn cross(out: &mut String, class: &str, colour: &str, x: f64, y: f64, r: f64) -> fmt::Result {
    writeln!(
        out,
        r#"<path class="{class}" stroke="{colour}" d="M{} {}L{} {}M{} {}L{} {}"/>"#,
        N(x - r),
        N(y - r),
        N(x + r),
        N(y + r),
        N(x - r),
        N(y + r),
        N(x + r),
        N(y - r)
    )
}

fn tick(out: &mut String, x: f64, y1: f64, y2: f64, status: AlertStatus) -> fmt::Result {
    let status = match status {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    };
    writeln!(
        out,
        r#"<line class="tick {status}" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
        N(y1),
        N(y2),
        x = N(x)
    )
}

/// `a / b` rounded up, for `a >= 0`, `b > 0` (`i64::div_ceil` is unstable).
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

fn secs(d: SignedDuration) -> i64 {
    d.as_secs()
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..8).unwrap_or(fingerprint)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_specials_and_control_characters() {
        assert_eq!(escape(r#"<script>&"'"#), "&lt;script&gt;&amp;&quot;&apos;");
        assert_eq!(escape("a\nb\u{1}"), "a&#10;b\u{FFFD}");
        assert!(matches!(escape("plain · text"), Cow::Borrowed(_)));
    }

    #[test]
    fn nice_steps_give_five_to_twelve_ticks() {
        assert_eq!(nice_step(18 * 60), 120);
        assert_eq!(nice_step(60), 10);
        assert_eq!(nice_step(3600), 600);
        assert_eq!(nice_step(100 * 86_400), 1_209_600);
        for span in (1..200).map(|i| i * i * 37) {
            let step = nice_step(span);
            let ticks = ceil_div(span, step) + 1;
            assert!(
                (5..=12).contains(&ticks) || span < 5,
                "span {span}s: step {step}s gives {ticks} ticks"
            );
        }
    }

    #[test]
    fn offsets_read_like_rule_durations() {
        assert_eq!(offset(0), "0");
        assert_eq!(offset(45), "45s");
        assert_eq!(offset(300), "5m");
        assert_eq!(offset(5400), "1h30m");
        assert_eq!(offset(90_061), "1d1h1m1s");
    }

    #[test]
    fn labels_are_cut_with_an_ellipsis() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdefghijkl", 5), "abcd…");
        assert_eq!(truncate("äöüßéèêëï", 4).chars().count(), 4);
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(N(12.0).to_string(), "12");
        assert_eq!(N(12.25).to_string(), "12.3");
        assert_eq!(N(-0.04).to_string(), "0");
        assert_eq!(N(-3.5).to_string(), "-3.5");
        assert_eq!(N(-0.5).to_string(), "-0.5");
    }
}

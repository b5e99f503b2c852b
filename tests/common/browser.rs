//! A real headless Chromium, driven through ChromeDriver's WebDriver HTTP API
//! on loopback (Debian's `chromium` and `chromium-driver`).
//!
//! The pages under test run no script; the test asks the browser what it laid
//! out (element boxes, visible text) with WebDriver's "execute script", and
//! takes screenshots. Every wait is bounded.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session. `None` (with a
    /// notice) when the browser is not installed, unless `CI` is set, where a
    /// missing browser fails the test: CI installs it.
    pub fn start(width: u32, height: u32) -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing: \
                 `apt-get install -y chromium chromium-driver`"
            );
            super::skipped(&format!(
                "{CHROMIUM} or {CHROMEDRIVER} not found \
                 (`apt-get install -y chromium chromium-driver`)"
            ));
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        // The flags keep Chromium off the network: this machine's closed
        // network refuses its background connections, which slows it down.
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let created = browser.post(
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }}}),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session from chromedriver: {created}"))
            .to_owned();
        Some(browser)
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("chromedriver POST {path}: {e}"));
        let answer = read_json(&mut response);
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        assert!(
            value.get("error").is_none(),
            "chromedriver POST {path}: {value}"
        );
        value
    }

    pub fn open(&self, url: &str) {
        self.post(
            &format!("/session/{}/url", self.session),
            &json!({"url": url}),
        );
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.post(
            &format!("/session/{}/execute/sync", self.session),
            &json!({"script": script, "args": []}),
        )
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let mut response = self
            .agent
            .get(format!("{}/session/{}/screenshot", self.base, self.session))
            .call()
            .expect("screenshot");
        let answer = read_json(&mut response);
        let data = answer["value"].as_str().expect("screenshot data");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("screenshot base64")
    }
}

fn read_json(response: &mut ureq::http::Response<ureq::Body>) -> Value {
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .expect("chromedriver answer");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("chromedriver answer: {e}: {text}"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Width and height of a PNG, read from its header; panics on anything else.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// JavaScript returning the boxes of every element `selector` matches, as
/// `[{text, x, y, w, h}]` in page coordinates.
pub fn boxes_script(selector: &str) -> String {
    format!(
        "return Array.from(document.querySelectorAll({selector:?})).map(e => {{ \
           const r = e.getBoundingClientRect(); \
           return {{text: e.textContent, x: r.left + window.scrollX, y: r.top + window.scrollY, \
                    w: r.width, h: r.height}}; }});"
    )
}

#[derive(Debug, Clone)]
pub struct TextBox {
    pub text: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

pub fn text_boxes(value: &Value) -> Vec<TextBox> {
    value
        .as_array()
        .expect("an array of boxes")
        .iter()
        .map(|b| TextBox {
            text: b["text"].as_str().unwrap_or_default().to_owned(),
            x: b["x"].as_f64().unwrap_or(f64::NAN),
            y: b["y"].as_f64().unwrap_or(f64::NAN),
            w: b["w"].as_f64().unwrap_or(0.0),
            h: b["h"].as_f64().unwrap_or(0.0),
        })
        .collect()
}

/// Panics when a box is empty or two boxes overlap (more than half a pixel,
/// for anti-aliased edges that touch).
pub fn assert_laid_out_apart(boxes: &[TextBox], what: &str) {
    assert!(!boxes.is_empty(), "no {what} text was laid out");
    for b in boxes {
        assert!(
            b.w > 0.0 && b.h > 0.0 && !b.text.trim().is_empty(),
            "{what}: an empty text box {b:?}"
        );
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let overlap_x = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
            let overlap_y = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
            assert!(
                overlap_x <= 0.5 || overlap_y <= 0.5,
                "{what}: text overlaps:\n  {a:?}\n  {b:?}"
            );
        }
    }
}

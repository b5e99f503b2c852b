//! `resgate facts` against loopback fakes shaped as the real APIs: a
//! Prometheus instant query endpoint (envelope, vector result and error
//! format from prometheus.io/docs/prometheus/latest/querying/api/) answering
//! well and badly, and an Argo CD-shaped application list (argo-cd
//! `ApplicationList`: `items[].metadata.name`,
//! `items[].status.operationState.phase`) behind a bearer token.

mod common;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use common::Test;

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[
  {"metric":{"service":"mailer"},"value":[1765101810.5,"1204"]},
  {"metric":{"service":"api"},"value":[1765101810.5,"0.25"]}]}}"#;

const ARGO: &str = r#"{"metadata":{"resourceVersion":"1"},"items":[
  {"metadata":{"name":"mailer"},"status":{"operationState":{"phase":"Running"}}},
  {"metadata":{"name":"api"},"status":{"operationState":{"phase":"Succeeded"}}}]}"#;

/// Every request's URL and Authorization header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Fake {
    port: u16,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    seen: Seen,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fake() -> Fake {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("listen"));
    let port = server.server_addr().to_ip().expect("ip").port();
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let (s, log) = (server.clone(), seen.clone());
    let thread = std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let url = req.url().to_owned();
            let auth = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string());
            log.lock().unwrap().push((url.clone(), auth.clone()));
            let path = url.split('?').next().unwrap_or("").to_owned();
            let (code, body): (u16, Vec<u8>) = match path.as_str() {
                "/good/api/v1/query" => (200, VECTOR.into()),
                "/html/api/v1/query" => (502, b"<html><body>502 Bad Gateway</body></html>".to_vec()),
                "/garbage/api/v1/query" => (200, b"\x00\xffnot json at all".to_vec()),
                "/bad/api/v1/query" => (
                    400,
                    br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}"#.to_vec(),
                ),
                "/matrix/api/v1/query" => (
                    200,
                    br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_vec(),
                ),
                "/empty/api/v1/query" => (200, Vec::new()),
                "/huge/api/v1/query" => (200, vec![b' '; 10 * 1024 * 1024]),
                "/argo/api/v1/applications" if auth.as_deref() == Some("Bearer t0ken-argo") => {
                    (200, ARGO.into())
                }
                "/argo/api/v1/applications" => (401, b"{\"error\":\"unauthorized\"}".to_vec()),
                _ => (404, b"not found".to_vec()),
            };
            let _ = req.respond(tiny_http::Response::from_data(body).with_status_code(code));
        }
    });
    Fake {
        port,
        server,
        thread: Some(thread),
        seen,
    }
}

const BASE: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\n";

fn prometheus_fact(name: &str, base: &str) -> String {
    format!(
        "  {name}:\n    prometheus: \"{base}\"\n    query: sum by (service) (rabbitmq_queue_messages_ready{{vhost=\"/\"}})\n    columns: [service, value]\n    timeout: 5s\n"
    )
}

#[test]
fn rows_from_prometheus_and_an_http_api() {
    let f = fake();
    let facts = format!(
        "facts:\n{}  rollout:\n    http: \"${{env:ARGO_URL}}/api/v1/applications\"\n    headers: {{Authorization: \"Bearer ${{env:ARGOCD_TOKEN}}\"}}\n    rows: \"items[?status.operationState.phase=='Running']\"\n    columns: [metadata.name]\n",
        prometheus_fact("queue_depth", "${env:PROMETHEUS_URL}")
    );
    let run = Test::new()
        .file("rules/r.yaml", &format!("{BASE}{facts}"))
        .env(
            "PROMETHEUS_URL",
            &format!("http://127.0.0.1:{}/good", f.port),
        )
        .env("ARGO_URL", &format!("http://127.0.0.1:{}/argo", f.port))
        .env("ARGOCD_TOKEN", "t0ken-argo")
        .args(["facts", "--rules", "rules"])
        .run()
        .code(0);
    assert_eq!(
        run.stdout,
        "queue_depth(service, value) from prometheus ${env:PROMETHEUS_URL}: 2 row(s)\n  queue_depth(\"mailer\", 1204)\n  queue_depth(\"api\", 0.25)\nrollout(metadata.name) from http ${env:ARGO_URL}/api/v1/applications: 1 row(s)\n  rollout(\"mailer\")\n"
    );
    let seen = f.seen.lock().unwrap().clone();
    // The query is percent-encoded into the instant query endpoint; the token
    // travels in the header only, never in a URL.
    assert_eq!(
        seen[0].0,
        "/good/api/v1/query?query=sum%20by%20%28service%29%20%28rabbitmq%5Fqueue%5Fmessages%5Fready%7Bvhost%3D%22%2F%22%7D%29"
    );
    assert_eq!(
        seen[1],
        (
            "/argo/api/v1/applications".to_owned(),
            Some("Bearer t0ken-argo".to_owned())
        )
    );
    assert!(seen.iter().all(|(url, _)| !url.contains("t0ken")));
}

#[test]
fn every_bad_answer_is_an_error_named_per_source() {
    let f = fake();
    let base = |p: &str| format!("http://127.0.0.1:{}/{p}", f.port);
    let mut facts = "facts:\n".to_owned();
    for name in ["good", "html", "garbage", "bad", "matrix", "empty", "huge"] {
        facts.push_str(&prometheus_fact(name, &base(name)));
    }
    // Nothing listens there: the port of a listener just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    facts.push_str(&prometheus_fact(
        "dead",
        &format!("http://127.0.0.1:{dead}"),
    ));
    let run = Test::new()
        .file("rules/r.yaml", &format!("{BASE}{facts}"))
        .args(["facts", "--rules", "rules", "--format", "json"])
        .run()
        .code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let by_name = |n: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|r| r["relation"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        by_name("good")["rows"],
        serde_json::json!([["mailer", 1204.0], ["api", 0.25]])
    );
    let error = |n: &str| by_name(n)["error"].as_str().unwrap_or("").to_owned();
    assert!(
        error("html").starts_with("HTTP 502: <html>"),
        "{}",
        error("html")
    );
    assert!(
        error("garbage").contains("not JSON"),
        "{}",
        error("garbage")
    );
    assert_eq!(
        error("bad"),
        "HTTP 400: Prometheus answered error: bad_data: invalid parameter \"query\": 1:5: parse error"
    );
    assert!(
        error("matrix").contains("matrix, not an instant vector"),
        "{}",
        error("matrix")
    );
    assert!(error("empty").contains("empty"), "{}", error("empty"));
    assert!(error("huge").contains("larger than"), "{}", error("huge"));
    assert!(
        error("dead").contains("request failed"),
        "{}",
        error("dead")
    );
    for n in ["html", "garbage", "bad", "matrix", "empty", "huge", "dead"] {
        assert!(by_name(n).get("rows").is_none(), "{n}: no rows on an error");
    }
}

#[test]
fn a_missing_secret_is_an_error_not_a_request() {
    let f = fake();
    let facts = format!(
        "facts:\n  rollout:\n    http: \"http://127.0.0.1:{}/argo/api/v1/applications\"\n    headers: {{Authorization: \"Bearer ${{env:ARGOCD_TOKEN_UNSET}}\"}}\n    rows: \"items\"\n    columns: [metadata.name]\n",
        f.port
    );
    let run = Test::new()
        .file("rules/r.yaml", &format!("{BASE}{facts}"))
        .args(["facts", "--rules", "rules"])
        .run()
        .code(1);
    assert!(
        run.stdout.contains("rollout from http")
            && run.stdout.contains("ARGOCD_TOKEN_UNSET is not set"),
        "{}",
        run.stdout
    );
    assert!(f.seen.lock().unwrap().is_empty());
}

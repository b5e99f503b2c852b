//! Payload mappings against the fixtures: concrete values for every field the
//! engine reads, and the exact message of each kind of error.

use std::collections::BTreeMap;

use jiff::Timestamp;
use resgate::rules::{JmesMapping, Source, SourceKind};
use resgate::source::{self, Alert, AlertStatus, MapError, alertmanager, fingerprint, map_payload};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

fn received() -> Timestamp {
    ts("2026-11-20T10:20:00Z")
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source(name: &str, kind: SourceKind) -> Source {
    Source {
        name: name.to_owned(),
        kind,
        auth: None,
    }
}

fn map(kind: SourceKind, body: &[u8]) -> Result<Vec<Alert>, MapError> {
    map_payload(&source("src", kind), body, received())
}

fn map_ok(kind: SourceKind, path: &str) -> Vec<Alert> {
    map(kind, &fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn map_err(kind: SourceKind, body: &[u8]) -> String {
    match map(kind, body) {
        Ok(alerts) => panic!("expected an error, got {alerts:?}"),
        Err(e) => e.to_string(),
    }
}

fn only(alerts: Vec<Alert>) -> Alert {
    let [alert]: [Alert; 1] = alerts.try_into().expect("exactly one alert");
    alert
}

// ---- Alertmanager ----------------------------------------------------------

#[test]
fn alertmanager_firing() {
    let alert = only(map_ok(
        SourceKind::Alertmanager,
        "alertmanager/api-down.json",
    ));
    assert_eq!(alert.source, "src");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(
        alert.labels,
        labels(&[
            ("alertname", "ApiDown"),
            ("service", "api"),
            ("instance", "api-1:8080"),
            ("severity", "critical")
        ])
    );
    assert_eq!(
        alert.annotations,
        labels(&[
            ("summary", "api is not answering"),
            ("runbook_url", "https://runbooks.example/api-down")
        ])
    );
    assert_eq!(alert.starts_at, ts("2026-11-20T10:00:00Z"));
    assert_eq!(alert.ends_at, None);
    assert_eq!(alert.fingerprint, "6b1f3c2a9d8e7f01");
    assert_eq!(
        alert.group_key.as_deref(),
        Some("{}:{alertname=\"ApiDown\"}")
    );
    assert_eq!(
        alert.generator_url.as_deref(),
        Some("http://prometheus.example:9090/graph?g0.expr=up%7Bjob%3D%22api%22%7D+%3D%3D+0")
    );
}

#[test]
fn alertmanager_resolved() {
    let alert = only(map_ok(
        SourceKind::Alertmanager,
        "alertmanager/api-down-resolved.json",
    ));
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.starts_at, ts("2026-11-20T10:00:00Z"));
    assert_eq!(alert.ends_at, Some(ts("2026-11-20T10:16:00Z")));
    assert_eq!(alert.fingerprint, "6b1f3c2a9d8e7f01");
}

#[test]
fn captured_fingerprint_is_alertmanagers() {
    let alert = only(map_ok(
        SourceKind::Alertmanager,
        "alertmanager/captured-0.25-firing.json",
    ));
    let expected = labels(&[
        ("alertname", "ApiDown"),
        ("instance", "api-1"),
        ("service", "api"),
    ]);
    assert_eq!(alert.labels, expected);
    assert_eq!(alert.fingerprint, "bad532aa39656f9c");
    // Our hash of the labels is the one Alertmanager 0.25 sent.
    assert_eq!(fingerprint(&alert.labels), "bad532aa39656f9c");
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.starts_at, ts("2026-11-25T04:47:41Z"));
    assert_eq!(alert.ends_at, None);
    assert_eq!(alert.annotations, labels(&[("summary", "down")]));
    // Sent as "": no URL.
    assert_eq!(alert.generator_url, None);
}

#[test]
fn captured_resolved() {
    let alert = only(map_ok(
        SourceKind::Alertmanager,
        "alertmanager/captured-0.25-resolved.json",
    ));
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.fingerprint, "bad532aa39656f9c");
    assert_eq!(alert.starts_at, ts("2026-11-25T04:47:41Z"));
    assert_eq!(alert.ends_at, Some(ts("2026-11-25T04:47:59Z")));
}

#[test]
fn captured_notification_fields() {
    let n = alertmanager::parse(
        "am",
        &fixture("alertmanager/captured-0.25-firing.json"),
        received(),
    )
    .expect("parses");
    assert_eq!(n.version, "4");
    assert_eq!(n.receiver.as_deref(), Some("resgate"));
    assert_eq!(n.status, Some(AlertStatus::Firing));
    assert_eq!(n.truncated_alerts, 0);
    assert_eq!(n.external_url.as_deref(), Some("http://vm:19093"));
    assert_eq!(n.group_key.as_deref(), Some("{}:{alertname=\"ApiDown\"}"));
    assert_eq!(n.group_labels, labels(&[("alertname", "ApiDown")]));
    assert_eq!(
        n.common_labels,
        labels(&[
            ("alertname", "ApiDown"),
            ("instance", "api-1"),
            ("service", "api")
        ])
    );
    assert_eq!(n.common_annotations, labels(&[("summary", "down")]));
    assert_eq!(n.alerts.len(), 1);
}

#[test]
fn deploy_in_progress() {
    let alert = only(map_ok(
        SourceKind::Alertmanager,
        "alertmanager/deploy-in-progress.json",
    ));
    assert_eq!(
        alert.labels,
        labels(&[
            ("alertname", "DeployInProgress"),
            ("service", "api"),
            ("severity", "info")
        ])
    );
    assert_eq!(alert.fingerprint, "d000000000000001");
    assert_eq!(alert.starts_at, ts("2026-11-20T09:55:00Z"));
    assert_eq!(alert.ends_at, None);
    assert_eq!(alert.generator_url, None);
}

#[test]
fn storm_keeps_every_alert_in_order() {
    let alerts = map_ok(SourceKind::Alertmanager, "alertmanager/storm.json");
    assert_eq!(alerts.len(), 4);
    for (i, alert) in alerts.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            alert.labels.get("instance").map(String::as_str),
            Some(format!("api-{n}:8080").as_str())
        );
        assert_eq!(alert.fingerprint, format!("a00000000000000{n}"));
        assert_eq!(alert.status, AlertStatus::Firing);
        assert_eq!(alert.ends_at, None);
    }
    assert_eq!(alerts[3].starts_at, ts("2026-11-20T10:00:12Z"));
}

/// A minimal v4 payload with one alert, `alert` spliced in.
fn am_body(alert: &str) -> Vec<u8> {
    format!(r#"{{"version": "4", "groupKey": "g", "status": "firing", "alerts": [{alert}]}}"#)
        .into_bytes()
}

#[test]
fn missing_fingerprint_is_the_label_hash() {
    let body = am_body(
        r#"{"status": "firing", "labels": {"alertname": "ApiDown", "instance": "api-1", "service": "api"}, "startsAt": "2026-11-25T04:47:41Z"}"#,
    );
    let alert = only(map(SourceKind::Alertmanager, &body).expect("maps"));
    assert_eq!(alert.fingerprint, "bad532aa39656f9c");
    assert_eq!(alert.ends_at, None);
    assert!(alert.annotations.is_empty());
}

#[test]
fn missing_starts_at_is_the_receive_time() {
    let body = am_body(r#"{"status": "firing", "labels": {"alertname": "X"}}"#);
    let alert = only(map(SourceKind::Alertmanager, &body).expect("maps"));
    assert_eq!(alert.starts_at, received());
}

#[test]
fn offsets_and_nanoseconds() {
    let body = am_body(
        r#"{"status": "resolved", "labels": {"alertname": "X"}, "startsAt": "2026-11-20T11:00:00.123456789+01:00", "endsAt": "2026-11-20T05:30:00-05:00"}"#,
    );
    let alert = only(map(SourceKind::Alertmanager, &body).expect("maps"));
    assert_eq!(alert.starts_at, ts("2026-11-20T10:00:00.123456789Z"));
    assert_eq!(alert.ends_at, Some(ts("2026-11-20T10:30:00Z")));
}

#[test]
fn alertmanager_errors_name_the_field() {
    let cases: &[(&[u8], &str)] = &[
        (
            br#"{"version": "3", "alerts": []}"#,
            r#"source "src": `version` is "3", expected "4""#,
        ),
        (
            br#"{"version": 4, "alerts": []}"#,
            r#"source "src": `version` is 4, expected "4""#,
        ),
        (
            br#"{"alerts": []}"#,
            r#"source "src": `version` is missing, expected "4""#,
        ),
        (
            br#"{"version": "4"}"#,
            r#"source "src": `alerts` is missing, expected an array"#,
        ),
        (
            br#"{"version": "4", "alerts": {}}"#,
            r#"source "src": `alerts` is an object, expected an array"#,
        ),
        (
            br#"{"version": "4", "alerts": [7]}"#,
            r#"source "src": `alerts[0]` is 7, expected an object"#,
        ),
        (
            &am_body(r#"{"status": "firing", "labels": {}}"#),
            r#"source "src": alert 0 has no labels"#,
        ),
        (
            &am_body(r#"{"status": "firing"}"#),
            r#"source "src": alert 0: `labels` is missing, expected an object"#,
        ),
        (
            &am_body(r#"{"status": "firing", "labels": {"alertname": "X", "severity": 3}}"#),
            r#"source "src": alert 0: `labels` key "severity" is 3, expected a string"#,
        ),
        (
            &am_body(r#"{"status": "open", "labels": {"alertname": "X"}}"#),
            r#"source "src": alert 0: `status` is "open", expected "firing" or "resolved""#,
        ),
        (
            &am_body(r#"{"labels": {"alertname": "X"}}"#),
            r#"source "src": alert 0: `status` is missing, expected "firing" or "resolved""#,
        ),
        (
            &am_body(
                r#"{"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-11-20T10:00:00"}"#,
            ),
            r#"source "src": alert 0: `startsAt` is "2026-11-20T10:00:00", expected an RFC 3339 timestamp (failed to find offset component, which is required for parsing a timestamp)"#,
        ),
        (
            &am_body(r#"{"status": "firing", "labels": {"alertname": "X"}, "endsAt": 0}"#),
            r#"source "src": alert 0: `endsAt` is 0, expected a string"#,
        ),
        (
            br#"{"version": "4", "alerts": [], "truncatedAlerts": -1}"#,
            r#"source "src": `truncatedAlerts` is -1, expected a whole number"#,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(map_err(SourceKind::Alertmanager, body), *expected);
    }
}

#[test]
fn error_place_is_structured() {
    let err = map(
        SourceKind::Alertmanager,
        &am_body(r#"{"status": "firing", "labels": {}}"#),
    )
    .unwrap_err();
    assert_eq!(err.place().source, "src");
    assert_eq!(err.place().alert, Some(0));
    assert!(matches!(err, MapError::NoLabels { .. }));
}

// ---- Grafana ----------------------------------------------------------------

#[test]
fn grafana_firing() {
    let alerts = map_ok(SourceKind::Grafana, "grafana/firing.json");
    assert_eq!(alerts.len(), 2);
    let first = &alerts[0];
    assert_eq!(first.status, AlertStatus::Firing);
    assert_eq!(
        first.labels,
        labels(&[
            ("alertname", "ApiHighErrorRate"),
            ("grafana_folder", "Platform"),
            ("instance", "api-1:8080"),
            ("service", "api"),
            ("severity", "critical"),
        ])
    );
    assert_eq!(
        first.annotations.get("summary").map(String::as_str),
        Some("api-1 answers 13.4% of requests with 5xx")
    );
    assert_eq!(first.fingerprint, "4c8f0a96d1e3b27a");
    assert_eq!(first.starts_at, ts("2026-11-20T10:02:10.512393814Z"));
    assert_eq!(first.ends_at, None);
    assert_eq!(
        first.group_key.as_deref(),
        Some("{}/{service=\"api\"}:{alertname=\"ApiHighErrorRate\", grafana_folder=\"Platform\"}")
    );
    assert_eq!(
        first.generator_url.as_deref(),
        Some("https://grafana.example/alerting/grafana/fe3k1x9lq2nwgc/view?orgId=1")
    );
    assert_eq!(alerts[1].fingerprint, "91d2c5e07ab4f613");
    assert_eq!(
        alerts[1].labels.get("instance").map(String::as_str),
        Some("api-2:8080")
    );
}

#[test]
fn grafana_and_alertmanager_refuse_each_other() {
    assert_eq!(
        map_err(SourceKind::Grafana, &fixture("alertmanager/api-down.json")),
        r#"source "src": `version` is "4", expected "1" (Grafana unified alerting)"#
    );
    assert_eq!(
        map_err(SourceKind::Alertmanager, &fixture("grafana/firing.json")),
        r#"source "src": `version` is "1", expected "4""#
    );
}

#[test]
fn grafana_null_values_are_ignored() {
    // A "test notification" from Grafana's contact point page: `values: null`,
    // no generatorURL.
    let body = br#"{"receiver": "", "status": "firing", "orgId": 1, "alerts": [{"status": "firing",
        "labels": {"alertname": "TestAlert", "instance": "Grafana"}, "annotations": {"summary": "Notification test"},
        "startsAt": "2026-08-17T10:20:21.956376704Z", "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "57c6d9296de2ad39", "silenceURL": "http://localhost:3000/alerting/silence/new",
        "dashboardURL": "", "panelURL": "", "values": null, "valueString": "[ metric='foo' labels={instance=bar} value=10 ]"}],
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://localhost:3000/",
        "version": "1", "groupKey": "webhook-57c6d9296de2ad39-1786962021", "truncatedAlerts": 0,
        "title": "[FIRING:1] TestAlert Grafana", "state": "alerting"}"#;
    let alert = only(map(SourceKind::Grafana, body).expect("maps"));
    assert_eq!(alert.fingerprint, "57c6d9296de2ad39");
    assert_eq!(alert.generator_url, None);
}

// ---- PagerDuty --------------------------------------------------------------

#[test]
fn pagerduty_triggered() {
    let alert = only(map_ok(
        SourceKind::PagerDuty,
        "pagerduty/incident-triggered.json",
    ));
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(
        alert.labels,
        labels(&[
            ("alertname", "ApiDown: api is not answering"),
            ("service", "API Service"),
            ("urgency", "high"),
            ("priority", "P1"),
            ("incident_key", "9f1c3e0b7d2a4c58a6e1f0b3d5c7e9a2"),
            ("event_type", "incident.triggered"),
            ("resource_type", "incident"),
        ])
    );
    assert_eq!(alert.fingerprint, "Q3LJRS6ADPFW2K");
    assert_eq!(alert.starts_at, ts("2026-11-20T10:00:04Z"));
    assert_eq!(alert.ends_at, None);
    assert_eq!(alert.group_key, None);
    assert_eq!(
        alert.generator_url.as_deref(),
        Some("https://acme.pagerduty.com/incidents/Q3LJRS6ADPFW2K")
    );
    assert_eq!(
        alert.annotations.get("number").map(String::as_str),
        Some("2817")
    );
    assert_eq!(
        alert
            .annotations
            .get("escalation_policy")
            .map(String::as_str),
        Some("Platform On-Call")
    );
    assert_eq!(
        alert.annotations.get("event_id").map(String::as_str),
        Some("01FG5PZ8V0C3QX9Y6KJ2M4RTWN")
    );
}

#[test]
fn pagerduty_resolved() {
    let alert = only(map_ok(
        SourceKind::PagerDuty,
        "pagerduty/incident-resolved.json",
    ));
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.fingerprint, "Q3LJRS6ADPFW2K");
    assert_eq!(alert.starts_at, ts("2026-11-20T10:00:04Z"));
    assert_eq!(alert.ends_at, Some(ts("2026-11-20T10:16:31.905Z")));
    assert_eq!(
        alert.labels.get("event_type").map(String::as_str),
        Some("incident.resolved")
    );
}

#[test]
fn pagerduty_ping_is_no_alert() {
    assert_eq!(
        map_ok(SourceKind::PagerDuty, "pagerduty/ping.json"),
        Vec::new()
    );
}

#[test]
fn pagerduty_events_not_about_an_incident_are_no_alert() {
    let service = br#"{"event": {"id": "E1", "event_type": "service.updated", "resource_type": "service",
        "occurred_at": "2026-11-20T10:00:00Z", "data": {"id": "PF9KMXH", "type": "service", "summary": "API Service"}}}"#;
    let note = br#"{"event": {"id": "E2", "event_type": "incident.annotated", "resource_type": "incident",
        "occurred_at": "2026-11-20T10:00:00Z", "data": {"incident": {"id": "Q3LJRS6ADPFW2K", "type": "incident_reference"},
        "id": "PN1", "content": "restarted api-1", "type": "incident_note"}}}"#;
    assert_eq!(
        map(SourceKind::PagerDuty, service).expect("maps"),
        Vec::new()
    );
    assert_eq!(map(SourceKind::PagerDuty, note).expect("maps"), Vec::new());
}

/// PagerDuty's v3 webhook event types (developer docs, "Webhooks Overview",
/// event types): only `incident.triggered` and `incident.reopened` say an
/// incident fires. Acknowledging, escalating, reassigning ... describe the same
/// incident changing hands: no alert, so no decision, however long after the
/// trigger it comes; a later type PagerDuty adds is treated alike.
#[test]
fn pagerduty_updates_are_no_notification_and_resolved_state_wins() {
    let body = |event_type: &str, status: &str| {
        format!(
            r#"{{"event": {{"id": "E", "event_type": "{event_type}", "resource_type": "incident", "occurred_at": "2026-11-20T10:05:00Z",
            "data": {{"id": "Q1", "type": "incident", "title": "disk full", "status": "{status}", "created_at": "2026-11-20T10:00:00Z"}}}}}}"#
        )
    };
    for (event_type, status) in [
        ("incident.acknowledged", "acknowledged"),
        ("incident.unacknowledged", "triggered"),
        ("incident.delegated", "triggered"),
        ("incident.escalated", "triggered"),
        ("incident.reassigned", "acknowledged"),
        ("incident.priority_updated", "acknowledged"),
        ("incident.service_updated", "triggered"),
        ("incident.custom_field_values.updated", "triggered"),
    ] {
        assert_eq!(
            map(SourceKind::PagerDuty, body(event_type, status).as_bytes()).expect("maps"),
            Vec::new(),
            "{event_type}"
        );
    }
    for fixture in [
        "pagerduty/incident-acknowledged.json",
        "pagerduty/incident-escalated.json",
        "pagerduty/incident-priority-updated.json",
    ] {
        assert_eq!(
            map_ok(SourceKind::PagerDuty, fixture),
            Vec::new(),
            "{fixture}"
        );
    }
    // The incident's own state: an update of a resolved incident resolves it.
    let late = only(
        map(
            SourceKind::PagerDuty,
            body("incident.priority_updated", "resolved").as_bytes(),
        )
        .expect("maps"),
    );
    assert_eq!(late.status, AlertStatus::Resolved);
    assert_eq!(late.ends_at, Some(ts("2026-11-20T10:05:00Z")));
}

/// `incident.reopened` is a new firing: it starts when the incident reopened
/// (`occurred_at`), not when it was first created, or `age` guards would pass
/// at once.
#[test]
fn pagerduty_reopened_fires_from_the_reopening() {
    let alert = only(map_ok(
        SourceKind::PagerDuty,
        "pagerduty/incident-reopened.json",
    ));
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fingerprint, "Q3LJRS6ADPFW2K");
    assert_eq!(alert.starts_at, ts("2026-11-20T10:20:04.781Z"));
    assert_eq!(
        alert.labels.get("event_type").map(String::as_str),
        Some("incident.reopened")
    );
}

#[test]
fn pagerduty_errors_name_the_field() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{}"#, r#"source "src": `event` is missing, expected an object"#),
        (br#"{"event": {"data": {}}}"#, r#"source "src": `event.event_type` is missing, expected a string"#),
        (
            br#"{"event": {"event_type": "incident.triggered", "data": {"id": "Q1", "type": "incident"}}}"#,
            r#"source "src": `event.data.title` is missing, expected a string"#,
        ),
        (
            br#"{"event": {"event_type": "incident.triggered", "data": {"title": "t", "type": "incident"}}}"#,
            r#"source "src": `event.data.id` is missing, expected a string"#,
        ),
        (
            br#"{"event": {"event_type": "incident.triggered", "data": {"id": "Q1", "title": "t", "service": "api"}}}"#,
            r#"source "src": `event.data.service` is "api", expected an object"#,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(map_err(SourceKind::PagerDuty, body), *expected);
    }
}

// ---- JMESPath ---------------------------------------------------------------

fn expr(text: &str) -> resgate::rules::Expr {
    jmespath::compile(text).expect("valid expression")
}

/// DESIGN.md's `legacy` source.
fn legacy() -> JmesMapping {
    JmesMapping {
        alerts: expr("events[]"),
        labels: expr("{alertname: type, service: tags.svc, instance: host}"),
        annotations: Some(expr("{summary: message}")),
        status: Some(expr("state")),
        starts_at: Some(expr("opened")),
        fingerprint: Some(expr("id")),
    }
}

fn legacy_map(mapping: JmesMapping, body: &[u8]) -> Result<Vec<Alert>, MapError> {
    map_payload(
        &source("legacy", SourceKind::Jmespath(Box::new(mapping))),
        body,
        received(),
    )
}

fn legacy_err(mapping: JmesMapping, body: &[u8]) -> String {
    match legacy_map(mapping, body) {
        Ok(alerts) => panic!("expected an error, got {alerts:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn jmespath_legacy_fixture() {
    let alerts = legacy_map(legacy(), &fixture("jmespath/legacy.json")).expect("maps");
    assert_eq!(alerts.len(), 3);

    let api = &alerts[0];
    assert_eq!(api.source, "legacy");
    assert_eq!(
        api.labels,
        labels(&[
            ("alertname", "ApiDown"),
            ("service", "api"),
            ("instance", "api-1:8080")
        ])
    );
    assert_eq!(
        api.annotations,
        labels(&[("summary", "api is not answering")])
    );
    assert_eq!(api.status, AlertStatus::Firing);
    assert_eq!(api.starts_at, ts("2026-11-20T10:00:00Z"));
    assert_eq!(api.ends_at, None);
    assert_eq!(api.fingerprint, "evt-7731");

    let disk = &alerts[1];
    assert_eq!(disk.status, AlertStatus::Resolved);
    assert_eq!(disk.starts_at, ts("2026-11-20T09:12:30.25Z"));
    assert_eq!(disk.ends_at, Some(received()));

    // `tags.svc` is null here: the label is left out, not "null".
    let edge = &alerts[2];
    assert_eq!(
        edge.labels,
        labels(&[("alertname", "HostUnreachable"), ("instance", "edge-3")])
    );
    assert_eq!(edge.fingerprint, "7740");
}

#[test]
fn jmespath_defaults() {
    let mapping = JmesMapping {
        annotations: None,
        status: None,
        starts_at: None,
        fingerprint: None,
        ..legacy()
    };
    let alerts = legacy_map(mapping, &fixture("jmespath/legacy.json")).expect("maps");
    let api = &alerts[0];
    assert_eq!(api.status, AlertStatus::Firing);
    assert_eq!(api.starts_at, received());
    assert_eq!(api.fingerprint, fingerprint(&api.labels));
    assert!(api.annotations.is_empty());
    // Status defaults to firing even where the payload says resolved: no `status` mapping.
    assert_eq!(alerts[1].status, AlertStatus::Firing);
}

#[test]
fn jmespath_scalars_become_label_text() {
    let mapping = JmesMapping {
        labels: expr("{alertname: type, code: code, page: page, gone: missing}"),
        ..legacy()
    };
    let body = br#"{"events": [{"id": 1, "type": "Http5xx", "code": 503, "page": true, "state": "firing", "opened": "2026-11-20T10:00:00Z", "message": "m"}]}"#;
    let alert = only(legacy_map(mapping, body).expect("maps"));
    assert_eq!(
        alert.labels,
        labels(&[("alertname", "Http5xx"), ("code", "503"), ("page", "true")])
    );
}

#[test]
fn jmespath_body_may_be_an_array() {
    let mapping = JmesMapping {
        alerts: expr("@"),
        ..legacy()
    };
    let body =
        br#"[{"id": "a", "type": "X", "state": "firing", "opened": "2026-11-20T10:00:00Z"}]"#;
    assert_eq!(
        only(legacy_map(mapping, body).expect("maps")).fingerprint,
        "a"
    );
}

/// One legacy event per entry of `events`, each a JSON object text.
fn events(items: &[&str]) -> Vec<u8> {
    format!(r#"{{"events": [{}]}}"#, items.join(",")).into_bytes()
}

const OK_EVENT: &str = r#"{"id": "e", "type": "ApiDown", "host": "api-1", "state": "firing", "opened": "2026-11-20T10:00:00Z"}"#;

#[test]
fn jmespath_status_error_names_alert_and_value() {
    let body = events(&[
        OK_EVENT,
        OK_EVENT,
        r#"{"id": "e", "type": "ApiDown", "host": "api-1", "state": "open", "opened": "2026-11-20T10:00:00Z"}"#,
    ]);
    assert_eq!(
        legacy_err(legacy(), &body),
        r#"source "legacy": alert 2: `status` yielded "open", expected "firing" or "resolved""#
    );
    let null = events(&[r#"{"id": "e", "type": "ApiDown", "opened": "2026-11-20T10:00:00Z"}"#]);
    assert_eq!(
        legacy_err(legacy(), &null),
        r#"source "legacy": alert 0: `status` yielded null, expected "firing" or "resolved""#
    );
}

#[test]
fn jmespath_alerts_must_be_an_array() {
    let mapping = JmesMapping {
        alerts: expr("sender"),
        ..legacy()
    };
    assert_eq!(
        legacy_err(mapping, &fixture("jmespath/legacy.json")),
        r#"source "legacy": `alerts` yielded "legacy-monitor 3.2", expected an array"#
    );
    assert_eq!(
        legacy_err(legacy(), br#"{"evts": []}"#),
        r#"source "legacy": `alerts` yielded null, expected an array"#
    );
    assert_eq!(
        legacy_err(legacy(), b"42"),
        r#"source "legacy": `alerts` yielded null, expected an array"#
    );
}

#[test]
fn jmespath_labels_errors() {
    let not_object = JmesMapping {
        labels: expr("type"),
        ..legacy()
    };
    assert_eq!(
        legacy_err(not_object, &events(&[OK_EVENT])),
        r#"source "legacy": alert 0: `labels` yielded "ApiDown", expected an object"#
    );
    let nested = JmesMapping {
        labels: expr("{alertname: type, tags: tags}"),
        ..legacy()
    };
    assert_eq!(
        legacy_err(nested, &fixture("jmespath/legacy.json")),
        r#"source "legacy": alert 0: `labels` key "tags" yielded an object, expected a string, number, bool or null"#
    );
    let empty = JmesMapping {
        labels: expr("{alertname: nothing}"),
        ..legacy()
    };
    assert_eq!(
        legacy_err(empty, &events(&[OK_EVENT])),
        r#"source "legacy": alert 0 has no labels"#
    );
}

#[test]
fn jmespath_annotations_errors() {
    let list = JmesMapping {
        annotations: Some(expr("[message]")),
        ..legacy()
    };
    assert_eq!(
        legacy_err(list, &events(&[OK_EVENT])),
        r#"source "legacy": alert 0: `annotations` yielded an array, expected an object or null"#
    );
    let nested = JmesMapping {
        annotations: Some(expr("{all: @}")),
        ..legacy()
    };
    assert_eq!(
        legacy_err(nested, &events(&[OK_EVENT])),
        r#"source "legacy": alert 0: `annotations` key "all" yielded an object, expected a string, number, bool or null"#
    );
}

#[test]
fn jmespath_starts_at_errors() {
    let number = events(&[r#"{"id": "e", "type": "X", "state": "firing", "opened": 1795168800}"#]);
    assert_eq!(
        legacy_err(legacy(), &number),
        r#"source "legacy": alert 0: `starts_at` yielded 1795168800, expected an RFC 3339 timestamp string"#
    );
    let words = events(&[r#"{"id": "e", "type": "X", "state": "firing", "opened": "yesterday"}"#]);
    let message = legacy_err(legacy(), &words);
    assert!(
        message.starts_with(r#"source "legacy": alert 0: `starts_at` is "yesterday", expected an RFC 3339 timestamp ("#),
        "{message}"
    );
}

#[test]
fn jmespath_fingerprint_errors() {
    let body = events(&[
        r#"{"id": {"n": 1}, "type": "X", "state": "firing", "opened": "2026-11-20T10:00:00Z"}"#,
    ]);
    assert_eq!(
        legacy_err(legacy(), &body),
        r#"source "legacy": alert 0: `fingerprint` yielded an object, expected a non-empty string or a number"#
    );
}

#[test]
fn jmespath_evaluation_errors_are_reported() {
    let mapping = JmesMapping {
        labels: expr("{alertname: type, n: abs(type)}"),
        ..legacy()
    };
    let message = legacy_err(mapping, &events(&[OK_EVENT]));
    assert!(
        message.starts_with(r#"source "legacy": alert 0: `labels` failed: "#),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

// ---- Bodies that are not payloads -------------------------------------------

fn every_kind() -> Vec<SourceKind> {
    vec![
        SourceKind::Alertmanager,
        SourceKind::Grafana,
        SourceKind::PagerDuty,
        SourceKind::Jmespath(Box::new(legacy())),
    ]
}

#[test]
fn not_json() {
    for kind in every_kind() {
        let err = map(kind, b"alerts: yes").unwrap_err();
        assert!(
            matches!(
                err,
                MapError::NotJson {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            r#"source "src": the body is not JSON: expected value at line 1, column 1"#
        );
    }
}

#[test]
fn truncated_json() {
    let whole = fixture("alertmanager/api-down.json");
    let half = whole.get(..whole.len() / 2).expect("half");
    for kind in every_kind() {
        let err = map(kind, half).unwrap_err();
        assert!(matches!(err, MapError::NotJson { .. }), "{err:?}");
        assert!(err.to_string().contains("EOF while parsing"), "{err}");
    }
    let err = map(SourceKind::Alertmanager, b"").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"source "src": the body is not JSON: EOF while parsing a value at line 1, column 0"#
    );
}

#[test]
fn body_must_be_an_object() {
    for kind in [
        SourceKind::Alertmanager,
        SourceKind::Grafana,
        SourceKind::PagerDuty,
    ] {
        assert_eq!(
            map_err(kind, b"[1, 2]"),
            r#"source "src": the body is an array, expected an object"#
        );
    }
    assert_eq!(
        map_err(SourceKind::Alertmanager, b"12.5"),
        r#"source "src": the body is 12.5, expected an object"#
    );
    assert_eq!(
        map_err(SourceKind::PagerDuty, b"\"hi\""),
        r#"source "src": the body is "hi", expected an object"#
    );
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let body = "[".repeat(100_000).into_bytes();
    for kind in every_kind() {
        assert!(matches!(map(kind, &body), Err(MapError::NotJson { .. })));
    }
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "x".repeat(10_000);
    let body = am_body(&format!(
        r#"{{"status": "{long}", "labels": {{"a": "b"}}}}"#
    ));
    let message = map_err(SourceKind::Alertmanager, &body);
    assert!(message.len() < 200, "{message}");
    assert!(message.contains('…'));
}

#[test]
fn source_module_reexports() {
    // The alert type and the hash are reachable from `resgate::source`.
    let _: fn(&BTreeMap<String, String>) -> String = source::fingerprint;
}

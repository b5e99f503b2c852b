//! Response bodies to rows. No I/O.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::{FactRow, FactValue};
use crate::rules::Expr;

/// The envelope of every Prometheus API answer
/// (<https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview>):
/// `{"status": "success" | "error", "data": ..., "errorType": ..., "error": ...,
/// "warnings": [...]}`.
#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `{"resultType": "matrix" | "vector" | "scalar" | "string", "result": ...}`.
#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

/// One series of an instant vector: `{"metric": {...}, "value": [<unix
/// time>, "<sample>"]}`. A native histogram sample comes as `histogram`
/// instead of `value`: not a number a guard can compare.
#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<(serde_json::Value, String)>,
}

/// A Prometheus sample as text: Go's `strconv.FormatFloat`, plus `NaN`,
/// `+Inf`, `-Inf`.
fn sample(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => None,
        t => t.parse::<f64>().ok().filter(|x| !x.is_nan()),
    }
}

/// What a body looks like, for an error message: the start of it, on one line.
fn glimpse(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(80)]);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one_line.trim().to_owned()
}

fn not_json(body: &[u8], e: &serde_json::Error) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        "the answer is empty".to_owned()
    } else if body.trim_ascii_start().starts_with(b"<") {
        format!("the answer is HTML, not JSON: {:?}", glimpse(body))
    } else {
        format!("the answer is not JSON ({e}): {:?}", glimpse(body))
    }
}

/// The rows of a Prometheus instant query answer: one per series, each column
/// a label's value (an absent label is the empty string, as in PromQL) or, for
/// `value`, the sample.
pub fn prometheus_rows(body: &[u8], columns: &[String]) -> Result<Vec<FactRow>, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| not_json(body, &e))?;
    if envelope.status != "success" {
        return Err(format!(
            "Prometheus answered {}: {}: {}",
            envelope.status,
            envelope.error_type.as_deref().unwrap_or("no errorType"),
            envelope.error.as_deref().unwrap_or("no error message")
        ));
    }
    let data = envelope
        .data
        .ok_or("Prometheus answered success without `data`")?;
    if data.result_type != "vector" {
        return Err(format!(
            "the query yields a {}, not an instant vector: use an instant vector query (e.g. `sum by (service) (...)`)",
            data.result_type
        ));
    }
    let series: Vec<Series> = serde_json::from_value(data.result)
        .map_err(|e| format!("the vector result is not a list of series: {e}"))?;
    let mut rows = Vec::with_capacity(series.len());
    for (n, s) in series.iter().enumerate() {
        let mut row = Vec::with_capacity(columns.len());
        for column in columns {
            if column == "value" {
                let (_, text) = s
                    .value
                    .as_ref()
                    .ok_or_else(|| format!("series {} has no float sample (`value`)", n + 1))?;
                let x = sample(text).ok_or_else(|| {
                    format!("series {} has the sample {text:?}, not a number", n + 1)
                })?;
                row.push(FactValue::Number(x));
            } else {
                let v = s.metric.get(column).cloned().unwrap_or_default();
                row.push(FactValue::Text(v));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A JSON value as a cell: strings and numbers as they are, booleans as
/// `"true"`/`"false"`; anything else is refused (a column must be one value).
fn cell(v: &jmespath::Variable, row: usize, column: usize) -> Result<FactValue, String> {
    match v {
        jmespath::Variable::String(s) => Ok(FactValue::Text(s.clone())),
        jmespath::Variable::Number(n) => n
            .as_f64()
            .filter(|x| !x.is_nan())
            .map(FactValue::Number)
            .ok_or_else(|| format!("row {row}, column {column}: {n} is not a number")),
        jmespath::Variable::Bool(b) => Ok(FactValue::Text(b.to_string())),
        jmespath::Variable::Null => Err(format!(
            "row {row}, column {column} is null (the expression found nothing)"
        )),
        other => Err(format!(
            "row {row}, column {column} is a {}, not a string or a number",
            other.get_type()
        )),
    }
}

/// The rows of a JSON answer: `rows` yields a list, each `columns`
/// expression one cell of each element.
pub fn http_rows(body: &[u8], rows: &Expr, columns: &[Expr]) -> Result<Vec<FactRow>, String> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| not_json(body, &e))?;
    let data = jmespath::Variable::from_serializable(&json)
        .map_err(|e| format!("the answer cannot be searched: {e}"))?;
    let found = rows
        .search(data)
        .map_err(|e| format!("`rows` failed: {e}"))?;
    let list = found.as_array().ok_or_else(|| {
        format!(
            "`rows` yields a {}, not a list (did the API's shape change?)",
            found.get_type()
        )
    })?;
    let mut out = Vec::with_capacity(list.len());
    for (n, element) in list.iter().enumerate() {
        let mut row = Vec::with_capacity(columns.len());
        for (c, expr) in columns.iter().enumerate() {
            let v = expr
                .search(element.clone())
                .map_err(|e| format!("row {}, column {}: {e}", n + 1, c + 1))?;
            row.push(cell(&v, n + 1, c + 1)?);
        }
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The example answer of the Prometheus API documentation, "Instant
    /// queries" (prometheus.io/docs/prometheus/latest/querying/api/).
    const DOC_EXAMPLE: &str = r#"{
       "status" : "success",
       "data" : {
          "resultType" : "vector",
          "result" : [
             {"metric" : {"__name__" : "up", "job" : "prometheus", "instance" : "localhost:9090"},
              "value": [ 1435781451.781, "1" ]},
             {"metric" : {"__name__" : "up", "job" : "node", "instance" : "localhost:9100"},
              "value" : [ 1435781451.781, "0" ]}
          ]
       }
    }"#;

    #[test]
    fn the_documented_vector_answer() {
        let rows =
            prometheus_rows(DOC_EXAMPLE.as_bytes(), &cols(&["job", "value", "zone"])).unwrap();
        assert_eq!(
            rows,
            vec![
                vec![
                    FactValue::Text("prometheus".into()),
                    FactValue::Number(1.0),
                    FactValue::Text(String::new())
                ],
                vec![
                    FactValue::Text("node".into()),
                    FactValue::Number(0.0),
                    FactValue::Text(String::new())
                ],
            ]
        );
    }

    #[test]
    fn bad_answers_are_errors() {
        let c = cols(&["job", "value"]);
        let err = |body: &str| prometheus_rows(body.as_bytes(), &c).unwrap_err();
        // The documented error envelope.
        assert_eq!(
            err(r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#),
            "Prometheus answered error: bad_data: parse error at char 4"
        );
        assert!(err("").contains("empty"));
        assert!(err("<html><body>502 Bad Gateway</body></html>").contains("HTML"));
        assert!(err("garbage").contains("not JSON"));
        assert!(
            err(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#)
                .contains("scalar")
        );
        assert!(err(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#).contains("not a number"));
        assert!(err(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}"#).contains("no float sample"));
        assert!(
            err(r#"{"status":"success","data":{"resultType":"vector","result":{}}}"#)
                .contains("not a list")
        );
        assert!(err(r#"{"status":"success"}"#).contains("without `data`"));
    }

    #[test]
    fn infinities_and_fractions() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"s":"a"},"value":[1,"+Inf"]},{"metric":{"s":"b"},"value":[1,"0.05"]},
            {"metric":{"s":"c"},"value":[1,"-Inf"]},{"metric":{"s":"d"},"value":[1,"1e+06"]}]}}"#;
        let rows = prometheus_rows(body.as_bytes(), &cols(&["value"])).unwrap();
        let values: Vec<f64> = rows
            .iter()
            .map(|r| match r[0] {
                FactValue::Number(x) => x,
                FactValue::Text(_) => f64::NAN,
            })
            .collect();
        assert_eq!(values, [f64::INFINITY, 0.05, f64::NEG_INFINITY, 1e6]);
    }

    /// An Argo CD application list (argo-cd's `ApplicationList`:
    /// `items[].metadata.name`, `items[].status.operationState.phase`).
    #[test]
    fn http_rows_from_an_argo_cd_shaped_list() {
        let body = r#"{"metadata":{},"items":[
            {"metadata":{"name":"mailer"},"status":{"operationState":{"phase":"Running"}}},
            {"metadata":{"name":"api"},"status":{"operationState":{"phase":"Succeeded"}}},
            {"metadata":{"name":"web"},"status":{}}]}"#;
        let rows = jmespath::compile("items[?status.operationState.phase=='Running']").unwrap();
        let name = jmespath::compile("metadata.name").unwrap();
        let got = http_rows(body.as_bytes(), &rows, std::slice::from_ref(&name)).unwrap();
        assert_eq!(got, vec![vec![FactValue::Text("mailer".into())]]);
        // The shape changed: `items` is gone. An error, not an empty relation.
        let err = http_rows(br#"{"apps":[]}"#, &rows, std::slice::from_ref(&name)).unwrap_err();
        assert!(err.contains("not a list"), "{err}");
        // A row missing a column is an error for the whole refresh.
        let all = jmespath::compile("items").unwrap();
        let phase = jmespath::compile("status.operationState.phase").unwrap();
        let err = http_rows(body.as_bytes(), &all, &[name, phase]).unwrap_err();
        assert!(err.contains("row 3, column 2 is null"), "{err}");
    }
}

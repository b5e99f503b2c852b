//! The Datalog stages on untrusted text: lex, parse, check, compile, then a
//! small evaluation and a guard query. Input: a `.dl` program, optionally
//! followed by a line `%%` and a guard body (the `when:` of a remediation).
//! Every stage may refuse the text; none may panic or hang.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use resgate::datalog::{Builtins, Compiled, Database, SourceId, parse_body, parse_program};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (program, guard) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let Ok(program) = parse_program(program, SourceId(0), 0) else {
        // The guard parser runs on its own too.
        let _ = parse_body(guard, SourceId(1), 0);
        return;
    };
    let Ok(mut compiled) = Compiled::new(&program, &Builtins::resgate()) else {
        return;
    };
    let query = parse_body(guard, SourceId(1), 0)
        .ok()
        .and_then(|body| compiled.compile_query(&body, &["service", "instance"]).ok());
    let mut db = Database::new(Arc::new(compiled));
    let a = db.intern("a1");
    let (alertname, service, api) = (
        db.intern("alertname"),
        db.intern("service"),
        db.intern("api"),
    );
    let down = db.intern("ApiDown");
    let _ = db.insert("alert", &[a]);
    let _ = db.insert("firing", &[a]);
    let _ = db.insert("label", &[a, alertname, down]);
    let _ = db.insert("label", &[a, service, api]);
    db.evaluate();
    if let Some(query) = query {
        let host = db.intern("api-1:8080");
        if let Some(solution) = db.query(query, &[api, host]) {
            for fact in &solution.facts {
                let _ = db.explain(&fact.pred, &fact.tuple);
            }
        }
    }
});

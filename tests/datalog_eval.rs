//! Evaluation, queries, proofs and compile-time errors of `resgate::datalog`,
//! through its public API only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use resgate::datalog::*;

fn program(text: &str) -> Program {
    parse_program(text, SourceId(0), 0).expect("program parses")
}

fn compile(text: &str) -> Compiled {
    match Compiled::new(&program(text), &Builtins::resgate()) {
        Ok(c) => c,
        Err(e) => panic!("compile errors: {e:?}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match Compiled::new(&program(text), &Builtins::resgate()) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn db(text: &str) -> Database {
    Database::new(Arc::new(compile(text)))
}

/// A value from test shorthand: digits (with an optional `-`) are integers.
fn val(db: &mut Database, s: &str) -> Value {
    match s.parse::<i64>() {
        Ok(i) => Value::Int(i),
        Err(_) => db.intern(s),
    }
}

fn ins(db: &mut Database, pred: &str, args: &[&str]) {
    let tuple: Vec<Value> = args.iter().map(|a| val(db, a)).collect();
    assert!(db.insert(pred, &tuple).unwrap(), "{pred}{args:?} was new");
}

fn rm(db: &mut Database, pred: &str, args: &[&str]) {
    let tuple: Vec<Value> = args.iter().map(|a| val(db, a)).collect();
    assert!(
        db.remove(pred, &tuple).unwrap(),
        "{pred}{args:?} was present"
    );
}

/// An alert with labels, firing.
fn alert(db: &mut Database, id: &str, labels: &[(&str, &str)]) {
    ins(db, "alert", &[id]);
    ins(db, "firing", &[id]);
    for (k, v) in labels {
        ins(db, "label", &[id, k, v]);
    }
}

fn tuples(db: &Database, pred: &str) -> BTreeSet<String> {
    db.facts(pred)
        .map(|t| {
            t.iter()
                .map(|v| db.resolve(*v).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Every relation's contents, for comparing two databases.
fn dump(db: &Database) -> BTreeMap<String, BTreeSet<String>> {
    db.compiled()
        .predicates()
        .iter()
        .map(|p| (p.name.to_string(), tuples(db, &p.name)))
        .collect()
}

const TOPOLOGY: &str = r#"
depends_on("api", "db").
depends_on("db", "storage").
depends(X, Y) :- depends_on(X, Y).
depends(X, Z) :- depends_on(X, Y), depends(Y, Z).
deploying(S) :- firing(A), label(A, "alertname", "DeployInProgress"), label(A, "service", S).
deploying(S) :- in_flight("deploy-api", S).
upstream_down(S) :- depends(S, D), firing(A), label(A, "service", D), label(A, "alertname", "ServiceDown").
"#;

#[test]
fn topology_joins() {
    let mut db = db(TOPOLOGY);
    alert(
        &mut db,
        "a1",
        &[("alertname", "DeployInProgress"), ("service", "web")],
    );
    alert(
        &mut db,
        "a2",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    ins(&mut db, "in_flight", &["deploy-api", "api"]);
    db.evaluate();
    assert_eq!(
        tuples(&db, "depends"),
        set(&["api,db", "api,storage", "db,storage"])
    );
    assert_eq!(tuples(&db, "deploying"), set(&["api", "web"]));
    assert_eq!(tuples(&db, "upstream_down"), set(&["api", "db"]));
}

#[test]
fn transitive_closure_of_a_chain() {
    let mut db =
        db("edge(0, 0). reach(X, Y) :- edge(X, Y). reach(X, Z) :- reach(X, Y), edge(Y, Z).");
    for i in 1..20 {
        assert!(
            db.insert("edge", &[Value::Int(i), Value::Int(i + 1)])
                .unwrap()
        );
    }
    db.evaluate();
    // 19 edges 1->2 ... 19->20: pairs i<j among 1..=20, plus the self loop at 0.
    assert_eq!(db.facts("reach").count(), 20 * 19 / 2 + 1);
    assert!(db.contains("reach", &[Value::Int(1), Value::Int(20)]));
    assert!(!db.contains("reach", &[Value::Int(20), Value::Int(1)]));
}

#[test]
fn negation_across_strata() {
    let mut db = db(r#"
        silenced(A) :- label(A, "silence", "yes").
        page(A) :- firing(A), not silenced(A), not quiet.
        quiet :- label(_, "quiet", "yes").
        unpaged(A) :- alert(A), not page(A).
    "#);
    alert(&mut db, "a1", &[("silence", "yes")]);
    alert(&mut db, "a2", &[]);
    ins(&mut db, "alert", &["a3"]);
    db.evaluate();
    assert_eq!(tuples(&db, "page"), set(&["a2"]));
    assert_eq!(tuples(&db, "unpaged"), set(&["a1", "a3"]));
    // A zero-arity predicate switches every page off.
    ins(&mut db, "label", &["a3", "quiet", "yes"]);
    db.evaluate();
    assert!(db.contains("quiet", &[]));
    assert_eq!(tuples(&db, "page"), set(&[]));
    assert_eq!(tuples(&db, "unpaged"), set(&["a1", "a2", "a3"]));
}

#[test]
fn comparisons_on_ints_and_strings() {
    let mut db = db(r#"
        big(A) :- age(A, S), S >= 120.
        small(A) :- age(A, S), S < 120, S != 0.
        early(A) :- label(A, "service", S), S < "m".
        same(A) :- age(A, S), S = 0.
        mixed(A) :- label(A, "service", S), S > 5.
        mixed(A) :- age(A, S), S <= "z".
    "#);
    // Intern "zeta" before "alpha" so symbol order disagrees with text order.
    ins(&mut db, "label", &["a1", "service", "zeta"]);
    ins(&mut db, "label", &["a2", "service", "alpha"]);
    ins(&mut db, "age", &["a1", "120"]);
    ins(&mut db, "age", &["a2", "-5"]);
    ins(&mut db, "age", &["a3", "0"]);
    db.evaluate();
    assert_eq!(tuples(&db, "big"), set(&["a1"]));
    assert_eq!(tuples(&db, "small"), set(&["a2"]));
    assert_eq!(tuples(&db, "early"), set(&["a2"]));
    assert_eq!(tuples(&db, "same"), set(&["a3"]));
    assert_eq!(
        tuples(&db, "mixed"),
        set(&[]),
        "ints and strings never compare"
    );
}

/// Fractions in facts and comparisons (DESIGN.md §8: "an error ratio of 0.05 is
/// not 0"): integers and fractions are one number line, `1.0` is the integer 1.
#[test]
fn fractions_compare_as_numbers() {
    let mut db = db(r#"
        ratio("api", 0.07). ratio("db", 0.05). ratio("web", 0.049).
        ratio("edge", 1.0). ratio("cold", -0.5). ratio("huge", 9007199254740993).
        high(S) :- ratio(S, R), R > 0.05.
        at_least(S) :- ratio(S, R), R >= 0.05.
        exactly(S) :- ratio(S, R), R = 0.05.
        one(S) :- ratio(S, R), R = 1.
        under_one(S) :- ratio(S, R), R < 1, R > -0.25.
        near_big(S) :- ratio(S, R), R > 9007199254740992.5.
        text(S) :- ratio(S, R), R =~ "0[.]0[0-9]+".
        mixed(S) :- ratio(S, R), R > "0".
    "#);
    db.evaluate();
    assert_eq!(
        tuples(&db, "ratio"),
        set(&[
            "api,0.07",
            "db,0.05",
            "web,0.049",
            "edge,1",
            "cold,-0.5",
            "huge,9007199254740993"
        ]),
        "fractions print in their shortest form, integral ones as integers"
    );
    assert_eq!(tuples(&db, "high"), set(&["api", "edge", "huge"]));
    assert_eq!(tuples(&db, "at_least"), set(&["api", "db", "edge", "huge"]));
    assert_eq!(tuples(&db, "exactly"), set(&["db"]));
    assert_eq!(tuples(&db, "one"), set(&["edge"]), "1.0 is the integer 1");
    assert_eq!(tuples(&db, "under_one"), set(&["api", "db", "web"]));
    // 9007199254740993 is not an f64: an integer and a fraction still compare
    // exactly (the fraction literal rounds to 9007199254740992).
    assert_eq!(tuples(&db, "near_big"), set(&["huge"]));
    assert_eq!(tuples(&db, "text"), set(&["api", "db", "web"]));
    assert_eq!(
        tuples(&db, "mixed"),
        set(&[]),
        "numbers and strings never compare"
    );
}

#[test]
fn fractions_from_the_api() {
    let mut db = db("high(S) :- ratio(S, R), R > 0.05. ratio(\"x\", 0).");
    let api = db.intern("api");
    let r = Value::number(0.0625).expect("a number");
    assert!(db.insert("ratio", &[api, r]).unwrap());
    // An integral f64 is stored as the integer: the same fact, not a second one.
    let zero = Value::number(-0.0).expect("a number");
    let x = db.intern("x");
    assert_eq!(zero, Value::Int(0));
    assert!(
        !db.insert("ratio", &[x, zero]).unwrap(),
        "ratio(x, 0) already holds"
    );
    assert_eq!(
        Value::number(f64::NAN),
        None,
        "NaN is no number a guard can compare"
    );
    db.evaluate();
    assert_eq!(tuples(&db, "high"), set(&["api"]));
    assert_eq!(
        db.fact_to_string("ratio", &[api, r]),
        "ratio(\"api\", 0.0625)"
    );
}

#[test]
fn equality_binds() {
    let mut db = db(r#"tagged(A, T) :- firing(A), T = "x". pair(A, B) :- firing(A), B = A."#);
    alert(&mut db, "a1", &[]);
    db.evaluate();
    assert_eq!(tuples(&db, "tagged"), set(&["a1,x"]));
    assert_eq!(tuples(&db, "pair"), set(&["a1,a1"]));
}

#[test]
fn regex_is_anchored() {
    let mut db = db(r#"
        crit(A) :- label(A, "severity", V), V =~ "crit".
        critish(A) :- label(A, "severity", V), V =~ "crit.*".
        either(A) :- label(A, "severity", V), V =~ "page|critical".
        digits(A) :- age(A, N), N =~ "[0-9]+".
    "#);
    ins(&mut db, "label", &["a1", "severity", "critical"]);
    ins(&mut db, "label", &["a2", "severity", "crit"]);
    ins(&mut db, "label", &["a3", "severity", "pager"]);
    ins(&mut db, "label", &["a4", "severity", "xcrit"]);
    ins(&mut db, "age", &["a1", "30"]);
    ins(&mut db, "age", &["a2", "-30"]);
    db.evaluate();
    assert_eq!(tuples(&db, "crit"), set(&["a2"]));
    assert_eq!(tuples(&db, "critish"), set(&["a1", "a2"]));
    assert_eq!(
        tuples(&db, "either"),
        set(&["a1"]),
        "alternation is anchored as a whole"
    );
    assert_eq!(tuples(&db, "digits"), set(&["a1"]));
}

/// `=~` has the dialect of a `match:` regex (docs/rules.md): Go's, as in
/// Alertmanager, so `\d` and `\w` are ASCII and `\Q...\E` quotes.
#[test]
fn regex_has_the_matchers_go_semantics() {
    let mut db = db(r#"
        digits(A) :- label(A, "code", V), V =~ "\\d+".
        word(A) :- label(A, "name", V), V =~ "\\w+".
        quoted(A) :- label(A, "path", V), V =~ "\\Q/a.b\\E".
    "#);
    ins(&mut db, "label", &["ascii", "code", "42"]);
    ins(&mut db, "label", &["arabic", "code", "\u{663}"]);
    ins(&mut db, "label", &["ascii", "name", "api_1"]);
    ins(&mut db, "label", &["accent", "name", "caf\u{e9}"]);
    ins(&mut db, "label", &["ascii", "path", "/a.b"]);
    ins(&mut db, "label", &["other", "path", "/axb"]);
    db.evaluate();
    assert_eq!(tuples(&db, "digits"), set(&["ascii"]));
    assert_eq!(tuples(&db, "word"), set(&["ascii"]));
    assert_eq!(tuples(&db, "quoted"), set(&["ascii"]));
}

#[test]
fn wildcards() {
    let mut db = db(r#"
        has_x(A) :- label(A, _, "x").
        teamless(A) :- alert(A), not label(A, "team", _).
        twice(A) :- label(A, K, V), label(A, K2, V), K != K2.
    "#);
    ins(&mut db, "alert", &["a1"]);
    ins(&mut db, "alert", &["a2"]);
    ins(&mut db, "label", &["a1", "k", "x"]);
    ins(&mut db, "label", &["a1", "j", "x"]);
    ins(&mut db, "label", &["a2", "team", "sre"]);
    db.evaluate();
    assert_eq!(tuples(&db, "has_x"), set(&["a1"]));
    assert_eq!(tuples(&db, "teamless"), set(&["a1"]));
    assert_eq!(tuples(&db, "twice"), set(&["a1"]));
}

#[test]
fn repeated_variable_in_one_atom() {
    let mut db = db("self_loop(X) :- edge(X, X). edge(1, 1). edge(1, 2).");
    db.evaluate();
    assert_eq!(tuples(&db, "self_loop"), set(&["1"]));
}

#[test]
fn unsafe_variable_errors() {
    assert_eq!(
        errors("p(S) :- firing(A), not label(A, \"service\", S)."),
        ["variable \"S\" is unsafe: it is not bound by a positive literal"]
    );
    let p = program("p(A) :- firing(A), X > 3.");
    let e = Compiled::new(&p, &Builtins::resgate()).unwrap_err();
    assert_eq!(e[0].span(), Span::new(SourceId(0), 19, 20));
    assert_eq!(e[0].kind(), "unsafe-variable");
}

#[test]
fn arity_and_undefined_errors() {
    assert_eq!(
        errors("depends(\"a\", \"b\"). p(X) :- depends(X, Y, Z)."),
        ["predicate \"depends\" used with 3 arguments, but defined with 2"]
    );
    let p = program("deploying(S) :- in_flight(\"d\", S). guard(S) :- deploing(S).");
    let e = Compiled::new(&p, &Builtins::resgate()).unwrap_err();
    assert_eq!(e[0].to_string(), "undefined predicate \"deploing\"");
    assert_eq!(
        miette::Diagnostic::help(&e[0])
            .map(|h| h.to_string())
            .as_deref(),
        Some("did you mean \"deploying\"?")
    );
    assert_eq!(
        errors("firing(X) :- alert(X)."),
        ["cannot define built-in relation \"firing\""]
    );
}

#[test]
fn recursion_through_negation_names_the_cycle() {
    assert_eq!(
        errors("ok(A) :- alert(A), not bad(A).\nbad(A) :- worse(A).\nworse(A) :- ok(A)."),
        ["recursion through negation: ok -> not bad -> worse -> ok"]
    );
}

#[test]
fn builtins_come_from_the_caller() {
    let p = program("p(X) :- metric(X, V), V > 1.");
    assert!(Compiled::new(&p, &Builtins::resgate()).is_err());
    let compiled = Compiled::new(&p, &Builtins::new([("metric", 2)])).unwrap();
    let mut db = Database::new(Arc::new(compiled));
    ins(&mut db, "metric", &["m", "2"]);
    assert!(db.insert("firing", &[Value::Int(1)]).is_err());
    db.evaluate();
    assert_eq!(tuples(&db, "p"), set(&["m"]));
}

#[test]
fn insert_errors_never_panic() {
    let mut db = db(TOPOLOGY);
    let x = db.intern("x");
    assert_eq!(
        db.insert("nope", &[x]),
        Err(DbError::UnknownPredicate {
            name: "nope".into()
        })
    );
    assert_eq!(
        db.insert("label", &[x]),
        Err(DbError::ArityMismatch {
            name: "label".into(),
            expected: 3,
            got: 1
        })
    );
    assert_eq!(
        db.insert("deploying", &[x]),
        Err(DbError::Derived {
            name: "deploying".into()
        })
    );
    assert!(db.remove("deploying", &[x]).is_err());
    assert!(db.clear("deploying").is_err());
    // Predicates with facts take inserts; unknown symbols resolve without panicking.
    assert_eq!(db.insert("depends_on", &[x, x]), Ok(true));
    assert_eq!(db.insert("depends_on", &[x, x]), Ok(false));
    assert!(!db.contains("nope", &[x]));
    assert_eq!(db.facts("nope").count(), 0);
    assert!(db.explain("nope", &[x]).is_none());
    assert_eq!(
        db.resolve(Value::Sym(Sym(u32::MAX))).to_string(),
        format!("<unknown #{}>", u32::MAX)
    );
}

/// Builds the same final facts two ways: incrementally (with `evaluate` between
/// changes) and from scratch.
#[test]
fn incremental_insert_equals_from_scratch() {
    let mut inc = db(TOPOLOGY);
    alert(
        &mut inc,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    inc.evaluate();
    let before = dump(&inc);
    ins(&mut inc, "depends_on", &["web", "api"]);
    alert(
        &mut inc,
        "a2",
        &[("alertname", "DeployInProgress"), ("service", "db")],
    );
    inc.evaluate();
    assert_ne!(before, dump(&inc));

    let mut scratch = db(TOPOLOGY);
    alert(
        &mut scratch,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    ins(&mut scratch, "depends_on", &["web", "api"]);
    alert(
        &mut scratch,
        "a2",
        &[("alertname", "DeployInProgress"), ("service", "db")],
    );
    scratch.evaluate();
    assert_eq!(dump(&inc), dump(&scratch));
    assert!(inc.contains("upstream_down", &[inc.lookup("web").unwrap()]));
}

#[test]
fn incremental_remove_equals_from_scratch() {
    let mut inc = db(TOPOLOGY);
    alert(
        &mut inc,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    alert(
        &mut inc,
        "a2",
        &[("alertname", "DeployInProgress"), ("service", "db")],
    );
    inc.evaluate();
    assert_eq!(tuples(&inc, "upstream_down"), set(&["api", "db"]));
    rm(&mut inc, "firing", &["a1"]);
    rm(&mut inc, "depends_on", &["db", "storage"]);
    inc.evaluate();

    let mut scratch = db(TOPOLOGY);
    alert(
        &mut scratch,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    alert(
        &mut scratch,
        "a2",
        &[("alertname", "DeployInProgress"), ("service", "db")],
    );
    rm(&mut scratch, "firing", &["a1"]);
    rm(&mut scratch, "depends_on", &["db", "storage"]);
    scratch.evaluate();
    assert_eq!(dump(&inc), dump(&scratch));
    assert_eq!(tuples(&inc, "upstream_down"), set(&[]));
    assert_eq!(tuples(&inc, "depends"), set(&["api,db"]));
}

#[test]
fn insert_into_a_negated_input_recomputes() {
    let mut inc = db("quiet(A) :- alert(A), not firing(A). loud(A) :- firing(A).");
    ins(&mut inc, "alert", &["a1"]);
    ins(&mut inc, "alert", &["a2"]);
    inc.evaluate();
    assert_eq!(tuples(&inc, "quiet"), set(&["a1", "a2"]));
    ins(&mut inc, "firing", &["a1"]);
    inc.evaluate();
    assert_eq!(tuples(&inc, "quiet"), set(&["a2"]));
    assert_eq!(tuples(&inc, "loud"), set(&["a1"]));
}

#[test]
fn facts_and_rules_for_one_predicate() {
    let mut db = db("svc(\"api\"). svc(S) :- label(_, \"service\", S).");
    ins(&mut db, "label", &["a1", "service", "db"]);
    ins(&mut db, "svc", &["extra"]);
    db.evaluate();
    assert_eq!(tuples(&db, "svc"), set(&["api", "db", "extra"]));
    // Removing a given fact that the rules also derive keeps it.
    ins(&mut db, "svc", &["db"]);
    rm(&mut db, "svc", &["db"]);
    rm(&mut db, "svc", &["extra"]);
    db.evaluate();
    assert_eq!(tuples(&db, "svc"), set(&["api", "db"]));
    db.clear("label").unwrap();
    db.evaluate();
    assert_eq!(tuples(&db, "svc"), set(&["api"]));
}

#[test]
fn query_with_params_and_proof() {
    let mut compiled = compile(TOPOLOGY);
    let body = parse_body(
        "deploying($service), label($alert, \"severity\", Sev), Sev != \"info\"",
        SourceId(1),
        0,
    )
    .unwrap();
    let q = compiled
        .compile_query(&body, &["alert", "$service"])
        .unwrap();
    assert_eq!(compiled.query_vars(q).collect::<Vec<_>>(), ["Sev"]);
    let mut db = Database::new(Arc::new(compiled));
    alert(
        &mut db,
        "a1",
        &[("alertname", "DeployInProgress"), ("service", "api")],
    );
    alert(
        &mut db,
        "a2",
        &[
            ("alertname", "ApiDown"),
            ("service", "api"),
            ("severity", "page"),
        ],
    );
    db.evaluate();
    let (a2, api, web) = (
        db.lookup("a2").unwrap(),
        db.lookup("api").unwrap(),
        db.intern("web"),
    );
    let solution = db.query(q, &[a2, api]).expect("the guard holds");
    assert_eq!(solution.get("Sev"), db.lookup("page"));
    let facts: Vec<String> = solution
        .facts
        .iter()
        .map(|f| db.fact_to_string(&f.pred, &f.tuple))
        .collect();
    assert_eq!(
        facts,
        [r#"deploying("api")"#, r#"label("a2", "severity", "page")"#]
    );
    assert!(db.query(q, &[a2, web]).is_none());
    // Wrong parameter count: no answer, no panic.
    assert!(db.query(q, &[a2]).is_none());
    assert_eq!(db.query_all(q, &[a2, api]).len(), 1);
}

#[test]
fn query_all_lists_distinct_bindings() {
    let mut compiled = compile("");
    let body = parse_body("firing(A), label(A, \"service\", S)", SourceId(1), 0).unwrap();
    let q = compiled.compile_query(&body, &[]).unwrap();
    let mut db = Database::new(Arc::new(compiled));
    alert(&mut db, "a1", &[("service", "api")]);
    alert(&mut db, "a2", &[("service", "db")]);
    db.evaluate();
    let mut got: Vec<String> = db
        .query_all(q, &[])
        .iter()
        .map(|s| {
            s.bindings
                .iter()
                .map(|(_, v)| db.resolve(*v).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    got.sort();
    assert_eq!(got, ["a1,api", "a2,db"]);
}

#[test]
fn query_errors() {
    let mut compiled = compile(TOPOLOGY);
    let errs = |c: &mut Compiled, text: &str, params: &[&str]| -> Vec<String> {
        let body = parse_body(text, SourceId(1), 0).unwrap();
        match c.compile_query(&body, params) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .iter()
                .map(|e| {
                    let help = miette::Diagnostic::help(e)
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                    format!("{e}{help}")
                })
                .collect(),
        }
    };
    assert_eq!(
        errs(&mut compiled, "deploying($servce)", &["alert", "service"]),
        ["unknown parameter \"$servce\" (did you mean \"$service\"? available: $alert, $service)"]
    );
    assert_eq!(
        errs(&mut compiled, "deploing($service)", &["service"]),
        ["undefined predicate \"deploing\" (did you mean \"deploying\"?)"]
    );
    assert_eq!(
        errs(
            &mut compiled,
            "queue_depth($service, D), D > 1000",
            &["service"]
        ),
        [
            "undefined predicate \"queue_depth\" (define it with facts or a rule in a .dl file of the rules directory, e.g. `queue_depth(\"v1\", \"v2\").`; defined: depends, depends_on, deploying, upstream_down; built in: age, alert, annotation, attempts, failed, firing, in_flight, label, resolved, source, succeeded, warming)"
        ]
    );
    assert_eq!(
        errs(&mut compiled, "not deploying(S)", &[]),
        [
            "variable \"S\" is unsafe: it is not bound by a positive literal (bind S in a positive atom of the same body, e.g. label($alert, \"service\", S))"
        ]
    );
    assert_eq!(
        errs(
            &mut compiled,
            "label($alert, \"x\", V), V =~ \"[\"",
            &["alert"]
        ),
        [
            "invalid regex \"[\": unclosed character class (regexes use Go's RE2 syntax, anchored at both ends, as in matchers: X =~ \"api-[0-9]+\")"
        ]
    );
    assert!(errs(&mut compiled, "not deploying($service)", &["service"]).is_empty());
}

#[test]
fn explain_a_two_step_derivation() {
    let mut db = db(TOPOLOGY);
    alert(
        &mut db,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    db.evaluate();
    let api = db.lookup("api").unwrap();
    let d = db
        .explain("upstream_down", &[api])
        .expect("upstream_down(api) holds");
    // upstream_down("api") <- depends("api", "storage") <- depends_on("api", "db"), depends("db", "storage") <- depends_on("db", "storage")
    assert_eq!(&*d.pred, "upstream_down");
    assert!(matches!(d.origin, Origin::Rule { clause: 6, .. }));
    let kids: Vec<String> = d
        .children
        .iter()
        .map(|c| db.fact_to_string(&c.pred, &c.tuple))
        .collect();
    assert_eq!(
        kids,
        [
            r#"depends("api", "storage")"#,
            r#"firing("a1")"#,
            r#"label("a1", "service", "storage")"#,
            r#"label("a1", "alertname", "ServiceDown")"#,
        ]
    );
    assert!(
        d.children[1..]
            .iter()
            .all(|c| c.origin == Origin::Given && c.children.is_empty())
    );
    let dep = &d.children[0];
    assert!(matches!(dep.origin, Origin::Rule { clause: 3, .. }));
    assert_eq!(dep.children.len(), 2);
    assert!(matches!(
        dep.children[0].origin,
        Origin::ProgramFact { clause: 0, .. }
    ));
    let inner = &dep.children[1];
    assert_eq!(
        db.fact_to_string(&inner.pred, &inner.tuple),
        r#"depends("db", "storage")"#
    );
    assert!(matches!(inner.origin, Origin::Rule { clause: 2, .. }));
    assert!(matches!(
        inner.children[0].origin,
        Origin::ProgramFact { clause: 1, .. }
    ));
    assert_eq!(d.size(), 8);
    // A given fact is a leaf; a fact that does not hold has no explanation.
    let a1 = db.lookup("a1").unwrap();
    assert_eq!(db.explain("firing", &[a1]).unwrap().origin, Origin::Given);
    assert!(db.explain("upstream_down", &[a1]).is_none());
}

#[test]
fn explain_terminates_on_cycles() {
    let mut db = db("r(X, Y) :- e(X, Y). r(X, Z) :- r(X, Y), r(Y, Z). e(1, 2). e(2, 1). e(2, 3).");
    db.evaluate();
    let d = db.explain("r", &[Value::Int(1), Value::Int(1)]).unwrap();
    assert!(d.size() >= 3);
    fn well_founded(d: &Derivation) -> bool {
        d.origin != Origin::Truncated && d.children.iter().all(well_founded)
    }
    assert!(well_founded(&d));
    // After an incremental extension, old and new facts still explain.
    db.insert("e", &[Value::Int(3), Value::Int(4)]).unwrap();
    db.evaluate();
    for t in db.facts("r").map(<[Value]>::to_vec).collect::<Vec<_>>() {
        assert!(well_founded(&db.explain("r", &t).unwrap()), "{t:?}");
    }
}

#[test]
fn reachability_for_unused_warnings() {
    let p = program(TOPOLOGY);
    let r = reachable_from(&p, &["deploying"]);
    assert_eq!(r, set(&["deploying", "firing", "label", "in_flight"]));
}

#[test]
fn shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Compiled>();
    send_sync::<Database>();
    send_sync::<DatalogError>();
}

#[test]
fn epoch_moves_only_when_a_derivation_may_break() {
    let mut db = db(TOPOLOGY);
    alert(
        &mut db,
        "a1",
        &[("alertname", "ServiceDown"), ("service", "storage")],
    );
    db.evaluate();
    let api = db.lookup("api").unwrap();
    let before = db.explain("upstream_down", &[api]);
    let epoch = db.epoch();
    // Growth and incremental evaluation keep every derivation valid.
    alert(&mut db, "a2", &[("alertname", "Other"), ("service", "db")]);
    db.evaluate();
    assert_eq!(db.epoch(), epoch);
    assert!(before.is_some());
    // A removal (and the recomputation it causes) may break one.
    rm(&mut db, "firing", &["a1"]);
    assert_ne!(db.epoch(), epoch);
    let removed = db.epoch();
    db.evaluate();
    assert_ne!(db.epoch(), removed);
    assert!(db.explain("upstream_down", &[api]).is_none());
    let evaluated = db.epoch();
    db.clear("firing").unwrap();
    assert_ne!(db.epoch(), evaluated);
}

#[test]
fn column_reads_names_the_constants_rules_and_queries_look_up() {
    let mut compiled = compile(TOPOLOGY);
    let keys = |c: &Compiled, pred: &str, col: usize| -> Option<BTreeSet<String>> {
        c.column_reads(pred, col).map(|vals| {
            vals.iter()
                .map(|v| value::resolve(*v, c.interner()).to_string())
                .collect()
        })
    };
    assert_eq!(
        keys(&compiled, "label", 1),
        Some(set(&["alertname", "service"]))
    );
    // Nothing reads annotations or sources; a variable key may read any label.
    assert_eq!(keys(&compiled, "annotation", 1), Some(set(&[])));
    assert_eq!(keys(&compiled, "source", 0), Some(set(&[])));
    assert_eq!(keys(&compiled, "firing", 0), None);
    let body = parse_body("label($alert, \"severity\", S)", SourceId(1), 0).unwrap();
    compiled.compile_query(&body, &["alert"]).unwrap();
    assert_eq!(
        keys(&compiled, "label", 1),
        Some(set(&["alertname", "service", "severity"]))
    );
    let body = parse_body("label($alert, K, \"x\")", SourceId(1), 0).unwrap();
    compiled.compile_query(&body, &["alert"]).unwrap();
    assert_eq!(keys(&compiled, "label", 1), None);
}

#[test]
fn entity_reach_names_the_labels_that_pin_an_alert() {
    const ALERTS: &[&str] = &[
        "alert",
        "firing",
        "resolved",
        "label",
        "annotation",
        "source",
        "age",
    ];
    let pairs = |c: &Compiled, r: &EntityReach| -> BTreeSet<String> {
        r.labels
            .iter()
            .map(|(k, v)| {
                let text = |x: &Value| value::resolve(*x, c.interner()).to_string();
                format!("{}={}", text(k), text(v))
            })
            .collect()
    };
    let mut compiled = compile(TOPOLOGY);
    let reach = compiled.entity_reach(ALERTS, "label");
    assert!(!reach.all);
    assert!(reach.params.is_empty());
    assert_eq!(
        pairs(&compiled, &reach),
        set(&["alertname=DeployInProgress", "alertname=ServiceDown"])
    );
    // A guard reading the alert it is asked about names its parameter.
    let body = parse_body("label($alert, \"severity\", S)", SourceId(1), 0).unwrap();
    let q = compiled
        .compile_query(&body, &["alert", "service"])
        .unwrap();
    let reach = compiled.entity_reach(ALERTS, "label");
    assert_eq!((reach.all, reach.params.as_slice()), (false, &[0][..]));
    assert!(compiled.query_reads_param(q, 0));
    assert!(!compiled.query_reads_param(q, 1));
    // `label(_, K, V)` reads only the alerts with that pair, even negated.
    let body = parse_body("not label(_, \"alertname\", \"Maint\")", SourceId(1), 0).unwrap();
    compiled.compile_query(&body, &["alert"]).unwrap();
    let reach = compiled.entity_reach(ALERTS, "label");
    assert!(!reach.all);
    assert!(pairs(&compiled, &reach).contains("alertname=Maint"));
    // Unpinned reads may see any alert.
    for text in [
        "count(A) :- firing(A).",
        "p(A) :- firing(A), not label(A, \"alertname\", \"X\").",
        "q(S) :- label(A, \"service\", S).",
        "r(A) :- label(A, \"alertname\", V), V != \"X\".",
        "m(S) :- depends_on(S, A), firing(A).",
        "n(S) :- depends_on(S, _), not firing(_).",
    ] {
        let c = compile(&format!("{TOPOLOGY}{text}\n"));
        assert!(c.entity_reach(ALERTS, "label").all, "{text}");
    }
    // A parameter other than the alert's may name any alert.
    let mut c = compile(TOPOLOGY);
    let body = parse_body("firing($service)", SourceId(1), 0).unwrap();
    c.compile_query(&body, &["alert", "service"]).unwrap();
    assert_eq!(c.entity_reach(ALERTS, "label").params, vec![1]);
}

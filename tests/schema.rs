//! `resgate schema` (issue 23): the JSON Schemas editors validate against
//! accept every rule, test and scenario file this repository ships, and
//! reject the broken rule sets of tests/lint whose mistake is one of shape
//! (an unknown key, a value outside an enum, a misindented key), while
//! accepting those whose mistake only `lint` can see (references, Datalog,
//! templates). Validated with boon, a JSON Schema draft 2020-12 validator.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn schema(kind: &str) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(["schema", kind])
        .output()
        .expect("run resgate schema");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

struct Validator {
    schemas: boon::Schemas,
    rules: boon::SchemaIndex,
    test: boon::SchemaIndex,
    scenario: boon::SchemaIndex,
}

impl Validator {
    fn new() -> Self {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let mut add = |kind: &str| {
            let url = format!("file:///resgate-{kind}.json");
            let s = schema(kind);
            assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
            compiler.add_resource(&url, s).expect("add");
            compiler
                .compile(&url, &mut schemas)
                .unwrap_or_else(|e| panic!("{kind}: {e:#}"))
        };
        let (rules, test, scenario) = (add("rules"), add("test"), add("scenario"));
        Validator {
            schemas,
            rules,
            test,
            scenario,
        }
    }

    /// The file's errors under the schema its name calls for; `Err` when the
    /// YAML does not even parse.
    fn check(&self, path: &Path) -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(path).expect("read");
        let doc: Value = serde_saphyr::from_str(&text).map_err(|e| e.to_string())?;
        let name = path.to_string_lossy();
        let index = if name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
            self.test
        } else if name.contains("scenarios/") {
            self.scenario
        } else {
            self.rules
        };
        Ok(match self.schemas.validate(&doc, index) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("{e:#}")],
        })
    }
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_rule_test_and_scenario_file_is_valid() {
    let v = Validator::new();
    let mut files = Vec::new();
    for dir in [
        "rules",
        "src/cli/init",
        "fixtures/scenarios",
        "tests/lint/ok_base",
    ] {
        files.extend(yaml_files(dir));
    }
    assert!(files.len() >= 12, "{files:?}");
    let mut kinds = std::collections::BTreeSet::new();
    for f in &files {
        let errors = v
            .check(f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(errors.is_empty(), "{}:\n{}", f.display(), errors.join("\n"));
        let name = f.to_string_lossy();
        kinds.insert(if name.contains(".test.") {
            "test"
        } else if name.contains("scenarios/") {
            "scenario"
        } else {
            "rules"
        });
    }
    assert_eq!(kinds.len(), 3, "each schema is exercised");
}

/// Codes of mistakes in the shape of a file: a schema must refuse them.
const SHAPE: &[&str] = &[
    "unknown-key",
    "invalid-value",
    "yaml-indentation",
    "yaml",
    "duplicate-key",
];

#[test]
fn the_broken_sets_are_rejected_exactly_when_their_mistake_is_one_of_shape() {
    let v = Validator::new();
    let mut rejected = 0;
    for case in std::fs::read_dir("tests/lint").expect("tests/lint") {
        let dir = case.expect("entry").path();
        let loaded = resgate::rules::load_path(&dir);
        let shape = loaded.diagnostics.iter().any(|d| SHAPE.contains(&d.code));
        let verdicts: Vec<Result<Vec<String>, String>> = yaml_files(dir.to_str().expect("UTF-8"))
            .iter()
            .map(|f| v.check(f))
            .collect();
        let refused = verdicts
            .iter()
            .any(|r| r.as_ref().map_or(true, |e| !e.is_empty()));
        assert_eq!(refused, shape, "{}: {verdicts:?}", dir.display());
        rejected += usize::from(refused);
    }
    assert!(rejected >= 4, "{rejected}");
}

#[test]
fn a_misspelt_guard_or_a_wrong_type_is_named_by_the_schema() {
    let v = Validator::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("r.yaml");
    for (text, needle) in [
        (
            "remediations:\n  r:\n    remediator: x\n    unles: {a: \"b(1)\"}\n",
            "unles",
        ),
        (
            "remediations:\n  r:\n    remediator: x\n    budget: {attempts: -1, within: 1h}\n",
            "attempts",
        ),
        ("remediations:\n  r:\n    target: x\n", "remediator"),
        (
            "sources:\n  a: {kind: alertmanager, auth: {basic: {username: u}}}\n",
            "password",
        ),
    ] {
        std::fs::write(&file, text).expect("write");
        let errors = v.check(&file).expect("YAML").join("\n");
        assert!(errors.contains(needle), "{text}\n{errors}");
    }
}

#[test]
fn init_writes_the_schemas_its_files_name_on_their_first_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(["init", "rules"])
        .current_dir(tmp.path())
        .output()
        .expect("run resgate init");
    assert!(out.status.success());
    let dir = tmp.path().join("rules");
    let v = Validator::new();
    let mut named = 0;
    for file in yaml_files(dir.to_str().expect("UTF-8")) {
        let text = std::fs::read_to_string(&file).expect("read");
        let first = text.lines().next().unwrap_or_default();
        let rel = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: first line {first:?}", file.display()));
        let kind = if file.to_string_lossy().ends_with(".test.yaml") {
            "test"
        } else {
            "rules"
        };
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(rel)).expect("the schema"))
                .expect("JSON");
        assert_eq!(
            written,
            schema(kind),
            "{rel} is what `resgate schema {kind}` prints"
        );
        assert_eq!(v.check(&file), Ok(Vec::new()), "{}", file.display());
        named += 1;
    }
    assert_eq!(named, 3);
}

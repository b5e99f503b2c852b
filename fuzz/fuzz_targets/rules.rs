//! The rules loader (`resgate::rules::load_texts`) on untrusted files: YAML
//! parsing, schema, templates, matchers, Datalog, cross-references and lint
//! checks, then every diagnostic drawn as `resgate lint` draws it (spans must
//! stay inside their file). Input: up to four files separated by NUL bytes,
//! named `sources.yaml`, `rules.yaml`, `topology.dl`, `more.yaml` in order.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use resgate::diag::{RenderStyle, render, to_json};
use resgate::rules::load_texts;

const NAMES: [&str; 4] = ["sources.yaml", "rules.yaml", "topology.dl", "more.yaml"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files: Vec<(PathBuf, String)> = text
        .split('\0')
        .zip(NAMES)
        .map(|(text, name)| (PathBuf::from("rules").join(name), text.to_owned()))
        .collect();
    let loaded = load_texts(files);
    for diag in &loaded.diagnostics {
        let _ = render(diag, &loaded.sources, RenderStyle::plain());
        let _ = to_json(diag, &loaded.sources);
    }
});

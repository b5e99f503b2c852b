//! How resgate reads YAML: one set of parser options for rule files, test files
//! and scenarios, and one way to turn a parse error into a line for a user.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Parses YAML with resgate's options.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        // `no`, `on`, `y` stay strings: a label value `no` must not become `false`.
        strict_booleans: true,
        // Large generated rule sets (10,000 remediations) exceed the default node
        // budget; alias bombs stay bounded by the alias limits, and a rule file by
        // MAX_FILE_BYTES.
        budget: serde_saphyr::budget! {
            max_nodes: 8_000_000,
            max_events: 16_000_000,
        },
    };
    serde_saphyr::from_str_with_options(text, options)
}

/// The error's message with its location, without the source snippet.
pub fn error_line(err: &serde_saphyr::Error) -> String {
    let rendered = err.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    rendered.lines().next().unwrap_or("invalid YAML").to_owned()
}

/// Reads and parses a YAML file (test file, scenario); errors name the file.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {}", path.display(), error_line(&e)))
}

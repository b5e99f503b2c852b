//! Bad rule files never panic the loader: truncated, garbled and random input all
//! come back as diagnostics. (The fuzz targets of the reliability suite go further;
//! this runs in every `cargo test`.)

use std::path::PathBuf;

use proptest::prelude::*;
use resgate::rules;

fn shipped() -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir("rules")
        .expect("rules dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| rules::is_rule_file(p))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read rule file");
            (p, text)
        })
        .collect();
    files.sort();
    files
}

fn load(files: Vec<(PathBuf, String)>) -> rules::Loaded {
    rules::load_texts(files)
}

#[test]
fn every_truncation_of_every_shipped_file_loads_or_reports() {
    let files = shipped();
    for (i, (path, text)) in files.iter().enumerate() {
        let mut cut = 0;
        while cut < text.len() {
            if text.is_char_boundary(cut) {
                let mut variant = files.clone();
                variant[i] = (path.clone(), text[..cut].to_owned());
                let loaded = load(variant);
                // A truncated file may still be valid (cut at a line end); if it is
                // refused, every error says where.
                if loaded.rules.is_none() {
                    assert!(
                        loaded.errors() > 0,
                        "{}: refused without an error",
                        path.display()
                    );
                }
            }
            cut += 7;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn garbled_files_never_panic(file in 0usize..5, at in any::<prop::sample::Index>(), junk in "[\\x00-\\x7f{}\\[\\]:,\"'()%$|>-]{1,12}") {
        let mut files = shipped();
        let file = file % files.len();
        let text = &files[file].1;
        let at = at.index(text.len().max(1));
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let mut garbled = text[..at].to_owned();
        garbled.push_str(&junk);
        garbled.push_str(&text[at..]);
        files[file].1 = garbled;
        let loaded = load(files);
        prop_assert!(loaded.rules.is_some() || loaded.errors() > 0);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}", as_datalog in any::<bool>()) {
        let name = if as_datalog { "r.dl" } else { "r.yaml" };
        let loaded = load(vec![(PathBuf::from(name), text)]);
        prop_assert!(loaded.rules.is_some() || loaded.errors() > 0);
    }
}

#[test]
fn yaml_bombs_are_refused_not_expanded() {
    let mut bomb = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!("b{i}: &b{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let loaded = load(vec![(PathBuf::from("bomb.yaml"), bomb)]);
    assert!(loaded.errors() > 0);
}

#[test]
fn oversized_files_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge.yaml");
    let size = usize::try_from(rules::MAX_FILE_BYTES).unwrap_or(usize::MAX) + 1;
    std::fs::write(&path, "#".repeat(size)).expect("write");
    let loaded = rules::load_path(dir.path());
    let d = loaded
        .diagnostics
        .iter()
        .find(|d| d.code == "file-too-large");
    assert!(
        d.is_some_and(|d| d.message.contains("MiB limit")),
        "{:?}",
        loaded.diagnostics
    );
}

//! The man pages in `man/` must match what the clap definitions render: one page
//! for `resgate` and one per subcommand (`resgate-lint.1`, ...).
//! Regenerate with `UPDATE_MAN=1 cargo test --test man`.

use std::path::Path;

use clap::CommandFactory;
use resgate::cli::Cli;

/// (file name, roff text) of every page, the root page first.
fn pages() -> Vec<(String, Vec<u8>)> {
    let mut root = Cli::command().disable_help_subcommand(true);
    // Building names each subcommand `resgate-<sub>`: its page's title and file.
    root.build();
    let mut pages = Vec::new();
    for cmd in std::iter::once(root.clone()).chain(root.get_subcommands().cloned()) {
        if cmd.is_hide_set() {
            continue;
        }
        // Subcommands have no version of their own: name the program's on every page.
        let sections = resgate::cli::manpage::roff_sections(&cmd);
        let man = clap_mangen::Man::new(cmd)
            .source(format!("resgate {}", env!("CARGO_PKG_VERSION")))
            .manual("resgate manual");
        let mut text = Vec::new();
        man.render(&mut text).expect("render a man page");
        pages.push((man.get_filename(), with_sections(text, &sections)));
    }
    pages
}

/// `page` with EXIT STATUS and ENVIRONMENT where man-pages(7) puts them:
/// after the options and subcommands, before VERSION and AUTHORS.
fn with_sections(page: Vec<u8>, sections: &str) -> Vec<u8> {
    let page = String::from_utf8(page).expect("roff is text");
    let at = [".SH VERSION", ".SH AUTHORS"]
        .iter()
        .filter_map(|h| page.find(&format!("\n{h}")).map(|i| i + 1))
        .min()
        .unwrap_or(page.len());
    let (head, tail) = page.split_at(at);
    format!("{head}{sections}{tail}").into_bytes()
}

#[test]
fn man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("UPDATE_MAN").is_some();
    let pages = pages();
    let mut stale = Vec::new();
    for (name, text) in &pages {
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).expect("create man/");
            std::fs::write(&path, text).expect("write man page");
            continue;
        }
        if std::fs::read(&path).unwrap_or_default() != *text {
            stale.push(name.clone());
        }
    }
    // A page whose subcommand is gone is stale too.
    let kept: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".1"))
                .collect()
        })
        .unwrap_or_default();
    let orphans: Vec<&String> = kept
        .iter()
        .filter(|k| !pages.iter().any(|(name, _)| name == *k))
        .collect();
    if update {
        for orphan in &orphans {
            std::fs::remove_file(dir.join(orphan)).expect("remove a stale page");
        }
        return;
    }
    assert!(
        stale.is_empty() && orphans.is_empty(),
        "stale man pages: {stale:?}, pages of no command: {orphans:?}; run UPDATE_MAN=1 cargo test --test man"
    );
}

#[test]
fn every_subcommand_has_a_page_that_names_its_options() {
    let pages = pages();
    let page = |name: &str| {
        pages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| String::from_utf8_lossy(text).into_owned())
            .unwrap_or_else(|| panic!("no page {name}"))
    };
    assert!(page("resgate.1").contains("resgate\\-init"));
    let init = page("resgate-init.1");
    assert!(init.contains(".TH resgate-init 1"), "{init}");
    assert!(
        init.contains("resgate 0.") || init.contains("resgate 1."),
        "{init}"
    );
    assert!(init.contains("\\-\\-force"), "{init}");
    assert!(page("resgate-serve.1").contains("\\-\\-rules"));
    // EXIT STATUS and ENVIRONMENT on every page (issue 18 item 8).
    for (name, text) in &pages {
        let text = String::from_utf8_lossy(text);
        assert!(
            text.contains(".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR"),
            "{name}"
        );
        assert!(text.contains("\\fB2\\fR\nUsage error"), "{name}");
        assert!(
            text.contains(".SH ENVIRONMENT\n") && text.contains("NO_COLOR"),
            "{name}"
        );
    }
    let pauses = page("resgate-pauses.1");
    assert!(pauses.contains("\\fBRESGATE_URL\\fR"), "{pauses}");
    assert!(pauses.contains("\\fBRESGATE_API_TOKEN\\fR"), "{pauses}");
    let serve = page("resgate-serve.1");
    assert!(
        serve.contains("\\fBRESGATE_JOURNAL\\fR") && serve.contains("PGPASSWORD"),
        "{serve}"
    );
    assert!(serve.contains("\\fBRESGATE_API_TOKEN\\fR"), "{serve}");
    assert!(!pages.iter().any(|(n, _)| n == "resgate-help.1"));
}

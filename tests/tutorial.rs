//! `docs/tutorial.md`, followed to the letter in an empty directory.
//!
//! The tutorial marks its code blocks with an HTML comment on the line before:
//!
//! - `<!-- run -->` / `<!-- run: exit N -->`: a `sh` block of `resgate` commands,
//!   one per line; each runs (the built binary stands in for `resgate`) and must
//!   exit 0 (or N).
//! - `<!-- output -->`: the exact output (stdout, then stderr) of the run block
//!   before it; `<!-- output: partial -->`: lines that must appear in it, in order.
//! - `<!-- file: PATH -->`: a file the reader is asked to write; the test writes
//!   this block's text there, so the files come from the tutorial itself.
//! - `<!-- excerpt: PATH -->`: a quote of a file that exists at that point
//!   (written by `resgate init`); it must appear in the file verbatim.
//! - `<!-- skip: why -->`: a `sh` block not run (installing, serving); each
//!   `resgate` line in it is still run with `--help` appended, which clap only
//!   accepts when the subcommand and every flag exist.
//!
//! Every `sh` block must be marked `run` or `skip`, so a new command cannot
//! slip into the tutorial untested.

use std::path::{Component, Path};

const TUTORIAL: &str = include_str!("../docs/tutorial.md");

#[derive(Debug)]
enum Marker {
    Run { exit: i32 },
    Output { partial: bool },
    File(String),
    Excerpt(String),
    Skip,
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence, for messages.
    line: usize,
    lang: String,
    text: String,
    marker: Option<Marker>,
}

fn parse_marker(comment: &str, line: usize) -> Marker {
    let (word, arg) = match comment.split_once(':') {
        Some((w, a)) => (w.trim(), a.trim()),
        None => (comment.trim(), ""),
    };
    match word {
        "run" if arg.is_empty() => Marker::Run { exit: 0 },
        "run" => {
            let code = arg
                .strip_prefix("exit ")
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or_else(|| panic!("line {line}: write `<!-- run: exit N -->`"));
            Marker::Run { exit: code }
        }
        "output" => Marker::Output {
            partial: arg == "partial",
        },
        "file" => Marker::File(arg.to_owned()),
        "excerpt" => Marker::Excerpt(arg.to_owned()),
        "skip" => Marker::Skip,
        other => panic!("line {line}: unknown tutorial marker `{other}`"),
    }
}

/// The fenced code blocks of a markdown text, each with the marker before it.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut marker: Option<(Marker, usize)> = None;
    let mut lines = markdown.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed
            .strip_prefix("<!--")
            .and_then(|c| c.strip_suffix("-->"))
        {
            if let Some((_, at)) = &marker {
                panic!("line {}: marker at line {at} has no code block", i + 1);
            }
            marker = Some((parse_marker(comment, i + 1), i + 1));
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            let mut text = String::new();
            let mut closed = false;
            for (_, body) in lines.by_ref() {
                if body.trim_start().starts_with("```") {
                    closed = true;
                    break;
                }
                text.push_str(body);
                text.push('\n');
            }
            assert!(closed, "line {}: unclosed code block", i + 1);
            blocks.push(Block {
                line: i + 1,
                lang: lang.trim().to_owned(),
                text,
                marker: marker.take().map(|(m, _)| m),
            });
            continue;
        }
        if let Some((_, at)) = &marker
            && !trimmed.is_empty()
        {
            panic!("line {at}: a marker must be followed by a code block");
        }
    }
    assert!(marker.is_none(), "a marker at the end has no code block");
    blocks
}

/// The commands of a `sh` block: comments and blank lines dropped, `\`
/// continuations joined.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

/// Splits a command line into words; single and double quotes group.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quote in `{command}`");
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

struct Ran {
    code: i32,
    output: String,
}

/// Runs `resgate ARGS` (the binary cargo built) in `dir`.
fn resgate(dir: &Path, args: &[String]) -> Ran {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("RESGATE_API_TOKEN")
        .output()
        .expect("run resgate");
    Ran {
        code: output.status.code().unwrap_or(-1),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// `resgate` and its arguments; other programs are not for run blocks.
fn resgate_args(command: &str, line: usize) -> Vec<String> {
    let mut words = words(command);
    assert!(
        words.first().map(String::as_str) == Some("resgate"),
        "line {line}: a run block may only hold resgate commands, found `{command}`"
    );
    words.remove(0);
    words
}

/// A relative path that stays inside the test directory.
fn inside(dir: &Path, rel: &str, line: usize) -> std::path::PathBuf {
    let path = Path::new(rel);
    assert!(
        !rel.is_empty()
            && path
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
        "line {line}: `{rel}` must be a relative path inside the tutorial directory"
    );
    dir.join(path)
}

fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn check_output(expected: &str, ran: &Ran, partial: bool, line: usize) {
    let want = lines(expected);
    let got = lines(&ran.output);
    if partial {
        let mut rest = got.iter();
        for w in &want {
            assert!(
                rest.any(|g| g == w),
                "line {line}: `{w}` is not in the output (or not in this order):\n{}",
                ran.output
            );
        }
    } else {
        assert_eq!(
            got, want,
            "line {line}: the output differs from the tutorial's"
        );
    }
}

#[test]
fn the_tutorial_runs_as_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let mut last: Option<Ran> = None;
    let mut ran_commands = Vec::new();
    let mut written = 0;

    for block in blocks(TUTORIAL) {
        let line = block.line;
        match &block.marker {
            None => assert!(
                !matches!(block.lang.as_str(), "sh" | "bash" | "shell" | "console"),
                "line {line}: mark this shell block `<!-- run -->` or `<!-- skip: why -->`"
            ),
            Some(Marker::Run { exit }) => {
                assert_eq!(block.lang, "sh", "line {line}: run blocks are ```sh");
                let commands = commands(&block.text);
                assert!(!commands.is_empty(), "line {line}: empty run block");
                let mut output = String::new();
                let mut code = 0;
                for command in &commands {
                    let args = resgate_args(command, line);
                    let ran = resgate(dir, &args);
                    assert_eq!(
                        ran.code, *exit,
                        "line {line}: `{command}` exited {}, the tutorial says {exit}:\n{}",
                        ran.code, ran.output
                    );
                    output.push_str(&ran.output);
                    code = ran.code;
                    ran_commands.push(args.first().cloned().unwrap_or_default());
                }
                last = Some(Ran { code, output });
            }
            Some(Marker::Output { partial }) => {
                let ran = last
                    .take()
                    .unwrap_or_else(|| panic!("line {line}: output block without a run block"));
                check_output(&block.text, &ran, *partial, line);
            }
            Some(Marker::File(rel)) => {
                let path = inside(dir, rel, line);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).expect("create dir");
                }
                std::fs::write(&path, &block.text).expect("write file");
                written += 1;
            }
            Some(Marker::Excerpt(rel)) => {
                let path = inside(dir, rel, line);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("line {line}: {rel}: {e}"));
                assert!(
                    text.contains(&block.text),
                    "line {line}: this excerpt is not in {rel}:\n{}\n--- {rel}:\n{text}",
                    block.text
                );
            }
            Some(Marker::Skip) => {
                for command in commands(&block.text) {
                    let words = words(&command);
                    // `VAR=value resgate ...`: the environment is not the point here.
                    let start = words.iter().position(|w| !w.contains('='));
                    let Some(start) = start.filter(|s| words[*s] == "resgate") else {
                        continue;
                    };
                    let mut args: Vec<String> = words[start + 1..].to_vec();
                    args.push("--help".to_owned());
                    let ran = resgate(dir, &args);
                    assert_eq!(
                        ran.code, 0,
                        "line {line}: `{command}` names a subcommand or flag resgate does not have:\n{}",
                        ran.output
                    );
                }
            }
        }
    }

    // A tutorial whose markers were lost would pass vacuously: it must have
    // run what it promises (init, lint, test, simulate) and written files.
    for needed in ["init", "lint", "test", "simulate"] {
        assert!(
            ran_commands.iter().any(|c| c == needed),
            "the tutorial never runs `resgate {needed}`"
        );
    }
    assert!(written >= 3, "the tutorial asks for {written} files only");
}

#[test]
fn markers_are_parsed_as_documented() {
    let md = "<!-- run: exit 2 -->\n```sh\nresgate init \\\n  rules\n# a comment\n```\n\n<!-- output: partial -->\n```text\nx\n```\n```yaml\nplain\n```\n";
    let found = blocks(md);
    assert_eq!(found.len(), 3);
    assert!(matches!(found[0].marker, Some(Marker::Run { exit: 2 })));
    assert_eq!(commands(&found[0].text), ["resgate init rules"]);
    assert_eq!(words("resgate  init\trules"), ["resgate", "init", "rules"]);
    assert_eq!(words(r#"a "b c" '' d"#), ["a", "b c", "", "d"]);
    assert!(matches!(
        found[1].marker,
        Some(Marker::Output { partial: true })
    ));
    assert!(found[2].marker.is_none());
}

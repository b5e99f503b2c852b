//! Loading a rules directory: read files, parse YAML and Datalog, compile
//! everything, and collect every problem as a [`Diagnostic`].
//!
//! Loading never stops at the first error: `lint` shows them all. A [`RuleSet`]
//! comes out only when there are no errors (warnings are fine).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::datalog::{self, Builtins, Compiled, SourceId, Span};
use crate::diag::{Diagnostic, SourceMap};

use super::compile::{self, Defs};
use super::locate::span_of;
use super::model::RuleSet;
use super::schema::RuleFile;

/// Rule files larger than this are refused before parsing: a rules directory
/// holding a 100 MB file is a mistake (a data dump committed by accident).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The result of loading: rules when there were no errors, and every finding.
#[derive(Debug)]
pub struct Loaded {
    pub rules: Option<RuleSet>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: SourceMap,
}

impl Loaded {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Is this a file a rules directory loads (not a test, not a fixture)?
pub fn is_rule_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
        return false;
    }
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".dl")
}

/// Loads a rules directory (its `*.yaml`, `*.yml` and `*.dl`, not `*.test.yaml`)
/// or a single rule file.
pub fn load_path(path: &Path) -> Loaded {
    read_path(path).load()
}

/// The rule files of a directory (or one file) as read, before parsing.
#[derive(Debug)]
pub struct Read {
    /// (path, text) in path order.
    pub texts: Vec<(PathBuf, String)>,
    /// Files that could not be read, an empty directory.
    pub problems: Vec<Diagnostic>,
}

impl Read {
    /// SHA-256 of every file's name and bytes, in order: equal digests mean
    /// the same rules (the hot reload skips a save that changed nothing).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash_files(&mut hash, &self.texts);
        hash.update((self.problems.len() as u64).to_le_bytes());
        hash.finalize().into()
    }

    pub fn load(self) -> Loaded {
        let Read {
            texts,
            mut problems,
        } = self;
        let mut loaded = load_texts(texts);
        problems.append(&mut loaded.diagnostics);
        loaded.diagnostics = problems;
        if loaded.errors() > 0 {
            loaded.rules = None;
        }
        loaded
    }
}

/// Reads the rule files of a directory (or one file) without parsing them.
pub fn read_path(path: &Path) -> Read {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && is_rule_file(p))
                    .collect();
                paths.sort();
                files = paths;
                if files.is_empty() {
                    problems.push(
                        Diagnostic::error(
                            "no-rules",
                            format!("no rule files in {}", path.display()),
                        )
                        .help("a rules directory holds *.yaml and *.dl files"),
                    );
                }
            }
            Err(e) => problems.push(io_error(path, &e)),
        },
        Ok(_) => files.push(path.to_path_buf()),
        Err(e) => problems.push(io_error(path, &e)),
    }

    let mut texts = Vec::new();
    for file in files {
        match read_limited(&file) {
            Ok(text) => texts.push((file, text)),
            Err(d) => problems.push(d),
        }
    }
    Read { texts, problems }
}

fn io_error(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error("io", format!("cannot read {}: {e}", path.display()))
}

fn read_limited(path: &Path) -> Result<String, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            "file-too-large",
            format!(
                "{} is {} bytes, over the {} MiB limit for a rule file",
                path.display(),
                meta.len(),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .help("split the file, or move data that is not rules out of the rules directory"));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            "not-utf8",
            format!(
                "{} is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Loads rule files given as (path, text): the whole loader without the file system.
/// See [`RuleSet::version`]. Lengths go into the hash so that moving text
/// from the end of one file to the start of the next changes the version.
fn version_of(files: &[(PathBuf, String)]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash_files(&mut hash, files);
    hash.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hash_files(hash: &mut sha2::Sha256, files: &[(PathBuf, String)]) {
    use sha2::Digest;
    for (path, text) in files {
        let name = path
            .file_name()
            .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(text.as_bytes());
    }
}

pub fn load_texts(files: Vec<(PathBuf, String)>) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diags = Vec::new();
    let mut program = datalog::Program::default();
    let mut rule_files: Vec<(SourceId, RuleFile)> = Vec::new();
    let mut datalog_failed = false;
    let version = version_of(&files);

    for (path, text) in files {
        let is_datalog = path.extension().is_some_and(|e| e == "dl");
        let src = sources.add(&path, text);
        let text = sources.text(src).to_owned();
        if is_datalog {
            match datalog::parse_program(&text, src, 0) {
                Ok(mut p) => program.clauses.append(&mut p.clauses),
                Err(e) => {
                    diags.push(compile::datalog_diagnostic(&e));
                    datalog_failed = true;
                }
            }
        } else {
            match parse_yaml(&text) {
                Ok(file) => rule_files.push((src, file)),
                Err(e) => diags.push(match super::yaml::syntax_error(&text) {
                    Some(syntax) => syntax_diagnostic(src, &syntax),
                    None => yaml_diagnostic(src, &text, &e),
                }),
            }
        }
    }

    let defs = Defs::collect(&rule_files);
    check_duplicates(&defs, &sources, &mut diags);

    super::compile_facts::check_clashes(&defs, &program, &sources, &mut diags);
    // Fact relations are inputs like the built-ins: rules read them, only
    // their source fills them.
    let builtins = Builtins::new(
        datalog::RESGATE_BUILTINS
            .iter()
            .map(|&(n, a)| (n.to_owned(), a))
            .chain(super::compile_facts::relations(&defs, &program))
            .collect::<Vec<_>>()
            .iter()
            .map(|(n, a)| (n.as_str(), *a)),
    );
    // Checking a program with a file missing would report every use of its
    // predicates as undefined: skip it until the syntax errors are fixed.
    let compiled = if datalog_failed {
        None
    } else {
        match Compiled::new(&program, &builtins) {
            Ok(c) => Some(c),
            Err(errors) => {
                let mut cycles = BTreeSet::new();
                for e in &errors {
                    if let datalog::DatalogError::NegativeRecursion { cycle, .. } = e {
                        // Each negated edge of one cycle closes it; report the cycle once.
                        let mut members: Vec<&str> = cycle
                            .split(" -> ")
                            .map(|p| p.trim_start_matches("not "))
                            .collect();
                        members.sort_unstable();
                        members.dedup();
                        if !cycles.insert(members.join(",")) {
                            continue;
                        }
                    }
                    diags.push(compile::datalog_diagnostic(e));
                }
                None
            }
        }
    };

    let mut compiler = compile::Compiler::new(&sources, compiled, &mut diags);
    let built = compiler.build(&defs);
    let facts: Option<Vec<_>> = defs
        .facts
        .iter()
        .map(|(src, key, def)| compiler.fact(*src, key, def))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let compile::Finished {
        program: compiled,
        templates,
        query_predicates,
        secret_uses,
        notifiers,
    } = compiler.finish();

    // "Never used" is only meaningful when every guard compiled.
    if !diags.iter().any(Diagnostic::is_error) {
        warn_unused_predicates(&program, &query_predicates, &mut diags);
    }
    let datalog_program = program;
    diags.sort_by_key(|d| {
        let first = d.labels.first().map(|(s, _)| (s.src, s.start));
        (d.src.is_none(), first)
    });

    let rules = match (built, compiled, notifiers, facts) {
        (
            Some((sources_, remediators, remediations)),
            Some(program),
            Some(notifiers),
            Some(facts),
        ) if !diags.iter().any(Diagnostic::is_error) => {
            let guard_reads: BTreeSet<String> = remediations
                .iter()
                .flat_map(|r| r.when.iter().chain(&r.unless))
                .flat_map(|g| g.reads.iter().cloned())
                .collect();
            let fact_reads = remediations
                .iter()
                .map(|r| {
                    let reads = |g: &super::Guard| -> Vec<usize> {
                        let roots: Vec<&str> = g.reads.iter().map(String::as_str).collect();
                        let reached = datalog::reachable_from(&datalog_program, &roots);
                        facts
                            .iter()
                            .enumerate()
                            .filter(|(_, f)| reached.contains(&f.name))
                            .map(|(i, _)| i)
                            .collect()
                    };
                    super::FactReads {
                        when: r.when.as_ref().map(reads).unwrap_or_default(),
                        unless: r.unless.iter().map(reads).collect(),
                    }
                })
                .collect();
            Some(RuleSet {
                fact_reads,
                facts,
                version,
                secret_uses,
                notifiers,
                guard_reads: guard_reads.into_iter().collect(),
                sources: sources_,
                remediators,
                remediations,
                program: Arc::new(program),
                templates,
                referenced: referenced_predicates(&datalog_program, &query_predicates),
                clauses: datalog_program
                    .clauses
                    .iter()
                    .map(|c| clause_text(&sources, c))
                    .collect(),
            })
        }
        _ => None,
    };
    Loaded {
        rules,
        diagnostics: diags,
        sources,
    }
}

fn parse_yaml(text: &str) -> Result<RuleFile, serde_saphyr::Error> {
    // An empty file (or one holding only comments) is an empty rule file.
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(RuleFile::default());
    }
    super::yaml::parse(text)
}

/// A syntax error the parser found on its own (see [`super::yaml::syntax_error`]).
fn syntax_diagnostic(src: SourceId, e: &super::yaml::SyntaxError) -> Diagnostic {
    let span = Span::new(src, e.offset, e.offset + 1);
    let Some(m) = &e.indentation else {
        return Diagnostic::error("yaml", e.message.clone())
            .label(span, "here")
            .help("fix the YAML at the marked place");
    };
    let spaces = |n: usize| format!("{n} space{}", if n == 1 { "" } else { "s" });
    let mut message = format!("`{}` is indented {}", m.key, spaces(m.indent));
    let mut help = String::new();
    if let Some((at, key, line)) = &m.deeper {
        message.push_str(&format!(", its siblings {} (`{key}` on line {line})", at));
        help = format!(
            "indent `{}` by {} to keep it beside `{key}`",
            m.key,
            spaces(*at)
        );
    }
    if let Some((at, key, line)) = &m.shallower {
        help.push_str(&format!(
            ", or by {} to make it a key beside `{key}` (line {line})",
            spaces(*at)
        ));
    }
    Diagnostic::error("yaml-indentation", message)
        .label(span, "not aligned with any key above it")
        .help(help)
}

/// The length of `name` at the start of `rest`, plain or in matching quotes.
fn spelt_len(rest: &str, name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    if rest.starts_with(name) {
        return Some(name.len());
    }
    ['"', '\''].into_iter().find_map(|q| {
        let inner = rest.strip_prefix(q)?.strip_prefix(name)?;
        inner.starts_with(q).then_some(name.len() + 2)
    })
}

fn yaml_diagnostic(src: SourceId, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let message = yaml_message(&super::yaml::error_line(err));
    let offset = err
        .location()
        .and_then(|l| {
            l.span()
                .byte_offset()
                .and_then(|o| usize::try_from(o).ok())
                .or_else(|| offset_of_line_col(text, l.line(), l.column()))
        })
        .unwrap_or(0)
        .min(text.len());
    let (code, message, help) = if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        (
            "unknown-key",
            format!("unknown key `{key}`"),
            yaml_key_help(key, &message),
        )
    } else if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        (
            "duplicate-key",
            format!("duplicate key `{key}`"),
            "each key may appear once in a mapping: delete or merge one".to_owned(),
        )
    } else if message.contains("missing field") {
        let m = message.replace("missing field", "missing key");
        (
            "missing-key",
            m,
            "add the key; see the rule language reference for the schema".to_owned(),
        )
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once("`, ").unwrap_or((rest, ""));
        (
            "invalid-value",
            format!("invalid value `{value}`"),
            if expected.is_empty() {
                "see the rule language reference".to_owned()
            } else {
                expected.to_owned()
            },
        )
    } else {
        (
            "yaml",
            message,
            "fix the YAML at the marked place".to_owned(),
        )
    };
    // The key or value the message names is underlined whole (a JSON
    // consumer highlights exactly the label's span), else one character.
    let named = matches!(code, "unknown-key" | "duplicate-key" | "invalid-value")
        .then(|| message.split('`').nth(1))
        .flatten()
        .and_then(|name| text.get(offset..).and_then(|rest| spelt_len(rest, name)));
    let end = (offset + named.unwrap_or(1)).min(text.len()).max(offset);
    Diagnostic::error(code, message)
        .label(Span::new(src, offset, end), "here")
        .help(help)
}

/// serde-saphyr's message without its location suffix (the label shows that).
fn yaml_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut message = first.trim_end_matches('.').to_owned();
    if let Some(c) = message.get(..1) {
        let lower = c.to_lowercase();
        message.replace_range(..1, &lower);
    }
    message
}

fn yaml_key_help(key: &str, message: &str) -> String {
    // serde lists the allowed keys after "expected one of"; offer the closest.
    let allowed: Vec<&str> = message
        .split_once("expected one of ")
        .or_else(|| message.split_once("expected "))
        .map(|(_, list)| list.split(", ").map(|k| k.trim_matches('`')).collect())
        .unwrap_or_default();
    if allowed.is_empty() {
        return "remove the key or fix its spelling".to_owned();
    }
    match crate::suggest::closest(key, allowed.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? allowed here: {}", allowed.join(", ")),
        None => format!("allowed here: {}", allowed.join(", ")),
    }
}

/// Byte offset of a 1-based line and (character) column.
fn offset_of_line_col(text: &str, line: u64, column: u64) -> Option<usize> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let column = usize::try_from(column).ok()?.saturating_sub(1);
    let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let rest = text.get(start..)?;
    let within = rest
        .char_indices()
        .nth(column)
        .map_or(rest.len(), |(i, _)| i);
    Some(start + within)
}

/// Names are global across the files of a directory.
fn check_duplicates(defs: &Defs<'_>, sources: &SourceMap, diags: &mut Vec<Diagnostic>) {
    fn check<T>(
        what: &str,
        items: &[(SourceId, &Spanned<String>, &T)],
        sources: &SourceMap,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut seen: BTreeMap<&str, (SourceId, &Spanned<String>)> = BTreeMap::new();
        for (src, key, _) in items {
            if let Some((first_src, first)) = seen.get(key.value.as_str()) {
                let here = span_of(*src, key, key.value.len());
                let there = span_of(*first_src, first, first.value.len());
                let mut d = Diagnostic::error(
                    "duplicate-name",
                    format!("{what} \"{}\" is defined twice", key.value),
                )
                .label(here, "defined again here")
                .help(format!(
                    "{what} names are global across the rules directory: rename one"
                ));
                if there.src == here.src {
                    d = d.label(there, "first defined here");
                } else if let Some(path) = sources.path(there.src) {
                    let (line, col) = sources.line_col(there.src, there.start);
                    d = d.help(format!(
                        "first defined at {}:{line}:{col}; {what} names are global across the rules directory: rename one",
                        path.display()
                    ));
                }
                diags.push(d);
            } else {
                seen.insert(&key.value, (*src, key));
            }
        }
    }
    check("source", &defs.sources, sources, diags);
    check("remediator", &defs.remediators, sources, diags);
    check("remediation", &defs.remediations, sources, diags);
    check("notifier", &defs.notifiers, sources, diags);
    check("fact relation", &defs.facts, sources, diags);
}

fn warn_unused_predicates(
    program: &datalog::Program,
    used_by_queries: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let roots: Vec<&str> = used_by_queries.iter().map(String::as_str).collect();
    let reachable = datalog::reachable_from(program, &roots);
    let mut reported = BTreeSet::new();
    for clause in &program.clauses {
        let pred = clause.head.pred.as_str();
        if !reachable.contains(pred) && reported.insert(pred.to_owned()) {
            diags.push(
                Diagnostic::warning(
                    "unused-predicate",
                    format!("predicate \"{pred}\" is never used"),
                )
                .label(clause.head.pred_span, "defined here")
                .help("no `when` or `unless` body reaches it: use it in a guard or delete it"),
            );
        }
    }
}

fn referenced_predicates(
    program: &datalog::Program,
    queries: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = queries.clone();
    for clause in &program.clauses {
        for literal in &clause.body {
            if let datalog::Literal::Pos(a) | datalog::Literal::Neg { atom: a, .. } = literal {
                out.insert(a.pred.clone());
            }
        }
    }
    out
}

fn clause_text(sources: &SourceMap, clause: &datalog::Clause) -> String {
    let text = sources.text(clause.span.src);
    let raw = text.get(clause.span.start..clause.span.end).unwrap_or("");
    // One line, single-spaced: a rule spread over lines reads as one in a proof.
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

//! What the man pages say beyond the clap definitions: EXIT STATUS (DESIGN.md
//! §1, the same for every subcommand) and ENVIRONMENT (the variables a command
//! reads). `tests/man.rs` renders them into `man/` with clap_mangen.

/// The exit codes of every subcommand, as [`super::Exit`] returns them.
pub const EXIT_STATUS: [(u8, &str); 3] = [
    (0, "Success."),
    (
        1,
        "The rules are wrong or a test failed: lint errors (or warnings with --deny warnings), failed expectations, an event or alert not found.",
    ),
    (
        2,
        "Usage error or unreadable input: a bad flag, a missing file, a malformed JSON or YAML payload, a journal or daemon that cannot be reached.",
    ),
];

/// (variable, what it does) for `cmd` (the root command lists every
/// subcommand's): the variables its flags fall back to, then those read
/// without a flag.
pub fn environment(cmd: &clap::Command) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, text: String| {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_owned(), text));
        }
    };
    let mut commands = vec![cmd];
    commands.extend(cmd.get_subcommands());
    let name = cmd.get_name();
    for c in &commands {
        for arg in c.get_arguments() {
            if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                add(
                    &env.to_string_lossy(),
                    format!("{} (the default of --{long}).", help.trim_end_matches('.')),
                );
            }
        }
    }
    let is = |sub: &str| name == "resgate" || name == sub;
    if is("serve") {
        add(
            "RESGATE_API_TOKEN",
            "serve: when set, the API's write routes (pauses, approvals) require Authorization: Bearer with this token. Not a flag, so that it never shows in ps.".to_owned(),
        );
        add(
            "any ${env:NAME}",
            "serve: the variables the rules name in ${env:NAME} (secrets of sources and remediators).".to_owned(),
        );
    }
    if commands
        .iter()
        .any(|c| c.get_arguments().any(|a| a.get_long() == Some("journal")))
    {
        add(
            "PGPASSWORD",
            "The PostgreSQL password when the --journal URL has none.".to_owned(),
        );
        add(
            "PGSSLROOTCERT",
            "The CA certificate file for PostgreSQL over TLS.".to_owned(),
        );
    }
    add(
        "NO_COLOR",
        "When set and not empty, no colour in diagnostics (there is none when stderr is not a terminal either).".to_owned(),
    );
    out
}

/// The two sections as roff, for a page of `cmd`.
pub fn roff_sections(cmd: &clap::Command) -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, text) in EXIT_STATUS {
        out.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff_text(text)));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, text) in environment(cmd) {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_text(&name),
            roff_text(&text)
        ));
    }
    out
}

/// Text safe in a roff paragraph: `\` and `-` escaped, no line starting with a
/// control character.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

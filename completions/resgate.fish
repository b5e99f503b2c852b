# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_resgate_global_optspecs
    string join \n h/help V/version
end

function __fish_resgate_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_resgate_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_resgate_using_subcommand
    set -l cmd (__fish_resgate_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c resgate -n "__fish_resgate_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c resgate -n "__fish_resgate_needs_command" -s V -l version -d 'Print version'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "lint" -d 'Check a rules directory: YAML schema, Datalog, templates, references'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "test" -d 'Run *.test.yaml files against the rules'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "simulate" -d 'Show the decisions (with proofs) for a payload or a scenario timeline'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "serve" -d 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "events" -d 'List the events in a serve journal, or tell one event\'s story'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "approve" -d 'Approve an event of a `mode: approve` remediation through the running daemon'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "backtest" -d 'Replay a serve journal through other rules and diff the decisions'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "explain" -d 'Tell the whole story of an event or an alert from a serve journal'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "pause" -d 'Pause a remediation (or one target of it) through the running daemon'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "pauses" -d 'List the pauses in force in the running daemon'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "unpause" -d 'Remove a pause through the running daemon'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "init" -d 'Write a starter rules directory whose tests pass'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "facts" -d 'Query every fact source of the rules once and print the rows'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "schema" -d 'Print the JSON Schema of rule, test or scenario files (for editors)'
complete -c resgate -n "__fish_resgate_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c resgate -n "__fish_resgate_using_subcommand lint" -l format -d 'Output format: text diagnostics on stderr, or JSON, GitHub workflow commands or SARIF on stdout' -r -f -a "text\t''
json\t''
github\t'GitHub Actions workflow commands (`::error file=…::…`): annotations on the diff'
sarif\t'SARIF 2.1.0, for GitHub code scanning and other review tools'"
complete -c resgate -n "__fish_resgate_using_subcommand lint" -l deny -d 'Treat warnings as errors (`--deny warnings`)' -r -f -a "warnings\t''"
complete -c resgate -n "__fish_resgate_using_subcommand lint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c resgate -n "__fish_resgate_using_subcommand test" -l rules -d 'Rules to test against (default: the directory of each test file)' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand test" -l format -d 'Output format: text, JSON, or JUnit XML for CI test reporters' -r -f -a "text\t''
json\t''
junit\t'JUnit XML (GitLab, Jenkins and GitHub test reporters)'"
complete -c resgate -n "__fish_resgate_using_subcommand test" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l rules -d 'Rules directory' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l source -d 'Which `sources:` entry maps the payload (default: the alertmanager one)' -r
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l at -d 'Decide as of this time (RFC 3339; default: the payload\'s latest startsAt)' -r
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l format -r -f -a "text\t''
json\t''"
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l svg -d 'Also draw a scenario\'s timeline as an SVG picture into this file' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -l journal -d 'Decide a payload against the state a serve journal (its data directory) recorded at `--at` (default: its last webhook), rebuilt by replaying it' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand simulate" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l rules -d 'Rules directory (watched: changes that pass lint go live)' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l data -d 'Data directory: the journal `resgate.db` lives here' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l listen -d 'Address to listen on (port 0: any free port, printed on start)' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-connections -d 'Open connections at most (a thread each); more are answered 503' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-connections-per-ip -d 'Open connections from one client address at most (loopback included); more are answered 503. A quarter of the default --max-connections: one client cannot take them all, and local tools have room' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l idle-timeout -d 'A kept-alive connection idle this long is closed' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l head-timeout -d 'The request line and headers must arrive within this (for a new connection\'s first request, counted from the connect)' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-body -d 'Largest webhook body accepted, in bytes' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l body-timeout -d 'A whole request body must arrive within this' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l retention -d 'How long decided webhook bodies, and notifications sent or failed, are kept in the journal' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l dedupe-window -d 'Repeats of the same alert inside this window are journaled once' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l call-attempts -d 'Tries of a call the remediator did not accept (refused, 5xx), same Idempotency-Key' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l call-backoff -d 'First wait between those tries (doubles each time)' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l notify-attempts -d 'Tries of a notification a receiver did not take (down, 5xx, 429) before it is counted failed' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l notify-backoff -d 'First wait between those tries (doubles each time, at most 5m; a longer Retry-After wins)' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l journal-max-size -d 'Largest a SQLite journal may grow (`512MiB`, `10GiB`; `0`: no cap; default 1GiB). Webhooks get 503 (the sender retries) once it is 90% full, until pruning frees room or the cap is raised; the rest is kept for decisions' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-alerts-per-request -d 'Alerts one webhook may carry; more are refused with 413 (set Alertmanager\'s `max_alerts` at or below this to have it truncate instead)' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-alerts -d 'Alerts held at most (firing, and resolved within the last hour); webhooks with alerts not held yet get 503 (the sender retries) while full' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l max-alert-bytes -d 'Bytes of labels and annotations of the alerts held at most (`128MiB`); beyond, webhooks with alerts not held yet get 503 likewise' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l journal -d 'A PostgreSQL journal shared by several instances (`postgres://user@host:5432/db`; the password from the URL or PGPASSWORD); without it, the SQLite file in --data. All instances take webhooks; the one holding the lease decides and fires' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l lease -d 'With a shared journal: how long the leader\'s lease lasts without renewal; a standby takes over within about this after the leader dies' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l allowed-host -d 'A name of this server that requests may use (`Host`) and writes may come from (`Origin`), besides IP addresses, `localhost` and the --listen name; repeat it, or comma-separate in the variable. A leading `.` allows the domain and every name under it' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l external-url -d 'The URL people reach this server at (e.g. behind a proxy): notifications link to its event pages, `URL/events/ID`' -r
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l insecure-no-api-token -d 'Listen beyond loopback without RESGATE_API_TOKEN (refused otherwise): only when a firewall or an authenticating proxy guards the API'
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l no-watch -d 'Do not watch the rules directory'
complete -c resgate -n "__fish_resgate_using_subcommand serve" -l log-json -d 'Log lines as JSON'
complete -c resgate -n "__fish_resgate_using_subcommand serve" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand events" -l data -d 'The data directory `resgate serve --data` writes' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand events" -l journal -d 'A shared PostgreSQL journal (postgres://…) instead of --data' -r
complete -c resgate -n "__fish_resgate_using_subcommand events" -l limit -d 'How many events to list, newest first' -r
complete -c resgate -n "__fish_resgate_using_subcommand events" -l format -r -f -a "text\t''
json\t''"
complete -c resgate -n "__fish_resgate_using_subcommand events" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand approve" -l server -d 'The daemon\'s address (`resgate serve --listen`)' -r
complete -c resgate -n "__fish_resgate_using_subcommand approve" -l token -d 'The API token the daemon was started with' -r
complete -c resgate -n "__fish_resgate_using_subcommand approve" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l journal -d 'The data directory of `resgate serve` (or its resgate.db), or a shared PostgreSQL journal\'s URL' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l rules -d 'The rules to replay through (e.g. the pull request\'s rules directory)' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l since -d 'Compare only decisions from this long ago (`7d`, `12h`) or this time (RFC 3339)' -r
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l assume-takes -d 'How long a fire takes when the journal has no event of its remediation' -r
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l format -d 'Output format: text, JSON, or Markdown for a pull-request comment' -r -f -a "text\t''
json\t''
markdown\t'GitHub Flavored Markdown: the diff as a table, for a pull-request comment'"
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l svg -d 'Also draw the replayed timeline as an SVG picture into this file' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -l fail-on-change -d 'Exit 1 when any decision would change'
complete -c resgate -n "__fish_resgate_using_subcommand backtest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c resgate -n "__fish_resgate_using_subcommand explain" -l data -d 'The data directory `resgate serve --data` writes' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand explain" -l journal -d 'A shared PostgreSQL journal (postgres://…) instead of --data' -r
complete -c resgate -n "__fish_resgate_using_subcommand explain" -l format -r -f -a "text\t''
json\t''"
complete -c resgate -n "__fish_resgate_using_subcommand explain" -l svg -d 'Also draw the story\'s timeline as an SVG picture into this file' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand explain" -l no-payload -d 'Leave the webhook bodies out of the text'
complete -c resgate -n "__fish_resgate_using_subcommand explain" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand pause" -l reason -d 'Why: shown in every deferral it causes, for the next person on call' -r
complete -c resgate -n "__fish_resgate_using_subcommand pause" -l for -d 'How long (`2h`, `30m`); without `--for` or `--until` the pause lasts until removed' -r
complete -c resgate -n "__fish_resgate_using_subcommand pause" -l until -d 'Until when (RFC 3339)' -r
complete -c resgate -n "__fish_resgate_using_subcommand pause" -l server -d 'The daemon\'s address (`resgate serve --listen`)' -r
complete -c resgate -n "__fish_resgate_using_subcommand pause" -l token -d 'The API token the daemon was started with' -r
complete -c resgate -n "__fish_resgate_using_subcommand pause" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand pauses" -l format -r -f -a "text\t''
json\t''"
complete -c resgate -n "__fish_resgate_using_subcommand pauses" -l server -d 'The daemon\'s address (`resgate serve --listen`)' -r
complete -c resgate -n "__fish_resgate_using_subcommand pauses" -l token -d 'The API token the daemon was started with' -r
complete -c resgate -n "__fish_resgate_using_subcommand pauses" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand unpause" -l server -d 'The daemon\'s address (`resgate serve --listen`)' -r
complete -c resgate -n "__fish_resgate_using_subcommand unpause" -l token -d 'The API token the daemon was started with' -r
complete -c resgate -n "__fish_resgate_using_subcommand unpause" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand init" -l force -d 'Overwrite starter files that already exist, and write next to other rule files'
complete -c resgate -n "__fish_resgate_using_subcommand init" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand facts" -l rules -d 'Rules directory whose `facts:` sources are queried' -r -F
complete -c resgate -n "__fish_resgate_using_subcommand facts" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c resgate -n "__fish_resgate_using_subcommand facts" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand completions" -s h -l help -d 'Print help'
complete -c resgate -n "__fish_resgate_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "lint" -d 'Check a rules directory: YAML schema, Datalog, templates, references'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "test" -d 'Run *.test.yaml files against the rules'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "simulate" -d 'Show the decisions (with proofs) for a payload or a scenario timeline'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "serve" -d 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "events" -d 'List the events in a serve journal, or tell one event\'s story'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "approve" -d 'Approve an event of a `mode: approve` remediation through the running daemon'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "backtest" -d 'Replay a serve journal through other rules and diff the decisions'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "explain" -d 'Tell the whole story of an event or an alert from a serve journal'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "pause" -d 'Pause a remediation (or one target of it) through the running daemon'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "pauses" -d 'List the pauses in force in the running daemon'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "unpause" -d 'Remove a pause through the running daemon'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "init" -d 'Write a starter rules directory whose tests pass'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "facts" -d 'Query every fact source of the rules once and print the rows'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "completions" -d 'Print shell completions'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "schema" -d 'Print the JSON Schema of rule, test or scenario files (for editors)'
complete -c resgate -n "__fish_resgate_using_subcommand help; and not __fish_seen_subcommand_from lint test simulate serve events approve backtest explain pause pauses unpause init facts completions schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'


using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'resgate' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'resgate'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'resgate' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check a rules directory: YAML schema, Datalog, templates, references')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Run *.test.yaml files against the rules')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'Show the decisions (with proofs) for a payload or a scenario timeline')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'List the events in a serve journal, or tell one event''s story')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve an event of a `mode: approve` remediation through the running daemon')
            [CompletionResult]::new('backtest', 'backtest', [CompletionResultType]::ParameterValue, 'Replay a serve journal through other rules and diff the decisions')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Tell the whole story of an event or an alert from a serve journal')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a remediation (or one target of it) through the running daemon')
            [CompletionResult]::new('pauses', 'pauses', [CompletionResultType]::ParameterValue, 'List the pauses in force in the running daemon')
            [CompletionResult]::new('unpause', 'unpause', [CompletionResultType]::ParameterValue, 'Remove a pause through the running daemon')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a starter rules directory whose tests pass')
            [CompletionResult]::new('facts', 'facts', [CompletionResultType]::ParameterValue, 'Query every fact source of the rules once and print the rows')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of rule, test or scenario files (for editors)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'resgate;lint' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: text diagnostics on stderr, or JSON, GitHub workflow commands or SARIF on stdout')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Treat warnings as errors (`--deny warnings`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'resgate;test' {
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'Rules to test against (default: the directory of each test file)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: text, JSON, or JUnit XML for CI test reporters')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'resgate;simulate' {
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'Rules directory')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Which `sources:` entry maps the payload (default: the alertmanager one)')
            [CompletionResult]::new('--at', '--at', [CompletionResultType]::ParameterName, 'Decide as of this time (RFC 3339; default: the payload''s latest startsAt)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('--svg', '--svg', [CompletionResultType]::ParameterName, 'Also draw a scenario''s timeline as an SVG picture into this file')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'Decide a payload against the state a serve journal (its data directory) recorded at `--at` (default: its last webhook), rebuilt by replaying it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;serve' {
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'Rules directory (watched: changes that pass lint go live)')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Data directory: the journal `resgate.db` lives here')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on (port 0: any free port, printed on start)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Open connections at most (a thread each); more are answered 503')
            [CompletionResult]::new('--max-connections-per-ip', '--max-connections-per-ip', [CompletionResultType]::ParameterName, 'Open connections from one client address at most (loopback included); more are answered 503. A quarter of the default --max-connections: one client cannot take them all, and local tools have room')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'A kept-alive connection idle this long is closed')
            [CompletionResult]::new('--head-timeout', '--head-timeout', [CompletionResultType]::ParameterName, 'The request line and headers must arrive within this (for a new connection''s first request, counted from the connect)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest webhook body accepted, in bytes')
            [CompletionResult]::new('--body-timeout', '--body-timeout', [CompletionResultType]::ParameterName, 'A whole request body must arrive within this')
            [CompletionResult]::new('--retention', '--retention', [CompletionResultType]::ParameterName, 'How long decided webhook bodies, and notifications sent or failed, are kept in the journal')
            [CompletionResult]::new('--dedupe-window', '--dedupe-window', [CompletionResultType]::ParameterName, 'Repeats of the same alert inside this window are journaled once')
            [CompletionResult]::new('--call-attempts', '--call-attempts', [CompletionResultType]::ParameterName, 'Tries of a call the remediator did not accept (refused, 5xx), same Idempotency-Key')
            [CompletionResult]::new('--call-backoff', '--call-backoff', [CompletionResultType]::ParameterName, 'First wait between those tries (doubles each time)')
            [CompletionResult]::new('--notify-attempts', '--notify-attempts', [CompletionResultType]::ParameterName, 'Tries of a notification a receiver did not take (down, 5xx, 429) before it is counted failed')
            [CompletionResult]::new('--notify-backoff', '--notify-backoff', [CompletionResultType]::ParameterName, 'First wait between those tries (doubles each time, at most 5m; a longer Retry-After wins)')
            [CompletionResult]::new('--journal-max-size', '--journal-max-size', [CompletionResultType]::ParameterName, 'Largest a SQLite journal may grow (`512MiB`, `10GiB`; `0`: no cap; default 1GiB). Webhooks get 503 (the sender retries) once it is 90% full, until pruning frees room or the cap is raised; the rest is kept for decisions')
            [CompletionResult]::new('--max-alerts-per-request', '--max-alerts-per-request', [CompletionResultType]::ParameterName, 'Alerts one webhook may carry; more are refused with 413 (set Alertmanager''s `max_alerts` at or below this to have it truncate instead)')
            [CompletionResult]::new('--max-alerts', '--max-alerts', [CompletionResultType]::ParameterName, 'Alerts held at most (firing, and resolved within the last hour); webhooks with alerts not held yet get 503 (the sender retries) while full')
            [CompletionResult]::new('--max-alert-bytes', '--max-alert-bytes', [CompletionResultType]::ParameterName, 'Bytes of labels and annotations of the alerts held at most (`128MiB`); beyond, webhooks with alerts not held yet get 503 likewise')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'A PostgreSQL journal shared by several instances (`postgres://user@host:5432/db`; the password from the URL or PGPASSWORD); without it, the SQLite file in --data. All instances take webhooks; the one holding the lease decides and fires')
            [CompletionResult]::new('--lease', '--lease', [CompletionResultType]::ParameterName, 'With a shared journal: how long the leader''s lease lasts without renewal; a standby takes over within about this after the leader dies')
            [CompletionResult]::new('--allowed-host', '--allowed-host', [CompletionResultType]::ParameterName, 'A name of this server that requests may use (`Host`) and writes may come from (`Origin`), besides IP addresses, `localhost` and the --listen name; repeat it, or comma-separate in the variable. A leading `.` allows the domain and every name under it')
            [CompletionResult]::new('--external-url', '--external-url', [CompletionResultType]::ParameterName, 'The URL people reach this server at (e.g. behind a proxy): notifications link to its event pages, `URL/events/ID`')
            [CompletionResult]::new('--insecure-no-api-token', '--insecure-no-api-token', [CompletionResultType]::ParameterName, 'Listen beyond loopback without RESGATE_API_TOKEN (refused otherwise): only when a firewall or an authenticating proxy guards the API')
            [CompletionResult]::new('--no-watch', '--no-watch', [CompletionResultType]::ParameterName, 'Do not watch the rules directory')
            [CompletionResult]::new('--log-json', '--log-json', [CompletionResultType]::ParameterName, 'Log lines as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;events' {
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The data directory `resgate serve --data` writes')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'A shared PostgreSQL journal (postgres://…) instead of --data')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many events to list, newest first')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;approve' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon''s address (`resgate serve --listen`)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The API token the daemon was started with')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;backtest' {
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'The data directory of `resgate serve` (or its resgate.db), or a shared PostgreSQL journal''s URL')
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'The rules to replay through (e.g. the pull request''s rules directory)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Compare only decisions from this long ago (`7d`, `12h`) or this time (RFC 3339)')
            [CompletionResult]::new('--assume-takes', '--assume-takes', [CompletionResultType]::ParameterName, 'How long a fire takes when the journal has no event of its remediation')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format: text, JSON, or Markdown for a pull-request comment')
            [CompletionResult]::new('--svg', '--svg', [CompletionResultType]::ParameterName, 'Also draw the replayed timeline as an SVG picture into this file')
            [CompletionResult]::new('--fail-on-change', '--fail-on-change', [CompletionResultType]::ParameterName, 'Exit 1 when any decision would change')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'resgate;explain' {
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The data directory `resgate serve --data` writes')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'A shared PostgreSQL journal (postgres://…) instead of --data')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('--svg', '--svg', [CompletionResultType]::ParameterName, 'Also draw the story''s timeline as an SVG picture into this file')
            [CompletionResult]::new('--no-payload', '--no-payload', [CompletionResultType]::ParameterName, 'Leave the webhook bodies out of the text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;pause' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: shown in every deferral it causes, for the next person on call')
            [CompletionResult]::new('--for', '--for', [CompletionResultType]::ParameterName, 'How long (`2h`, `30m`); without `--for` or `--until` the pause lasts until removed')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Until when (RFC 3339)')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon''s address (`resgate serve --listen`)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The API token the daemon was started with')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;pauses' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon''s address (`resgate serve --listen`)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The API token the daemon was started with')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;unpause' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The daemon''s address (`resgate serve --listen`)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The API token the daemon was started with')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;init' {
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite starter files that already exist, and write next to other rule files')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;facts' {
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'Rules directory whose `facts:` sources are queried')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'resgate;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'resgate;help' {
            [CompletionResult]::new('lint', 'lint', [CompletionResultType]::ParameterValue, 'Check a rules directory: YAML schema, Datalog, templates, references')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Run *.test.yaml files against the rules')
            [CompletionResult]::new('simulate', 'simulate', [CompletionResultType]::ParameterValue, 'Show the decisions (with proofs) for a payload or a scenario timeline')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'List the events in a serve journal, or tell one event''s story')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve an event of a `mode: approve` remediation through the running daemon')
            [CompletionResult]::new('backtest', 'backtest', [CompletionResultType]::ParameterValue, 'Replay a serve journal through other rules and diff the decisions')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Tell the whole story of an event or an alert from a serve journal')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a remediation (or one target of it) through the running daemon')
            [CompletionResult]::new('pauses', 'pauses', [CompletionResultType]::ParameterValue, 'List the pauses in force in the running daemon')
            [CompletionResult]::new('unpause', 'unpause', [CompletionResultType]::ParameterValue, 'Remove a pause through the running daemon')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a starter rules directory whose tests pass')
            [CompletionResult]::new('facts', 'facts', [CompletionResultType]::ParameterValue, 'Query every fact source of the rules once and print the rows')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of rule, test or scenario files (for editors)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'resgate;help;lint' {
            break
        }
        'resgate;help;test' {
            break
        }
        'resgate;help;simulate' {
            break
        }
        'resgate;help;serve' {
            break
        }
        'resgate;help;events' {
            break
        }
        'resgate;help;approve' {
            break
        }
        'resgate;help;backtest' {
            break
        }
        'resgate;help;explain' {
            break
        }
        'resgate;help;pause' {
            break
        }
        'resgate;help;pauses' {
            break
        }
        'resgate;help;unpause' {
            break
        }
        'resgate;help;init' {
            break
        }
        'resgate;help;facts' {
            break
        }
        'resgate;help;completions' {
            break
        }
        'resgate;help;schema' {
            break
        }
        'resgate;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}

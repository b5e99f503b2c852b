
use builtin;
use str;

set edit:completion:arg-completer[resgate] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'resgate'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'resgate'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand lint 'Check a rules directory: YAML schema, Datalog, templates, references'
            cand test 'Run *.test.yaml files against the rules'
            cand simulate 'Show the decisions (with proofs) for a payload or a scenario timeline'
            cand serve 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)'
            cand events 'List the events in a serve journal, or tell one event''s story'
            cand approve 'Approve an event of a `mode: approve` remediation through the running daemon'
            cand backtest 'Replay a serve journal through other rules and diff the decisions'
            cand explain 'Tell the whole story of an event or an alert from a serve journal'
            cand pause 'Pause a remediation (or one target of it) through the running daemon'
            cand pauses 'List the pauses in force in the running daemon'
            cand unpause 'Remove a pause through the running daemon'
            cand init 'Write a starter rules directory whose tests pass'
            cand facts 'Query every fact source of the rules once and print the rows'
            cand completions 'Print shell completions'
            cand schema 'Print the JSON Schema of rule, test or scenario files (for editors)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'resgate;lint'= {
            cand --format 'Output format: text diagnostics on stderr, or JSON, GitHub workflow commands or SARIF on stdout'
            cand --deny 'Treat warnings as errors (`--deny warnings`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'resgate;test'= {
            cand --rules 'Rules to test against (default: the directory of each test file)'
            cand --format 'Output format: text, JSON, or JUnit XML for CI test reporters'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'resgate;simulate'= {
            cand --rules 'Rules directory'
            cand --source 'Which `sources:` entry maps the payload (default: the alertmanager one)'
            cand --at 'Decide as of this time (RFC 3339; default: the payload''s latest startsAt)'
            cand --format 'format'
            cand --svg 'Also draw a scenario''s timeline as an SVG picture into this file'
            cand --journal 'Decide a payload against the state a serve journal (its data directory) recorded at `--at` (default: its last webhook), rebuilt by replaying it'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;serve'= {
            cand --rules 'Rules directory (watched: changes that pass lint go live)'
            cand --data 'Data directory: the journal `resgate.db` lives here'
            cand --listen 'Address to listen on (port 0: any free port, printed on start)'
            cand --max-connections 'Open connections at most (a thread each); more are answered 503'
            cand --max-connections-per-ip 'Open connections from one client address at most (loopback included); more are answered 503. A quarter of the default --max-connections: one client cannot take them all, and local tools have room'
            cand --idle-timeout 'A kept-alive connection idle this long is closed'
            cand --head-timeout 'The request line and headers must arrive within this (for a new connection''s first request, counted from the connect)'
            cand --max-body 'Largest webhook body accepted, in bytes'
            cand --body-timeout 'A whole request body must arrive within this'
            cand --retention 'How long decided webhook bodies, and notifications sent or failed, are kept in the journal'
            cand --dedupe-window 'Repeats of the same alert inside this window are journaled once'
            cand --call-attempts 'Tries of a call the remediator did not accept (refused, 5xx), same Idempotency-Key'
            cand --call-backoff 'First wait between those tries (doubles each time)'
            cand --notify-attempts 'Tries of a notification a receiver did not take (down, 5xx, 429) before it is counted failed'
            cand --notify-backoff 'First wait between those tries (doubles each time, at most 5m; a longer Retry-After wins)'
            cand --journal-max-size 'Largest a SQLite journal may grow (`512MiB`, `10GiB`; `0`: no cap; default 1GiB). Webhooks get 503 (the sender retries) once it is 90% full, until pruning frees room or the cap is raised; the rest is kept for decisions'
            cand --max-alerts-per-request 'Alerts one webhook may carry; more are refused with 413 (set Alertmanager''s `max_alerts` at or below this to have it truncate instead)'
            cand --max-alerts 'Alerts held at most (firing, and resolved within the last hour); webhooks with alerts not held yet get 503 (the sender retries) while full'
            cand --max-alert-bytes 'Bytes of labels and annotations of the alerts held at most (`128MiB`); beyond, webhooks with alerts not held yet get 503 likewise'
            cand --journal 'A PostgreSQL journal shared by several instances (`postgres://user@host:5432/db`; the password from the URL or PGPASSWORD); without it, the SQLite file in --data. All instances take webhooks; the one holding the lease decides and fires'
            cand --lease 'With a shared journal: how long the leader''s lease lasts without renewal; a standby takes over within about this after the leader dies'
            cand --allowed-host 'A name of this server that requests may use (`Host`) and writes may come from (`Origin`), besides IP addresses, `localhost` and the --listen name; repeat it, or comma-separate in the variable. A leading `.` allows the domain and every name under it'
            cand --external-url 'The URL people reach this server at (e.g. behind a proxy): notifications link to its event pages, `URL/events/ID`'
            cand --insecure-no-api-token 'Listen beyond loopback without RESGATE_API_TOKEN (refused otherwise): only when a firewall or an authenticating proxy guards the API'
            cand --no-watch 'Do not watch the rules directory'
            cand --log-json 'Log lines as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;events'= {
            cand --data 'The data directory `resgate serve --data` writes'
            cand --journal 'A shared PostgreSQL journal (postgres://…) instead of --data'
            cand --limit 'How many events to list, newest first'
            cand --format 'format'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;approve'= {
            cand --server 'The daemon''s address (`resgate serve --listen`)'
            cand --token 'The API token the daemon was started with'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;backtest'= {
            cand --journal 'The data directory of `resgate serve` (or its resgate.db), or a shared PostgreSQL journal''s URL'
            cand --rules 'The rules to replay through (e.g. the pull request''s rules directory)'
            cand --since 'Compare only decisions from this long ago (`7d`, `12h`) or this time (RFC 3339)'
            cand --assume-takes 'How long a fire takes when the journal has no event of its remediation'
            cand --format 'Output format: text, JSON, or Markdown for a pull-request comment'
            cand --svg 'Also draw the replayed timeline as an SVG picture into this file'
            cand --fail-on-change 'Exit 1 when any decision would change'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'resgate;explain'= {
            cand --data 'The data directory `resgate serve --data` writes'
            cand --journal 'A shared PostgreSQL journal (postgres://…) instead of --data'
            cand --format 'format'
            cand --svg 'Also draw the story''s timeline as an SVG picture into this file'
            cand --no-payload 'Leave the webhook bodies out of the text'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;pause'= {
            cand --reason 'Why: shown in every deferral it causes, for the next person on call'
            cand --for 'How long (`2h`, `30m`); without `--for` or `--until` the pause lasts until removed'
            cand --until 'Until when (RFC 3339)'
            cand --server 'The daemon''s address (`resgate serve --listen`)'
            cand --token 'The API token the daemon was started with'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;pauses'= {
            cand --format 'format'
            cand --server 'The daemon''s address (`resgate serve --listen`)'
            cand --token 'The API token the daemon was started with'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;unpause'= {
            cand --server 'The daemon''s address (`resgate serve --listen`)'
            cand --token 'The API token the daemon was started with'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;init'= {
            cand --force 'Overwrite starter files that already exist, and write next to other rule files'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;facts'= {
            cand --rules 'Rules directory whose `facts:` sources are queried'
            cand --format 'Output format'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'resgate;schema'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'resgate;help'= {
            cand lint 'Check a rules directory: YAML schema, Datalog, templates, references'
            cand test 'Run *.test.yaml files against the rules'
            cand simulate 'Show the decisions (with proofs) for a payload or a scenario timeline'
            cand serve 'Run the webhook daemon: decide, fire, poll, verify (journal in --data)'
            cand events 'List the events in a serve journal, or tell one event''s story'
            cand approve 'Approve an event of a `mode: approve` remediation through the running daemon'
            cand backtest 'Replay a serve journal through other rules and diff the decisions'
            cand explain 'Tell the whole story of an event or an alert from a serve journal'
            cand pause 'Pause a remediation (or one target of it) through the running daemon'
            cand pauses 'List the pauses in force in the running daemon'
            cand unpause 'Remove a pause through the running daemon'
            cand init 'Write a starter rules directory whose tests pass'
            cand facts 'Query every fact source of the rules once and print the rows'
            cand completions 'Print shell completions'
            cand schema 'Print the JSON Schema of rule, test or scenario files (for editors)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'resgate;help;lint'= {
        }
        &'resgate;help;test'= {
        }
        &'resgate;help;simulate'= {
        }
        &'resgate;help;serve'= {
        }
        &'resgate;help;events'= {
        }
        &'resgate;help;approve'= {
        }
        &'resgate;help;backtest'= {
        }
        &'resgate;help;explain'= {
        }
        &'resgate;help;pause'= {
        }
        &'resgate;help;pauses'= {
        }
        &'resgate;help;unpause'= {
        }
        &'resgate;help;init'= {
        }
        &'resgate;help;facts'= {
        }
        &'resgate;help;completions'= {
        }
        &'resgate;help;schema'= {
        }
        &'resgate;help;help'= {
        }
    ]
    $completions[$command]
}

//! Rules hot reload: the rules directory is watched (debounced, so an editor's
//! burst of writes is one reload); new rules go live only if they pass lint,
//! otherwise the old ones stay and the refusal is logged and counted.
//!
//! Only events that can change what the directory holds start a reload
//! (create, write, rename, remove), and a reload whose files are byte for byte
//! the ones live (or the ones last refused) does nothing: reading the rules
//! opens them, and reacting to those opens made one `touch` reload forever
//! (issue 18).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Shared;
use super::decider::Msg;
use crate::diag::{self, RenderStyle};
use crate::remediate::SecretSource;
use crate::rules::{self, RuleSet};

/// A digest of the rule files' names and bytes ([`rules::Read::digest`]).
pub type Digest = [u8; 32];

/// Why rules were not made live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The directory or a file in it cannot be read.
    Unreadable,
    /// The rules fail lint.
    Lint,
    /// The rules pass lint but name `${env:}`/`${file:}` secrets this process
    /// cannot resolve: they would fail at the first call, silently.
    Secrets(usize),
}

impl Refusal {
    fn why(self) -> &'static str {
        match self {
            Refusal::Unreadable => "they cannot be read",
            Refusal::Lint => "they fail lint",
            Refusal::Secrets(_) => "they use secrets that cannot be resolved",
        }
    }
}

/// Loads and checks the rules; logs every diagnostic. The digest is of the
/// files as read.
pub fn load(path: &Path, secrets: &dyn SecretSource) -> (Result<Arc<RuleSet>, Refusal>, Digest) {
    let read = rules::read_path(path);
    let digest = read.digest();
    (check(read, secrets), digest)
}

fn check(read: rules::Read, secrets: &dyn SecretSource) -> Result<Arc<RuleSet>, Refusal> {
    let loaded = read.load();
    let unresolved: Vec<_> = loaded
        .rules
        .iter()
        .flat_map(|r| &r.secret_uses)
        .filter_map(|u| u.unresolved(|n| secrets.env(n), |p| secrets.read_file(p)))
        .collect();
    for d in loaded.diagnostics.iter().chain(&unresolved) {
        let text = diag::render(d, &loaded.sources, RenderStyle::plain());
        if d.is_error() {
            tracing::error!(code = d.code, "{}", text.trim_end());
        } else {
            tracing::warn!(code = d.code, "{}", text.trim_end());
        }
    }
    if loaded.diagnostics.iter().any(|d| d.code == "io") {
        return Err(Refusal::Unreadable);
    }
    if loaded.errors() > 0 {
        return Err(Refusal::Lint);
    }
    if !unresolved.is_empty() {
        return Err(Refusal::Secrets(unresolved.len()));
    }
    loaded.rules.map(Arc::new).ok_or(Refusal::Lint)
}

pub type Watcher = Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>;

/// What the watcher has seen: the digest of the live rules and of the last
/// refused ones.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    live: Digest,
    refused: Option<Digest>,
}

/// Watches the rules directory until the returned watcher is dropped. `live`
/// is the digest of the rules loaded at start.
pub fn watch(shared: Arc<Shared>, live: Digest) -> Option<Watcher> {
    let dir = shared.options.rules.clone();
    let handler_shared = shared.clone();
    let mut seen = Seen {
        live,
        refused: None,
    };
    let handler = move |result: DebounceEventResult| {
        if handler_shared.shutdown.is_set() {
            return;
        }
        let Ok(events) = result else { return };
        if events.iter().any(|e| changes_content(&e.kind)) {
            reload(&handler_shared, &mut seen);
        }
    };
    let mut debouncer = match new_debouncer(Duration::from_millis(500), None, handler) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the rules; hot reload is off");
            return None;
        }
    };
    if let Err(e) = debouncer.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the rules; hot reload is off");
        return None;
    }
    Some(debouncer)
}

/// Can this event change a file's bytes or the directory's list of files?
/// Opens, reads and closes cannot (our own reload makes them), and neither can
/// a new mtime or mode (`touch`, `chmod`): those are ignored.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        // A rescan or an event the platform cannot classify: the digest decides.
        EventKind::Any | EventKind::Other => true,
    }
}

/// Loads the rules again and, if they differ from the live ones and pass
/// lint, makes them live. Returns whether new rules went live.
pub fn reload(shared: &Shared, seen: &mut Seen) -> bool {
    let read = rules::read_path(&shared.options.rules);
    let digest = read.digest();
    if digest == seen.live {
        if seen.refused.take().is_some() {
            // The refused edit was undone: the files on disk are live again.
            shared.set_rules_record(|r| r.last_refused = None);
            tracing::info!(dir = %shared.options.rules.display(), "the rules on disk are the live rules again");
        }
        return false;
    }
    if seen.refused == Some(digest) {
        return false;
    }
    let new = match check(read, &shared.secrets) {
        Ok(new) => new,
        Err(refusal) => {
            // Lint is a function of the bytes: the same bytes are refused
            // again without a look. Secrets are not (a secret file may appear),
            // so a save of the same bytes checks them again.
            if refusal == Refusal::Lint {
                seen.refused = Some(digest);
            }
            shared.metrics.reload(false);
            shared.set_rules_record(|r| r.last_refused = Some(jiff::Timestamp::now()));
            tracing::error!(
                dir = %shared.options.rules.display(),
                "new rules refused ({}); the previous rules stay live",
                refusal.why()
            );
            return false;
        }
    };
    seen.live = digest;
    seen.refused = None;
    match shared.rules.write() {
        Ok(mut live) => *live = new.clone(),
        Err(poisoned) => *poisoned.into_inner() = new.clone(),
    }
    shared.set_rules_record(|r| *r = super::RulesRecord::new(&new));
    let _ = shared.decider.send(Msg::Reload(new));
    shared.metrics.reload(true);
    tracing::info!(dir = %shared.options.rules.display(), "rules reloaded");
    true
}

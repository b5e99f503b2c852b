//! Rules hot reload: the rules directory is watched (debounced, so an editor's
//! burst of writes is one reload); new rules go live only if they pass lint,
//! otherwise the old ones stay and the refusal is logged and counted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Shared;
use super::decider::Msg;
use crate::diag::{self, RenderStyle};
use crate::rules::{self, RuleSet};

/// Loads and checks the rules; logs every diagnostic; `None` when any is an error.
pub fn load(path: &Path) -> Option<Arc<RuleSet>> {
    let loaded = rules::load_path(path);
    for d in &loaded.diagnostics {
        let text = diag::render(d, &loaded.sources, RenderStyle::plain());
        if d.is_error() {
            tracing::error!(code = d.code, "{}", text.trim_end());
        } else {
            tracing::warn!(code = d.code, "{}", text.trim_end());
        }
    }
    if loaded.errors() > 0 {
        return None;
    }
    loaded.rules.map(Arc::new)
}

pub type Watcher = Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>;

/// Watches the rules directory until the returned watcher is dropped.
pub fn watch(shared: Arc<Shared>) -> Option<Watcher> {
    let dir = shared.options.rules.clone();
    let handler_shared = shared.clone();
    let handler = move |result: DebounceEventResult| {
        if result.is_err() || handler_shared.shutdown.is_set() {
            return;
        }
        reload(&handler_shared);
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

/// Loads the rules again and, if they pass lint, makes them live.
pub fn reload(shared: &Shared) -> bool {
    let Some(new) = load(&shared.options.rules) else {
        shared.metrics.reload(false);
        shared.set_rules_record(|r| r.last_refused = Some(jiff::Timestamp::now()));
        tracing::error!(
            dir = %shared.options.rules.display(),
            "new rules refused (they fail lint); the previous rules stay live"
        );
        return false;
    };
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

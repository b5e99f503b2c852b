//! "did you mean" for names the user misspelt.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// `did you mean "x"? defined: a, b, c` (or just the list when nothing is close).
pub fn help<'a>(
    name: &str,
    what: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    let mut all: Vec<&str> = candidates.clone().into_iter().collect();
    all.sort_unstable();
    all.dedup();
    let listed = if all.is_empty() {
        format!("no {what} is defined")
    } else {
        format!("defined: {}", all.join(", "))
    };
    match closest(name, candidates) {
        Some(c) => format!("did you mean \"{c}\"? {listed}"),
        None => listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("pagr", ["pager", "runner"]), Some("pager"));
        assert_eq!(
            closest("deploing", ["deploying", "depends"]),
            Some("deploying")
        );
        assert_eq!(closest("zzz", ["pager"]), None);
        assert_eq!(
            help("pagr", "remediator", ["runner", "pager"]),
            "did you mean \"pager\"? defined: pager, runner"
        );
    }
}

//! "Did you mean …?": the closest known word to a typo.

/// The closest of `candidates` to `word`, if it is close enough to be a typo of it.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn close_words_are_suggested_and_far_ones_not() {
        let known = ["duration", "vus", "stages"];
        assert_eq!(did_you_mean("duraton", known), Some("duration"));
        assert_eq!(did_you_mean("vu", known), Some("vus"));
        assert_eq!(did_you_mean("completely-else", known), None);
    }
}

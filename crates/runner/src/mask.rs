//! Secret masking for everything the runner prints: step output, its own messages and the JSON
//! report. Like CircleCI's secrets masking, a secret is replaced by `********************`
//! wherever it appears; values shorter than four characters and the literals true/false are
//! not masked (they would hide ordinary words).

use std::sync::{Arc, RwLock};

/// What a masked secret is printed as (CircleCI's secrets masking).
pub const MASK: &str = "********************";

/// Values shorter than this are not masked (CircleCI masks values of four characters or more).
const MINIMUM_SECRET_LENGTH: usize = 4;

/// A shared, growing set of secrets; cloning shares the set, so a token minted later (the AWS
/// token file) is masked everywhere from then on.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    /// Adds a secret to mask from now on.
    pub fn add(&self, secret: &str) {
        // Output is masked line by line, so each line of a multi-line secret is a secret too.
        if secret.trim().contains('\n') {
            for line in secret.lines() {
                self.add(line);
            }
        }
        let secret = secret.trim();
        if secret.len() < MINIMUM_SECRET_LENGTH
            || matches!(secret, "true" | "True" | "false" | "False")
        {
            return;
        }
        let mut secrets = self
            .secrets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Deduplicating the list of values to mask, not checking a presented secret, so
        // plain equality is fine here. tidy: not a secret comparison
        if !secrets.iter().any(|known| known == secret) {
            secrets.push(secret.to_string());
            // Longest first, so a secret containing another is replaced whole.
            secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    /// `text` with every known secret replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let secrets = self
            .secrets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut output = text.to_string();
        for secret in secrets.iter() {
            if output.contains(secret.as_str()) {
                output = output.replace(secret.as_str(), MASK);
            }
        }
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_longest_first_and_short_values_are_not() {
        let masker = Masker::default();
        masker.add("abc");
        masker.add("true");
        masker.add("secret");
        masker.add("secret-with-suffix");
        assert_eq!(
            masker.mask("abc true secret-with-suffix secret"),
            format!("abc true {MASK} {MASK}")
        );
        masker.add("line-one\nline-two");
        assert_eq!(masker.mask("line-two"), MASK);
    }
}

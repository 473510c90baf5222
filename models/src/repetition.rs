//! A runaway answer: the same few tokens over and over. Small models fall into such loops and
//! would write on to the token limit (minutes on a laptop); the guard ends the answer with the
//! reason `repetition` instead, whatever the model. The limit itself stays the user's.

use std::collections::VecDeque;

/// Longest repeating unit looked for, in tokens (a sentence or a short table row).
pub const MAX_PERIOD: usize = 48;
/// Tokens in a row that must repeat the unit before the output counts as a loop: long enough
/// that a list of similar lines, a table's rules or a run of dashes do not trip it.
pub const MIN_RUN: usize = 256;

/// Watches generated token ids; `push` says when the output has become a loop.
pub struct RepetitionGuard {
    recent: VecDeque<u32>,
    /// For each period p, how many tokens in a row have equalled the token p before them.
    runs: [usize; MAX_PERIOD + 1],
}

impl Default for RepetitionGuard {
    fn default() -> Self {
        Self { recent: VecDeque::with_capacity(MAX_PERIOD + 1), runs: [0; MAX_PERIOD + 1] }
    }
}

impl RepetitionGuard {
    pub fn push(&mut self, token: u32) -> bool {
        let n = self.recent.len();
        let mut looping = false;
        for p in 1..=MAX_PERIOD {
            if n >= p && self.recent[n - p] == token {
                self.runs[p] += 1;
                looping |= self.runs[p] >= MIN_RUN;
            } else {
                self.runs[p] = 0;
            }
        }
        self.recent.push_back(token);
        if self.recent.len() > MAX_PERIOD {
            self.recent.pop_front();
        }
        looping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_trip(tokens: impl IntoIterator<Item = u32>) -> Option<usize> {
        let mut g = RepetitionGuard::default();
        tokens.into_iter().position(|t| g.push(t))
    }

    #[test]
    fn a_phrase_said_over_and_over_is_caught() {
        let phrase = [11u32, 12, 13, 14, 15, 16, 17];
        let tokens = (0..100).flat_map(|_| phrase);
        // The first phrase, then MIN_RUN tokens that each repeat the one 7 before.
        assert_eq!(first_trip(tokens), Some(phrase.len() + MIN_RUN - 1));
        assert_eq!(first_trip(std::iter::repeat_n(5, 1000)), Some(MIN_RUN));
    }

    #[test]
    fn varied_text_and_long_repeating_units_are_not() {
        // A pseudo-random stream over a small vocabulary: repeats here and there, never a loop.
        let mut x = 7u32;
        let text = (0..5000).map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) % 50
        });
        assert_eq!(first_trip(text), None);
        // A unit longer than MAX_PERIOD (a long paragraph quoted twice) is left alone.
        let para: Vec<u32> = (0..(MAX_PERIOD as u32 + 20)).collect();
        assert_eq!(first_trip(para.iter().chain(para.iter()).chain(para.iter()).copied()), None);
        // Similar table rows that differ in their numbers.
        let rows = (0..200u32).flat_map(|i| [1, 2, 100 + i % 97, 3, 200 + (i * 7) % 89, 4]);
        assert_eq!(first_trip(rows), None);
    }
}

//! From token bytes to text that is safe to show: complete UTF-8 only (a Chinese character is
//! often split over two or three byte-level tokens), and nothing past a stop string.

/// Emits the longest complete UTF-8 prefix of what it has been given; an incomplete character
/// waits for its next bytes, an invalid byte becomes U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // Checked above: the first `valid` bytes are UTF-8.
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push('\u{FFFD}');
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left when the generation ends. A character cut in half (the token limit or a
    /// Stop hit between its bytes) is left out: a trailing U+FFFD would reach the screen, the
    /// store and the reports as a stray box.
    pub fn finish(&mut self) -> String {
        // `push` leaves pending only the first bytes of a character still to come.
        self.pending.clear();
        String::new()
    }
}

/// Holds back text that might be the start of a stop string, so that a stop string is never
/// shown, even in part.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), held: String::new() }
    }

    /// Returns the text now safe to pass on, and whether a stop string was reached (the text
    /// returned then ends just before it).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        if self.stops.is_empty() {
            return (text.to_owned(), false);
        }
        self.held.push_str(text);
        let first_hit = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min();
        if let Some(at) = first_hit {
            let out = self.held[..at].to_owned();
            self.held.clear();
            return (out, true);
        }
        let keep = self.held.char_indices().map(|(i, _)| i).find(|&i| self.stops.iter().any(|s| s.starts_with(&self.held[i..]))).unwrap_or(self.held.len());
        let out = self.held[..keep].to_owned();
        self.held.drain(..keep);
        (out, false)
    }

    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

//! Text out of a byte stream (a terminal, a pipe) that arrives in pieces.

/// Text of output, carrying an unfinished UTF-8 sequence over to the next
/// piece; bytes that can never be UTF-8 become U+FFFD and are not held.
#[derive(Debug, Default)]
pub struct Utf8Carry(Vec<u8>);

impl Utf8Carry {
    /// The text of what arrived so far, short of a character still incomplete.
    pub fn text(&mut self, bytes: &[u8]) -> String {
        self.0.extend_from_slice(bytes);
        let cut = match std::str::from_utf8(&self.0) {
            Ok(_) => self.0.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.0.len(),
        };
        let rest = self.0.split_off(cut);
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0 = rest;
        text
    }

    /// What is left at the end of the stream (an incomplete character as U+FFFD).
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.0).into_owned();
        self.0.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Carry;

    #[test]
    fn a_character_split_across_pieces_arrives_whole() {
        let mut c = Utf8Carry::default();
        let bytes = "héllo €".as_bytes();
        let (a, b) = bytes.split_at(2);
        assert_eq!(c.text(a), "h");
        let (b1, b2) = b.split_at(b.len() - 1);
        assert_eq!(c.text(b1), "éllo ");
        assert_eq!(c.text(b2), "€");
    }

    #[test]
    fn invalid_bytes_are_replaced_not_held() {
        let mut c = Utf8Carry::default();
        assert_eq!(c.text(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(c.text(b"\xe2\x82"), "");
        assert_eq!(c.finish(), "\u{fffd}");
    }
}

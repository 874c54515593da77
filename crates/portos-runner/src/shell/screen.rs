//! A terminal's screen kept on the server (vt100), and the snapshot a client
//! that attaches is given: the scrollback lines, then the visible rows, the
//! cursor and the modes, as terminal output a fresh terminal replays.

/// The screen of one session.
pub struct Screen {
    parser: vt100::Parser,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        f.debug_struct("Screen")
            .field("rows", &rows)
            .field("cols", &cols)
            .finish_non_exhaustive()
    }
}

impl Screen {
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Self {
        Self {
            parser: vt100::Parser::new(rows, cols, scrollback),
        }
    }

    pub fn process(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// What a fresh terminal of the same size replays to show the same
    /// thing: every scrollback line (so it lands in the client's own
    /// scrollback), the visible rows, then the cursor, colours and modes.
    pub fn snapshot(&mut self) -> Vec<u8> {
        self.draw(true)
    }

    /// The visible screen drawn over what a client shows, its scrollback
    /// left alone: for a client that fell behind (a flood skipped, not
    /// replayed), cheap whatever the scrollback holds.
    pub fn redraw(&mut self) -> Vec<u8> {
        self.draw(false)
    }

    fn draw(&mut self, with_scrollback: bool) -> Vec<u8> {
        let (rows, cols) = self.parser.screen().size();
        let mut out = Vec::new();
        if self.parser.screen().alternate_screen() {
            // A full-screen program (vim, less): its screen alone.
            out.extend(self.parser.screen().contents_formatted());
            return out;
        }
        let mut lines: Vec<Vec<u8>> = Vec::new();
        if with_scrollback {
            out.extend_from_slice(b"\x1b[H\x1b[2J\x1b[3J\x1b[0m");
            // The scrollback, oldest first, a screenful at a time.
            self.parser.screen_mut().set_scrollback(usize::MAX);
            let mut back = self.parser.screen().scrollback();
            while back > 0 {
                let take = back.min(usize::from(rows));
                lines.extend(self.parser.screen().rows_formatted(0, cols).take(take));
                back -= take;
                self.parser.screen_mut().set_scrollback(back);
            }
            self.parser.screen_mut().set_scrollback(0);
        } else {
            out.extend_from_slice(b"\x1b[0m\x1b[H\x1b[2J");
        }
        let screen = self.parser.screen();
        lines.extend(screen.rows_formatted(0, cols));
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\x1b[0m\r\n");
            }
            out.extend_from_slice(line);
        }
        let (row, col) = screen.cursor_position();
        out.extend_from_slice(format!("\x1b[{};{}H", row + 1, col + 1).as_bytes());
        out.extend(screen.attributes_formatted());
        out.extend(screen.input_mode_formatted());
        if screen.hide_cursor() {
            out.extend_from_slice(b"\x1b[?25l");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Screen;

    #[test]
    fn a_redraw_is_the_visible_screen_only() {
        let mut s = Screen::new(4, 20, 100);
        for i in 0..50 {
            s.process(format!("line {i}\r\n").as_bytes());
        }
        let redraw = String::from_utf8(s.redraw()).unwrap();
        assert!(
            redraw.contains("line 49") && !redraw.contains("line 10"),
            "{redraw:?}"
        );
        assert!(
            !redraw.contains("\x1b[3J"),
            "the client's scrollback is kept"
        );
        let mut client = vt100::Parser::new(4, 20, 0);
        client.process(&s.redraw());
        assert_eq!(client.screen().contents(), s.parser.screen().contents());
        let full = String::from_utf8(s.snapshot()).unwrap();
        assert!(full.contains("line 10"));
    }

    fn replay(bytes: &[u8], rows: u16, cols: u16) -> vt100::Parser {
        let mut p = vt100::Parser::new(rows, cols, 1000);
        p.process(bytes);
        p
    }

    #[test]
    fn a_replayed_snapshot_shows_the_same_screen_and_cursor() {
        let mut s = Screen::new(5, 20, 100);
        s.process(b"one\r\n\x1b[31mred\x1b[0m\r\nthree ");
        let p = replay(&s.snapshot(), 5, 20);
        assert_eq!(p.screen().contents().trim_end(), "one\nred\nthree");
        assert_eq!(p.screen().cursor_position(), (2, 6));
        assert_eq!(
            p.screen().cell(1, 0).map(|c| c.fgcolor()),
            Some(vt100::Color::Idx(1))
        );
    }

    #[test]
    fn the_scrollback_comes_first_in_order() {
        let mut s = Screen::new(3, 10, 100);
        for i in 0..10 {
            s.process(format!("line {i}\r\n").as_bytes());
        }
        let mut p = replay(&s.snapshot(), 3, 10);
        assert_eq!(p.screen().contents(), "line 8\nline 9");
        p.screen_mut().set_scrollback(usize::MAX);
        let back = p.screen().scrollback();
        assert_eq!(back, 8, "lines 0-7 are scrolled back");
        assert!(p.screen().contents().starts_with("line 0\nline 1"));
    }

    #[test]
    fn a_full_screen_program_is_its_screen_alone() {
        let mut s = Screen::new(4, 10, 100);
        s.process(b"before\r\n\x1b[?1049h\x1b[Hvim here");
        let p = replay(&s.snapshot(), 4, 10);
        assert_eq!(p.screen().contents(), "vim here");
    }
}

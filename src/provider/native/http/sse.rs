//! Server-sent events: an incremental parser that accepts a byte stream split anywhere.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Parses the `text/event-stream` format. Bytes are kept until a line is complete, so a UTF-8 character or a CRLF
/// split across network reads is decoded correctly.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last byte fed was a CR: a LF right after it ends the same line.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds `bytes`, appending every event they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        for &b in bytes {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                }
                _ => self.line.push(b),
            }
        }
    }

    /// Ends the stream: a last event that lacked its blank line is dispatched rather than lost.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
        self.line_done(b"", out);
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                out.push(SseEvent {
                    event: self.event.take(),
                    data,
                });
            }
            self.event = None;
            return;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_split(input: &[u8], at: &[usize]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in at {
            p.feed(&input[start..cut], &mut out);
            start = cut;
        }
        p.feed(&input[start..], &mut out);
        p.finish(&mut out);
        out
    }

    #[test]
    fn events_survive_every_split_point_and_line_ending() {
        let input = "event: a\r\ndata: héllo\r\ndata:  two\r\n\r\n: ping comment\n\nevent: b\rdata: {\"x\":1}\r\rdata: tail"
            .as_bytes();
        let expected = vec![
            SseEvent {
                event: Some("a".into()),
                data: "héllo\n two".into(),
            },
            SseEvent {
                event: Some("b".into()),
                data: "{\"x\":1}".into(),
            },
            SseEvent {
                event: None,
                data: "tail".into(),
            },
        ];
        assert_eq!(parse_split(input, &[]), expected);
        for i in 0..=input.len() {
            assert_eq!(parse_split(input, &[i]), expected, "split at {i}");
        }
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(parse_split(input, &every), expected);
    }

    #[test]
    fn fields_without_data_dispatch_nothing() {
        assert!(parse_split(b"event: ping\n\nretry: 5\nid: 3\n\n", &[]).is_empty());
        assert_eq!(
            parse_split(b"data\n\n", &[]),
            vec![SseEvent {
                event: None,
                data: String::new()
            }]
        );
    }
}

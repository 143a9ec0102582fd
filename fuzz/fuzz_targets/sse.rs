//! Fuzz target: the SSE parser and the Anthropic / OpenAI stream decoders on arbitrary bytes split at arbitrary
//! points. Input: byte 0 picks the decoder, byte 1 seeds the split points, the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::provider::native::http::sse::{SseEvent, SseParser};
use tandem::provider::native::http::{anthropic, openai, Decoder};

/// Parses `stream` fed in pieces whose lengths come from `seed` (0: in one piece).
fn parse(stream: &[u8], seed: u8) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    let mut rest = stream;
    let mut state = u32::from(seed);
    while !rest.is_empty() {
        let len = if seed == 0 {
            rest.len()
        } else {
            // A small LCG: piece lengths 0..=16, so CRLF pairs and UTF-8 sequences get split everywhere.
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((state >> 16) % 17) as usize
        };
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        parser.feed(piece, &mut out);
        rest = tail;
    }
    parser.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let [which, seed, stream @ ..] = data else {
        return;
    };
    let events = parse(stream, *seed);
    // Where the bytes were split must not matter.
    assert_eq!(events, parse(stream, 0));
    let mut decoder: Box<dyn Decoder> = if which & 1 == 0 {
        Box::new(anthropic::StreamDecoder::new(None))
    } else {
        Box::new(openai::StreamDecoder::new(None))
    };
    let mut chunks = 0usize;
    for event in &events {
        match decoder.event(event, &mut |_| chunks += 1) {
            Ok(false) => {}
            Ok(true) | Err(_) => return,
        }
    }
    let _ = decoder.eof(&mut |_| chunks += 1);
});

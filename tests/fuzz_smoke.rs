//! A short, deterministic run of the fuzz targets on stable, for CI: each
//! target's seeds, then mutants of them (bit flips, inserted, deleted and
//! duplicated bytes, splices of other seeds). The real campaign is in `fuzz/`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ringbridge::fuzz_targets::{Target, XorShift};
use ringbridge::providers::bedrock::eventstream::Decoder;

/// Mutants per seed: the whole file takes about 7 s of CPU in a debug build.
const MUTANTS_PER_SEED: usize = 4000;

/// Bytes the parsers branch on, inserted more often than random ones.
const SPECIAL_BYTES: &[u8] = b"\r\n\r\n:;, \t\"\\{}[]0fF\x00\xff";

fn mutate(rng: &mut XorShift, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let byte = if rng.below(2) == 0 {
                    SPECIAL_BYTES[rng.below(SPECIAL_BYTES.len())]
                } else {
                    rng.next_u64() as u8
                };
                out.insert(rng.below(len + 1), byte);
            }
            2 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(8)).min(len);
                out.drain(start..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let copy = out[start..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    out.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ if len > 0 => {
                let i = rng.below(len);
                out[i] = SPECIAL_BYTES[rng.below(SPECIAL_BYTES.len())];
            }
            _ => {}
        }
    }
    out
}

/// Runs `target` on `input`; a failure names the target and the input so it
/// can be replayed with `cargo fuzz run <target> <file>`.
fn run_one(target: Target, input: &[u8]) {
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input)));
    if outcome.is_err() {
        panic!(
            "fuzz target {} failed on input b\"{}\"",
            target.name(),
            input.escape_ascii()
        );
    }
}

fn smoke(target: Target) {
    let seeds = target.seeds();
    assert!(!seeds.is_empty());
    let mut rng = XorShift::new(0x5eed ^ target.name().len() as u64);
    for seed in &seeds {
        run_one(target, seed);
        // Mutants build on each other for a while, then restart from the seed.
        let mut current = seed.clone();
        for i in 0..MUTANTS_PER_SEED {
            if i % 8 == 0 {
                current = seed.clone();
            }
            current = mutate(&mut rng, &current, &seeds);
            run_one(target, &current);
        }
    }
}

#[test]
fn request_head_smoke() {
    smoke(Target::RequestHead);
}

#[test]
fn chunked_smoke() {
    smoke(Target::Chunked);
}

#[test]
fn sse_smoke() {
    smoke(Target::Sse);
}

#[test]
fn eventstream_smoke() {
    smoke(Target::EventStream);
}

#[test]
fn peek_smoke() {
    smoke(Target::Peek);
}

/// The event-stream seeds carry checksums from the fuzz module's own CRC-32;
/// if it disagreed with the decoder's, every seed would stop at the prelude.
#[test]
fn eventstream_seed_checksums_match_the_decoder() {
    let seeds = Target::EventStream.seeds();
    let mut decoder = Decoder::new();
    decoder.feed(&seeds[0][2..]);
    let mut messages = 0;
    while let Some(m) = decoder.next_message().expect("a valid seed") {
        assert_eq!(m.header_str(":message-type"), Some("event"));
        messages += 1;
    }
    assert_eq!(messages, 5);
    assert_eq!(decoder.finish(), Ok(()));
}

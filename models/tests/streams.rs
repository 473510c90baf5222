use fin_r1_engine::sampler::{Rng, Sampler, SamplingParams};
use fin_r1_engine::stream::{StopMatcher, Utf8Stream};

#[test]
fn utf8_stream_never_emits_a_broken_character() {
    let text = "现值 ≈ 907.03 € 😀";
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        let mut s = Utf8Stream::default();
        let a = s.push(&bytes[..cut]);
        let b = s.push(&bytes[cut..]);
        assert!(!a.contains('\u{FFFD}') && !b.contains('\u{FFFD}'));
        assert_eq!(format!("{a}{b}{}", s.finish()), text);
    }
    let mut s = Utf8Stream::default();
    let mut out = String::new();
    for b in bytes {
        out.push_str(&s.push(&[*b]));
    }
    assert_eq!(out, text);
}

#[test]
fn utf8_stream_replaces_invalid_bytes_and_goes_on() {
    let mut s = Utf8Stream::default();
    assert_eq!(s.push(b"a\xffb"), "a\u{FFFD}b");
    assert_eq!(s.push(&[0xE4, 0xBD]), "");
    // Regression: a generation cut in the middle of 你 (E4 BD A0) ended with a U+FFFD box on
    // screen and in the store.
    assert_eq!(s.finish(), "");
}

#[test]
fn stop_strings_are_never_shown_even_in_part() {
    let mut m = StopMatcher::new(&["\n\nQuestion:".to_string()]);
    let (a, hit) = m.push("The yield is 5%.\n");
    assert!(!hit);
    assert_eq!(a, "The yield is 5%.");
    let (b, hit) = m.push("\nQuest");
    assert!(!hit && b.is_empty());
    let (c, hit) = m.push("ion: next");
    assert!(hit);
    assert_eq!(c, "");
    let mut m = StopMatcher::new(&["END".to_string()]);
    let (a, hit) = m.push("EN");
    assert!(!hit && a.is_empty());
    let (b, hit) = m.push("d-less, so: EN");
    assert!(!hit);
    assert_eq!(b, "ENd-less, so: ");
    assert_eq!(m.finish(), "EN");
}

#[test]
fn same_seed_same_draws() {
    let mut a = Rng::new(42);
    let mut b = Rng::new(42);
    let mut c = Rng::new(43);
    let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
    let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
    let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);
}

#[test]
fn greedy_top_k_top_p_and_penalty() {
    let logits = vec![1.0f32, 3.0, 2.0, 2.9, -1.0];
    let greedy = SamplingParams { temperature: 0.0, ..SamplingParams::default() };
    assert_eq!(Sampler::new(greedy.clone(), 1, 5).sample(&mut logits.clone()), 1);
    // A repetition penalty on the best token hands greedy decoding to the next one.
    let mut s = Sampler::new(SamplingParams { repetition_penalty: 2.0, ..greedy }, 1, 5);
    s.observe(&[1]);
    assert_eq!(s.sample(&mut logits.clone()), 3);
    // top-k 2 only ever draws the two best tokens.
    let p = SamplingParams { temperature: 1.0, top_k: 2, top_p: 1.0, ..SamplingParams::default() };
    let mut s = Sampler::new(p, 9, 5);
    for _ in 0..200 {
        let t = s.sample(&mut logits.clone());
        assert!(t == 1 || t == 3, "drew {t}");
    }
    // A small top-p keeps only the most likely token.
    let p = SamplingParams { temperature: 1.0, top_k: 0, top_p: 0.1, ..SamplingParams::default() };
    let mut s = Sampler::new(p, 9, 5);
    for _ in 0..50 {
        assert_eq!(s.sample(&mut logits.clone()), 1);
    }
}

//! What crosses the boundaries typed: error kinds keep their stored names, and seeds stay
//! within what the page's numbers hold exactly.

use fin_r1_engine::sampler::MAX_SEED;
use fin_r1_engine::{ErrorKind, SamplingOverrides, SamplingParams};

#[test]
fn an_error_kind_reads_back_as_written_and_an_unknown_one_as_other() {
    for kind in [ErrorKind::PromptTooLong, ErrorKind::RemoteUnreachable, ErrorKind::DiskFull, ErrorKind::NotAHub, ErrorKind::Unfinished] {
        let json = serde_json::to_string(&kind).expect("json");
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(ErrorKind::parse(kind.as_str()), kind);
    }
    // A row a newer build wrote.
    assert_eq!(ErrorKind::parse("gpu_on_fire"), ErrorKind::Other);
    assert_eq!(serde_json::from_str::<ErrorKind>("\"gpu_on_fire\"").expect("other"), ErrorKind::Other);
}

/// Regression: a drawn seed used all 64 bits, so the UI (JavaScript numbers) showed and gave
/// back a different one, and "repeat with this seed" did not repeat.
#[test]
fn seeds_stay_within_what_javascript_numbers_hold() {
    assert_eq!(MAX_SEED, 9_007_199_254_740_991);
    let over = SamplingOverrides { seed: Some(MAX_SEED + 1), ..Default::default() };
    let e = over.validate().expect_err("a seed over 2^53 - 1");
    assert_eq!(e.field, "seed");
    assert!(SamplingOverrides { seed: Some(MAX_SEED), ..Default::default() }.validate().is_ok());
    let params = SamplingParams { seed: Some(u64::MAX), ..Default::default() };
    assert!(params.validate().is_err());
}

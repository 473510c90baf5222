//! The panic hook: a crash report in the log folder, its path on standard error, and a note the
//! next start turns into a notice. (Its own test binary: the hook is process-wide.)

use fin_r1_desktop::logging;
use fin_r1_tests::scratch_dir;

#[test]
fn a_panic_leaves_a_crash_report_the_next_start_tells_of() {
    let data = scratch_dir().join(format!("shell-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    logging::install_panic_hook(&data);
    let result = std::thread::Builder::new().name("answer-worker".into()).spawn(|| panic!("a model file that lies about its shapes")).expect("thread").join();
    assert!(result.is_err());
    let report = logging::take_crash_notice(&data).expect("a note for the next start");
    let text = std::fs::read_to_string(&report).expect("the crash report");
    assert!(report.starts_with(data.join("logs")), "{}", report.display());
    for want in ["Fin-R1 Desktop", "a model file that lies about its shapes", "Thread: answer-worker", "Backtrace:"] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    assert!(logging::take_crash_notice(&data).is_none(), "told once");
}

//! The think/answer splitter must give the same reasoning and answer however the text is cut
//! into chunks: tags split across chunks are the normal case with Qwen2.5's tokenizer.

use fin_r1_engine::splitter::{boxed_answer, Piece, ThinkSplitter};

fn run(chunks: &[&str], opened: bool) -> (String, String, bool) {
    let mut s = ThinkSplitter::new(opened);
    let mut pieces = Vec::new();
    for c in chunks {
        pieces.extend(s.push(c));
    }
    pieces.extend(s.finish());
    let (mut r, mut a) = (String::new(), String::new());
    let mut seen_answer = false;
    for p in pieces {
        match p {
            Piece::Reasoning(t) => {
                assert!(!seen_answer, "reasoning after the answer started");
                r.push_str(&t)
            }
            Piece::Answer(t) => {
                seen_answer = true;
                a.push_str(&t)
            }
            // Written back as the text it was, for the answer's comparisons.
            Piece::ToolCall(t) => {
                seen_answer = true;
                a.push_str(&format!("<tool_call>{t}</tool_call>"))
            }
            Piece::UnclosedToolCall(t) => {
                seen_answer = true;
                a.push_str(&format!("<tool_call>{t}"))
            }
        }
    }
    (r, a, s.reasoning_unterminated())
}

struct Case {
    text: &'static str,
    opened: bool,
    reasoning: &'static str,
    answer: &'static str,
    unterminated: bool,
}

const CASES: &[Case] = &[
    Case {
        text: "<think>\nThe cash flow arrives in 2 years.\nPV = 1000/1.05^2\n</think>\n\nThe present value is $907.03.",
        opened: false,
        reasoning: "The cash flow arrives in 2 years.\nPV = 1000/1.05^2",
        answer: "The present value is $907.03.",
        unterminated: false,
    },
    Case {
        text: "<think>\n用户问的是现值。折现两年。\n</think>\n<answer>\n现值约为 **907.03** 元，即 \\boxed{907.03}\n</answer>",
        opened: false,
        reasoning: "用户问的是现值。折现两年。",
        answer: "现值约为 **907.03** 元，即 \\boxed{907.03}",
        unterminated: false,
    },
    Case {
        // The template opened <think>: only the closing tag is seen.
        text: "Discount twice at 5%.\n</think>\n\nAbout $907.",
        opened: true,
        reasoning: "Discount twice at 5%.",
        answer: "About $907.",
        unterminated: false,
    },
    Case {
        // Cut off inside the reasoning.
        text: "<think>\nLet me compute the duration of the bond",
        opened: false,
        reasoning: "Let me compute the duration of the bond",
        answer: "",
        unterminated: true,
    },
    Case {
        // No reasoning at all.
        text: "  The answer is 42 < 43 and x<think is not a tag.",
        opened: false,
        reasoning: "",
        answer: "The answer is 42 < 43 and x<think is not a tag.",
        unterminated: false,
    },
    Case {
        // Tags quoted in code inside the reasoning and the answer are text.
        text: "<think>\nThe parser must strip `</think>` tags:\n```python\nout = s.split(\"</think>\")[-1]\n```\nDone.\n</think>\nUse `re.sub(r\"<think>.*</think>\", \"\", s)`:\n```\n<answer>x</answer>\n</think>\n```\nThat is all.",
        opened: false,
        reasoning: "The parser must strip `</think>` tags:\n```python\nout = s.split(\"</think>\")[-1]\n```\nDone.",
        answer: "Use `re.sub(r\"<think>.*</think>\", \"\", s)`:\n```\n<answer>x</answer>\n</think>\n```\nThat is all.",
        unterminated: false,
    },
    Case {
        // An answer wrapper without reasoning, and a duplicated opening tag after the prompt's.
        text: "<answer>Yes: the covenant is breached.</answer>",
        opened: false,
        reasoning: "",
        answer: "Yes: the covenant is breached.",
        unterminated: false,
    },
    Case {
        text: "<think>\nR1 repeats the tag.\n</think>\n\n\\boxed{B}",
        opened: true,
        reasoning: "R1 repeats the tag.",
        answer: "\\boxed{B}",
        unterminated: false,
    },
    Case {
        text: "<think></think>Direct answer.",
        opened: false,
        reasoning: "",
        answer: "Direct answer.",
        unterminated: false,
    },
];

#[test]
fn whole_text_gives_expected_parts() {
    for c in CASES {
        let (r, a, u) = run(&[c.text], c.opened);
        assert_eq!((r.as_str(), a.as_str(), u), (c.reasoning, c.answer, c.unterminated), "case {:?}", c.text);
    }
}

#[test]
fn every_split_point_gives_the_same_parts() {
    for c in CASES {
        let whole = run(&[c.text], c.opened);
        let bounds: Vec<usize> = (0..=c.text.len()).filter(|&i| c.text.is_char_boundary(i)).collect();
        for &i in &bounds {
            let got = run(&[&c.text[..i], &c.text[i..]], c.opened);
            assert_eq!(got, whole, "split at {i} of {:?}", c.text);
        }
        // And two cuts, including the ones that break every tag in three.
        for &i in bounds.iter().step_by(3) {
            for &j in bounds.iter().filter(|&&j| j >= i).step_by(2) {
                let got = run(&[&c.text[..i], &c.text[i..j], &c.text[j..]], c.opened);
                assert_eq!(got, whole, "split at {i},{j} of {:?}", c.text);
            }
        }
        // One character at a time, as a token stream of single characters.
        let chars: Vec<String> = c.text.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&refs, c.opened), whole, "char by char {:?}", c.text);
    }
}

#[test]
fn partial_tag_is_held_back_until_decided() {
    let mut s = ThinkSplitter::new(false);
    assert!(s.push("<thi").is_empty());
    assert!(s.push("nk>\nStep one").iter().all(|p| matches!(p, Piece::Reasoning(_))));
    assert_eq!(s.push(" </th"), vec![]);
    assert_eq!(s.push("ink>\n\nDone"), vec![Piece::Answer("Done".into())]);
}

#[test]
fn boxed_answers_are_found() {
    assert_eq!(boxed_answer("so \\boxed{907.03}."), Some("907.03"));
    assert_eq!(boxed_answer("\\boxed{1} then \\boxed{\\frac{1}{2}}"), Some("\\frac{1}{2}"));
    assert_eq!(boxed_answer("\\boxed{unclosed"), None);
    assert_eq!(boxed_answer("no box"), None);
}

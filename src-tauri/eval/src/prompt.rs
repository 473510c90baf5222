//! The question a model is asked for an item: in the item's language, saying how to answer for
//! its kind. The answer format itself (reasoning, then `<answer>`) is the system prompt's.

use super::item::{Item, Kind};

/// Bumped whenever the wording changes: a run's config records it, and `--resume` refuses to mix.
pub const PROMPT_VERSION: u32 = 1;

pub fn user_prompt(item: &Item) -> String {
    let zh = item.is_chinese();
    let mut p = String::new();
    if let Some(c) = item.context.as_deref().filter(|c| !c.trim().is_empty()) {
        p.push_str(if zh { "材料：\n" } else { "Context:\n" });
        p.push_str(c.trim());
        p.push_str("\n\n");
    }
    if item.kind == Kind::Label {
        p.push_str(if zh {
            "判断下面这条财经资讯的情绪（看跌、看涨或中性）：\n"
        } else {
            "Classify the sentiment of this financial news as bearish, bullish or neutral:\n"
        });
        p.push_str(item.question.trim());
    } else {
        p.push_str(if zh { "问题：" } else { "Question: " });
        p.push_str(item.question.trim());
    }
    if let Some(choices) = &item.choices {
        p.push('\n');
        for (letter, text) in choices {
            p.push_str(&format!("\n{letter}. {text}"));
        }
    }
    p.push_str("\n\n");
    p.push_str(match (item.kind, zh) {
        (Kind::Numeric, false) => "Give the final answer as a single number (a percentage as a number with %).",
        (Kind::Numeric, true) => "最终答案请给出一个数字（百分比写成带 % 的数字）。",
        (Kind::Choice, false) => "Answer with the letter of the correct option.",
        (Kind::Choice, true) => "请给出正确选项的字母。",
        (Kind::Yesno, false) => "Answer yes or no.",
        (Kind::Yesno, true) => "请回答“是”或“否”。",
        (Kind::Label, false) => "Answer with one word: bearish, bullish or neutral.",
        (Kind::Label, true) => "请只回答一个词：看跌、看涨或中性。",
        (Kind::Span, false) => "Answer with the words of the text or the table.",
        (Kind::Span, true) => "请用材料中的原文作答。",
    });
    p
}

//! A conversation's title: stored whole (its first question, or what the analyst renamed it
//! to), shown short where space is short. Reports and exports use the whole first line.

/// The title a new conversation gets: the whole question, trimmed.
pub fn of_question(question: &str) -> String {
    let q = question.trim();
    if q.is_empty() {
        "New conversation".to_owned()
    } else {
        q.to_owned()
    }
}

/// The first non-empty line, whole: a report's heading.
pub fn first_line(title: &str) -> &str {
    title.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

/// The first line in at most `max` characters, cut at a word where there is one in the second
/// half (Chinese has no spaces: cut at the limit), with "…" when cut.
pub fn short(title: &str, max: usize) -> String {
    let line = first_line(title);
    let more_lines = title.trim().len() > line.len();
    if line.chars().count() <= max {
        return if more_lines { format!("{line} …") } else { line.to_owned() };
    }
    let cut: String = line.chars().take(max).collect();
    // The cut falls between words when the next character is a space.
    let next_is_space = line.chars().nth(max).is_some_and(char::is_whitespace);
    let at_word = if next_is_space { Some(cut.len()) } else { cut.rfind(char::is_whitespace) }.filter(|&i| cut[..i].chars().count() >= max / 2);
    let head = at_word.map_or(cut.as_str(), |i| &cut[..i]).trim_end_matches(|c: char| c.is_whitespace() || ",;:，；：、".contains(c));
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_question_is_kept_and_shown_short() {
        let q = "  What is the NPV of a project costing $1m with inflows of $300k a year for five years at 8%?\nShow the working.  ";
        let title = of_question(q);
        assert_eq!(title, q.trim());
        assert_eq!(first_line(&title), "What is the NPV of a project costing $1m with inflows of $300k a year for five years at 8%?");
        assert_eq!(short(&title, 40), "What is the NPV of a project costing $1m…");
        assert_eq!(short("Short one", 40), "Short one");
        assert_eq!(short("Line one\nline two", 40), "Line one …");
        let zh = "上市公司董事在定期报告公告前15日内买入本公司股票，是否构成窗口期违规？";
        assert_eq!(short(zh, 12), "上市公司董事在定期报告公…");
        assert_eq!(of_question("  \n "), "New conversation");
    }
}

//! The calculation check: every `expression = result` (or `≈`, `约`, chains `a = b = c`) a model
//! states, the expression computed exactly and the result compared at the precision it was
//! written in. `≈ 12.5%` agrees with 12.506 %; `= 907.02` does not agree with 907.0295.
//!
//! A statement is checked only where its left side is arithmetic (at least one operation) and
//! its right side a number; everything else — dates, ranges, section numbers, `Q3 2024`, code —
//! is left alone.

use std::ops::Range;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::expr::Parser;
use crate::lex::{lex, Bracket, Op, Tok, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Agrees,
    Differs,
}

/// One checked statement; spans are byte ranges of the text checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The arithmetic (`1000 / 1.05^2`).
    pub expression: Range<usize>,
    /// The result as written (`907.03`, `12.5%`, `536万元`).
    pub stated: Range<usize>,
    pub approx: bool,
    /// The expression's exact value.
    pub exact: Decimal,
    /// The exact value in the result's own units and precision plus two digits (`907.0295`,
    /// `12.51%`): what the reader compares with.
    pub recomputed: String,
    pub verdict: Verdict,
}

impl Finding {
    /// From the expression's start to the result's end.
    pub fn statement(&self) -> Range<usize> {
        self.expression.start.min(self.stated.start)..self.stated.end.max(self.expression.end)
    }

    /// The statement as written in `text` (the text checked), on one line; empty where `text`
    /// is not that text.
    pub fn statement_text(&self, text: &str) -> String {
        text.get(self.statement()).unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Summary {
    pub checked: u32,
    pub agree: u32,
    pub differ: u32,
}

impl Summary {
    pub fn add(&mut self, other: Summary) {
        self.checked += other.checked;
        self.agree += other.agree;
        self.differ += other.differ;
    }
}

pub fn summarise<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Summary {
    let mut s = Summary::default();
    for f in findings {
        s.checked += 1;
        match f.verdict {
            Verdict::Agrees => s.agree += 1,
            Verdict::Differs => s.differ += 1,
        }
    }
    s
}

/// A runaway text is checked in its first part only; a model's answer is far shorter.
const MAX_TEXT: usize = 2 << 20;
/// The longest left side looked back over, in tokens.
const MAX_LEFT: usize = 120;

/// Every calculation stated in `text`, in the order they stand.
pub fn check(text: &str) -> Vec<Finding> {
    let mut cut = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let tokens = lex(&text[..cut]);
    let mut out = Vec::new();
    for run in tokens.split(|t| t.tok == Tok::Break) {
        check_run(run, &mut out);
    }
    out
}

struct Expr {
    value: Decimal,
    span: Range<usize>,
    /// Written with no scale at all (`4822 − 4286`): a result's `万元` then names the unit of
    /// the whole line, not a multiplier on one side.
    unscaled: bool,
}

struct Stated {
    value: Decimal,
    /// Half a unit in the last place written, in the value's own terms.
    tolerance: Decimal,
    percent: bool,
    /// The scales written after it, multiplied (万 → 10⁴).
    scale: Decimal,
    decimals: u32,
    span: Range<usize>,
    /// Tokens read.
    len: usize,
}

fn span_of(run: &[Token]) -> Range<usize> {
    match (run.first(), run.last()) {
        (Some(a), Some(b)) => a.span.start..b.span.end,
        _ => 0..0,
    }
}

/// The whole slice as one expression with at least one operation.
fn calculation(run: &[Token]) -> Option<Expr> {
    if run.is_empty() {
        return None;
    }
    let mut p = Parser::new(run);
    let value = p.expr().ok()?;
    let unscaled = !run.iter().any(|t| matches!(t.tok, Tok::Scale(_)));
    (p.i == run.len() && p.ops > 0).then(|| Expr { value, span: span_of(run), unscaled })
}

/// The longest calculation that ends where `run` ends.
fn calculation_before(run: &[Token]) -> Option<Expr> {
    let from = run.len().saturating_sub(MAX_LEFT);
    (from..run.len()).find_map(|s| {
        // A left side starts where an operand can.
        matches!(run[s].tok, Tok::Num { .. } | Tok::Open(_) | Tok::Frac | Tok::Sqrt | Tok::Ln | Tok::Op(Op::Sub)).then(|| calculation(&run[s..])).flatten()
    })
}

/// A result as written at the start of `run`: `907.03`, `-536`, `12.5%`, `536万`, `(1,800)`,
/// `\boxed{907.03}`.
fn stated(run: &[Token], approx: bool) -> Option<Stated> {
    let mut i = 0;
    let mut negative = false;
    let mut closers = Vec::new();
    loop {
        match run.get(i).map(|t| &t.tok) {
            Some(Tok::Op(Op::Sub)) if !negative => negative = true,
            Some(Tok::Op(Op::Add)) => {}
            // `(1,800)`: negative; `{907.03}` (a box, a group): as is.
            Some(Tok::Open(Bracket::Paren)) if closers.is_empty() && !negative => {
                negative = true;
                closers.push(Bracket::Paren);
            }
            Some(Tok::Open(Bracket::Brace)) => closers.push(Bracket::Brace),
            _ => break,
        }
        i += 1;
        if closers.len() > 4 {
            return None;
        }
    }
    let first = i;
    let Some(Tok::Num { value, decimals, trailing_zeros, .. }) = run.get(i).map(|t| &t.tok) else { return None };
    let (mut value, decimals, trailing_zeros) = (*value, *decimals, *trailing_zeros);
    i += 1;
    let mut scale = Decimal::ONE;
    let mut percent = false;
    loop {
        match run.get(i).map(|t| &t.tok) {
            Some(Tok::Scale(s)) if !percent => scale = scale.checked_mul(*s)?,
            Some(Tok::Percent) if !percent => percent = true,
            _ => break,
        }
        i += 1;
    }
    let mut end = run[i - 1].span.end;
    for want in closers.iter().rev() {
        if run.get(i).map(|t| &t.tok) != Some(&Tok::Close(*want)) {
            return None;
        }
        if *want == Bracket::Paren {
            end = run[i].span.end;
        }
        i += 1;
    }
    // `(21.08) million`: a scale after the brackets.
    while let Some(Tok::Scale(s)) = run.get(i).map(|t| &t.tok) {
        scale = scale.checked_mul(*s)?;
        end = run[i].span.end;
        i += 1;
    }
    // `= 536 × 2`: the rest is arithmetic, so this is no result.
    if matches!(run.get(i).map(|t| &t.tok), Some(Tok::Op(_) | Tok::Num { .. } | Tok::Frac | Tok::Sqrt | Tok::Ln)) {
        return None;
    }
    // More decimals than a decimal holds (a repeating model's 0.333…): not a stated precision.
    let mut tolerance = Decimal::try_new(5, decimals.checked_add(1)?).ok()?;
    if approx && decimals == 0 && trailing_zeros > 0 {
        // `≈ 900`: to the hundred, but never looser than a tenth of the value (`≈ 200` for 240
        // does not agree).
        let place = Decimal::new(5, 1).checked_mul(Decimal::from(10u64.pow(trailing_zeros.min(18))))?;
        tolerance = place.min(value.abs() / Decimal::TEN).max(tolerance);
    }
    let unit = if percent { scale / Decimal::ONE_HUNDRED } else { scale };
    value = value.checked_mul(unit)?;
    if negative {
        value = -value;
    }
    // The mark goes on the number as written, inside a box's braces (so `\boxed{…}` still
    // renders) but around an accountant's brackets.
    let from = if closers.first() == Some(&Bracket::Brace) { run[..first].iter().position(|t| t.tok != Tok::Open(Bracket::Brace)).unwrap_or(first) } else { 0 };
    Some(Stated { value, tolerance: tolerance.checked_mul(unit)?, percent, scale, decimals, span: run[from].span.start..end, len: i })
}

/// `|a − b| ≤ tolerance`, false where the difference is out of a decimal's range.
fn within(a: Decimal, b: Decimal, tolerance: Decimal) -> bool {
    // The last digit of a 28-digit quotient is itself rounded.
    let slack = b.abs().checked_add(Decimal::ONE).and_then(|m| m.checked_mul(Decimal::new(1, 20))).unwrap_or(Decimal::ZERO);
    match (a.checked_sub(b), tolerance.checked_add(slack)) {
        (Some(d), Some(t)) => d.abs() <= t,
        _ => false,
    }
}

/// The readings of a stated result, in the expression's terms: (value, tolerance, shown
/// as a percentage). The first is the plain one.
fn readings(e: &Expr, s: &Stated) -> Vec<(Decimal, Decimal, bool)> {
    let mut out = vec![(s.value, s.tolerance, s.percent)];
    // `4822 − 4286 = 536万元`: the scale is the line's unit.
    if e.unscaled && s.scale != Decimal::ONE && !s.scale.is_zero() {
        if let (Some(v), Some(t)) = (s.value.checked_div(s.scale), s.tolerance.checked_div(s.scale)) {
            out.push((v, t, s.percent));
            if s.percent {
                if let (Some(v), Some(t)) = (v.checked_mul(Decimal::ONE_HUNDRED), t.checked_mul(Decimal::ONE_HUNDRED)) {
                    out.push((v, t, false));
                }
            }
        }
    }
    // `536 / 4,286 × 100 = 12.5%`: the percent sign names the unit, not a hundredth.
    if s.percent {
        if let (Some(v), Some(t)) = (s.value.checked_mul(Decimal::ONE_HUNDRED), s.tolerance.checked_mul(Decimal::ONE_HUNDRED)) {
            out.push((v, t, false));
        }
    }
    out
}

fn agrees(e: &Expr, s: &Stated) -> bool {
    readings(e, s).into_iter().any(|(v, t, _)| within(e.value, v, t))
}

fn finding(expr: &Expr, s: &Stated, approx: bool) -> Finding {
    let verdict = if agrees(expr, s) { Verdict::Agrees } else { Verdict::Differs };
    let scale = if expr.unscaled { Decimal::ONE } else { s.scale };
    // The reading nearest the stated value: `× 100 = 12.6%` is recomputed as 12.506%, not 1250%.
    let as_written = s.percent && {
        let near = |v: Decimal| expr.value.checked_sub(v).map(|d| d.abs());
        matches!((near(s.value.checked_mul(Decimal::ONE_HUNDRED).unwrap_or(Decimal::MAX)), near(s.value)), (Some(a), Some(b)) if a < b)
    };
    let unit = if s.percent && !as_written { scale / Decimal::ONE_HUNDRED } else { scale };
    let shown = expr.value.checked_div(unit).unwrap_or(expr.value);
    let suffix = if s.percent { "%" } else { "" };
    Finding {
        expression: expr.span.clone(),
        stated: s.span.clone(),
        approx,
        exact: expr.value,
        recomputed: format!("{}{suffix}", shown.round_dp(s.decimals + 2).normalize()),
        verdict,
    }
}

fn check_run(run: &[Token], out: &mut Vec<Finding>) {
    let rels: Vec<usize> = run.iter().enumerate().filter(|(_, t)| matches!(t.tok, Tok::Rel { .. })).map(|(i, _)| i).collect();
    let Some(&first) = rels.first() else { return };
    let mut reference: Option<Expr> = calculation_before(&run[..first]);
    for (k, &r) in rels.iter().enumerate() {
        let Tok::Rel { approx } = run[r].tok else { continue };
        let seg = &run[r + 1..rels.get(k + 1).copied().unwrap_or(run.len())];
        // A whole segment that is arithmetic (`= 1000 / 1.1025 =`) is the new reference.
        if let Some(e) = calculation(seg) {
            reference = Some(e);
            continue;
        }
        match stated(seg, approx) {
            Some(s) => {
                if let Some(e) = &reference {
                    out.push(finding(e, &s, approx));
                }
                // `= 536 (12.5%) = …`: what follows the result may start a new chain.
                if s.len < seg.len() {
                    reference = calculation_before(&seg[s.len..]);
                }
            }
            None => reference = calculation_before(seg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (result as written, agrees) for each statement found.
    fn verdicts(text: &str) -> Vec<(String, bool)> {
        check(text).iter().map(|f| (text[f.stated.clone()].to_owned(), f.verdict == Verdict::Agrees)).collect()
    }

    fn one(text: &str, stated: &str, agrees: bool) {
        assert_eq!(verdicts(text), vec![(stated.to_owned(), agrees)], "{text}");
    }

    #[test]
    fn results_are_compared_at_the_precision_they_were_written_in() {
        one("PV = 1000 / 1.05^2 = 907.03", "907.03", true);
        one("PV = 1000 / 1.05^2 = 907.02", "907.02", false);
        one("1000 / 1.05^2 ≈ 907", "907", true);
        one("536 / 4,286 ≈ 12.5%", "12.5%", true);
        one("536 / 4,286 ≈ 12.6%", "12.6%", false);
        one("536 / 4,286 × 100 = 12.51%", "12.51%", true);
        one("536 / 4,286 = 0.1250", "0.1250", false);
        one("4,822 − 4,286 = 536", "536", true);
        one("4,822 - 4,286 = 563", "563", false);
        one("0.1 + 0.2 = 0.3", "0.3", true);
        one("1000 × 1.05 ≈ 1,000", "1,000", true);
        one("1000 × 1.05 = 1,000", "1,000", false);
    }

    #[test]
    fn chains_compare_every_result_with_the_exact_value() {
        assert_eq!(verdicts("(4,822 − 4,286) / 4,286 = 536 / 4,286 = 0.1251 = 12.51%"), vec![("0.1251".into(), true), ("12.51%".into(), true)]);
        assert_eq!(verdicts("x = 1000/1.05^2 = 1000/1.1025 = 907.03"), vec![("907.03".into(), true)]);
        assert_eq!(verdicts("1.05^2 = 1.1025, 1000 / 1.1025 = 907.03."), vec![("1.1025".into(), true), ("907.03".into(), true)]);
    }

    #[test]
    fn latex_chinese_and_accounting_forms() {
        one(r"$$PV = \frac{1000}{(1+5\%)^{2}} \approx 907.03$$", "907.03", true);
        one(r"\[ \frac{536}{4{,}286} \times 100\% \approx 12.5\% \]", r"12.5\%", true);
        one(r"\boxed{1000 \times 1.05^2 = 1102.5}", "1102.5", true);
        one(r"收益 = 1000 \times (1 + 5\%)^2 = \boxed{1102.5}", "1102.5", true);
        one("毛利＝４８２２－４２８６＝５３６万元", "５３６万", true);
        one("增长率 = 536 ÷ 4286 约 12.5%", "12.5%", true);
        one("增长率 = 536 ÷ 4286 = 约12.5％", "12.5％", true);
        one("营业利润：4822 万元 − 4286 万元 = 536 万元", "536 万", true);
        one("4.8亿 - 3.2亿 = 1.6亿元", "1.6亿", true);
        one("4.8亿 - 3.2亿 = 16000万", "16000万", true);
        one("(1,200) + 3,000 = 1,800", "1,800", true);
        one("1,200 − 3,000 = (1,800)", "(1,800)", true);
        one("$4,822 - $4,286 = $536", "536", true);
        one("2.5 million × 4 = 10 million", "10 million", true);
        one("15% - 12% = 3个百分点", "3个百分点", true);
        one("**Net income** = 1,200 × 0.35 = **420**", "420", true);
    }

    #[test]
    fn what_is_not_a_calculation_is_left_alone() {
        for text in [
            "The period 2019-2023 saw growth; see section 3.2.1.",
            "Call 010-8888-1234 before 2024-01-15.",
            "Q3 2024 revenue = 4,822",
            "Revenue = 4,822 million",
            "x = 5",
            "约 30% 的公司",
            "ratio 1:2 = 50%",
            "`total = 4822 - 4286 = 500`",
            "```python\nx = 1000 / 1.05 ** 2  # = 900\n```",
            "EPS = net income / shares = 2.5",
            "第3.2节 = 附注",
            "FY2024 = FY2023 + 10%",
            "from 2019–2023 = 5 years",
            "a == b",
            "12/31/2024 = year end",
        ] {
            assert_eq!(verdicts(text), vec![], "{text}");
        }
    }

    #[test]
    fn a_list_line_does_not_run_into_the_next() {
        assert_eq!(verdicts("- revenue = 4822\n- 4286 + 100 = 4386"), vec![("4386".into(), true)]);
    }

    #[test]
    fn the_recomputed_value_is_in_the_results_units() {
        let f = &check("536 / 4,286 = 12.6%")[0];
        assert_eq!(f.recomputed, "12.506%");
        let f = &check("1000 / 1.05^2 = 907.02")[0];
        assert_eq!(f.recomputed, "907.0295");
        let f = &check("4822万 - 4286万 = 546万")[0];
        assert_eq!(f.recomputed, "536");
        let f = &check("536 / 4,286 × 100 = 12.6%")[0];
        assert_eq!(f.recomputed, "12.506%");
        assert_eq!(check("1000 × 1.5 ≈ 1,000")[0].verdict, Verdict::Differs, "≈ is no licence for 50%");
        assert!(check("an area of 100 m² × 2 = 200 m²").iter().all(|f| f.verdict == Verdict::Agrees));
    }

    #[test]
    fn hostile_text_is_bounded() {
        let deep = format!("{}1{} = 1", "(".repeat(50_000), ")".repeat(50_000));
        let _ = check(&deep);
        let long = "1 + ".repeat(200_000) + "1 = 3";
        let _ = check(&long);
        let _ = check(&"= ".repeat(100_000));
        let _ = check("9".repeat(100).as_str());
        let _ = check(&format!("= {}4 = 2", "\\sqrt".repeat(200_000)));
        let _ = check(&format!("= {}4 = 2", "\\ln".repeat(200_000)));
        // More decimals than a decimal holds, results at the edge of its range.
        assert_eq!(check(&format!("1/3 = 0.{}", "3".repeat(40))).len(), 0);
        let _ = check("1+1 = 79228162514264337593543950335");
        let _ = check("79228162514264337593543950335 + 1 = 5%");
        let _ = check("79228162514264337593543950335 * 1 = 79228162514264337593543950335%");
        let _ = check("0.0000000000000000000000000001 / 1 = 0.0000000000000000000000000001万");
    }
}

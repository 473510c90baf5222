//! The one expression evaluator: exact decimal arithmetic over the tokens `lex` reads, for the
//! calculation check and the calculator alike.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps};

use crate::lex::{lex, Bracket, Op, Tok, Token};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("not an expression the calculator reads: {0}")]
    Syntax(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("the result is out of the range of exact decimals (about ±7.9e28, 28 digits)")]
    Overflow,
    #[error("{0}")]
    Domain(&'static str),
}

/// Evaluates one expression (`(4,822 − 4,286) / 4,286`, `1000/1.05^2`, `\frac{1}{3}`, `5%`).
pub fn evaluate(text: &str) -> Result<Decimal, EvalError> {
    let tokens = lex(text);
    if tokens.iter().any(|t| matches!(t.tok, Tok::Break | Tok::Rel { .. })) {
        let bad = tokens.iter().find(|t| matches!(t.tok, Tok::Break | Tok::Rel { .. })).map(|t| text[t.span.clone()].to_owned()).unwrap_or_default();
        return Err(EvalError::Syntax(format!("cannot read {bad:?}")));
    }
    let mut p = Parser::new(&tokens);
    let v = p.expr().map_err(|e| e.unwrap_or_else(|| EvalError::Syntax("incomplete expression".into())))?;
    if p.i != tokens.len() {
        return Err(EvalError::Syntax(format!("cannot read {:?}", &text[tokens[p.i].span.start..])));
    }
    Ok(v)
}

/// `Err(None)`: the tokens are not an expression; `Err(Some(_))`: one that cannot be computed.
pub(crate) type Parsed = Result<Decimal, Option<EvalError>>;

pub(crate) struct Parser<'a> {
    t: &'a [Token],
    pub i: usize,
    /// Operations done: an expression with none (`536`, `-5`, `12%`) is a number, not a calculation.
    pub ops: u32,
    depth: u32,
}

const MAX_DEPTH: u32 = 100;

fn syntax<T>() -> Result<T, Option<EvalError>> {
    Err(None)
}

impl<'a> Parser<'a> {
    pub fn new(t: &'a [Token]) -> Self {
        Self { t, i: 0, ops: 0, depth: 0 }
    }
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|t| &t.tok)
    }

    pub fn expr(&mut self) -> Parsed {
        let mut v = self.term()?;
        loop {
            match self.peek() {
                Some(Tok::Op(Op::Add)) => {
                    self.i += 1;
                    let r = self.term()?;
                    v = v.checked_add(r).ok_or(Some(EvalError::Overflow))?;
                }
                Some(Tok::Op(Op::Sub)) => {
                    self.i += 1;
                    let r = self.term()?;
                    v = v.checked_sub(r).ok_or(Some(EvalError::Overflow))?;
                }
                _ => return Ok(v),
            }
            self.ops += 1;
        }
    }

    fn term(&mut self) -> Parsed {
        let mut v = self.unary()?;
        loop {
            let implicit = match self.t.get(self.i) {
                Some(Token { tok: Tok::Open(Bracket::Paren), space_before, .. }) => {
                    // `1000(1.05)^2`, `(1+r)(1+g)`; never `536 (12.5%)`.
                    !space_before || matches!(self.t.get(self.i.wrapping_sub(1)).map(|t| &t.tok), Some(Tok::Close(_)))
                }
                Some(Token { tok: Tok::Frac | Tok::Sqrt, .. }) => true,
                _ => false,
            };
            match self.peek() {
                Some(Tok::Op(Op::Mul)) => {
                    self.i += 1;
                    let r = self.unary()?;
                    v = v.checked_mul(r).ok_or(Some(EvalError::Overflow))?;
                }
                Some(Tok::Op(Op::Div)) => {
                    self.i += 1;
                    let r = self.unary()?;
                    if r.is_zero() {
                        return Err(Some(EvalError::DivisionByZero));
                    }
                    v = v.checked_div(r).ok_or(Some(EvalError::Overflow))?;
                }
                _ if implicit => {
                    let r = self.unary()?;
                    v = v.checked_mul(r).ok_or(Some(EvalError::Overflow))?;
                }
                _ => return Ok(v),
            }
            self.ops += 1;
        }
    }

    /// One level deeper: every recursion passes `unary` or `primary`, so ten thousand `(`,
    /// `-` or `\sqrt` cannot exhaust the stack.
    fn nested(&mut self, f: fn(&mut Self) -> Parsed) -> Parsed {
        if self.depth >= MAX_DEPTH {
            return Err(Some(EvalError::Syntax(format!("nested deeper than {MAX_DEPTH} levels"))));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn unary(&mut self) -> Parsed {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> Parsed {
        match self.peek() {
            Some(Tok::Op(Op::Sub)) => {
                self.i += 1;
                Ok(-self.unary()?)
            }
            Some(Tok::Op(Op::Add)) => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Parsed {
        let base = self.postfix()?;
        if self.peek() != Some(&Tok::Op(Op::Pow)) {
            return Ok(base);
        }
        self.i += 1;
        let exp = self.unary()?;
        self.ops += 1;
        let v = pow(base, exp)?;
        // `(1+5%)^2 万` is rare, but a percent or scale after a power still applies.
        self.suffixes(v)
    }

    fn postfix(&mut self) -> Parsed {
        let v = self.primary()?;
        self.suffixes(v)
    }

    fn suffixes(&mut self, mut v: Decimal) -> Parsed {
        loop {
            match self.peek() {
                Some(Tok::Percent) => v /= Decimal::ONE_HUNDRED,
                Some(Tok::Scale(s)) => v = v.checked_mul(*s).ok_or(Some(EvalError::Overflow))?,
                _ => return Ok(v),
            }
            self.i += 1;
        }
    }

    fn group(&mut self, kind: Bracket) -> Parsed {
        if self.peek() != Some(&Tok::Open(kind)) {
            return syntax();
        }
        self.i += 1;
        let v = self.expr()?;
        if self.peek() != Some(&Tok::Close(kind)) {
            return syntax();
        }
        self.i += 1;
        Ok(v)
    }

    fn primary(&mut self) -> Parsed {
        // `\sqrt\sqrt\sqrt…` and `\ln\ln…` nest here without passing `unary`.
        self.nested(Self::primary_inner)
    }

    fn primary_inner(&mut self) -> Parsed {
        match self.peek().cloned() {
            Some(Tok::Num { value, .. }) => {
                self.i += 1;
                Ok(value)
            }
            Some(Tok::Open(kind)) => {
                // `(1,234)`: an accountant's negative, not a group (never before a power).
                if kind == Bracket::Paren {
                    if let (Some(Tok::Num { value, grouped: true, .. }), Some(Tok::Close(Bracket::Paren))) =
                        (self.t.get(self.i + 1).map(|t| &t.tok), self.t.get(self.i + 2).map(|t| &t.tok))
                    {
                        if self.t.get(self.i + 3).map(|t| &t.tok) != Some(&Tok::Op(Op::Pow)) {
                            self.i += 3;
                            return Ok(-*value);
                        }
                    }
                }
                self.group(kind)
            }
            Some(Tok::Frac) => {
                self.i += 1;
                let n = self.group(Bracket::Brace)?;
                let d = self.group(Bracket::Brace)?;
                self.ops += 1;
                if d.is_zero() {
                    return Err(Some(EvalError::DivisionByZero));
                }
                n.checked_div(d).ok_or(Some(EvalError::Overflow))
            }
            Some(Tok::Sqrt) => {
                self.i += 1;
                let degree = if self.peek() == Some(&Tok::Open(Bracket::Square)) { Some(self.group(Bracket::Square)?) } else { None };
                let v = self.postfix()?;
                self.ops += 1;
                match degree {
                    None => v.sqrt().ok_or(Some(EvalError::Domain("the square root of a negative number"))),
                    Some(n) if n.is_zero() => Err(Some(EvalError::DivisionByZero)),
                    Some(n) => pow(v, Decimal::ONE.checked_div(n).ok_or(Some(EvalError::Overflow))?),
                }
            }
            Some(Tok::Ln) => {
                self.i += 1;
                let v = self.postfix()?;
                self.ops += 1;
                if v <= Decimal::ZERO {
                    return Err(Some(EvalError::Domain("the logarithm of a number not above zero")));
                }
                v.checked_ln().ok_or(Some(EvalError::Overflow))
            }
            _ => syntax(),
        }
    }
}

/// `base^exp`: exact for whole exponents, to 28 digits otherwise.
pub(crate) fn pow(base: Decimal, exp: Decimal) -> Parsed {
    if exp.fract().is_zero() && exp.abs() <= Decimal::from(10_000) {
        let n = exp.to_i64().ok_or(Some(EvalError::Overflow))?;
        if n < 0 && base.is_zero() {
            return Err(Some(EvalError::DivisionByZero));
        }
        return base.checked_powi(n).ok_or(Some(EvalError::Overflow));
    }
    if base < Decimal::ZERO {
        return Err(Some(EvalError::Domain("a fractional power of a negative number")));
    }
    if base.is_zero() {
        return Ok(Decimal::ZERO);
    }
    base.checked_powd(exp).ok_or(Some(EvalError::Overflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> String {
        evaluate(s).map(|d| d.normalize().to_string()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn decimal_not_binary() {
        assert_eq!(ev("0.1 + 0.2"), "0.3");
        assert_eq!(ev("4,822 − 4,286"), "536");
        assert_eq!(ev("1.05^2"), "1.1025");
        assert_eq!(ev("(1+5%)^2"), "1.1025");
        assert_eq!(ev("1000(1.05)^2"), "1102.5");
        assert_eq!(ev("２×（３＋４）"), "14");
        assert_eq!(ev("\\frac{536}{4,286} \\times 100"), ev("536/4286*100"));
        assert_eq!(ev("4822万 - 4286万"), "5360000");
        assert_eq!(ev("1.2 million / 4"), "300000");
        assert_eq!(ev("(1,200) + 3,000"), "1800");
        assert_eq!(ev("2^-1"), "0.5");
        assert_eq!(ev("\\sqrt{16}"), "4");
        assert_eq!(ev("-2^2"), "-4");
        assert_eq!(ev("2 x 3"), "6");
        assert_eq!(ev("1.05²"), "1.1025");
    }

    #[test]
    fn what_cannot_be_computed_is_an_error_not_a_panic() {
        assert_eq!(evaluate("1/0"), Err(EvalError::DivisionByZero));
        assert!(matches!(evaluate("10^100"), Err(EvalError::Overflow)));
        assert!(matches!(evaluate("(-8)^0.5"), Err(EvalError::Domain(_))));
        assert!(matches!(evaluate("2 +"), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate("revenue / 2"), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate("99999999999999999999999999999999999 + 1"), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate("((((((((((1"), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate(&"(".repeat(100_000)), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate(&"-".repeat(100_000)), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate(&format!("{}4", "\\sqrt".repeat(100_000))), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate(&format!("{}4", "\\ln".repeat(100_000))), Err(EvalError::Syntax(_))));
        assert!(matches!(evaluate(&format!("{}4", "sqrt(".repeat(100_000))), Err(EvalError::Syntax(_))));
    }
}

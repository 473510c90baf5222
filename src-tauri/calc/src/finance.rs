//! The finance functions of the calculator, in exact decimals with Excel's conventions (a
//! payment out is negative; `NPV`'s first value falls at the end of the first period; `XNPV`
//! counts days over 365), so an analyst can check any result against a spreadsheet.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::expr::{pow, EvalError};

type R = Result<Decimal, EvalError>;

fn err(e: Option<EvalError>) -> EvalError {
    e.unwrap_or(EvalError::Overflow)
}

fn powi(base: Decimal, n: Decimal) -> R {
    pow(base, n).map_err(err)
}

fn div(a: Decimal, b: Decimal) -> R {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    a.checked_div(b).ok_or(EvalError::Overflow)
}

fn mul(a: Decimal, b: Decimal) -> R {
    a.checked_mul(b).ok_or(EvalError::Overflow)
}

fn add(a: Decimal, b: Decimal) -> R {
    a.checked_add(b).ok_or(EvalError::Overflow)
}

fn sub(a: Decimal, b: Decimal) -> R {
    a.checked_sub(b).ok_or(EvalError::Overflow)
}

/// `1 + r` (and `1 + r` for payments due at the start, else 1), out of range an error.
fn one_plus(r: Decimal) -> R {
    add(Decimal::ONE, r)
}

/// Present value of a level annuity and a final amount (Excel `PV`); `due`: payments at the
/// start of each period.
pub fn pv(rate: Decimal, nper: Decimal, pmt: Decimal, fv: Decimal, due: bool) -> R {
    if rate.is_zero() {
        return Ok(-(add(mul(pmt, nper)?, fv)?));
    }
    let g = powi(one_plus(rate)?, nper)?;
    let annuity = mul(mul(pmt, one_plus(if due { rate } else { Decimal::ZERO })?)?, div(sub(g, Decimal::ONE)?, rate)?)?;
    Ok(-div(add(annuity, fv)?, g)?)
}

/// Future value (Excel `FV`).
pub fn fv(rate: Decimal, nper: Decimal, pmt: Decimal, pv: Decimal, due: bool) -> R {
    if rate.is_zero() {
        return Ok(-(add(pv, mul(pmt, nper)?)?));
    }
    let g = powi(one_plus(rate)?, nper)?;
    let annuity = mul(mul(pmt, one_plus(if due { rate } else { Decimal::ZERO })?)?, div(sub(g, Decimal::ONE)?, rate)?)?;
    Ok(-add(mul(pv, g)?, annuity)?)
}

/// The level payment (Excel `PMT`).
pub fn pmt(rate: Decimal, nper: Decimal, pv: Decimal, fv: Decimal, due: bool) -> R {
    if nper.is_zero() {
        return Err(EvalError::Domain("the number of periods must not be zero"));
    }
    if rate.is_zero() {
        return Ok(-div(add(pv, fv)?, nper)?);
    }
    let g = powi(one_plus(rate)?, nper)?;
    let num = mul(rate, add(mul(pv, g)?, fv)?)?;
    let den = mul(one_plus(if due { rate } else { Decimal::ZERO })?, sub(g, Decimal::ONE)?)?;
    Ok(-div(num, den)?)
}

/// Net present value, the first value one period out (Excel `NPV`).
pub fn npv(rate: Decimal, values: &[Decimal]) -> R {
    let mut total = Decimal::ZERO;
    let base = one_plus(rate)?;
    if base.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    let mut factor = Decimal::ONE;
    for v in values {
        factor = match factor.checked_mul(base) {
            Some(f) => f,
            // Discounted past 10²⁸ the remaining flows add nothing a decimal can hold (a rate
            // of 1,000% over a long series, as the solver's bracket tries).
            None if base.abs() > Decimal::ONE => break,
            None => return Err(EvalError::Overflow),
        };
        total = add(total, div(*v, factor)?)?;
    }
    Ok(total)
}

/// Net present value with the first value now (time 0): what `IRR` sets to zero.
fn npv0(rate: Decimal, values: &[Decimal]) -> R {
    let (first, rest) = values.split_first().ok_or(EvalError::Domain("no cash flows"))?;
    add(*first, npv(rate, rest)?)
}

/// Days from the first date, over 365.
fn years(days: &[i64]) -> Result<Vec<Decimal>, EvalError> {
    let first = *days.first().ok_or(EvalError::Domain("no dates"))?;
    days.iter().map(|d| div(Decimal::from(d - first), Decimal::from(365))).collect()
}

/// `XNPV`: each value discounted by its date (days since 1970-01-01) from the first.
pub fn xnpv(rate: Decimal, values: &[Decimal], days: &[i64]) -> R {
    if values.len() != days.len() {
        return Err(EvalError::Domain("as many dates as values are needed"));
    }
    if rate <= -Decimal::ONE {
        return Err(EvalError::Domain("the rate must be above -100%"));
    }
    let t = years(days)?;
    let mut total = Decimal::ZERO;
    for (v, t) in values.iter().zip(&t) {
        total = add(total, div(*v, powi(one_plus(rate)?, *t)?)?)?;
    }
    Ok(total)
}

/// The rate where `f` crosses zero, by bisection between -99% and 1,000%: slow but sure, and
/// exact to 1e-12 in decimals.
fn solve(f: impl Fn(Decimal) -> R) -> R {
    // The widest bracket a decimal can evaluate: a long series overflows at -99% or 1,000%.
    let first_ok = |points: &[Decimal]| points.iter().find_map(|&p| f(p).ok().map(|v| (p, v)));
    let lows = [Decimal::new(-99, 2), Decimal::new(-9, 1), Decimal::new(-5, 1), Decimal::new(-2, 1), Decimal::ZERO];
    let highs = [Decimal::from(10), Decimal::from(3), Decimal::ONE, Decimal::new(5, 1), Decimal::new(2, 1)];
    let ((mut lo, mut flo), (mut hi, fhi)) = match (first_ok(&lows), first_ok(&highs)) {
        (Some(l), Some(h)) => (l, h),
        _ => return Err(EvalError::Overflow),
    };
    if flo.is_sign_negative() == fhi.is_sign_negative() {
        return Err(EvalError::Domain("no rate between -99% and 1000% gives zero: check the signs of the cash flows"));
    }
    let tol = Decimal::new(1, 14);
    for _ in 0..200 {
        let mid = (lo + hi) / Decimal::TWO;
        let fm = f(mid)?;
        if fm.is_zero() || hi - lo < tol {
            return Ok(mid.round_dp(12));
        }
        if fm.is_sign_negative() == flo.is_sign_negative() {
            lo = mid;
            flo = fm;
        } else {
            hi = mid;
        }
    }
    Ok(((lo + hi) / Decimal::TWO).round_dp(12))
}

/// Internal rate of return, the first value now (Excel `IRR`).
pub fn irr(values: &[Decimal]) -> R {
    solve(|r| npv0(r, values))
}

/// `XIRR`.
pub fn xirr(values: &[Decimal], days: &[i64]) -> R {
    if values.len() != days.len() {
        return Err(EvalError::Domain("as many dates as values are needed"));
    }
    solve(|r| xnpv(r, values, days))
}

/// Compound annual growth rate.
pub fn cagr(begin: Decimal, end: Decimal, years: Decimal) -> R {
    if begin <= Decimal::ZERO || end < Decimal::ZERO {
        return Err(EvalError::Domain("CAGR needs a positive beginning value"));
    }
    sub(powi(div(end, begin)?, div(Decimal::ONE, years)?)?, Decimal::ONE)
}

/// A bond's periods and coupon: `years × freq` whole periods.
fn periods(years: Decimal, freq: u32) -> Result<u32, EvalError> {
    let n = mul(years, Decimal::from(freq))?;
    if freq == 0 || !n.fract().is_zero() || n <= Decimal::ZERO {
        return Err(EvalError::Domain("years × coupons per year must be a whole number of periods"));
    }
    n.to_u32().filter(|n| *n <= 12_000).ok_or(EvalError::Domain("more than 12,000 coupon periods"))
}

/// Price of a bond on a coupon date: coupons and face discounted at the yield.
pub fn bond_price(face: Decimal, coupon_rate: Decimal, ytm: Decimal, years: Decimal, freq: u32) -> R {
    let n = periods(years, freq)?;
    let f = Decimal::from(freq);
    let c = div(mul(face, coupon_rate)?, f)?;
    let y = div(ytm, f)?;
    let mut flows = vec![c; n as usize];
    if let Some(last) = flows.last_mut() {
        *last = add(*last, face)?;
    }
    npv(y, &flows)
}

/// Yield to maturity from a price.
pub fn bond_yield(price: Decimal, face: Decimal, coupon_rate: Decimal, years: Decimal, freq: u32) -> R {
    periods(years, freq)?;
    solve(|y| sub(bond_price(face, coupon_rate, y, years, freq)?, price))
}

/// Macaulay and modified duration, in years.
pub fn duration(face: Decimal, coupon_rate: Decimal, ytm: Decimal, years: Decimal, freq: u32) -> Result<(Decimal, Decimal), EvalError> {
    let n = periods(years, freq)?;
    let f = Decimal::from(freq);
    let c = div(mul(face, coupon_rate)?, f)?;
    let y = div(ytm, f)?;
    let (mut weighted, mut price, mut factor) = (Decimal::ZERO, Decimal::ZERO, Decimal::ONE);
    for k in 1..=n {
        factor = mul(factor, one_plus(y)?)?;
        let flow = if k == n { add(c, face)? } else { c };
        let pv = div(flow, factor)?;
        price = add(price, pv)?;
        weighted = add(weighted, mul(pv, div(Decimal::from(k), f)?)?)?;
    }
    let macaulay = div(weighted, price)?;
    Ok((macaulay, div(macaulay, one_plus(y)?)?))
}

/// Weighted average cost of capital: E/V·Re + D/V·Rd·(1 − t).
pub fn wacc(equity: Decimal, debt: Decimal, cost_equity: Decimal, cost_debt: Decimal, tax_rate: Decimal) -> R {
    let v = add(equity, debt)?;
    add(mul(div(equity, v)?, cost_equity)?, mul(mul(div(debt, v)?, cost_debt)?, sub(Decimal::ONE, tax_rate)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn near(a: Decimal, b: &str, places: u32) {
        assert_eq!(a.round_dp(places), d(b).round_dp(places), "{a} vs {b}");
    }

    /// The figures Excel (and LibreOffice) give for the same calls.
    #[test]
    fn spreadsheet_figures() {
        near(pv(d("0.05"), d("2"), d("0"), d("1000"), false).expect("pv"), "-907.029478", 6);
        near(pv(d("0.08") / d("12"), d("240"), d("500"), d("0"), false).expect("pv annuity"), "-59777.15", 2);
        near(fv(d("0.06"), d("5"), d("0"), d("-10000"), false).expect("fv"), "13382.255776", 6);
        near(pmt(d("0.045") / d("12"), d("360"), d("300000"), d("0"), false).expect("pmt"), "-1520.06", 2);
        near(pmt(d("0.045") / d("12"), d("360"), d("300000"), d("0"), true).expect("pmt due"), "-1514.38", 2);
        near(npv(d("0.1"), &[d("-10000"), d("3000"), d("4200"), d("6800")]).expect("npv"), "1188.44", 2);
        near(irr(&[d("-70000"), d("12000"), d("15000"), d("18000"), d("21000"), d("26000")]).expect("irr"), "0.086631", 6);
        // XIRR's example: 2008-01-01 … 2008-04-01.
        let days = [13879, 13939, 14182, 14290, 14335];
        let flows = [d("-10000"), d("2750"), d("4250"), d("3250"), d("2750")];
        near(xirr(&flows, &days).expect("xirr"), "0.373362534", 6);
        near(xnpv(d("0.09"), &flows, &days).expect("xnpv"), "2086.647602", 4);
        near(cagr(d("100"), d("180"), d("5")).expect("cagr"), "0.124746", 6);
        near(bond_price(d("1000"), d("0.05"), d("0.06"), d("10"), 2).expect("price"), "925.61", 2);
        near(bond_yield(d("925.61"), d("1000"), d("0.05"), d("10"), 2).expect("yield"), "0.06", 4);
        let (mac, modified) = duration(d("1000"), d("0.08"), d("0.09"), d("5"), 2).expect("duration");
        near(mac, "4.198878", 5);
        near(modified, "4.0180654", 5);
        near(wacc(d("600"), d("400"), d("0.08"), d("0.05"), d("0.25")).expect("wacc"), "0.063", 6);
        // Long series: 60 monthly flows, a 30-year annual bond.
        let mut monthly = vec![d("-10000")];
        monthly.extend(std::iter::repeat_n(d("250"), 60));
        assert!(irr(&monthly).expect("irr of 61 flows") > Decimal::ZERO);
        near(bond_yield(bond_price(d("100"), d("0.04"), d("0.035"), d("30"), 1).expect("price"), d("100"), d("0.04"), d("30"), 1).expect("yield"), "0.035", 6);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(irr(&[d("100"), d("50")]).is_err(), "no sign change");
        assert!(cagr(d("0"), d("5"), d("2")).is_err());
        assert!(bond_price(d("1000"), d("0.05"), d("0.06"), d("2.3"), 2).is_err());
        assert!(bond_price(d("1000"), d("0.05"), d("0.06"), d("1000000"), 12).is_err());
        assert!(pmt(d("0.05"), d("0"), d("100"), d("0"), false).is_err());
        assert!(xnpv(d("0.1"), &[d("1")], &[1, 2]).is_err());
        // Out of a decimal's range: errors, never panics.
        let huge = d("79228162514264337593543950335");
        assert!(pv(huge, d("1"), d("0"), d("0"), false).is_err());
        assert!(wacc(d("1"), d("1"), d("0.1"), d("1e27"), -huge).is_err());
        assert!(bond_yield(-huge, d("1000"), d("0.05"), d("10"), 1).is_err());
        assert!(fv(huge, d("3"), d("1"), d("1"), true).is_err());
    }
}

//! The calculator as tools a model can call: `calculate` (an expression) and `finance` (PV, FV,
//! PMT, NPV, IRR, XNPV, XIRR, CAGR, bond price, yield and duration, WACC). Every number may be
//! given as a JSON number or as an expression string (`"8%/12"`), read by the same evaluator
//! as the calculation check.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::expr::{evaluate, EvalError};
use crate::finance;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    Unknown(String),
    #[error("{0}")]
    Arguments(String),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

pub const CALCULATE: &str = "calculate";
pub const FINANCE: &str = "finance";

/// The tools' descriptions as OpenAI's `tools` array holds them (name, description, JSON Schema).
pub fn specs() -> Vec<Value> {
    let number = json!({"type": ["number", "string"], "description": "a number or an expression such as \"8%/12\""});
    vec![
        json!({
            "name": CALCULATE,
            "description": "Evaluate an arithmetic expression exactly (decimal arithmetic, no rounding errors). Supports + - * / ^, parentheses, percentages (5%), thousands separators, sqrt(), ln(). Use it for every calculation instead of computing in your head.",
            "parameters": {"type": "object", "properties": {"expression": {"type": "string", "description": "e.g. (4822 - 4286) / 4286 or 1000 / 1.05^2"}}, "required": ["expression"]}
        }),
        json!({
            "name": FINANCE,
            "description": "Financial functions with Excel's conventions (money paid out is negative). pv/fv/pmt: rate per period, nper, pmt, pv, fv, due (payments at period start). npv: rate, values (first value one period out). irr: values (first value now). xnpv/xirr: rate, values, dates (YYYY-MM-DD). cagr: begin, end, years. bond_price: face, coupon_rate, ytm, years, freq. bond_yield: price, face, coupon_rate, years, freq. duration: face, coupon_rate, ytm, years, freq (Macaulay and modified). wacc: equity, debt, cost_equity, cost_debt, tax_rate.",
            "parameters": {
                "type": "object",
                "properties": {
                    "function": {"type": "string", "enum": ["pv", "fv", "pmt", "npv", "irr", "xnpv", "xirr", "cagr", "bond_price", "bond_yield", "duration", "wacc"]},
                    "rate": number, "nper": number, "pmt": number, "pv": number, "fv": number,
                    "due": {"type": "boolean"},
                    "values": {"type": "array", "items": number},
                    "dates": {"type": "array", "items": {"type": "string", "description": "YYYY-MM-DD"}},
                    "begin": number, "end": number, "years": number,
                    "face": number, "coupon_rate": number, "ytm": number, "price": number,
                    "freq": {"type": "integer", "description": "coupons per year (default 1)"},
                    "equity": number, "debt": number, "cost_equity": number, "cost_debt": number, "tax_rate": number
                },
                "required": ["function"]
            }
        }),
    ]
}

/// Whether `name` is one of the calculator's tools.
pub fn is_calculator(name: &str) -> bool {
    name == CALCULATE || name == FINANCE
}

/// A value as a reader sees it: at most 12 decimals, no trailing zeros.
fn show(d: Decimal) -> String {
    d.round_dp(12).normalize().to_string()
}

fn number(v: &Value, field: &str) -> Result<Decimal, ToolError> {
    match v {
        Value::Number(n) => {
            let s = n.to_string();
            Decimal::from_str(&s).or_else(|_| Decimal::from_scientific(&s)).map_err(|_| ToolError::Arguments(format!("{field}: {s} is out of range")))
        }
        Value::String(s) => evaluate(s).map_err(|e| ToolError::Arguments(format!("{field}: {e}"))),
        _ => Err(ToolError::Arguments(format!("{field} must be a number"))),
    }
}

fn arg(args: &Value, field: &str) -> Result<Decimal, ToolError> {
    match args.get(field) {
        Some(v) => number(v, field),
        None => Err(ToolError::Arguments(format!("{field} is missing"))),
    }
}

fn arg_or_zero(args: &Value, field: &str) -> Result<Decimal, ToolError> {
    args.get(field).filter(|v| !v.is_null()).map_or(Ok(Decimal::ZERO), |v| number(v, field))
}

/// At most this many cash flows: an argument list is input, bounded like any.
const MAX_VALUES: usize = 10_000;

fn values(args: &Value) -> Result<Vec<Decimal>, ToolError> {
    let list = args.get("values").and_then(Value::as_array).ok_or_else(|| ToolError::Arguments("values must be a list of numbers".into()))?;
    if list.is_empty() || list.len() > MAX_VALUES {
        return Err(ToolError::Arguments(format!("values must hold 1 to {MAX_VALUES} numbers")));
    }
    list.iter().enumerate().map(|(i, v)| number(v, &format!("values[{i}]"))).collect()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn days(s: &str) -> Option<i64> {
    let mut parts = s.trim().split('-');
    let (y, m, d): (i64, i64, i64) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1900..=2200).contains(&y) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn dates(args: &Value) -> Result<Vec<i64>, ToolError> {
    let list = args.get("dates").and_then(Value::as_array).ok_or_else(|| ToolError::Arguments("dates must be a list of YYYY-MM-DD".into()))?;
    list.iter().take(MAX_VALUES + 1).map(|v| v.as_str().and_then(days).ok_or_else(|| ToolError::Arguments(format!("{v} is not a YYYY-MM-DD date")))).collect()
}

fn freq(args: &Value) -> Result<u32, ToolError> {
    match args.get("freq") {
        None | Some(Value::Null) => Ok(1),
        Some(v) => v
            .as_u64()
            .filter(|f| (1..=365).contains(f))
            .map(|f| f as u32)
            .ok_or_else(|| ToolError::Arguments("freq must be a whole number from 1 to 365".into())),
    }
}

/// Runs one of the calculator's tools on its JSON arguments; the result is JSON for the model.
pub fn call(name: &str, args: &Value) -> Result<Value, ToolError> {
    match name {
        CALCULATE => {
            let expression = args.get("expression").and_then(Value::as_str).ok_or_else(|| ToolError::Arguments("expression must be a string".into()))?;
            Ok(json!({"expression": expression, "result": show(evaluate(expression)?)}))
        }
        FINANCE => {
            let f = args.get("function").and_then(Value::as_str).ok_or_else(|| ToolError::Arguments("function is missing".into()))?;
            let due = args.get("due").and_then(Value::as_bool).unwrap_or(false);
            let result = match f {
                "pv" => finance::pv(arg(args, "rate")?, arg(args, "nper")?, arg_or_zero(args, "pmt")?, arg_or_zero(args, "fv")?, due)?,
                "fv" => finance::fv(arg(args, "rate")?, arg(args, "nper")?, arg_or_zero(args, "pmt")?, arg_or_zero(args, "pv")?, due)?,
                "pmt" => finance::pmt(arg(args, "rate")?, arg(args, "nper")?, arg(args, "pv")?, arg_or_zero(args, "fv")?, due)?,
                "npv" => finance::npv(arg(args, "rate")?, &values(args)?)?,
                "irr" => finance::irr(&values(args)?)?,
                "xnpv" => finance::xnpv(arg(args, "rate")?, &values(args)?, &dates(args)?)?,
                "xirr" => finance::xirr(&values(args)?, &dates(args)?)?,
                "cagr" => finance::cagr(arg(args, "begin")?, arg(args, "end")?, arg(args, "years")?)?,
                "bond_price" => finance::bond_price(arg(args, "face")?, arg(args, "coupon_rate")?, arg(args, "ytm")?, arg(args, "years")?, freq(args)?)?,
                "bond_yield" => finance::bond_yield(arg(args, "price")?, arg(args, "face")?, arg(args, "coupon_rate")?, arg(args, "years")?, freq(args)?)?,
                "duration" => {
                    let (mac, modified) =
                        finance::duration(arg(args, "face")?, arg(args, "coupon_rate")?, arg(args, "ytm")?, arg(args, "years")?, freq(args)?)?;
                    return Ok(json!({"function": f, "macaulay_years": show(mac), "modified_years": show(modified)}));
                }
                "wacc" => finance::wacc(arg(args, "equity")?, arg(args, "debt")?, arg(args, "cost_equity")?, arg(args, "cost_debt")?, arg(args, "tax_rate")?)?,
                other => return Err(ToolError::Arguments(format!("unknown function {other:?}"))),
            };
            Ok(json!({"function": f, "result": show(result)}))
        }
        other => Err(ToolError::Unknown(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_calls_the_calculator_with_json() {
        assert_eq!(call(CALCULATE, &json!({"expression": "(4,822 - 4,286) / 4,286"})).expect("calc")["result"], "0.125058329445");
        assert_eq!(call(FINANCE, &json!({"function": "pv", "rate": "5%", "nper": 2, "fv": 1000})).expect("pv")["result"], "-907.02947845805");
        assert_eq!(
            call(FINANCE, &json!({"function": "wacc", "equity": 600, "debt": 400, "cost_equity": 0.08, "cost_debt": "5%", "tax_rate": 0.25})).expect("wacc")
                ["result"],
            "0.063"
        );
        assert_eq!(call(FINANCE, &json!({"function": "xirr", "values": [-10000, 2750, 4250, 3250, 2750], "dates": ["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]})).expect("xirr")["result"].as_str().map(|s| &s[..8]), Some("0.373362"));
        assert!(call(FINANCE, &json!({"function": "duration", "face": 1000, "coupon_rate": 0.08, "ytm": 0.09, "years": 5, "freq": 2})).expect("duration")
            ["macaulay_years"]
            .as_str()
            .is_some_and(|s| s.starts_with("4.1988")));
    }

    #[test]
    fn wrong_arguments_say_what_is_wrong() {
        let e = |name: &str, args: Value| call(name, &args).expect_err("an error").to_string();
        assert_eq!(e(FINANCE, json!({"function": "pv", "nper": 2})), "rate is missing");
        assert_eq!(e(FINANCE, json!({"function": "npv", "rate": 0.1, "values": "1,2"})), "values must be a list of numbers");
        assert!(e(FINANCE, json!({"function": "xnpv", "rate": 0.1, "values": [1, 2], "dates": ["2024-13-01", "2024-01-01"]})).contains("not a YYYY-MM-DD"));
        assert!(e(CALCULATE, json!({"expression": "1/0"})).contains("division by zero"));
        assert!(e("rm", json!({})).contains("unknown tool"));
        assert!(e(FINANCE, json!({"function": "irr", "values": vec![1; 20_000]})).contains("1 to 10000"));
    }

    #[test]
    fn dates_count_days_from_1970() {
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2008-03-01"), Some(13939));
        assert_eq!(days("2024-02-30x"), None);
    }
}

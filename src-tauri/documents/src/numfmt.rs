//! A number as a spreadsheet shows it under its cell's format code: `#,##0;(#,##0)` prints
//! -2570 as `(2,570)`, `0.0%` prints 0.14279 as `14.3%`. The model reads the figures the analyst
//! sees, not the stored doubles. Covers the codes financial sheets use (sections, grouping,
//! decimals, percent, literals, currency tags); anything else falls back to General.

pub fn format(value: f64, code: &str) -> String {
    let sections = split_sections(code);
    let (section, value, signed) = match sections.len() {
        0 => return general(value),
        1 => (sections[0].as_str(), value, true),
        2 if value < 0.0 => (sections[1].as_str(), -value, false),
        n if value == 0.0 && n >= 3 => (sections[2].as_str(), value, false),
        _ if value < 0.0 => (sections[1].as_str(), -value, false),
        _ => (sections[0].as_str(), value, true),
    };
    if section.trim().eq_ignore_ascii_case("general") || section.trim().is_empty() {
        return general(value);
    }
    render(section, value, signed).unwrap_or_else(|| general(value))
}

/// Excel's General: integers whole, others to ten significant digits.
pub fn general(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let digits = 10 - (v.abs().log10().floor() as i32 + 1);
    let s = format!("{:.*}", digits.clamp(0, 15) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn split_sections(code: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                if let Some(s) = out.last_mut() {
                    s.push(c);
                }
            }
            '\\' if !quoted => {
                let s = out.last_mut().expect("one section");
                s.push(c);
                if let Some(n) = chars.next() {
                    s.push(n);
                }
            }
            ';' if !quoted => out.push(String::new()),
            _ => out.last_mut().map(|s| s.push(c)).unwrap_or(()),
        }
    }
    if out.len() == 1 && out[0].is_empty() {
        out.clear();
    }
    out
}

enum Piece {
    Text(String),
    Number,
}

fn render(section: &str, value: f64, signed: bool) -> Option<String> {
    let mut pieces = Vec::new();
    let (mut decimals, mut grouping, mut percent, mut in_number, mut after_point, mut seen_number) = (0usize, false, false, false, false, false);
    let mut chars = section.chars().peekable();
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    text.push(q);
                }
            }
            '\\' => text.extend(chars.next()),
            '_' => {
                chars.next();
                text.push(' ');
            }
            '*' => {
                chars.next();
            }
            '[' => {
                let tag: String = chars.by_ref().take_while(|&t| t != ']').collect();
                // A currency tag: [$$-409] shows "$"; colours and conditions show nothing.
                if let Some(sym) = tag.strip_prefix('$') {
                    text.push_str(sym.split('-').next().unwrap_or(""));
                }
            }
            '0' | '#' | '?' | '.' | ',' if !seen_number || in_number => {
                if !in_number {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Number);
                    in_number = true;
                    seen_number = true;
                }
                match c {
                    '.' => after_point = true,
                    ',' => grouping |= !after_point && chars.peek().is_some_and(|n| matches!(n, '0' | '#' | '?')),
                    _ if after_point => decimals += 1,
                    _ => {}
                }
            }
            '%' => {
                percent = true;
                in_number = false;
                text.push('%');
            }
            'E' | 'e' if in_number => return None,
            _ => {
                in_number = false;
                text.push(c);
            }
        }
    }
    pieces.push(Piece::Text(text));
    if !seen_number {
        return Some(pieces.into_iter().map(|p| if let Piece::Text(t) = p { t } else { String::new() }).collect());
    }
    // Excel shows at most 30 decimals; a format asking for 70,000 made the precision panic.
    if decimals > 30 {
        return None;
    }
    let v = if percent { value * 100.0 } else { value };
    let mut digits = format!("{:.*}", decimals, v.abs());
    if grouping {
        let (int, frac) = digits.split_once('.').map_or((digits.as_str(), None), |(i, f)| (i, Some(f)));
        let mut grouped = String::new();
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        digits = match frac {
            Some(f) => format!("{grouped}.{f}"),
            None => grouped,
        };
    }
    let negative = signed && v < 0.0 && digits.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Number => out.push_str(&digits),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_as_the_sheet_shows_them() {
        assert_eq!(format(-2570.0, "#,##0;(#,##0)"), "(2,570)");
        assert_eq!(format(4822.0, "#,##0;(#,##0)"), "4,822");
        assert_eq!(format(612.0 / 4286.0, "0.0%"), "14.3%");
        assert_eq!(format(1234567.891, "#,##0.00"), "1,234,567.89");
        assert_eq!(format(-5.5, "0.00"), "-5.50");
        assert_eq!(format(10000.0, "[$$-409]#,##0.00"), "$10,000.00");
        assert_eq!(format(12.0, "\"CNY \"0"), "CNY 12");
        assert_eq!(format(-3.0, "#,##0_);[Red](#,##0)"), "(3)");
        assert_eq!(format(0.0, "#,##0;(#,##0);\"-\""), "-");
        assert_eq!(format(0.142790481, "General"), "0.142790481");
        assert_eq!(general(4286.0), "4286");
        assert_eq!(general(1.0 / 3.0), "0.3333333333");
    }
}

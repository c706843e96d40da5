//! `String(n)` for a JavaScript number (ECMAScript Number::toString, radix 10).
//!
//! Rooms are usually strings, but socket.io accepts numbers too (`io.to(42)`), and JS keys rooms
//! by their value. The frame header carries rooms as strings, so numbers are spelled exactly as
//! JS spells them; the same routine names numbers in error messages.

/// Only finite values reach this from validation; `NaN` and infinities are still spelled as JS
/// spells them so error messages stay faithful.
pub(crate) fn to_js_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value == 0.0 {
        return "0".to_owned(); // also -0, as in JS
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if value < 0.0 {
        return format!("-{}", to_js_string(-value));
    }
    let (digits, point) = shortest_digits(value);
    place_point(&digits, point)
}

/// The shortest decimal digits that round-trip to `value`, and `n` such that
/// `value = 0.digits × 10^n`. Rust's `{:e}` yields the same shortest digits JS requires.
fn shortest_digits(value: f64) -> (String, i32) {
    let formatted = format!("{value:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    (digits, exponent + 1)
}

/// Steps 6 to 10 of Number::toString: plain notation for 1e-7 < |value| < 1e21, else exponent.
fn place_point(digits: &str, n: i32) -> String {
    let k = digits.len() as i32; // at most 17 digits
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let exponent = n - 1;
        let sign = if exponent < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{rest}e{sign}{}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::to_js_string;

    #[test]
    fn matches_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (42.0, "42"),
            (-7.0, "-7"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e21, "1e+21"),
            (1.5e22, "1.5e+22"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (9007199254740993.0, "9007199254740992"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for &(value, expected) in cases {
            assert_eq!(to_js_string(value), expected, "{value:?}");
        }
    }
}

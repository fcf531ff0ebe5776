//! Exact Kubernetes resource quantities: `100m`, `1.5Gi`, `1e3`.
//!
//! This file owns [`Quantity`], a re-implementation of apimachinery's `resource.Quantity`: the
//! parser, the canonical printer, the rounding integer accessors, exact addition and
//! subtraction, and serde support. The rules follow upstream's `quantity.go`, `suffix.go` and
//! `amount.go`, and the tests at the bottom replay the edge cases of upstream's
//! `quantity_test.go`.
//!
//! A value is a signed `i128` mantissa times a power of ten; no float ever holds it. Deliberate
//! differences from upstream, all at the edges:
//!
//! - Range. Upstream keeps arbitrarily long decimals; here a value has at most 38 significant
//!   digits and an exponent that fits in `i32`. Anything larger fails with
//!   [`QuantityError::OutOfRange`] (upstream silently wraps an oversized `e` exponent to 32 bits).
//! - Printing never echoes the input. Upstream's `String()` hands back the parsed text when a
//!   cheap test says it is already canonical; that test also lets through `+1`, `01`, `1E3`,
//!   `1.100` and `1.G`, which print here as `1`, `1`, `1e3`, `1100m` and `1G`.
//! - A BinarySI value of 2^70 or more keeps the `Ei` suffix (`1024Ei`); upstream runs out of
//!   suffixes and prints a number 2^60 times too small. A BinarySI value too large for `i128`
//!   (reachable only by arithmetic) prints in DecimalSI.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a valid quantity looks like; every parse error repeats it so the reader sees the fix.
const EXPECTED: &str = "expected a number with an optional suffix (m, k, Mi, Gi, e3, …)";

/// Most significant digits a mantissa may have: 10^38 still fits in `i128`, so two aligned
/// mantissas can always be compared without overflow.
const MAX_DIGITS: usize = 38;

/// Exclusive bound on a mantissa's magnitude (10^38).
const MANTISSA_LIMIT: u128 = 10u128.pow(MAX_DIGITS as u32);

/// Parsing keeps precision down to nano and rounds anything finer away from zero.
const NANO_EXPONENT: i64 = -9;

/// Nanos per unit, for the binary parser that works in nano units.
const NANOS: u128 = 1_000_000_000;

/// Upstream caps a parsed BinarySI magnitude at 2^63 - 1 (`8Ei` parses as 2^63 - 1).
const BINARY_CAP: u128 = 0x7fff_ffff_ffff_ffff;

/// Characters upstream's scanner accepts at the start of a suffix; the suffix is then looked up.
const SUFFIX_CHARS: &[u8] = b"eEinumkKMGTP";

/// Decimal SI suffixes and their powers of ten.
const DECIMAL_SUFFIXES: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// Binary SI suffixes and their powers of two, ascending.
const BINARY_SUFFIXES: [(&str, u32); 6] = [
    ("Ki", 10),
    ("Mi", 20),
    ("Gi", 30),
    ("Ti", 40),
    ("Pi", 50),
    ("Ei", 60),
];

/// How a quantity is printed; parsing remembers it from the suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Powers of ten written as an exponent: `12e6`, `5e-3`.
    DecimalExponent,
    /// Powers of 1024: `12Mi` is 12 × 2^20. Values below 1024 or with a fraction print as
    /// DecimalSI instead, because no binary suffix can show them exactly.
    BinarySI,
    /// SI powers of ten: `12M` is 12 × 10^6, `100m` is 0.1.
    #[default]
    DecimalSI,
}

/// Why a string is not a quantity, or why arithmetic on quantities failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    /// The input was the empty string.
    Empty,
    /// The input is not a signed decimal number followed by suffix characters, e.g. `1.2.3`,
    /// `abc`, `1 Gi`, `1Gb` or `--1`.
    Malformed {
        /// The rejected input.
        input: String,
    },
    /// The number is well formed but its suffix is not a known one, e.g. `1K`, `1mi`, `1e`.
    UnknownSuffix {
        /// The rejected input.
        input: String,
        /// The part after the number.
        suffix: String,
    },
    /// The value needs more than 38 significant digits or an exponent beyond `i32`.
    OutOfRange {
        /// The rejected input.
        input: String,
    },
    /// A sum or difference does not fit in 38 significant digits.
    Overflow,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::Empty => write!(f, "empty quantity: {EXPECTED}"),
            QuantityError::Malformed { input } => {
                write!(f, "invalid quantity {input:?}: {EXPECTED}")
            }
            QuantityError::UnknownSuffix { input, suffix } => write!(
                f,
                "invalid quantity {input:?}: unknown suffix {suffix:?}, expected one of \
                 n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3"
            ),
            QuantityError::OutOfRange { input } => write!(
                f,
                "invalid quantity {input:?}: needs more than {MAX_DIGITS} significant digits \
                 or an exponent beyond 32 bits"
            ),
            QuantityError::Overflow => write!(
                f,
                "quantity arithmetic overflowed {MAX_DIGITS} significant digits"
            ),
        }
    }
}

impl std::error::Error for QuantityError {}

/// An exact fixed-point amount of a resource, remembering the [`Format`] it was written in.
///
/// Equality, ordering and hashing look at the numeric value only, so `1k == 1000` even though
/// they print differently. [`Display`](fmt::Display) prints upstream's canonical form.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    /// Carries the sign; never a multiple of ten unless zero, and below 10^38 in magnitude, so
    /// each value has exactly one (mantissa, exponent) pair.
    mantissa: i128,
    /// Power of ten; zero for the value zero.
    exponent: i32,
    format: Format,
}

/// What a suffix multiplies the number by.
enum Unit {
    Decimal { exponent: i32, format: Format },
    Binary { shift: u32 },
}

/// Why a suffix was not accepted.
enum SuffixError {
    Unknown,
    ExponentRange,
}

impl Quantity {
    /// Parses `input` exactly as upstream `ParseQuantity` does: an optional sign, digits with an
    /// optional decimal point (either side may be empty, so `.5`, `1.` and even `-` parse),
    /// then a binary suffix (`Ki` … `Ei`), a decimal suffix (`n u m k M G T P E` or none) or a
    /// decimal exponent (`e`/`E` and a signed integer). No whitespace is allowed.
    ///
    /// Precision finer than 1n is rounded away from zero (`0.1n` is `1n`) so that asking for
    /// a tiny non-zero amount never yields zero; a BinarySI magnitude above 2^63 - 1 is capped
    /// there; a BinarySI value strictly between -1 and 1 becomes DecimalSI.
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let bytes = input.as_bytes();
        let malformed = || QuantityError::Malformed {
            input: input.to_string(),
        };
        let (negative, mut pos) = match bytes.first() {
            None => return Err(QuantityError::Empty),
            Some(b'-') => (true, 1),
            Some(b'+') => (false, 1),
            Some(_) => (false, 0),
        };
        let int_start = pos;
        pos = skip_while(bytes, pos, |b| b.is_ascii_digit());
        let int_digits = bytes.get(int_start..pos).ok_or_else(malformed)?;
        let mut frac_digits: &[u8] = &[];
        if bytes.get(pos) == Some(&b'.') {
            let frac_start = pos + 1;
            pos = skip_while(bytes, frac_start, |b| b.is_ascii_digit());
            frac_digits = bytes.get(frac_start..pos).ok_or_else(malformed)?;
        }
        // Upstream's scanner shape for the suffix: letters, an optional sign, digits. Whether
        // the letters mean anything is decided by the lookup afterwards.
        let suffix_start = pos;
        pos = skip_while(bytes, pos, |b| SUFFIX_CHARS.contains(&b));
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = skip_while(bytes, pos, |b| b.is_ascii_digit());
        if pos != bytes.len() {
            return Err(malformed());
        }
        let suffix = input.get(suffix_start..).ok_or_else(malformed)?;
        let out_of_range = || QuantityError::OutOfRange {
            input: input.to_string(),
        };
        match interpret_suffix(suffix) {
            Ok(Unit::Decimal { exponent, format }) => {
                parse_decimal(negative, int_digits, frac_digits, exponent, format)
                    .ok_or_else(out_of_range)
            }
            Ok(Unit::Binary { shift }) => {
                parse_binary(negative, int_digits, frac_digits, shift).ok_or_else(out_of_range)
            }
            Err(SuffixError::ExponentRange) => Err(out_of_range()),
            // A suffix with no letters before its sign (`--1`) is a malformed number, not a
            // misspelt unit.
            Err(SuffixError::Unknown) if suffix.starts_with(['+', '-']) => Err(malformed()),
            Err(SuffixError::Unknown) => Err(QuantityError::UnknownSuffix {
                input: input.to_string(),
                suffix: suffix.to_string(),
            }),
        }
    }

    /// `value` units in the given format, like upstream `NewQuantity`.
    pub fn from_int(value: i64, format: Format) -> Self {
        Self::from_small(value, 0, format)
    }

    /// `value` thousandths in DecimalSI, like upstream `NewMilliQuantity(value, DecimalSI)`.
    pub fn from_milli(value: i64) -> Self {
        Self::from_small(value, -3, Format::DecimalSI)
    }

    /// The format this quantity prints in (subject to the BinarySI fallback).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The value in units, rounded away from zero: `100m` of memory is 1 byte, `-100m` is -1.
    /// Saturates at `i64::MIN`/`i64::MAX`, as upstream's int64 path does.
    pub fn value(&self) -> i64 {
        self.scaled_value(0)
    }

    /// The value in thousandths, rounded away from zero: `0.1` is 100, `1.0001` is 1001.
    /// Saturates at `i64::MIN`/`i64::MAX`, as upstream's int64 path does.
    pub fn milli_value(&self) -> i64 {
        self.scaled_value(-3)
    }

    /// The value in units of 10^`scale`, rounded away from zero: `1Gi` at scale 6 is 1074.
    /// Saturates at `i64::MIN`/`i64::MAX`, as upstream's int64 path does.
    pub fn scaled_value(&self, scale: i32) -> i64 {
        if self.mantissa == 0 {
            return 0;
        }
        let saturated = if self.mantissa > 0 {
            i64::MAX
        } else {
            i64::MIN
        };
        let shift = i64::from(self.exponent) - i64::from(scale);
        let scaled = if shift >= 0 {
            pow10(shift).and_then(|p| self.mantissa.checked_mul(p))
        } else {
            match pow10(-shift) {
                Some(p) => {
                    let quotient = self.mantissa / p;
                    let exact = self.mantissa % p == 0;
                    Some(if exact {
                        quotient
                    } else {
                        quotient + self.mantissa.signum()
                    })
                }
                // The divisor exceeds any mantissa: all that is left is the rounding unit.
                None => Some(self.mantissa.signum()),
            }
        };
        scaled
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(saturated)
    }

    /// The exact sum. Keeps `self`'s format unless `self` is zero, in which case the result
    /// takes `rhs`'s format (upstream `Add`), so `0 + 1Gi` prints as `1Gi`.
    pub fn checked_add(&self, rhs: &Quantity) -> Result<Quantity, QuantityError> {
        if rhs.is_zero() {
            return Ok(*self);
        }
        if self.is_zero() {
            return Ok(*rhs);
        }
        let exponent = self.exponent.min(rhs.exponent);
        let sum = self
            .aligned_mantissa(exponent)
            .zip(rhs.aligned_mantissa(exponent))
            .and_then(|(a, b)| a.checked_add(b));
        sum.and_then(|m| Self::from_raw(m, i64::from(exponent), self.format))
            .ok_or(QuantityError::Overflow)
    }

    /// The exact difference, with the same format rule as [`Quantity::checked_add`] (upstream
    /// `Sub`), so `0 - 1Gi` prints as `-1Gi`.
    pub fn checked_sub(&self, rhs: &Quantity) -> Result<Quantity, QuantityError> {
        let negated = Quantity {
            mantissa: -rhs.mantissa,
            ..*rhs
        };
        self.checked_add(&negated)
    }

    /// Builds a value from an `i64` mantissa and a small exponent; cannot leave the range.
    fn from_small(value: i64, exponent: i32, format: Format) -> Self {
        let (mantissa, zeros) = strip_trailing_zeros(i128::from(value));
        let exponent = if mantissa == 0 { 0 } else { exponent + zeros };
        Quantity {
            mantissa,
            exponent,
            format,
        }
    }

    /// Normalises `mantissa × 10^exponent`; `None` when it is outside the representable range.
    fn from_raw(mantissa: i128, exponent: i64, format: Format) -> Option<Self> {
        let (mantissa, zeros) = strip_trailing_zeros(mantissa);
        if mantissa == 0 {
            return Some(Quantity {
                mantissa: 0,
                exponent: 0,
                format,
            });
        }
        if mantissa.unsigned_abs() >= MANTISSA_LIMIT {
            return None;
        }
        let exponent = i32::try_from(exponent.checked_add(i64::from(zeros))?).ok()?;
        Some(Quantity {
            mantissa,
            exponent,
            format,
        })
    }

    /// The mantissa rescaled to `exponent`, which must not exceed `self.exponent`.
    fn aligned_mantissa(&self, exponent: i32) -> Option<i128> {
        10i128
            .checked_pow(self.exponent.abs_diff(exponent))?
            .checked_mul(self.mantissa)
    }

    /// The magnitude as an integer, if the value is a whole number that fits in `u128`.
    fn whole_magnitude(&self) -> Option<u128> {
        let exponent = u32::try_from(self.exponent).ok()?;
        10u128
            .checked_pow(exponent)?
            .checked_mul(self.mantissa.unsigned_abs())
    }

    /// Upstream's `CanonicalizeBytes`: no fractional digits, the largest suffix that loses no
    /// precision, a sign only when negative.
    fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut out = String::new();
        if self.mantissa < 0 {
            out.push('-');
        }
        // BinarySI below 1024 or with a fraction falls through: no binary suffix shows it exactly.
        if self.format == Format::BinarySI
            && let Some(mut whole) = self.whole_magnitude()
            && whole >= 1024
        {
            let mut unit = "";
            for (suffix, _) in BINARY_SUFFIXES {
                if !whole.is_multiple_of(1024) {
                    break;
                }
                whole /= 1024;
                unit = suffix;
            }
            out.push_str(&whole.to_string());
            out.push_str(unit);
            return out;
        }
        // Lower the exponent to a multiple of three, padding the digits with zeros.
        let exponent = i64::from(self.exponent);
        let grouped = exponent.div_euclid(3) * 3;
        out.push_str(&self.mantissa.unsigned_abs().to_string());
        for _ in grouped..exponent {
            out.push('0');
        }
        let si_suffix = DECIMAL_SUFFIXES
            .iter()
            .find(|(_, e)| i64::from(*e) == grouped)
            .map(|(s, _)| *s);
        match (self.format, si_suffix) {
            (Format::DecimalSI | Format::BinarySI, Some(suffix)) => out.push_str(suffix),
            // Past `E` DecimalSI has no suffix, so it falls back to an exponent, as upstream.
            _ if grouped != 0 => out.push_str(&format!("e{grouped}")),
            _ => {}
        }
        out
    }
}

/// The first position at or after `pos` whose byte fails `accept`.
fn skip_while(bytes: &[u8], mut pos: usize, accept: impl Fn(u8) -> bool) -> usize {
    while bytes.get(pos).is_some_and(|&b| accept(b)) {
        pos += 1;
    }
    pos
}

/// Upstream's suffix table, plus `e<n>`/`E<n>` exponents (`E` alone is exa).
fn interpret_suffix(suffix: &str) -> Result<Unit, SuffixError> {
    if let Some(&(_, exponent)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Ok(Unit::Decimal {
            exponent,
            format: Format::DecimalSI,
        });
    }
    if let Some(&(_, shift)) = BINARY_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Ok(Unit::Binary { shift });
    }
    if let Some(digits) = suffix.strip_prefix(['e', 'E'])
        && !digits.is_empty()
    {
        // Like upstream's ParseInt: optional sign, decimal digits, must fit in 64 bits.
        let wide: i64 = digits.parse().map_err(|_| SuffixError::Unknown)?;
        let exponent = i32::try_from(wide).map_err(|_| SuffixError::ExponentRange)?;
        return Ok(Unit::Decimal {
            exponent,
            format: Format::DecimalExponent,
        });
    }
    Err(SuffixError::Unknown)
}

/// `int.frac × 10^exponent`, rounded up to nano; `None` when out of range.
fn parse_decimal(
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
    exponent: i32,
    format: Format,
) -> Option<Quantity> {
    let mut digits: Vec<u8> = int_digits
        .iter()
        .chain(frac_digits)
        .copied()
        .skip_while(|&d| d == b'0')
        .collect();
    let mut scale = i64::from(exponent).checked_sub(i64::try_from(frac_digits.len()).ok()?)?;
    while digits.last() == Some(&b'0') {
        digits.pop();
        scale += 1;
    }
    if digits.is_empty() {
        return Quantity::from_raw(0, 0, format);
    }
    let mut round_up = false;
    if scale < NANO_EXPONENT {
        // Trailing zeros are gone, so the dropped digits always include a non-zero one.
        let dropped = usize::try_from(NANO_EXPONENT - scale).ok()?;
        digits.truncate(digits.len().saturating_sub(dropped));
        round_up = true;
        scale = NANO_EXPONENT;
    }
    if digits.len() > MAX_DIGITS {
        return None;
    }
    let magnitude = digits_value(&digits) + u128::from(round_up);
    let mantissa = i128::try_from(magnitude).ok()?;
    Quantity::from_raw(if negative { -mantissa } else { mantissa }, scale, format)
}

/// `int.frac × 2^shift`, rounded up to nano and capped at 2^63 - 1 like upstream.
fn parse_binary(
    negative: bool,
    int_digits: &[u8],
    frac_digits: &[u8],
    shift: u32,
) -> Option<Quantity> {
    let sign = |m: i128| if negative { -m } else { m };
    let unit = 1u128 << shift;
    let capped = Quantity::from_raw(sign(BINARY_CAP as i128), 0, Format::BinarySI);
    let first_significant = int_digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(int_digits.len());
    let int_digits = int_digits.get(first_significant..)?;
    // 10^19 already exceeds the cap, before the factor of at least 1024.
    if int_digits.len() > 19 {
        return capped;
    }
    let whole = digits_value(int_digits) * unit;
    if whole > BINARY_CAP {
        return capped;
    }
    // Below the cap, the value in nanos stays under 2^63 × 10^9 plus one unit: no overflow.
    let nanos = whole * NANOS + ceil_fraction(frac_digits, unit * NANOS);
    if nanos > BINARY_CAP * NANOS {
        return capped;
    }
    let format = if nanos > 0 && nanos < NANOS {
        Format::DecimalSI
    } else {
        Format::BinarySI
    };
    Quantity::from_raw(sign(i128::try_from(nanos).ok()?), NANO_EXPONENT, format)
}

/// `ceil(0.frac × multiplier)` for a fraction of any length, using only numbers below
/// `10 × multiplier`: Horner's rule from the last digit, tracking whether any step was inexact.
fn ceil_fraction(frac_digits: &[u8], multiplier: u128) -> u128 {
    let mut floor = 0u128;
    let mut inexact = false;
    for &d in frac_digits.iter().rev() {
        let step = u128::from(d - b'0') * multiplier + floor;
        floor = step / 10;
        inexact |= !step.is_multiple_of(10);
    }
    floor + u128::from(inexact)
}

/// The value of at most 38 ASCII digits.
fn digits_value(digits: &[u8]) -> u128 {
    digits
        .iter()
        .fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0'))
}

/// 10^n for `0 <= n <= 38`, the powers an `i128` can hold.
fn pow10(n: i64) -> Option<i128> {
    10i128.checked_pow(u32::try_from(n).ok()?)
}

/// Moves factors of ten from the mantissa into a count.
fn strip_trailing_zeros(mut mantissa: i128) -> (i128, i32) {
    let mut zeros = 0;
    while mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        zeros += 1;
    }
    (mantissa, zeros)
}

/// Number of decimal digits of a non-zero magnitude.
fn digit_count(magnitude: u128) -> u32 {
    magnitude.checked_ilog10().map_or(0, |d| d + 1)
}

/// Orders two positive values `a × 10^ea` and `b × 10^eb`.
fn compare_magnitudes(a: u128, ea: i32, b: u128, eb: i32) -> Ordering {
    let lead_a = i64::from(digit_count(a)) + i64::from(ea);
    let lead_b = i64::from(digit_count(b)) + i64::from(eb);
    if lead_a != lead_b {
        return lead_a.cmp(&lead_b);
    }
    // Same leading digit position: the exponent gap equals the digit-count gap, so the
    // rescaled mantissa has as many digits as the other one and stays below 10^38.
    let gap = 10u128.saturating_pow(ea.abs_diff(eb));
    match ea.cmp(&eb) {
        Ordering::Greater => a.saturating_mul(gap).cmp(&b),
        Ordering::Less => a.cmp(&b.saturating_mul(gap)),
        Ordering::Equal => a.cmp(&b),
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        // Normalisation makes the pair unique per value.
        self.mantissa == other.mantissa && self.exponent == other.exponent
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.mantissa.hash(state);
        self.exponent.hash(state);
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_sign = self.mantissa.signum().cmp(&other.mantissa.signum());
        if by_sign != Ordering::Equal || self.mantissa == 0 {
            return by_sign;
        }
        let by_magnitude = compare_magnitudes(
            self.mantissa.unsigned_abs(),
            self.exponent,
            other.mantissa.unsigned_abs(),
            other.exponent,
        );
        if self.mantissa < 0 {
            by_magnitude.reverse()
        } else {
            by_magnitude
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.canonical())
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// Accepts the shapes manifests use: `"500m"`, `2`, `0.5`.
struct QuantityVisitor;

impl QuantityVisitor {
    fn from_text<E: de::Error>(text: &str) -> Result<Quantity, E> {
        Quantity::parse(text).map_err(E::custom)
    }
}

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity such as \"500m\", \"1.5Gi\" or 2")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        // Upstream's JSON decoding trims surrounding whitespace before parsing; the parser
        // itself does not.
        Self::from_text(v.trim())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Ok(Quantity::from_int(v, Format::DecimalSI))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Self::from_text(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        Self::from_text(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        Self::from_text(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        // `{}` is the shortest text that reads back as the same f64 and never uses exponent
        // notation, so `0.5` becomes "0.5" and is then parsed exactly; NaN and inf are rejected.
        Self::from_text(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::hash::DefaultHasher;

    fn q(s: &str) -> Quantity {
        match Quantity::parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> QuantityError {
        match Quantity::parse(s) {
            Ok(q) => panic!("{s:?} should be rejected, got {q}"),
            Err(e) => e,
        }
    }

    fn hash_of(q: &Quantity) -> u64 {
        let mut h = DefaultHasher::new();
        q.hash(&mut h);
        h.finish()
    }

    #[test]
    fn canonical_forms() {
        let cases = [
            // 0.1 = 100 × 10^-3.
            ("0.1", "100m"),
            // 1.5 = 1500 × 10^-3.
            ("1.5", "1500m"),
            ("-1.5", "-1500m"),
            // 1.5 × 2^30 = 1536 × 2^20, and 1536 is not a multiple of 1024.
            ("1.5Gi", "1536Mi"),
            ("-1.5Gi", "-1536Mi"),
            // 1024 × 2^10 = 2^20.
            ("1024Ki", "1Mi"),
            ("1024Mi", "1Gi"),
            ("1Ki", "1Ki"),
            // 1025 × 1024 is not divisible by 1024^2.
            ("1025Ki", "1025Ki"),
            ("5Ei", "5Ei"),
            // 0.5 × 2^20 = 512 × 2^10.
            ("0.5Mi", "512Ki"),
            // 1000 = 1 × 10^3.
            ("1000", "1k"),
            ("1000M", "1G"),
            // 10.035 × 10^6 = 10035 × 10^3.
            ("10.035M", "10035k"),
            // 0.0005 × 10^3 = 0.5 = 500 × 10^-3.
            ("0.0005k", "500m"),
            // 1.0001 = 1000100 × 10^-6.
            ("1.0001", "1000100u"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            // 12 × 10^-2 = 120 × 10^-3, exponent kept a multiple of three.
            ("12E-2", "120e-3"),
            // 13 × 10^5 = 1300 × 10^3.
            ("1.3E+6", "1300e3"),
            // 12 × 10^2 = 1200 × 10^0, and exponent 0 prints no suffix.
            ("1.2e3", "1200"),
            ("12E", "12E"),
            // 1000 × 10^18 has no SI suffix: upstream falls back to an exponent.
            ("1000E", "1e21"),
            ("0", "0"),
            ("0Ki", "0"),
            ("-0", "0"),
            // 0.001 × 1024 = 1.024: BinarySI below 1024 prints as DecimalSI, 1024m.
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            (".000000001Ki", "1024n"),
            // 10^-12 × 1024 = 1.024n, rounded up to 2n.
            (".000000000001Ki", "2n"),
            // 100.035 × 1024 = 102435.84, fractional so printed in DecimalSI.
            ("100.035Ki", "102435840m"),
            // 9 × 2^60 exceeds 2^63 - 1 and is capped there; not a multiple of 1024.
            ("9Ei", "9223372036854775807"),
            ("-9Ei", "-9223372036854775807"),
            // 2^64 keeps every digit: decimal values are not capped.
            ("18446744073709551616", "18446744073709551616"),
            // Forms upstream would echo verbatim are canonicalised here.
            ("+1", "1"),
            ("01", "1"),
            ("1.100", "1100m"),
            ("1.G", "1G"),
            // Upstream's scanner lets the number be empty.
            (".", "0"),
            ("-", "0"),
            ("Ki", "0"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "canonical form of {input:?}");
        }
    }

    #[test]
    fn precision_below_nano_rounds_away_from_zero() {
        let cases = [
            // 10^-10 rounds up to the smallest unit.
            ("0.0000000001", "1n"),
            ("0.0000000005", "1n"),
            ("-0.0000000001", "-1n"),
            // 3.001n = 3n + 0.001n -> 4n.
            ("3.001n", "4n"),
            // 1.1 × 10^-9 -> 2 × 10^-9.
            ("1.1E-9", "2e-9"),
            ("0.5e-9", "1e-9"),
            // 123.45n and 123.54n both round up to 124n.
            ("0.00000012345", "124n"),
            ("0.00000012354", "124n"),
            // A long tail of zeros below nano is still exact.
            ("1.0000000000000000000000000", "1"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "rounding of {input:?}");
        }
    }

    #[test]
    fn format_follows_the_suffix() {
        assert_eq!(q("1").format(), Format::DecimalSI);
        assert_eq!(q("100m").format(), Format::DecimalSI);
        assert_eq!(q("1e3").format(), Format::DecimalExponent);
        assert_eq!(q("1Ki").format(), Format::BinarySI);
        assert_eq!(q("0Ki").format(), Format::BinarySI);
        assert_eq!(q("0.5Mi").format(), Format::BinarySI);
        // A BinarySI value strictly between -1 and 1 is stored as DecimalSI.
        assert_eq!(q(".000000000001Ki").format(), Format::DecimalSI);
        assert_eq!(q("-.0001Ki").format(), Format::DecimalSI);
        // 0.001Ki = 1.024 is not below 1, so it stays BinarySI but prints in DecimalSI.
        assert_eq!(q(".001Ki").format(), Format::BinarySI);
    }

    #[test]
    fn binary_small_and_fractional_values_print_decimal() {
        // Upstream TestQuantityString: below 1024 or fractional, BinarySI prints as DecimalSI.
        assert_eq!(Quantity::from_int(5, Format::BinarySI).to_string(), "5");
        assert_eq!(Quantity::from_int(1000, Format::BinarySI).to_string(), "1k");
        assert_eq!(
            Quantity::from_int(1023, Format::BinarySI).to_string(),
            "1023"
        );
        assert_eq!(
            Quantity::from_int(1024, Format::BinarySI).to_string(),
            "1Ki"
        );
        assert_eq!(
            Quantity::from_int(6 * 1024, Format::BinarySI).to_string(),
            "6Ki"
        );
        assert_eq!(
            Quantity::from_int(1 << 40, Format::BinarySI).to_string(),
            "1Ti"
        );
        // 1001 × 2^30 is not a multiple of 2^40.
        let gi1001 = Quantity::from_int(1001 << 30, Format::BinarySI);
        assert_eq!(gi1001.to_string(), "1001Gi");
        // 1234.567 is above 1024 but fractional.
        let frac = Quantity {
            format: Format::BinarySI,
            ..Quantity::from_milli(1_234_567)
        };
        assert_eq!(frac.to_string(), "1234567m");
    }

    #[test]
    fn constructors() {
        // Upstream TestNewSet / TestMilliNewSet.
        assert_eq!(Quantity::from_int(1, Format::DecimalSI).to_string(), "1");
        assert_eq!(
            Quantity::from_int(1000, Format::DecimalSI).to_string(),
            "1k"
        );
        assert_eq!(
            Quantity::from_int(1_234_000, Format::DecimalSI).to_string(),
            "1234k"
        );
        assert_eq!(
            Quantity::from_int(1_000_000, Format::DecimalExponent).to_string(),
            "1e6"
        );
        assert_eq!(
            Quantity::from_int(1 << 20, Format::BinarySI).to_string(),
            "1Mi"
        );
        assert_eq!(Quantity::from_milli(1).to_string(), "1m");
        assert_eq!(Quantity::from_milli(1000).to_string(), "1");
        assert_eq!(Quantity::from_milli(1_234_000).to_string(), "1234");
        assert_eq!(Quantity::from_milli(0), Quantity::default());
        assert!(Quantity::from_milli(0).is_zero());
        assert!(Quantity::from_milli(-1).is_negative());
        assert_eq!(Quantity::from_milli(1500), q("1.5"));
    }

    #[test]
    fn integer_accessors_round_away_from_zero() {
        // 0.1 of a byte is still a byte.
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("-100m").value(), -1);
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("0.1").milli_value(), 100);
        // 1.0001 × 1000 = 1000.1 -> 1001.
        assert_eq!(q("1.0001").milli_value(), 1001);
        // 1n × 1000 = 0.000001 -> 1.
        assert_eq!(q("1n").milli_value(), 1);
        // Upstream TestQuantityRoundUp: 9.01 -> 10, -9.01 -> -10.
        assert_eq!(q("9.01").value(), 10);
        assert_eq!(q("-9.01").value(), -10);
        assert_eq!(q("1.5Gi").value(), 1_610_612_736);
        // 2^30 / 10^6 = 1073.741824 -> 1074.
        assert_eq!(q("1Gi").scaled_value(6), 1074);
        // 1 at scale -9 is 10^9 nanos.
        assert_eq!(q("1").scaled_value(-9), 1_000_000_000);
        // 5 × 2^60.
        assert_eq!(q("5Ei").value(), 5_764_607_523_034_234_880);
        // Tiny against a huge scale: only the rounding unit is left.
        assert_eq!(q("1n").scaled_value(30), 1);
        assert_eq!(q("-1n").scaled_value(i32::MAX), -1);
    }

    #[test]
    fn integer_accessors_saturate() {
        assert_eq!(q("1e30").value(), i64::MAX);
        assert_eq!(q("-1e30").value(), i64::MIN);
        // 2^63 is one past i64::MAX.
        assert_eq!(q("9223372036854775808").value(), i64::MAX);
        assert_eq!(q("9223372036854775807").value(), i64::MAX);
        // 2^63 - 1 = 9223372036854775.807k: milli overflows.
        assert_eq!(q("9223372036854775807").milli_value(), i64::MAX);
        assert_eq!(q("1e2000000000").scaled_value(i32::MIN), i64::MAX);
    }

    #[test]
    fn equality_and_order_are_numeric() {
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1k"), q("1e3"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("0"), q("0Ki"));
        assert_eq!(hash_of(&q("1k")), hash_of(&q("1000")));
        assert_eq!(hash_of(&q("1Ki")), hash_of(&q("1.024k")));
        // Upstream TestQuantityCmp.
        assert!(q("100m") > q("50m"));
        assert!(q("50m") < q("100m"));
        assert!(q("10000T") > q("100Gi"));
        assert!(q("1Ki") > q("1k"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1500m"));
        assert!(q("1e30") > q("99999999999999999999999999"));
        assert!(q("1n") > q("0"));
        assert!(q("-1e30") < q("-1n"));
    }

    #[test]
    fn arithmetic_is_exact_and_keeps_the_left_format() {
        let add = |a: &str, b: &str| q(a).checked_add(&q(b)).map(|r| r.to_string());
        let sub = |a: &str, b: &str| q(a).checked_sub(&q(b)).map(|r| r.to_string());
        // Upstream TestQuantityAddZeroPreservesSuffix / SubZero.
        assert_eq!(add("100m", "0"), Ok("100m".into()));
        assert_eq!(add("0", "100m"), Ok("100m".into()));
        assert_eq!(add("1Gi", "0"), Ok("1Gi".into()));
        assert_eq!(add("0", "1Gi"), Ok("1Gi".into()));
        assert_eq!(sub("1Gi", "0"), Ok("1Gi".into()));
        assert_eq!(sub("0", "1Gi"), Ok("-1Gi".into()));
        assert_eq!(sub("0", "100m"), Ok("-100m".into()));
        // 2^30 + 2^29 = 1536 × 2^20.
        assert_eq!(add("1Gi", "512Mi"), Ok("1536Mi".into()));
        // The left operand's DecimalSI wins: 10^9 + 2^29 = 1536870912.
        assert_eq!(add("1G", "512Mi"), Ok("1536870912".into()));
        assert_eq!(add("1k", "1Ki"), Ok("2024".into()));
        // 1 - 1.5 = -0.5.
        assert_eq!(sub("1", "1500m"), Ok("-500m".into()));
        assert_eq!(sub("1Gi", "1Gi"), Ok("0".into()));
        // 38 nines + 1 = 10^38, which normalises to 1e38.
        let nines = "99999999999999999999999999999999999999";
        assert_eq!(q(nines).checked_add(&q("1")), Ok(q("1e38")));
        // Aligning 38 digits down to nano needs 47.
        assert_eq!(q(nines).checked_add(&q("1n")), Err(QuantityError::Overflow));
        // Zero is an identity even when alignment would be impossible.
        assert_eq!(
            q("1e2000000000").checked_add(&q("0")),
            Ok(q("1e2000000000"))
        );
    }

    #[test]
    fn invalid_inputs_are_rejected_with_their_class() {
        let malformed = |s: &str| QuantityError::Malformed { input: s.into() };
        assert_eq!(err(""), QuantityError::Empty);
        for s in [
            "1.2.3",
            "abc",
            "aoeu",
            "1 Gi",
            " 1",
            "1 ",
            "1Gb",
            "--1",
            "1+1.0M",
            "1.1.M",
            "0.1am",
            "1e3Ki",
            "1.5x",
            "1\u{00e9}",
        ] {
            assert_eq!(err(s), malformed(s), "{s:?}");
        }
        for (s, suffix) in [
            ("1e", "e"),
            ("-3.01e-", "e-"),
            ("1K", "K"),
            ("0.1mi", "mi"),
            (".5i", "i"),
            ("1i", "i"),
            ("-3.01i", "i"),
            ("1Kim", "Kim"),
            ("1Ki5", "Ki5"),
            // The exponent must be a 64-bit integer, like upstream's ParseInt.
            ("1e99999999999999999999", "e99999999999999999999"),
        ] {
            let want = QuantityError::UnknownSuffix {
                input: s.into(),
                suffix: suffix.into(),
            };
            assert_eq!(err(s), want, "{s:?}");
        }
        let out_of_range = |s: &str| QuantityError::OutOfRange { input: s.into() };
        // 39 significant digits.
        let long = "123456789012345678901234567890123456789";
        assert_eq!(err(long), out_of_range(long));
        // Fits in i64 but not in i32.
        assert_eq!(err("1e3000000000"), out_of_range("1e3000000000"));
    }

    #[test]
    fn error_messages_say_what_was_expected() {
        assert_eq!(
            err("1.2.3").to_string(),
            "invalid quantity \"1.2.3\": expected a number with an optional suffix \
             (m, k, Mi, Gi, e3, …)"
        );
        assert_eq!(
            err("").to_string(),
            "empty quantity: expected a number with an optional suffix (m, k, Mi, Gi, e3, …)"
        );
        assert!(err("1K").to_string().contains("unknown suffix \"K\""));
        assert!(err("1e3000000000").to_string().contains("32 bits"));
    }

    #[test]
    fn serde_accepts_strings_and_numbers() {
        let de = |json: &str| serde_json::from_str::<Quantity>(json).map(|q| q.to_string());
        assert_eq!(de("\"100m\"").ok(), Some("100m".into()));
        assert_eq!(de("\"1.5Gi\"").ok(), Some("1536Mi".into()));
        // Upstream TestJSONWhitespace: surrounding whitespace inside the string is trimmed.
        assert_eq!(de("\" 1\"").ok(), Some("1".into()));
        assert_eq!(de("\"1 \"").ok(), Some("1".into()));
        assert_eq!(de("1").ok(), Some("1".into()));
        assert_eq!(de("-1").ok(), Some("-1".into()));
        assert_eq!(de("2000").ok(), Some("2k".into()));
        assert_eq!(
            de("18446744073709551615").ok(),
            Some("18446744073709551615".into())
        );
        // 0.5 is "0.5" via `{}`, i.e. 500m.
        assert_eq!(de("0.5").ok(), Some("500m".into()));
        // JSON 1e3 is the f64 1000, printed "1000": DecimalSI, not DecimalExponent.
        assert_eq!(de("1e3").ok(), Some("1k".into()));
        // 0.1 is printed "0.1" (shortest round trip), not 0.1000000000000000055....
        assert_eq!(de("0.1").ok(), Some("100m".into()));
        let bad = serde_json::from_str::<Quantity>("\"1.2.3\"").map_err(|e| e.to_string());
        assert!(
            bad.as_ref().is_err_and(|e| e.starts_with(
                "invalid quantity \"1.2.3\": expected a number with an optional suffix"
            )),
            "{bad:?}"
        );
        assert!(serde_json::from_str::<Quantity>("true").is_err());
    }

    #[test]
    fn serde_writes_the_canonical_string() {
        let json = serde_json::to_string(&q("1.5Gi")).ok();
        assert_eq!(json.as_deref(), Some("\"1536Mi\""));
        let json = serde_json::to_string(&vec![q("0.1"), q("1e3")]).ok();
        assert_eq!(json.as_deref(), Some("[\"100m\",\"1e3\"]"));
    }

    /// Any representable value in a decimal format.
    fn decimal_quantity() -> impl Strategy<Value = Quantity> {
        let format = prop_oneof![Just(Format::DecimalSI), Just(Format::DecimalExponent)];
        (any::<i64>(), -9i64..=30, format).prop_filter_map("representable", |(m, e, f)| {
            Quantity::from_raw(i128::from(m), e, f)
        })
    }

    /// BinarySI values within upstream's parse cap of 2^63 - 1, so printing does not lose them.
    fn binary_quantity() -> impl Strategy<Value = Quantity> {
        prop_oneof![
            (-1023i64..=1023, 0u32..=5).prop_filter_map("representable", |(m, k)| {
                Quantity::from_raw(i128::from(m) << (10 * k), 0, Format::BinarySI)
            }),
            (-7i64..=7).prop_map(|m| Quantity::from_int(m << 60, Format::BinarySI)),
            (any::<i64>(), -9i64..=0).prop_filter_map("within cap", |(m, e)| {
                Quantity::from_raw(i128::from(m), e, Format::BinarySI).filter(|_| m != i64::MIN)
            }),
        ]
    }

    proptest! {
        #[test]
        fn canonical_printing_round_trips(
            quantity in prop_oneof![decimal_quantity(), binary_quantity()]
        ) {
            let printed = quantity.to_string();
            let reparsed = Quantity::parse(&printed);
            prop_assert_eq!(reparsed, Ok(quantity), "printed as {}", printed);
        }

        #[test]
        fn decimal_printing_is_a_fixed_point(quantity in decimal_quantity()) {
            let printed = quantity.to_string();
            // Only the text is fixed: DecimalSI past `E` prints, and so reparses, as an exponent.
            let reparsed = Quantity::parse(&printed).map(|r| r.to_string());
            prop_assert_eq!(reparsed, Ok(printed));
        }

        #[test]
        fn order_matches_integers(a in any::<i64>(), b in any::<i64>()) {
            let (qa, qb) = (Quantity::from_milli(a), Quantity::from_int(b, Format::BinarySI));
            let exact = i128::from(a).cmp(&(i128::from(b) * 1000));
            prop_assert_eq!(qa.cmp(&qb), exact);
            prop_assert_eq!(qa == qb, exact == Ordering::Equal);
        }

        #[test]
        fn add_then_sub_is_identity(a in decimal_quantity(), b in decimal_quantity()) {
            if let Ok(sum) = a.checked_add(&b) {
                prop_assert_eq!(sum.checked_sub(&b), Ok(a));
            }
        }
    }
}

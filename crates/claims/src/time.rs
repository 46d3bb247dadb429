//! Time as tokens and CircleCI's settings API write it.
//!
//! - [`NumericDate`]: RFC 7519 §2, whole seconds since the Unix epoch. AWS requires the token's
//!   timestamps to be integers (`spec/aws-sts-iam.md` §2.1), so fractions are not representable.
//! - [`JsonDuration`]: the TTL strings of CircleCI's `oidc-custom-claims` API, pattern
//!   `^([0-9]+(ms|s|m|h|d|w)){1,7}$`, e.g. `1h30m` (`spec/circleci-oidc.md` §1.4).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds since 1970-01-01T00:00:00Z, as in the `iat`, `exp` and `nbf` claims (RFC 7519 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NumericDate(i64);

impl NumericDate {
    /// The given number of seconds since the epoch.
    pub const fn from_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    /// Seconds since the epoch.
    pub const fn seconds(self) -> i64 {
        self.0
    }

    /// The whole seconds of a [`SystemTime`]; times before the epoch are negative.
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(i64::try_from(after.as_secs()).unwrap_or(i64::MAX)),
            Err(before) => Self(-i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// This date plus a duration, saturating at the representable maximum.
    pub fn plus(self, duration: Duration) -> Self {
        let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(seconds))
    }

    /// This date minus a duration, saturating at the representable minimum.
    pub fn minus(self, duration: Duration) -> Self {
        let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(seconds))
    }
}

impl fmt::Display for NumericDate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, formatter)
    }
}

/// Why a string is not a valid `JSONDuration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a duration: expected 1 to 7 groups of digits each followed by a unit \
     (ms, s, m, h, d, w), like \"1h30m\""
)]
pub struct DurationError {
    /// The rejected input.
    pub value: String,
}

/// A duration written the way CircleCI's token settings API writes TTLs: `1h`, `1h30m`, `90s`.
///
/// The grammar is `^([0-9]+(ms|s|m|h|d|w)){1,7}$` (`spec/circleci-oidc.md` §1.4). The original
/// text is kept so that what a user wrote is what the API returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDuration {
    text: String,
    duration: Duration,
}

impl JsonDuration {
    /// The duration's length.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The text as written, e.g. `1h30m`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Writes a whole number of seconds in the shortest form this grammar allows, e.g.
    /// 5400 s → `1h30m`, 0 s → `0s`.
    pub fn from_seconds(seconds: u64) -> Self {
        let units = [
            ("w", 604_800),
            ("d", 86_400),
            ("h", 3_600),
            ("m", 60),
            ("s", 1),
        ];
        let mut text = String::new();
        let mut rest = seconds;
        for (unit, size) in units {
            if rest >= size {
                text.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        if text.is_empty() {
            text.push_str("0s");
        }
        Self {
            text,
            duration: Duration::from_secs(seconds),
        }
    }
}

impl FromStr for JsonDuration {
    type Err = DurationError;

    fn from_str(value: &str) -> Result<Self, DurationError> {
        let error = || DurationError {
            value: value.to_owned(),
        };
        let mut total = Duration::ZERO;
        let mut groups = 0;
        let mut rest = value;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(error());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| error())?;
            rest = &rest[digits..];
            let (unit_millis, unit_length) = if rest.starts_with("ms") {
                (1, 2)
            } else {
                let unit = match rest.bytes().next() {
                    Some(b's') => 1_000,
                    Some(b'm') => 60_000,
                    Some(b'h') => 3_600_000,
                    Some(b'd') => 86_400_000,
                    Some(b'w') => 604_800_000,
                    _ => return Err(error()),
                };
                (unit, 1)
            };
            rest = &rest[unit_length..];
            let millis = number.checked_mul(unit_millis).ok_or_else(error)?;
            total = total
                .checked_add(Duration::from_millis(millis))
                .ok_or_else(error)?;
            groups += 1;
        }
        if !(1..=7).contains(&groups) {
            return Err(error());
        }
        Ok(Self {
            text: value.to_owned(),
            duration: total,
        })
    }
}

impl fmt::Display for JsonDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl Serialize for JsonDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_per_the_api_grammar() {
        let cases = [
            ("1h", 3_600_000),
            ("1h30m", 5_400_000),
            ("90s", 90_000),
            ("250ms", 250),
            ("1w2d3h4m5s6ms", 788_645_006),
            ("0s", 0),
            ("5h", 18_000_000),
        ];
        for (text, millis) in cases {
            let parsed: JsonDuration = text.parse().unwrap();
            assert_eq!(parsed.duration(), Duration::from_millis(millis), "{text}");
            assert_eq!(parsed.as_str(), text);
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in [
            "",
            "h",
            "1",
            "1x",
            "1H",
            "-1h",
            "1h 30m",
            "1s1s1s1s1s1s1s1s",
            "1.5h",
        ] {
            assert!(bad.parse::<JsonDuration>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn seconds_are_written_in_the_shortest_form() {
        assert_eq!(JsonDuration::from_seconds(5_400).as_str(), "1h30m");
        assert_eq!(JsonDuration::from_seconds(3_600).as_str(), "1h");
        assert_eq!(JsonDuration::from_seconds(0).as_str(), "0s");
        assert_eq!(JsonDuration::from_seconds(93_784).as_str(), "1d2h3m4s");
    }

    #[test]
    fn numeric_dates_add_and_convert() {
        let issued = NumericDate::from_seconds(1_790_000_000);
        assert_eq!(
            issued.plus(Duration::from_secs(3_600)).seconds(),
            1_790_003_600
        );
        assert_eq!(
            issued.minus(Duration::from_secs(10)).seconds(),
            1_789_999_990
        );
        let epoch_plus = UNIX_EPOCH + Duration::from_secs(42);
        assert_eq!(NumericDate::from_system_time(epoch_plus).seconds(), 42);
        assert_eq!(serde_json::to_string(&issued).unwrap(), "1790000000");
    }
}

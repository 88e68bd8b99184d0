//! The UI's login session: a cookie holding an expiry time and an HMAC of it, keyed by a key
//! derived from the admin token. The token itself never leaves the server; changing the token
//! ends every session.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "signalbox_session";
/// How long a login lasts.
pub const LIFETIME_HOURS: i64 = 12;

type HmacSha256 = Hmac<Sha256>;

/// The signature of `expires` under a key derived from the admin token.
fn signature(token: &str, expires: i64) -> Option<String> {
    let mut derive = HmacSha256::new_from_slice(token.as_bytes()).ok()?;
    derive.update(b"signalbox ui session v1");
    let key = derive.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(expires.to_string().as_bytes());
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// A new session value, valid for [`LIFETIME_HOURS`] from `now`: `{expires}.{hex hmac}`.
pub fn issue(token: &str, now: DateTime<Utc>) -> Option<String> {
    let expires = (now + Duration::hours(LIFETIME_HOURS)).timestamp();
    Some(format!("{expires}.{}", signature(token, expires)?))
}

/// True when `value` was issued under `token` and has not expired at `now`.
pub fn verify(token: &str, value: &str, now: DateTime<Utc>) -> bool {
    let Some((expires, mac)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    if expires <= now.timestamp() {
        return false;
    }
    signature(token, expires).is_some_and(|expected| {
        crate::config::constant_time_eq(expected.as_bytes(), mac.as_bytes())
    })
}

/// The session value in a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that stores `value`; `Secure` when the site is served over https.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME_HOURS * 3600,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends the session.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_session_is_valid_until_it_expires_and_only_under_its_token() {
        let now = at("2026-11-27T10:00:00Z");
        let value = issue("s3cret", now).unwrap_or_default();
        assert!(!value.contains("s3cret"));
        let cases = [
            ("s3cret", value.clone(), now, true),
            ("s3cret", value.clone(), now + Duration::hours(11), true),
            ("s3cret", value.clone(), now + Duration::hours(12), false),
            ("other", value.clone(), now, false),
            ("s3cret", value.replace('.', ""), now, false),
            ("s3cret", format!("9999999999.{}", &value[11..]), now, false),
            ("s3cret", String::new(), now, false),
            ("s3cret", "abc.def".into(), now, false),
        ];
        for (token, value, when, valid) in cases {
            assert_eq!(verify(token, &value, when), valid, "{token} {value} {when}");
        }
    }

    #[test]
    fn the_cookie_is_read_from_the_header_and_set_strictly() {
        for (header, want) in [
            ("signalbox_session=1.ab", Some("1.ab")),
            ("a=b; signalbox_session=2.cd; c=d", Some("2.cd")),
            ("other_signalbox_session=3", None),
            ("", None),
        ] {
            assert_eq!(from_cookie_header(header), want, "{header}");
        }
        let cookie = set_cookie("1.ab", true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!set_cookie("1.ab", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}

//! The peer certificate's expiry, read from its DER encoding. Pure.

use chrono::{DateTime, Utc};

/// When the certificate `der` stops being valid (`notAfter`), or `None` when it is not a
/// certificate.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
}

/// Days from `now` until `not_after` (negative once expired), to a tenth of a day.
pub fn days_left(not_after: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    let days = (not_after - now).num_seconds() as f64 / 86_400.0;
    (days * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_is_signed_and_rounded() {
        let now = DateTime::from_timestamp(1_795_773_600, 0).expect("valid");
        let cases = [
            (0, 0.0),
            (86_400 * 5, 5.0),
            (86_400 * 5 + 3_600 * 12, 5.5),
            (-86_400 * 2, -2.0),
            (3_600, 0.0),
        ];
        for (secs, days) in cases {
            let at = now + chrono::Duration::seconds(secs);
            assert_eq!(days_left(at, now), days, "{secs}");
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"\x30\x03\x02\x01\x01"), None);
        assert_eq!(not_after(b"-----BEGIN CERTIFICATE-----"), None);
    }
}

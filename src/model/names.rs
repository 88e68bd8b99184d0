//! The canonical names of the model's fieldless enums: one macro instead of a hand-written
//! `ALL`, `as_str`, `Display` and `FromStr` for each.

/// For a fieldless enum whose variants each have one canonical name (as stored, as shown in the
/// API, as its serde attributes write it), `names!(Type { Variant => "name", … })` generates
/// `Type::ALL` (in the order given: declaration order), `as_str` and `Display`.
///
/// `names!(Type parse "what" { … })` also generates `FromStr` (the exact name, surrounding
/// white space ignored), failing with `unknown what 'text'`; `parse "what" listed` adds the
/// names: `unknown what 'text' (expected a, b or c)`.
macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            /// Canonical name, as stored and as shown in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($ty:ident parse $what:literal $($listed:ident)? { $($variant:ident => $name:literal),+ $(,)? }) => {
        names!($ty { $($variant => $name),+ });

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|value| value.as_str() == s.trim())
                    .ok_or_else(|| {
                        format!(
                            "unknown {} '{s}'{}",
                            $what,
                            names!(@suffix $ty $($listed)?)
                        )
                    })
            }
        }
    };
    (@suffix $ty:ident) => {
        ""
    };
    (@suffix $ty:ident listed) => {
        format!(
            " (expected {})",
            $crate::model::names::one_of(&$ty::ALL.map($ty::as_str))
        )
    };
}

pub(crate) use names;

/// `a, b or c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::one_of;
    use crate::model::*;

    #[test]
    fn one_of_lists_names() {
        assert_eq!(one_of(&[]), "");
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b"]), "a or b");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }

    /// Each value's name round-trips through `FromStr` and `Display`, and is what serde
    /// writes and reads.
    fn agree<T>(all: &[T], as_str: fn(&T) -> &'static str)
    where
        T: std::str::FromStr + std::fmt::Display + serde::Serialize + serde::de::DeserializeOwned,
        T: PartialEq + std::fmt::Debug,
        T::Err: std::fmt::Debug,
    {
        assert!(!all.is_empty());
        for value in all {
            let name = as_str(value);
            assert_eq!(value.to_string(), name);
            assert_eq!(&name.parse::<T>().expect(name), value);
            assert_eq!(&format!(" {name}\n").parse::<T>().expect(name), value);
            let json = serde_json::to_string(value).expect("serializes");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(
                &serde_json::from_str::<T>(&json).expect("deserializes"),
                value
            );
        }
    }

    #[test]
    fn names_are_the_serde_names_and_parse_back() {
        agree(&Level::ALL, |v| v.as_str());
        agree(&GroupStatus::ALL, |v| v.as_str());
        agree(&Category::ALL, |v| v.as_str());
        agree(&Severity::ALL, |v| v.as_str());
        agree(&AlertRuleType::ALL, |v| v.as_str());
        agree(&AlertAction::ALL, |v| v.as_str());
        agree(&TaskStatus::ALL, |v| v.as_str());
        agree(&TaskPriority::ALL, |v| v.as_str());
        agree(&NotifyChannel::ALL, |v| v.as_str());
        agree(&DeliveryStatus::ALL, |v| v.as_str());
        agree(&ProbeFailure::ALL, |v| v.as_str());
        agree(&DeployCheckKind::ALL, |v| v.as_str());
        agree(&FixState::ALL, |v| v.as_str());
        agree(&PrState::ALL, |v| v.as_str());
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_was_expected() {
        let cases: [(Result<(), String>, &str); 14] = [
            (
                "x".parse::<Level>().map(drop).map_err(|e| e.to_string()),
                "unknown level 'x' (expected trace, debug, info, warn, error or critical)",
            ),
            (
                "x".parse::<GroupStatus>().map(drop),
                "unknown status 'x' (expected unresolved, resolved, ignored or regressed)",
            ),
            (
                "x".parse::<Category>().map(drop).map_err(|e| e.to_string()),
                "unknown category 'x' (expected one of provider, database, rate_limit, \
                 timeout, auth, validation, cache, external_service, internal)",
            ),
            (
                "x".parse::<Severity>().map(drop).map_err(|e| e.to_string()),
                "unknown severity 'x' (expected CRITICAL, HIGH, MEDIUM, LOW or INFO)",
            ),
            (
                "x".parse::<AlertRuleType>().map(drop),
                "unknown rule type 'x'",
            ),
            ("x".parse::<AlertAction>().map(drop), "unknown action 'x'"),
            (
                "x".parse::<TaskStatus>().map(drop),
                "unknown task status 'x' (expected open, in_progress or done)",
            ),
            (
                "x".parse::<TaskPriority>().map(drop),
                "unknown task priority 'x' (expected high, medium or low)",
            ),
            (
                "x".parse::<NotifyChannel>().map(drop),
                "unknown channel 'x' (expected slack, webhook or fix)",
            ),
            (
                "x".parse::<DeliveryStatus>().map(drop),
                "unknown status 'x' (expected pending, sent or failed)",
            ),
            (
                "x".parse::<ProbeFailure>().map(drop),
                "unknown probe failure 'x'",
            ),
            (
                "x".parse::<DeployCheckKind>().map(drop),
                "unknown deploy check 'x'",
            ),
            (
                "x".parse::<FixState>().map(drop),
                "unknown fix state 'x' (expected queued, running, proposed, pr_open, merged, \
                 closed, refused or failed)",
            ),
            (
                "x".parse::<PrState>().map(drop),
                "unknown pull request state 'x'",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, Err(want.to_string()));
        }
    }

    #[test]
    fn lenient_parsers_keep_their_spellings() {
        assert_eq!("ERR".parse::<Level>(), Ok(Level::Error));
        assert_eq!("fatal".parse::<Level>(), Ok(Level::Critical));
        assert_eq!("Rate-Limit".parse::<Category>(), Ok(Category::RateLimit));
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert!(Category::Database.fixable());
        assert!(!Category::Validation.fixable());
        assert!(!Category::Internal.fixable());
    }
}

//! Times on the page. The server renders UTC; once the page has hydrated, the browser shows
//! them in the viewer's locale and time zone with a relative "3 min ago" that keeps counting.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// Times as the server renders them: UTC, to the second.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long ago, in words: `just now`, `42 s ago`, `3 min ago`, `5 h ago`, `2 d ago`
/// (`in 3 min` for a time ahead of the clock).
pub fn relative(seconds_ago: i64) -> String {
    let (n, future) = if seconds_ago < 0 {
        (-seconds_ago, true)
    } else {
        (seconds_ago, false)
    };
    let text = match n {
        0..=4 => return "just now".into(),
        5..=59 => format!("{n} s"),
        60..=3599 => format!("{} min", n / 60),
        3600..=86_399 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// The page's clock: the current time (ticking in the browser) and whether the page has
/// hydrated (until then, text must be what the server rendered).
#[derive(Clone, Copy)]
pub struct Clock {
    pub now_ms: RwSignal<i64>,
    pub hydrated: RwSignal<bool>,
}

impl Clock {
    /// Provides the clock; in the browser it ticks every second.
    pub fn provide() -> Clock {
        let clock = Clock {
            now_ms: RwSignal::new(now_ms()),
            hydrated: RwSignal::new(false),
        };
        provide_context(clock);
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            clock.hydrated.set(true);
            clock.now_ms.set(now_ms());
            set_interval(
                move || clock.now_ms.set(now_ms()),
                std::time::Duration::from_secs(1),
            );
        });
        clock
    }

    /// The clock of the page (a fresh one outside the app, e.g. in tests).
    pub fn get() -> Clock {
        use_context::<Clock>().unwrap_or_else(|| Clock {
            now_ms: RwSignal::new(now_ms()),
            hydrated: RwSignal::new(false),
        })
    }
}

/// The current time in ms since the epoch (std's clock does not exist in the browser).
#[cfg(feature = "hydrate")]
fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

#[cfg(not(feature = "hydrate"))]
fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `t` in the viewer's locale and time zone (browser only).
#[cfg(feature = "hydrate")]
fn local(t: DateTime<Utc>) -> String {
    use wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(t.timestamp_millis() as f64));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options).format();
    format
        .call1(&JsValue::NULL, &date)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| utc(t))
}

#[cfg(not(feature = "hydrate"))]
fn local(t: DateTime<Utc>) -> String {
    utc(t)
}

/// A time: UTC from the server; local time and "N ago" in the browser.
#[component]
pub fn Time(at: DateTime<Utc>) -> impl IntoView {
    let clock = Clock::get();
    let iso = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let shown = move || {
        if clock.hydrated.get() {
            local(at)
        } else {
            utc(at)
        }
    };
    let ago = move || {
        clock.hydrated.get().then(|| {
            let secs = (clock.now_ms.get() - at.timestamp_millis()).div_euclid(1000);
            format!(" ({})", relative(secs))
        })
    };
    view! {
        <time datetime=iso title=utc(at)>
            {shown}
            <span class="ago">{ago}</span>
        </time>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        for (secs, want) in [
            (0, "just now"),
            (4, "just now"),
            (5, "5 s ago"),
            (59, "59 s ago"),
            (60, "1 min ago"),
            (180, "3 min ago"),
            (3599, "59 min ago"),
            (3600, "1 h ago"),
            (86_399, "23 h ago"),
            (86_400, "1 d ago"),
            (-180, "in 3 min"),
            (-2, "just now"),
        ] {
            assert_eq!(relative(secs), want, "{secs}");
        }
    }
}

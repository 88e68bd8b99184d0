//! Auto-refresh: every 30 s the pages' resources load again (unless paused). Pages keep
//! showing what they have while the new data loads (`Transition`), and the new data is
//! patched into the same elements, so scroll position, open rows and typed input stay.

use leptos::prelude::*;

use crate::time::{relative, Clock};

/// Seconds between two refreshes.
pub const INTERVAL_SECS: u64 = 30;

/// The refresh state of the page.
#[derive(Clone, Copy)]
pub struct Refresh {
    /// Bumped at every refresh: resources that read it load again.
    pub tick: RwSignal<u64>,
    pub paused: RwSignal<bool>,
    /// When the data shown last arrived (ms since the epoch).
    pub updated_ms: RwSignal<i64>,
}

impl Refresh {
    /// Provides the refresh state; in the browser it ticks every [`INTERVAL_SECS`].
    pub fn provide(clock: Clock) -> Refresh {
        let refresh = Refresh {
            tick: RwSignal::new(0),
            paused: RwSignal::new(false),
            updated_ms: RwSignal::new(clock.now_ms.get_untracked()),
        };
        provide_context(refresh);
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            set_interval(
                move || {
                    if !refresh.paused.get_untracked() {
                        refresh.tick.update(|t| *t += 1);
                    }
                },
                std::time::Duration::from_secs(INTERVAL_SECS),
            );
        });
        refresh
    }

    /// The page's refresh state (an idle one outside the app).
    pub fn get() -> Refresh {
        use_context::<Refresh>().unwrap_or_else(|| Refresh {
            tick: RwSignal::new(0),
            paused: RwSignal::new(false),
            updated_ms: RwSignal::new(0),
        })
    }

    /// Records that fresh data is shown.
    pub fn loaded(&self) {
        self.updated_ms.set(Clock::get().now_ms.get_untracked());
    }
}

/// "Updated 12 s ago" and the pause switch.
#[component]
pub fn RefreshBar() -> impl IntoView {
    let refresh = Refresh::get();
    let clock = Clock::get();
    let age = move || {
        let secs = (clock.now_ms.get() - refresh.updated_ms.get()).div_euclid(1000);
        format!("Updated {}", relative(secs.max(0)))
    };
    let label = move || {
        if refresh.paused.get() {
            "Resume auto-refresh"
        } else {
            "Pause auto-refresh"
        }
    };
    view! {
        <div class="refresh" role="status" aria-live="off" data-refreshes=move || refresh.tick.get().to_string()>
            <span data-testid="updated">{age}</span>
            <span class="muted">
                {move || if refresh.paused.get() { " · paused" } else { " · every 30 s" }}
            </span>
            <button
                type="button"
                class="link"
                aria-pressed=move || refresh.paused.get().to_string()
                on:click=move |_| refresh.paused.update(|p| *p = !*p)
                hidden=move || !clock.hydrated.get()
            >
                {label}
            </button>
        </div>
    }
    .into_any()
}

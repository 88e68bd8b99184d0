//! The Signalbox UI: Leptos components and the server functions they call. Compiled twice:
//! with `ssr` into the server, with `hydrate` into the browser's wasm bundle.

pub mod api;
pub mod chart;
pub mod deploys;
pub mod filters;
mod fixes;
mod governance;
mod group;
mod health;
mod login;
mod pages;
pub mod probes;
pub mod refresh;
mod sources;
pub mod sparkline;
pub mod time;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode, StaticSegment};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // ECharts must be a global before the wasm bundle runs.
                <script src="/echarts.min.js"></script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: navigation and pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let clock = time::Clock::provide();
    refresh::Refresh::provide(clock);
    let session = Resource::new(|| (), |_| api::session_state());
    view! {
        <Stylesheet id="signalbox" href="/pkg/signalbox.css" />
        <Title text="Signalbox" />
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <header class="topbar">
                <A href="/" attr:class="brand">"Signalbox"</A>
                <nav aria-label="Main">
                    <A href="/">"System Health"</A>
                    <A href="/grouping">"Grouping"</A>
                    <A href="/rules">"Rules"</A>
                    <A href="/tasks">"Tasks"</A>
                    <A href="/fixes">"Fixes"</A>
                    <A href="/probes">"Probes"</A>
                    <A href="/sources">"Sources"</A>
                    <a href="/api/openapi.json">"API"</a>
                    <Suspense>
                        {move || Suspend::new(async move {
                            session.await.ok().filter(|s| s.token_configured).map(|s| {
                                if s.may_change {
                                    view! {
                                        <form class="inline" method="post" action="/api/ui/logout">
                                            <button type="submit" class="link">"Log out"</button>
                                        </form>
                                    }
                                        .into_any()
                                } else {
                                    view! { <a href="/login">"Log in"</a> }.into_any()
                                }
                            })
                        })}
                    </Suspense>
                </nav>
            </header>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    // Async: the server waits for the data, so pages are complete HTML
                    // before the wasm loads (and without JavaScript at all).
                    <Route path=StaticSegment("") view=health::SystemHealth ssr=SsrMode::Async />
                    <Route path=path!("/grouping") view=pages::Grouping ssr=SsrMode::Async />
                    <Route path=path!("/rules") view=governance::RulesPage ssr=SsrMode::Async />
                    <Route path=path!("/tasks") view=governance::TasksPage ssr=SsrMode::Async />
                    <Route path=path!("/fixes") view=fixes::FixesPage ssr=SsrMode::Async />
                    <Route path=path!("/probes") view=probes::ProbesPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/errors/:fingerprint")
                        view=group::GroupPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/sources") view=sources::SourcesPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

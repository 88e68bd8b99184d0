//! The Signalbox UI: Leptos components and the server functions they call. Compiled twice:
//! with `ssr` into the server, with `hydrate` into the browser's wasm bundle.

pub mod api;
pub mod chart;
mod fixes;
pub mod deploys;
mod governance;
mod pages;
pub mod probes;

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
    view! {
        <Stylesheet id="signalbox" href="/pkg/signalbox.css" />
        <Title text="Signalbox — System Health" />
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Signalbox"</A>
                <nav>
                    <A href="/">"System Health"</A>
                    <A href="/grouping">"Grouping"</A>
                    <A href="/rules">"Rules"</A>
                    <A href="/tasks">"Tasks"</A>
                    <A href="/fixes">"Fixes"</A>
                    <A href="/probes">"Probes"</A>
                    <a href="/api/openapi.json">"API"</a>
                    <a href="/health/detailed">"Status"</a>
                </nav>
            </header>
            <main>
                <Routes fallback=pages::NotFound>
                    // Async: the server waits for the data, so pages are complete HTML
                    // before the wasm loads (and without JavaScript at all).
                    <Route path=StaticSegment("") view=pages::SystemHealth ssr=SsrMode::Async />
                    <Route path=path!("/grouping") view=pages::Grouping ssr=SsrMode::Async />
                    <Route path=path!("/rules") view=governance::RulesPage ssr=SsrMode::Async />
                    <Route path=path!("/tasks") view=governance::TasksPage ssr=SsrMode::Async />
                    <Route path=path!("/fixes") view=fixes::FixesPage ssr=SsrMode::Async />
                    <Route path=path!("/probes") view=probes::ProbesPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/errors/:fingerprint")
                        view=pages::GroupPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

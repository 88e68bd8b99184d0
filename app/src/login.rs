//! `/login`: the admin token in, a session cookie out. A plain form post (with or without
//! JavaScript): the server answers with the cookie and a redirect.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{refusal, safe_next};

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.with_untracked(|q| safe_next(q.get("next").as_deref()));
    let problem = query.with_untracked(|q| q.get("error").and_then(|c| refusal::message(&c)));
    view! {
        <Title text="Signalbox — Log in" />
        <h1>"Log in"</h1>
        <p class="muted">"Changes (and, when configured, reading) need the admin token, " <code>"SIGNALBOX_ADMIN_TOKEN"</code> "."</p>
        <div class="page-message" role="alert">
            {problem.map(|m| view! { <p class="error">{m}</p> })}
        </div>
        <form class="login" method="post" action="/api/ui/login">
            <input type="hidden" name="next" value=next />
            <label for="login-token">"Admin token"</label>
            <input id="login-token" name="token" type="password" autocomplete="current-password" required=true autofocus=true />
            <button type="submit">"Log in"</button>
        </form>
    }
    .into_any()
}

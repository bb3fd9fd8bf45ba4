//! Every request starts on a thread with no reactive owner.
//!
//! Leptos keeps "the current owner" (the reactive scope whose contexts `use_context` reads) in
//! a thread-local. Rendering a page can leave that page's owner current on the worker thread
//! after its poll (measured: at the start of about half of all page polls in the end-to-end
//! flows). leptos_axum's static-file answer makes its own owner with `Owner::new()`, which is a
//! child of whatever owner is current. It then reads `ResponseOptions` from the ancestors and
//! moves their headers into the file's response. So a `.wasm` chunk served on such a thread
//! took the headers of a page still rendering, and that page went out without its
//! Content-Security-Policy: its scripts were blocked and it never hydrated. That was about one
//! page load in a hundred under load, and one CI failure. This layer, around everything Leptos
//! serves, clears a stray owner before every poll of a request. A request's own owners are set
//! and restored inside its polls, so none of them is ever cleared by this.

use axum::{extract::Request, middleware::Next, response::Response};
use leptos::reactive::owner::Owner;
use std::future::Future;

/// Runs the request with no reactive owner current on the thread at the start of each poll.
pub async fn without_stray_owner(request: Request, next: Next) -> Response {
    let mut answer = std::pin::pin!(next.run(request));
    std::future::poll_fn(|cx| {
        if let Some(stray) = Owner::current() {
            stray.unset();
        }
        answer.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{
        Router,
        body::Body,
        http::{HeaderValue, StatusCode, header},
        middleware::from_fn,
        routing::get,
    };
    use leptos::prelude::{provide_context, use_context};
    use leptos_axum::ResponseOptions;
    use tower::ServiceExt;

    /// What leptos_axum's static-file answer does: a new owner, and the headers of any
    /// `ResponseOptions` it can see moved into its own response.
    async fn static_file() -> (StatusCode, &'static str) {
        let owner = Owner::new();
        let took =
            owner.with(|| use_context::<ResponseOptions>().map(|o| std::mem::take(&mut o.0.write().unwrap().headers)));
        match took {
            Some(headers) if !headers.is_empty() => (StatusCode::CONFLICT, "took another request's headers"),
            _ => (StatusCode::OK, "file"),
        }
    }

    async fn served(app: Router) -> StatusCode {
        app.oneshot(axum::http::Request::builder().uri("/pkg/chunk.wasm").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    // A current-thread runtime: the request is polled on the thread whose owner the test sets.
    #[tokio::test]
    async fn a_page_owner_left_on_the_thread_is_invisible_to_the_next_request() {
        let page_owner = Owner::new_root(None);
        let page_options = ResponseOptions::default();
        page_owner.with(|| provide_context(page_options.clone()));
        page_options.insert_header(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("the page's policy"));

        // Without the layer, the stray owner is the parent of the file's owner: the fault.
        page_owner.set();
        assert_eq!(served(Router::new().route("/pkg/chunk.wasm", get(static_file))).await, StatusCode::CONFLICT);
        page_options.insert_header(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("the page's policy"));

        page_owner.set();
        let guarded = Router::new().route("/pkg/chunk.wasm", get(static_file)).layer(from_fn(without_stray_owner));
        assert_eq!(served(guarded).await, StatusCode::OK);
        assert!(Owner::current().is_none(), "the stray owner was cleared");
        assert_eq!(page_options.0.read().unwrap().headers[header::CONTENT_SECURITY_POLICY], "the page's policy");
    }
}

//! A confirmation in a real `<dialog>`: opened modal, focus moves into it, Escape cancels.

use leptos::prelude::*;

/// Asks "`question`" with `details`, a `confirm` button and "Cancel" while `open` is true.
/// `on_confirm` runs when the person confirms; Escape, "Cancel" and confirming all set `open`
/// back to false.
#[component]
pub fn ConfirmDialog(
    /// Element id (also the base of the heading's id).
    id: &'static str,
    open: RwSignal<bool>,
    #[prop(into)] question: Signal<String>,
    #[prop(into)] details: Signal<String>,
    confirm: &'static str,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let heading_id = format!("{id}-heading");
    let labelled_by = heading_id.clone();
    Effect::new(move || {
        let wanted = open.get();
        if let Some(dialog) = dialog.get() {
            if wanted && !dialog.open() {
                // Modal: the page behind is inert, and focus moves to the first button.
                let _ = dialog.show_modal();
            } else if !wanted && dialog.open() {
                dialog.close();
            }
        }
    });
    view! {
        <dialog id=id node_ref=dialog class="confirm" aria-labelledby=labelled_by on:close=move |_| open.set(false)>
            <h2 id=heading_id>{move || question.get()}</h2>
            <p>{move || details.get()}</p>
            <div class="actions">
                <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                <button
                    type="button"
                    class="button danger"
                    on:click=move |_| {
                        open.set(false);
                        on_confirm.run(());
                    }
                >
                    {confirm}
                </button>
            </div>
        </dialog>
    }
}

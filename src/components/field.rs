//! A labelled text input with its error next to it, wired for screen readers.

use leptos::prelude::*;

/// `<label>` + `<input>` + message. With an error the input gets `aria-invalid="true"` and
/// `aria-describedby` pointing at the message.
#[component]
pub fn Field(
    /// Element id (also the base of the message id).
    id: &'static str,
    /// The form field name, as the server function names its argument.
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    /// The on-screen keyboard to offer (`numeric` for codes).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    value: RwSignal<String>,
    #[prop(optional, into)] error: MaybeProp<String>,
    /// Called when the person leaves the field.
    #[prop(optional, into)]
    on_blur: Option<Callback<()>>,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (message_id, hint_id) = (message_id.clone(), hint_id.clone());
        move || match (error.get().is_some(), hint.is_some()) {
            (true, _) => Some(message_id.clone()),
            (false, true) => Some(hint_id.clone()),
            (false, false) => None,
        }
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                node_ref=node_ref
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                on:blur=move |_| {
                    if let Some(callback) = on_blur {
                        callback.run(());
                    }
                }
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
            />
            {hint.map(|text| view! { <p class="hint" id=hint_id>{text}</p> })}
            <p class="field-error" id=message_id hidden=move || error.get().is_none()>
                {move || error.get().unwrap_or_default()}
            </p>
        </div>
    }
}

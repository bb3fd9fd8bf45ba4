//! `/signup`: create an account; field errors as the person types and on submit, from the
//! same parsers the server runs.

use crate::{
    browser::{Session, form_error_from_url, only_server_words},
    components::{
        alert::{Alert, sentence},
        field::Field,
        submit::SubmitButton,
    },
    domain::{Email, FullName, Password, Username},
    error::AppError,
    fns::auth::Signup,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_navigate};

#[component]
pub fn SignupPage() -> impl IntoView {
    let session = Session::get();
    let action = ServerAction::<Signup>::new();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let full_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Errors show once the person has left a field or tried to submit.
    let touched = RwSignal::new([false; 4]);
    let touch = move |i: usize| touched.update(|t| t[i] = true);
    let submitted = RwSignal::new(false);
    let inputs: [NodeRef<leptos::html::Input>; 4] = std::array::from_fn(|_| NodeRef::new());

    let from_url = StoredValue::new(form_error_from_url(<Signup as leptos::server_fn::ServerFn>::PATH));
    // The action starts out holding the error of a no-JavaScript post from the URL, too:
    // only the server's own words of it are shown.
    let outcome = move || {
        action.value().get().map(|result| result.map_err(only_server_words)).or_else(|| from_url.get_value().map(Err))
    };
    let server_error = move |field: &str| outcome().and_then(Result::err).and_then(|e| e.message_for(field));
    let local = move |i: usize, check: Option<&'static str>| -> Option<String> {
        (touched.with(|t| t[i]) || submitted.get()).then_some(check).flatten().map(str::to_owned)
    };
    let username_error =
        Signal::derive(move || local(0, Username::parse(&username.get()).err()).or_else(|| server_error("username")));
    let email_error =
        Signal::derive(move || local(1, Email::parse_optional(&email.get()).err()).or_else(|| server_error("email")));
    let full_name_error = Signal::derive(move || {
        local(2, FullName::parse_optional(&full_name.get()).err()).or_else(|| server_error("full_name"))
    });
    // The browser does not carry the common-password list: the server checks that one.
    let password_error = Signal::derive(move || {
        local(3, Password::parse(&password.get(), Some(&username.get()), |_| false).err())
            .or_else(|| server_error("password"))
    });
    let errors = [username_error, email_error, full_name_error, password_error];
    let general_error = Signal::derive(move || match outcome() {
        Some(Err(e @ (AppError::Unavailable | AppError::TooManyRequests { .. }))) => Some(sentence(&e)),
        Some(Err(AppError::Internal | AppError::BadRequest(_) | AppError::Forbidden(_))) => {
            Some(sentence(&AppError::Internal))
        }
        _ => None,
    });

    let navigate_after = navigate.clone();
    Effect::new(move || {
        if let Some(Ok(info)) = action.value().get() {
            session.signed_in(info);
            navigate_after("/me", Default::default());
        }
    });
    // After a refused submit, focus goes to the first field with an error.
    let focus_first_error = move || {
        if let Some(i) = errors.iter().position(|e| e.with_untracked(Option::is_some))
            && let Some(input) = inputs[i].get_untracked()
        {
            let _ = input.focus();
        }
    };
    Effect::new(move || {
        if matches!(action.value().get(), Some(Err(_))) {
            focus_first_error();
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(true);
        if errors.iter().any(|e| e.with_untracked(Option::is_some)) {
            focus_first_error();
            return;
        }
        action.dispatch(Signup {
            username: username.get_untracked(),
            password: password.get_untracked(),
            email: Some(email.get_untracked()),
            full_name: Some(full_name.get_untracked()),
        });
    };
    let strength = move || password_strength(&password.get());

    view! {
        <Title text="Sign up"/>
        {session.user_untracked().is_some().then(|| view! { <Redirect path="/me"/> })}
        <section class="card narrow" aria-labelledby="signup-heading">
            <h1 id="signup-heading">"Create your account"</h1>
            <form method="post" action="/fn/signup" novalidate on:submit=on_submit>
                <Alert message=general_error/>
                <Field id="signup-username" name="username" label="Username" autocomplete="username"
                    hint="3 to 32 letters, digits, '_', '.' or '-'"
                    value=username error=username_error on_blur=move |()| touch(0) node_ref=inputs[0]/>
                <Field id="signup-email" name="email" label="Email (optional)" kind="email" autocomplete="email"
                    value=email error=email_error on_blur=move |()| touch(1) node_ref=inputs[1]/>
                <Field id="signup-full-name" name="full_name" label="Full name (optional)" autocomplete="name"
                    value=full_name error=full_name_error on_blur=move |()| touch(2) node_ref=inputs[2]/>
                <Field id="signup-password" name="password" label="Password" kind="password"
                    autocomplete="new-password" hint="At least 8 characters; a short sentence works well"
                    value=password error=password_error on_blur=move |()| touch(3) node_ref=inputs[3]/>
                <p class="strength" aria-live="polite" hidden=move || password.with(String::is_empty)>
                    "Password strength: " <strong>{strength}</strong>
                </p>
                <SubmitButton pending=action.pending() idle="Sign up" busy="Signing up…"/>
            </form>
            <p class="aside">"Already have an account? " <a href="/login">"Log in to your account"</a></p>
        </section>
    }
}

/// A rough hint, not a rule: length matters most (NIST SP 800-63B), variety a little.
fn password_strength(password: &str) -> &'static str {
    let length = password.chars().count();
    let classes = [
        password.chars().any(char::is_lowercase),
        password.chars().any(char::is_uppercase),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    match (length, classes) {
        (0..8, _) => "too short",
        (8..12, 0..=2) => "weak",
        (8..12, _) | (12..16, 0..=1) => "fair",
        (12..16, _) => "good",
        _ => "strong",
    }
}

#[cfg(test)]
mod tests {
    use super::password_strength;

    #[test]
    fn longer_and_more_varied_passwords_rate_higher() {
        assert_eq!(password_strength("abc"), "too short");
        assert_eq!(password_strength("abcdefgh"), "weak");
        assert_eq!(password_strength("abcdefg1!"), "fair");
        assert_eq!(password_strength("correct horse1"), "good");
        assert_eq!(password_strength("correct horse battery staple"), "strong");
    }
}

//! The database under load: hundreds of registrations and a thousand logins in flight at
//! once finish without a 5xx, and every account exists exactly once afterwards.

use crate::helpers::{ADMIN, TestApp};
use futures_util::future::join_all;
use serde_json::{Value, json};

const PASSWORD: &str = "a long passphrase";
const PEOPLE: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_registrations_and_a_thousand_logins_at_once() {
    let app = TestApp::spawn().await;
    let name = |i: usize| format!("load_{i:03}");

    let registrations = join_all((0..PEOPLE).map(|i| {
        let app = &app;
        async move { app.register(json!({"username": name(i), "password": PASSWORD})).await.status().as_u16() }
    }))
    .await;
    assert!(
        registrations.iter().all(|s| *s == 201),
        "every registration created its account: {:?}",
        summary(&registrations)
    );

    // Two logins per person, all in flight together.
    let logins = join_all((0..2 * PEOPLE).map(|i| {
        let app = &app;
        async move { app.login(&name(i % PEOPLE), PASSWORD).await.status().as_u16() }
    }))
    .await;
    assert!(logins.iter().all(|s| *s == 200), "every login succeeded: {:?}", summary(&logins));

    // Exactly the accounts registered, once each (and the admin).
    let admin = app.admin_tokens().await;
    let mut seen = Vec::new();
    for offset in (0..=PEOPLE).step_by(200) {
        let page: Value =
            app.get(&format!("/api/v1/users?limit=200&offset={offset}"), &admin.access).await.json().await.unwrap();
        assert_eq!(page["total"], PEOPLE + 1);
        seen.extend(page["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()));
    }
    seen.sort();
    let expected: Vec<String> = (0..PEOPLE).map(name).chain([ADMIN.to_owned()]).collect::<Vec<_>>();
    let mut expected = expected;
    expected.sort();
    assert_eq!(seen, expected);
}

/// Status → count, for a readable failure.
fn summary(statuses: &[u16]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(*s).or_default() += 1;
    }
    counts
}

//! `Leptos.toml` (read by the binary at run time) must agree with Cargo.toml's
//! `[package.metadata.leptos]` (read by cargo-leptos at build time).

fn table(path: &str) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["package"]["metadata"]["leptos"].as_table().unwrap().clone()
}

#[test]
fn every_run_time_setting_in_leptos_toml_matches_cargo_toml() {
    let cargo = table("Cargo.toml");
    let runtime = table("Leptos.toml");
    assert!(!runtime.is_empty());
    for (key, value) in &runtime {
        assert_eq!(cargo.get(key), Some(value), "Leptos.toml's {key} differs from Cargo.toml");
    }
    for key in ["output-name", "site-root", "site-pkg-dir", "site-addr"] {
        assert!(runtime.contains_key(key), "Leptos.toml must set {key}");
    }
}

#[test]
fn the_server_reads_leptos_toml() {
    let options = leptos::config::get_configuration(Some("Leptos.toml")).unwrap().leptos_options;
    assert_eq!(&*options.output_name, "gatehouse");
    assert_eq!(&*options.site_pkg_dir, "pkg");
}

/// Every series the Grafana dashboard in `deploy/` queries is one Gatehouse records.
#[test]
fn the_dashboard_queries_only_metrics_gatehouse_records() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("deploy/grafana-dashboard.json").unwrap()).unwrap();
    let mut sources = String::new();
    let mut dirs = vec![std::path::PathBuf::from("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !(word.starts_with("gatehouse_") || word.starts_with("http_")) {
                    continue;
                }
                let name = ["_bucket", "_count", "_sum"].iter().fold(word, |w, s| w.strip_suffix(s).unwrap_or(w));
                assert!(
                    sources.contains(&format!("\"{name}\"")),
                    "the dashboard queries {name}, which src/ never records"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "the dashboard's queries were read");
}

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

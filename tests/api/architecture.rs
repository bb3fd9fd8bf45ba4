//! Dependencies point one way: a module of `src/` may use modules of its own layer and lower
//! ones, never a higher one, so the domain knows nothing of storage and a service nothing of
//! pages. The check reads the source text (std only, no compiler): `use` trees, inline
//! `crate::` paths and `super::` paths, each resolved to the file it lands in. A module that
//! is not in the table fails the check, so every new module gets its layer on purpose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module's layer is that of its longest matching entry: the
/// entry itself or a module below it (`http` covers `http::cookie`), except where
/// [`NOT_A_SUBTREE`] says otherwise.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("error", 0),
    ("users", 0),
    ("audit", 0),
    ("db", 1),
    ("config", 1),
    ("http", 1),
    ("telemetry", 1),
    ("prometheus", 1),
    ("auth::common_passwords", 2),
    ("auth::password", 2),
    ("auth::keys", 2),
    ("auth::tokens", 2),
    ("auth::logins", 2),
    ("auth::throttle", 2),
    ("users::repository", 2),
    ("audit::repository", 2),
    ("auth::resets", 2),
    ("auth::agents", 2),
    ("auth::cache", 2),
    ("auth::totp", 2),
    ("auth::mfa", 2),
    ("auth::service", 3),
    ("users::service", 4),
    ("state", 5),
    ("api", 6),
    ("fns", 6),
    ("browser", 7),
    ("components", 8),
    ("pages", 9),
    ("app", 10),
    ("server", 11),
    ("cli", 11),
    ("main", 11),
];

/// Entries that stand for their own file only: `users` is the wire types of
/// `src/users/mod.rs`, and each module below it has an entry (and a layer) of its own.
const NOT_A_SUBTREE: &[&str] = &["users", "audit"];

/// Modules that only list other modules: the crate root (`src/lib.rs`, written `""`) and
/// `auth`. They have no imports worth checking, and a path through them must name the
/// module that defines the item instead.
const MODULE_LISTS: &[&str] = &["", "auth"];

/// What the domain (pure parsing and validation) must not mention: storage, runtimes, the
/// network, files.
const NOT_IN_DOMAIN: &[&str] = &["sqlx", "tokio", "axum", "reqwest", "std::fs", "std::net", "crate::db"];

/// Modules that are one service's own business, and who may import them: auth's SQL, hashing
/// and token internals are reached through `AuthService` (the composition root builds them);
/// users are stored by `users::repository`, which auth reads for credentials.
const PRIVATE_TO: &[(&str, &[&str])] = &[
    // Disabling and deleting an account end its logins in the transaction that changes it.
    ("auth::logins", &["auth", "server", "users::repository"]),
    ("auth::resets", &["auth"]),
    ("audit::repository", &["audit", "auth", "users"]),
    ("auth::throttle", &["auth", "server"]),
    ("auth::password", &["auth", "server"]),
    ("auth::tokens", &["auth", "server"]),
    ("auth::keys", &["auth", "server"]),
    ("auth::common_passwords", &["auth"]),
    // The second factor's SQL and arithmetic: its service, and the root that makes its keys.
    ("auth::mfa", &["auth"]),
    ("auth::totp", &["auth", "server"]),
    // The second factor's challenges are read with the account they belong to.
    ("users::repository", &["users", "auth::service", "auth::logins", "auth::mfa"]),
];

/// Modules that may import only from the listed ones: the HTTP plumbing sits under every
/// route, so it knows nothing of Gatehouse but its error type.
const ONLY_FROM: &[(&str, &[&str])] = &[("http", &["error", "http"])];

/// Where the table lives, for the messages that ask for an entry.
const TABLE: &str = "LAYERS in tests/api/architecture.rs";

#[test]
fn every_module_imports_only_from_its_own_layer_or_lower_ones() {
    let sources = sources();
    assert!(sources.iter().any(|source| source.path == "src/lib.rs"), "src/lib.rs among {} files", sources.len());
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|source| source.module.clone()).collect();
    let mut problems = BTreeSet::new();
    let mut seen = 0;
    for source in &sources {
        let (file, name) = (&source.path, source.module.join("::"));
        if MODULE_LISTS.contains(&name.as_str()) {
            continue;
        }
        let Some(importer) = layer(&name) else {
            problems.insert(format!("{file}: module {name} has no layer: add it to {TABLE}"));
            continue;
        };
        // `main.rs` is the binary: it reaches the library as `gatehouse::`, not `crate::`.
        let roots: &[&str] = if name == "main" { &["gatehouse"] } else { &[] };
        for path in crate_paths(&source.text, &source.module, roots) {
            seen += 1;
            let target = owning_module(&path, &modules).join("::");
            if MODULE_LISTS.contains(&target.as_str()) {
                let list = if target.is_empty() { "the crate root" } else { target.as_str() };
                let path = path.join("::");
                problems.insert(format!("{file}: imports {path} through {list}, a module list: name its module"));
                continue;
            }
            match layer(&target) {
                None => {
                    problems.insert(format!("{file}: imports {target}, which has no layer: add it to {TABLE}"));
                }
                Some(imported) if imported > importer => {
                    problems.insert(format!("{file}: imports {target} (layer {imported}) from layer {importer}"));
                }
                Some(_) => {}
            }
            for (private, allowed) in PRIVATE_TO {
                if within(&target, private) && !allowed.iter().any(|a| within(&name, a)) {
                    problems.insert(format!("{file}: imports {target}, which only {} may use", allowed.join(", ")));
                }
            }
            for (module, allowed) in ONLY_FROM {
                if within(&name, module) && !allowed.iter().any(|a| within(&target, a)) {
                    problems
                        .insert(format!("{file}: imports {target}; {module} may import only {}", allowed.join(", ")));
                }
            }
        }
    }
    // A scanner that found nothing would pass every tree.
    assert!(seen > 0, "no crate-internal path found in {} files under src/", sources.len());
    let problems: Vec<String> = problems.into_iter().collect();
    assert!(problems.is_empty(), "dependencies must point down the layers:\n{}", problems.join("\n"));
}

/// `module` is `prefix` or inside it (`auth::service` is within `auth`, `authx` is not).
fn within(module: &str, prefix: &str) -> bool {
    module == prefix || module.strip_prefix(prefix).is_some_and(|rest| rest.starts_with("::"))
}

#[test]
fn the_domain_mentions_no_storage_runtime_network_or_files() {
    let domain: Vec<Source> = sources().into_iter().filter(|source| source.path.starts_with("src/domain/")).collect();
    assert!(!domain.is_empty(), "src/domain/ has files");
    let mut problems = Vec::new();
    for source in &domain {
        let code = strip_comments_and_literals(&source.text);
        // `use std::{fs, net};` names `std::fs` without the text ever holding it.
        let used = use_paths(&code);
        for word in NOT_IN_DOMAIN {
            if code.contains(word) || used.iter().any(|path| path.starts_with(word)) {
                problems.push(format!("{}: mentions {word}; the domain is pure parsing, with no I/O", source.path));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// One `.rs` file under `src/`.
struct Source {
    /// As messages show it: `src/auth/service.rs`.
    path: String,
    /// Its module path: `["auth", "service"]`, empty for the crate root.
    module: Vec<String>,
    text: String,
}

/// Every `.rs` file under `src/`, in path order.
fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap();
            Source {
                path: format!("src/{}", relative.display()),
                module: module_of(relative),
                text: std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display())),
            }
        })
        .collect()
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The module of a file, from its path under `src/`: `auth/service.rs` is `auth::service`,
/// `api/mod.rs` is `api`, `lib.rs` is the crate root and `main.rs` is `main`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> =
        relative.with_extension("").iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|last| last == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
}

/// The layer of a module (`auth::service`): that of its longest matching entry in [`LAYERS`],
/// or `None` when no entry matches.
fn layer(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(entry, _)| {
            module == *entry
                || (!NOT_A_SUBTREE.contains(entry)
                    && module.strip_prefix(*entry).is_some_and(|rest| rest.starts_with("::")))
        })
        .max_by_key(|(entry, _)| entry.len())
        .map(|(_, layer)| *layer)
}

/// The module a crate path lands in: its longest prefix that is a file under `src/`
/// (`auth::service::AuthService` lands in `auth::service`), at worst the crate root.
fn owning_module(path: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|prefix| modules.contains(prefix)).unwrap_or_default()
}

/// Every crate-internal path the file `source` of `module` names, relative to the crate
/// root: `use` trees flattened, inline paths such as `crate::db::now_micros()`, and `self::`,
/// `super::` and child-module (`mod x;` then `x::Item`) paths resolved against the module,
/// including the inline modules (`mod tests { .. }`) they sit in. `roots` are further names
/// that mean this crate (`gatehouse` in `main.rs`). Paths into other crates are left out.
fn crate_paths(source: &str, module: &[String], roots: &[&str]) -> Vec<Vec<String>> {
    let tokens = tokens(&strip_comments_and_literals(source));
    let children: Vec<&str> = tokens
        .windows(3)
        .filter_map(|window| match window {
            [Token::Ident(keyword), Token::Ident(name), Token::Punct(';')] if keyword == "mod" => Some(name.as_str()),
            _ => None,
        })
        .collect();
    // The inline modules around the current token, each with the brace depth of its body.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth: usize = 0;
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(keyword) if keyword == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) = (tokens.get(i + 1), tokens.get(i + 2)) {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, body)| *body == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(keyword) if keyword == "use" => {
                let end = use_end(&tokens, i);
                let scope = scope(module, &inline);
                // The file's child modules are not in scope inside an inline module.
                let children: &[&str] = if inline.is_empty() { &children } else { &[] };
                for path in flatten_use_tree(&tokens[i + 1..end]) {
                    found.extend(resolve(&path, &scope, roots, children));
                }
                i = end + 1;
                continue;
            }
            _ => {
                if let Some((path, next)) = path_at(&tokens, i) {
                    let children: &[&str] = if inline.is_empty() { &children } else { &[] };
                    found.extend(resolve(&path, &scope(module, &inline), roots, children));
                    i = next;
                    continue;
                }
            }
        }
        i += 1;
    }
    found
}

/// The module the code is in: the file's, then the inline modules around it.
fn scope(module: &[String], inline: &[(String, usize)]) -> Vec<String> {
    module.iter().cloned().chain(inline.iter().map(|(name, _)| name.clone())).collect()
}

/// A path as written in `scope`, made relative to the crate root; `None` when it names
/// another crate (`std::…`, `leptos::…`) or anything else that is not a module path here.
fn resolve(path: &[String], scope: &[String], roots: &[&str], children: &[&str]) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let (mut resolved, mut rest) = if first == "crate" || roots.contains(&first) {
        (Vec::new(), &path[1..])
    } else if first == "self" {
        (scope.to_vec(), &path[1..])
    } else if first == "super" || children.contains(&first) {
        (scope.to_vec(), path)
    } else {
        return None;
    };
    // One module up per leading `super`.
    while let Some((head, tail)) = rest.split_first()
        && head == "super"
    {
        resolved.pop();
        rest = tail;
    }
    resolved.extend(rest.iter().cloned());
    Some(resolved)
}

/// The path that starts at `tokens[i]` (`a::b`, two segments or more) and the index after
/// it; `None` for the tail of a longer path and for the path of a `pub(in path)` visibility.
fn path_at(tokens: &[Token], i: usize) -> Option<(Vec<String>, usize)> {
    let Token::Ident(first) = &tokens[i] else { return None };
    let inside_path = i > 0 && tokens[i - 1] == Token::PathSep;
    let visibility = i >= 3
        && matches!(&tokens[i - 3..i], [Token::Ident(word), Token::Punct('('), Token::Ident(keyword)]
            if word == "pub" && keyword == "in");
    if inside_path || visibility {
        return None;
    }
    let mut path = vec![first.clone()];
    let mut next = i + 1;
    while let (Some(Token::PathSep), Some(Token::Ident(segment))) = (tokens.get(next), tokens.get(next + 1)) {
        path.push(segment.clone());
        next += 2;
    }
    (path.len() > 1).then_some((path, next))
}

/// The index of the `;` that ends the `use` declaration at `start` (or the end of the file).
fn use_end(tokens: &[Token], start: usize) -> usize {
    tokens[start..].iter().position(|token| *token == Token::Punct(';')).map_or(tokens.len(), |n| start + n)
}

/// Every path of every `use` declaration in `code` (stripped), whatever crate it names.
fn use_paths(code: &str) -> Vec<String> {
    let tokens = tokens(code);
    let mut paths = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if matches!(token, Token::Ident(keyword) if keyword == "use") {
            let end = use_end(&tokens, i);
            paths.extend(flatten_use_tree(&tokens[i + 1..end]).iter().map(|path| path.join("::")));
        }
    }
    paths
}

/// Every path a use tree names, its groups flattened: `crate::{a::{b, c::D}, e}` names
/// `crate::a::b`, `crate::a::c::D` and `crate::e`. `self` in a group names the group's
/// module, a glob names the module it reads, and an alias (`as x`) changes nothing here.
fn flatten_use_tree(tokens: &[Token]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    flatten(tokens, &mut 0, &[], &mut paths);
    paths
}

/// Reads one use tree from `tokens[*pos]` on, below `prefix`, into `paths`.
fn flatten(tokens: &[Token], pos: &mut usize, prefix: &[String], paths: &mut Vec<Vec<String>>) {
    let start = *pos;
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*pos) {
            Some(Token::Ident(name)) => {
                if name != "self" || path.is_empty() {
                    path.push(name.clone());
                }
                *pos += 1;
            }
            Some(Token::Punct('{')) => {
                *pos += 1;
                while let Some(token) = tokens.get(*pos) {
                    match token {
                        Token::Punct('}') => {
                            *pos += 1;
                            break;
                        }
                        Token::Punct(',') => *pos += 1,
                        _ => {
                            let before = *pos;
                            flatten(tokens, pos, &path, paths);
                            // Not a use tree: step over it rather than loop forever.
                            if *pos == before {
                                *pos += 1;
                            }
                        }
                    }
                }
                return;
            }
            Some(Token::Punct('*')) => {
                *pos += 1;
                paths.push(path);
                return;
            }
            _ => break,
        }
        match tokens.get(*pos) {
            Some(Token::PathSep) => *pos += 1,
            Some(Token::Ident(keyword)) if keyword == "as" => {
                *pos += 2;
                break;
            }
            _ => break,
        }
    }
    if *pos > start {
        paths.push(path);
    }
}

/// `source` with comments removed (`//`, `//!`, `///` and nested `/* */`) and string and
/// character literals emptied, so that no comment or string can pass for a path.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1).copied()) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                let mut depth = 0;
                while i < chars.len() {
                    match (chars[i], chars.get(i + 1).copied()) {
                        ('/', Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        ('*', Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => i += 1,
                    }
                }
                code.push(' ');
            }
            ('"', _) => {
                i = match raw_string_hashes(&chars, i) {
                    Some(hashes) => end_of_raw_string(&chars, i, hashes),
                    None => end_of_string(&chars, i),
                };
                code.push_str("\"\"");
            }
            ('\'', Some('\\')) => {
                // An escaped character, `'\''` or `'\u{1F600}'`: skip to the closing quote.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                code.push_str("''");
            }
            // A character such as `'"'` or `'{'`; a lifetime (`'a`) has no closing quote.
            ('\'', _) if chars.get(i + 2) == Some(&'\'') => {
                i += 3;
                code.push_str("''");
            }
            (c, _) => {
                code.push(c);
                i += 1;
            }
        }
    }
    code
}

/// For the `"` at `quote`: the number of `#`s when it opens a raw string (`r"`, `r#"`,
/// `br"`, `cr#"`), `None` for an ordinary string.
fn raw_string_hashes(chars: &[char], quote: usize) -> Option<usize> {
    let hashes = chars[..quote].iter().rev().take_while(|c| **c == '#').count();
    let r = quote.checked_sub(hashes + 1)?;
    if chars[r] != 'r' {
        return None;
    }
    // The `r` (or the `b` or `c` before it) must begin a token.
    let start = if r > 0 && matches!(chars[r - 1], 'b' | 'c') { r - 1 } else { r };
    (start == 0 || !is_ident_char(chars[start - 1])).then_some(hashes)
}

/// The index after the string that opens at `quote`, escapes skipped.
fn end_of_string(chars: &[char], quote: usize) -> usize {
    let mut i = quote + 1;
    while i < chars.len() && chars[i] != '"' {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// The index after the raw string that opens at `quote` and closes with `"` and `hashes` #s.
fn end_of_raw_string(chars: &[char], quote: usize, hashes: usize) -> usize {
    let mut i = quote + 1;
    while i < chars.len() {
        if chars[i] == '"' && chars.get(i + 1..i + 1 + hashes).is_some_and(|after| after.iter().all(|c| *c == '#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A name, keyword or number.
    Ident(String),
    /// `::`
    PathSep,
    /// Any other character.
    Punct(char),
}

/// The tokens of stripped code, enough to read paths: names, `::` and single characters.
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
        } else if is_ident_char(chars[i]) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if chars[i] == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            tokens.push(Token::Punct(chars[i]));
            i += 1;
        }
    }
    tokens
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

// The check's own parts: it can only be trusted if it sees every path.

fn joined(paths: Vec<Vec<String>>) -> Vec<String> {
    paths.into_iter().map(|path| path.join("::")).collect()
}

fn flattened(tree: &str) -> Vec<String> {
    joined(flatten_use_tree(&tokens(tree)))
}

/// The crate paths `source` names, read as the file of `module` (`"auth::service"`).
fn paths_in(source: &str, module: &str) -> Vec<String> {
    let module: Vec<String> = module.split("::").filter(|part| !part.is_empty()).map(String::from).collect();
    joined(crate_paths(source, &module, &[]))
}

#[test]
fn nested_use_groups_are_flattened_into_every_path_they_name() {
    assert_eq!(flattened("crate::{a::{b, c::D}, e}"), ["crate::a::b", "crate::a::c::D", "crate::e"]);
    assert_eq!(paths_in("use crate::{a::{b, c::D}, e};", "x"), ["a::b", "a::c::D", "e"]);
    let multi_line = "pub use crate::{\n    auth::{\n        service::{AuthService, Purged},\n        tokens,\n    },\n\
                      db::Db,\n};";
    let expected = ["auth::service::AuthService", "auth::service::Purged", "auth::tokens", "db::Db"];
    assert_eq!(paths_in(multi_line, "state"), expected);
}

#[test]
fn self_globs_and_aliases_name_the_module_they_read_from() {
    assert_eq!(flattened("crate::a::{self, b as c, d::*}"), ["crate::a", "crate::a::b", "crate::a::d"]);
    assert_eq!(flattened("std::io::Write as _"), ["std::io::Write"]);
    assert_eq!(paths_in("use leptos::prelude::*;\nuse std::sync::Arc;", "app"), Vec::<String>::new());
}

#[test]
fn super_is_resolved_against_the_file_and_the_inline_module_around_it() {
    assert_eq!(paths_in("use super::password::hash;", "auth::service"), ["auth::password::hash"]);
    // A `mod.rs` file is its directory's module: its `super` is the crate root.
    assert_eq!(paths_in("use super::db::Db;", "api"), ["db::Db"]);
    assert_eq!(paths_in("fn f() { super::super::db::connect() }", "http::cookie"), ["db::connect"]);
    // Inside `mod tests { .. }`, `super` is the file's own module; after it, the parent again.
    let source = "use crate::db::Db;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\nfn after() { super::x::y(); }";
    assert_eq!(paths_in(source, "auth::service"), ["db::Db", "auth::service", "auth::x::y"]);
}

#[test]
fn inline_paths_and_child_modules_count_and_visibilities_do_not() {
    let source = "mod extract;\npub use extract::Bearer;\n\
                  pub(in crate::api) fn f() -> crate::error::AppError { $crate::db::x!() }\n\
                  pub(super) fn g() {}\npub(crate) fn h() {}";
    assert_eq!(paths_in(source, "api"), ["api::extract::Bearer", "error::AppError", "db::x"]);
    let main = "fn main() { gatehouse::server::run(); }";
    assert_eq!(joined(crate_paths(main, &["main".to_owned()], &["gatehouse"])), ["server::run"]);
}

#[test]
fn comments_and_strings_are_not_read_as_paths() {
    let source = r##"
//! Uses crate::pages::Home, says the doc.
/// And crate::app::App.
/* crate::server::x /* nested crate::state::y */ still a comment crate::api::z */
fn f() -> &'static str {
    let _c = '"';
    let _d = '\'';
    let _s = "crate::browser::x \" crate::fns::y";
    let _r = r#"crate::components::z " still raw"#;
    crate::db::connect()
}
"##;
    assert_eq!(paths_in(source, "users::service"), ["db::connect"]);
}

#[test]
fn a_file_path_gives_its_module_path() {
    assert_eq!(module_of(Path::new("auth/service.rs")), ["auth", "service"]);
    assert_eq!(module_of(Path::new("api/mod.rs")), ["api"]);
    assert_eq!(module_of(Path::new("lib.rs")), Vec::<String>::new());
    assert_eq!(module_of(Path::new("main.rs")), ["main"]);
}

#[test]
fn a_module_takes_the_layer_of_its_longest_matching_entry() {
    assert_eq!(layer("auth::service"), Some(3));
    assert_eq!(layer("http::cookie"), Some(1));
    assert_eq!(layer("users"), Some(0));
    assert_eq!(layer("users::service"), Some(4));
    // `users` stands for src/users/mod.rs only; `auth` only lists modules.
    assert_eq!(layer("users::anything_new"), None);
    assert_eq!(layer("auth"), None);
    assert_eq!(layer("auth::anything_new"), None);
    assert_eq!(layer("httpx"), None);
}

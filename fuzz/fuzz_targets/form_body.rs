//! Form bodies (token and revoke endpoints): any bytes give pairs or a 400, never a panic;
//! accepted pairs have distinct names.
#![no_main]

use gatehouse::api::extract::parse_pairs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_pairs(data) {
        Ok(pairs) => {
            let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "repeated names accepted");
        }
        Err(e) => assert_eq!(e.status(), 400, "{e:?}"),
    }
});

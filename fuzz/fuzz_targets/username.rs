//! Username parsing: never panics; whatever it accepts parses again to itself.
#![no_main]

use gatehouse::domain::Username;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(name) = Username::parse(raw) {
        assert_eq!(name.as_str(), raw, "accepted names are kept as typed");
        let again = Username::parse(name.as_str()).expect("an accepted name parses again");
        assert_eq!(again.key(), name.key());
        assert!((Username::MIN_LEN..=Username::MAX_LEN).contains(&name.as_str().len()));
    }
});

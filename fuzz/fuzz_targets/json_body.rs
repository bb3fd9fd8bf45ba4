//! JSON bodies as the registration and PATCH handlers read them: any bytes give a value or
//! the documented error (400 unparsable, 422 wrong fields), never a panic or a 500.
#![no_main]

use gatehouse::api::extract::{Fields, parse_json_object};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(object) = parse_json_object(data).map_err(|e| assert!(matches!(e.status(), 400 | 422), "{e:?}")) else {
        return;
    };
    // Registration.
    let mut fields = Fields::new(object);
    let _ = fields.required_string("username");
    let _ = fields.required_string("password");
    let _ = fields.string("email");
    let _ = fields.string("full_name");
    if let Err(e) = fields.finish() {
        assert_eq!(e.status(), 422, "{e:?}");
    }
    // PATCH /users/{id}.
    if let Ok(object) = parse_json_object(data) {
        let mut fields = Fields::new(object);
        let _ = fields.boolean("disabled");
        let _ = fields.string("role");
        if let Err(e) = fields.finish() {
            assert_eq!(e.status(), 422, "{e:?}");
        }
    }
});

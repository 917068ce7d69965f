#![no_main]

use libfuzzer_sys::fuzz_target;

// `bouncedoc::notice::read` must never panic, never hang and keep memory
// bounded on any input; the JSON serialization of its result is what
// `bouncedoc parse --json` prints, so exercise that too.
fuzz_target!(|data: &[u8]| {
    if let Ok(notice) = bouncedoc::notice::read(data) {
        let _ = serde_json::to_string(&notice).expect("Notice serializes to JSON");
    }
});

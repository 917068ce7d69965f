#![no_main]

use libfuzzer_sys::fuzz_target;

// `bouncedoc::notice::read` must never panic, never hang and keep memory
// bounded on any input; the JSON serialization of its result is what
// `bouncedoc parse --json` prints, so exercise that too. The watcher reads
// every message of a mailbox the same way, and also looks at each one as a
// possible command reply (`commands`): those readers see the same hostile
// input, so they are fuzzed here too.
fuzz_target!(|data: &[u8]| {
    if let Ok(notice) = bouncedoc::notice::read(data) {
        let _ = serde_json::to_string(&notice).expect("Notice serializes to JSON");
    }
    let _ = bouncedoc::notice::envelope(data);
    let _ = bouncedoc::commands::parse(data);
    let _ = bouncedoc::commands::referenced_ids(data);
    let _ = bouncedoc::commands::never_answer(data);
    let _ = bouncedoc::commands::vouched(data, "mx.example.com", "example.com");
});

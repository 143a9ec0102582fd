//! Fuzz target: the journal reader on arbitrary file contents: `replay`, and `Journal::open`'s torn-tail repair on a
//! real file, which must leave a journal that appends cleanly and replays without repair.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tandem::store::journal::{replay, Journal};
use tandem::store::record::{line, Entry};

/// The file the target rewrites each run: on tmpfs when there is one, since `open` fsyncs after a repair.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("tandem-fuzz-journal-{}.jsonl", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    let Ok((replayed, good_len)) = replay(data, path) else {
        return;
    };
    let good = usize::try_from(good_len).expect("fits");
    assert!(good <= data.len());
    assert_eq!(replayed.repaired_bytes, (data.len() - good) as u64);
    // The good prefix replays to the same state, with nothing left to repair.
    let (again, len) = replay(&data[..good], path).expect("the good prefix replays");
    assert_eq!((len, again.repaired_bytes), (good_len, 0));
    assert_eq!(again.messages.len(), replayed.messages.len());
    assert_eq!(again.skipped, replayed.skipped);

    std::fs::write(path, data).expect("scratch file is writable");
    let (mut journal, _) = Journal::open(path).expect("a replayable journal opens");
    journal
        .append(&line(&Entry::Truncate { after_id: 0 }), false)
        .expect("append after repair");
    drop(journal);
    let (_, after) = Journal::open(path).expect("reopens");
    assert_eq!(
        after.repaired_bytes, 0,
        "an append after repair left a torn tail"
    );
    assert!(
        after.messages.iter().all(|m| m.id == 0),
        "truncate after 0 kept {:?}",
        after.messages.len()
    );
    let _ = std::fs::remove_file(path);
});

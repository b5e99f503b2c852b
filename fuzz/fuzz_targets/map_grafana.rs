//! The Grafana mapping on untrusted bodies: alerts or a
//! `MapError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resgate::rules::{Source, SourceKind};
use resgate::source::map_payload;

fuzz_target!(|body: &[u8]| {
    let source = Source {
        name: "fuzz".to_owned(),
        kind: SourceKind::Grafana,
        auth: None,
    };
    let _ = map_payload(&source, body, jiff::Timestamp::UNIX_EPOCH);
});

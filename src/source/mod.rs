//! Payload mappings (being written).
pub mod alert;
pub use alert::*;

pub fn map_payload(
    _source: &crate::rules::Source,
    _body: &[u8],
    _received_at: jiff::Timestamp,
) -> Result<Vec<Alert>, String> {
    Err("payload mapping is not built yet".to_owned())
}

//! Decoding of `struct pal_detect` records.

use palisade_bpf::{
    detect_events::{Detect, KIND},
    events,
};

use crate::process::record::DecodeError;

/// A detection with its variable-length string (a path or a name).
#[derive(Debug, Clone)]
pub struct DetectRecord {
    /// Fixed part.
    pub raw: Detect,
    /// The string that followed the record, cut at the first NUL.
    pub data: String,
    /// `comm` of the acting task.
    pub comm: String,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes one record of kind [`KIND`].
pub fn decode(bytes: &[u8]) -> Result<DetectRecord, DecodeError> {
    let short = || DecodeError::Short {
        kind: KIND,
        len: bytes.len(),
    };
    let raw: Detect = events::read(bytes).ok_or_else(short)?;
    if raw.hdr.kind != KIND {
        return Err(DecodeError::UnknownKind(raw.hdr.kind));
    }
    let tail = &bytes[std::mem::size_of::<Detect>()..];
    let data = tail.get(..raw.data_len as usize).ok_or_else(short)?;
    Ok(DetectRecord {
        raw,
        data: cstr(data),
        comm: cstr(&raw.comm),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_name_and_rejects_short_tails() {
        let mut d = Detect::default();
        d.hdr.kind = KIND;
        d.data_len = 16;
        d.comm[..4].copy_from_slice(b"bash");
        // SAFETY: Detect is plain old data.
        let head = unsafe { plain::as_bytes(&d) }.to_vec();
        let mut bytes = head.clone();
        bytes.extend_from_slice(b"demo\0\0\0\0\0\0\0\0\0\0\0\0");
        let r = decode(&bytes).unwrap();
        assert_eq!((r.data.as_str(), r.comm.as_str()), ("demo", "bash"));
        assert!(decode(&head).is_err());
    }
}

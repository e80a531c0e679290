//! Messages on the wire: a 16-byte `xsd_sockmsg` header (type, req_id,
//! tx_id, len, little-endian) and `len` payload bytes, at most
//! `XENSTORE_PAYLOAD_MAX`. [`Framer`] cuts a byte stream into messages and
//! refuses an oversized one (the connection must then be closed: nothing
//! after it can be framed).

use alloc::vec::Vec;

use abi::io::xs_wire::{XENSTORE_PAYLOAD_MAX, XsdSockmsg};

pub const HEADER_LEN: usize = core::mem::size_of::<XsdSockmsg>();

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: XsdSockmsg,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn new(r#type: u32, req_id: u32, tx_id: u32, payload: Vec<u8>) -> Message {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        Message { header: XsdSockmsg { r#type, req_id, tx_id, len }, payload }
    }

    /// Header and payload as sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let h = &self.header;
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        for v in [h.r#type, h.req_id, h.tx_id, h.len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.payload);
        out
    }
}

/// A header announced more than `XENSTORE_PAYLOAD_MAX` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Oversized(pub u32);

/// Accumulates bytes until a whole message is there.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// How many more bytes the current message needs (so a reader takes no
    /// more than one message at a time from a ring).
    pub fn wanted(&self) -> usize {
        if self.buf.len() < HEADER_LEN {
            return HEADER_LEN - self.buf.len();
        }
        HEADER_LEN + self.announced() as usize - self.buf.len()
    }

    fn announced(&self) -> u32 {
        u32::from_le_bytes([self.buf[12], self.buf[13], self.buf[14], self.buf[15]])
    }

    /// Adds `bytes` (at most [`Self::wanted`]); a whole message when it is
    /// complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Message>, Oversized> {
        debug_assert!(bytes.len() <= self.wanted());
        self.buf.extend_from_slice(bytes);
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = self.announced();
        if len > XENSTORE_PAYLOAD_MAX {
            return Err(Oversized(len));
        }
        if self.buf.len() < HEADER_LEN + len as usize {
            return Ok(None);
        }
        let word = |i: usize| u32::from_le_bytes([self.buf[i], self.buf[i + 1], self.buf[i + 2], self.buf[i + 3]]);
        let header = XsdSockmsg { r#type: word(0), req_id: word(4), tx_id: word(8), len };
        let payload = self.buf.split_off(HEADER_LEN);
        self.buf.clear();
        Ok(Some(Message { header, payload }))
    }
}

/// The nul-terminated strings of a payload: `Some` only when it ends in a
/// nul (Xen's `get_strings` / `onearg` refuse anything else).
pub fn strings(payload: &[u8]) -> Option<Vec<&[u8]>> {
    let body = payload.strip_suffix(b"\0")?;
    Some(body.split(|&b| b == 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_frames_across_any_split() {
        let m = Message::new(2, 7, 0, b"/a\0".to_vec());
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), 19);
        for cut in 0..bytes.len() {
            let mut f = Framer::default();
            let mut got = None;
            for chunk in [&bytes[..cut], &bytes[cut..]] {
                let mut rest = chunk;
                while !rest.is_empty() {
                    let n = rest.len().min(f.wanted());
                    if let Some(m) = f.push(&rest[..n]).unwrap() {
                        got = Some(m);
                    }
                    rest = &rest[n..];
                }
            }
            assert_eq!(got.as_ref(), Some(&m));
            assert_eq!(f.wanted(), HEADER_LEN);
        }
    }

    #[test]
    fn the_largest_payload_frames_and_one_more_byte_is_refused() {
        let mut f = Framer::default();
        let m = Message::new(11, 1, 0, alloc::vec![b'x'; 4096]);
        let bytes = m.to_bytes();
        assert_eq!(f.push(&bytes[..HEADER_LEN]), Ok(None));
        assert_eq!(f.wanted(), 4096);
        assert_eq!(f.push(&bytes[HEADER_LEN..]).unwrap(), Some(m));
        let mut header = Message::new(11, 1, 0, alloc::vec![]).to_bytes();
        header[12..16].copy_from_slice(&4097u32.to_le_bytes());
        assert_eq!(Framer::default().push(&header), Err(Oversized(4097)));
    }

    #[test]
    fn strings_need_a_final_nul() {
        assert_eq!(strings(b"a\0b\0"), Some(alloc::vec![&b"a"[..], b"b"]));
        assert_eq!(strings(b"a\0b"), None);
        assert_eq!(strings(b""), None);
        assert_eq!(strings(b"\0"), Some(alloc::vec![&b""[..]]));
    }
}

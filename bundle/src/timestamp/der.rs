//! The little DER a timestamp needs: a bounds-checked reader of tag-length-value elements
//! (single-byte tags, definite lengths up to 4 bytes; anything else is refused, never
//! guessed at) for the TimeStampResp, the CMS envelope and the TSTInfo, and the writer of
//! the one structure dossier builds (the TimeStampReq). Every input here is hostile: a
//! length past the end, a truncated header or a high tag number is an error, not a panic.

/// DER tags used by RFC 3161 and CMS.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[0]` constructed (EXPLICIT, or IMPLICIT over a constructed type).
    pub const CTX0: u8 = 0xa0;
    /// `[1]` constructed.
    pub const CTX1: u8 = 0xa1;
}

/// Malformed DER: what was expected where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub String);

fn err<T>(what: impl Into<String>) -> Result<T, DerError> {
    Err(DerError(what.into()))
}

/// One element: its tag, its content, and its whole encoding (header and content).
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub whole: &'a [u8],
}

/// Reads the elements of a DER content one after the other.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { rest: data }
    }

    /// Whether every element was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, DerError> {
        let data = self.rest;
        let (&tag, after) = data
            .split_first()
            .ok_or_else(|| DerError("an element is missing".into()))?;
        if tag & 0x1f == 0x1f {
            return err("a multi-byte tag (not used by RFC 3161)");
        }
        let (&first, after) = after
            .split_first()
            .ok_or_else(|| DerError("truncated length".into()))?;
        let (len, after) = if first < 0x80 {
            (usize::from(first), after)
        } else if first == 0x80 {
            return err("an indefinite length (BER, not DER)");
        } else {
            let n = usize::from(first & 0x7f);
            if n > 4 || after.len() < n {
                return err("a length that does not fit");
            }
            let len = after[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &after[n..])
        };
        if after.len() < len {
            return err(format!(
                "an element of {len} bytes where {} remain",
                after.len()
            ));
        }
        let header = data.len() - after.len();
        self.rest = &after[len..];
        Ok(Tlv {
            tag,
            content: &after[..len],
            whole: &data[..header + len],
        })
    }

    /// The content of the next element, which must have tag `tag` (`what` names it).
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], DerError> {
        let t = self
            .any()
            .map_err(|e| DerError(format!("{what}: {}", e.0)))?;
        if t.tag != tag {
            return err(format!(
                "{what}: tag 0x{:02x} where 0x{tag:02x} was expected",
                t.tag
            ));
        }
        Ok(t.content)
    }

    /// The next element when it has tag `tag`; nothing read otherwise.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.any().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// One element: `tag`, the DER length of `content`, `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_what_does_not_fit() {
        let long = vec![7u8; 300];
        let data = [tlv(tag::OCTET_STRING, b"ab"), tlv(tag::OCTET_STRING, &long)].concat();
        let mut r = Reader::new(&data);
        assert_eq!(r.expect(tag::OCTET_STRING, "a").unwrap(), b"ab");
        let t = r.any().unwrap();
        assert_eq!((t.content.len(), t.whole.len()), (300, 304));
        assert!(r.is_empty());
        assert!(r.any().is_err());
        for bad in [
            &[0x30u8][..],
            &[0x30, 0x05, 1],
            &[0x30, 0x80, 0, 0],
            &[0x1f, 0x01, 0],
            &[0x04, 0x85, 1, 1, 1, 1, 1],
            &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert!(Reader::new(bad).any().is_err(), "{bad:02x?}");
        }
        let e = Reader::new(&tlv(tag::SET, b""))
            .expect(tag::SEQUENCE, "x")
            .unwrap_err();
        assert!(e.0.contains("x: tag 0x31"), "{e}");
    }
}

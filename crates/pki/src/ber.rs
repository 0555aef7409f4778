//! A small BER → DER normaliser for what OpenSSL writes with `-stream`: indefinite
//! lengths and constructed OCTET STRINGs. Everything else is copied as it is.

use crate::{Error, Result};

const MAX_DEPTH: usize = 64;

/// Re-encodes BER with definite lengths and primitive OCTET STRINGs.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    let node = parse(input, &mut pos, 0)?;
    if pos != input.len() {
        return Err(Error::malformed(
            "BER",
            format!("{} trailing bytes", input.len() - pos),
        ));
    }
    emit(&node, &mut out);
    Ok(out)
}

enum Node {
    Primitive { tag: Vec<u8>, content: Vec<u8> },
    Constructed { tag: Vec<u8>, children: Vec<Node> },
}

fn byte(input: &[u8], pos: &mut usize) -> Result<u8> {
    let b = *input
        .get(*pos)
        .ok_or_else(|| Error::malformed("BER", "unexpected end of input"))?;
    *pos += 1;
    Ok(b)
}

fn parse(input: &[u8], pos: &mut usize, depth: usize) -> Result<Node> {
    if depth > MAX_DEPTH {
        return Err(Error::malformed("BER", "nesting too deep"));
    }
    let start = *pos;
    let first = byte(input, pos)?;
    if first & 0x1f == 0x1f {
        loop {
            let b = byte(input, pos)?;
            if *pos - start > 6 {
                return Err(Error::malformed("BER", "tag number too large"));
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let tag = input[start..*pos].to_vec();
    let constructed = first & 0x20 != 0;
    let len_byte = byte(input, pos)?;
    let length: Option<usize> = if len_byte == 0x80 {
        None
    } else if len_byte & 0x80 == 0 {
        Some(len_byte as usize)
    } else {
        let n = (len_byte & 0x7f) as usize;
        if n > 4 {
            return Err(Error::malformed("BER", "length field too large"));
        }
        let mut l = 0usize;
        for _ in 0..n {
            l = (l << 8) | byte(input, pos)? as usize;
        }
        Some(l)
    };
    if !constructed {
        let l =
            length.ok_or_else(|| Error::malformed("BER", "indefinite length on a primitive"))?;
        let end = pos.checked_add(l).filter(|e| *e <= input.len());
        let end = end.ok_or_else(|| Error::malformed("BER", "length beyond the input"))?;
        let content = input[*pos..end].to_vec();
        *pos = end;
        return Ok(Node::Primitive { tag, content });
    }
    let mut children = Vec::new();
    match length {
        Some(l) => {
            let end = pos
                .checked_add(l)
                .filter(|e| *e <= input.len())
                .ok_or_else(|| Error::malformed("BER", "length beyond the input"))?;
            while *pos < end {
                children.push(parse(input, pos, depth + 1)?);
            }
            if *pos != end {
                return Err(Error::malformed("BER", "element overruns its parent"));
            }
        }
        None => loop {
            if input.get(*pos..*pos + 2) == Some(&[0, 0]) {
                *pos += 2;
                break;
            }
            if *pos >= input.len() {
                return Err(Error::malformed("BER", "missing end-of-contents"));
            }
            children.push(parse(input, pos, depth + 1)?);
        },
    }
    // constructed OCTET STRING → primitive
    if tag == [0x24] {
        let mut content = Vec::new();
        flatten_octets(&children, &mut content)?;
        return Ok(Node::Primitive {
            tag: vec![0x04],
            content,
        });
    }
    Ok(Node::Constructed { tag, children })
}

fn flatten_octets(children: &[Node], out: &mut Vec<u8>) -> Result<()> {
    for c in children {
        match c {
            Node::Primitive { tag, content } if tag == &[0x04] => out.extend_from_slice(content),
            _ => {
                return Err(Error::malformed(
                    "BER",
                    "constructed OCTET STRING with a non-octet part",
                ));
            }
        }
    }
    Ok(())
}

fn emit_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn emit(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Primitive { tag, content } => {
            out.extend_from_slice(tag);
            emit_len(content.len(), out);
            out.extend_from_slice(content);
        }
        Node::Constructed { tag, children } => {
            let mut inner = Vec::new();
            for c in children {
                emit(c, &mut inner);
            }
            out.extend_from_slice(tag);
            emit_len(inner.len(), out);
            out.extend_from_slice(&inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_and_constructed_octets() {
        // SEQUENCE(indef) { OCTET STRING(constructed, indef) { 04 01 'a', 04 02 'bc' } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, b'a', 0x04, 0x02, b'b', b'c', 0, 0, 0, 0,
        ];
        assert_eq!(
            to_der(&ber).unwrap(),
            vec![0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c']
        );
    }

    #[test]
    fn der_is_unchanged_and_garbage_is_rejected() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x05];
        assert_eq!(to_der(&der).unwrap(), der.to_vec());
        assert!(to_der(&[0x30, 0x05, 0x02]).is_err());
        assert!(to_der(&[0x30, 0x80, 0x02, 0x01, 0x05]).is_err());
        assert!(to_der(b"hello world").is_err());
        assert!(to_der(&[]).is_err());
    }
}

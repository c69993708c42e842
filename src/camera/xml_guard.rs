//! A pre-parse check that refuses XML nested deeper than a limit. oxvif's parser builds a tree whose
//! drop recurses once per level, so a hostile reply a few tens of thousands of levels deep (far under
//! any size cap) would overflow the stack and abort the process. Every XML that comes from outside goes
//! through [`nesting_within`] before it is parsed: camera replies, discovery datagrams, and requests to
//! the simulator.

/// Deeper than any real SOAP or WS-Discovery message by a wide margin.
pub const MAX_XML_DEPTH: usize = 64;

/// Whether no element in `xml` is nested more than `max_depth` levels. A small tokenizer: tags,
/// quoted attribute values, self-closing tags, comments, CDATA, processing instructions and DOCTYPE are
/// told apart, so text cannot fool the count.
pub fn nesting_within(xml: &[u8], max_depth: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < xml.len() {
        if xml[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &xml[i..];
        if rest.starts_with(b"<!--") {
            i = skip_past(xml, i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_past(xml, i + 9, b"]]>");
        } else if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            i = skip_tag(xml, i + 2).0;
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_tag(xml, i + 2).0;
        } else {
            let (next, self_closing) = skip_tag(xml, i + 1);
            if !self_closing {
                depth += 1;
                if depth > max_depth {
                    return false;
                }
            }
            i = next;
        }
    }
    true
}

/// Index just past the first `end` at or after `from`, or the end of input.
fn skip_past(xml: &[u8], from: usize, end: &[u8]) -> usize {
    xml.get(from..)
        .and_then(|tail| tail.windows(end.len()).position(|w| w == end))
        .map_or(xml.len(), |p| from + p + end.len())
}

/// Skips to just past the `>` closing a tag, minding quoted attribute values. Says whether the tag
/// was self-closing (`/>`).
fn skip_tag(xml: &[u8], from: usize) -> (usize, bool) {
    let mut quote: Option<u8> = None;
    let mut previous = 0u8;
    let mut i = from;
    while i < xml.len() {
        let c = xml[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return (i + 1, previous == b'/'),
            None => {}
        }
        previous = c;
        i += 1;
    }
    (xml.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_messages_pass() {
        let soap = br#"<?xml version="1.0"?><!-- c <a><a> --><s:Envelope a="x/>y"><s:Body><![CDATA[<b><b>]]><r/><t>1/></t></s:Body></s:Envelope>"#;
        assert!(nesting_within(soap, 3));
        assert!(!nesting_within(soap, 1));
    }

    #[test]
    fn deep_nesting_is_refused_whatever_the_disguise() {
        let plain = "<a>".repeat(100);
        assert!(!nesting_within(plain.as_bytes(), MAX_XML_DEPTH));
        let with_text = "<a>/>".repeat(100);
        assert!(!nesting_within(with_text.as_bytes(), MAX_XML_DEPTH));
        let with_attrs = "<a x='/>'>".repeat(100);
        assert!(!nesting_within(with_attrs.as_bytes(), MAX_XML_DEPTH));
        let siblings = "<a/>".repeat(10_000);
        assert!(nesting_within(siblings.as_bytes(), MAX_XML_DEPTH));
        let closed = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
        assert!(nesting_within(closed.as_bytes(), MAX_XML_DEPTH));
    }
}

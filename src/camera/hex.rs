//! Hexadecimal text as the vendors' protocols carry keys, hashes and ciphertext: written in either
//! case, read in either case.

/// Lowercase hex.
pub fn lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Uppercase hex.
pub fn upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Reads hex (either case, surrounding blanks ignored); `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_reads_what_it_writes_in_either_case() {
        let bytes = [0x00, 0x9f, 0xab, 0xff];
        assert_eq!(super::lower(&bytes), "009fabff");
        assert_eq!(super::upper(&bytes), "009FABFF");
        assert_eq!(super::decode(" 009FabfF ").as_deref(), Some(&bytes[..]));
        for bad in ["0", "zz", "0g", "é1"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }
}

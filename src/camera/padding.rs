//! Block-cipher padding as cameras and their clients leave it: a plaintext decrypted without taking
//! padding off may end in PKCS#7 pad bytes or in zeros, and the vendors' envelopes accept both.

/// Takes PKCS#7 padding off when the tail is one; says whether it did.
pub fn take_off_pkcs7(plain: &mut Vec<u8>) -> bool {
    match plain.last() {
        Some(&pad)
            if (1..=16).contains(&pad)
                && plain.len() >= usize::from(pad)
                && plain[plain.len() - usize::from(pad)..]
                    .iter()
                    .all(|b| *b == pad) =>
        {
            plain.truncate(plain.len() - usize::from(pad));
            true
        }
        _ => false,
    }
}

/// Takes PKCS#7 padding off when the tail is one, else trailing zeros. Text never ends in a byte
/// below 17, so the two cannot be mistaken.
pub fn take_off_pkcs7_or_zeros(plain: &mut Vec<u8>) {
    if !take_off_pkcs7(plain) {
        while plain.last() == Some(&0) {
            plain.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_padding_comes_off_and_text_stays() {
        let mut pkcs7 = b"{\"a\":1}\x09\x09\x09\x09\x09\x09\x09\x09\x09".to_vec();
        take_off_pkcs7_or_zeros(&mut pkcs7);
        assert_eq!(pkcs7, b"{\"a\":1}");
        let mut zeros = b"{\"a\":1}\0\0\0".to_vec();
        take_off_pkcs7_or_zeros(&mut zeros);
        assert_eq!(zeros, b"{\"a\":1}");
        let mut text = b"abc".to_vec();
        assert!(!take_off_pkcs7(&mut text));
        assert_eq!(text, b"abc");
        // A tail that only looks like padding in its last byte is left alone.
        let mut not_pad = b"ab\x01\x02".to_vec();
        assert!(!take_off_pkcs7(&mut not_pad));
        assert_eq!(not_pad, b"ab\x01\x02");
    }
}

//! CRC-32C (Castagnoli), table-driven, and the masking LevelDB/TensorFlow apply to stored CRCs.

const POLY: u32 = 0x82f6_3b78;

const fn make_table() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 4 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLE: [[u32; 256]; 4] = make_table();

/// Extends a running CRC-32C (start with 0) over `data`.
pub fn extend(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    let mut chunks = data.chunks_exact(4);
    for ch in &mut chunks {
        let w = c ^ u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
        c = TABLE[3][(w & 0xff) as usize]
            ^ TABLE[2][((w >> 8) & 0xff) as usize]
            ^ TABLE[1][((w >> 16) & 0xff) as usize]
            ^ TABLE[0][(w >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = TABLE[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    extend(0, data)
}

/// The masked form stored in tables and bundles.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 test vectors.
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        let inc: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
        assert_eq!(extend(crc32c(b"1234"), b"56789"), 0xe306_9283);
    }
}

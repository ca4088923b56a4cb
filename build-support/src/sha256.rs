//! SHA-256 (FIPS 180-4), in the library so that its users' build graph
//! holds no hashing crates: `sha2` brings `digest`, `block-buffer`,
//! `crypto-common`, `generic-array`, `typenum`, `version_check`,
//! `cpufeatures` and `cfg-if`, nine crates compiled in every clean build of
//! every user (the crate count and clean-build times are printed by
//! `scripts/bench-helper-build.sh`). The binary turns on the `sha2` feature,
//! which uses the `sha2` crate instead (with the CPU's SHA instructions
//! where it has them): the same digests (`tests` compares the two), faster
//! hashing where hit time is counted.

/// A SHA-256 hasher: [`update`](Sha256::update) then
/// [`finalize`](Sha256::finalize).
#[derive(Clone)]
pub struct Sha256(Inner);

#[cfg(feature = "sha2")]
type Inner = sha2::Sha256;

#[cfg(not(feature = "sha2"))]
type Inner = Portable;

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Sha256 {
        #[cfg(feature = "sha2")]
        return Sha256(<sha2::Sha256 as sha2::Digest>::new());
        #[cfg(not(feature = "sha2"))]
        Sha256(Portable::new())
    }

    /// Hash `bytes` next.
    pub fn update(&mut self, bytes: impl AsRef<[u8]>) {
        #[cfg(feature = "sha2")]
        sha2::Digest::update(&mut self.0, bytes.as_ref());
        #[cfg(not(feature = "sha2"))]
        self.0.update(bytes.as_ref());
    }

    /// The digest of everything hashed.
    pub fn finalize(self) -> [u8; 32] {
        #[cfg(feature = "sha2")]
        return sha2::Digest::finalize(self.0).into();
        #[cfg(not(feature = "sha2"))]
        self.0.finalize()
    }

    /// The digest of `bytes`.
    pub fn digest(bytes: impl AsRef<[u8]>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(bytes);
        h.finalize()
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The portable implementation (used unless the `sha2` feature is on).
#[derive(Clone)]
#[cfg_attr(feature = "sha2", allow(dead_code))]
pub(crate) struct Portable {
    state: [u32; 8],
    block: [u8; 64],
    /// Bytes in `block`.
    used: usize,
    /// Bytes hashed in all.
    len: u64,
}

#[cfg_attr(feature = "sha2", allow(dead_code))]
impl Portable {
    pub(crate) fn new() -> Portable {
        Portable {
            state: H0,
            block: [0; 64],
            used: 0,
            len: 0,
        }
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.len = self.len.wrapping_add(bytes.len() as u64);
        if self.used > 0 {
            let n = (64 - self.used).min(bytes.len());
            self.block[self.used..self.used + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
            if self.used < 64 {
                return;
            }
            let block = self.block;
            compress(&mut self.state, &block);
            self.used = 0;
        }
        let mut chunks = bytes.chunks_exact(64);
        for c in &mut chunks {
            compress(&mut self.state, c.try_into().expect("64 bytes"));
        }
        let rest = chunks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.used = rest.len();
    }

    pub(crate) fn finalize(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        let fill = (64 + 56 - (self.used + 1) % 64) % 64;
        pad.resize(1 + fill, 0);
        pad.extend_from_slice(&bits.to_be_bytes());
        let len = self.len;
        self.update(&pad);
        self.len = len;
        debug_assert_eq!(self.used, 0);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

#[cfg_attr(feature = "sha2", allow(dead_code))]
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut w = [0u32; 64];
    for (i, c) in block.chunks_exact(4).enumerate() {
        w[i] = u32::from_be_bytes(c.try_into().expect("4 bytes"));
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for i in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn portable(chunks: &[&[u8]]) -> [u8; 32] {
        let mut p = Portable::new();
        for c in chunks {
            p.update(c);
        }
        p.finalize()
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&portable(&[b""])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&portable(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&portable(&[
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            ])),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(&portable(&[&million])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    /// Against the `sha2` crate (a dev-dependency), every length around the
    /// block and padding boundaries, fed whole and in pieces.
    #[test]
    fn same_digests_as_sha2() {
        use sha2::Digest;
        let data: Vec<u8> = (0..700u32).map(|i| (i * 131 % 251) as u8).collect();
        for len in 0..data.len() {
            let d = &data[..len];
            let want: [u8; 32] = sha2::Sha256::digest(d).into();
            assert_eq!(portable(&[d]), want, "len {len}");
            let (a, b) = d.split_at(len / 3);
            let (b, c) = b.split_at(b.len() / 2);
            assert_eq!(portable(&[a, b, c]), want, "len {len} in pieces");
            assert_eq!(Sha256::digest(d), want, "len {len} through Sha256");
        }
    }
}

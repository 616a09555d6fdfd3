//! The one place where result files are encoded and decoded (bincode 2).
//!
//! bincode 2 is complete and no longer maintained, so its format is stable; keeping every use of
//! it here means a later switch touches one file. Every binary file starts with a fixed header:
//!
//! ```text
//! magic "CASCADE\0" (8 bytes) | kind (4 bytes, e.g. "RUNS") | format version (u32 LE)
//! | schema hash (u64 LE) | config hash (u64 LE) | store id (u64 LE)
//! | payload length (u64 LE) | payload checksum (FNV-1a 64, u64 LE)
//! | payload (bincode, standard configuration)
//! ```
//!
//! so that a truncated, corrupted or foreign file is reported as such, never decoded into
//! garbage and never a panic. The config hash and the store id ([`Identity`]) bind the file to
//! the store whose manifest names them: a data file copied from another sweep (another seed,
//! another shard) is refused by every reader. Floats are stored as their exact bits.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;

/// The first eight bytes of every cascade binary file.
pub const MAGIC: &[u8; 8] = b"CASCADE\0";
/// The version of the binary layout; bumped whenever a stored type changes shape (3: points
/// carry bootstrap intervals, shares above zero and paired comparisons with a baseline).
pub const FORMAT_VERSION: u32 = 3;
/// Header length in bytes.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8;

/// What a binary file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `points.bin`: every point's parameters and aggregate.
    Points,
    /// `runs/<point>.bin`: one point's per-run metric rows.
    Runs,
}

impl FileKind {
    fn tag(self) -> &'static [u8; 4] {
        match self {
            FileKind::Points => b"PNTS",
            FileKind::Runs => b"RUNS",
        }
    }
    fn name(self) -> &'static str {
        match self {
            FileKind::Points => "points file",
            FileKind::Runs => "runs file",
        }
    }
}

/// The store a data file belongs to: its manifest's config hash and store id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub config_hash: u64,
    pub store_id: u64,
}

/// Why a file could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// Shorter than its header or than the payload the header announces.
    Truncated { have: usize, need: usize },
    /// Not a cascade file at all.
    NotCascade,
    /// A cascade file of another kind (a points file where a runs file was expected ...).
    WrongKind { expected: &'static str },
    /// Written by another format version.
    Version { found: u32 },
    /// Written with another metric schema.
    Schema { found: u64, expected: u64 },
    /// Written for another store (another configuration, seed or shard).
    Foreign { found: Identity, expected: Identity },
    /// The payload does not match its checksum.
    Corrupt,
    /// The payload does not decode as the expected type.
    Payload(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { have, need } => {
                write!(f, "is truncated ({have} bytes, at least {need} expected)")
            }
            DecodeError::NotCascade => write!(f, "is not a cascade result file (bad magic)"),
            DecodeError::WrongKind { expected } => {
                write!(
                    f,
                    "is a cascade file of another kind (expected a {expected})"
                )
            }
            DecodeError::Version { found } => write!(
                f,
                "has format version {found}; this cascade reads version {FORMAT_VERSION} (written by another cascade version: re-run the sweep into a new directory, or with --force)"
            ),
            DecodeError::Schema { found, expected } => write!(
                f,
                "was written with metric schema {found:016x}; this cascade has {expected:016x} (re-run the sweep)"
            ),
            DecodeError::Foreign { found, expected } => write!(
                f,
                "belongs to another store (config hash {:016x}, store id {:016x}; this store's manifest.json has config hash {:016x}, store id {:016x}): it was copied from another sweep or shard, or written by another process; `cascade sweep --resume` recomputes it",
                found.config_hash, found.store_id, expected.config_hash, expected.store_id
            ),
            DecodeError::Corrupt => write!(f, "is corrupted (checksum mismatch)"),
            DecodeError::Payload(e) => write!(f, "cannot be decoded: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// FNV-1a, 64 bits: the payload checksum and the configuration hash (an identity check, not a
/// cryptographic one).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// Encode `value` with the header for `kind`, `schema` and the store `id`.
pub fn encode<T: Serialize>(kind: FileKind, schema: u64, id: Identity, value: &T) -> Vec<u8> {
    // Encoding plain structs of numbers, strings and vectors into a vector cannot fail.
    let payload = bincode::serde::encode_to_vec(value, config())
        .expect("bincode encodes plain data into a vector");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(kind.tag());
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&schema.to_le_bytes());
    out.extend_from_slice(&id.config_hash.to_le_bytes());
    out.extend_from_slice(&id.store_id.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Decode a file written by [`encode`] with the same kind, schema and store identity.
pub fn decode<T: DeserializeOwned>(
    kind: FileKind,
    schema: u64,
    id: Identity,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            DecodeError::Truncated {
                have: bytes.len(),
                need: HEADER_LEN,
            }
        } else {
            DecodeError::NotCascade
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            have: bytes.len(),
            need: HEADER_LEN,
        });
    }
    if &bytes[8..12] != kind.tag() {
        return Err(DecodeError::WrongKind {
            expected: kind.name(),
        });
    }
    let version = u32_at(bytes, 12);
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version { found: version });
    }
    let found = u64_at(bytes, 16);
    if found != schema {
        return Err(DecodeError::Schema {
            found,
            expected: schema,
        });
    }
    let found = Identity {
        config_hash: u64_at(bytes, 24),
        store_id: u64_at(bytes, 32),
    };
    if found != id {
        return Err(DecodeError::Foreign {
            found,
            expected: id,
        });
    }
    let len = u64_at(bytes, 40);
    let sum = u64_at(bytes, 48);
    let need = (HEADER_LEN as u64).saturating_add(len);
    if (bytes.len() as u64) < need {
        return Err(DecodeError::Truncated {
            have: bytes.len(),
            need: need.min(usize::MAX as u64) as usize,
        });
    }
    if (bytes.len() as u64) > need {
        return Err(DecodeError::Corrupt);
    }
    let payload = &bytes[HEADER_LEN..];
    if fnv1a64(payload) != sum {
        return Err(DecodeError::Corrupt);
    }
    let (v, used) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| DecodeError::Payload(e.to_string()))?;
    if used != payload.len() {
        return Err(DecodeError::Payload(format!(
            "{} trailing bytes",
            payload.len() - used
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        a: u64,
        b: Vec<f64>,
        c: String,
    }

    const ID: Identity = Identity {
        config_hash: 1,
        store_id: 2,
    };

    fn sample() -> T {
        T {
            a: 7,
            b: vec![0.1, -0.0, f64::NAN, 1e300],
            c: "x".into(),
        }
    }

    #[test]
    fn round_trip_keeps_float_bits() {
        let bytes = encode(FileKind::Runs, 42, ID, &sample());
        let back: T = decode(FileKind::Runs, 42, ID, &bytes).unwrap();
        assert_eq!(back.a, 7);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.b), bits(&sample().b));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(FileKind::Runs, 42, ID, &sample());
        for n in 0..bytes.len() {
            let r: Result<T, _> = decode(FileKind::Runs, 42, ID, &bytes[..n]);
            assert!(
                matches!(r, Err(DecodeError::Truncated { .. })),
                "{n}: {r:?}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error() {
        let bytes = encode(FileKind::Runs, 42, ID, &sample());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            let r: Result<T, _> = decode(FileKind::Runs, 42, ID, &b);
            assert!(r.is_err(), "flip at {i} decoded");
        }
    }

    #[test]
    fn foreign_kind_schema_and_version_are_named() {
        let bytes = encode(FileKind::Points, 42, ID, &sample());
        let r: Result<T, _> = decode(FileKind::Runs, 42, ID, &bytes);
        assert!(matches!(r, Err(DecodeError::WrongKind { .. })));
        let r: Result<T, _> = decode(FileKind::Points, 43, ID, &bytes);
        assert!(matches!(r, Err(DecodeError::Schema { .. })));
        let mut b = bytes.clone();
        b[12] = 9;
        let r: Result<T, _> = decode(FileKind::Points, 42, ID, &b);
        assert!(matches!(r, Err(DecodeError::Version { found: 9 })));
        let r: Result<T, _> = decode(FileKind::Points, 42, ID, b"PK\x03\x04 a zip file, say");
        assert_eq!(r.unwrap_err(), DecodeError::NotCascade);
        // Another store's file: same kind, schema and version, another identity.
        let other = Identity {
            config_hash: 1,
            store_id: 3,
        };
        let r: Result<T, _> = decode(FileKind::Points, 42, other, &bytes);
        assert!(
            matches!(r, Err(DecodeError::Foreign { found, expected }) if found == ID && expected == other),
            "{r:?}"
        );
    }
}

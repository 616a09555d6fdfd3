//! Compact names for holders and actors.
//!
//! A book of a million traders names each one (`trader-17`) twice: the ledger's holder and the
//! World's actor. As `String`s that cost 24 bytes plus a heap allocation each. A [`Name`] of
//! the form `PREFIX{index}` (a prefix from [`PREFIXES`], a canonical decimal index) is stored as
//! the prefix's number and the index instead (16 bytes, nothing on the heap); any other text is
//! stored as it is. The text is the same either way: [`Name::new`] keeps the indexed form only
//! when writing it back gives the same string, so printing, comparing and serializing a name
//! see exactly the text it was made from.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// The prefixes of indexed names (agents' labels are `{kind}-{index}`).
pub const PREFIXES: &[&str] = &[
    "trader-",
    "noise_trader-",
    "option-trader-",
    "liquidator-",
    "arbitrageur-",
    "oracle-arbitrageur-",
    "mev_bot-",
    "market_maker-",
    "options-mm-",
    "solver-",
    "manipulator-",
];

/// A name: free text, or a prefix of [`PREFIXES`] followed by an index. Make it with
/// [`Name::new`] (or `From`), which picks the indexed form whenever it applies; two names are
/// equal when their texts are, however they are stored.
#[derive(Clone)]
pub enum Name {
    Text(Box<str>),
    Indexed { prefix: u16, index: u32 },
}

impl Name {
    /// The name `s`, indexed when it is a known prefix and a canonical decimal `u32` (no sign,
    /// no leading zero), so that its text is exactly `s`.
    pub fn new(s: &str) -> Name {
        for (p, prefix) in PREFIXES.iter().enumerate() {
            if let Some(digits) = s.strip_prefix(prefix)
                && let Some(index) = canonical_u32(digits)
            {
                return Name::Indexed {
                    prefix: p as u16,
                    index,
                };
            }
        }
        Name::Text(s.into())
    }

    /// The text of the name (borrowed when stored as text).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Name::Text(s) => Cow::Borrowed(s),
            Name::Indexed { .. } => Cow::Owned(self.to_string()),
        }
    }

    /// Whether the text starts with `pat`.
    pub fn starts_with(&self, pat: &str) -> bool {
        self.text().starts_with(pat)
    }
}

/// `s` as a `u32` when it is the way `u32`'s `Display` writes it.
fn canonical_u32(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Text(s) => f.write_str(s),
            Name::Indexed { prefix, index } => {
                write!(f, "{}{index}", PREFIXES[*prefix as usize])
            }
        }
    }
}

/// As the text's `Debug` (a quoted string), whatever the storage.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        match (self, other) {
            (
                Name::Indexed { prefix, index },
                Name::Indexed {
                    prefix: p2,
                    index: i2,
                },
            ) if PREFIXES[*prefix as usize] == PREFIXES[*p2 as usize] => index == i2,
            _ => self.text() == other.text(),
        }
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        match self {
            Name::Text(s) => &**s == other,
            Name::Indexed { prefix, index } => {
                other
                    .strip_prefix(PREFIXES[*prefix as usize])
                    .and_then(canonical_u32)
                    == Some(*index)
            }
        }
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

/// Serialized as its text (the same form as a `String`).
impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Ok(Name::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Name>(), 16);
    }

    /// Every name reads back as the text it was made from, indexed or not.
    #[test]
    fn text_round_trips() {
        for s in [
            "trader-0",
            "trader-17",
            "trader-4294967295",
            "trader-4294967296",
            "trader-007",
            "trader-",
            "trader--1",
            "trader-+1",
            "trader-1a",
            "option-trader-3",
            "oracle-arbitrageur-12",
            "engine:vault",
            "",
            "pool",
            "Trader-1",
        ] {
            let n = Name::new(s);
            assert_eq!(n.to_string(), s);
            assert_eq!(n.text(), s);
            assert!(n == s, "{s}");
            assert_eq!(format!("{n:?}"), format!("{s:?}"));
            let json = serde_json::to_string(&n).unwrap();
            assert_eq!(json, serde_json::to_string(s).unwrap());
            assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), n);
        }
        assert!(matches!(Name::new("trader-17"), Name::Indexed { .. }));
        assert!(matches!(Name::new("trader-007"), Name::Text(_)));
        assert!(Name::new("trader-17") != "trader-017");
        assert!(Name::new("trader-17") != "trader-18");
        assert!(Name::new("liquidator-3").starts_with("liquidator-"));
        // Equal texts are equal names, however they are stored.
        assert_eq!(Name::Text("trader-5".into()), Name::new("trader-5"));
        assert_ne!(Name::new("trader-5"), Name::new("trader-6"));
    }
}

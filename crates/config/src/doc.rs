//! A format-neutral document tree for dictConfig input (JSON, YAML, TOML), read strictly.
//!
//! Maps keep their order (dictConfig applies loggers in document order), duplicate keys are
//! an error rather than "last one wins", and nesting depth and size are bounded while
//! reading — serde drives one [`DocValue`] visitor for all three formats.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A value of a dictConfig document.
#[derive(Clone, Debug, PartialEq)]
pub enum DocValue {
    /// `null` / `~`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<DocValue>),
    /// A map with string keys, in document order.
    Map(Vec<(String, DocValue)>),
}

impl DocValue {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            DocValue::Null => "null",
            DocValue::Bool(_) => "a boolean",
            DocValue::Int(_) => "an integer",
            DocValue::Float(_) => "a float",
            DocValue::Str(_) => "a string",
            DocValue::List(_) => "a list",
            DocValue::Map(_) => "a mapping",
        }
    }

    /// The entry `key` of a map.
    pub fn get(&self, key: &str) -> Option<&DocValue> {
        match self {
            DocValue::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Nesting depth (a scalar is 0), computed without recursion.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        let mut stack = vec![(self, 0usize)];
        while let Some((v, d)) = stack.pop() {
            max = max.max(d);
            match v {
                DocValue::List(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
                DocValue::Map(m) => stack.extend(m.iter().map(|(_, i)| (i, d + 1))),
                _ => {}
            }
        }
        max
    }
}

/// Limits applied while reading a document.
#[derive(Clone, Copy, Debug)]
pub struct DocLimits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of lists and maps.
    pub max_depth: usize,
    /// Most values (scalars, lists and maps) in one document.
    pub max_nodes: usize,
}

impl Default for DocLimits {
    fn default() -> Self {
        DocLimits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_nodes: 200_000,
        }
    }
}

thread_local! {
    /// Depth and node budget of the document being read on this thread. serde's visitors
    /// have no context parameter; a thread-local is the least intrusive way to carry one.
    static BUDGET: std::cell::Cell<(usize, usize, usize, usize)> = const { std::cell::Cell::new((0, 0, usize::MAX, usize::MAX)) };
}

fn enter<E: de::Error>() -> Result<(), E> {
    BUDGET.with(|b| {
        let (depth, nodes, max_depth, max_nodes) = b.get();
        if depth + 1 > max_depth {
            return Err(E::custom(format!("nesting deeper than {max_depth} levels")));
        }
        if nodes + 1 > max_nodes {
            return Err(E::custom(format!("more than {max_nodes} values")));
        }
        b.set((depth + 1, nodes + 1, max_depth, max_nodes));
        Ok(())
    })
}

fn leave() {
    BUDGET.with(|b| {
        let (depth, nodes, md, mn) = b.get();
        b.set((depth.saturating_sub(1), nodes, md, mn));
    });
}

fn count_scalar<E: de::Error>() -> Result<(), E> {
    BUDGET.with(|b| {
        let (depth, nodes, md, mn) = b.get();
        if nodes + 1 > mn {
            return Err(E::custom(format!("more than {mn} values")));
        }
        b.set((depth, nodes + 1, md, mn));
        Ok(())
    })
}

/// Runs `read` with the budget of `limits` installed for [`DocValue`]'s visitor.
pub(crate) fn with_budget<T>(limits: &DocLimits, read: impl FnOnce() -> T) -> T {
    let saved = BUDGET.with(|b| b.replace((0, 0, limits.max_depth, limits.max_nodes)));
    let out = read();
    BUDGET.with(|b| b.set(saved));
    out
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = DocValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a configuration value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DocValue, E> {
        count_scalar()?;
        i64::try_from(v)
            .map(DocValue::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<DocValue, E> {
        count_scalar()?;
        i64::try_from(v)
            .map(DocValue::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<DocValue, E> {
        count_scalar()?;
        i64::try_from(v)
            .map(DocValue::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Str(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<DocValue, E> {
        count_scalar()?;
        Ok(DocValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<DocValue, D::Error> {
        DocValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DocValue, A::Error> {
        enter()?;
        let mut items = Vec::new();
        let r = (|| {
            while let Some(v) = seq.next_element::<DocValue>()? {
                items.push(v);
            }
            Ok(())
        })();
        leave();
        r.map(|()| DocValue::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DocValue, A::Error> {
        enter()?;
        let mut entries: Vec<(String, DocValue)> = Vec::new();
        let r = (|| {
            while let Some(key) = map.next_key::<MapKey>()? {
                let key = key.0;
                if entries.iter().any(|(k, _)| *k == key) {
                    return Err(de::Error::custom(format!("duplicate key '{key}'")));
                }
                let v = map.next_value::<DocValue>()?;
                entries.push((key, v));
            }
            Ok(())
        })();
        leave();
        r.map(|()| DocValue::Map(entries))
    }
}

impl<'de> Deserialize<'de> for DocValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

/// A map key: dictConfig keys are strings; YAML/TOML integer or boolean keys are written as
/// Python would print them (`1`, `True`), so ids like `1:` still work.
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl Visitor<'_> for K {
            type Value = MapKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MapKey, E> {
                Ok(MapKey(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MapKey, E> {
                Ok(MapKey(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<MapKey, E> {
                Ok(MapKey(if v { "True" } else { "False" }.to_owned()))
            }
        }
        d.deserialize_any(K)
    }
}

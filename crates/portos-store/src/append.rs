//! Appending one item to a JSON file's array without holding the file.
//!
//! The original keeps logs that grow all day as one JSON object per file, the
//! log as its last member (`agents/activity/<agent>/<day>.json`:
//! `{ "activities": [ … ] }`). Read, parsed and written whole for every entry,
//! such a file costs memory and time in proportion to its size on each append:
//! a schedule firing every three seconds made a 20 MB file by evening, and the
//! api server's heap grew with the largest buffer it had needed so far. Here
//! the file is checked in one streaming pass (it must parse, and its last
//! member must be the array), then copied to a temporary file up to the
//! array's closing bracket, the item added, the rename made: the same atomic,
//! durable write as every other, in a few kilobytes of memory.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{StoreError, io_at, write_atomic_with};

/// How far from the end the closing `] }` is looked for; farther means
/// whitespace no writer of ours or the original's leaves, and the slow path.
const TAIL: u64 = 4096;

/// What one streaming pass over the file found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The object's last member is the array `field`, with this many items.
    LastArray(usize),
    /// A valid object, but `field` is not its last member, or not an array.
    Other,
}

/// Appends `item` to the array `field` of the JSON object at `path`
/// (blocking; the caller holds the file's lock). A missing file becomes
/// `{ field: [item] }`. `Ok(false)`: the file is valid but not of the shape
/// this path handles, and nothing was written.
pub(crate) fn append_to_array<T: Serialize + ?Sized>(
    path: &Path,
    field: &str,
    item: &T,
) -> Result<bool, StoreError> {
    let encode_err = |e: serde_json::Error| StoreError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut whole = serde_json::Map::new();
            let value = serde_json::to_value(item).map_err(encode_err)?;
            whole.insert(field.to_string(), serde_json::Value::Array(vec![value]));
            let bytes = serde_json::to_vec_pretty(&whole).map_err(encode_err)?;
            write_atomic_with(path, |w| w.write_all(&bytes))?;
            return Ok(true);
        }
        Err(e) => return Err(io_at(path)(e)),
    };
    let len = match shape(BufReader::new(&file), field).map_err(|e| corrupt(path, &e))? {
        Shape::LastArray(n) => n,
        Shape::Other => return Ok(false),
    };
    let Some(keep) = kept_prefix(&mut file).map_err(io_at(path))? else {
        return Ok(false);
    };
    let mut tail = Vec::with_capacity(256);
    tail.extend_from_slice(if len == 0 { b"\n" } else { b",\n" });
    tail.extend_from_slice(&indented(item, "    ").map_err(encode_err)?);
    tail.extend_from_slice(b"\n  ]\n}");
    write_atomic_with(path, |w| {
        file.seek(SeekFrom::Start(0))?;
        let copied = std::io::copy(&mut (&file).take(keep), w)?;
        if copied != keep {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was copied",
            ));
        }
        w.write_all(&tail)
    })?;
    Ok(true)
}

fn corrupt(path: &Path, e: &serde_json::Error) -> StoreError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    StoreError::Corrupt {
        path: path.to_path_buf(),
        location: format!("line {}, column {}", e.line(), e.column()),
        message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
    }
}

/// `item` pretty-printed (two spaces a level, as the original writes), every
/// line after `indent`: an element of a top-level member's array.
fn indented<T: Serialize + ?Sized>(item: &T, indent: &str) -> Result<Vec<u8>, serde_json::Error> {
    let text = serde_json::to_string_pretty(item)?;
    // A newline inside a JSON string is always escaped: every raw one is layout.
    let mut out = String::with_capacity(text.len() + indent.len() * 8);
    out.push_str(indent);
    out.push_str(&text.replace('\n', &format!("\n{indent}")));
    Ok(out.into_bytes())
}

/// How many leading bytes of the file stay: everything before the whitespace
/// that precedes the array's closing `]`, which (with the object's `}`) ends
/// the file. `None` when the end is not `] }` within [`TAIL`] bytes.
fn kept_prefix(file: &mut File) -> std::io::Result<Option<u64>> {
    let size = file.seek(SeekFrom::End(0))?;
    let start = size.saturating_sub(TAIL);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity((size - start) as usize);
    file.take(TAIL).read_to_end(&mut tail)?;
    let mut end = tail.len();
    let expect = |what: u8, end: &mut usize| -> bool {
        while *end > 0 && tail[*end - 1].is_ascii_whitespace() {
            *end -= 1;
        }
        if *end > 0 && tail[*end - 1] == what {
            *end -= 1;
            true
        } else {
            false
        }
    };
    if !(expect(b'}', &mut end) && expect(b']', &mut end)) {
        return Ok(None);
    }
    while end > 0 && tail[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end == 0 {
        return Ok(None);
    }
    Ok(Some(start + end as u64))
}

/// One streaming pass: the file must be a JSON object (an error says where it
/// is not); whether its last member is the array `field`, and its length.
pub(crate) fn shape(reader: impl Read, field: &str) -> Result<Shape, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let shape = (&mut de).deserialize_map(ObjectShape { field })?;
    de.end()?;
    Ok(shape)
}

struct ObjectShape<'a> {
    field: &'a str,
}

impl<'de> Visitor<'de> for ObjectShape<'_> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut last = Shape::Other;
        while let Some(key) = map.next_key::<String>()? {
            last = if key == self.field {
                match map.next_value_seed(MaybeArray)? {
                    Some(n) => Shape::LastArray(n),
                    None => Shape::Other,
                }
            } else {
                map.next_value::<IgnoredAny>()?;
                Shape::Other
            };
        }
        Ok(last)
    }
}

/// A value that is checked and skipped: `Some(items)` if it is an array.
struct MaybeArray;

impl<'de> DeserializeSeed<'de> for MaybeArray {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_array {
    ($($name:ident: $t:ty),*) => {
        $(fn $name<E: serde::de::Error>(self, _: $t) -> Result<Option<usize>, E> { Ok(None) })*
    };
}

impl<'de> Visitor<'de> for MaybeArray {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(Some(n))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    not_an_array!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
}

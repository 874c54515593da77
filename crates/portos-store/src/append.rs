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

use crate::json::corrupt;
use crate::{StoreError, io_at, read_json, write_atomic_with, write_json_file};

/// How far from the end the closing `] }` is looked for; farther means
/// whitespace no writer of ours or the original's leaves, and the slow path.
const TAIL: u64 = 4096;

/// What one streaming pass over the file found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The object's last member is the array `field`.
    LastArray,
    /// A valid object, but `field` is not its last member, or not an array.
    Other,
}

/// Appends `item` to the array `field` of the JSON object at `path`
/// (blocking; the caller holds the file's lock). Streamed when the array is
/// the object's last member; otherwise (a missing file, another shape) the
/// object is read, changed and written whole. A file that does not parse, or
/// whose `field` is not an array, is an error and is left as it is.
pub(crate) fn append_to_array<T: Serialize>(
    path: &Path,
    field: &str,
    item: &T,
) -> Result<(), StoreError> {
    let encode_err = |e: serde_json::Error| StoreError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let whole = match File::open(path) {
        Ok(mut file) => {
            let last = shape(BufReader::new(&file), field).map_err(|e| corrupt(path, &e, None))?;
            if last == Shape::LastArray
                && let Some((keep, empty)) = kept_prefix(&mut file).map_err(io_at(path))?
            {
                let mut tail = Vec::with_capacity(256);
                tail.extend_from_slice(if empty { b"\n" } else { b",\n" });
                tail.extend_from_slice(&indented(item, "    ").map_err(encode_err)?);
                tail.extend_from_slice(b"\n  ]\n}");
                return write_atomic_with(path, |w| {
                    file.seek(SeekFrom::Start(0))?;
                    let copied = std::io::copy(&mut (&file).take(keep), w)?;
                    if copied != keep {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the file shrank while it was copied",
                        ));
                    }
                    w.write_all(&tail)
                });
            }
            read_json::<serde_json::Value>(path)?.unwrap_or_default()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
        Err(e) => return Err(io_at(path)(e)),
    };
    let mut object = match whole {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => serde_json::Map::new(),
        _ => return Err(not_of_shape(path, "not a JSON object")),
    };
    let value = serde_json::to_value(item).map_err(encode_err)?;
    match object.get_mut(field) {
        Some(serde_json::Value::Array(items)) => items.push(value),
        Some(serde_json::Value::Null) | None => {
            object.insert(field.to_string(), serde_json::Value::Array(vec![value]));
        }
        Some(_) => {
            return Err(not_of_shape(
                path,
                &format!("field {field} is not an array"),
            ));
        }
    }
    write_json_file(path, &object)
}

/// A file valid as JSON but not of the shape appended to: reported, kept.
fn not_of_shape(path: &Path, message: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        location: "the whole file".into(),
        message: message.into(),
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

/// How many leading bytes of the file stay, and whether the array is empty: everything before the whitespace
/// that precedes the array's closing `]`, which (with the object's `}`) ends
/// the file. `None` when the end is not `] }` within [`TAIL`] bytes.
fn kept_prefix(file: &mut File) -> std::io::Result<Option<(u64, bool)>> {
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
    // Right after the `[`: the array is empty.
    Ok(Some((start + end as u64, tail[end - 1] == b'[')))
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
                    true => Shape::LastArray,
                    false => Shape::Other,
                }
            } else {
                map.next_value::<IgnoredAny>()?;
                Shape::Other
            };
        }
        Ok(last)
    }
}

/// A value that is checked and skipped: whether it is an array.
struct MaybeArray;

impl<'de> DeserializeSeed<'de> for MaybeArray {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_array {
    ($($name:ident: $t:ty),*) => {
        $(fn $name<E: serde::de::Error>(self, _: $t) -> Result<bool, E> { Ok(false) })*
    };
}

impl<'de> Visitor<'de> for MaybeArray {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(true)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(false)
    }

    not_an_array!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_str: &str);
}

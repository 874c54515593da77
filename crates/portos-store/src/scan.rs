//! Reading a JSON file's array one item at a time.
//!
//! The counterpart of `append.rs`: a log that grows all day (`{ "activities":
//! [ … ] }`) is read for its last entries, or counted, without its bytes or
//! its whole list in memory. One streaming pass deserializes the items of the
//! array `field` one by one and hands each to a fold; every other member is
//! checked and skipped. Memory is what the fold keeps, plus one item.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use crate::json::corrupt;
use crate::{StoreError, io_at};

/// Folds `f` over the items of the array `field` of the JSON object at `path`
/// (blocking), oldest first, starting from `acc`. A missing file, a missing
/// or `null` field: `acc` unchanged. A file that does not parse, whose `field`
/// is not an array, or an item that is not a `T`: an error naming where, and
/// the file is left as it is.
pub(crate) fn fold_array<T, A>(
    path: &Path,
    field: &str,
    acc: A,
    f: impl FnMut(&mut A, T),
) -> Result<A, StoreError>
where
    T: DeserializeOwned,
{
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(acc),
        Err(e) => return Err(io_at(path)(e)),
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let fold = Object {
        field,
        acc,
        f,
        item: PhantomData,
    };
    let acc = (&mut de)
        .deserialize_map(fold)
        .and_then(|acc| de.end().map(|()| acc))
        .map_err(|e| corrupt(path, &e, None))?;
    Ok(acc)
}

/// The top-level object: `field` folded, every other member skipped.
struct Object<'a, T, A, F> {
    field: &'a str,
    acc: A,
    f: F,
    item: PhantomData<fn() -> T>,
}

impl<'de, T, A, F> Visitor<'de> for Object<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = A;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(mut self, mut map: M) -> Result<A, M::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field {
                map.next_value_seed(Items {
                    acc: &mut self.acc,
                    f: &mut self.f,
                    item: PhantomData,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(self.acc)
    }
}

/// The array `field` (or `null`): each item deserialized and folded in.
struct Items<'s, T, A, F> {
    acc: &'s mut A,
    f: &'s mut F,
    item: PhantomData<fn() -> T>,
}

impl<'de, T, A, F> DeserializeSeed<'de> for Items<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T, A, F> Visitor<'de> for Items<'_, T, A, F>
where
    T: DeserializeOwned,
    F: FnMut(&mut A, T),
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            (self.f)(self.acc, item);
        }
        Ok(())
    }
}

//! The original's input schemas as data: each field's kind and limits, the
//! create defaults; unknown keys are dropped, the first problem is named.

use portos_core::Refuse;
use serde_json::{Map, Value};

use crate::{BrainError, Result};

#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A string of `min..=max` characters.
    Text(usize, usize),
    /// A list of strings of at most `max` characters each.
    Strings(usize),
    OneOf(&'static [&'static str]),
    /// Full ISO-8601 in UTC (`…Z`).
    Instant,
    Url,
    Flag,
    /// A number in `0..=1`.
    Unit,
    /// `HH:MM` with a real hour and minute.
    ClockTime,
    /// Any object.
    Object,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// Applied on create when the field is absent.
    pub default: Option<&'static str>,
}

pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
        default: None,
    }
}

pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
        default: None,
    }
}

pub const fn dflt(name: &'static str, ty: Ty, default: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default: Some(default),
    }
}

/// Whether `s` is a full ISO-8601 time in UTC, as zod's `datetime()` wants.
pub fn is_instant(s: &str) -> bool {
    s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// `HH:MM`, hour 00–23, minute 00–59.
pub fn clock_time(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn check(f: &Field, v: &Value) -> std::result::Result<(), String> {
    let chars = |s: &str| s.chars().count();
    match (f.ty, v) {
        (Ty::Text(min, max), Value::String(s)) if (min..=max).contains(&chars(s)) => Ok(()),
        (Ty::Text(min, max), Value::String(_)) => Err(if min > 0 {
            format!("must be {min} to {max} characters")
        } else {
            format!("must be at most {max} characters")
        }),
        (Ty::Strings(max), Value::Array(items)) => {
            match items
                .iter()
                .find(|i| i.as_str().is_none_or(|s| chars(s) > max))
            {
                None => Ok(()),
                Some(_) => Err(format!(
                    "must be a list of texts of at most {max} characters"
                )),
            }
        }
        (Ty::OneOf(all), Value::String(s)) if all.contains(&s.as_str()) => Ok(()),
        (Ty::OneOf(all), _) => Err(format!("must be one of {}", all.join(", "))),
        (Ty::Instant, Value::String(s)) if is_instant(s) => Ok(()),
        (Ty::Instant, _) => {
            Err("must be an ISO-8601 time in UTC (2026-01-31T09:00:00.000Z)".into())
        }
        (Ty::Url, Value::String(s)) if url::Url::parse(s).is_ok() => Ok(()),
        (Ty::Url, _) => Err("must be a URL".into()),
        (Ty::Flag, Value::Bool(_)) => Ok(()),
        (Ty::Unit, Value::Number(n)) if n.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)) => {
            Ok(())
        }
        (Ty::Unit, _) => Err("must be a number from 0 to 1".into()),
        (Ty::ClockTime, Value::String(s)) if clock_time(s).is_some() => Ok(()),
        (Ty::ClockTime, _) => Err("must be a time of day as HH:MM (00:00 to 23:59)".into()),
        (Ty::Object, Value::Object(_)) => Ok(()),
        (Ty::Text(..), _) => Err("must be a text".into()),
        (Ty::Strings(_), _) => Err("must be a list of texts".into()),
        (Ty::Flag, _) => Err("must be true or false".into()),
        (Ty::Object, _) => Err("must be an object".into()),
    }
}

/// `body` checked against `fields`: on create every required field must be
/// there and defaults are applied; on update every field is optional. The
/// fields in schema order; keys the schema does not name are dropped.
pub fn validate(fields: &[Field], body: &Value, create: bool) -> Result<Map<String, Value>> {
    let body = body
        .as_object()
        .ok_or_else(|| BrainError::validation("the body must be a JSON object"))?;
    let mut out = Map::new();
    for f in fields {
        match body.get(f.name) {
            None | Some(Value::Null) if create && f.required => {
                return Err(BrainError::validation(format!("{} is required", f.name)));
            }
            None => {
                if let (true, Some(d)) = (create, f.default) {
                    out.insert(f.name.into(), Value::String(d.into()));
                }
            }
            Some(v) => {
                check(f, v).map_err(|why| BrainError::validation(format!("{} {why}", f.name)))?;
                out.insert(f.name.into(), v.clone());
            }
        }
    }
    Ok(out)
}

/// A text field of `body`, when it is one and not empty.
pub fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F: &[Field] = &[
        req("name", Ty::Text(1, 5)),
        dflt("status", Ty::OneOf(&["a", "b"]), "a"),
        opt("at", Ty::Instant),
    ];

    #[test]
    fn create_applies_defaults_and_drops_unknown_keys() {
        let out = validate(F, &json!({"name": "x", "archived": true}), true).unwrap();
        assert_eq!(Value::Object(out), json!({"name": "x", "status": "a"}));
        let out = validate(F, &json!({"at": "2026-01-01T00:00:00.000Z"}), false).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"at": "2026-01-01T00:00:00.000Z"})
        );
    }

    #[test]
    fn the_first_problem_is_named() {
        let e = validate(F, &json!({}), true).unwrap_err().to_string();
        assert_eq!(e, "name is required");
        let e = validate(F, &json!({"name": "toolong"}), true)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "name must be 1 to 5 characters");
        let e = validate(
            F,
            &json!({"name": "x", "at": "2026-01-01T00:00:00+02:00"}),
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("at must be an ISO-8601 time in UTC"), "{e}");
        assert!(validate(F, &json!([1]), true).is_err());
    }

    #[test]
    fn clock_times_are_real_times() {
        assert_eq!(clock_time("09:05"), Some((9, 5)));
        assert_eq!(
            clock_time("99:99"),
            None,
            "the original let this through and never fired"
        );
        assert_eq!(clock_time("9:05"), None);
    }
}

//! The prompt template language: the toolkit's Mustache subset, with the same
//! results for the same input, plus two things the original lacks: stages
//! included in stages (`{{> stage}}`, rendered with the same values, cycles
//! refused), and a strict mode that names every variable a prompt is missing
//! instead of leaving a hole in it.
//!
//! - `{{#key}}…{{/key}}`: removed when the value is falsy; for an array, once
//!   per element (an object element is the whole context inside, a plain
//!   element is `{{.}}`); any other truthy value renders the inside once.
//! - `{{^key}}…{{/key}}`: kept only when the value is falsy.
//! - `{{key}}`: the value as text (an absent key is empty, or an error when strict).
//! - The result is trimmed.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::{Map, Value};

/// What went wrong while rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("missing variable(s): {}", .0.iter().cloned().collect::<Vec<_>>().join(", "))]
    Missing(BTreeSet<String>),
    #[error("stage {0:?} includes itself (through {1})")]
    Cycle(String, String),
    #[error("stage {0:?} is included but does not exist")]
    UnknownStage(String),
}

static SECTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{#(\w+)\}\}").expect("pattern"));
static INVERTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\^(\w+)\}\}").expect("pattern"));
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{(\w+)\}\}").expect("pattern"));
static DOT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{\.\}\}").expect("pattern"));
static INCLUDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{>\s*([\w.-]+)\s*\}\}").expect("pattern"));

/// JavaScript's truthiness, as the original tests values.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// A value as the original prints it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => "[object Object]".into(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Replaces each section opened by `open` (`{{#key}}` or `{{^key}}`) up to
/// the first `{{/key}}` after it (the original's shortest match); an opening
/// tag without its closing tag stays as it is.
fn replace_sections(open: &Regex, text: &str, mut f: impl FnMut(&str, &str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = open.captures(rest) {
        let tag = c.get(0).expect("match");
        let key = &c[1];
        let close = format!("{{{{/{key}}}}}");
        match rest[tag.end()..].find(&close) {
            Some(at) => {
                let inner = &rest[tag.end()..tag.end() + at];
                out.push_str(&rest[..tag.start()]);
                out.push_str(&f(key, inner));
                rest = &rest[tag.end() + at + close.len()..];
            }
            None => {
                out.push_str(&rest[..tag.end()]);
                rest = &rest[tag.end()..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn render_in(template: &str, ctx: &Map<String, Value>, missing: &mut BTreeSet<String>) -> String {
    let sections = replace_sections(&SECTION, template, |key, inner| match ctx.get(key) {
        v if !truthy(v) => String::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(o) => render_in(inner, o, missing),
                plain => DOT
                    .replace_all(inner, regex::NoExpand(&text_of(plain)))
                    .into_owned(),
            })
            .collect(),
        _ => render_in(inner, ctx, missing),
    });
    let inverted = replace_sections(&INVERTED, &sections, |key, inner| {
        if truthy(ctx.get(key)) {
            String::new()
        } else {
            inner.to_string()
        }
    });
    VARIABLE
        .replace_all(&inverted, |c: &Captures| match ctx.get(&c[1]) {
            Some(v) => text_of(v),
            None => {
                missing.insert(c[1].to_string());
                String::new()
            }
        })
        .trim()
        .to_string()
}

/// Renders `template` with `ctx`; also the names of the variables it lacked.
pub fn render(template: &str, ctx: &Map<String, Value>) -> (String, BTreeSet<String>) {
    let mut missing = BTreeSet::new();
    let out = render_in(template, ctx, &mut missing);
    (out, missing)
}

/// Renders, refusing a prompt with a hole in it.
pub fn render_strict(template: &str, ctx: &Map<String, Value>) -> Result<String, TemplateError> {
    let (out, missing) = render(template, ctx);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(TemplateError::Missing(missing))
    }
}

/// Replaces `{{> stage}}` with that stage's template (itself expanded), as
/// `template_of` gives it; a stage that includes itself is refused.
pub fn expand_includes(
    stage: &str,
    template: &str,
    template_of: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    fn go(
        template: &str,
        path: &mut Vec<String>,
        template_of: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut last = 0;
        for c in INCLUDE.captures_iter(template) {
            let whole = c.get(0).expect("match");
            let name = c[1].to_string();
            if path.contains(&name) {
                return Err(TemplateError::Cycle(name, path.join(" → ")));
            }
            let inner =
                template_of(&name).ok_or_else(|| TemplateError::UnknownStage(name.clone()))?;
            path.push(name);
            let expanded = go(&inner, path, template_of)?;
            path.pop();
            out.push_str(&template[last..whole.start()]);
            out.push_str(expanded.trim());
            last = whole.end();
        }
        out.push_str(&template[last..]);
        Ok(out)
    }
    go(template, &mut vec![stage.to_string()], template_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_original_subset_renders_the_same() {
        let c = ctx(json!({
            "name": "Ada", "n": 3, "none": null, "zero": 0, "empty": "", "list": [],
            "tags": ["a", "b"], "items": [{"t": "x"}, {"t": "y"}], "obj": {"k": 1}, "yes": true,
        }));
        let r = |t: &str| render(t, &c).0;
        assert_eq!(r("Hi {{name}}, {{n}} {{none}}"), "Hi Ada, 3 null");
        assert_eq!(r("[{{#tags}}<{{.}}>{{/tags}}]"), "[<a><b>]");
        assert_eq!(r("{{#items}}{{t}};{{/items}}"), "x;y;");
        assert_eq!(
            r("{{#items}}{{name}}{{/items}}|"),
            "|",
            "outer keys are not seen inside an element"
        );
        assert_eq!(r("{{#zero}}no{{/zero}}{{^zero}}zero{{/zero}}"), "zero");
        assert_eq!(
            r("{{#empty}}no{{/empty}}{{#yes}}yes {{name}}{{/yes}}"),
            "yes Ada"
        );
        assert_eq!(
            r("{{^list}}never{{/list}}"),
            "",
            "an empty array is truthy, as in the original"
        );
        assert_eq!(r("{{obj}}"), "[object Object]");
        assert_eq!(r("  spaced  "), "spaced");
        assert_eq!(
            r("{{#a}}x{{/b}} {{name}}"),
            "{{#a}}x{{/b}} Ada",
            "unpaired tags stay"
        );
    }

    #[test]
    fn missing_variables_are_named_all_at_once() {
        let c = ctx(json!({"a": 1, "rows": [{"x": 1}]}));
        let (out, missing) = render("{{a}} {{b}} {{#rows}}{{x}}{{y}}{{/rows}} {{c}}", &c);
        assert_eq!(out, "1  1");
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), ["b", "c", "y"]);
        let err = render_strict("{{b}} and {{a}} and {{c}}", &c).unwrap_err();
        assert_eq!(err.to_string(), "missing variable(s): b, c");
        assert_eq!(render_strict("{{a}}!", &c).unwrap(), "1!");
    }

    #[test]
    fn stages_include_stages_and_cycles_are_refused() {
        let mut stages = std::collections::HashMap::from([
            ("outer".to_string(), "Start {{> middle}} end".to_string()),
            ("middle".to_string(), "[{{> leaf}}]\n".to_string()),
            ("leaf".to_string(), "leaf {{who}}".to_string()),
            ("loop-a".to_string(), "{{> loop-b}}".to_string()),
            ("loop-b".to_string(), "{{> loop-a}}".to_string()),
        ]);
        let mut of = |n: &str| stages.get(n).cloned();
        let t = expand_includes("outer", "Start {{> middle}} end", &mut of).unwrap();
        assert_eq!(t, "Start [leaf {{who}}] end");
        assert_eq!(
            render_strict(&t, &ctx(json!({"who": "me"}))).unwrap(),
            "Start [leaf me] end"
        );
        let err = expand_includes("loop-a", "{{> loop-b}}", &mut of).unwrap_err();
        assert!(
            matches!(err, TemplateError::Cycle(ref n, _) if n == "loop-a"),
            "{err}"
        );
        let err = expand_includes("x", "{{> nowhere}}", &mut of).unwrap_err();
        assert_eq!(err, TemplateError::UnknownStage("nowhere".into()));
        stages.clear();
    }
}

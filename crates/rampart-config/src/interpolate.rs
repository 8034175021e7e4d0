//! `${VAR}` and `${VAR:-default}` interpolation in the string values of a TOML tree.
//!
//! Runs on the parsed tree, never on the raw text, so an environment value can never
//! inject TOML syntax. Keys are not interpolated. `$${` writes a literal `${`. As in the
//! shell, `:-` uses the default when the variable is unset *or empty*. Every problem is
//! collected with its key path, so `rampart config check` can report them all at once.

use crate::error::ConfigError;

/// Where variable values come from: the process environment in production, a map in
/// tests and in `rampart demo`.
pub trait Env {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Interpolates every string value below `value`, in place, appending problems to
/// `errors`.
pub(crate) fn interpolate_tree(
    value: &mut toml::Value,
    path: &mut String,
    env: &dyn Env,
    errors: &mut Vec<ConfigError>,
) {
    match value {
        toml::Value::String(s) => match interpolate(s, env) {
            Ok(Some(expanded)) => *s = expanded,
            Ok(None) => {}
            Err(message) => errors.push(ConfigError::new(path.clone(), message)),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                interpolate_tree(item, path, env, errors);
                path.truncate(len);
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                interpolate_tree(item, path, env, errors);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Expands one string. `Ok(None)` means it holds no `$`, the common case, and needs no
/// allocation.
pub(crate) fn interpolate(input: &str, env: &dyn Env) -> Result<Option<String>, String> {
    if !input.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| "unterminated `${` in string value".to_owned())?;
            let expr = &after[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expr, None),
            };
            if !is_var_name(name) {
                return Err(format!("invalid variable name `{name}` in `${{...}}`"));
            }
            match (env.var(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("10.0.0.1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn expand(s: &str) -> Result<String, String> {
        interpolate(s, &env).map(|o| o.unwrap_or_else(|| s.to_owned()))
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert_eq!(expand("${HOST}:8080").unwrap(), "10.0.0.1:8080");
        assert_eq!(expand("${MISSING:-127.0.0.1}:1").unwrap(), "127.0.0.1:1");
        assert_eq!(expand("${HOST:-x}").unwrap(), "10.0.0.1");
        assert_eq!(expand("${EMPTY:-fallback}").unwrap(), "fallback");
        assert_eq!(expand("${EMPTY}").unwrap(), "");
        assert_eq!(expand("${MISSING:-}").unwrap(), "");
        assert_eq!(expand("plain").unwrap(), "plain");
    }

    #[test]
    fn escapes_and_lone_dollars_stay_literal() {
        assert_eq!(expand("$${HOST}").unwrap(), "${HOST}");
        assert_eq!(expand("cost $5").unwrap(), "cost $5");
        assert_eq!(expand("end$").unwrap(), "end$");
    }

    #[test]
    fn reports_unset_unterminated_and_bad_names() {
        assert!(expand("${MISSING}").unwrap_err().contains("`MISSING` is not set"));
        assert!(expand("${HOST").unwrap_err().contains("unterminated"));
        assert!(expand("${1BAD}").unwrap_err().contains("invalid variable name"));
        assert!(expand("${}").unwrap_err().contains("invalid variable name"));
    }

    #[test]
    fn values_are_not_reinterpolated() {
        let nested = |name: &str| (name == "A").then(|| "${B}".to_owned());
        assert_eq!(interpolate("${A}", &nested).unwrap().unwrap(), "${B}");
    }
}

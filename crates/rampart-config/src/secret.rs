//! `Secret<T>`: a value that must never be printed, serialized or logged.
//!
//! It deliberately implements neither `Serialize` nor `Display`; `Debug` prints
//! `<redacted>`. The only way to the value is [`Secret::expose`], which makes every use
//! greppable.

use std::fmt;

/// A secret value (provider credential, hashing key). See the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value. Call sites must not log or return it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("sk-live-123".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
    }
}

//! A statement assembled from fragments and bound values, for the reads whose shape depends on the
//! query (listings and their scopes): text and values are pushed together, so a value can never be
//! spliced into the SQL.

use rusqlite::types::Value;

#[derive(Debug, Default)]
pub(super) struct Sql {
    text: String,
    args: Vec<Value>,
}

impl Sql {
    pub(super) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, fragment: impl AsRef<str>) -> &mut Self {
        self.text.push_str(fragment.as_ref());
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn push_bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.args.push(value.into());
        self
    }

    pub(super) fn text(&self) -> &str {
        &self.text
    }

    pub(super) fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, Value>> {
        rusqlite::params_from_iter(self.args.iter())
    }
}

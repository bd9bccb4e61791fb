//! Form bodies as sent by browsers: `application/x-www-form-urlencoded`, where a group of
//! checkboxes repeats its name once per ticked box (which `serde_urlencoded` cannot read into a
//! list).

/// The fields of one form body, in the order sent.
#[derive(Debug, Default, Clone)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Decodes a body; malformed escapes decode leniently, as browsers never send them.
    pub fn parse(body: &[u8]) -> Self {
        FormFields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or an empty string.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// Every value of `name`, without duplicates, in the order sent.
    pub fn all(&self, name: &str) -> Vec<String> {
        crate::validate::dedup_scopes(
            self.0
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::FormFields;

    #[test]
    fn repeated_checkboxes_become_a_list() {
        let f = FormFields::parse(b"csrf=abc&scopes=read&scopes=profile&scopes=read&x=%3Cb%3E");
        assert_eq!(f.get("csrf"), Some("abc"));
        assert_eq!(f.all("scopes"), vec!["read", "profile"]);
        assert_eq!(f.text("x"), "<b>");
        assert_eq!(f.text("missing"), "");
    }
}

//! `InvalidField`: input that breaks a rule, named by the field it came in. The domain says what
//! is wrong; the HTTP layer turns it into a 400 `validation_error` whose message names the field.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    pub field: String,
    pub problem: String,
}

impl InvalidField {
    pub fn new(field: &str, problem: &str) -> Self {
        Self {
            field: field.to_owned(),
            problem: problem.to_owned(),
        }
    }
}

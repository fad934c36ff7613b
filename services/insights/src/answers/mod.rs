//! Answers to questions in plain language (docs/answers.md).

pub mod model;

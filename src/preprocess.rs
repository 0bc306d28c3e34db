//! Model input preprocessing.

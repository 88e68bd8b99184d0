pub mod postgres;
pub mod suite;

//! Keys and token encoding: RSA-2048 signing keys kept parsed and ready to sign
//! ([`signing_key`]), and compact JWS serialisation of tokens, good and deliberately bad
//! ([`jwt`]).

pub mod jwt;
pub mod signing_key;

pub use jwt::JwtHeader;
pub use signing_key::{KeyError, SigningKey};

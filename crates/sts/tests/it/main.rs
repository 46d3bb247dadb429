//! The one integration-test binary of keyless-sts: router tests through `oneshot`, real servers
//! on port 0, real AWS clients (boto3, the AWS CLI), restarts and bootstrap.

mod assume;
mod bad_input;
mod bad_input_headers;
mod bad_input_keyless;
mod caller;
mod cli;
mod clients;
mod clients_rust;
mod clients_sts;
mod explain;
mod faults;
mod fuzz_props;
mod hints;
mod hostile;
mod issuer;
mod load;
mod persistence;
mod router;
mod support;
mod wire;

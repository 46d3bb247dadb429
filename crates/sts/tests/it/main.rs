//! The one integration-test binary of keyless-sts: router tests through `oneshot`, real servers
//! on port 0, real AWS clients (boto3, the AWS CLI), restarts and bootstrap.

mod assume;
mod caller;
mod cli;
mod clients;
mod clients_rust;
mod clients_sts;
mod explain;
mod fuzz_props;
mod hints;
mod hostile;
mod issuer;
mod load;
mod persistence;
mod router;
mod support;

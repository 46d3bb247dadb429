//! The one integration-test binary of keyless-sts: router tests through `oneshot`, real servers
//! on port 0, real AWS clients (boto3, the AWS CLI), restarts and bootstrap.

mod cli;
mod clients;
mod persistence;
mod router;
mod support;

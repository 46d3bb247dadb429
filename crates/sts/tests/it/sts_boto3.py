"""Drives keyless-sts's STS actions through boto3 with only AWS_ENDPOINT_URL_STS and a region.

Run by tests/it/clients_sts.rs with KEYLESS_TOKEN_FILE, KEYLESS_ROLE_ARN and KEYLESS_DENIED_ROLE_ARN
set and no static credentials in the environment; exits non-zero on the first mismatch.
"""
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

TOKEN_FILE = os.environ["KEYLESS_TOKEN_FILE"]
ROLE_ARN = os.environ["KEYLESS_ROLE_ARN"]
DENIED_ROLE_ARN = os.environ["KEYLESS_DENIED_ROLE_ARN"]
ACCOUNT = "123456789012"
NO_RETRIES = Config(retries={"max_attempts": 1})


def check(condition, what):
    if not condition:
        print(f"mismatch: {what}", file=sys.stderr)
        sys.exit(1)


with open(TOKEN_FILE) as token_file:
    token = token_file.read()

sts = boto3.client("sts", config=NO_RETRIES)
answer = sts.assume_role_with_web_identity(
    RoleArn=ROLE_ARN, RoleSessionName="boto3-job", WebIdentityToken=token, DurationSeconds=900
)
credentials = answer["Credentials"]
check(credentials["AccessKeyId"].startswith("ASIA"), f"access key id {credentials['AccessKeyId']}")
check(answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/circleci-deploy/boto3-job", answer)
check(answer["Provider"].startswith(f"arn:aws:iam::{ACCOUNT}:oidc-provider/"), answer)
check("PackedPolicySize" not in answer, answer)

signed = boto3.client(
    "sts",
    aws_access_key_id=credentials["AccessKeyId"],
    aws_secret_access_key=credentials["SecretAccessKey"],
    aws_session_token=credentials["SessionToken"],
    config=NO_RETRIES,
)
identity = signed.get_caller_identity()
check(identity["Arn"] == answer["AssumedRoleUser"]["Arn"], identity)
check(identity["UserId"] == answer["AssumedRoleUser"]["AssumedRoleId"], identity)
check(identity["Account"] == ACCOUNT, identity)

wrong_token = boto3.client(
    "sts",
    aws_access_key_id=credentials["AccessKeyId"],
    aws_secret_access_key=credentials["SecretAccessKey"],
    aws_session_token="IQoJb3JpZ2luX2VjWRONG",
    config=NO_RETRIES,
)
try:
    wrong_token.get_caller_identity()
    check(False, "a wrong session token was accepted")
except ClientError as error:
    check(error.response["Error"]["Code"] == "InvalidClientTokenId", error.response)
    check(error.response["ResponseMetadata"]["HTTPStatusCode"] == 403, error.response)

try:
    sts.assume_role_with_web_identity(RoleArn=DENIED_ROLE_ARN, RoleSessionName="boto3-job", WebIdentityToken=token)
    check(False, "the denied role was assumed")
except ClientError as error:
    check(error.response["Error"]["Code"] == "AccessDenied", error.response)
    check(error.response["Error"]["Message"] == "Not authorized to perform sts:AssumeRoleWithWebIdentity", error.response)
    check(error.response["ResponseMetadata"]["HTTPStatusCode"] == 403, error.response)

try:
    sts.assume_role_with_web_identity(RoleArn=ROLE_ARN, RoleSessionName="boto3-job", WebIdentityToken="x.y.z1")
    check(False, "a garbage token was accepted")
except sts.exceptions.InvalidIdentityTokenException as error:
    check(error.response["ResponseMetadata"]["HTTPStatusCode"] == 400, error.response)

# The web-identity credential provider: botocore assumes the role itself.
os.environ["AWS_ROLE_ARN"] = ROLE_ARN
os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"] = TOKEN_FILE
provider_identity = boto3.session.Session().client("sts", config=NO_RETRIES).get_caller_identity()
check(provider_identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/circleci-deploy/botocore-session-"), provider_identity)

print("boto3 STS: ok")

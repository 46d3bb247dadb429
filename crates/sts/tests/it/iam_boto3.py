"""Drives every keyless-sts IAM action through boto3 and checks results and errors.

Run by tests/it/boto3.rs with KEYLESS_STS_ENDPOINT set; exits non-zero on the first mismatch.
"""
import datetime
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["KEYLESS_STS_ENDPOINT"]
ACCOUNT = "123456789012"
ORG = "11111111-2222-3333-4444-555555555555"
PROVIDER_URL = f"https://oidc.circleci.com/org/{ORG}"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.circleci.com/org/{ORG}"
THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def client(key="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"):
    return boto3.client(
        "iam",
        endpoint_url=ENDPOINT,
        region_name="eu-west-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


iam = client()


def expect_error(call, code, status, message, **kwargs):
    try:
        call(**kwargs)
    except ClientError as error:
        got = error.response["Error"]
        meta = error.response["ResponseMetadata"]
        assert got["Code"] == code, (code, got)
        assert meta["HTTPStatusCode"] == status, (status, meta, got)
        assert got["Message"] == message, (message, got["Message"])
        assert got.get("Type") == "Sender", got
        assert len(meta["RequestId"]) == 36, meta
        return
    raise AssertionError(f"expected {code} from {call.__name__} {kwargs}")


def trust_policy(provider_arn, subject="org/" + ORG + "/project/*"):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"oidc.circleci.com/org/{ORG}:aud": ORG},
                        "StringLike": {f"oidc.circleci.com/org/{ORG}:sub": subject},
                    },
                }
            ],
        },
        indent=2,
    )


# --- OpenID Connect providers -------------------------------------------------------------
created = iam.create_open_id_connect_provider(
    Url=PROVIDER_URL,
    ClientIDList=[ORG],
    ThumbprintList=[THUMBPRINT],
    Tags=[{"Key": "team", "Value": "infra"}],
)
assert created["OpenIDConnectProviderArn"] == PROVIDER_ARN, created
assert created["Tags"] == [{"Key": "team", "Value": "infra"}], created

provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)
assert provider["Url"] == f"oidc.circleci.com/org/{ORG}", provider
assert provider["ClientIDList"] == [ORG], provider
assert provider["ThumbprintList"] == [THUMBPRINT], provider
assert isinstance(provider["CreateDate"], datetime.datetime), provider
assert provider["Tags"] == [{"Key": "team", "Value": "infra"}], provider

expect_error(
    iam.create_open_id_connect_provider, "EntityAlreadyExists", 409,
    f"Provider with url {PROVIDER_URL} already exists.",
    Url=PROVIDER_URL, ClientIDList=[ORG],
)
expect_error(
    iam.create_open_id_connect_provider, "InvalidInput", 400,
    "Invalid Open ID Connect Provider URL",
    Url="http://oidc.example.com/org/1", ClientIDList=[ORG],
)
expect_error(
    iam.create_open_id_connect_provider, "ValidationError", 400,
    "1 validation error detected: Value '" + "a" * 41 + "' at 'thumbprintList.1.member' failed to "
    "satisfy constraint: Member must have length less than or equal to 40",
    Url="https://other.example.com", ThumbprintList=["a" * 41],
)

local = iam.create_open_id_connect_provider(Url="http://127.0.0.1:9999/org/local", ClientIDList=["local"])
local_arn = local["OpenIDConnectProviderArn"]
assert local_arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/127.0.0.1:9999/org/local", local
assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=local_arn)["Url"] == "127.0.0.1:9999/org/local"

arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
assert sorted(arns) == sorted([PROVIDER_ARN, local_arn]), arns

iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN, ClientID="sts.amazonaws.com")
iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN, ClientID="sts.amazonaws.com")
iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN, ClientID="absent")
assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)["ClientIDList"] == [ORG, "sts.amazonaws.com"]
iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN, ClientID="sts.amazonaws.com")
assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)["ClientIDList"] == [ORG]

for index in range(99):
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=local_arn, ClientID=f"aud-{index}")
expect_error(
    iam.add_client_id_to_open_id_connect_provider, "LimitExceeded", 409,
    "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
    OpenIDConnectProviderArn=local_arn, ClientID="one-too-many",
)

iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=PROVIDER_ARN, ThumbprintList=["a" * 40, "b" * 40])
assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER_ARN)["ThumbprintList"] == ["a" * 40, "b" * 40]
expect_error(
    iam.update_open_id_connect_provider_thumbprint, "ValidationError", 400,
    "1 validation error detected: Value '[" + ", ".join(["c" * 40] * 6) + "]' at 'thumbprintList' "
    "failed to satisfy constraint: Member must have length less than or equal to 5",
    OpenIDConnectProviderArn=PROVIDER_ARN, ThumbprintList=["c" * 40] * 6,
)

missing_arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/missing.example.com"
for call, extra in [
    (iam.get_open_id_connect_provider, {}),
    (iam.delete_open_id_connect_provider, {}),
    (iam.add_client_id_to_open_id_connect_provider, {"ClientID": "x"}),
    (iam.remove_client_id_from_open_id_connect_provider, {"ClientID": "x"}),
    (iam.update_open_id_connect_provider_thumbprint, {"ThumbprintList": []}),
]:
    expect_error(call, "NoSuchEntity", 404, f"OpenIDConnect Provider not found for arn {missing_arn}",
                 OpenIDConnectProviderArn=missing_arn, **extra)

# --- Roles ---------------------------------------------------------------------------------
policy = trust_policy(PROVIDER_ARN)
role = iam.create_role(
    RoleName="circleci-deploy", Path="/ci/", MaxSessionDuration=7200,
    AssumeRolePolicyDocument=policy, Description="deploys widgets",
    Tags=[{"Key": "team", "Value": "infra"}],
)["Role"]
assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ci/circleci-deploy", role
assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21, role
assert role["Path"] == "/ci/" and role["MaxSessionDuration"] == 7200, role
assert role["AssumeRolePolicyDocument"] == json.loads(policy), role
assert role["Description"] == "deploys widgets", role
assert role["Tags"] == [{"Key": "team", "Value": "infra"}], role
assert "RoleLastUsed" not in role, role

fetched = iam.get_role(RoleName="CIRCLECI-DEPLOY")["Role"]
assert fetched["RoleName"] == "circleci-deploy" and fetched["RoleId"] == role["RoleId"], fetched
assert fetched["AssumeRolePolicyDocument"] == json.loads(policy), fetched
assert fetched["RoleLastUsed"] == {}, fetched

expect_error(iam.create_role, "EntityAlreadyExists", 409, "Role with name Circleci-Deploy already exists.",
             RoleName="Circleci-Deploy", AssumeRolePolicyDocument=policy)
expect_error(iam.create_role, "ValidationError", 400,
             "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: "
             "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
             RoleName="bad name", AssumeRolePolicyDocument=policy)
expect_error(iam.create_role, "ValidationError", 400,
             "1 validation error detected: Value '50000' at 'maxSessionDuration' failed to satisfy "
             "constraint: Member must have value less than or equal to 43200",
             RoleName="too-long", AssumeRolePolicyDocument=policy, MaxSessionDuration=50000)
expect_error(iam.create_role, "MalformedPolicyDocument", 400, "This policy contains invalid Json",
             RoleName="broken", AssumeRolePolicyDocument="{not json")
with_resource = json.loads(policy)
with_resource["Statement"][0]["Resource"] = "*"
expect_error(iam.create_role, "MalformedPolicyDocument", 400, "Has prohibited field Resource",
             RoleName="resourceful", AssumeRolePolicyDocument=json.dumps(with_resource))
expect_error(iam.create_role, "MalformedPolicyDocument", 400,
             "Federated principals must be valid domain names or SAML metadata ARNs",
             RoleName="ghost", AssumeRolePolicyDocument=trust_policy(missing_arn))
expect_error(iam.create_role, "LimitExceeded", 409, "Cannot exceed quota for ACLSizePerRole: 2048",
             RoleName="huge", AssumeRolePolicyDocument=trust_policy(PROVIDER_ARN, "x" * 2100))

iam.create_role(RoleName="local-role", AssumeRolePolicyDocument=trust_policy(local_arn))
names = [r["RoleName"] for r in iam.list_roles()["Roles"]]
assert names == ["circleci-deploy", "local-role"], names
assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/ci/")["Roles"]] == ["circleci-deploy"]
first_page = iam.list_roles(MaxItems=1)
assert first_page["IsTruncated"] and [r["RoleName"] for r in first_page["Roles"]] == ["circleci-deploy"], first_page
second_page = iam.list_roles(MaxItems=1, Marker=first_page["Marker"])
assert not second_page["IsTruncated"] and [r["RoleName"] for r in second_page["Roles"]] == ["local-role"], second_page
paginated = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1}) for r in page["Roles"]]
assert paginated == ["circleci-deploy", "local-role"], paginated

iam.update_role(RoleName="circleci-deploy", MaxSessionDuration=43200)
assert iam.get_role(RoleName="circleci-deploy")["Role"]["MaxSessionDuration"] == 43200
expect_error(iam.update_role, "ValidationError", 400,
             "1 validation error detected: Value '50000' at 'maxSessionDuration' failed to satisfy "
             "constraint: Member must have value less than or equal to 43200",
             RoleName="circleci-deploy", MaxSessionDuration=50000)

new_policy = trust_policy(PROVIDER_ARN, f"org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/*")
iam.update_assume_role_policy(RoleName="circleci-deploy", PolicyDocument=new_policy)
assert iam.get_role(RoleName="circleci-deploy")["Role"]["AssumeRolePolicyDocument"] == json.loads(new_policy)
expect_error(iam.update_assume_role_policy, "MalformedPolicyDocument", 400, "This policy contains invalid Json",
             RoleName="circleci-deploy", PolicyDocument="[")
expect_error(iam.update_assume_role_policy, "LimitExceeded", 409, "Cannot exceed quota for ACLSizePerRole: 2048",
             RoleName="circleci-deploy", PolicyDocument=trust_policy(PROVIDER_ARN, "y" * 2100))
assert iam.get_role(RoleName="circleci-deploy")["Role"]["AssumeRolePolicyDocument"] == json.loads(new_policy)

for call, extra in [
    (iam.get_role, {}),
    (iam.delete_role, {}),
    (iam.update_role, {"MaxSessionDuration": 3600}),
    (iam.update_assume_role_policy, {"PolicyDocument": policy}),
]:
    expect_error(call, "NoSuchEntity", 404, "The role with name nope cannot be found.", RoleName="nope", **extra)

# Deleting a provider leaves roles naming it alone (spec §5.2).
iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=local_arn)
expect_error(iam.get_open_id_connect_provider, "NoSuchEntity", 404,
             f"OpenIDConnect Provider not found for arn {local_arn}", OpenIDConnectProviderArn=local_arn)
assert iam.get_role(RoleName="local-role")["Role"]["RoleName"] == "local-role"
iam.delete_role(RoleName="LOCAL-ROLE")
expect_error(iam.get_role, "NoSuchEntity", 404, "The role with name local-role cannot be found.", RoleName="local-role")

# --- Signatures ----------------------------------------------------------------------------
wrong_secret = client(secret="not-the-secret")
try:
    wrong_secret.list_roles()
    raise AssertionError("wrong secret accepted")
except ClientError as error:
    assert error.response["Error"]["Code"] == "SignatureDoesNotMatch", error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
unknown_key = client(key="AKIAUNKNOWNKEY000000")
try:
    unknown_key.list_roles()
    raise AssertionError("unknown key accepted")
except ClientError as error:
    assert error.response["Error"]["Code"] == "InvalidClientTokenId", error.response
    assert error.response["Error"]["Message"] == "The security token included in the request is invalid"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403

print("boto3 IAM lifecycle: ok")
sys.exit(0)

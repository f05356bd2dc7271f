"""Building one store's boto3 client: credentials, optional assumed role, region, endpoint.

boto3 is imported here, inside :func:`connect`, on a store's first use. One
client is built per store (and again only when the core re-authenticates);
boto3 clients are thread-safe, so the core's worker threads share it. Each
request is limited to the store's ``timeout``, and the connection pool holds
as many connections as the store's ``concurrency``.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from secretstores.errors import AuthenticationError, StoreError, StoreUnavailableError
from secretstores.model import Session, StoreSpec
from secretstores_aws import __version__, logs
from secretstores_aws.config import AwsConfig
from secretstores_aws.errors import call, describe

#: Renew an assumed role's credentials this many seconds before they expire.
RENEW_BEFORE = 300.0
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")


@attrs.define
class AwsClient:
    """What the plugin's hooks receive as ``client``: the boto3 client and its settings.

    ``batch_allowed`` turns False once ``BatchGetSecretValue`` is denied as a
    whole (a policy granting only ``GetSecretValue``, like the seed's), so
    later fetches go straight to ``GetSecretValue``.
    """

    secrets: Any = attrs.field(repr=False)
    recovery_window_days: int
    batch_allowed: bool = True

    def close(self) -> None:
        """Close the client's connection pool."""
        self.secrets.close()


def _botocore_config(store: StoreSpec) -> Any:
    from botocore.config import Config

    return Config(
        # The core's retry policy decides; botocore sends once.
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=store.concurrency,
        connect_timeout=store.timeout,
        read_timeout=store.timeout,
        user_agent_extra=f"secretstores-aws/{__version__}",
    )


def role_session_name(store: str) -> str:
    """The ``RoleSessionName`` for a store: ``secretstores-<store>``, made valid."""
    return _SESSION_NAME.sub("-", f"secretstores-{store}")[:64]


def connect(store: StoreSpec) -> Session:
    """Authenticate ``store`` and return a :class:`Session` holding an :class:`AwsClient`."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

    logs.install()
    config: AwsConfig = store.config
    source = config.credential_source
    try:
        session = boto3.session.Session(
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            aws_session_token=config.session_token,
            region_name=config.region,
            profile_name=config.profile,
        )
    except ProfileNotFound:
        raise AuthenticationError(f"AWS profile '{config.profile}' was not found") from None
    region = session.region_name
    if not region:
        raise StoreUnavailableError(
            "no AWS region: set 'region' in the store's configuration (or AWS_REGION)"
        )
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise AuthenticationError(f"loading credentials from {source} failed: {exc}") from None
    if credentials is None:
        raise AuthenticationError(
            f"no AWS credentials found through {source}: set 'accessKeyId' and "
            "'secretAccessKey', 'profile', or the AWS_* environment variables"
        )
    expires_at: float | None = None
    botocore_config = _botocore_config(store)
    if config.role_arn is not None:
        sts = session.client("sts", region_name=region, config=botocore_config)
        try:
            answer = call("AssumeRole", sts.assume_role, RoleArn=config.role_arn,
                          RoleSessionName=role_session_name(store.name))
        except StoreError as exc:
            if isinstance(exc, StoreUnavailableError):
                raise  # transient or unreachable: the core retries or reports it
            raise AuthenticationError(
                f"assuming role {config.role_arn} with {source} failed: {exc.reason}"
            ) from None
        except ClientError as exc:
            raise AuthenticationError(
                f"assuming role {config.role_arn} with {source} failed: {describe(exc)}"
            ) from None
        finally:
            sts.close()
        role = answer["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=role["AccessKeyId"],
            aws_secret_access_key=role["SecretAccessKey"],
            aws_session_token=role["SessionToken"],
            region_name=region,
        )
        expires_at = role["Expiration"].timestamp()
    secrets = session.client(
        "secretsmanager", region_name=region, endpoint_url=config.endpoint_url,
        config=botocore_config,
    )
    client = AwsClient(secrets, recovery_window_days=config.recovery_window_days)
    return Session(client=client, expires_at=expires_at, renew_before=RENEW_BEFORE,
                   close=client.close)

"""Create the stack's storage on an emulated AWS (moto's server) for tests and ``tsuzuri dev``.

Production resources come from ``template.yaml`` through ``sam deploy``; this module
creates the same shapes (key schema, stream, versioning) on the local emulator.
"""

from __future__ import annotations

from typing import Any

from tsuzuri.config import RuntimeSettings
from tsuzuri.runtime import Clients

TABLE_SCHEMA: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
}


def create_bucket(s3: Any, name: str, *, versioned: bool = False) -> None:
    region = s3.meta.region_name
    kwargs: dict[str, Any] = {"Bucket": name}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def create_distribution(cloudfront: Any, site_bucket: str, reference: str) -> str:
    response = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": reference,
            "Comment": "tsuzuri local",
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": f"{site_bucket}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    return str(response["Distribution"]["Id"])


def provision(clients: Clients, *, prefix: str = "tsuzuri") -> RuntimeSettings:
    """Create buckets, table and distribution; return the settings that point at them."""
    source, site, table = f"{prefix}-source", f"{prefix}-site", f"{prefix}-table"
    create_bucket(clients.s3, source, versioned=True)
    create_bucket(clients.s3, site)
    clients.dynamodb.create_table(TableName=table, **TABLE_SCHEMA)
    distribution = create_distribution(clients.cloudfront, site, prefix)
    return RuntimeSettings(
        source_bucket=source, site_bucket=site, table_name=table, distribution_id=distribution
    )

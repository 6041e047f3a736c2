"""Every AWS call tsuzuri makes: DynamoDB (the store), S3 (the buckets), CloudFront
(invalidations), and the one place botocore errors become tsuzuri's."""

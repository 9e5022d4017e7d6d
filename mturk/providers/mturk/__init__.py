"""Amazon Mechanical Turk: boto3 client, HITs, the worker frame page, fees, and the provider."""

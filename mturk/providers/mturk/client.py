"""The boto3 MTurk client: sandbox unless production is asked for; credentials from the AWS chain."""
import boto3

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
SANDBOX_WORKER_SUBMIT = "https://workersandbox.mturk.com/mturk/externalSubmit"
PRODUCTION_WORKER_SUBMIT = "https://www.mturk.com/mturk/externalSubmit"
SANDBOX_WORKER_SITE = "https://workersandbox.mturk.com"
PRODUCTION_WORKER_SITE = "https://worker.mturk.com"


def endpoint_for(production):
    return PRODUCTION_ENDPOINT if production else SANDBOX_ENDPOINT


def mturk_client(production=False, session=None):
    """MTurk lives in us-east-1 only. Keys come from boto3's chain (env, ~/.aws, instance role):
    this project never stores them."""
    session = session or boto3.session.Session()
    return session.client("mturk", region_name="us-east-1", endpoint_url=endpoint_for(production))

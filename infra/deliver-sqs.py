#!/usr/bin/env python3
"""Local stand-in for Lambda's SQS event source mapping.

Receives up to 10 messages from the reclaim queue, wraps them in an SQS event with the shape of
infra/events/sqs-reclaim.json, invokes the reclaim function under `cargo lambda watch`
(`cargo lambda invoke --data-file`), then deletes every message the function did not report in
`batchItemFailures` (those come back after the visibility timeout), as AWS does.

usage: deliver-sqs.py QUEUE_URL INVOKE_PORT [FUNCTION]
Prints the function's response; exits 1 if the invocation failed, 2 if messages were handed back.
Uses boto3 (installed with moto) and the AWS_* environment of the local stack.
"""
import json
import os
import subprocess
import sys
import tempfile

import boto3


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    queue_url, port = sys.argv[1], sys.argv[2]
    function = sys.argv[3] if len(sys.argv) > 3 else "reclaim"
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=2,
        MessageSystemAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        print("deliver-sqs: the queue is empty")
        return 0
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
            }
            for m in messages
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
        path = f.name
    try:
        print(f"+ cargo lambda invoke {function} --data-file <SQS event, {len(messages)} record(s)>")
        run = subprocess.run(
            [
                "cargo", "lambda", "invoke",
                "--invoke-address", "127.0.0.1", "--invoke-port", port,
                "--data-file", path, function,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(path)
    if run.returncode != 0:
        print(run.stdout + run.stderr, file=sys.stderr)
        return 1
    print(run.stdout.strip())
    response = json.loads(run.stdout)
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    print(f"deliver-sqs: {len(messages) - len(failed)} handled, {len(failed)} handed back")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

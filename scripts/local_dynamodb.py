"""Local DynamoDB API for development and tests: moto's DynamoDB server, in memory, on loopback.

Why moto and not dynalite: dynalite 4.0.0 (the newest) answers TransactWriteItems and
UpdateTimeToLive with UnknownOperationException, and this project's key creation, deactivation,
registration and idempotent sends are DynamoDB transactions. moto implements them, with
conditions and cancellation reasons.

Requests are served one at a time (a lock around the app): DynamoDB applies each single-item
write atomically, and so must the emulator, or the rate-limit exactness tests would measure
the emulator's races instead of ours.

Usage: python scripts/local_dynamodb.py --port 8000 [--table NAME]...
With --table, creates each table from infra/table.json once the server answers.
"""

import argparse
import io
import json
import logging
import pathlib
import threading
import time

import boto3
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

TABLE_JSON = pathlib.Path(__file__).resolve().parent.parent / "infra" / "table.json"


def serialised(app):
    lock = threading.Lock()
    # ClientRequestToken of TransactWriteItems -> (when, request body, status, headers, body) of
    # its success. DynamoDB makes a transaction idempotent per token for 10 minutes, and the AWS
    # SDKs rely on it: they fill the token in and reuse it when they retry an attempt that timed
    # out. moto ignores the token, so without this a retried transaction whose first attempt was
    # applied fails its own conditions (locally only, and only under load).
    committed = {}

    def handle(environ, start_response):
        with lock:
            if not environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
                return list(app(environ, start_response))
            request = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(request)
            try:
                token = json.loads(request).get("ClientRequestToken")
            except ValueError:
                token = None
            now = time.monotonic()
            for old in [t for t, seen in committed.items() if now - seen[0] > 600]:
                del committed[old]
            if token in committed:
                _, first, status, headers, body = committed[token]
                if first != request:
                    status, body = "400 Bad Request", json.dumps({
                        "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                        "message": "The request uses the same client token as a previous, but non-identical request.",
                    }).encode()
                    headers = [("Content-Type", "application/x-amz-json-1.0")]
                start_response(status, headers)
                return [body]
            answer = {}

            def capture(status, headers, exc_info=None):
                answer["status"], answer["headers"] = status, headers
                return start_response(status, headers, exc_info)

            body = b"".join(app(environ, capture))
            if token and answer["status"].startswith("200"):
                committed[token] = (now, request, answer["status"], answer["headers"], body)
            return [body]

    return handle


def create_table(endpoint, name):
    definition = json.loads(TABLE_JSON.read_text())
    ttl_attribute = definition.pop("TimeToLiveAttribute")
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client.create_table(TableName=name, **definition)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--table", action="append", default=[])
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = make_server(
        "127.0.0.1", args.port, serialised(DomainDispatcherApplication(create_backend_app)), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{args.port}"
    for name in args.table:
        create_table(endpoint, name)
    print(f"local DynamoDB ready at {endpoint} (tables: {', '.join(args.table) or 'none'})", flush=True)
    try:
        while thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()

"""Local DynamoDB API for development and tests: moto's DynamoDB server, in memory, on loopback.

Why moto and not dynalite: dynalite 4.0.0 (the newest) answers TransactWriteItems and
UpdateTimeToLive with UnknownOperationException, and this project's key creation, deactivation,
registration and idempotent sends are DynamoDB transactions. moto implements them, with
conditions and cancellation reasons.

Requests are served one at a time (a lock around the app): DynamoDB applies each single-item
write atomically, and so must the emulator, or the rate-limit exactness tests would measure
the emulator's races instead of ours.

TransactWriteItems is replaced (transact_write_items below): moto 5.2.1 deep-copies every table a
transaction names, to roll back on failure, so each transaction costs time in proportion to the
whole table (110-130 ms at 1,200 items on 2 cores) while it holds that lock; as `make test` fills
the table, every request queued behind it slows until the functions' 2 s DynamoDB timeout answers
503. The replacement saves only the items the transaction names.

Usage: python scripts/local_dynamodb.py --port 8000 [--table NAME]...
With --table, creates each table from infra/table.json once the server answers.
"""

import argparse
import copy
import io
import json
import logging
import pathlib
import threading
import time

import boto3
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
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


TRANSACTION_OPS = ("ConditionCheck", "Put", "Delete", "Update")


def transact_write_items(backend, transact_items):
    """DynamoDB's TransactWriteItems on moto's backend, all or nothing, at a cost in proportion
    to the items it names. Each item's condition is checked against the item as it stands (the
    serving lock keeps anyone else out; one item per operation is enforced); the operation is then
    applied through moto's own put/update/delete. If any operation fails, the items written so
    far are put back as they were, and the error is what DynamoDB returns: a validation error as
    such, anything else as TransactionCanceledException with one reason per operation."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    saved = []  # (table name, key, the item before this transaction or None), in write order
    seen = set()
    reasons = []

    def put_back():
        for table_name, key, before in reversed(saved):
            if before is None:
                backend.delete_item(table_name, key)
            else:
                backend.put_item(table_name, before.to_json()["Attributes"])

    for entry in transact_items:
        if len(entry) != 1:
            put_back()
            raise TransactWriteSingleOpException
        ((op_type, op),) = entry.items()
        old_item = None
        try:
            if op_type not in TRANSACTION_OPS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = backend.get_table(table_name)
                key_names = [table.hash_key_attr, table.range_key_attr]
                key = {name: op["Item"][name] for name in key_names if name is not None}
            else:
                key = op["Key"]
            identity = (table_name, json.dumps(key, sort_keys=True))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)

            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            current = backend.get_item(table_name, key)
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if current is not None and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    old_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed()
            if op_type == "ConditionCheck":
                reasons.append((None, None, None))
                continue

            saved.append((table_name, key, copy.deepcopy(current)))
            written = {"condition_expression": condition, "expression_attribute_names": names,
                       "expression_attribute_values": values}
            if op_type == "Put":
                backend.put_item(table_name, op["Item"], **written)
            elif op_type == "Delete":
                backend.delete_item(table_name, key, **written)
            else:
                backend.update_item(table_name, key, update_expression=op["UpdateExpression"], **written)
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            put_back()
            raise
        except ConditionalCheckFailed as failed:
            reasons.append(("ConditionalCheckFailed", str(failed.message), old_item))
        except Exception as failed:  # noqa: BLE001 - DynamoDB reports any other failure as a reason
            reasons.append((type(failed).__name__, str(failed), None))

    if any(code is not None for code, _, _ in reasons):
        put_back()
        raise TransactionCanceledException(reasons)


def local_client(endpoint):
    """A boto3 DynamoDB client for the local DynamoDB at endpoint (placeholder credentials)."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def create_table(endpoint, name):
    definition = json.loads(TABLE_JSON.read_text())
    ttl_attribute = definition.pop("TimeToLiveAttribute")
    client = local_client(endpoint)
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
    DynamoDBBackend.transact_write_items = transact_write_items

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

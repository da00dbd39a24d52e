"""Checks the local DynamoDB (scripts/local_dynamodb.py) keeps DynamoDB's TransactWriteItems
contract, which key creation, deactivation, registration and idempotent sends rely on: all or
nothing, one cancellation reason per operation (with ALL_OLD), one operation per item. Then prints
what a transaction and a query cost on a small and on a large table (printed, not asserted: the
emulator's speed decides whether `make test` stays inside the functions' 2 s DynamoDB timeout).

Usage: python scripts/check_local_dynamodb.py http://127.0.0.1:PORT
Works in a table of its own (emulator-check-<random>), deleted at the end.
"""

import statistics
import sys
import time
import uuid

from botocore.exceptions import ClientError

from local_dynamodb import create_table, local_client


def main():
    endpoint = sys.argv[1]
    client = local_client(endpoint)
    table = f"emulator-check-{uuid.uuid4().hex[:12]}"
    create_table(endpoint, table)
    try:
        check_transactions(client, table)
        print(f"check_local_dynamodb: TransactWriteItems all-or-nothing: ok ({endpoint})")
        small = costs_ms(client, table)
        fill(client, table, 2000)
        large = costs_ms(client, table)
        for (name, few), (_, many) in zip(small.items(), large.items()):
            print(f"check_local_dynamodb: {name}, median of 20: {few:.1f} ms in a near-empty table, "
                  f"{many:.1f} ms with 2,000 more items")
    finally:
        client.delete_table(TableName=table)


def key(pk):
    return {"pk": {"S": pk}, "sk": {"S": "check"}}


def item(pk, **attrs):
    return {**key(pk), **attrs}


def put(table, pk, condition=None, **extra):
    op = {"TableName": table, "Item": item(pk)}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": {**op, **extra}}


def expect_error(client, items, code):
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as error:
        got = error.response["Error"]["Code"]
        if got != code:
            raise AssertionError(f"expected {code}, got {got}: {error.response}") from error
        return error.response
    raise AssertionError(f"expected {code}, the transaction was applied")


def check_transactions(client, table):
    def get(pk):
        return client.get_item(TableName=table, Key=key(pk), ConsistentRead=True).get("Item")

    client.put_item(TableName=table, Item=item("counter", v={"N": "1"}))
    client.put_item(TableName=table, Item=item("taken", v={"N": "7"}))
    client.put_item(TableName=table, Item=item("doomed"))

    # A condition failing on the third operation undoes the first two.
    response = expect_error(
        client,
        [
            put(table, "new", "attribute_not_exists(pk)"),
            {"Update": {"TableName": table, "Key": key("counter"), "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            put(table, "taken", "attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        ],
        "TransactionCanceledException",
    )
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"], reasons
    assert reasons[2]["Item"]["v"] == {"N": "7"}, reasons[2]
    assert get("new") is None, "a cancelled transaction left its Put behind"
    assert get("counter")["v"] == {"N": "1"}, "a cancelled transaction left its Update behind"

    # A failed ConditionCheck cancels too.
    response = expect_error(
        client,
        [put(table, "new"),
         {"ConditionCheck": {"TableName": table, "Key": key("absent"), "ConditionExpression": "attribute_exists(pk)"}}],
        "TransactionCanceledException",
    )
    assert [r["Code"] for r in response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert get("new") is None, "a cancelled transaction left its Put behind"

    # Two operations on one item are refused outright.
    expect_error(
        client,
        [put(table, "twice"), {"Delete": {"TableName": table, "Key": key("twice")}}],
        "ValidationException",
    )
    assert get("twice") is None, "a refused transaction left its Put behind"

    # When every condition holds, every operation is applied.
    client.transact_write_items(
        TransactItems=[
            put(table, "new", "attribute_not_exists(pk)"),
            {"Update": {"TableName": table, "Key": key("counter"), "UpdateExpression": "SET v = :two",
                        "ConditionExpression": "v = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}}}},
            {"Delete": {"TableName": table, "Key": key("doomed")}},
            {"ConditionCheck": {"TableName": table, "Key": key("taken"), "ConditionExpression": "attribute_exists(pk)"}},
        ]
    )
    assert get("new") is not None and get("counter")["v"] == {"N": "2"} and get("doomed") is None


def costs_ms(client, table, rounds=20):
    """Median milliseconds of the two request shapes whose cost moto ties to the table's size."""

    def median(request):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            request()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    def transaction():
        pks = [f"tx-{uuid.uuid4()}" for _ in range(2)]
        client.transact_write_items(TransactItems=[put(table, pk, "attribute_not_exists(pk)") for pk in pks])

    def query():
        client.query(TableName=table, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": "counter"}})

    return {"one 2-item TransactWriteItems": median(transaction), "one Query of a partition": median(query)}


def fill(client, table, count):
    for start in range(0, count, 25):
        requests = [{"PutRequest": {"Item": item(f"fill-{n}", payload={"S": "x" * 200})}}
                    for n in range(start, min(start + 25, count))]
        client.batch_write_item(RequestItems={table: requests})


if __name__ == "__main__":
    main()

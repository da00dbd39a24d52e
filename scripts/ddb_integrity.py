"""Check a YeboLink table for partial records: what the code writes in one transaction must be
there whole or not at all. Run by scripts/test.sh (with .tools/venv's python, which has boto3)
against the local DynamoDB after the black-box suite and after each outage phase that keeps
the data.

Pairs checked (see README "Data model"):
  - API key item  WS#<ws> / KEY#<id>   <->  lookup item  KEYHASH#<sha256> / KEYHASH,
    both ways, with the same key id, workspace, scopes and is_active;
  - email claim   EMAIL#<email> / EMAIL  ->  WS#<ws> / WORKSPACE and WS#<ws> / USER#<user>,
    and every WORKSPACE / USER item back to its email claim;
  - idempotency record WS#<ws> / IDEM#<k>  ->  the message its stored response names.

Usage: python scripts/ddb_integrity.py --endpoint http://127.0.0.1:PORT --table NAME
Prints the counts; exits 1 listing every broken pair.
"""

import argparse
import json
import sys

from local_dynamodb import local_client


def scan(endpoint, table):
    client = local_client(endpoint)
    kwargs = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def plain(item):
    """{'pk': {'S': 'x'}} -> {'pk': 'x'} (only the types this table uses)."""
    out = {}
    for name, value in item.items():
        ((kind, raw),) = value.items()
        out[name] = {"S": raw, "N": raw, "BOOL": raw}.get(kind, raw)
    return out


def check(items):
    problems = []
    keys, lookups, claims, workspaces, users, idems, messages = {}, {}, {}, {}, {}, [], set()
    for item in map(plain, items):
        pk, sk = item["pk"], item["sk"]
        if pk.startswith("WS#") and sk.startswith("KEY#"):
            keys[item["key_hash"]] = item
        elif pk.startswith("KEYHASH#"):
            lookups[item["key_hash"]] = item
        elif pk.startswith("EMAIL#"):
            claims[item["email"]] = item
        elif sk == "WORKSPACE":
            workspaces[pk[3:]] = item
        elif sk.startswith("USER#"):
            users[(pk[3:], sk[5:])] = item
        elif sk.startswith("IDEM#"):
            idems.append(item)
        elif sk.startswith("MSG#"):
            messages.add((pk[3:], sk[4:]))

    for key_hash, key in keys.items():
        lookup = lookups.get(key_hash)
        ws = key["pk"][3:]
        if lookup is None:
            problems.append(f"key {key['key_id']} (workspace {ws}) has no lookup item")
            continue
        for field, expected in (
            ("key_id", key["key_id"]),
            ("workspace_id", ws),
            ("scopes", key["scopes"]),
            ("is_active", key["is_active"]),
        ):
            if lookup.get(field) != expected:
                problems.append(
                    f"key {key['key_id']}: lookup {field} is {lookup.get(field)!r}, key item says {expected!r}"
                )
    for key_hash, lookup in lookups.items():
        if key_hash not in keys:
            problems.append(f"lookup item for key {lookup.get('key_id')} has no key item")

    for email, claim in claims.items():
        ws, user = claim["workspace_id"], claim["user_id"]
        if ws not in workspaces:
            problems.append(f"account {user}: workspace {ws} missing")
        if (ws, user) not in users:
            problems.append(f"account {user}: user item missing in workspace {ws}")
    owners = {(c["workspace_id"], c["user_id"]) for c in claims.values()}
    for ws, workspace in workspaces.items():
        if (ws, workspace.get("owner_id")) not in owners:
            problems.append(f"workspace {ws} has no email claim for its owner")
    for ws_user in users:
        if ws_user not in owners:
            problems.append(f"user {ws_user[1]} (workspace {ws_user[0]}) has no email claim")

    for idem in idems:
        ws = idem["pk"][3:]
        try:
            message_id = json.loads(idem["body"])["data"]["id"]
        except (KeyError, TypeError, ValueError):
            problems.append(f"idempotency record {idem['sk']} in {ws}: unreadable body")
            continue
        if (ws, message_id) not in messages:
            problems.append(f"idempotency record {idem['sk']} in {ws}: message {message_id} missing")

    counts = (
        f"{len(keys)} keys, {len(lookups)} key lookups, {len(claims)} accounts, "
        f"{len(workspaces)} workspaces, {len(users)} users, {len(messages)} messages, "
        f"{len(idems)} idempotency records"
    )
    return counts, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    counts, problems = check(scan(args.endpoint, args.table))
    if problems:
        print(f"table {args.table}: {len(problems)} partial record(s) ({counts}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"table {args.table}: no partial records ({counts})")


if __name__ == "__main__":
    main()

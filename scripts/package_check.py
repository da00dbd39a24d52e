"""The deploy path short of CloudFormation, for `make build` (no AWS account needed).

Runs `sam package` on the built template (.aws-sam/build/template.yaml) against a local S3
(moto's server, started by scripts/build.sh), then turns the packaged template into plain
CloudFormation with the SAM translator that SAM CLI ships, the same translation AWS applies
on `sam deploy`. Checks that every Lambda function of the result runs arm64 / provided.al2023
code from an uploaded artifact, and that each artifact is a zip holding an executable aarch64
`bootstrap` byte-identical to the one `sam build` made.

Usage (with .tools/lint-venv's python, which has SAM CLI, boto3 and samtranslator):
    python scripts/package_check.py --s3-endpoint http://127.0.0.1:PORT
"""

import argparse
import io
import logging
import os
import pathlib
import subprocess
import sys
import zipfile

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUCKET = "yebolink-package-check"
ELF_AARCH64 = 0xB7  # e_machine of an aarch64 ELF file


class NoManagedPolicies:
    # The template names no AWS managed policies, so the translator needs none from IAM.
    def load(self):
        return {}


def fail(message):
    print(f"package_check: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s3-endpoint", required=True)
    args = parser.parse_args()

    # Only the local S3, never a developer's real account.
    os.environ.update(
        AWS_ENDPOINT_URL=args.s3_endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="package-check",
        AWS_SECRET_ACCESS_KEY="package-check",
        SAM_CLI_TELEMETRY="0",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)

    # The translator warns that its feature-toggle config is absent (it is AWS's, server side).
    logging.getLogger("samtranslator").setLevel(logging.ERROR)

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    packaged = BUILD_DIR.parent / "packaged.yaml"
    sam = pathlib.Path(sys.executable).parent / "sam"
    subprocess.run(
        [str(sam), "package", "--template-file", str(BUILD_DIR / "template.yaml"),
         "--s3-bucket", BUCKET, "--region", "us-east-1", "--output-template-file", str(packaged)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )

    template = transform(yaml_parse(packaged.read_text()), {}, NoManagedPolicies())
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    built = sorted(p.parent.name for p in BUILD_DIR.glob("*/bootstrap"))
    if sorted(functions) != built:
        fail(f"functions after translation {sorted(functions)} != bootstraps built {built}")

    for name, props in sorted(functions.items()):
        if props.get("Architectures") != ["arm64"] or props.get("Runtime") != "provided.al2023":
            fail(f"{name}: {props.get('Architectures')} {props.get('Runtime')}, not arm64 provided.al2023")
        code = props.get("Code", {})
        if code.get("S3Bucket") != BUCKET or not code.get("S3Key"):
            fail(f"{name}: code is {code}, not an uploaded artifact")
        artifact = s3.get_object(Bucket=BUCKET, Key=code["S3Key"])["Body"].read()
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            if "bootstrap" not in archive.namelist():
                fail(f"{name}: the artifact holds {archive.namelist()}, no bootstrap")
            info = archive.getinfo("bootstrap")
            bootstrap = archive.read(info)
        mode = info.external_attr >> 16
        if not mode & 0o111:
            fail(f"{name}: bootstrap in the artifact is not executable (mode {oct(mode)})")
        if bootstrap[:4] != b"\x7fELF" or bootstrap[18] != ELF_AARCH64:
            fail(f"{name}: bootstrap in the artifact is not an aarch64 ELF executable")
        if bootstrap != (BUILD_DIR / name / "bootstrap").read_bytes():
            fail(f"{name}: bootstrap in the artifact differs from .aws-sam/build/{name}/bootstrap")
        print(f"package_check: {name:26} s3 artifact {len(artifact):>9} bytes, "
              f"bootstrap {len(bootstrap):>9} bytes, arm64 provided.al2023, {props['MemorySize']} MB")
    print(f"package_check: OK: sam package uploaded {len(functions)} artifacts and the packaged "
          f"template translates to {len(functions)} arm64 functions running them")


if __name__ == "__main__":
    main()

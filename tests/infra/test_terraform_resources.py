"""Terraform and Dockerfiles are checked by parsing: no Terraform binary or Docker here."""

import pytest

from tests.infra.terraform import INFRA, TERRAFORM
from tests.infra.terraform import resources as read_resources
from tests.infra.terraform import unquote as _unquote


@pytest.fixture(scope="module")
def resources() -> dict:
    found = read_resources(TERRAFORM)
    assert found
    return found


def test_media_bucket_is_private_encrypted_and_tls_only(resources):
    block = resources["aws_s3_bucket_public_access_block.media"]
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy",
                                          "ignore_public_acls", "restrict_public_buckets"))
    sse = resources["aws_s3_bucket_server_side_encryption_configuration.media"]
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert _unquote(rule["sse_algorithm"]) == "aws:kms"
    policy = resources["aws_s3_bucket_policy.media_tls_only"]["policy"]
    assert "aws:SecureTransport" in str(policy)


def test_database_and_redis_are_private_encrypted_and_backed_up(resources):
    db = resources["aws_db_instance.main"]
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["deletion_protection"] is True
    assert db["backup_retention_period"] >= 7
    assert db["manage_master_user_password"] is True
    redis = resources["aws_elasticache_replication_group.main"]
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["transit_encryption_enabled"] is True


def test_data_tier_is_reachable_only_from_the_app(resources):
    ingress = resources["aws_security_group.data"]["ingress"]
    assert ingress and all("cidr_blocks" not in rule for rule in ingress)


def test_gpu_instances_require_imdsv2_and_encrypted_disks(resources):
    template = resources["aws_launch_template.gpu"]
    assert _unquote(template["metadata_options"][0]["http_tokens"]) == "required"
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] is True


def test_application_role_grants_no_wildcard_actions(resources):
    policy = str(resources["aws_iam_role_policy.task"]["policy"])
    assert '"*"' not in policy and "s3:*" not in policy
    assert "bedrock:InvokeModel" in policy


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_images_run_as_a_non_root_user(name):
    lines = (INFRA / "docker" / name).read_text().splitlines()
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM")):]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}


def test_transcribe_is_limited_to_its_jobs_region_and_bucket_prefix(resources):
    policy = str(resources["aws_iam_role_policy.transcribe"]["policy"])
    assert "transcribe:StartTranscriptionJob" in policy
    assert "transcribe:GetTranscriptionJob" in policy
    assert "transcribe:*" not in policy and '"*"' not in policy
    assert "transcription-job/cg-*" in policy and "${var.region}" in policy
    assert "aws:RequestedRegion" in policy
    assert "${var.media_bucket_arn}/${var.transcribe_output_prefix}*" in policy


def test_transcribe_working_files_expire_where_the_workers_write_them(resources, settings):
    from tests.infra.terraform import load

    lifecycle = resources["aws_s3_bucket_lifecycle_configuration.media"]
    [rule] = [r for r in lifecycle["rule"]
              if _unquote(r["id"]) == "expire-transcribe-working-files"]
    assert _unquote(rule["status"]) == "Enabled"
    assert rule["filter"][0]["prefix"] == "${var.transcribe_prefix}"
    days = rule["expiration"][0]["days"]
    # Never under a job that may still be waiting for Transcribe to finish.
    assert days * 86400 > settings.TRANSCRIBE_JOB_TIMEOUT_SECONDS
    # One prefix, declared by the stack, given to the bucket and to the workers (their
    # environment and their only write grant outside uploads), and the app's default.
    stack = TERRAFORM / "modules" / "stack"
    modules = {_unquote(name): body for block in load(stack / "main.tf")["module"]
               for name, body in block.items()}
    assert modules["data"]["transcribe_prefix"] == "${var.transcribe_output_prefix}"
    assert modules["compute"]["transcribe_output_prefix"] == "${var.transcribe_output_prefix}"
    [declared] = [body for block in load(stack / "variables.tf")["variable"]
                  for name, body in block.items()
                  if _unquote(name) == "transcribe_output_prefix"]
    assert _unquote(declared["default"]) == settings.TRANSCRIBE_OUTPUT_PREFIX == "transcribe/"
    grant = resources["aws_iam_role_policy.transcribe"]["policy"]
    assert "${var.media_bucket_arn}/${var.transcribe_output_prefix}*" in grant

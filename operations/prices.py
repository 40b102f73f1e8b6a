"""List prices the capacity planner compares, each with its source.

Instance prices are on-demand, Linux, us-east-1, as AWS listed them when written: check
them before relying on a plan. A deployment adds or overrides instance types with a JSON
object in CAPACITY_GPU_TYPES_JSON, keyed like ``GPU_TYPES``; ``match`` is a regular
expression found in a stored benchmark result's device or machine. Transcribe is priced
as the managed engine is charged (``TRANSCRIBE_PRICE_MICROS_PER_SECOND``).
"""

from __future__ import annotations

from django.conf import settings

_EC2_PRICES = "https://aws.amazon.com/ec2/pricing/on-demand/ (us-east-1, Linux, on-demand)"
GPU_TYPES = {
    "l4": {"name": "NVIDIA L4 (g6.xlarge)", "match": r"\bL4\b", "instance": "g6.xlarge",
           "gpus_per_instance": 1, "micros_per_hour": 804_800, "source": _EC2_PRICES},
    "a10g": {"name": "NVIDIA A10G (g5.xlarge)", "match": r"\bA10G\b", "instance": "g5.xlarge",
             "gpus_per_instance": 1, "micros_per_hour": 1_006_000, "source": _EC2_PRICES},
    "l40s": {"name": "NVIDIA L40S (g6e.xlarge)", "match": r"\bL40S\b",
             "instance": "g6e.xlarge", "gpus_per_instance": 1, "micros_per_hour": 1_861_000,
             "source": _EC2_PRICES},
    "cpu": {"name": "CPU only, 2 vCPUs (c7i.large)", "match": r"^cpu$", "instance": "c7i.large",
            "gpus_per_instance": 1, "micros_per_hour": 89_250, "source": _EC2_PRICES},
}
# Transcribe bills by the second with this minimum per job.
TRANSCRIBE_MIN_SECONDS = 15
BEDROCK_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (the LLM_PRICES row of BEDROCK_MODEL_ID)"


def gpu_types() -> dict[str, dict]:
    """The instance types to plan with: the list above and the deployment's own."""
    return {**GPU_TYPES, **settings.CAPACITY_GPU_TYPES_OVERRIDES}


def transcribe_micros_per_minute() -> int:
    return settings.TRANSCRIBE_PRICE_MICROS_PER_SECOND * 60


def transcribe_source() -> str:
    return (f"{settings.TRANSCRIBE_PRICE_SOURCE} (batch, standard, US East, first 250,000 "
            "minutes a month: $0.024 a minute, billed by the second with a 15-second minimum)")

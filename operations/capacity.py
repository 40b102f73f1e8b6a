"""The capacity planner: GPUs for a month's load, what they cost, and the managed alternative.

Throughput is what ``bench/stt.py`` measured and stored (``bench/results/stt-*.json``,
schema in docs/benchmarks.md), never a constant typed here. Prices are list prices
(``operations/prices.py``, the managed engine's price, ``LLM_PRICES``), each with
its source; money is integer micro-dollars.

    audio seconds a month  = tasks x minutes x 60
    peak load (audio-s/s)  = audio seconds a month / seconds in a month x peak factor
    GPUs                   = ceil(peak load / (measured audio-s/s x target utilisation))
    self-hosted a month    = ceil(GPUs / GPUs per instance) x instance $/h x 730 h
    managed a month        = tasks x max(15 s, minutes x 60 s) x Transcribe $/s
    captions (both)        = tasks x (input tokens x $/Mtok in + output x $/Mtok out)
    crossover              = the smallest monthly task count at which one instance costs
                             no more than Transcribe would (when one instance can carry it)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from config.errors import ApplicationError
from engines.caption_writer import cost_micro_usd, price_for

from . import prices

HOURS_PER_MONTH = 730  # AWS's convention for monthly prices: 8,760 h / 12
MONTH_SECONDS = HOURS_PER_MONTH * 3600
RESULT_FIELDS = ("engine", "model", "device", "audio_seconds_per_second", "wer",
                 "measured_at", "machine")


@dataclass(frozen=True)
class BenchResult:
    engine: str
    model: str
    device: str
    audio_seconds_per_second: float
    wer: float | None
    measured_at: str
    machine: str
    source: str  # the file it came from

    def runs_on(self, gpu: dict) -> bool:
        pattern = re.compile(gpu["match"], re.IGNORECASE)
        return bool(pattern.search(self.device) or pattern.search(self.machine))


def _rows(data) -> list[dict]:
    """A file's results: one object, a list, or bench/stt.py's run of several engines
    (``{"measured_at", "machine", "runs": [...]}``, each run taking the run's time and
    machine unless it names its own)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        shared = {k: data[k] for k in ("measured_at", "machine") if k in data}
        return [{**shared, **run} for run in data["runs"]]
    return [data]


def bench_results_load(folder: Path | str | None = None) -> list[BenchResult]:
    """Every result in ``bench/results/stt-*.json``.

    Raises ApplicationError naming the file and the field when one does not follow the
    schema, rather than planning from a half-read file.
    """
    folder = Path(folder or settings.CAPACITY_BENCH_RESULTS_DIR)
    results = []
    for path in sorted(folder.glob("stt-*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ApplicationError(f"{path.name} is not readable JSON: {exc}",
                                   code="bench_result_invalid") from exc
        for row in _rows(data):
            missing = [f for f in RESULT_FIELDS if f not in row]
            if missing or not float(row.get("audio_seconds_per_second") or 0) > 0:
                raise ApplicationError(
                    f"{path.name} lacks {', '.join(missing) or 'a positive throughput'}.",
                    code="bench_result_invalid")
            results.append(BenchResult(
                engine=str(row["engine"]), model=str(row["model"]), device=str(row["device"]),
                audio_seconds_per_second=float(row["audio_seconds_per_second"]),
                wer=None if row["wer"] is None else float(row["wer"]),
                measured_at=str(row["measured_at"]), machine=str(row["machine"]),
                source=path.name))
    return results


@dataclass(frozen=True)
class PlanInputs:
    tasks_per_month: int
    avg_media_minutes: float
    model: str
    engine: str
    gpu_type: str
    target_utilisation: float = 0.6
    peak_factor: float = 3.0
    input_tokens_per_task: int = 3000
    output_tokens_per_task: int = 600

    def check(self) -> None:
        errors = {}
        if self.tasks_per_month < 0:
            errors["tasks_per_month"] = "Give zero or more tasks a month."
        if not 0 < self.avg_media_minutes <= 24 * 60:
            errors["avg_media_minutes"] = "Give the average media length in minutes (0-1440]."
        if not 0 < self.target_utilisation <= 1:
            errors["target_utilisation"] = "Give a utilisation above 0 and at most 1."
        if self.peak_factor < 1:
            errors["peak_factor"] = "The peak is at least the average (factor 1 or more)."
        if self.gpu_type not in prices.gpu_types():
            errors["gpu_type"] = f"Choose one of {', '.join(prices.gpu_types())}."
        if self.input_tokens_per_task < 0 or self.output_tokens_per_task < 0:
            errors["input_tokens_per_task"] = "Token counts cannot be negative."
        if errors:
            raise ApplicationError("The plan's inputs are not usable.", code="invalid",
                                   details=errors)


@dataclass
class Plan:
    inputs: PlanInputs
    result: BenchResult
    gpu: dict
    audio_seconds_per_month: float
    peak_load: float                 # audio seconds per second at the peak
    capacity_per_gpu: float          # audio seconds per second at the target utilisation
    gpus: int
    instances: int
    self_hosted_micros: int          # GPUs a month
    transcribe_micros: int           # Amazon Transcribe a month
    captions_micros: int             # Bedrock tokens a month (paid either way)
    instance_capacity_tasks: int     # tasks a month one instance carries at the peak
    crossover_tasks: int | None      # None: one instance never beats Transcribe per task
    sources: dict = field(default_factory=dict)

    @property
    def self_hosted_total_micros(self) -> int:
        return self.self_hosted_micros + self.captions_micros

    @property
    def managed_total_micros(self) -> int:
        return self.transcribe_micros + self.captions_micros

    def curve(self, points: int = 24) -> tuple[list[int], list[float], list[float]]:
        """Task counts and both monthly totals in dollars, for the chart."""
        top = max(self.inputs.tasks_per_month * 2, (self.crossover_tasks or 0) * 3 // 2, 100)
        xs = [round(top * i / points) for i in range(points + 1)]
        selfs, manageds = [], []
        for n in xs:
            other = plan_costs(self.inputs, self.result, self.gpu, tasks=n)
            selfs.append((other["self_hosted"] + other["captions"]) / 1e6)
            manageds.append((other["transcribe"] + other["captions"]) / 1e6)
        return xs, selfs, manageds


def _task_seconds(inputs: PlanInputs) -> float:
    return inputs.avg_media_minutes * 60


def plan_costs(inputs: PlanInputs, result: BenchResult, gpu: dict, *, tasks: int) -> dict:
    """The monthly figures for ``tasks`` tasks (the plan's own count, or a point on the curve)."""
    audio = tasks * _task_seconds(inputs)
    peak = audio / MONTH_SECONDS * inputs.peak_factor
    per_gpu = result.audio_seconds_per_second * inputs.target_utilisation
    gpus = math.ceil(peak / per_gpu) if tasks else 0
    instances = math.ceil(gpus / gpu["gpus_per_instance"])
    billed_seconds = max(prices.TRANSCRIBE_MIN_SECONDS, _task_seconds(inputs))
    llm_price = price_for(settings.BEDROCK_MODEL_ID, settings.LLM_PRICES)
    return {
        "audio": audio, "peak": peak, "per_gpu": per_gpu, "gpus": gpus,
        "instances": instances,
        "self_hosted": instances * gpu["micros_per_hour"] * HOURS_PER_MONTH,
        "transcribe": math.ceil(tasks * billed_seconds
                                * prices.transcribe_micros_per_minute() / 60),
        "captions": tasks * cost_micro_usd(input_tokens=inputs.input_tokens_per_task,
                                           output_tokens=inputs.output_tokens_per_task,
                                           price=llm_price),
    }


def benchmark_for(inputs: PlanInputs, results: list[BenchResult]) -> BenchResult:
    gpu = prices.gpu_types()[inputs.gpu_type]
    matching = [r for r in results if r.engine.lower() == inputs.engine.lower()
                and r.model == inputs.model and r.runs_on(gpu)]
    if not matching:
        raise ApplicationError(
            f"No stored benchmark of {inputs.engine} {inputs.model} on {gpu['name']}. Run "
            f"bench/stt.py there and keep its results file in bench/results/.",
            code="no_benchmark", status=404)
    return max(matching, key=lambda r: r.measured_at)


def capacity_plan(inputs: PlanInputs, results: list[BenchResult] | None = None) -> Plan:
    """The plan for ``inputs`` from the stored benchmarks. Raises ApplicationError for bad
    inputs (400) or when no benchmark matches the engine, model and GPU (404)."""
    inputs.check()
    results = bench_results_load() if results is None else results
    result = benchmark_for(inputs, results)
    gpu = prices.gpu_types()[inputs.gpu_type]
    costs = plan_costs(inputs, result, gpu, tasks=inputs.tasks_per_month)
    instance_monthly = gpu["micros_per_hour"] * HOURS_PER_MONTH
    per_task_managed = plan_costs(inputs, result, gpu, tasks=1)["transcribe"]
    capacity_tasks = math.floor(costs["per_gpu"] * gpu["gpus_per_instance"] * MONTH_SECONDS
                                / (inputs.peak_factor * _task_seconds(inputs)))
    crossover = math.ceil(instance_monthly / per_task_managed) if per_task_managed else None
    if crossover is not None and crossover > capacity_tasks:
        crossover = None
    return Plan(
        inputs=inputs, result=result, gpu=gpu,
        audio_seconds_per_month=costs["audio"], peak_load=costs["peak"],
        capacity_per_gpu=costs["per_gpu"], gpus=costs["gpus"], instances=costs["instances"],
        self_hosted_micros=costs["self_hosted"], transcribe_micros=costs["transcribe"],
        captions_micros=costs["captions"], instance_capacity_tasks=capacity_tasks,
        crossover_tasks=crossover,
        sources={"gpu": gpu["source"], "transcribe": prices.transcribe_source(),
                 "bedrock": prices.BEDROCK_SOURCE,
                 "throughput": f"bench/results/{result.source}"},
    )


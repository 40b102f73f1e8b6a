"""``manage.py capacity_plan``: the capacity planner's figures on the command line."""

from django.core.management.base import BaseCommand, CommandError

from billing.cost_ledger import format_dollars
from config.errors import ApplicationError
from operations import capacity, prices


class Command(BaseCommand):
    help = ("GPUs needed for a month's load (from bench/stt.py's stored throughput), their "
            "monthly cost, Amazon Transcribe + Bedrock instead, and the crossover.")

    def add_arguments(self, parser):
        parser.add_argument("--tasks", type=int, required=True, help="tasks a month")
        parser.add_argument("--minutes", type=float, required=True,
                            help="average media minutes a task")
        parser.add_argument("--engine", required=True)
        parser.add_argument("--model", required=True)
        parser.add_argument("--gpu", required=True, choices=sorted(prices.gpu_types()))
        parser.add_argument("--utilisation", type=float, default=0.6)
        parser.add_argument("--peak", type=float, default=3.0, help="peak / average load")
        parser.add_argument("--input-tokens", type=int, default=3000)
        parser.add_argument("--output-tokens", type=int, default=600)
        parser.add_argument("--results-dir", default=None,
                            help="default: CAPACITY_BENCH_RESULTS_DIR (bench/results)")

    def handle(self, *args, **o):
        inputs = capacity.PlanInputs(
            tasks_per_month=o["tasks"], avg_media_minutes=o["minutes"], model=o["model"],
            engine=o["engine"], gpu_type=o["gpu"], target_utilisation=o["utilisation"],
            peak_factor=o["peak"], input_tokens_per_task=o["input_tokens"],
            output_tokens_per_task=o["output_tokens"])
        try:
            plan = capacity.capacity_plan(inputs, capacity.bench_results_load(o["results_dir"]))
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in exc.details.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        r = plan.result
        lines = [
            f"throughput        {r.audio_seconds_per_second:g} audio-s/s: {r.engine} {r.model} "
            f"on {r.machine} ({r.device}), {r.measured_at} [{plan.sources['throughput']}]",
            f"audio a month     {plan.audio_seconds_per_month / 3600:,.1f} h",
            f"peak load         {plan.peak_load:.3f} audio-s/s (x{inputs.peak_factor:g})",
            f"per GPU           {plan.capacity_per_gpu:.2f} audio-s/s at "
            f"{inputs.target_utilisation:.0%} utilisation",
            f"GPUs needed       {plan.gpus} on {plan.instances} x {plan.gpu['instance']}",
            f"self-hosted       {format_dollars(plan.self_hosted_micros)} a month "
            f"[{plan.sources['gpu']}]",
            f"Transcribe        {format_dollars(plan.transcribe_micros)} a month "
            f"[{plan.sources['transcribe']}]",
            f"captions          {format_dollars(plan.captions_micros)} a month, either way "
            f"[{plan.sources['bedrock']}]",
            f"total             self-hosted {format_dollars(plan.self_hosted_total_micros)}, "
            f"managed {format_dollars(plan.managed_total_micros)}",
            "crossover         " + (f"{plan.crossover_tasks:,} tasks a month"
                                    if plan.crossover_tasks else
                                    "none: one instance costs more per task than Transcribe"),
        ]
        self.stdout.write("\n".join(lines))

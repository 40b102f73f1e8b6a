"""The capacity planner against a hand calculation, from stored benchmark results."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from config.errors import ApplicationError
from operations import capacity
from operations.capacity import PlanInputs, bench_results_load, capacity_plan

REPO_RESULTS = Path(__file__).resolve().parent.parent.parent / "bench" / "results"
L40S = {"engine": "openai-whisper", "model": "large-v3", "device": "cuda",
        "audio_seconds_per_second": 150, "wer": 0.05, "measured_at": "2026-12-01T01:00:00Z",
        "machine": "NVIDIA L40S, torch 2.13.0+cu128"}


@pytest.fixture
def results_dir(tmp_path, settings):
    older = {**L40S, "audio_seconds_per_second": 10, "measured_at": "2026-01-01T00:00:00Z"}
    (tmp_path / "stt-l40s.json").write_text(json.dumps([older, L40S]))
    (tmp_path / "stt-cpu.json").write_text(json.dumps(
        {**L40S, "device": "cpu", "machine": "2 vCPUs", "audio_seconds_per_second": 0.05}))
    (tmp_path / "notes.json").write_text("not a result, not read")
    settings.CAPACITY_BENCH_RESULTS_DIR = str(tmp_path)
    settings.BEDROCK_MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    settings.LLM_PRICES = {"anthropic.claude-haiku-4-5-20251001-v1:0": [1_000_000, 5_000_000]}
    return tmp_path


def inputs(**changes):
    base = dict(tasks_per_month=100_000, avg_media_minutes=5, model="large-v3",
                engine="openai-whisper", gpu_type="l40s", target_utilisation=0.6,
                peak_factor=3, input_tokens_per_task=3000, output_tokens_per_task=600)
    return PlanInputs(**{**base, **changes})


def test_the_plan_matches_a_hand_calculation(results_dir):
    plan = capacity_plan(inputs())
    # 100,000 x 5 min = 30,000,000 audio-s; / 2,628,000 s a month x 3 = 34.2466 audio-s/s.
    assert plan.audio_seconds_per_month == 30_000_000
    assert plan.peak_load == pytest.approx(34.246575, rel=1e-6)
    # The newest L40S result (150 audio-s/s, not the older 10) x 0.6 = 90 a GPU: one GPU.
    assert plan.result.audio_seconds_per_second == 150
    assert (plan.capacity_per_gpu, plan.gpus, plan.instances) == (90, 1, 1)
    # g6e.xlarge $1.861/h x 730 h.
    assert plan.self_hosted_micros == 1_358_530_000
    # Transcribe: 300 s x $0.0004/s = $0.12 a task; x 100,000.
    assert plan.transcribe_micros == 12_000_000_000
    # Haiku 4.5: 3,000 x $1/M + 600 x $5/M = $0.006 a task; x 100,000.
    assert plan.captions_micros == 600_000_000
    assert plan.self_hosted_total_micros == 1_958_530_000
    assert plan.managed_total_micros == 12_600_000_000
    # One instance ($1,358.53) pays for itself at ceil(1,358.53 / 0.12) = 11,322 tasks, and
    # carries floor(90 x 2,628,000 / (3 x 300)) = 262,800 tasks a month.
    assert (plan.crossover_tasks, plan.instance_capacity_tasks) == (11_322, 262_800)
    assert plan.sources["throughput"] == "bench/results/stt-l40s.json"
    assert "aws.amazon.com/transcribe/pricing" in plan.sources["transcribe"]


def test_ten_times_the_load_needs_four_gpus(results_dir):
    plan = capacity_plan(inputs(tasks_per_month=1_000_000))
    assert plan.peak_load == pytest.approx(342.46575, rel=1e-6)  # / 90 = 3.8 -> 4
    assert (plan.gpus, plan.self_hosted_micros) == (4, 4 * 1_358_530_000)


def test_a_machine_too_slow_to_carry_its_own_cost_never_crosses_over(results_dir):
    plan = capacity_plan(inputs(gpu_type="cpu", tasks_per_month=50))
    # 0.05 x 0.6 = 0.03 audio-s/s carries floor(0.03 x 2,628,000 / 900) = 87 tasks, while
    # c7i.large ($0.08925/h x 730 = $65.15) needs ceil(65.1525 / 0.12) = 543 to pay off.
    assert plan.instance_capacity_tasks == 87
    assert plan.crossover_tasks is None


def test_no_benchmark_for_the_choice_is_a_clear_error(results_dir):
    with pytest.raises(ApplicationError) as refused:
        capacity_plan(inputs(gpu_type="l4"))
    assert refused.value.status == 404 and "bench/stt.py" in refused.value.message
    with pytest.raises(ApplicationError) as refused:
        capacity_plan(inputs(target_utilisation=1.5, peak_factor=0.5))
    assert set(refused.value.details) == {"target_utilisation", "peak_factor"}


def test_a_results_file_missing_a_field_is_named(tmp_path):
    (tmp_path / "stt-bad.json").write_text(json.dumps({"engine": "x", "model": "y"}))
    with pytest.raises(ApplicationError, match="stt-bad.json lacks device"):
        bench_results_load(tmp_path)


def test_the_stored_results_follow_the_schema():
    results = bench_results_load(REPO_RESULTS)
    assert results and all(r.audio_seconds_per_second > 0 for r in results)
    assert all(r.machine and r.measured_at for r in results)


def test_a_bench_run_of_several_engines_gives_each_its_machine_and_time(tmp_path):
    (tmp_path / "stt-base-cpu.json").write_text(json.dumps({
        "measured_at": "2026-12-01T02:47:17+00:00", "machine": "x86_64; 2 threads",
        "command": "python bench/stt.py --model base",
        "runs": [{"engine": "ours", "model": "base", "device": "cpu",
                  "audio_seconds_per_second": 2.17, "wer": 0.0422},
                 {"engine": "faster-whisper int8", "model": "base", "device": "cpu",
                  "audio_seconds_per_second": 4.52, "wer": 0.0476}]}))
    ours, int8 = bench_results_load(tmp_path)
    assert (ours.engine, ours.audio_seconds_per_second, ours.machine) == (
        "ours", 2.17, "x86_64; 2 threads")
    assert (int8.engine, int8.wer, int8.measured_at) == (
        "faster-whisper int8", 0.0476, "2026-12-01T02:47:17+00:00")


def test_the_command_prints_the_same_figures(results_dir, capsys):
    call_command("capacity_plan", "--tasks", "100000", "--minutes", "5", "--engine",
                 "openai-whisper", "--model", "large-v3", "--gpu", "l40s")
    out = capsys.readouterr().out
    assert "GPUs needed       1 on 1 x g6e.xlarge" in out
    assert "$1,358.53" in out and "$12,000.00" in out and "$600.00" in out
    assert "11,322 tasks a month" in out
    with pytest.raises(CommandError, match="No stored benchmark"):
        call_command("capacity_plan", "--tasks", "1", "--minutes", "5", "--engine",
                     "openai-whisper", "--model", "large-v3", "--gpu", "a10g")


@pytest.mark.django_db
def test_the_admin_page_shows_the_plan_and_its_chart(results_dir, admin_client):
    response = admin_client.get("/admin/operations/capacity/", {
        "tasks_per_month": 100_000, "avg_media_minutes": 5, "engine": "openai-whisper",
        "model": "large-v3", "gpu_type": "l40s", "target_utilisation": 0.6,
        "peak_factor": 3, "input_tokens_per_task": 3000, "output_tokens_per_task": 600})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="gpus">1<' in page and 'id="self-hosted">$1,358.53<' in page
    assert 'id="transcribe">$12,000.00<' in page and "11322 tasks a month" in page
    assert page.count("<polyline") == 2 and 'class="marker"' in page
    missing = admin_client.get("/admin/operations/capacity/", {
        "tasks_per_month": 10, "avg_media_minutes": 5, "engine": "openai-whisper",
        "model": "large-v3", "gpu_type": "a10g", "target_utilisation": 0.6,
        "peak_factor": 3, "input_tokens_per_task": 0, "output_tokens_per_task": 0})
    assert missing.status_code == 404 and "No stored benchmark" in missing.content.decode()


def test_hours_in_a_month_follow_the_price_lists_convention():
    assert capacity.HOURS_PER_MONTH == 730 and capacity.MONTH_SECONDS == 2_628_000

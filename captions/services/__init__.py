"""Writes for captions, one module per sub-domain.

- ``assets``: uploads and direct uploads, checked from their bytes before they are kept;
- ``jobs``: submission, the job state machine and its lease, cancel, retry, delete;
- ``results``: what a job's paid steps cost (model calls, the cost ledger's holds);
- ``pipeline``: one attempt of a job through the engines;
- ``routing``: which speech-to-text engine a job gets (policy, GPU readiness, queue age);
- ``managed``: the managed engine (Amazon Transcribe) inside a job, and its poll;
- ``retention``: deleting what the plans no longer keep;
- ``burn_in``: MP4 exports with the subtitles burned into the picture, on demand;
- ``reuse``: the result cache (the same file and options answered from an earlier job).

Callers may import the names below from ``captions.services``; each is defined once, in
its module.
"""

from .assets import (
    direct_upload_create,
    direct_uploads_sweep,
    media_asset_create,
    media_check,
)
from .burn_in import (
    burn_in_export_fail,
    burn_in_export_request,
    burn_in_export_run,
    burn_in_exports_pending,
    burn_in_options_validate,
)
from .jobs import (
    InvalidTransition,
    JobCancelled,
    caption_job_admission_check,
    caption_job_cancel,
    caption_job_complete,
    caption_job_defer,
    caption_job_delete,
    caption_job_enqueue,
    caption_job_event_data,
    caption_job_fail,
    caption_job_message,
    caption_job_queue,
    caption_job_retry,
    caption_job_set_stage,
    caption_job_storage_wait,
    caption_job_submit,
    caption_job_submit_from_upload,
    caption_jobs_pending,
)
from .lease import (
    caption_job_attempt_token,
    caption_job_lease_heartbeat,
    caption_job_lease_renew,
    caption_job_start,
    caption_job_start_reserving,
)
from .managed import (
    caption_job_managed_poll,
    caption_job_stt_engine_force,
    managed_cost_micros,
    stt_overflow_sweep,
    transcribe_config,
)
from .pipeline import (
    caption_job_attempt_crashed,
    caption_job_resume_managed,
    caption_job_run,
    caption_writer_config,
    file_transcribe,
    stt_config,
    stt_preload,
)
from .results import model_call_record, stt_charge_settle, stt_cost_micros, stt_paid
from .retention import caption_retention_purge
from .routing import (
    gpu_heartbeat_start,
    gpu_queue_oldest_wait_seconds,
    gpu_worker_heartbeat,
    gpu_worker_id,
    gpu_workers_ready,
    stt_route_decide,
)

__all__ = [
    "burn_in_export_fail", "burn_in_export_request", "burn_in_export_run",
    "burn_in_exports_pending", "burn_in_options_validate",
    "InvalidTransition", "JobCancelled", "caption_job_admission_check",
    "caption_job_attempt_crashed", "caption_job_attempt_token", "caption_job_cancel",
    "caption_job_complete", "caption_job_defer", "caption_job_delete", "caption_job_enqueue",
    "caption_job_event_data", "caption_job_fail", "caption_job_lease_heartbeat",
    "caption_job_lease_renew", "caption_job_message", "caption_job_queue", "caption_job_retry",
    "caption_job_run", "caption_job_set_stage", "caption_job_start",
    "caption_job_start_reserving", "caption_job_storage_wait",
    "caption_job_submit", "caption_job_submit_from_upload", "caption_jobs_pending",
    "caption_retention_purge", "caption_writer_config", "direct_upload_create",
    "direct_uploads_sweep", "file_transcribe", "media_asset_create", "media_check",
    "model_call_record", "stt_charge_settle", "stt_config", "stt_cost_micros", "stt_paid",
    "stt_preload",
    "caption_job_managed_poll", "caption_job_resume_managed", "caption_job_stt_engine_force",
    "gpu_heartbeat_start", "gpu_queue_oldest_wait_seconds", "gpu_worker_heartbeat",
    "gpu_worker_id", "gpu_workers_ready", "managed_cost_micros", "stt_route_decide",
    "stt_overflow_sweep", "transcribe_config",
]

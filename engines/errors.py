"""Errors the engines raise. Each carries a code, an operator's detail and safe facts.

The detail is for operators (logs, the admin): it may name an environment variable, a
path or an upstream error. The customer reads the message their code maps to
(``captions.failures``), filled with ``facts`` (numbers and our own words) where given.
"""


class PipelineError(Exception):
    """A job cannot finish; ``detail`` says why to an operator, never to the customer."""

    code = "pipeline_error"

    def __init__(self, detail: str, *, code: str | None = None,
                 facts: dict[str, object] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.facts = dict(facts or {})
        if code:
            self.code = code


class MediaRejected(PipelineError):
    code = "media_rejected"


class MediaToolFailed(PipelineError):
    code = "media_tool_failed"


class SttModelUnavailable(PipelineError):
    code = "stt_model_unavailable"


class LlmUnavailable(PipelineError):
    """The model service did not answer usefully after the bounded retries."""

    code = "llm_unavailable"


class LlmOutputInvalid(PipelineError):
    """The model's answer did not validate, even after the one repair attempt."""

    code = "llm_output_invalid"


class LlmMisconfigured(PipelineError):
    """Our side is set up wrongly (credentials, model id, price table)."""

    code = "llm_misconfigured"

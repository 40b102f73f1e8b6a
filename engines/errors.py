"""Errors the engines raise. Each carries a code and a message a customer can act on."""


class PipelineError(Exception):
    """A job cannot finish; ``user_message`` is shown to the customer as is."""

    code = "pipeline_error"

    def __init__(self, user_message: str, *, code: str | None = None):
        super().__init__(user_message)
        self.user_message = user_message
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

"""One error type for the whole application, turned into HTTP in one place."""


class ApplicationError(Exception):
    """A request or job that cannot go on, with a message a person can act on.

    ``status`` is the HTTP status the web and API layers answer with.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        status: int = 400,
        details: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


class ServiceUnavailable(ApplicationError):
    """503 with Retry-After: a service we depend on (database, cache, storage) is not answering.

    Nothing the request asked for can be trusted to have happened, and trying again soon
    is the right move, so the answer says when. ``service`` names the service for the logs.
    """

    def __init__(
        self,
        message: str = (
            "We are having a brief problem on our side: a service we depend on is not "
            "answering. Please try again in a minute."
        ),
        *,
        code: str = "service_unavailable",
        service: str = "",
        retry_after: int = 30,
    ):
        super().__init__(
            message, code=code, status=503, details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.service = service
        self.retry_after = retry_after

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

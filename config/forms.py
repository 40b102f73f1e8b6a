"""What the server-rendered pages share about forms."""

from django import forms

from config.errors import ApplicationError


def form_show_error(form: forms.Form, exc: ApplicationError) -> int:
    """Show a service's refusal on the form and return the HTTP status to answer with.

    The message goes above the form; each detail that names one of the form's fields
    goes beside that field, so a person sees what to change where they change it.
    """
    form.add_error(None, exc.message)
    for field, message in exc.details.items():
        if field in form.fields and isinstance(message, str):
            form.add_error(field, message)
    return exc.status

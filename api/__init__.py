"""The API edge shared by every app's API: errors, pagination, throttles, idempotency
and the permissions every endpoint checks. It sits above accounts and billing, below
the apps' ``api/`` views."""
